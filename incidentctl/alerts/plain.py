"""The plain payload of the team's own monitors: {source, spec_id, metric, value, slo, severity}."""

from __future__ import annotations

from typing import Any

from .notice import Member, Notice, PayloadError, clean, clean_block, status_word, when


def read(payload: dict[str, Any]) -> Notice:
    source = clean(payload.get("source"), 100)
    spec = clean(payload.get("spec_id"), 200)
    metric = clean(payload.get("metric"), 100)
    missing = [k for k, v in (("source", source), ("spec_id", spec), ("metric", metric)) if not v]
    if missing:
        raise PayloadError(f"the plain payload lacks {', '.join(missing)}")
    value, slo = payload.get("value"), payload.get("slo")
    title = f"{metric} on {spec}"
    if isinstance(value, (int, float)) and isinstance(slo, (int, float)) and _number(value):
        side = "above" if value > slo else "below"
        title = f"{metric} {_show(value)} {side} SLO {_show(slo)} on {spec}"
    elif _number(value):
        title = f"{metric} {_show(value)} on {spec}"
    key = f"{source}/{spec}/{metric}"
    status = status_word(payload.get("status", "firing"))
    url = clean(payload.get("url"), 2000)
    service = clean(payload.get("service"), 100)
    return Notice(
        format="plain",
        key=key,
        status=status,
        event=status,
        title=title,
        severity=clean(payload.get("severity"), 40) or None,
        type=clean(payload.get("type"), 40) or None,
        environment=clean(payload.get("environment"), 40) or None,
        services=[service] if service else [],
        links={"source": url} if url.startswith(("http://", "https://")) else {},
        started_at=when(payload.get("started_at")),
        members=[Member(key, status, f"{metric} on {spec}")],
        summary=clean_block(payload.get("summary") or payload.get("description")),
        payload=payload,
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
