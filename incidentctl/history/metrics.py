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

from ..incident.config import SEVERITY_NAMES, TYPES
from ..incident.vocab import ACTIVE, Status

Data = dict[str, Any]
Durations = dict[str, float | str]  # metric name -> seconds, or why there are none

FEW = 10
FEW_TEXT = "few incidents: do not compare"
SEVERITIES = SEVERITY_NAMES
STATUSES = tuple(status.value for status in Status)
OPEN = frozenset(status.value for status in ACTIVE)
CANCELLED = Status.CANCELLED.value
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
NAMES = tuple(metric.name for metric in METRICS)
_STAMPS = tuple(dict.fromkeys(key for m in METRICS for key in (*m.starts, m.end)))


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
        return dict.fromkeys(NAMES, CANCELLED)
    # Each timestamp parsed once: this runs for every incident on every `stats`.
    at = {key: parse_ts(data.get(key)) for key in _STAMPS}
    is_open = status in OPEN
    out: Durations = {}
    for name, _, starts, end_key, ended_only in METRICS:
        if ended_only and is_open:
            out[name] = "open"
            continue
        end = at[end_key]
        start = None
        for key in starts:
            start = at[key]
            if start is not None:
                break
        if end is None or start is None:
            out[name] = "missing"
            continue
        seconds = (end - start).total_seconds()
        out[name] = "invalid" if seconds < 0 else seconds
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
    start = midnight(since) if since else None
    end = midnight(until) if until else None
    chosen = []
    for data in datas:
        when = opened(data)
        if (start is None or when >= start) and (end is None or when < end):
            chosen.append(data)
    return chosen


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


GROUPINGS: dict[str, Callable[[Data], list[str]]] = {
    "severity": lambda data: [data["severity"]],
    "type": lambda data: [data.get("type") or "outage"],
    "service": lambda data: list(dict.fromkeys(data.get("services") or [NO_SERVICE])),
    "month": lambda data: [month_of(data)],
}


