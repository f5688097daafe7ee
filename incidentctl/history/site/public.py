"""The public status page's data: only what is meant for the public, in Statuspage's words.

What goes out: incidents with `visibility: public` (never internal, restricted or
cancelled ones), their title, affected services, severity as Statuspage's impact, the
status as Statuspage's incident status, the lifecycle times, and the timeline entries
marked for the public (kind `public` or `comms`) as text with their time: never
another entry, an author, the commander or a role, an action item, the post-mortem,
the alert source or its payload. Maintenance windows go out when `visibility: public`.

The text that goes out is written for the public, but it is checked anyway: links
(other than to the site itself), e-mail addresses and the names of the people in any
incident (commanders, roles, timeline authors, action item owners) are replaced by
`[link hidden]`, `[email hidden]`, `[name hidden]`.

Everything here is plain data built from the records before any template sees it: a
template (even a repository's override) cannot reach what was left out.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from ...incident.timeutil import format_ts

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from ...repo.maintenance import Window
    from ...repo.records import IncidentRecord

# Only what a responder logged for the public: `comms` entries record the notices
# sent to internal groups (comms/notify.py) and name channels and groups.
PUBLIC_KINDS = frozenset({"public"})
DAYS = 90
# Statuspage's incident statuses, impacts and component statuses.
STATUS = {
    "triage": "investigating",
    "investigating": "investigating",
    "identified": "identified",
    "monitoring": "monitoring",
    "resolved": "resolved",
    "closed": "resolved",
}
IMPACT = {"SEV-1": "critical", "SEV-2": "major", "SEV-3": "minor", "SEV-4": "minor"}
COMPONENT = {"critical": "major_outage", "major": "partial_outage", "minor": "degraded_performance"}
RANK = {
    "operational": 0,
    "under_maintenance": 1,
    "degraded_performance": 2,
    "partial_outage": 3,
    "major_outage": 4,
}
INDICATOR = {  # the page's overall status, from its worst component
    "operational": ("none", "All Systems Operational"),
    "under_maintenance": ("maintenance", "Service Under Maintenance"),
    "degraded_performance": ("minor", "Minor Service Outage"),
    "partial_outage": ("major", "Partial System Outage"),
    "major_outage": ("critical", "Major System Outage"),
}
STOCK = {  # an update the page shows where the team posted none
    "investigating": "We are investigating this issue.",
    "resolved": "This incident has been resolved.",
}
_STATUS_ENTRY = re.compile(r"Status (\w+) → (\w+)")
_URL = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]{0,30}://|\bwww\.)[^\s<>\"'`]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class Redactor:
    """Public text with links, e-mail addresses and people's names taken out."""

    def __init__(self, names: Iterable[str], site_url: str | None = None):
        self.site_url = site_url.rstrip("/") + "/" if site_url else None
        full: set[str] = set()
        parts: set[str] = set()
        for name in names:
            name = " ".join(str(name).split())
            if len(name) >= 3:
                full.add(name)
            parts.update(w for w in name.split() if len(w) >= 3 and w[:1].isupper())
        self._full = _alternation(full, re.IGNORECASE)
        self._parts = _alternation(parts - full, 0)

    def __call__(self, text: str) -> str:
        text = _URL.sub(self._link, text)
        text = _EMAIL.sub("[email hidden]", text)
        for pattern in (self._full, self._parts):
            if pattern is not None:
                text = pattern.sub("[name hidden]", text)
        return text

    def _link(self, match: re.Match[str]) -> str:
        url = match.group(0)
        if self.site_url and (url + "/").startswith(self.site_url):
            return url
        return "[link hidden]"


def _alternation(words: set[str], flags: int) -> re.Pattern[str] | None:
    if not words:
        return None
    ordered = sorted(words, key=lambda w: (-len(w), w))
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered)) + r")(?!\w)", flags)


def people(records: Iterable[IncidentRecord]) -> set[str]:
    """Every person named in any incident: commanders, roles, authors, owners."""
    names: set[str] = set()
    for record in records:
        data = record.data
        names.add(data.get("commander") or "")
        roles = data.get("roles")
        if roles:
            names.update(map(str, roles.values()))
        for item in data.get("action_items") or ():
            names.add(str(item.get("owner") or ""))
        if record.timeline:
            names.update([entry["author"] for entry in record.timeline])
    names.discard("")
    return names


def is_public(record: IncidentRecord) -> bool:
    return record.data.get("visibility") == "public" and record.data["status"] in STATUS


def status_data(
    records: Sequence[IncidentRecord],
    windows: Sequence[Window],
    *,
    now: datetime,
    title: str,
    site_url: str | None,
) -> dict[str, Any]:
    """Everything the status pages, status.json and feed.xml show (plain data)."""
    redact = Redactor(people(records), site_url)
    incidents = [_incident(r, redact) for r in records if is_public(r)]
    incidents.sort(key=lambda i: (i["created_at"], i["id"]), reverse=True)
    shown = [w for w in windows if w.visibility == "public" and w.status != "cancelled"]
    maintenance = [_window(w, redact, now) for w in shown]
    services = sorted(
        {s for i in incidents for s in i["components"]}
        | {s for m in maintenance for s in m["components"]},
        key=str.casefold,
    )
    today = now.date()
    first_day = today - timedelta(days=DAYS - 1)
    since = format_ts(datetime(first_day.year, first_day.month, first_day.day, tzinfo=timezone.utc))
    active = [i for i in incidents if i["status"] != "resolved"]
    components = [_component(s, incidents, maintenance, now, first_day) for s in services]
    worst = max((c["status"] for c in components), key=RANK.__getitem__, default="operational")
    indicator, description = INDICATOR[worst]
    return {
        "title": title,
        "site_url": site_url,
        "now": format_ts(now),
        "indicator": indicator,
        "description": description,
        "components": components,
        "active": active,
        "recent": [i for i in incidents if (i["ended_at"] or "") >= since],
        "incidents": incidents,
        "in_progress": [m for m in maintenance if m["status"] == "in_progress"],
        "scheduled": sorted(
            (m for m in maintenance if m["status"] == "scheduled"), key=lambda m: m["start"]
        ),
        "completed": [m for m in maintenance if m["status"] == "completed" and m["end"] >= since],
        "maintenance": maintenance,
        "days": DAYS,
    }


