"""The description of a Jira ticket, from the Markdown body of an action item's issue.

Jira Cloud (REST v3) takes Atlassian Document Format: a `doc` of version 1 holding
paragraphs and bullet lists of plain text nodes (never marks, links or HTML: nothing
of the input becomes markup). Jira Data Center (REST v2) takes wiki markup: the same
paragraphs and `* ` bullets, every character that would start markup (a macro, a
link, an image, a table, emphasis) escaped.

The Markdown is the rendered `issue.md.j2` without its marker (`Draft.text`): its
fields are HTML-escaped there (`base.inert`) and are unescaped here, since neither
format reads HTML. A table becomes a bullet list of `Column: value` lines, a link
`text (URL)`, `**bold**` and `` `code` `` their bare text.
"""

from __future__ import annotations

import html
import re
from typing import Any

_BULLET = re.compile(r"[-*+]\s+")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
_STRONG = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_CODE = re.compile(r"`([^`]*)`")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SEPARATOR = re.compile(r":?-+:?")
_PIPE = re.compile(r"(?<!\\)\|")
# Wiki markup: `{macro}`, `[link]`, `!image!`, `|table|`, `*strong*`, `_em_`,
# `+inserted+`, `^sup^`, `~sub~`; and `#` or `-` starting a line (a list, a rule).
_WIKI_SPECIAL = re.compile(r"([{}\[\]!|*_+^~])")
_WIKI_LINE_START = re.compile(r"^([#-])")

Block = tuple[str, list[str]]  # ("p", lines of one paragraph) or ("ul", items)


def plain(text: str) -> str:
    """One line of Markdown as plain text."""
    text = _LINK.sub(lambda m: f"{m[1]} ({m[2]})" if m[2] else m[1], text)
    text = _STRONG.sub(lambda m: m[1] or m[2], text)
    text = _CODE.sub(lambda m: m[1], text)
    text = html.unescape(text)  # undo base.inert: no format here reads HTML
    return " ".join(_CONTROL.sub(" ", text).split())


def _row(line: str) -> str | None:
    """A Markdown table row as `First: rest`, or None for a header separator or an
    empty row."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    cells = [c.strip().replace("\\|", "|") for c in _PIPE.split(inner)]
    filled = [c for c in cells if c]
    if not filled or all(_SEPARATOR.fullmatch(c) for c in filled):
        return None
    if len(cells) > 1 and cells[0] and len(filled) > 1:
        return f"{cells[0]}: {' | '.join(c for c in cells[1:] if c)}"
    return " | ".join(filled)


def blocks(markdown: str) -> list[Block]:
    """Paragraphs and bullet lists of plain text; empty ones left out."""
    out: list[Block] = []
    previous: str | None = None
    for line in markdown.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if not stripped:
            previous = None
            continue
        bullet = _BULLET.match(stripped)
        if stripped.startswith("|"):
            kind, value = "ul", _row(stripped)
        elif bullet:
            kind, value = "ul", stripped[bullet.end() :]
        else:
            kind, value = "p", stripped
        text = plain(value or "")
        if not text:
            continue
        if out and previous == kind:
            out[-1][1].append(text)
        else:
            out.append((kind, [text]))
        previous = kind
    return out


def _paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


def adf(markdown: str) -> dict[str, Any]:
    """An Atlassian Document Format `doc` (Jira Cloud's description): text nodes only."""
    content: list[dict[str, Any]] = []
    for kind, values in blocks(markdown):
        if kind == "p":
            content.append(_paragraph(" ".join(values)))
        else:
            items = [{"type": "listItem", "content": [_paragraph(v)]} for v in values]
            content.append({"type": "bulletList", "content": items})
    return {"type": "doc", "version": 1, "content": content}


def wiki_text(text: str) -> str:
    """Plain text that wiki markup shows as it is.

    A backslash escapes markup, and two make a line break, so the input's own
    backslashes are shown as the full-width reverse solidus rather than read.
    """
    text = _WIKI_SPECIAL.sub(r"\\\1", text.replace("\\", "\uff3c"))
    return _WIKI_LINE_START.sub(r"\\\1", text)


def wiki(markdown: str) -> str:
    """Wiki markup (Jira Data Center's description): paragraphs and `* ` bullets."""
    lines: list[str] = []
    for kind, values in blocks(markdown):
        if kind == "p":
            lines.append(wiki_text(" ".join(values)))
        else:
            lines.extend(f"* {wiki_text(v)}" for v in values)
        lines.append("")
    return "\n".join(lines).strip() + "\n"
