"""Channels: the message, the delivery result, and `make`, which builds a channel from config.

```python
from incidentctl.comms.channels.base import Message, make

channel = make("ops-slack", {"type": "slack", "url_env": "SLACK_OPS_WEBHOOK"}, os.environ)
print(channel.preview(message))              # --dry-run: the request, secrets as ***
delivery = channel.send(message, timeout=10)  # never raises for the far side's failure
if not delivery.ok and delivery.retry: ...    # the outbox tries again later
```

Types: `slack`, `slack-api`, `teams`, `mattermost`, `discord`, `webhook`, `email`,
`pagerduty` (one module each). The classes live below this module, which only re-exports
what callers use, so the type modules never import it (no import circle).
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import NAME, Table
from .model import (
    SEVERITIES,
    STAGES,
    Channel,
    ChannelError,
    Delivery,
    Message,
    Secret,
)

__all__ = [
    "SEVERITIES",
    "STAGES",
    "TYPES",
    "Channel",
    "ChannelError",
    "Delivery",
    "Message",
    "Secret",
    "make",
]

TYPES = ("slack", "slack-api", "teams", "mattermost", "discord", "webhook", "email", "pagerduty")


def make(name: str, table: Mapping[str, object], env: Mapping[str, str]) -> Channel:
    """The channel `[channels.<name>]` describes, its secrets read from `env` or files.

    Raises ChannelError (one line: the channel, what to set) for a missing or unknown
    type, an unknown key, a bad value, a secret written in the table, or a secret that
    cannot be read.
    """
    if not NAME.fullmatch(name):
        raise ChannelError(
            f"channel name {name[:64]!r} must be letters, digits, '-', '_' or '.' (at most 64)"
        )
    kind = table.get("type")
    if kind is None:
        raise ChannelError(f"channel {name!r}: set type (one of {', '.join(TYPES)})")
    if not isinstance(kind, str) or kind not in TYPES:
        shown = repr(kind[:40]) if isinstance(kind, str) else "not a string"
        raise ChannelError(f"channel {name!r}: unknown type {shown} (one of {', '.join(TYPES)})")
    reader = Table(name, kind, table, env)
    if kind == "slack":
        from .slack import SlackWebhook

        return SlackWebhook.from_table(reader)
    if kind == "slack-api":
        from .slackapi import SlackApp

        return SlackApp.from_table(reader)
    if kind == "teams":
        from .teams import TeamsWorkflow

        return TeamsWorkflow.from_table(reader)
    if kind == "mattermost":
        from .mattermost import MattermostWebhook

        return MattermostWebhook.from_table(reader)
    if kind == "discord":
        from .discord import DiscordWebhook

        return DiscordWebhook.from_table(reader)
    if kind == "webhook":
        from .webhook import SignedWebhook

        return SignedWebhook.from_table(reader)
    if kind == "email":
        from .mail import SmtpEmail

        return SmtpEmail.from_table(reader)
    from .pagerduty import PagerDuty

    return PagerDuty.from_table(reader)
