"""The rows the reading commands return (`list`, `action list`, `history`, `sync`).

Kept apart from store.py so that the changing commands, `log` above all, do not
import typing to build them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

from ..incident.timeutil import format_ts


class Summary(NamedTuple):
    """One row of `list`."""

    id: str
    title: str
    status: str
    severity: str
    opened_at: datetime
    resolved_at: datetime | None
    path: str
    commander: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "opened_at": format_ts(self.opened_at),
            "resolved_at": format_ts(self.resolved_at) if self.resolved_at else None,
            "path": self.path,
            "commander": self.commander,
        }


class SyncResult(NamedTuple):
    """What `sync` did."""

    remote: str
    branch: str
    pushed: int  # commits pushed (0: already up to date)
    attempts: int
    pulled: int  # commits taken from the remote
    renumbered: list[tuple[str, str]]  # (old ID, new ID) of incidents renumbered


class ActionRow(NamedTuple):
    """One row of `action list`."""

    incident: str
    path: str
    id: str
    title: str
    owner: str | None
    due: date | None
    status: str
    issue: str | None
    overdue: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "path": self.path,
            "id": self.id,
            "title": self.title,
            "owner": self.owner,
            "due": self.due.isoformat() if self.due else None,
            "status": self.status,
            "issue": self.issue,
            "overdue": self.overdue,
        }


class Commit(NamedTuple):
    sha: str
    author: str
    email: str
    at: datetime
    subject: str
