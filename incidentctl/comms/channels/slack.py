"""`slack`: a Slack incoming webhook, posting Block Kit with slack-sdk's WebhookClient.

```toml
[channels.ops-slack]
type = "slack"
url_env = "SLACK_OPS_WEBHOOK"   # or url_file: the webhook URL is its credential
ca_file = "/etc/ssl/corp.pem"   # optional: a private CA
```

The message is Block Kit (blockkit.py). Slack answers 200 `ok`, or an error as a text
body: `invalid_payload` 400, `action_prohibited` 403, `channel_not_found` 404,
`channel_is_archived` 410, `rollup_error` 500
(https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks/).
"""

from __future__ import annotations

import re

from . import blockkit
from .config import Table
from .model import Channel, Delivery, Message, Secret, masked_url, request_preview, retryable
from .transport import Unreachable, context, seconds

_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
HINTS = {
    "invalid_payload": "Slack could not read the message",
    "invalid_blocks": "Slack refused the message's blocks",
    "invalid_blocks_format": "Slack refused the message's blocks",
    "no_text": "the message had no text",
    "too_many_attachments": "the message had too many attachments",
    "action_prohibited": "a Slack admin has restricted posting to the webhook's channel",
    "posting_to_general_channel_denied": "only admins may post to the webhook's channel",
    "channel_not_found": "the webhook's channel no longer exists; make a new webhook",
    "channel_is_archived": "the webhook's channel is archived; unarchive it or make a new webhook",
    "no_service": "the webhook was removed or revoked; make a new one and update the URL",
    "no_service_id": "the webhook URL is incomplete; check url_env/url_file",
    "no_team": "the webhook's workspace no longer exists",
    "team_disabled": "the webhook's workspace is disabled",
    "invalid_token": "the webhook URL is wrong or was revoked; check url_env/url_file",
    "rollup_error": "Slack failed on its side",
}


def slack_error(status: int, body: str) -> tuple[str, str]:
    """The error code Slack sent (or `unexpected answer`) and what it means."""
    code = body.strip()
    if not _CODE.fullmatch(code):
        return "unexpected answer", "Slack's answer was not an error code"
    return code, HINTS.get(code, "see Slack's incoming webhook errors")


class SlackWebhook(Channel):
    """Posts Block Kit messages to one Slack channel through an incoming webhook."""

    type = "slack"

    def __init__(self, name: str, url: Secret, *, ca_file: str | None = None) -> None:
        super().__init__(name, [url])
        self._url = url
        self._ctx = context(ca_file)

    @classmethod
    def from_table(cls, table: Table) -> SlackWebhook:
        url = table.secret_url("url")
        ca_file = table.path("ca_file")
        table.finish()
        return cls(table.name, url, ca_file=ca_file)

    def payload(self, message: Message) -> dict[str, object]:
        return blockkit.payload(message)

    def preview(self, message: Message) -> str:
        headers = {"Content-Type": "application/json;charset=utf-8"}
        text = request_preview(
            "POST", masked_url(self._url.reveal()), headers, self.payload(message)
        )
        return self._safe_preview(text)

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        from slack_sdk.errors import SlackClientError

        from .slacksdk import Webhook

        client = Webhook(self._url.reveal(), timeout=timeout, ctx=self._ctx)
        try:
            response = client.send_dict(body=self.payload(message))
        except Unreachable as exc:
            return self._failed(exc.reason, retry=exc.retry)
        except SlackClientError as exc:
            return self._failed(
                f"slack-sdk refused the request ({type(exc).__name__})", retry=False
            )
        status, body = response.status_code, str(response.body or "")
        if status == 200 and body.strip() == "ok":
            return self._done("posted to Slack", status=status)
        if status == 200:
            return self._failed(
                "Slack answered 200 without `ok`; is the URL a Slack webhook?",
                retry=False,
                status=status,
            )
        code, hint = slack_error(status, body)
        if 300 <= status < 400:
            code, hint = "redirect", "not followed; set the webhook's final URL"
        retry_after = seconds(response.headers.get("retry-after"))
        return self._failed(
            f"Slack answered {status} {code}: {hint}",
            retry=retryable(status),
            status=status,
            retry_after=retry_after,
        )
