"""The rows the reading commands return (`list`, `action list`, `history`, `sync`).

Kept apart from store.py so that the changing commands, `log` above all, do not
import typing to build them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple


class Summary(NamedTuple):
    """One row of `list`; times as the files hold them (RFC 3339, UTC, `Z`)."""

    id: str
    title: str
    status: str
    severity: str
    opened_at: str
    resolved_at: str | None
    path: str
    commander: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
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
    ticket: str | None = None  # the tracker's key: "#12", "OPS-7", "group/project#3"

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
            "ticket": self.ticket,
            "overdue": self.overdue,
        }


class Commit(NamedTuple):
    sha: str
    author: str
    email: str
    at: datetime
    subject: str
