"""A message as Slack Block Kit, within Slack's documented limits (webhook and Web API).

Limits (https://docs.slack.dev/reference/block-kit/blocks): at most 50 blocks in a
message; a header's plain text at most 150 characters; a section's text at most 3,000
and each of its at most 10 fields at most 2,000; a context block at most 10 elements.
The top-level `text` is the notification and fallback: kept under 4,000 characters.
Every text from the incident is escaped for mrkdwn (`&`, `<`, `>`), so it can hold no
`<!channel>`, `<@U…>` mention or `<url|link>`.
"""

from __future__ import annotations

from typing import Any

from . import text as t
from .model import STAGE_WORDS, Message

MAX_BLOCKS = 50
HEADER_TEXT = 150
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS_PER_SECTION = 10
FALLBACK_TEXT = 4000
MAX_TEXT = 30_000  # the summary beyond this is left to the incident's page


def header(message: Message) -> dict[str, Any]:
    title = f"{message.severity} {t.clean(message.incident_id)}: {t.clean(message.title)}"
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": t.clip(title, HEADER_TEXT), "emoji": False},
    }


def context(message: Message) -> dict[str, Any]:
    word = STAGE_WORDS[message.stage]
    parts = [f"*{message.severity}*", t.slack(word), t.slack(t.clip(t.clean(message.status), 80))]
    link = t.safe_link(message.url)
    ident = t.slack(t.clip(t.clean(message.incident_id), 80))
    parts.append(f"<{t.slack(link)}|{ident}>" if link else ident)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(parts)}]}


def field_sections(message: Message) -> list[dict[str, Any]]:
    cells = [
        {"type": "mrkdwn", "text": t.clip_entities(f"*{t.slack(name)}*\n{t.slack(value)}", 2000)}
        for name, value in t.fields(message, limit=100)
    ]
    return [
        {"type": "section", "fields": cells[i : i + FIELDS_PER_SECTION]}
        for i in range(0, len(cells), FIELDS_PER_SECTION)
    ]


def text_sections(message: Message) -> list[dict[str, Any]]:
    body = t.slack(t.clip(t.clean(message.text, lines=True), MAX_TEXT))
    if not body.strip():
        return []  # Slack refuses a section without text
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in t.chunks(body, SECTION_TEXT)
    ]


def blocks(message: Message) -> list[dict[str, Any]]:
    """Header, context, the fields, the summary; a note when something had to be left out."""
    out = [header(message), context(message), *field_sections(message)]
    out += text_sections(message)
    if len(out) > MAX_BLOCKS:
        left = len(out) - (MAX_BLOCKS - 1)
        note = f"{left} more sections are not shown here; the incident has them all."
        out = out[: MAX_BLOCKS - 1]
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return out


def fallback(message: Message) -> str:
    """The top-level `text` (notifications, screen readers): the heading, the fields,
    then as much of the summary as fits."""
    lines = [t.heading(message), *(f"{name}: {value}" for name, value in t.fields(message))]
    if rest := t.clean(message.text, lines=True):
        lines += ["", rest]
    return t.clip_entities(t.slack("\n".join(lines)), FALLBACK_TEXT - 1)


def payload(message: Message) -> dict[str, Any]:
    """A chat message: blocks, the fallback text, no link previews of incident URLs."""
    return {
        "text": fallback(message),
        "blocks": blocks(message),
        "unfurl_links": False,
        "unfurl_media": False,
    }
