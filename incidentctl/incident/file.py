"""One incident file: strict parsing, surgical edits, atomic writes.

Loading and saving with no change is byte-identical. A change to one field rewrites
only that field's lines, and an appended timeline entry only adds its own lines, so
comments, key order and hand-written text survive every command.
"""

from __future__ import annotations

import os
from datetime import date, datetime

from ..errors import InvalidIncident, WriteError
from ..record import Record
from ..safetext import is_unsafe
from .blocks import Heading, escape_text, headings, unescape_line
from .lines import entry as parse_entry
from .lines import is_conflict_marker, is_temp_name, split_lines
from .timeutil import format_ts

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from .knowngood import KnownGood

    StrPath = str | os.PathLike[str]

# Author names stand between ** marks on one line: control characters, * and ` go.
# (These are the fast ones; clean_author removes every unsafe character.)
_AUTHOR_UNSAFE = dict.fromkeys([*range(0x20), 0x7F, ord("*"), ord("`")], " ")

_TOP_KEY = r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]|$)"  # compiled on first use
TIMELINE_HEADING = "Timeline"
LINE_ENDING = "\n"
# The largest incident file any command reads or writes (README: "Limits"): a file
# from a pull request cannot make a command's time or memory grow without bound. A
# long incident's file is some 100 KiB; 1 MiB holds about ten thousand entries.
MAX_FILE_BYTES = 1024 * 1024
BOM = "\ufeff"


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


def too_large(path: str, *, would: bool = False) -> InvalidIncident:
    """The error for a file (or a change) past MAX_FILE_BYTES."""
    what = "the change would make the file" if would else "the file is"
    return InvalidIncident(
        f"{what} larger than {MAX_FILE_BYTES // 1024 // 1024} MiB, the limit for an "
        "incident file; move long logs or attachments elsewhere and link to them",
        path=path,
        rule="file-size",
    )


def encoded_size(text: str) -> int:
    """The size of `text` in UTF-8 (undecodable bytes held as surrogates count one)."""
    if len(text) * 4 <= MAX_FILE_BYTES:
        return len(text)  # too short to matter: spare the encoding
    return len(text.encode("utf-8", errors="surrogatepass"))


def read_limited(file: StrPath, shown: str, root: StrPath | None = None) -> bytes:
    """The bytes of an incident file, reading at most MAX_FILE_BYTES + 1 of them.

    Only a regular file: a link, FIFO, device or folder is refused (rule file-type);
    with `root` (the repository) no link is followed from there down (safefs).
    """
    from .safefs import NotRegular, read_regular

    try:
        raw = read_regular(file, root, limit=MAX_FILE_BYTES + 1)
    except NotRegular as exc:
        where = "" if exc.path == os.fspath(file) else f"{_shown_in(exc.path, root)} "
        raise InvalidIncident(f"{where}{exc.reason}", path=shown, rule="file-type") from None
    except FileNotFoundError:
        raise InvalidIncident("file not found", path=shown) from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise InvalidIncident(f"cannot read: {why}", path=shown) from None
    if len(raw) > MAX_FILE_BYTES:
        raise too_large(shown)
    return raw


