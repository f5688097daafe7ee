"""`teams`: a Microsoft Teams Workflows webhook ("When a Teams webhook request is received").

```toml
[channels.ops-teams]
type = "teams"
url_env = "TEAMS_OPS_WEBHOOK"   # or url_file: the workflow URL carries its signature (sig=)
```

The body is a `message` with one Adaptive Card 1.4 attachment. Incident text goes in
`RichTextBlock`/`TextRun` elements, which render no Markdown (a TextBlock would turn
`[x](…)` into a link), and `{{` is broken up so `{{DATE(…)}}` is not substituted. The
card is kept under Teams' 28 KB message size. The workflow answers 202 Accepted.
"""

from __future__ import annotations

import json
from typing import Any

from . import text as t
from .config import Table
from .model import Channel, Delivery, Message, Secret, masked_url, request_preview, retryable
from .transport import Unreachable, context, post_json

CARD = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 27_000  # Teams refuses messages over about 28 KB
HINTS = {
    400: "the workflow refused the card",
    401: "the workflow refused the URL's signature; check url_env/url_file",
    403: "the workflow refused the URL's signature, or the flow is turned off",
    404: "the workflow no longer exists; make a new one and update the URL",
    413: "the card is too large",
}


def _plain(text: str) -> str:
    """Text for a TextRun: no template or date function (`{{…}}`)."""
    return text.replace("{{", "{" + t.ZWSP + "{").replace("${", "$" + t.ZWSP + "{")


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {
        "type": "RichTextBlock",
        "inlines": [{"type": "TextRun", "text": _plain(text), **style}],
    }


def card(message: Message, *, text_limit: int = 12_000, field_limit: int = 1000) -> dict[str, Any]:
    """The Adaptive Card: heading, a subtitle, the fields in two columns, the summary."""
    color = "Attention" if message.severity in ("SEV-1", "SEV-2") else "Default"
    status = t.clip(t.clean(message.status), 80)
    body: list[dict[str, Any]] = [
        _run(t.clip(t.heading(message), 300), weight="Bolder", size="Large", color=color),
        _run(f"{message.severity} · {status} · {t.clean(message.incident_id)}", isSubtle=True),
    ]
    for name, value in t.fields(message, limit=20):
        body.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "auto", "items": [_run(name, weight="Bolder")]},
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [_run(t.clip(value, field_limit))],
                    },
                ],
            }
        )
    summary = t.clip(t.clean(message.text, lines=True), text_limit)
    if summary:
        body.append(_run(summary, wrap=True) | {"separator": True})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    if link := t.safe_link(message.url):
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open the incident", "url": link}]
    return content


def payload(message: Message) -> dict[str, Any]:
    """The workflow's request body, the summary and fields shortened until it fits."""
    limit = 12_000
    while True:
        content = card(message, text_limit=limit, field_limit=min(1000, limit // 4))
        body = {
            "type": "message",
            "attachments": [{"contentType": CARD, "contentUrl": None, "content": content}],
        }
        if len(_encode(body)) <= MAX_BYTES or limit < 100:
            return body
        limit //= 2


def _encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class TeamsWorkflow(Channel):
    """Posts an Adaptive Card to a Teams channel or chat through a Workflows webhook."""

    type = "teams"

    def __init__(self, name: str, url: Secret, *, ca_file: str | None = None) -> None:
        super().__init__(name, [url])
        self._url = url
        self._ctx = context(ca_file)

    @classmethod
    def from_table(cls, table: Table) -> TeamsWorkflow:
        url = table.secret_url("url")
        ca_file = table.path("ca_file")
        table.finish()
        return cls(table.name, url, ca_file=ca_file)

    def preview(self, message: Message) -> str:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        text = request_preview("POST", masked_url(self._url.reveal()), headers, payload(message))
        return self._safe_preview(text)

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        body = _encode(payload(message))
        try:
            answer = post_json(self._url.reveal(), body, timeout=timeout, ctx=self._ctx)
        except Unreachable as exc:
            return self._failed(exc.reason, retry=exc.retry)
        if 200 <= answer.status < 300:
            return self._done("posted to Teams", status=answer.status)
        if 300 <= answer.status < 400:
            hint = "a redirect, not followed; set the workflow's final URL"
        else:
            hint = HINTS.get(answer.status, "")
            if answer.status == 429:
                hint = "rate limited"
            elif answer.status >= 500:
                hint = "the workflow failed on its side"
        code = _error_code(answer.body)
        return self._failed(
            f"Teams answered {answer.status}"
            + (f" {code}" if code else "")
            + (f": {hint}" if hint else ""),
            retry=retryable(answer.status),
            status=answer.status,
            retry_after=answer.retry_after(),
        )


def _error_code(body: bytes) -> str:
    """The `error.code` of a Logic Apps / Power Automate error body, if a plain word."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return code if isinstance(code, str) and code.isalnum() and len(code) <= 60 else ""
