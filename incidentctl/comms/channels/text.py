"""Incident text made safe for each format: cleaned, clipped, escaped, mentions defused.

Titles and summaries come from incident files anyone with a pull request can write.
Sent raw, `<!channel>` pings a whole Slack channel, `@everyone` a Discord server,
`![x](https://…)` makes every reader's client fetch an image, and a CR/LF in a title
adds a header to an email. Every channel builds its payload from these helpers.
"""

from __future__ import annotations

import re
import unicodedata

from ...safetext import is_unsafe
from .model import STAGE_WORDS, Message

ELLIPSIS = "…"
ZWSP = "\u200b"  # a zero-width space: breaks a mention or a template without showing
_SPACES = re.compile(r"[ \t\f\v]+")
_MENTION = re.compile(r"(?<![\w.+-])@(?=\w)")
_MARKDOWN = re.compile(r"([\\`*_~|\[\]()#>!])")


def clean(text: str, *, lines: bool = False) -> str:
    """Control, bidi and invisible characters dropped; one line unless `lines`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isprintable():
        text = "".join(
            c if c == "\n" or not is_unsafe(c) else (" " if c in "\t\v\f\x85" else "") for c in text
        )
    if not lines:
        return " ".join(text.split())
    kept = [_SPACES.sub(" ", line).rstrip() for line in text.split("\n")]
    return "\n".join(kept).strip("\n")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def slack(text: str) -> str:
    """Slack mrkdwn: `&`, `<`, `>` as entities, so no `<!channel>`, `<@U…>` or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip_entities(text: str, limit: int) -> str:
    """`clip` for escaped text: never cut inside `&amp;` or after a lone backslash."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]
    return cut.rstrip() + ELLIPSIS


def defuse_mentions(text: str) -> str:
    """`@everyone`, `@here`, `@channel`, `@alice` shown but pinging no one."""
    return _MENTION.sub("@" + ZWSP, text)


def markdown(text: str, *, entities: bool = False) -> str:
    """CommonMark punctuation backslash-escaped, mentions defused (Discord, Mattermost).

    `entities` writes `<` and `>` as `&lt;`/`&gt;` (Mattermost turns Slack's
    `<!channel>` into `@channel` before any Markdown is read).
    """
    if entities:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    else:
        text = text.replace("<", "\\<")
    return defuse_mentions(_MARKDOWN.sub(r"\\\1", text))


def chunks(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            head = clip_entities(line, limit + 1)[:-1]  # without the ellipsis
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            line = line[len(head) :]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return pieces


def slug(text: str, limit: int) -> str:
    """Lowercase ASCII letters, digits and single `-` (a Slack channel's name)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-")


def heading(message: Message) -> str:
    """`SEV-1 INC-… opened: title`: one clean line."""
    word = STAGE_WORDS[message.stage]
    return f"{message.severity} {clean(message.incident_id)} {word}: {clean(message.title)}"


def subject(message: Message) -> str:
    """`[SEV-1] INC-… resolved: title`: an email's subject, PagerDuty's summary."""
    return f"[{message.severity}] {heading(message).split(' ', 1)[1]}"


def safe_link(url: str | None) -> str | None:
    """The incident's URL if it is an http(s) URL with no space, quote or angle bracket."""
    if not url or len(url) > 2000:
        return None
    if not re.fullmatch(r"https?://[^\s<>\"'|\\^`{}]+", url):
        return None
    return url


def fields(message: Message, *, limit: int = 25) -> list[tuple[str, str]]:
    """The message's fields, cleaned, without empty ones, at most `limit`."""
    out = []
    for name, value in message.fields.items():
        name, value = clean(name), clean(str(value), lines=True)
        if name and value:
            out.append((name, value))
    return out[:limit]
