"""What a notice says: the status update of our workflows, from the incident as it is now.

    [SEV-2] INC-20261124-hqpm update: Checkout API returning 500s
    Affected:     checkout, payments (production)
    Status:       investigating
    Being done:   Rolling back deploy 1234
    Next update:  2026-11-24T16:09Z (every 2h)
    Commander:    Alice Responder

The words come from `templates/comms/<stage>.txt.j2` (a repository's `templates/`
may override them), rendered in the sandbox with the incident as plain data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..incident.timeutil import format_ts, parse_duration
from .channels.base import Message

if TYPE_CHECKING:
    from ..incident.config import Config

DOING_KINDS = ("action", "decision", "status", "note", "public", "comms")


def next_update(config: Config, data: dict[str, Any], since: datetime) -> datetime | None:
    """When the next stakeholder update is due (None once the incident is resolved)."""
    if data["status"] in ("resolved", "closed", "cancelled"):
        return None
    every = parse_duration(config.severities[data["severity"]].update_every)
    return since + every


def build(
    config: Config,
    data: dict[str, Any],
    timeline: list[dict[str, str]],
    stage: str,
    *,
    now: datetime,
    root: Any = None,
    recipients: tuple[str, ...] = (),
    summary: str = "",
) -> Message:
    """The message of one stage for an incident (its front matter as JSON, its timeline)."""
    from ..incident.render import render

    doing = next((e["text"] for e in reversed(timeline) if e["kind"] in DOING_KINDS), "")
    due = next_update(config, data, now)
    policy = config.severities[data["severity"]]
    services = ", ".join(data.get("services") or ()) or "not yet known"
    fields = {
        "Affected": f"{services} ({data['environment']})",
        "Status": data["status"],
        "Being done": _short(doing) or "being assessed",
        "Next update": f"{format_ts(due)[:16]}Z (every {policy.update_every})"
        if due
        else "none: resolved",
        "Commander": data.get("commander") or "not yet named",
        "Incident": data["id"],
    }
    context = {
        "incident": data,
        "stage": stage,
        "fields": fields,
        "summary": summary,
        "doing": doing,
        "next_update": format_ts(due) if due else None,
    }
    text = render(f"comms/{stage if stage != 'war-room' else 'initial'}.txt.j2", context, root)
    return Message(
        incident_id=data["id"],
        stage=stage,
        title=data["title"],
        severity=data["severity"],
        status=data["status"],
        text=text.strip(),
        fields=fields,
        recipients=recipients,
    )


def _short(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def last_update(data: dict[str, Any], timeline: list[dict[str, str]]) -> datetime:
    """When stakeholders last heard: the newest `comms` or `public` entry, else opening."""
    from ..incident.timeutil import parse_time

    for entry in reversed(timeline):
        if entry["kind"] in ("comms", "public"):
            return parse_time(entry["at"])
    return parse_time(data["opened_at"])


def overdue_by(
    config: Config, data: dict[str, Any], timeline: list[dict[str, str]], now: datetime
) -> timedelta | None:
    """How late the next stakeholder update is (None when not due yet or not needed)."""
    due = next_update(config, data, last_update(data, timeline))
    if due is None or due > now:
        return None
    return now - due