def _incident(record: IncidentRecord, redact: Redactor) -> dict[str, Any]:
    data = record.data
    timeline = record.timeline or []
    # Each public entry carries the status in force when it was written: the last
    # status entry before it in the timeline (which is in time order).
    current = "investigating"
    updates = []
    for entry in timeline:
        if entry["kind"] == "status" and (match := _STATUS_ENTRY.match(entry["text"])):
            current = STATUS.get(match.group(2), current)
        elif entry["kind"] in PUBLIC_KINDS:
            updates.append({"at": entry["at"], "status": current, "body": redact(entry["text"])})
    opened = data["opened_at"]
    status = STATUS[data["status"]]
    resolved = data.get("resolved_at") or (data.get("closed_at") if status == "resolved" else None)
    if not updates:
        updates.append({"at": opened, "status": "investigating", "body": STOCK["investigating"]})
    if status == "resolved" and resolved and not any(u["at"] >= resolved for u in updates):
        updates.append({"at": resolved, "status": "resolved", "body": STOCK["resolved"]})
    if status == "resolved":
        for update in updates:
            if resolved and update["at"] >= resolved:
                update["status"] = "resolved"
    updates.reverse()  # newest first
    impact = IMPACT[data["severity"]]
    began = data.get("started_at") or data.get("detected_at") or opened
    return {
        "id": data["id"],
        "href": f"incidents/{data['id']}.html",
        "name": redact(data["title"]),
        "status": status,
        "impact": impact,
        "components": sorted(set(data.get("services") or []), key=str.casefold),
        "component_status": "degraded_performance" if status == "monitoring" else COMPONENT[impact],
        "created_at": opened,
        "started_at": began,
        "monitoring_at": data.get("mitigated_at"),
        "resolved_at": resolved if status == "resolved" else None,
        "ended_at": resolved if status == "resolved" else None,  # None: still going
        "updated_at": updates[0]["at"],
        "updates": updates,
    }


def _window(window: Window, redact: Redactor, now: datetime) -> dict[str, Any]:
    return {
        "id": window.id,
        "name": redact(window.title),
        "status": window.state(now),
        "components": sorted(set(window.services), key=str.casefold),
        "start": format_ts(window.start),
        "end": format_ts(window.end),
        "description": redact(window.description) if window.description else "",
        "created_at": format_ts(window.created_at)
        if window.created_at
        else format_ts(window.start),
    }


def _component(
    name: str,
    incidents: list[dict[str, Any]],
    maintenance: list[dict[str, Any]],
    now: datetime,
    first_day: date,
) -> dict[str, Any]:
    """A service's status now, and its worst status on each of the last DAYS days."""
    since = f"{first_day.isoformat()}T00:00:00Z"
    mine = [i for i in incidents if name in i["components"]]
    works = [m for m in maintenance if name in m["components"]]
    status = "operational"
    for incident in mine:
        if incident["status"] != "resolved":
            status = max(status, incident["component_status"], key=RANK.__getitem__)
    if status == "operational" and any(m["status"] == "in_progress" for m in works):
        status = "under_maintenance"
    until = format_ts(now)
    mine = [i for i in mine if (i["ended_at"] or until) >= since]
    works = [m for m in works if m["end"] >= since]
    days = []
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        start = f"{day.isoformat()}T00:00:00Z"
        end = f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
        worst, ids = "operational", []
        for incident in mine:
            if incident["started_at"] < end and (incident["ended_at"] or until) >= start:
                ids.append(incident["id"])
                worst = max(worst, COMPONENT[incident["impact"]], key=RANK.__getitem__)
        if worst == "operational" and any(m["start"] < end and m["end"] > start for m in works):
            worst = "under_maintenance"
        days.append({"date": day.isoformat(), "status": worst, "incidents": ids})
    return {
        "name": name,
        "id": _slug(name),
        "status": status,
        "days": days,
        "incident_days": sum(1 for d in days if d["incidents"]),
    }


def days_svg(component: dict[str, Any], labels: dict[str, str]) -> str:
    """A service's last DAYS days as one bar each, coloured by its worst status (CSS
    classes), with a tooltip: written here rather than in the template, which took a
    tenth of a second for a few dozen services."""
    from html import escape

    name = escape(component["name"])
    out = [
        f'<svg class="days" viewBox="0 0 {DAYS * 5} 34" preserveAspectRatio="none" '
        f'role="img" aria-label="{name}: the last {DAYS} days">'
    ]
    for index, day in enumerate(component["days"]):
        tip = f"{day['date']}: {labels[day['status']]}"
        if day["incidents"]:
            tip += f" ({', '.join(day['incidents'])})"
        out.append(
            f'<rect class="day-{day["status"]}" x="{index * 5}" y="0" width="4" height="34">'
            f"<title>{escape(tip)}</title></rect>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "component"
