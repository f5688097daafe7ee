"""`discord`: a Discord channel webhook (https://discord.com/developers/docs/resources/webhook).

```toml
[channels.ops-discord]
type = "discord"
url_env = "DISCORD_OPS_WEBHOOK"   # or url_file: https://discord.com/api/webhooks/<id>/<token>
username = "incidentctl"          # optional
wait = false                      # true: Discord answers with the message (its ID is kept)
```

`content` (at most 2,000 characters) is the heading; one embed holds the summary and
the fields within Discord's limits (title 256, description 4,096, 25 fields of 256/1,024,
footer 2,048, 6,000 characters in all). `allowed_mentions: {"parse": []}` means no
`@everyone`, role or user in the text pings anyone; the text is Markdown-escaped too.
Discord answers 204 No Content (200 with the message under `?wait=true`), and 429 with
`retry_after` when rate limited.
"""

from __future__ import annotations

import json
from typing import Any

from . import text as t
from .config import Table
from .model import Channel, Delivery, Message, Secret, masked_url, request_preview, retryable
from .transport import Unreachable, context, post_json, seconds

CONTENT = 2000
TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE, FOOTER, TOTAL = (
    256, 4096, 25, 256, 1024, 2048, 6000,
)  # fmt: skip
COLORS = {"SEV-1": 0xD00000, "SEV-2": 0xE36209, "SEV-3": 0xDBAB09, "SEV-4": 0x6A737D}
HINTS = {
    401: "Discord refused the webhook's token; check url_env/url_file",
    403: "the webhook may not post to its channel",
    404: "the webhook no longer exists; make a new one and update the URL",
}


def _md(text: str, limit: int) -> str:
    return t.clip_entities(t.markdown(text), limit)


def embed(message: Message) -> dict[str, Any]:
    """One embed, every part within its limit and all of them within 6,000 characters."""
    title = _md(t.heading(message), TITLE)
    footer = t.clip(f"{message.severity} · {t.clean(message.status)}", 200)
    fields = []
    used = len(title) + len(footer)
    for name, value in t.fields(message, limit=FIELDS):
        item = {"name": _md(name, FIELD_NAME), "value": _md(value, FIELD_VALUE)}
        size = len(item["name"]) + len(item["value"])
        if used + size > TOTAL - 500:  # keep room for the summary
            break
        fields.append(item | {"inline": len(value) <= 40})
        used += size
    out: dict[str, Any] = {"title": title, "color": COLORS[message.severity]}
    summary = t.clean(message.text, lines=True)
    if summary:
        out["description"] = _md(summary, min(DESCRIPTION, TOTAL - used))
    if link := t.safe_link(message.url):
        out["url"] = link
    if fields:
        out["fields"] = fields
    out["footer"] = {"text": footer}
    return out


def payload(message: Message, *, username: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": f"**{_md(t.heading(message), CONTENT - 4)}**",
        "embeds": [embed(message)],
        "allowed_mentions": {"parse": []},
    }
    if username:
        body["username"] = username
    return body


class DiscordWebhook(Channel):
    """Posts to a Discord channel through a webhook."""

    type = "discord"

    def __init__(
        self,
        name: str,
        url: Secret,
        *,
        username: str | None = None,
        wait: bool = False,
        ca_file: str | None = None,
    ) -> None:
        super().__init__(name, [url])
        self._url = url
        self.username = username
        self.wait = wait
        self._ctx = context(ca_file)

    @classmethod
    def from_table(cls, table: Table) -> DiscordWebhook:
        url = table.secret_url("url")
        username = table.text("username", limit=80)
        if username and any(w in username.lower() for w in ("discord", "clyde")):
            raise table.error("username may not contain 'discord' or 'clyde' (Discord refuses)")
        wait, ca_file = table.flag("wait", False), table.path("ca_file")
        table.finish()
        return cls(table.name, url, username=username, wait=wait, ca_file=ca_file)

    def _target(self) -> str:
        url = self._url.reveal()
        if not self.wait:
            return url
        return url + ("&" if "?" in url else "?") + "wait=true"

    def preview(self, message: Message) -> str:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        url = masked_url(self._url.reveal()) + ("?wait=true" if self.wait else "")
        body = payload(message, username=self.username)
        return self._safe_preview(request_preview("POST", url, headers, body))

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        body = json.dumps(payload(message, username=self.username)).encode("utf-8")
        try:
            answer = post_json(self._target(), body, timeout=timeout, ctx=self._ctx)
        except Unreachable as exc:
            return self._failed(exc.reason, retry=exc.retry)
        try:
            data = json.loads(answer.body) if answer.body else {}
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        if answer.status in (200, 204):
            ident = str(data.get("id", ""))
            external = ident if ident.isdigit() else None
            return self._done("posted to Discord", status=answer.status, external_id=external)
        wait = seconds(data.get("retry_after"))
        wait = answer.retry_after() if wait is None else wait
        code = data.get("code")
        what = f" (code {code})" if isinstance(code, int) and not isinstance(code, bool) else ""
        if answer.status == 429:
            what += ": rate limited" + (" for the whole webhook" if data.get("global") else "")
        elif 300 <= answer.status < 400:
            what += ": a redirect, not followed; set the webhook's final URL"
        elif answer.status in HINTS:
            what += ": " + HINTS[answer.status]
        elif answer.status == 400:
            what += ": Discord refused the message"
        return self._failed(
            f"Discord answered {answer.status}{what}",
            retry=retryable(answer.status),
            status=answer.status,
            retry_after=wait,
        )
