"""Timeline entries: what one is, how it is written as Markdown, how it is read back."""

from __future__ import annotations

from datetime import datetime

from ..errors import InvalidIncident
from ..record import Record
from ..safetext import is_unsafe
from .blocks import escape_text
from .timeutil import format_ts

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any


# Author names stand between ** marks on one line: control characters, * and ` go.
# (These are the fast ones; clean_author removes every unsafe character.)
_AUTHOR_UNSAFE = dict.fromkeys([*range(0x20), 0x7F, ord("*"), ord("`")], " ")


class Entry(Record):
    """One timeline entry (`line`: 1-based line in the file it was read from, else 0)."""

    __slots__ = ("at", "author", "kind", "text", "line")  # noqa: RUF023 (field order)

    def __init__(self, at: datetime, author: str, kind: str, text: str, line: int = 0):
        self.at = at
        self.author = author
        self.kind = kind
        self.text = text
        self.line = line

    def as_json(self) -> dict[str, str]:
        return {
            "at": format_ts(self.at),
            "author": self.author,
            "kind": self.kind,
            "text": self.text,
        }


def clean_author(name: str) -> str:
    """An author as it can stand in an entry: one line, no Markdown emphasis marks.

    git's user.name is not checked by git: control, bidi and other invisible
    characters (safetext) become spaces too, so they never reach the file.
    """
    name = name.translate(_AUTHOR_UNSAFE)
    if not name.isprintable():
        name = "".join(" " if is_unsafe(c) else c for c in name)
    return " ".join(name.split()) or "unknown"


def format_entry(entry: Entry) -> list[str]:
    """An entry as Markdown list lines: readable on GitHub, parseable back.

    The text's further lines are indented into the list item and escaped (blocks.py)
    so that none starts a heading, fence or HTML block: the text stays in its entry.
    """
    lines = entry.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = (
        f"- `{format_ts(entry.at)}` **{clean_author(entry.author)}** _({entry.kind})_ {lines[0]}"
    ).rstrip(" \t")
    out = [first + "\n"]
    out.extend(("  " + rest).rstrip(" \t") + "\n" for rest in escape_text(lines[1:]))
    return out


def entry_from(raw: dict[str, Any], path: str) -> Entry:
    from datetime import timezone

    try:
        at = datetime.fromisoformat(raw["at"].replace("Z", "+00:00")).astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise InvalidIncident(
            f"the timeline entry's time {raw['at']} is not a real time ({exc}); correct it",
            path=path,
            line=raw["line"],
            rule="invalid-date",
        ) from None
    text = "\n".join([raw["text"], *raw["more"]])
    return Entry(at=at, author=raw["author"], kind=raw["kind"], text=text, line=raw["line"])
