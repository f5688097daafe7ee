"""`mattermost`: a Mattermost incoming webhook (its Slack-compatible shape).

```toml
[channels.ops-mattermost]
type = "mattermost"
url_env = "MATTERMOST_OPS_WEBHOOK"   # or url_file: https://chat.example.com/hooks/<key>
channel = "incidents"                # optional: another channel (if the webhook allows it)
username = "incidentctl"             # optional: shown as the poster (if overrides are on)
icon_url = "https://…/icon.png"      # optional
```

The body is `text` (Markdown) plus one Slack-style attachment with the fields and the
summary. Mattermost renders Markdown and turns Slack's `<!channel>` into `@channel`, so
incident text is Markdown-escaped, `<`/`>` become entities and `@` mentions are broken
with a zero-width space. Mattermost answers 200 `ok`, or JSON `{id, message, status_code}`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import text as t
from .config import Table, check_url
from .model import Channel, Delivery, Message, Secret, masked_url, request_preview, retryable
from .transport import Unreachable, context, post_json

MAX_TEXT = 8000  # a post holds 16,383 characters; escaping can double the summary
_ID = re.compile(r"[a-z0-9_.]{1,100}")
COLORS = {"SEV-1": "#d00000", "SEV-2": "#e36209", "SEV-3": "#dbab09", "SEV-4": "#6a737d"}


def payload(
    message: Message, *, channel: str | None, username: str | None, icon_url: str | None
) -> dict[str, Any]:
    heading = t.markdown(t.heading(message), entities=True)
    link = t.safe_link(message.url)
    attachment: dict[str, Any] = {
        "fallback": t.markdown(t.clip(t.heading(message), 300), entities=True),
        "color": COLORS[message.severity],
        "title": t.clip(t.clean(message.incident_id), 80),
        "text": t.markdown(t.clip(t.clean(message.text, lines=True), MAX_TEXT), entities=True),
        "fields": [
            {
                "short": len(value) <= 40,
                "title": t.clip(name, 80),
                "value": t.markdown(t.clip(value, 1000), entities=True),
            }
            for name, value in t.fields(message, limit=20)
        ],
    }
    if link:
        attachment["title_link"] = link
    body: dict[str, Any] = {"text": f"**{heading}**", "attachments": [attachment]}
    body |= {
        key: value
        for key, value in (("channel", channel), ("username", username), ("icon_url", icon_url))
        if value
    }
    return body


class MattermostWebhook(Channel):
    """Posts to a Mattermost channel through an incoming webhook."""

    type = "mattermost"

    def __init__(
        self,
        name: str,
        url: Secret,
        *,
        channel: str | None = None,
        username: str | None = None,
        icon_url: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        super().__init__(name, [url])
        self._url = url
        self.channel, self.username, self.icon_url = channel, username, icon_url
        self._ctx = context(ca_file)

    @classmethod
    def from_table(cls, table: Table) -> MattermostWebhook:
        url = table.secret_url("url")
        channel = table.text("channel", limit=64)
        username = table.text("username", limit=64)
        icon_url = table.text("icon_url", limit=2000)
        if icon_url and (problem := check_url(icon_url, what="icon_url", show=True)):
            raise table.error(problem)
        ca_file = table.path("ca_file")
        table.finish()
        return cls(
            table.name, url, channel=channel, username=username, icon_url=icon_url, ca_file=ca_file
        )

    def _payload(self, message: Message) -> dict[str, Any]:
        return payload(
            message, channel=self.channel, username=self.username, icon_url=self.icon_url
        )

    def preview(self, message: Message) -> str:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        url = masked_url(self._url.reveal())
        return self._safe_preview(request_preview("POST", url, headers, self._payload(message)))

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        body = json.dumps(self._payload(message), ensure_ascii=False).encode("utf-8")
        try:
            answer = post_json(self._url.reveal(), body, timeout=timeout, ctx=self._ctx)
        except Unreachable as exc:
            return self._failed(exc.reason, retry=exc.retry)
        if answer.status == 200:
            return self._done("posted to Mattermost", status=answer.status)
        try:
            error_id = str(json.loads(answer.body).get("id", ""))
        except (ValueError, AttributeError):
            error_id = ""
        what = f" {error_id}" if _ID.fullmatch(error_id) else ""
        if 300 <= answer.status < 400:
            what += ": a redirect, not followed; set the webhook's final URL"
        elif "invalid" in error_id and "webhook" in error_id:
            what += ": the webhook does not exist; check url_env/url_file"
        elif answer.status == 403:
            what += ": the webhook may not post there; check channel and its settings"
        return self._failed(
            f"Mattermost answered {answer.status}{what}",
            retry=retryable(answer.status),
            status=answer.status,
            retry_after=answer.retry_after(),
        )
