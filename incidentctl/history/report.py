"""`incidentctl report`: one month's incidents as Markdown, JSON or a self-contained HTML page.

The month is a UTC calendar month; an incident belongs to the month it was opened in
(`opened_at`). `build` gives the JSON document; `markdown` and `html` lay the same
figures out as sections of text and tables (GitHub-flavoured Markdown; an HTML page
from templates/report/report.html, autoescaped, with inline SVG charts).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from . import metrics as m

if TYPE_CHECKING:
    from pathlib import Path

    from ..repo.records import IncidentRecord

FORMATS = ("markdown", "json", "html")
LONGEST = 3  # the incidents longest to resolve that are notable whatever their severity
NOTABLE_SEVERITIES = ("SEV-1", "SEV-2")
TREND_MONTHS = 12  # months shown in the HTML charts, ending with the report's
ROWS_SHOWN = 50  # rows of a table in Markdown and HTML; the JSON has them all


def month_bounds(text: str) -> tuple[date, date]:
    """`YYYY-MM` -> (its first day, the next month's first day)."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        if not 1 < year < 9999:  # the month before and after must exist too
            raise ValueError(year)
        start = date(year, month, 1)
    except ValueError:
        raise InvalidInput(f"--month {text!r} is not a month; use YYYY-MM, e.g. 2026-03") from None
    return start, _shift(start, 1)


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _name(first: date) -> str:
    return first.strftime("%B %Y")


def build(
    records: list[IncidentRecord], month: str, *, targets: dict[str, timedelta], now: datetime
) -> dict[str, Any]:
    """The report of `month` (`YYYY-MM`) as a JSON document. `records` need timelines
    (for the action items closed in the month)."""
    from ..incident.timeutil import format_ts

    start, end = month_bounds(month)
    before = _shift(start, -1)
    datas = [record.data for record in records]
    this, prev = m.select(datas, start, end), m.select(datas, before, start)
    rows = [m.durations(data) for data in this]
    figures = m.measure_all(rows)
    prev_figures = m.measure_all([m.durations(data) for data in prev])
    counted = m.counts(this)
    return {
        "month": start.strftime("%Y-%m"),
        "name": _name(start),
        "from": start.isoformat(),
        "until": end.isoformat(),
        "generated_at": format_ts(now),
        "incidents": len(this),
        "severity": counted["severity"],
        "status": counted["status"],
        "metrics": figures,
        "response": m.response(this, targets, now, rows),
        "previous": {
            "month": before.strftime("%Y-%m"),
            "name": _name(before),
            "incidents": len(prev),
        },
        "change": _changes(len(this), len(prev), figures, prev_figures, start, before),
        "notable": _notable(this, rows),
        "action_items": m.items_between(
            [(r.data, r.timeline or []) for r in records], start, end, now.date()
        ),
        "trend": m.per_month(
            datas, [_shift(start, k - TREND_MONTHS + 1) for k in range(TREND_MONTHS)]
        ),
    }


def _changes(
    n: int,
    n_prev: int,
    figures: dict[str, dict[str, Any]],
    prev_figures: dict[str, dict[str, Any]],
    start: date,
    before: date,
) -> list[dict[str, Any]]:
    """Each figure against the previous month's, compared only when both rest on at
    least FEW incidents; otherwise `reason` says why not."""
    out = [_compare("incidents", "incidents", n, n_prev, n, n_prev, start, before)]
    for name, figure in figures.items():
        prev = prev_figures[name]
        for stat in ("median", "p90"):
            out.append(
                _compare(
                    f"{name}.{stat}",
                    f"{figure['label']}, {stat}",
                    figure[stat],
                    prev[stat],
                    figure["count"],
                    prev["count"],
                    start,
                    before,
                )
            )
    return out


def _compare(
    key: str,
    label: str,
    value: float | None,
    prev: float | None,
    size: int,
    prev_size: int,
    start: date,
    before: date,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "figure": key,
        "label": label,
        "this": value,
        "previous": prev,
        "compared": False,
        "change": None,
        "percent": None,
        "reason": None,
    }
    short = [(_name(d), k) for d, k in ((start, size), (before, prev_size)) if k < m.FEW]
    if short:
        what = "incident(s)" if key == "incidents" else "incident(s) measured"
        entry["reason"] = "not compared: " + "; ".join(
            f"{name} has {k} {what}, fewer than {m.FEW}" for name, k in short
        )
        return entry
    assert value is not None and prev is not None
    entry["compared"] = True
    entry["change"] = round(value - prev, 1) if isinstance(value, float) else value - prev
    entry["percent"] = round((value - prev) * 100 / prev, 1) if prev else None
    return entry


def _notable(this: list[dict[str, Any]], rows: list[m.Durations]) -> list[dict[str, Any]]:
    """SEV-1 and SEV-2 incidents (not cancelled), and the LONGEST longest to resolve."""
    resolve = {
        d["id"]: r["resolve"]
        for d, r in zip(this, rows, strict=True)
        if not isinstance(r["resolve"], str)
    }
    longest = sorted(resolve, key=lambda ident: (-float(resolve[ident]), ident))[:LONGEST]
    out = []
    for data in sorted(this, key=lambda d: (d["severity"], m.opened(d), d["id"])):
        why = []
        if data["severity"] in NOTABLE_SEVERITIES and data["status"] != m.CANCELLED:
            why.append(data["severity"])
        if data["id"] in longest:
            why.append(f"among the {LONGEST} longest to resolve")
        if why:
            out.append(
                {
                    "id": data["id"],
                    "title": data["title"],
                    "severity": data["severity"],
                    "status": data["status"],
                    "opened_at": data["opened_at"],
                    "time_to_resolve": resolve.get(data["id"]),
                    "why": why,
                }
            )
    return out


# -- layout: the same sections for Markdown and HTML ----------------------------------


def sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as sections: {"title", "text": [paragraphs], "table": None or
    {"head", "align", "rows"}, "chart": "bar", "line" or None}; every cell is text."""
    name = report["name"]
    total = report["incidents"]
    statuses = " · ".join(f"{k} {n}" for k, n in report["status"].items() if n) or "none"
    out = [
        _section(
            "Totals",
            [
                f"{total} incident(s) opened in {name} ({report['from']} to before "
                f"{report['until']}, UTC, by opened_at). By status: {statuses}."
            ],
            ["severity", "incidents"],
            [[sev, str(n)] for sev, n in report["severity"].items()] + [["total", str(total)]],
            chart="bar",
        ),
        _section(
            "Time metrics",
            [
                "Median; p90 by nearest rank (the ceil(0.9 n)-th smallest); mean. Cancelled "
                "incidents are left out; open ones are left out of mitigate and resolve. "
                f"A figure over fewer than {m.FEW} incidents is marked: {m.FEW_TEXT}."
            ],
            ["metric", "from → to", "incidents", "median", "p90", "mean", "left out", "note"],
            [_metric_row(f) for f in report["metrics"].values()],
            chart="line",
        ),
        _response_section(report["response"]),
        _change_section(report),
        _section(
            "Notable incidents",
            [] if report["notable"] else ["None: no SEV-1 or SEV-2 incident and none resolved."],
            ["incident", "title", "severity", "status", "time to resolve", "why"],
            [
                [
                    n["id"],
                    n["title"],
                    n["severity"],
                    n["status"],
                    m.human(n["time_to_resolve"]),
                    "; ".join(n["why"]),
                ]
                for n in report["notable"]
            ],
        ),
    ]
    items = report["action_items"]
    out.append(
        _section(
            f"Action items closed in {name}",
            [] if items["closed"] else ["None."],
            ["incident", "item", "title", "owner", "closed"],
            [
                [i["incident"], i["id"], i["title"], i["owner"] or "-", i["closed_at"]]
                for i in items["closed"]
            ],
        )
    )
    out.append(
        _section(
            f"Action items still open at the end of {name}",
            [] if items["open"] else ["None."],
            ["incident", "item", "title", "owner", "due", "overdue"],
            [
                [
                    i["incident"],
                    i["id"],
                    i["title"],
                    i["owner"] or "-",
                    i["due"] or "-",
                    "overdue" if i["overdue"] else "",
                ]
                for i in items["open"]
            ],
        )
    )
    return out


def _section(
    title: str,
    text: list[str],
    head: list[str],
    rows: list[list[str]],
    *,
    chart: str | None = None,
) -> dict[str, Any]:
    numeric = {"incidents", "median", "p90", "mean", "this month", "previous month", "change"}
    if len(rows) > ROWS_SHOWN:
        text = [*text, f"The first {ROWS_SHOWN} of {len(rows)}; the JSON form lists all."]
        rows = rows[:ROWS_SHOWN]
    table = {
        "head": head,
        "align": ["right" if h in numeric else "left" for h in head],
        "rows": rows,
    }
    return {"title": title, "text": text, "table": table if rows else None, "chart": chart}


def _metric_row(figure: dict[str, Any]) -> list[str]:
    left = ", ".join(f"{figure[r]} {r}" for r in m.REASONS if figure[r]) or "-"
    return [
        figure["label"],
        f"{' or '.join(figure['from'])} → {figure['to']}",
        str(figure["count"]),
        m.human(figure["median"]),
        m.human(figure["p90"]),
        m.human(figure["mean"]),
        left,
        m.FEW_TEXT if figure["few"] else "",
    ]


def _response_section(response: dict[str, Any]) -> dict[str, Any]:
    share = response["share"]
    text = (
        f"{response['within']} of {response['measured']} incident(s) acknowledged within "
        f"their severity's target ({'-' if share is None else f'{share * 100:.1f}%'})."
    )
    if response["few"]:
        text += f" {m.FEW_TEXT[0].upper()}{m.FEW_TEXT[1:]}."
    rows = [
        [
            x["id"],
            x["severity"],
            m.human(x["target"]),
            "not yet" if x["took"] is None else m.human(x["took"]),
            m.human(x["late"]),
        ]
        for x in response["missed"]
    ]
    return _section(
        "Response targets",
        [text],
        ["incident", "severity", "target", "acknowledged after", "late by"],
        rows,
    )


def _change_section(report: dict[str, Any]) -> dict[str, Any]:
    prev = report["previous"]["name"]
    title = f"Change against {prev}"
    incidents = report["change"][0]
    if not incidents["compared"]:
        reason = incidents["reason"]
        return _section(title, [reason[:1].upper() + reason[1:] + "."], [], [])
    rows = []
    for entry in report["change"]:
        show = str if entry["figure"] == "incidents" else m.human
        change = "-"
        if entry["compared"]:
            sign = "+" if entry["change"] >= 0 else "-"
            change = sign + (
                str(abs(entry["change"])) if show is str else m.human(abs(entry["change"]))
            )
            if entry["percent"] is not None:
                change += f" ({entry['percent']:+.1f}%)"
        rows.append(
            [
                entry["label"],
                _show(show, entry["this"]),
                _show(show, entry["previous"]),
                change,
                entry["reason"] or "",
            ]
        )
    return _section(title, [], ["figure", "this month", "previous month", "change", "note"], rows)


def _show(show: Any, value: Any) -> str:
    return "-" if value is None else str(show(value))


def markdown(report: dict[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown: headings, paragraphs and tables."""
    out = [f"# Incident report: {_md(report['name'])}", ""]
    for section in sections(report):
        out += [f"## {_md(section['title'])}", ""]
        for paragraph in section["text"]:
            out += [_md(paragraph), ""]
        table = section["table"]
        if table:
            out.append("| " + " | ".join(_md(h) for h in table["head"]) + " |")
            out.append(
                "| " + " | ".join("---:" if a == "right" else "---" for a in table["align"]) + " |"
            )
            for row in table["rows"]:
                out.append("| " + " | ".join(_md(cell) for cell in row) + " |")
            out.append("")
    out.append(f"_Generated {_md(report['generated_at'])} by incidentctl._")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    """Text as literal Markdown in one table cell or paragraph: one line, the characters
    that would format, link or end a cell backslash-escaped, HTML's < > & as entities."""
    text = " ".join(str(text).split())
    text = "".join("\\" + c if c in "\\`*_[]|~#" else c for c in text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html(report: dict[str, Any], repo_root: Path | None = None) -> str:
    """The report as one self-contained HTML page (templates/report/report.html, which
    a repository's templates/ may override): autoescaped, charts as inline SVG."""
    from markupsafe import Markup

    from ..incident.render import render
    from .svg import bar_chart, line_chart

    trend = report["trend"]
    charts = {
        "bar": bar_chart(
            trend["months"],
            {sev: [float(n) for n in counts] for sev, counts in trend["by_severity"].items()},
            title=f"Incidents per month by severity, to {report['name']}",
            unit="incidents",
        ),
        "line": line_chart(
            trend["months"],
            {k: trend["resolve_hours"][k] for k in ("median", "p90")},
            title=f"Time to resolve per month (median and p90), to {report['name']}",
            unit="hours",
        ),
    }
    parts = [
        {**s, "chart": Markup(charts[s["chart"]]) if s["chart"] else None}  # noqa: S704
        for s in sections(report)
    ]
    return render(
        "report/report.html",
        {"title": f"Incident report: {report['name']}", "report": report, "sections": parts},
        repo_root,
    )
