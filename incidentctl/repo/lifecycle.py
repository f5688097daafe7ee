"""Lifecycle and roles: opening an incident, timeline entries, status, severity, roles."""

from __future__ import annotations

from ..errors import InvalidInput
from ..incident.file import IncidentFile
from ..incident.storage import remove_stale_temps, write_atomic
from ..incident.timeline import Entry, format_entry
from ..incident.timeutil import format_ts, utcnow
from ..incident.validation import clean_text, validate
from .base import Change, RepoBase, one_line
from .opening import (
    open_subject,
    opened_text,
    opening,
    remember_front,
    slugify,
    summary_markdown,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime
    from typing import Any

    from ..incident.model import Incident, Severity, Status


def new(
    repo: RepoBase,
    title: str,
    *,
    severity: str | None = None,
    type: str | None = None,
    environment: str | None = None,
    services: Iterable[str] = (),
    commander: str | None = None,
    summary: str | None = None,
    detected_at: datetime | None = None,
    started_at: datetime | None = None,
    source: dict[str, Any] | None = None,
    opened_at: datetime | None = None,
    now: datetime | None = None,
    commit: bool = True,
    amend: Callable[[IncidentFile], None] | None = None,
    subject: str | None = None,
    trailers: dict[str, str] | None = None,
) -> Change:
    """Create an incident file (and commit it): the front matter, summary, timeline.

    `opened_at` backfills an incident declared after the fact (default: now).
    `amend` changes the new file before it is written (more entries, say), all in the
    one commit; `subject` and `trailers` then say what the commit holds.
    """
    from ..incident.jsonview import front_matter_json
    from ..incident.model import Incident, Status
    from ..incident.render import compose, render

    now = now or utcnow()
    if opened_at is not None:
        if opened_at > now:
            raise InvalidInput(f"--at {format_ts(opened_at)} is in the future")
        now = opened_at
    given = opening(
        repo,
        title,
        severity=severity,
        type=type,
        environment=environment,
        services=services,
        commander=commander,
        summary=summary,
        now=now,
    )
    title, sev, kind, env = given.title, given.severity, given.type, given.environment
    service_list, summary_text = given.services, given.summary
    author, commander = given.author, given.commander
    for label, value in (("detected at", detected_at), ("started at", started_at)):
        if value is not None and value > now:
            raise InvalidInput(f"{label} {format_ts(value)} is in the future")

    with repo.git.lock():
        if commit:
            repo.git.refuse_commit()  # before anything is written
        # IDs hold their date ({date} is required): only today's can collide.
        today = now.strftime("%Y%m%d")
        ident = repo.new_id(now, (i for i, *_ in repo.names(containing=today)))
        year = now.strftime("%Y")
        path = repo.incidents_dir / year / f"{ident}-{slugify(title)}.md"
        metadata: dict[str, Any] = {
            "id": ident,
            "title": title,
            "status": Status.TRIAGE.value,
            "severity": sev,
            "type": kind,
            "environment": env,
            "services": service_list,
            "commander": commander,
            "roles": {},
            "visibility": "restricted" if kind == "security" else "internal",
            "detected_at": detected_at,
            "started_at": started_at,
            "opened_at": now,
            "acknowledged_at": None,
            "mitigated_at": None,
            "resolved_at": None,
            "closed_at": None,
            "action_items": [],
        }
        if source is not None:
            metadata["source"] = source
        incident = Incident.model_validate(metadata)
        first = opened_text(sev, kind, env, service_list, commander)
        opened = Entry(now, author, "opened", first)
        policy = repo.config.severities[sev]
        body = render(
            "incident.md.j2",
            {
                "incident": incident.model_dump(mode="json"),
                "summary": summary_markdown(summary_text),
                "timeline": [line.rstrip("\n") for line in format_entry(opened)],
                "policy": {
                    "description": policy.description,
                    "response": policy.response,
                    "update_every": policy.update_every,
                },
            },
            repo.root,
        )
        text = compose(metadata, body)
        file = IncidentFile(text, repo.rel(path))  # re-read: what we write must parse
        if amend is not None:
            amend(file)
            text = file.text
        written = validate(file)
        remove_stale_temps(path.parent, repo.git.top)  # left by a command killed mid-write
        write_atomic(path, text, root=repo.git.top, shown=repo.rel(path))
        repo.known.remember(file.front_matter_text, file.id, file.opened_at)
        # The next command on it (`status`, ...) then needs neither YAML nor the model.
        remember_front(repo, text, front_matter_json(file, written))
        sha = None
        if commit:
            try:
                sha = repo.git.commit_only(
                    path,
                    f"incident({ident}): " + (subject or open_subject(sev, title)),
                    {"Incident": ident, **(trailers or {})},
                    created=True,
                )
            except BaseException:
                path.unlink(missing_ok=True)
                raise
    return repo.pushed(
        Change(
            ident,
            repo.rel(path),
            sha,
            "open",
            {
                "status": incident.status.value,
                "severity": sev,
                "commander": commander,
            },
        )
    )


def append(
    repo: RepoBase,
    ref: str,
    text: str,
    *,
    kind: str = "note",
    at: datetime | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """Add a timeline entry (in time order)."""
    text = clean_text(text, "the entry text")
    now = now or utcnow()
    at = at or now
    if at > now:
        raise InvalidInput(f"--at {format_ts(at)} is in the future")
    author = repo.author()

    def mutate(file: IncidentFile) -> str:
        opened = file.opened_at
        if opened is not None and at < opened:
            raise InvalidInput(
                f"--at {format_ts(at)} is before the incident opened ({format_ts(opened)})"
            )
        file.add_entry(Entry(at, author, kind, text))
        return f"log {kind}: {one_line(text, 50)}"

    # A note never touches the front matter, so a schema slip elsewhere in the
    # file (`check` reports it) must not stop a responder from logging mid-outage.
    return repo.change(ref, mutate, commit=commit, command="log", validate_model=False)


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
    """Move to another status, stamping its lifecycle timestamp and the timeline."""
    from ..incident.model import parse_status

    new = parse_status(status)
    note = clean_text(message, "the message") if message else None
    now = now or utcnow()
    when = at or now
    if when > now:
        raise InvalidInput(f"--at {format_ts(when)} is in the future")
    author = repo.author()

    def mutate(file: IncidentFile) -> str:
        return move_status(repo, file, new, when, author, note)

    return repo.change(ref, mutate, commit=commit, command="status")


def move_status(
    repo: RepoBase, file: IncidentFile, new: Status, when: datetime, author: str, note: str | None
) -> str:
    """Set the status in a file, stamp the lifecycle timestamps the move implies, add the
    timeline entry; the commit subject. (What `status` does, for any changing command.)"""
    from ..incident.vocab import TIMESTAMP_ORDER, Status, check_transition, lifecycle_stamps

    incident = validate(file)
    old = incident.status
    move = check_transition(old, new)
    if new == Status.CLOSED:
        _require_postmortem(repo, file, incident)
    times = {key: getattr(incident, key) for key in TIMESTAMP_ORDER}
    stamps = lifecycle_stamps(move, new, times, when)
    file.set_field("status", new.value)
    for key, value in stamps.items():
        file.set_field(key, value)
    file.add_entry(Entry(when, author, "status", status_text(old, new, note)))
    return status_subject(move, old, new)


def status_text(old: Status, new: Status, note: str | None) -> str:
    """The timeline entry of a status change."""
    return f"Status {old.value} → {new.value}" + (f": {note}" if note else "")


def status_subject(move: str, old: Status, new: Status) -> str:
    verb = "reopen" if move == "reopen" else "status"
    return f"{verb} {old.value} -> {new.value}"


def _require_postmortem(repo: RepoBase, file: IncidentFile, incident: Incident) -> None:
    """Closing needs a passing post-mortem when the severity asks for one, and every
    action item with an owner and a due date."""
    from ..incident.model import Status
    from ..incident.rules import action_item_problems, postmortem_problems

    # Judge it as the resolved incident it still is; `closed` adds no rule of its own.
    as_resolved = incident.model_copy(update={"status": Status.RESOLVED})
    problems = postmortem_problems(repo.config, file, as_resolved)
    problems += action_item_problems(file, incident)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        needs = (
            f"{incident.severity.value} needs a passing post-mortem"
            if first.rule.startswith("postmortem")
            else "every action item needs an owner and a due date"
        )
        raise InvalidInput(
            f"{needs} before it is closed: line {first.line}: {first.message}{more}; "
            f"see `incidentctl check {first.path}`"
        )


def set_severity(
    repo: RepoBase,
    ref: str,
    severity: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """Escalate or downgrade."""
    from ..incident.model import parse_severity

    new = parse_severity(severity)
    note = clean_text(reason, "the reason") if reason else None
    now = now or utcnow()
    author = repo.author()

    def mutate(file: IncidentFile) -> str:
        old = validate(file).severity
        text, subject = severity_change(old, new, note)
        file.set_field("severity", new.value)
        file.add_entry(Entry(now, author, "severity", text))
        return subject

    return repo.change(ref, mutate, commit=commit, command="severity")


def severity_change(old: Severity, new: Severity, note: str | None) -> tuple[str, str]:
    """The timeline entry and the commit subject of a severity change."""
    if old == new:
        raise InvalidInput(f"the incident is already {new.value}")
    verb = "escalated" if new.level < old.level else "downgraded"
    text = f"Severity {old.value} → {new.value} ({verb})" + (f": {note}" if note else "")
    return text, f"severity {old.value} -> {new.value}"


def assign(
    repo: RepoBase,
    ref: str,
    *,
    commander: str | None = None,
    roles: dict[str, str] | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """Set the Incident Commander and other roles."""
    commander, cleaned = assignment(repo, commander, roles)
    now = now or utcnow()
    author = repo.author()

    def mutate(file: IncidentFile) -> str:
        incident = validate(file)
        changes, merged = role_changes(commander, cleaned, incident.commander, incident.roles)
        if commander is not None and commander != incident.commander:
            file.set_field("commander", commander)
        if merged != incident.roles:
            file.set_field("roles", merged)
        file.add_entry(Entry(now, author, "role", "Assigned " + ", ".join(changes)))
        return "assign " + one_line(", ".join(changes), 60)

    return repo.change(ref, mutate, commit=commit, command="assign")


def assignment(
    repo: RepoBase, commander: str | None, roles: dict[str, str] | None
) -> tuple[str | None, dict[str, str]]:
    """`assign`'s arguments checked: the commander and {role: name}, cleaned."""
    roles = dict(roles or {})
    if "commander" in roles:
        commander = commander or roles.pop("commander")
        roles.pop("commander", None)
    for role in roles:
        if role not in repo.config.roles:
            raise InvalidInput(
                f"unknown role {role!r}; use one of: {', '.join(repo.config.roles)} "
                "(or add it to `roles` in incidentctl.toml)"
            )
    cleaned = {
        role: clean_text(name, f"the {role}", max_len=200, one_line=True)
        for role, name in roles.items()
    }
    if commander is not None:
        commander = clean_text(commander, "the commander", max_len=200, one_line=True)
    if commander is None and not cleaned:
        raise InvalidInput("nothing to assign; give --commander NAME or --role ROLE=NAME")
    return commander, cleaned


def role_changes(
    commander: str | None, cleaned: dict[str, str], current: str | None, roles: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """What an assignment changes ("role=name" each) and the roles it leaves."""
    changes = []
    if commander is not None and commander != current:
        changes.append(f"commander={commander}")
    merged = dict(roles)
    for role, name in cleaned.items():
        if merged.get(role) != name:
            merged[role] = name
            changes.append(f"{role}={name}")
    if not changes:
        raise InvalidInput("those roles are already assigned; nothing changed")
    return changes, merged
