"""Incident metrics, defined once: which timestamps, what is left out, how summarised.

Pure functions over front matters as JSON values (`IncidentRecord.data`): no
repository, no clock (`now` is passed in). The four durations, named by their two
timestamps every time (FIELD-NOTES.md, "Measuring incidents"):

    detect        started_at                  -> detected_at
    acknowledge   detected_at, else opened_at -> acknowledged_at
    mitigate      started_at, else detected_at -> mitigated_at
    resolve       started_at, else detected_at -> resolved_at

An incident is left out of a figure, and counted by why:

    cancelled  a cancelled incident is in no time metric
    open       one not yet resolved or closed is in neither mitigate nor resolve
    missing    a timestamp the metric needs is empty
    invalid    the end is before the start (a hand edit gone wrong)

A reopened incident is one file holding its final resolved_at: it counts once, with
that. Summaries give the count, the median (the middle value; the mean of the two
middle ones for an even count), p90 by the nearest-rank method (the ceil(0.9 n)-th
smallest value, a duration some incident really had) and the mean, in seconds. A
figure over fewer than FEW incidents has `few: True`: few incidents, do not compare.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

Data = dict[str, Any]
Durations = dict[str, float | str]  # metric name -> seconds, or why there are none

FEW = 10
FEW_TEXT = "few incidents: do not compare"
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")
STATUSES = (
    "triage",
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "closed",
    "cancelled",
)
TYPES = ("outage", "security", "performance", "data", "integration")
OPEN = frozenset(STATUSES[:4])
CANCELLED = "cancelled"
REASONS = ("missing", "invalid", "open", "cancelled")
NO_SERVICE = "(none)"


class Metric(NamedTuple):
    name: str
    label: str
    starts: tuple[str, ...]  # the first of these that is set is the start
    end: str
    ended_only: bool  # incidents still open are left out (counted as open)


METRICS = (
    Metric("detect", "time to detect", ("started_at",), "detected_at", False),
    Metric(
        "acknowledge", "time to acknowledge", ("detected_at", "opened_at"), "acknowledged_at", False
    ),
    Metric("mitigate", "time to mitigate", ("started_at", "detected_at"), "mitigated_at", True),
    Metric("resolve", "time to resolve", ("started_at", "detected_at"), "resolved_at", True),
)
_STAMPS = ("started_at", "detected_at", "opened_at", "acknowledged_at")


def parse_ts(value: object) -> datetime | None:
    """A front matter timestamp (`2026-11-24T14:09:30Z`) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:  # Python 3.10 takes only 3 or 6 digits of a second's fraction
        head, dot, rest = text.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        if not dot or not digits:
            return None
        padded = (digits + "000000")[:6]
        parsed = datetime.fromisoformat(f"{head}.{padded}{rest[len(digits) :]}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def durations(data: Data) -> Durations:
    """Each metric's duration for one incident, in seconds, or why it has none."""
    status = data.get("status")
    if status == CANCELLED:
        return dict.fromkeys((m.name for m in METRICS), CANCELLED)
    stamps: dict[str, datetime | None] = {}

    def at(key: str) -> datetime | None:
        if key not in stamps:
            stamps[key] = parse_ts(data.get(key))
        return stamps[key]

    out: Durations = {}
    for metric in METRICS:
        if metric.ended_only and status in OPEN:
            out[metric.name] = "open"
            continue
        end = at(metric.end)
        start = next((t for t in map(at, metric.starts) if t is not None), None)
        if end is None or start is None:
            out[metric.name] = "missing"
            continue
        seconds = (end - start).total_seconds()
        out[metric.name] = "invalid" if seconds < 0 else seconds
    return out


def summarise(values: Iterable[float]) -> dict[str, Any]:
    """count, median, p90 (nearest rank), mean (seconds, None without values), few."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return {"count": 0, "median": None, "p90": None, "mean": None, "few": True}
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    p90 = ordered[(9 * n + 9) // 10 - 1]  # rank ceil(0.9 n), in integers
    return {
        "count": n,
        "median": _seconds(median),
        "p90": _seconds(p90),
        "mean": _seconds(math.fsum(ordered) / n),
        "few": n < FEW,
    }


def measure(rows: Iterable[Durations], metric: Metric) -> dict[str, Any]:
    """One metric over many incidents' durations: its summary and who was left out."""
    values: list[float] = []
    left_out: Counter[str] = Counter()
    for row in rows:
        value = row[metric.name]
        if isinstance(value, str):
            left_out[value] += 1
        else:
            values.append(value)
    return {
        "label": metric.label,
        "from": list(metric.starts),
        "to": metric.end,
        **summarise(values),
        **{reason: left_out[reason] for reason in REASONS},
    }


def measure_all(rows: list[Durations]) -> dict[str, dict[str, Any]]:
    return {metric.name: measure(rows, metric) for metric in METRICS}


def opened(data: Data) -> datetime:
    """When the incident was opened (every valid incident has it)."""
    value = parse_ts(data.get("opened_at"))
    assert value is not None, data.get("id")
    return value.astimezone(timezone.utc)


def month_of(data: Data) -> str:
    """The UTC month the incident was opened, `YYYY-MM`."""
    return opened(data).strftime("%Y-%m")


def select(datas: Iterable[Data], since: date | None, until: date | None) -> list[Data]:
    """The incidents opened on or after `since` and before `until` (UTC days)."""
    start = _midnight(since) if since else None
    end = _midnight(until) if until else None
    chosen = []
    for data in datas:
        when = opened(data)
        if (start is None or when >= start) and (end is None or when < end):
            chosen.append(data)
    return chosen


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


GROUPINGS: dict[str, Callable[[Data], list[str]]] = {
    "severity": lambda data: [data["severity"]],
    "type": lambda data: [data.get("type") or "outage"],
    "service": lambda data: list(data.get("services") or [NO_SERVICE]),
    "month": lambda data: [month_of(data)],
}


def grouped(datas: list[Data], rows: list[Durations], by: str) -> dict[str, dict[str, Any]]:
    """The metrics per group: severity, type, service (an incident of two services is in
    both; one of none is in "(none)") or opening month; in a stable order."""
    members: dict[str, list[Durations]] = {}
    for data, row in zip(datas, rows):
        for key in GROUPINGS[by](data):
            members.setdefault(key, []).append(row)
    order = {"severity": SEVERITIES, "type": TYPES}.get(by, ())
    keys = sorted(members, key=lambda k: (order.index(k) if k in order else len(order), k))
    return {k: {"incidents": len(members[k]), "metrics": measure_all(members[k])} for k in keys}


def counts(datas: list[Data]) -> dict[str, dict[str, int]]:
    """Incidents by severity, status and type (every known value, zeros too) and by
    service (most incidents first)."""

    def tally(values: Iterable[str], known: tuple[str, ...]) -> dict[str, int]:
        found = Counter(values)
        return {**{k: found.pop(k, 0) for k in known}, **dict(sorted(found.items()))}

    services = Counter(s for data in datas for s in data.get("services") or [NO_SERVICE])
    return {
        "severity": tally((d["severity"] for d in datas), SEVERITIES),
        "status": tally((d["status"] for d in datas), STATUSES),
        "type": tally((d.get("type") or "outage" for d in datas), TYPES),
        "service": dict(sorted(services.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def response(datas: Iterable[Data], targets: dict[str, timedelta], now: datetime) -> dict[str, Any]:
    """How many incidents were acknowledged within their severity's target.

    Measured: every incident not cancelled with a target, acknowledged (detected_at,
    else opened_at -> acknowledged_at, not negative), or still open, not acknowledged
    and already past its target at `now` (a miss in progress). The misses, latest
    first: id, severity, target, took (None while not acknowledged), late (seconds)."""
    measured = within = 0
    missed: list[dict[str, Any]] = []
    for data in datas:
        target = targets.get(data["severity"])
        if data["status"] == CANCELLED or target is None:
            continue
        start = parse_ts(data.get("detected_at")) or parse_ts(data.get("opened_at"))
        ack = parse_ts(data.get("acknowledged_at"))
        if start is None:
            continue
        if ack is None:
            if data["status"] not in OPEN or now - start <= target:
                continue
            took = None
            late = (now - start - target).total_seconds()
        else:
            took = (ack - start).total_seconds()
            if took < 0:
                continue
            late = took - target.total_seconds()
        measured += 1
        if late <= 0:
            within += 1
            continue
        missed.append(
            {
                "id": data["id"],
                "severity": data["severity"],
                "target": _seconds(target.total_seconds()),
                "took": None if took is None else _seconds(took),
                "late": _seconds(late),
            }
        )
    missed.sort(key=lambda m: (-m["late"], m["id"]))
    return {
        "measured": measured,
        "within": within,
        "share": round(within / measured, 4) if measured else None,
        "few": measured < FEW,
        "missed": missed,
    }


def action_items(datas: Iterable[Data], today: date) -> dict[str, int]:
    """Action items open, done, and overdue (open with a due date before `today`)."""
    found = {"open": 0, "done": 0, "overdue": 0}
    day = today.isoformat()  # due dates are YYYY-MM-DD: text order is date order
    for data in datas:
        for item in data.get("action_items") or ():
            if item.get("status") == "done":
                found["done"] += 1
                continue
            found["open"] += 1
            if item.get("due") and item["due"] < day:
                found["overdue"] += 1
    return found


def _seconds(value: float) -> float | int:
    """Seconds, to a tenth; whole numbers as int (so JSON shows 5400, not 5400.0)."""
    value = round(value, 1)
    return int(value) if value.is_integer() else value


def human(seconds: float | None) -> str:
    """A duration for people: 45m, 2h 5m, 3d 4h; "-" for none."""
    if seconds is None:
        return "-"
    from ..incident.timeutil import format_duration

    return format_duration(timedelta(seconds=seconds))
