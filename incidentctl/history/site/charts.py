"""The stats page: key figures and SVG charts drawn at build time (history/svg.py).

Figures come from history/metrics.py, the definitions `incidentctl stats` uses:
incidents per month by severity, the median and p90 time to resolve per month
(impact start, else detection, to resolution), and the share of incidents
acknowledged within their severity's target (`respond_within`), per month and in all.
Every incident counts here, restricted ones too: the page shows numbers, no text.
"""

from __future__ import annotations

from datetime import date, datetime

from .. import metrics as m
from .. import svg
from ..stats import targets as response_targets
from .markup import trusted

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from ...incident.config import Config

MONTHS = 24  # at most this many months, up to the build's
# What the figures are computed from: the page is made again only when one changed.
FIELDS = (
    "opened_at",
    "severity",
    "status",
    "started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
)


def as_of(now: datetime) -> datetime:
    """The time the figures are for: the hour of the build, so that builds within one
    hour make the same page (and an incremental build need not compute it again)."""
    return now.replace(minute=0, second=0, microsecond=0)


def inputs_key(datas: list[dict[str, Any]], config: Config, now: datetime) -> str:
    """A hash of all the stats page depends on."""
    from .output import digest

    rows = [tuple(map(d.get, FIELDS)) for d in datas]  # records come in file name order
    targets = sorted((k, v.total_seconds()) for k, v in response_targets(config).items())
    return digest(repr(rows), repr(targets), as_of(now).isoformat())


def months_until(now: datetime, first: date | None) -> list[date]:
    """The first days of the months shown: from the first incident's month (at most
    MONTHS back) to the month of `now`."""
    end = (now.year, now.month)
    start = (first.year, first.month) if first else end
    earliest = _shift(end, -(MONTHS - 1))
    start = max(min(start, end), earliest)
    out = []
    while start <= end:
        out.append(date(start[0], start[1], 1))
        start = _shift(start, 1)
    return out


def _shift(month: tuple[int, int], by: int) -> tuple[int, int]:
    index = month[0] * 12 + month[1] - 1 + by
    return index // 12, index % 12 + 1


def stats_page(datas: list[dict[str, Any]], config: Config, now: datetime) -> dict[str, Any]:
    """What stats.html.j2 shows: figures and charts (SVG as Markup), as of the hour."""
    now = as_of(now)
    earliest = min(datas, key=lambda d: str(d["opened_at"]), default=None)
    first = m.opened(earliest).date() if earliest is not None else None
    months = months_until(now, first)
    monthly = m.per_month(datas, months)
    labels = monthly["months"]
    targets = response_targets(config)
    members: dict[str, list[dict[str, Any]]] = {key: [] for key in labels}
    for data in datas:
        bucket = members.get(m.month_of(data))
        if bucket is not None:
            bucket.append(data)
    shares: list[float | None] = []
    overall = {"measured": 0, "within": 0}
    for key in labels:
        month = m.response(members[key], targets, now)
        overall["measured"] += month["measured"]
        overall["within"] += month["within"]
        share = month["share"]
        shares.append(None if share is None else round(share * 100, 1))
    shown = [d for key in labels for d in members[key]]
    resolve = m.measure([m.durations(d) for d in shown], m.METRICS[3])
    severities = {sev: [float(n) for n in counts] for sev, counts in monthly["by_severity"].items()}
    charts = [
        {
            "id": "chart-per-month",
            "svg": trusted(
                svg.bar_chart(labels, severities, title="Incidents per month", unit="incidents")
            ),
            "caption": "Incidents opened per month, by severity.",
        },
        {
            "id": "chart-resolve",
            "svg": trusted(
                svg.line_chart(
                    labels,
                    {
                        "median": monthly["resolve_hours"]["median"],
                        "p90": monthly["resolve_hours"]["p90"],
                    },
                    title="Time to resolve",
                    unit="hours",
                )
            ),
            "caption": "Median and p90 (nearest rank) time to resolve of the incidents "
            "opened each month, in hours; a gap is a month with none resolved.",
        },
        {
            "id": "chart-within-target",
            "svg": trusted(
                svg.line_chart(
                    labels,
                    {"within target": shares},
                    title="Acknowledged within target",
                    unit="%",
                )
            ),
            "caption": "Share of the incidents opened each month that were acknowledged "
            "within their severity's response target (respond_within).",
        },
    ]
    measured, within = overall["measured"], overall["within"]
    share = within / measured if measured else None
    figures = [
        ("Incidents", str(len(shown)), f"{labels[0]} to {labels[-1]}"),
        ("Median time to resolve", m.human(resolve["median"]), _few(resolve["few"])),
        ("p90 time to resolve", m.human(resolve["p90"]), _few(resolve["few"])),
        (
            "Acknowledged within target",
            "-" if share is None else f"{share * 100:.1f}%",
            f"{within} of {measured}" + _few(measured < m.FEW, "; "),
        ),
    ]
    return {"months": labels, "charts": charts, "figures": figures}


def _few(few: bool, sep: str = "") -> str:
    return f"{sep}{m.FEW_TEXT}" if few else ""
