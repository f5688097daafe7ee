"""The incident front matter as pydantic models, and the vocabulary around it."""

from __future__ import annotations

import re
from datetime import date, timezone
from enum import Enum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
    model_validator,
)

from .errors import InvalidInput

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

_SEVERITY_ALIASES = {
    "critical": 1,
    "high": 2,
    "medium": 3,
    "low": 4,
}


def parse_severity(text: str) -> Severity:
    """Accept SEV-1, SEV1, sev1, 1, P0..P3 (P0 = SEV-1), critical/high/medium/low."""
    raw = str(text).strip().lower()
    level: int | None = None
    match = re.fullmatch(r"(?:sev-?)?([1-4])", raw)
    if match:
        level = int(match.group(1))
    elif re.fullmatch(r"p[0-3]", raw):
        level = int(raw[1]) + 1
    elif raw in _SEVERITY_ALIASES:
        level = _SEVERITY_ALIASES[raw]
    if level is None:
        raise InvalidInput(
            f"unknown severity {text!r}; use SEV-1..SEV-4, 1..4, P0..P3 or critical/high/medium/low"
        )
    return Severity(f"SEV-{level}")


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


Timestamp = Annotated[AwareDatetime, AfterValidator(lambda v: v.astimezone(timezone.utc))]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class ActionItem(BaseModel):
    """A follow-up from the incident: owned, dated, tracked until done."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[StrictStr, Field(pattern=r"^AI-[1-9][0-9]*$")]
    title: Annotated[StrictStr, Field(min_length=1, max_length=TITLE_MAX)]
    owner: Name | None = None
    due: date | None = None
    status: ActionStatus = ActionStatus.OPEN
    issue: StrictStr | None = None


class Source(BaseModel):
    """Where an alert-opened incident came from."""

    model_config = ConfigDict(extra="allow")

    kind: StrictStr
    key: StrictStr | None = None
    url: StrictStr | None = None


class Incident(BaseModel):
    """The front matter of one incident file."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    id: Annotated[StrictStr, Field(pattern=ID_PATTERN)]
    title: Annotated[StrictStr, Field(min_length=1, max_length=TITLE_MAX)]
    status: Status
    severity: Severity
    type: IncidentType = IncidentType.OUTAGE
    environment: Environment = Environment.PRODUCTION
    services: list[Annotated[StrictStr, Field(min_length=1, max_length=100)]] = []
    commander: Name | None = None
    roles: dict[StrictStr, Name] = {}
    visibility: Visibility = Visibility.INTERNAL
    detected_at: Timestamp | None = None
    started_at: Timestamp | None = None
    opened_at: Timestamp
    acknowledged_at: Timestamp | None = None
    mitigated_at: Timestamp | None = None
    resolved_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    action_items: list[ActionItem] = []
    source: Source | None = None

    @model_validator(mode="before")
    @classmethod
    def _custom_keys(cls, data: Any) -> Any:
        # Teams may keep their own keys under an `x-` / `x_` prefix; anything else
        # unknown is most likely a typo and is refused.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith(("x-", "x_"))}
        return data

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n"):
            raise ValueError("must be a single line")
        return value

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def schema() -> dict[str, Any]:
    """The JSON Schema of the front matter, as `incidentctl schema` prints it."""
    result = Incident.model_json_schema(mode="validation")
    result["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    result["patternProperties"] = {"^x[-_]": {}}
    return result