def _decode(data: bytes, path: str) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InvalidIncident(
            "the file is UTF-16 text; save it as UTF-8", path=path, line=1, rule="encoding"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidIncident(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            path=path,
            line=line,
            rule="encoding",
        ) from None


class IncidentFile:
    """An incident file held as lines, with its front matter parsed."""

    def __init__(self, text: str, path: str = "<incident>", *, known: KnownGood | None = None):
        self.path = path
        if encoded_size(text) > MAX_FILE_BYTES:
            raise too_large(path)
        self.lines = split_lines(text)
        self._check_conflicts()
        self._split()
        self._data: dict[str, Any] | None = None
        # A front matter byte-identical to one parsed and found valid before needs no
        # YAML parser until a value is asked for (the `log` hot path asks for none).
        self._facts = known.lookup(self.front_matter_text) if known is not None else None
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
        return cls(_decode(read_limited(file, shown, root), shown), shown, known=known)

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
        if _normalise(self.data) != _normalise(expected):
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
                    entries.append(_entry(current, self.path))
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
                    entries.append(_entry(current, self.path))
                current = None
        if current:
            entries.append(_entry(current, self.path))
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


def _shown_in(path: str, root: StrPath | None) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/") if root is not None else path


def _entry(raw: dict[str, Any], path: str) -> Entry:
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


def _normalise(value: Any) -> Any:
    from enum import Enum

    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_ts(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_atomic(
    file: StrPath, text: str, *, root: StrPath | None = None, shown: str | None = None
) -> None:
    """Write through a temp file in the same folder, fsync, then rename over the target.

    A crash leaves either the old or the new file, never a half-written one. With
    `root` (the repository), every folder from there down is reached without
    following a link and made when missing (safefs); a link, FIFO or folder at the
    target, and a file its mode keeps read-only (`chmod 444`), are refused. The
    file's mode is kept. Any OSError becomes one WriteError naming the file
    (`shown`, else the path relative to `root`) and what to do.
    """
    from .safefs import NotRegular, folder_of

    path = os.fspath(file)
    display = shown or (os.path.relpath(path, root) if root is not None else path)
    try:
        dir_fd, name = folder_of(path, root, create=True)
    except NotRegular as exc:
        where = exc.path if root is None else os.path.relpath(exc.path, root)
        raise WriteError(f"cannot write: {where} {exc.reason}", path=display) from None
    except (OSError, ValueError) as exc:
        raise _write_error(exc, display) from None
    try:
        _write_in(dir_fd, name, text, display)
    finally:
        os.close(dir_fd)


def _write_error(exc: OSError | ValueError, display: str) -> WriteError:
    from .safefs import write_reason

    if isinstance(exc, ValueError):  # a path outside the repository
        return WriteError(f"cannot write: {exc}", path=display)
    return WriteError(f"cannot write: {write_reason(exc)}", path=display)


def ensure_writable(file: StrPath, *, root: StrPath, shown: str) -> None:
    """Refuse early, as `write_atomic` would, a file that cannot be changed (`edit`)."""
    from .safefs import NotRegular, folder_of

    try:
        dir_fd, name = folder_of(file, root)
    except NotRegular as exc:
        raise WriteError(f"cannot write: {exc.reason}", path=shown) from None
    except (OSError, ValueError) as exc:
        raise _write_error(exc, shown) from None
    try:
        _refuse_unwritable(os.lstat(name, dir_fd=dir_fd), name, dir_fd, shown)
    except OSError as exc:
        raise _write_error(exc, shown) from None
    finally:
        os.close(dir_fd)


def _refuse_unwritable(st: os.stat_result, name: str, dir_fd: int, display: str) -> None:
    import stat

    from .safefs import not_regular, writable

    if not stat.S_ISREG(st.st_mode):
        refused = not_regular(display, st.st_mode)
        raise WriteError(f"cannot write: it {refused.reason}", path=display)
    if not writable(st, name, dir_fd):
        raise WriteError(
            f"the file is read-only (mode {st.st_mode & 0o777:04o}); to change it, make it "
            f"writable (`chmod u+w {display}`) and run the command again",
            path=display,
        )


def _write_in(dir_fd: int, name: str, text: str, display: str) -> None:
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as exc:
        raise _write_error(exc, display) from None
    else:
        _refuse_unwritable(st, name, dir_fd, display)
        mode = st.st_mode & 0o7777
    # O_EXCL with a random name, as tempfile.mkstemp does (without its import cost);
    # O_NOFOLLOW and O_EXCL: a link planted at the temp name is never written through.
    tmp = f".{name}.{os.urandom(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise _write_error(exc, display) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        try:  # noqa: SIM105 (contextlib would be one more import on the `log` path)
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _write_error(exc, display) from None
        raise
    try:  # noqa: SIM105 (contextlib would be one more import on the `log` path)
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - file systems that cannot sync a folder
        pass


def remove_stale_temps(folder: StrPath, root: StrPath | None = None) -> None:
    """Remove the temp files of `write_atomic` that a killed command left in `folder`.

    Call it only while holding the repository lock: every writer of incident files
    holds it, so a temp file seen then belongs to a writer that is gone. With `root`,
    a folder reached through a link is left alone (the write then refuses it).
    """
    from .safefs import NotRegular, folder_of

    try:
        fd, _ = folder_of(os.path.join(folder, "x"), root)
    except (NotRegular, OSError, ValueError):
        return
    try:
        for entry in os.scandir(fd):
            if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.name, dir_fd=fd)
                except FileNotFoundError:  # gone already
                    continue
    finally:
        os.close(fd)
