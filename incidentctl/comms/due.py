"""What is overdue: stakeholder updates, post-mortems, action items, regulator notices.

- update: an active incident whose last stakeholder update (a `comms` or `public`
  entry, else its opening) is older than its severity's `update_every`;
- postmortem: a resolved or closed incident whose severity asks for a post-mortem
  that `check` does not pass yet, more than `[comms] postmortem_due_days` business
  days (Monday to Friday) after `resolved_at`;
- action: an open action item whose `due` date has passed;
- regulator: an incident with `personal_data: true` and no `regulator_notified_at`,
  more than `[comms] regulator_deadline` (72 hours) after it was detected, else opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..incident.timeutil import format_ts, parse_time
from ..repo.incidents import IncidentRepo
from . import messages
from .settings import Settings

ACTIVE = ("triage", "investigating", "identified", "monitoring")


@dataclass(frozen=True)
class Due:
    id: str
    what: str  # update, postmortem, action, regulator
    due_at: datetime
    overdue_by: timedelta
    detail: str  # what exactly: the action item, the severity's cadence

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "what": self.what,
            "due_at": format_ts(self.due_at),
            "overdue_by": int(self.overdue_by.total_seconds()),
            "detail": self.detail,
        }


def business_days_after(moment: datetime, days: int) -> datetime:
    """`days` working days (Monday to Friday) after `moment`, at the same time of day."""
    current = moment
    left = days
    while left:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def overdue(
    repo: IncidentRepo, settings: Settings, *, now: datetime, warn: Any = None
) -> list[Due]:
    """Everything overdue now, most overdue first."""
    found: list[Due] = []
    needs_check: list[tuple[str, dict[str, Any]]] = []
    for record in repo.records(warn, timelines=True):
        data, timeline = record.data, record.timeline or []
        status = data["status"]
        if status in ACTIVE:
            late = messages.overdue_by(repo.config, data, timeline, now)
            if late is not None:
                every = repo.config.severities[data["severity"]].update_every
                found.append(
                    Due(
                        data["id"], "update", now - late, late, f"{data['severity']}: every {every}"
                    )
                )
        if status in ("resolved", "closed") and data.get("resolved_at"):
            policy = repo.config.severities[data["severity"]]
            due_at = business_days_after(
                parse_time(data["resolved_at"]), settings.postmortem_due_days
            )
            if policy.postmortem and due_at <= now:
                needs_check.append((record.path, data))
        for item in data.get("action_items") or ():
            if item.get("status") == "open" and item.get("due"):
                due_day = date.fromisoformat(item["due"])
                due_at = datetime(
                    due_day.year, due_day.month, due_day.day, tzinfo=now.tzinfo
                ) + timedelta(days=1)
                if due_at <= now:
                    found.append(
                        Due(
                            data["id"],
                            "action",
                            due_at,
                            now - due_at,
                            f"{item['id']}: {item['title']}",
                        )
                    )
        if (
            data.get("personal_data")
            and not data.get("regulator_notified_at")
            and status != "cancelled"
        ):
            start = parse_time(data.get("detected_at") or data["opened_at"])
            due_at = start + settings.regulator_deadline
            if due_at <= now:
                found.append(
                    Due(
                        data["id"],
                        "regulator",
                        due_at,
                        now - due_at,
                        "personal data: notify the regulator",
                    )
                )
    found += _postmortems(repo, settings, needs_check, now)
    found.sort(key=lambda d: d.overdue_by, reverse=True)
    return found


def _postmortems(
    repo: IncidentRepo,
    settings: Settings,
    candidates: list[tuple[str, dict[str, Any]]],
    now: datetime,
) -> list[Due]:
    """Of the incidents past their post-mortem date, those whose post-mortem fails `check`."""
    if not candidates:
        return []
    from ..incident.file import IncidentFile
    from ..incident.model import Incident
    from ..incident.rules import postmortem_problems

    out = []
    for rel, data in candidates:
        file = IncidentFile.read(repo.root / rel, rel, root=repo.git.top)
        incident = Incident.model_validate(data)
        resolved = incident.model_copy(update={"status": incident.status.__class__("resolved")})
        if postmortem_problems(repo.config, file, resolved):
            due_at = business_days_after(
                parse_time(data["resolved_at"]), settings.postmortem_due_days
            )
            out.append(
                Due(
                    data["id"],
                    "postmortem",
                    due_at,
                    now - due_at,
                    f"{data['severity']}: post-mortem not done",
                )
            )
    return out
