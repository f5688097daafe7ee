"""`status`, `severity`, `assign` and `action add` without YAML or the model, while
the cache of front matters holds the incident's file.

That cache (records.py, frontcache.py) holds the validated front matter of every
version of a file it has seen, by git blob id, and every changing command puts
there the version it writes. From it these commands know the current values
without PyYAML or pydantic; they apply the same rules as lifecycle.py and actions.py
(the same functions where it matters), write only the lines of the keys they change,
as `set_field` would (plainyaml.swap), and know the result valid: the old front
matter was, and each new value is one the model accepts (a status, a severity, a
timestamp, a cleaned name, an action item of a cleaned title and owner).

Anything else goes the full way, with the same arguments and the same `now`: a file
the cache does not hold, a front matter that is not plainly laid out or holds a
changed key in another form than incidentctl writes (a hand edit), closing (the
post-mortem is judged on the model), a repository's own action-items template.
Nothing is written before that choice is made, and the lock, the refusals, the
commit of changes found uncommitted, the atomic write and the commit are the ones
`change` uses (base.save_change).
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..incident.file import IncidentFile
from ..incident.plainyaml import python_value, simple_structure, swap
from ..incident.timeline import Entry
from ..incident.timeutil import format_ts, utcnow
from ..incident.validation import clean_text
from .base import Change, RepoBase

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date, datetime
    from typing import Any


class _FullWay(Exception):
    """This change needs the full way (raised before anything is written)."""


class Front:
    """A cached, validated front matter being changed: its file, its values as JSON
    (`data`), and the new values (`new`, what the cache gets for the new bytes)."""

    def __init__(self, file: IncidentFile, data: dict[str, Any]):
        self.file = file
        self.data = data
        self.new = dict(data)

    def set(self, key: str, value: Any, shown: Any) -> None:
        """`file.set_field(key, value)`; `shown`: the value as `show --json` prints it."""
        if key not in self.data or not swap(
            self.file, key, python_value(key, self.data[key]), value
        ):
            raise _FullWay
        self.new[key] = shown


def change(
    repo: RepoBase,
    ref: str,
    mutate: Callable[[Front], str],
    *,
    commit: bool,
    command: str,
) -> Change | None:
    """`repo.change` on the cached front matter; None, with nothing written, when
    the cache does not hold the file or `mutate` needs the full way."""
    from ..incident.storage import decode, read_limited
    from .frontcache import FrontCache, blob_id

    with repo.git.lock():
        if commit:
            repo.git.refuse_commit()  # before anything is written
        ident, path = repo._locate(ref)
        # `git status` of the file (the check for uncommitted changes) runs meanwhile.
        started = repo.git.start_uncommitted(path) if commit else None
        try:
            rel = repo.rel(path)
            raw = read_limited(path, rel, root=repo.git.top)
            data = FrontCache(repo.git.gitdir, "fm").get(blob_id(raw))
            if not isinstance(data, dict) or data.get("id") != ident:
                raise _FullWay  # not seen yet, or not valid: the full way says why
            opened = python_value("opened_at", data.get("opened_at"))
            file = IncidentFile(decode(raw, rel), rel, facts=(ident, opened))
            if not simple_structure(file.lines[1 : file.fm_end]):
                raise _FullWay
            original = file.text
            front = Front(file, data)
            subject = mutate(front)
        except _FullWay:
            if started is not None:
                started.kill()
            return None
        except BaseException:
            if started is not None:
                started.kill()
            raise
        sha, found = repo.save_change(
            ident,
            path,
            file,
            original,
            subject,
            commit=commit,
            command=command,
            trailers=None,
            front=front.new,
            started=started,
        )
    return repo.pushed(Change(ident, rel, sha, subject, found))


def transition(
    repo: RepoBase,
    ref: str,
    status: str,
    *,
    message: str | None = None,
    at: datetime | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """lifecycle.transition."""
    from ..incident.vocab import (
        TIMESTAMP_ORDER,
        Status,
        check_transition,
        lifecycle_stamps,
        parse_status,
    )
    from .lifecycle import status_subject, status_text
    from .lifecycle import transition as full_way

    new = parse_status(status)
    note = clean_text(message, "the message") if message else None
    now = now or utcnow()
    when = at or now
    if when > now:
        raise InvalidInput(f"--at {format_ts(when)} is in the future")
    author = repo.author()

    def mutate(front: Front) -> str:
        old = Status(front.data["status"])
        move = check_transition(old, new)
        if new == Status.CLOSED:
            raise _FullWay  # the post-mortem is judged on the model (rules.py)
        times = {key: python_value(key, front.data[key]) for key in TIMESTAMP_ORDER}
        stamps = lifecycle_stamps(move, new, times, when)
        front.set("status", new.value, new.value)
        for key, value in stamps.items():
            front.set(key, value, None if value is None else format_ts(value))
        front.file.add_entry(Entry(when, author, "status", status_text(old, new, note)))
        return status_subject(move, old, new)

    done = change(repo, ref, mutate, commit=commit, command="status")
    if done is None:
        return full_way(repo, ref, status, message=message, at=at, now=now, commit=commit)
    return done


def set_severity(
    repo: RepoBase,
    ref: str,
    severity: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """lifecycle.set_severity."""
    from ..incident.vocab import Severity, parse_severity
    from .lifecycle import set_severity as full_way
    from .lifecycle import severity_change

    new = parse_severity(severity)
    note = clean_text(reason, "the reason") if reason else None
    now = now or utcnow()
    author = repo.author()

    def mutate(front: Front) -> str:
        text, subject = severity_change(Severity(front.data["severity"]), new, note)
        front.set("severity", new.value, new.value)
        front.file.add_entry(Entry(now, author, "severity", text))
        return subject

    done = change(repo, ref, mutate, commit=commit, command="severity")
    if done is None:
        return full_way(repo, ref, severity, reason=reason, now=now, commit=commit)
    return done


def assign(
    repo: RepoBase,
    ref: str,
    *,
    commander: str | None = None,
    roles: dict[str, str] | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """lifecycle.assign."""
    from .base import one_line
    from .lifecycle import assign as full_way
    from .lifecycle import assignment, role_changes

    name, cleaned = assignment(repo, commander, roles)
    now = now or utcnow()
    author = repo.author()

    def mutate(front: Front) -> str:
        current, held = front.data["commander"], front.data["roles"]
        changes, merged = role_changes(name, cleaned, current, held)
        if name is not None and name != current:
            front.set("commander", name, name)
        if merged != held:
            front.set("roles", merged, merged)
        front.file.add_entry(Entry(now, author, "role", "Assigned " + ", ".join(changes)))
        return "assign " + one_line(", ".join(changes), 60)

    done = change(repo, ref, mutate, commit=commit, command="assign")
    if done is None:
        return full_way(repo, ref, commander=commander, roles=roles, now=now, commit=commit)
    return done


def add_action(
    repo: RepoBase,
    ref: str,
    title: str,
    *,
    owner: str,
    due: date,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """actions.add_action."""
    from ..incident import actiontable
    from .actions import action_added, next_action_id
    from .actions import add_action as full_way

    cleaned = clean_text(title, "the action item title", max_len=200, one_line=True)
    who = clean_text(owner, "the owner", max_len=200, one_line=True)
    now = now or utcnow()
    author = repo.author()
    added: list[str] = []

    def mutate(front: Front) -> str:
        items = front.data["action_items"]
        ident = next_action_id(item["id"] for item in items)
        # As the model dumps a new one: every field, in its order.
        item: dict[str, str | None] = {"id": ident, "title": cleaned, "owner": who}
        item.update(due=due.isoformat(), status="open", issue=None, ticket=None)
        shown = [*items, item]
        front.set("action_items", python_value("action_items", shown), shown)
        text, subject = action_added(ident, cleaned, who, due)
        front.file.add_entry(Entry(now, author, "action", text))
        if not actiontable.refresh(front.file, shown, front.data["id"], repo.git.top):
            raise _FullWay  # a template of the repository's own: Jinja2 renders it
        added.append(ident)
        return subject

    done = change(repo, ref, mutate, commit=commit, command="action add")
    if done is None:
        return full_way(repo, ref, title, owner=owner, due=due, now=now, commit=commit)
    return Change(done.id, done.path, done.commit, done.subject, {**done.extra, "action": added[0]})
