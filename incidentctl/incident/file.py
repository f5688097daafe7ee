"""One incident file: strict parsing and surgical edits.

Loading and saving with no change is byte-identical. A change to one field rewrites
only that field's lines, and an appended timeline entry only adds its own lines, so
comments, key order and hand-written text survive every command.
"""

from __future__ import annotations

import os
from datetime import date, datetime

from ..errors import InvalidIncident
from .blocks import Heading, headings, unescape_line
from .lines import entry as parse_entry
from .lines import is_conflict_marker, split_lines
from .storage import MAX_FILE_BYTES, decode, encoded_size, read_limited, too_large, write_atomic
from .timeline import Entry, entry_from, format_entry
from .timeutil import format_ts

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from .knowngood import KnownGood

    StrPath = str | os.PathLike[str]


_TOP_KEY = r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]|$)"  # compiled on first use
TIMELINE_HEADING = "Timeline"
LINE_ENDING = "\n"
BOM = "\ufeff"


class IncidentFile:
    """An incident file held as lines, with its front matter parsed."""

    def __init__(
        self,
        text: str,
        path: str = "<incident>",
        *,
        known: KnownGood | None = None,
        facts: tuple[str, datetime | None] | None = None,
    ):
        self.path = path
        if encoded_size(text) > MAX_FILE_BYTES:
            raise too_large(path)
        self.lines = split_lines(text)
        self._check_conflicts()
        self._split()
        self._data: dict[str, Any] | None = None
        # A front matter byte-identical to one parsed and found valid before needs no
        # YAML parser until a value is asked for (the `log` hot path asks for none).
        # `facts` (id, opened_at): from a cache that holds this front matter validated.
        if facts is None and known is not None:
            facts = known.lookup(self.front_matter_text)
        self._facts = facts
        if self._facts is None:
            self._data = self._load()

    @property
    def data(self) -> dict[str, Any]:
        """The front matter, parsed strictly (on first use when it was known good)."""
        if self._data is None:
            self._data = self._load()
        return self._data

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self._data = value
        self._facts = None

    @property
    def opened_at(self) -> datetime | None:
        if self._data is None and self._facts is not None:
            return self._facts[1]
        value = self.data.get("opened_at")
        return value if isinstance(value, datetime) and value.tzinfo else None

    # -- reading -------------------------------------------------------------

    @classmethod
    def read(
        cls,
        file: StrPath,
        display: str | None = None,
        *,
        known: KnownGood | None = None,
        root: StrPath | None = None,
    ) -> IncidentFile:
        """Read a regular file: a link, FIFO, device or folder is refused (rule file-type).

        With `root` (the repository) no link is followed from there down (safefs).
        """
        shown = display or os.fspath(file)
        return cls(decode(read_limited(file, shown, root), shown), shown, known=known)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def _check_conflicts(self) -> None:
        for number, line in enumerate(self.lines, 1):
            if is_conflict_marker(line):
                raise InvalidIncident(
                    "leftover merge conflict marker; resolve the conflict and remove the markers",
                    path=self.path,
                    line=number,
                    rule="conflict-marker",
                )

    def _split(self) -> None:
        # The opening boundary must be the first line; the closing one is the next
        # line that is only `---`. A `---` further down is body text (a rule). A byte
        # order mark before it (some Windows editors write one) is accepted and kept.
        if not self.lines or self.lines[0].removeprefix(BOM).rstrip("\r\n").rstrip() != "---":
            raise InvalidIncident(
                "does not start with front matter; the first line must be '---'",
                path=self.path,
                line=1,
                rule="front-matter",
            )
        for index in range(1, len(self.lines)):
            if self.lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
                self.fm_end = index  # index of the closing boundary line
                return
        raise InvalidIncident(
            "the front matter is not closed; add a line '---' after it",
            path=self.path,
            line=1,
            rule="front-matter",
        )

    def _load(self) -> dict[str, Any]:
        from .yamlio import load_yaml

        data = load_yaml(self.front_matter_text, path=self.path, first_line=2)
        if not isinstance(data, dict):
            raise InvalidIncident(
                "the front matter must be a YAML mapping of keys to values",
                path=self.path,
                line=2,
                rule="front-matter",
            )
        ident = data.get("id")
        if not isinstance(ident, str) or not ident:
            raise InvalidIncident(
                "the front matter has no `id`; add `id: <ID>`",
                path=self.path,
                line=2,
                rule="schema",
            )
        return data

    @property
    def front_matter_text(self) -> str:
        return "".join(self.lines[1 : self.fm_end])

    @property
    def id(self) -> str:
        if self._data is None and self._facts is not None:
            return self._facts[0]
        return str(self.data["id"])

    def key_line(self, key: str) -> int | None:
        """1-based line of a top-level front matter key, if present."""
        import re

        for index in range(1, self.fm_end):
            match = re.match(_TOP_KEY, self.lines[index])
            if match and match.group(1) == key:
                return index + 1
        return None

    @property
    def newline(self) -> str:
        """The file's line ending (from its first line): new lines are written with it."""
        first = self.lines[0] if self.lines else ""
        return "\r\n" if first.endswith("\r\n") else "\r" if first.endswith("\r") else "\n"

    def _native(self, lines: list[str]) -> list[str]:
        newline = self.newline
        if newline == "\n":
            return lines
        return [
            ln[:-1] + newline if ln.endswith("\n") and not ln.endswith("\r\n") else ln
            for ln in lines
        ]

    # -- editing the front matter ------------------------------------------------

    def _key_block(self, key: str) -> tuple[int, int] | None:
        """[start, end) line indexes of a top-level key and its continuation lines."""
        import re

        start = None
        for index in range(1, self.fm_end):
            match = re.match(_TOP_KEY, self.lines[index])
            if match and match.group(1) == key:
                start = index
                break
        if start is None:
            return None
        end = start + 1
        last = end
        while end < self.fm_end:
            line = self.lines[end]
            if not line.strip():
                end += 1
                continue
            if line[0] in " \t-":
                end += 1
                last = end
                continue
            break
        return start, last

    def set_field(self, key: str, value: Any) -> None:
        """Set one top-level key, rewriting only its lines; verified by re-parsing."""
        from enum import Enum

        if isinstance(value, Enum):
            value = value.value
        from .yamlio import dump_field

        expected = dict(self.data)
        expected[key] = value
        new_lines = dump_field(key, value)
        block = self._key_block(key)
        if block is None:
            self.lines[self.fm_end : self.fm_end] = self._native(new_lines)
            self.fm_end += len(new_lines)
        else:
            start, end = block
            if end - start == 1 and len(new_lines) == 1:
                new_lines = [self._keep_comment(self.lines[start], key, new_lines[0])]
            self.lines[start:end] = self._native(new_lines)
            self.fm_end += len(new_lines) - (end - start)
        self.data = self._load()
        if normalise(self.data) != normalise(expected):
            raise InvalidIncident(  # a guard: the edit must change exactly this key
                f"could not change `{key}` safely; edit the file by hand", path=self.path
            )

    def set_fields(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self.set_field(key, value)

    def _keep_comment(self, old: str, key: str, new: str) -> str:
        """Carry a trailing `# comment` of a one-line value over to its new value."""
        import re

        from .yamlio import load_yaml

        body = old.rstrip("\r\n")
        for match in re.finditer(r"[ \t]+#", body):
            try:
                before = load_yaml(body[: match.start()], path=self.path, first_line=1)
            except InvalidIncident:
                continue
            if isinstance(before, dict) and key in before and before[key] == self.data.get(key):
                return new.rstrip("\n") + body[match.start() :] + "\n"
        return new

    # -- the body and its timeline ------------------------------------------------

    @property
    def body_start(self) -> int:
        return self.fm_end + 1

    def sections(self) -> list[Heading]:
        """Top-level headings in the body: (line index, title, level, last line index)."""
        return scan_headings(self.lines, self.body_start)

    def region(self, name: str) -> tuple[int, int] | None:
        """[start, end) of the lines between `<!-- incidentctl:NAME -->` markers."""
        # The markers are whole lines at column 0, and the last pair wins: `postmortem`
        # appends its regions after the summary and timeline, so a marker pasted into
        # a log entry (indented) or a summary (above) cannot make a refresh replace
        # the text between it and the real marker.
        begin, end = f"<!-- incidentctl:{name} -->", f"<!-- /incidentctl:{name} -->"
        lines = [line.rstrip() for line in self.lines]
        starts = [i for i in range(self.body_start, len(lines)) if lines[i] == begin]
        for start in reversed(starts):
            for index in range(start + 1, len(lines)):
                if lines[index] == end:
                    return start + 1, index
        return None

    def replace_region(self, name: str, new_lines: list[str]) -> bool:
        """Replace a tool-owned region's lines; False when the file has no such region."""
        found = self.region(name)
        if found is None:
            return False
        start, end = found
        self.lines[start:end] = self._native(new_lines)
        return True

    def append_body(self, text: str) -> None:
        """Add text at the end of the file, after one blank line."""
        if self.lines and not self.lines[-1].endswith(("\n", "\r")):
            self.lines[-1] += self.newline
        if self.lines and self.lines[-1].strip():
            self.lines.append(self.newline)
        self.lines.extend(self._native(split_lines(text)))
        if self.lines and not self.lines[-1].endswith(("\n", "\r")):
            self.lines[-1] += self.newline

    def section_range(self, title: str, level: int = 2) -> tuple[int, int] | None:
        """[heading index, end index) of the first section with this title.

        The heading index is its last line (a setext heading's underline): its
        section's text starts on the line after it.
        """
        heads = self.sections()
        for pos, (_, name, lvl, index) in enumerate(heads):
            if lvl == level and name.lower() == title.lower():
                end = len(self.lines)
                for later, _, later_level, _ in heads[pos + 1 :]:
                    if later_level <= level:
                        end = later
                        break
                return index, end
        return None

    def timeline(self) -> list[Entry]:
        found = self.section_range(TIMELINE_HEADING)
        if found is None:
            return []
        start, end = found
        entries: list[Entry] = []
        current: dict[str, Any] | None = None
        pending_blank = 0
        for index in range(start + 1, end):
            line = self.lines[index].rstrip("\r\n")
            parts = parse_entry(line)
            if parts:
                if current:
                    entries.append(entry_from(current, self.path))
                current = {**parts, "more": [], "line": index + 1}
                pending_blank = 0
            elif current is not None and line.startswith("  ") and line.strip(" \t"):
                current["more"].extend([""] * pending_blank)
                current["more"].append(unescape_line(line[2:]))
                pending_blank = 0
            elif current is not None and not line.strip(" \t"):
                pending_blank += 1
            else:
                if current:
                    entries.append(entry_from(current, self.path))
                current = None
        if current:
            entries.append(entry_from(current, self.path))
        return entries

    def add_entry(self, entry: Entry) -> None:
        """Insert an entry into the timeline, in time order (after equal times)."""
        new_lines = format_entry(entry)
        found = self.section_range(TIMELINE_HEADING)
        if found is None:
            tail = self.lines[-1] if len(self.lines) > self.body_start else "\n"
            if not tail.endswith(("\n", "\r")):
                self.lines[-1] = tail + self.newline
            self.lines.extend(self._native(["\n", f"## {TIMELINE_HEADING}\n", "\n", *new_lines]))
            return
        start, end = found
        entries = self.timeline()
        before = [e for e in entries if e.at <= entry.at]
        if before:
            anchor = before[-1]
            index = anchor.line  # the line after the anchor's first line
            # Skip the anchor's continuation lines, and blank lines between them (a text
            # with blank lines), as timeline() reads them; else we would split the text.
            scan = index
            while scan < end and (_blank(self.lines[scan]) or self.lines[scan].startswith("  ")):
                scan += 1
                if not _blank(self.lines[scan - 1]):
                    index = scan
        elif entries:
            index = entries[0].line - 1
        else:
            index = start + 1
            while index < end and not self.lines[index].strip():
                index += 1
            if index == end or not self.lines[index].strip():
                index = start + 1
                new_lines = ["\n", *new_lines]
                if index < len(self.lines) and self.lines[index].strip():
                    new_lines.append("\n")
            else:
                new_lines = [*new_lines, "\n"]
        if index == len(self.lines) and not self.lines[-1].endswith(("\n", "\r")):
            # The file ends without a newline: end that line, and keep the file's choice.
            self.lines[-1] += self.newline
            new_lines[-1] = new_lines[-1].rstrip("\r\n")
        self.lines[index:index] = self._native(new_lines)

    def replace_entry(self, old: Entry, new: Entry) -> None:
        """Put `new` where `old` stands (`old` as timeline() read it): a count updated."""
        index = old.line - 1
        end = index + 1
        while (
            end < len(self.lines)
            and self.lines[end].startswith("  ")
            and not _blank(self.lines[end])
        ):
            end += 1
        self.lines[index:end] = self._native(format_entry(new))

    # -- writing ------------------------------------------------------------------

    def save(self, file: StrPath) -> None:
        write_atomic(file, self.text)


def scan_headings(lines: list[str], start: int = 0) -> list[Heading]:
    """Top-level headings as (line index, title, level, last line index): blocks.py.

    Exactly the headings a CommonMark renderer shows: not one in a code block, an
    HTML comment, a list item (a log text saying `## Root Cause`) or a block quote.
    """
    return headings(lines, start)


def _blank(line: str) -> bool:
    """A blank line as Markdown sees one: only spaces and tabs (and its ending)."""
    return not line.strip(" \t\r\n")


def normalise(value: Any) -> Any:
    from enum import Enum

    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_ts(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value
