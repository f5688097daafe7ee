"""The incident vocabulary: severities, statuses, types and the rules between them.

Kept free of pydantic so that the commands on a responder's hot path (`log`,
reading the config) do not pay for importing it; model.py builds on it.
"""

from __future__ import annotations

from enum import Enum

from ..errors import InvalidInput

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from datetime import datetime

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
TITLE_MAX = 200


class Severity(str, Enum):
    SEV1 = "SEV-1"
    SEV2 = "SEV-2"
    SEV3 = "SEV-3"
    SEV4 = "SEV-4"

    @property
    def level(self) -> int:
        return int(self.value[-1])


class Status(str, Enum):
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class IncidentType(str, Enum):
    OUTAGE = "outage"
    SECURITY = "security"
    PERFORMANCE = "performance"
    DATA = "data"
    INTEGRATION = "integration"


class Environment(str, Enum):
    PRODUCTION = "production"
    STAGING = "staging"
    DEVELOPMENT = "development"


class Visibility(str, Enum):
    INTERNAL = "internal"
    PUBLIC = "public"
    RESTRICTED = "restricted"


class ActionStatus(str, Enum):
    OPEN = "open"
    DONE = "done"


# The lifecycle in order; `cancelled` stands outside it.
LIFECYCLE = [
    Status.TRIAGE,
    Status.INVESTIGATING,
    Status.IDENTIFIED,
    Status.MONITORING,
    Status.RESOLVED,
    Status.CLOSED,
]
ACTIVE = frozenset(LIFECYCLE[:4])


def parse_severity(text: str) -> Severity:
    """Accept SEV-1, SEV1, sev1, 1, P0..P3 (P0 = SEV-1), critical/high/medium/low."""
    from .config import severity_name

    return Severity(severity_name(text))


def parse_status(text: str) -> Status:
    try:
        return Status(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise InvalidInput(f"unknown status {text!r}; use one of: {names}") from None


def check_transition(old: Status, new: Status) -> str:
    """Return the kind of move (forward, reopen, cancel) or raise if it is not allowed.

    Any forward move is allowed (skipping is fine); from resolved back to an active
    status is a reopen; closed and cancelled are final.
    """
    if old == new:
        raise InvalidInput(f"the incident is already {old.value}")
    if old in (Status.CLOSED, Status.CANCELLED):
        raise InvalidInput(
            f"the incident is {old.value}; a {old.value} incident does not change status "
            "(open a new incident instead)"
        )
    if new == Status.CANCELLED:
        if old == Status.RESOLVED:
            raise InvalidInput("a resolved incident cannot be cancelled; close it instead")
        return "cancel"
    if LIFECYCLE.index(new) > LIFECYCLE.index(old):
        return "forward"
    if old == Status.RESOLVED and new in ACTIVE:
        return "reopen"
    raise InvalidInput(
        f"cannot move from {old.value} back to {new.value}; "
        "only a resolved incident can be reopened"
    )


# Which lifecycle timestamp each status sets when it is first reached.
STATUS_TIMESTAMP = {
    Status.INVESTIGATING: "acknowledged_at",
    Status.IDENTIFIED: "acknowledged_at",
    Status.MONITORING: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}
TIMESTAMP_ORDER = ["opened_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"]


def lifecycle_stamps(
    move: str, new: Status, times: dict[str, datetime | None], when: datetime
) -> dict[str, datetime | None]:
    """The lifecycle timestamps a move (`check_transition`'s kind) to `new` at `when`
    sets, None for one it clears; `times`: the incident's, by TIMESTAMP_ORDER key.

    Reaching a later status implies the earlier milestones happened: each one still
    empty is stamped too. A reopen clears `resolved_at`. A `when` before a milestone
    already stamped is refused.
    """
    from .timeutil import format_ts

    stamps: dict[str, datetime | None] = {}
    if move == "reopen":
        stamps["resolved_at"] = None
    elif move == "forward":
        target = STATUS_TIMESTAMP.get(new)
        if target:
            upto = TIMESTAMP_ORDER.index(target)
            for key in TIMESTAMP_ORDER[1 : upto + 1]:
                if times[key] is None:
                    stamps[key] = when
    previous = [
        value for key in TIMESTAMP_ORDER if (value := times[key]) is not None and key not in stamps
    ]
    latest = max(previous) if previous else None
    if stamps and latest is not None and when < latest:
        raise InvalidInput(
            f"--at {format_ts(when)} is before an earlier milestone ({format_ts(latest)})"
        )
    return stamps
