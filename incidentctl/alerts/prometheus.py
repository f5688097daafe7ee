"""Prometheus Alertmanager's webhook (version 4), and Grafana's, which has its shape.

A payload is a group of alerts (`groupKey`); each alert has its own `fingerprint` and
status. The group is the incident; the fingerprints are tracked inside it, so one
resolved alert out of three resolves nothing but itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .notice import (
    Member,
    Notice,
    PayloadError,
    clean,
    clean_block,
    mapping,
    status_word,
    texts,
    untagged,
    when,
)

SEVERITY_LABELS = ("severity", "priority", "urgency")
# Labels that say where, not what: left out of an alert's name when they are the same
# for the whole group (they are in commonLabels then).
_QUIET = ("alertname", "severity", "priority", "__alert_rule_uid__", "__alert_rule_namespace_uid__")


def read_alertmanager(payload: dict[str, Any]) -> Notice:
    return _read(payload, "alertmanager", str(payload.get("groupKey") or ""))


def read_grafana(payload: dict[str, Any]) -> Notice:
    org = payload.get("orgId")
    key = str(payload.get("groupKey") or "")
    notice = _read(payload, "grafana", f"{org}/{key}" if org is not None and key else key)
    if notice.title == "grafana alert group":  # no summary, no alertname: Grafana's title
        notice.title = untagged(clean(payload.get("title"))) or notice.title
    notice.summary = notice.summary or clean_block(payload.get("message"))
    return notice


def _read(payload: dict[str, Any], fmt: str, key: str) -> Notice:
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError(f"the {fmt} payload has no `alerts` list")
    alerts = [a for a in raw_alerts if isinstance(a, dict)]
    common = texts(payload.get("commonLabels"))
    group = texts(payload.get("groupLabels"))
    notes = texts(payload.get("commonAnnotations"))
    members = [_member(alert, common) for alert in alerts]
    first_labels = texts(alerts[0].get("labels")) if alerts else {}
    first_notes = texts(alerts[0].get("annotations")) if alerts else {}
    name = group.get("alertname") or common.get("alertname") or first_labels.get("alertname")
    services = list(
        dict.fromkeys(
            s for a in alerts if (s := texts(a.get("labels")).get("service")) and len(s) <= 100
        )
    )[:10]
    if notes.get("summary"):
        title = notes["summary"]
    elif name:
        where = f" on {', '.join(services[:3])}" if services else ""
        more = f" and {len(services) - 3} more" if len(services) > 3 else ""
        title = f"{name}{where}{more}"
    else:
        title = first_notes.get("summary") or f"{fmt} alert group"
    severity = next((common[k] for k in SEVERITY_LABELS if common.get(k)), None) or next(
        (first_labels[k] for k in SEVERITY_LABELS if first_labels.get(k)), None
    )
    starts = [m.starts_at for m in members if m.starts_at is not None]
    truncated = payload.get("truncatedAlerts")
    return Notice(
        format=fmt,
        key=key,
        status=status_word(payload.get("status")),
        event=clean(payload.get("notification_reason") or payload.get("status"), 60),
        title=title,
        severity=severity,
        type=common.get("incident_type") or common.get("type"),
        environment=common.get("environment") or common.get("env"),
        services=services,
        links=_links(payload, alerts, notes or first_notes),
        started_at=min(starts) if starts else None,
        members=members,
        truncated=truncated if isinstance(truncated, int) and truncated > 0 else 0,
        summary=clean_block(notes.get("description"))
        or (clean_block(first_notes.get("description")) if len(alerts) == 1 else None),
        alert_summaries=[
            text
            for a in alerts
            if (text := clean(mapping(a.get("annotations")).get("summary"), 200))
        ]
        if len(alerts) > 1
        else [],
        payload=payload,
    )


def _member(alert: dict[str, Any], common: dict[str, str]) -> Member:
    labels = texts(alert.get("labels"))
    fingerprint = clean(alert.get("fingerprint"), 64)
    if not fingerprint:  # an older sender: the labels identify the alert
        joined = "\n".join(f"{k}={v}" for k, v in sorted(labels.items()))
        fingerprint = hashlib.sha256(joined.encode()).hexdigest()[:16]
    own = [f"{k}={v}" for k, v in sorted(labels.items()) if k not in common and k not in _QUIET]
    name = labels.get("alertname") or "alert"
    return Member(
        fingerprint=fingerprint,
        status=status_word(alert.get("status")),
        name=clean(f"{name} ({', '.join(own)})" if own else name, 200),
        starts_at=when(alert.get("startsAt")),
        ends_at=when(alert.get("endsAt")),
    )


def _links(
    payload: dict[str, Any], alerts: list[dict[str, Any]], notes: dict[str, str]
) -> dict[str, str]:
    links: dict[str, str] = {}
    first = alerts[0] if alerts else {}
    for name, value in (
        ("source", first.get("generatorURL")),
        ("runbook", notes.get("runbook_url") or notes.get("runbook")),
        ("dashboard", first.get("dashboardURL") or notes.get("dashboard_url")),
        ("panel", first.get("panelURL")),
        ("silence", first.get("silenceURL")),
        ("alertmanager", payload.get("externalURL")),
    ):
        url = clean(value, 2000)
        if url.startswith(("http://", "https://")):
            links[name] = url
    return links
