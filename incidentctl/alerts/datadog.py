"""Datadog webhooks, with the payload template given in the README."""

from __future__ import annotations

from typing import Any

from .notice import (
    FIRING,
    RESOLVED,
    Member,
    Notice,
    PayloadError,
    clean,
    clean_block,
    untagged,
    when,
)

_RESOLVED = ("recovered",)


def read(payload: dict[str, Any]) -> Notice:
    alert_id = clean(payload.get("alert_id"), 100)
    scope = clean(payload.get("scope"), 300)
    cycle = clean(payload.get("alert_cycle_key"), 300)
    key = cycle or (f"{alert_id}/{scope}" if alert_id else "")
    if not key:
        raise PayloadError("the datadog payload has neither `alert_cycle_key` nor `alert_id`")
    transition = clean(payload.get("transition") or payload.get("alert_transition"), 40)
    resolved = transition.lower() in _RESOLVED or str(payload.get("alert_type")) == "success"
    tags = _tags(payload.get("tags"))
    service = clean(payload.get("service"), 100) or tags.get("service", "")
    title = untagged(clean(payload.get("alert_title") or payload.get("event_title")))
    links = {}
    for name, value in (("datadog", payload.get("link")), ("snapshot", payload.get("snapshot"))):
        url = clean(value, 2000)
        if url.startswith(("http://", "https://")):
            links[name] = url
    status = RESOLVED if resolved else FIRING
    return Notice(
        format="datadog",
        key=key,
        status=status,
        event=transition or status,
        title=title or f"Datadog monitor {alert_id}",
        severity=clean(payload.get("priority"), 40) or None,
        environment=clean(payload.get("env"), 40) or tags.get("env") or None,
        services=[service] if service and len(service) <= 100 else [],
        links=links,
        started_at=when(payload.get("date")),
        members=[Member(f"{alert_id}/{scope}" if alert_id else key, status, title or alert_id)],
        summary=clean_block(payload.get("message")),
        payload=payload,
    )


def _tags(value: Any) -> dict[str, str]:
    """`env:prod,service:checkout` (or with ", ") as a map; tags without a value left out."""
    out: dict[str, str] = {}
    if isinstance(value, str):
        for tag in value.split(","):
            name, colon, rest = tag.strip().partition(":")
            if colon and name and name not in out:
                out[clean(name, 100)] = clean(rest, 100)
    return out
