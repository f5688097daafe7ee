"""The incident front matter as pydantic models (the vocabulary is in vocab.py)."""

from __future__ import annotations

from datetime import date, timezone
from typing import Annotated, Any, Literal

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

from .vocab import (
    ACTIVE,
    ID_PATTERN,
    LIFECYCLE,
    STATUS_TIMESTAMP,
    TIMESTAMP_ORDER,
    TITLE_MAX,
    ActionStatus,
    Environment,
    IncidentType,
    Severity,
    Status,
    Visibility,
    check_transition,
    parse_severity,
    parse_status,
)


def _utc(value: Any) -> Any:
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # year 1 at +01:00: no such time in UTC
        raise ValueError("is out of range in UTC") from None


Timestamp = Annotated[AwareDatetime, AfterValidator(_utc)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class ActionItem(BaseModel):
    """A follow-up from the incident: owned, dated, tracked until done."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[StrictStr, Field(pattern=r"^AI-[1-9][0-9]*$")]
    title: Annotated[StrictStr, Field(min_length=1, max_length=TITLE_MAX)]
    owner: Name | None = None
    due: date | None = None
    status: ActionStatus = ActionStatus.OPEN
    issue: StrictStr | None = None  # the ticket's web URL (GitHub, Jira or GitLab)
    ticket: StrictStr | None = None  # the ticket's key: "#12", "OPS-7", "group/project#3"


class Source(BaseModel):
    """How the incident was opened: by hand (`kind: manual`) or by an alert (`kind: alert`).

    For an alert: its format, its de-duplication key and `ref` (a short hash of format
    and key that later payloads are matched by), the state of each alert of its group
    by fingerprint, links, how many payloads arrived, the incident it recurs, and the
    first payload (redacted, bounded).
    """

    model_config = ConfigDict(extra="allow")

    kind: StrictStr
    format: StrictStr | None = None
    key: StrictStr | None = None
    ref: StrictStr | None = None
    url: StrictStr | None = None
    alerts: dict[StrictStr, Literal["firing", "resolved"]] = {}
    links: dict[StrictStr, StrictStr] = {}
    received: Annotated[int, Field(ge=0)] = 0
    last_at: Timestamp | None = None
    recurrence_of: StrictStr | None = None
    payload: dict[str, Any] | None = None


class WarRoom(BaseModel):
    """The chat channel opened for the incident."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    url: StrictStr = ""


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
    # Communication (comms/): the war room opened for the incident, and for incidents
    # touching personal data the regulator's notification (GDPR asks for 72 hours).
    war_room: WarRoom | None = None
    personal_data: bool = False
    regulator_notified_at: Timestamp | None = None

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


# The vocabulary is re-exported: `from incidentctl.model import Severity` keeps working.
__all__ = [
    "ACTIVE",
    "ID_PATTERN",
    "LIFECYCLE",
    "STATUS_TIMESTAMP",
    "TIMESTAMP_ORDER",
    "TITLE_MAX",
    "ActionItem",
    "ActionStatus",
    "Environment",
    "Incident",
    "IncidentType",
    "Severity",
    "Source",
    "Status",
    "Timestamp",
    "Visibility",
    "WarRoom",
    "check_transition",
    "parse_severity",
    "parse_status",
    "schema",
]
