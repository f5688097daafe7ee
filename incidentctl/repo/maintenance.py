"""Maintenance windows: files under `maintenance/<year>/`, and the alerts they suppress.

A window is Markdown with YAML front matter, committed like an incident. Only
`scheduled` and `cancelled` are stored; in progress and completed follow from the time.
While one is in progress, an alert for one of its services is listed in its file
instead of opening an incident (alerts/intake.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone

from ..errors import IncidentctlError, InvalidIncident, InvalidInput, NotFound, NothingToDo
from ..incident.blocks import escape_text
from ..incident.file import IncidentFile
from ..incident.storage import decode, read_limited, remove_stale_temps, write_atomic
from ..incident.timeutil import format_ts, utcnow
from ..incident.validation import clean_text
from ..safetext import describe, first_unsafe_in, is_unsafe
from .base import RepoBase, one_line
from .opening import slugify

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    Warn = Callable[[str], None] | None

MAINTENANCE_DIR = "maintenance"  # at the repository root, beside the incidents folder
STATUSES = ("scheduled", "cancelled")  # stored; in_progress and completed are derived
VISIBILITIES = ("internal", "public")
ALERTS_HEADING = "Suppressed alerts"
NONE_YET = "_None so far._"
# Alerts listed in a file; past it they are only counted, so that an alert storm cannot
# grow the file towards the 1 MiB limit (a line is at most some 450 characters).
MAX_LISTED = 1000
MORE = "- _Further alerts are counted in `suppressed`, not listed._"
TITLE_MAX, KEY_MAX, FORMAT_MAX = 200, 200, 20
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford, as incident IDs
_ID = r"MNT-\d{8}-[0-9a-z]{4}"


@dataclass(frozen=True)
class Window:
    """One maintenance window, as its file says."""

    id: str
    title: str
    services: tuple[str, ...]
    start: datetime  # aware, UTC
    end: datetime
    status: str  # "scheduled" or "cancelled"
    visibility: str  # "internal" or "public"
    description: str | None
    suppressed: int  # alerts recorded in the window
    path: str  # relative to the repository root, `/` separators
    created_at: datetime | None = None
    cancelled_at: datetime | None = None
    commit: str | None = field(default=None, compare=False)  # made by add or cancel

    def state(self, now: datetime) -> str:
        """`scheduled` (before start), `in_progress`, `completed` (after end), `cancelled`."""
        if self.status == "cancelled":
            return "cancelled"
        if now < self.start:
            return "scheduled"
        return "in_progress" if now < self.end else "completed"

    def covers(self, services: Iterable[str], at: datetime) -> bool:
        """Active at `at` (not cancelled, start <= at < end) for one of `services`."""
        if self.status == "cancelled" or not self.start <= at < self.end:
            return False
        mine = {s.casefold() for s in self.services}
        return any(s.casefold() in mine for s in services)

    def as_json(self, now: datetime) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "commit"}
        data.update(services=list(self.services), state=self.state(now))
        return {k: format_ts(v) if isinstance(v, datetime) else v for k, v in data.items()}


KEYS = frozenset(f.name for f in fields(Window)) - {"path", "commit"}  # of the front matter


@dataclass(frozen=True)
class Suppressed:
    """One alert recorded in a window instead of opening an incident."""

    at: datetime
    format: str
    key: str
    title: str


# -- reading ----------------------------------------------------------------------------


def windows(repo: RepoBase, warn: Warn = None) -> list[Window]:
    """Every valid window by start; the others go to `warn` (never raised: intake)."""
    found = []
    for _, rel in _names(repo, warn):
        try:
            found.append(_read(repo, rel)[1])
        except IncidentctlError as exc:
            _skip(warn, str(exc))
    return sorted(found, key=lambda w: (w.start, w.id))


def active_for(
    repo: RepoBase,
    services: Iterable[str],
    at: datetime,
    *,
    among: Sequence[Window] | None = None,
) -> Window | None:
    """The first window (not cancelled, start <= at < end) for one of `services` (any case),
    or None; `among`: the windows, read once for a batch of alerts."""
    wanted = list(services)
    found = (w for w in (windows(repo) if among is None else among) if w.covers(wanted, at))
    return next(found, None) if wanted else None


def _skip(warn: Warn, message: str) -> None:
    if warn:
        warn(f"skipped {message}")


def _names(repo: RepoBase, warn: Warn) -> list[tuple[str, str]]:
    """(ID, path) of every window file by its name (`_read` refuses links); odd ones: `warn`."""
    import re

    pattern = re.compile(rf"^({_ID})(?:-[^/]*)?\.md$")
    found = []
    for year in _listing(repo, MAINTENANCE_DIR, warn):
        where = f"{MAINTENANCE_DIR}/{year.name}"
        for entry in _listing(repo, where, warn) if year.is_dir() else []:
            if match := pattern.match(entry.name):
                found.append((match.group(1), f"{where}/{entry.name}"))
            elif entry.name.endswith(".md"):
                _skip(warn, f"{where}/{entry.name}: not named MNT-YYYYMMDD-xxxx-slug.md")
    return found


def _listing(repo: RepoBase, rel: str, warn: Warn) -> list[os.DirEntry[str]]:
    """The entries of a folder, by name, without dot files; [] when it is missing."""
    try:
        with os.scandir(os.path.join(repo.git.top, rel)) as it:
            return sorted((e for e in it if e.name[:1] != "."), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        _skip(warn, f"{rel}: cannot be read: {exc.strerror}")
        return []


def _read(repo: RepoBase, rel: str) -> tuple[IncidentFile, Window]:
    """One window file, read bounded and without following links, then checked."""
    raw = read_limited(os.path.join(repo.git.top, rel), rel, root=repo.git.top)
    file = IncidentFile(decode(raw, rel), rel)
    return file, _window(file, rel.rsplit("/", 1)[-1][:17])


def _window(file: IncidentFile, named: str | None = None) -> Window:
    """The front matter as a Window (`named`: the file name's ID); errors name the line."""
    import re

    data = file.data

    def bad(key: str, message: str) -> InvalidIncident:
        line = file.key_line(key) or 2
        return InvalidIncident(f"`{key}` {message}", path=file.path, line=line, rule="maintenance")

    for key, value in data.items():
        if key not in KEYS and not str(key).startswith(("x-", "x_")):
            raise bad(str(key), "is not a known key; fix it, or prefix custom keys with x-")
        if (char := first_unsafe_in(value)) is not None:
            raise bad(str(key), f"holds {describe(char)}; remove it")
    times: dict[str, datetime | None] = {}
    for key in ("start", "end", "created_at", "cancelled_at"):
        value = times[key] = data.get(key)
        if isinstance(value, datetime) and value.tzinfo is not None:
            times[key] = value.astimezone(timezone.utc)
        elif value is not None or key in ("start", "end"):
            raise bad(key, "must be a time with an offset, e.g. 2026-12-01T02:00:00Z")
    ident, title, services = data["id"], data.get("title"), data.get("services")
    names: list[Any] = services if isinstance(services, list) else []
    about, suppressed = data.get("description"), data.get("suppressed", 0)
    visibility = data.get("visibility", "internal")
    start, end = times["start"], times["end"]
    assert start is not None and end is not None
    for key, good, message in (
        ("id", re.fullmatch(_ID, str(ident)), "must be a maintenance ID, e.g. MNT-20261201-x7k2"),
        ("id", named in (None, ident), f"is not the file name's ({named}); make them agree"),
        ("title", _line(title, TITLE_MAX), f"must be one line of 1 to {TITLE_MAX} characters"),
        ("services", names, "must list one or more services"),
        ("services", all(_line(s, 100) for s in names), "must be names of one line"),
        ("end", end > start, f"{format_ts(end)} is not after `start` ({format_ts(start)})"),
        ("status", data.get("status") in STATUSES, f"must be one of: {', '.join(STATUSES)}"),
        ("visibility", visibility in VISIBILITIES, "must be internal or public"),
        ("description", about is None or _line(about, 10_000, lines=True), "must be text"),
        ("suppressed", type(suppressed) is int and suppressed >= 0, "must be a count, 0 or more"),
    ):
        if not good:
            raise bad(key, message)
    return Window(
        id=str(ident),
        title=str(title),
        services=tuple(str(s).strip() for s in names),
        start=start,
        end=end,
        status=str(data["status"]),
        visibility=str(visibility),
        description=about,
        suppressed=suppressed,
        path=file.path,
        created_at=times["created_at"],
        cancelled_at=times["cancelled_at"],
    )


def _line(value: object, limit: int, *, lines: bool = False) -> bool:
    """Text of 1 to `limit` characters (on one line, unless `lines`)."""
    ok = isinstance(value, str) and bool(value.strip()) and len(value) <= limit
    return ok and (lines or "\n" not in str(value))


def _resolve(repo: RepoBase, ref: str) -> tuple[str, str]:
    """(ID, path) of the window whose ID is `ref` or ends with it (case-insensitive)."""
    wanted, shown = ref.strip().lower(), one_line(ref, 40)
    names = _names(repo, None) if wanted else []
    matches = [n for n in names if n[0].lower() == wanted]
    matches = matches or [n for n in names if n[0].lower().endswith(wanted)]
    if not matches:
        raise NotFound(f"no window matches {shown!r}; see `incidentctl maintenance list --all`")
    if len(matches) > 1:
        some = ", ".join(n[0] for n in matches[:5])
        raise NotFound(f"{shown!r} matches {len(matches)} windows ({some}); give more of the ID")
    return matches[0]


# -- changing ---------------------------------------------------------------------------


def add(
    repo: RepoBase,
    title: str,
    *,
    services: Iterable[str],
    start: datetime,
    end: datetime,
    description: str | None = None,
    visibility: str = "internal",
    commit: bool = True,
    now: datetime | None = None,
) -> Window:
    """Schedule a window: write (and commit) its file. It may have started, not ended."""
    from ..incident.yamlio import dump_front_matter

    now = now or utcnow()
    title = clean_text(title, "the title", max_len=TITLE_MAX, one_line=True)
    names = [clean_text(s, "a service", max_len=100, one_line=True) for s in services]
    names = list(dict.fromkeys(names))  # a service given twice, once
    if not names:
        raise InvalidInput("a maintenance window needs a service; give --service NAME")
    about = clean_text(description, "the description") if description is not None else None
    if visibility not in VISIBILITIES:
        raise InvalidInput(f"unknown visibility {visibility!r}; use internal or public")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("naive datetime")  # a bug: parse_time gives aware ones
    start = start.astimezone(timezone.utc).replace(microsecond=0)
    end = end.astimezone(timezone.utc).replace(microsecond=0)
    if end <= start:
        raise InvalidInput(f"the end {format_ts(end)} is not after the start {format_ts(start)}")
    if end <= now:
        raise InvalidInput(f"the end {format_ts(end)} has passed; give one to come, e.g. +2h")
    with repo.git.lock():
        if commit:
            repo.git.refuse_commit()  # before anything is written
        taken = {i.lower() for i, _ in _names(repo, None)}
        while (ident := f"MNT-{start:%Y%m%d}-{_rand()}").lower() in taken:
            pass  # 32**4 IDs a day
        slug = slugify(title) if any(c.isascii() and c.isalnum() for c in title) else "window"
        rel = f"{MAINTENANCE_DIR}/{start:%Y}/{ident}-{slug}.md"
        metadata: dict[str, Any] = {"id": ident, "title": title, "services": names}
        metadata.update(start=start, end=end, status="scheduled", visibility=visibility)
        metadata.update({"description": about} if about else {})
        metadata.update(created_at=now, suppressed=0)
        body = "\n".join(escape_text(about.split("\n"))) if about else "_None given._"
        text = f"---\n{dump_front_matter(metadata)}---\n\n# {title}\n\n## Description\n\n"
        text += f"{body}\n\n## {ALERTS_HEADING}\n\n{NONE_YET}\n"
        window = _window(IncidentFile(text, rel))  # what we write must read back
        message = (f"maintenance({ident}): add {one_line(title, 50)}", {"Maintenance": ident})
        sha = _save(repo, rel, text, None, message if commit else None)
    return replace(window, commit=sha)


def cancel(repo: RepoBase, ref: str, *, commit: bool = True, now: datetime | None = None) -> Window:
    """Cancel a scheduled or running window: from then on it suppresses nothing."""
    at = now or utcnow()

    def mutate(file: IncidentFile, window: Window) -> str:
        state = window.state(at)
        if state == "cancelled":
            when = f" at {format_ts(window.cancelled_at)}" if window.cancelled_at else ""
            raise NothingToDo(f"{window.id} was cancelled{when} already; nothing changed")
        if state == "completed":
            raise InvalidInput(f"{window.id} ended at {format_ts(window.end)}; too late to cancel")
        file.set_field("status", "cancelled")
        file.set_field("cancelled_at", at)
        return "cancel"

    return _change(repo, ref, mutate, commit=commit, what="cancel")


def record_alert(
    repo: RepoBase,
    window_id: str,
    *,
    at: datetime,
    format: str,
    key: str,
    title: str,
    commit: bool = True,
) -> None:
    """List one suppressed alert in the window's file and count it (one commit)."""
    record_alerts(repo, window_id, [Suppressed(at, format, key, title)], commit=commit)


def record_alerts(
    repo: RepoBase,
    window_id: str,
    alerts: Sequence[Suppressed],
    *,
    commit: bool = True,
    trailers: dict[str, str] | None = None,
) -> str | None:
    """List a batch of suppressed alerts in one commit (`trailers` added); its SHA."""
    if not alerts:
        return None

    def mutate(file: IncidentFile, window: Window) -> str:
        _list_alerts(file, [_alert_line(a) for a in alerts])
        file.set_field("suppressed", window.suppressed + len(alerts))
        first = _clean(alerts[0].title, 40) or _clean(alerts[0].key, 40)
        return f"alert suppressed: {first}" + (f" (+{len(alerts) - 1} more)" if alerts[1:] else "")

    return _change(repo, window_id, mutate, commit=commit, what="alert", trailers=trailers).commit


def _change(
    repo: RepoBase,
    ref: str,
    mutate: Callable[[IncidentFile, Window], str],
    *,
    commit: bool,
    what: str,
    trailers: dict[str, str] | None = None,
) -> Window:
    """Lock, read, change, check, write atomically, commit."""
    with repo.git.lock():
        if commit:
            repo.git.refuse_commit()  # before anything is written
        ident, rel = _resolve(repo, ref)
        file, window = _read(repo, rel)
        original = file.text
        subject = mutate(file, window)
        changed = _window(file)
        path = os.path.join(repo.git.top, rel)
        found = repo.git.uncommitted(path) if commit else None
        if found is not None:  # a hand edit (or `add --no-commit`) gets a commit of its own
            new = found.startswith("new file")
            note = f"uncommitted {'file' if new else 'changes'} found before {what} ({found})"
            repo.git.commit_only(
                path, f"maintenance({ident}): {note}", {"Maintenance": ident}, created=new
            )
        message = (f"maintenance({ident}): {subject}", {"Maintenance": ident, **(trailers or {})})
        sha = _save(repo, rel, file.text, original, message if commit else None)
    return replace(changed, commit=sha)


def _save(
    repo: RepoBase, rel: str, text: str, old: str | None, message: tuple[str, dict[str, str]] | None
) -> str | None:
    """Write, commit `message` (subject, trailers) unless None; undo a failed commit."""
    path = os.path.join(repo.git.top, rel)
    remove_stale_temps(os.path.dirname(path), repo.git.top)  # left by a killed command
    write_atomic(path, text, root=repo.git.top, shown=rel)
    try:
        return repo.git.commit_only(path, *message, created=old is None) if message else None
    except BaseException:
        if old is None:
            os.unlink(path)
        else:
            write_atomic(path, old, root=repo.git.top, shown=rel)
        raise


# -- the file ---------------------------------------------------------------------------


def _rand() -> str:
    import secrets

    return "".join(secrets.choice(_ALPHABET) for _ in range(4))


def _clean(value: object, limit: int) -> str:
    """Untrusted text (an alert's) as one safe, bounded line, as alerts/notice.clean."""
    text = (value if isinstance(value, str) else "" if value is None else str(value))[: limit * 4]
    if not text.isprintable():
        text = "".join(" " if c in "\r\n\t" or is_unsafe(c) else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _alert_line(alert: Suppressed) -> str:
    """- `time` format `key` title: backticks in the key made quotes, so it stays code."""
    key = _clean(alert.key, KEY_MAX).replace("`", "'") or "-"
    kind = _clean(alert.format, FORMAT_MAX).replace("`", "'") or "alert"
    title = _clean(alert.title, TITLE_MAX)
    return f"- `{format_ts(alert.at.replace(microsecond=0))}` {kind} `{key}` {title}".rstrip()


def _list_alerts(file: IncidentFile, new: list[str]) -> None:
    """Add lines at the end of "Suppressed alerts"; past MAX_LISTED, alerts are counted."""
    if file.section_range(ALERTS_HEADING) is None:
        file.append_body(f"## {ALERTS_HEADING}\n")
    start, end = file.section_range(ALERTS_HEADING) or (0, 0)
    body = [i for i in range(start + 1, end) if file.lines[i].strip()]
    listed = sum(file.lines[i].startswith("- `") for i in body)
    lines = new[: max(0, MAX_LISTED - listed)]
    if len(lines) < len(new) and not any(file.lines[i].startswith(MORE) for i in body):
        lines.append(MORE)
    out = [line + file.newline for line in lines]
    if body and file.lines[body[-1]].strip() == NONE_YET:
        file.lines[body[-1] : body[-1] + 1] = out
    elif body:
        if not file.lines[body[-1]].endswith(("\n", "\r")):
            file.lines[body[-1]] += file.newline
        file.lines[body[-1] + 1 : body[-1] + 1] = out
    elif out:  # an empty section: the lines after a blank line, and one before what follows
        after = [file.newline] if start + 1 == end < len(file.lines) else []
        file.lines[start + 1 : start + 1] = [file.newline, *out, *after]
