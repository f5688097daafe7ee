"""Follow-up: the `update-due` and `action-overdue` rules, fired for what is overdue.

`incidentctl due --fire`, `serve` (every minute) and the scheduled workflow call
`fire`. Each firing leaves a `note` entry on the incident's timeline naming what it
fired for, and that entry is how a second run knows not to fire again, in this clone
or any other (the scheduled workflow runs in a fresh clone each time):

- `update-due` once per missed update: the note names the time the update was due.
  A notice the rules send is a `comms` entry, which moves the next update on; a
  notice that could not be sent waits in the outbox and is not queued twice.
- `action-overdue` once per open, overdue action item per day (UTC).

Nothing fires for an incident the rules do nothing for on that event, so an
incident with no such rule gets no note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ..errors import IncidentctlError
from ..incident.timeutil import format_ts, utcnow
from ..repo.incidents import IncidentRepo
from .due import Due, overdue
from .notify import plan, run_event
from .settings import Settings

EVENTS = {"update": "update-due", "action": "action-overdue"}


@dataclass(frozen=True)
class Fired:
    id: str
    event: str
    marker: str  # the note recorded
    outcomes: tuple[str, ...]
    failed: tuple[str, ...]

    def lines(self) -> list[str]:
        return [f"{self.id}: {self.marker}", *(f"{self.id}:   {o}" for o in self.outcomes)]


def marker(item: Due, now: datetime) -> str:
    """The note a firing for `item` leaves (and looks for)."""
    if item.what == "update":
        return f"Rules for update-due fired (the update was due {format_ts(item.due_at)})"
    action = item.detail.split(":", 1)[0]
    return f"Rules for action-overdue fired for {action} ({now.date().isoformat()})"


def fire(
    repo: IncidentRepo,
    settings: Settings,
    *,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
    found: list[Due] | None = None,
) -> list[Fired]:
    """Fire the rules for every overdue update and action item not fired for yet."""
    from ..repo.records import front_matter

    now = now or utcnow()
    fired: list[Fired] = []
    items = overdue(repo, settings, now=now) if found is None else found
    for item in items:
        event = EVENTS.get(item.what)
        if event is None:
            continue
        note = marker(item, now)
        try:
            file, data = front_matter(repo, *_paths(repo, item.id))
            if any(entry.text == note for entry in file.timeline()):
                continue
            if not [s for s in plan(settings, data, event) if not s.skipped]:
                continue
            report = run_event(repo, settings, item.id, event, env=env, now=now, note=note)
        except IncidentctlError as exc:
            fired.append(Fired(item.id, event, note, (), (exc.message,)))
            continue
        fired.append(Fired(item.id, event, note, tuple(report.outcomes[1:]), tuple(report.failed)))
    return fired


def _paths(repo: IncidentRepo, ident: str) -> tuple[str, str]:
    _, path = repo.resolve(ident)
    return repo.rel(path), str(path)