def grouped(datas: list[Data], rows: list[Durations], by: str) -> dict[str, dict[str, Any]]:
    """The metrics per group: severity, type, service (an incident of two services is in
    both; one of none is in "(none)") or opening month; in a stable order."""
    members: dict[str, list[Durations]] = {}
    for data, row in zip(datas, rows, strict=True):
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

    services = Counter(s for data in datas for s in GROUPINGS["service"](data))
    return {
        "severity": tally((d["severity"] for d in datas), SEVERITIES),
        "status": tally((d["status"] for d in datas), STATUSES),
        "type": tally((d.get("type") or "outage" for d in datas), TYPES),
        "service": dict(sorted(services.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def response(
    datas: Iterable[Data],
    targets: dict[str, timedelta],
    now: datetime,
    rows: Iterable[Durations] | None = None,
) -> dict[str, Any]:
    """How many incidents were acknowledged within their severity's target.

    Measured: every incident not cancelled with a target, acknowledged (the
    acknowledge duration: detected_at, else opened_at -> acknowledged_at, not
    negative), or still open, not acknowledged and already past its target at `now`
    (a miss in progress). The misses, latest first: id, severity, target, took (None
    while not acknowledged), late (seconds). `rows`: the incidents' `durations`, when
    already at hand."""
    measured = within = 0
    missed: list[dict[str, Any]] = []
    datas = list(datas)
    for data, row in zip(datas, map(durations, datas) if rows is None else rows, strict=True):
        target = targets.get(data["severity"])
        ack = row["acknowledge"]
        if target is None or ack in (CANCELLED, "invalid"):
            continue
        took: float | None = None
        if isinstance(ack, str):  # not acknowledged
            start = parse_ts(data.get("detected_at")) or opened(data)
            if data["status"] not in OPEN or now - start <= target:
                continue
            late = (now - start - target).total_seconds()
        else:
            took = ack
            late = ack - target.total_seconds()
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


def items_between(
    incidents: Iterable[tuple[Data, list[dict[str, str]]]], start: date, end: date, today: date
) -> dict[str, list[dict[str, Any]]]:
    """Action items over [start, end) from (front matter, timeline) pairs: "closed", the
    items marked done in it (by their `Action item AI-N done` timeline entry; one
    marked done by a hand edit has no date and is in neither list), and "open", the
    items open at its end: added before it (by their `added` entry, else the incident's
    opening) and not done before it, overdue when due before the end (or before
    `today`, for a span still under way)."""
    from ..incident.timeutil import format_ts

    lo, hi = midnight(start), midnight(end)
    closed, still_open = [], []
    as_of = min(end, today).isoformat()
    for data, timeline in incidents:
        if opened(data) >= hi:
            continue
        added, done = _item_entries(timeline)
        for item in data.get("action_items") or ():
            ident = item["id"]
            row = {
                "incident": data["id"],
                "id": ident,
                "title": item.get("title"),
                "owner": item.get("owner"),
                "due": item.get("due"),
            }
            done_at = done.get(ident)
            if item.get("status") == "done" and done_at and lo <= done_at < hi:
                closed.append({**row, "closed_at": format_ts(done_at)})
            if ident in added and added[ident] >= hi:
                continue
            if item.get("status") != "done" or (done_at is not None and done_at >= hi):
                due = item.get("due")
                still_open.append({**row, "overdue": bool(due and due < as_of)})
    closed.sort(key=lambda r: (r["closed_at"], r["incident"], r["id"]))
    still_open.sort(key=lambda r: (r["due"] is None, r["due"] or "", r["incident"], r["id"]))
    return {"closed": closed, "open": still_open}


def _item_entries(
    timeline: list[dict[str, str]],
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """({item: its first `added` entry's time}, {item: its last `done` entry's time})."""
    added: dict[str, datetime] = {}
    done: dict[str, datetime] = {}
    for entry in timeline:
        text = entry.get("text", "")
        if entry.get("kind") != "action" or not text.startswith("Action item "):
            continue
        ident, _, rest = text[len("Action item ") :].partition(" ")
        at = parse_ts(entry.get("at"))
        if at is None:
            continue
        if rest.startswith("done:"):
            done[ident] = at
        elif rest.startswith("added:"):
            added.setdefault(ident, at)
    return added, done


def per_month(datas: Iterable[Data], months: list[date]) -> dict[str, Any]:
    """For each month (its first day) by opening: incidents by severity, and the
    median and p90 time to resolve in hours (None for a month with none measured)."""
    keys = [month.strftime("%Y-%m") for month in months]
    members: dict[str, list[Data]] = {key: [] for key in keys}
    for data in datas:
        bucket = members.get(month_of(data))
        if bucket is not None:
            bucket.append(data)
    by_severity = {sev: [0] * len(keys) for sev in SEVERITIES}
    median: list[float | None] = []
    p90: list[float | None] = []
    measured: list[int] = []
    for k, key in enumerate(keys):
        for data in members[key]:
            by_severity.setdefault(data["severity"], [0] * len(keys))[k] += 1
        figure = measure([durations(d) for d in members[key]], METRICS[3])
        measured.append(figure["count"])
        median.append(None if figure["median"] is None else round(figure["median"] / 3600, 2))
        p90.append(None if figure["p90"] is None else round(figure["p90"] / 3600, 2))
    return {
        "months": keys,
        "by_severity": by_severity,
        "resolve_hours": {"median": median, "p90": p90, "count": measured},
    }


def _seconds(value: float) -> float | int:
    """Seconds, to a tenth; whole numbers as int (so JSON shows 5400, not 5400.0)."""
    value = round(value, 1)
    return int(value) if value.is_integer() else value


def human(seconds: float | None) -> str:
    """A duration for people, to the second under an hour: 45s, 7m 30s, 2h 5m, 3d 4h;
    "-" for none."""
    if seconds is None:
        return "-"
    total = round(seconds)
    if total >= 3600:
        from ..incident.timeutil import format_duration

        return format_duration(timedelta(seconds=total))
    minutes, secs = divmod(total, 60)
    if not minutes:
        return f"{secs}s"
    return f"{minutes}m {secs}s" if secs else f"{minutes}m"
