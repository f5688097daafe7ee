"""PagerDuty's V3 webhooks: one PagerDuty incident per payload, keyed by its incident_key."""

from __future__ import annotations

from typing import Any

from .notice import (
    ACKNOWLEDGED,
    FIRING,
    OTHER,
    RESOLVED,
    Member,
    Notice,
    PayloadError,
    clean,
    mapping,
    untagged,
    when,
)

_STATUS = {
    "incident.triggered": FIRING,
    "incident.reopened": FIRING,
    "incident.resolved": RESOLVED,
    "incident.acknowledged": ACKNOWLEDGED,
}


def read(payload: dict[str, Any]) -> Notice:
    event = mapping(payload.get("event"))
    data = mapping(event.get("data"))
    if not data:
        raise PayloadError("the pagerduty payload has no `event.data`")
    kind = clean(event.get("event_type"), 60)
    ident = clean(data.get("id"), 100)
    key = clean(data.get("incident_key"), 300) or ident
    status = _STATUS.get(kind, OTHER)
    priority = mapping(data.get("priority")).get("summary")
    service = clean(mapping(data.get("service")).get("summary"), 100)
    links = {}
    for name, value in (
        ("pagerduty", data.get("html_url")),
        ("bridge", mapping(data.get("conference_bridge")).get("conference_url")),
    ):
        url = clean(value, 2000)
        if url.startswith(("http://", "https://")):
            links[name] = url
    agent = mapping(event.get("agent"))
    actor = clean(agent.get("summary"), 200) if agent.get("type") == "user_reference" else None
    number = data.get("number")
    title = untagged(clean(data.get("title"))) or f"PagerDuty incident {number or ident}"
    member_status = RESOLVED if status == RESOLVED else FIRING
    return Notice(
        format="pagerduty",
        key=key,
        status=status,
        event=kind,
        title=title,
        severity=clean(priority, 40) if priority else clean(data.get("urgency"), 40) or None,
        services=[service] if service else [],
        links=links,
        started_at=when(data.get("created_at")),
        members=[Member(ident or key, member_status, f"PagerDuty #{number or ident}")],
        actor=actor or None,
        payload=payload,
    )
