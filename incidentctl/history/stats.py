"""`incidentctl stats`: counts, time metrics, response targets and action items.

Incidents are chosen by `opened_at` in UTC: `since` is inclusive (from its midnight),
`until` exclusive (up to its midnight), so `--since 2026-03-01 --until 2026-04-01` is
March. Everything is computed from the cached front matters (`IncidentRepo.records`):
no YAML, no models, which keeps 10,000 incidents well under a second.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from . import metrics as m

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..incident.config import Config
    from ..repo.incidents import IncidentRepo

BY = ("severity", "type", "service", "month")
MISSED_SHOWN = 20  # the text lists this many misses; --json lists them all
SERVICES_SHOWN = 10


def targets(config: Config) -> dict[str, timedelta]:
    """Each severity's response target (`respond_within`) as a duration."""
    from ..incident.timeutil import parse_duration

    found = {}
    for name, policy in config.severities.items():
        try:
            found[name] = parse_duration(policy.respond_within)
        except ValueError as exc:  # the config reader checks it; a bug if it comes here
            raise ConfigError(f"severities.{name}.respond_within: {exc}") from None
    return found


def compute(
    datas: list[dict[str, Any]],
    *,
    targets: dict[str, timedelta],
    now: datetime,
    since: date | None = None,
    until: date | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """The `stats --json` document for the incidents opened in [since, until)."""
    from ..incident.timeutil import format_ts

    if by is not None and by not in BY:
        raise ValueError(f"cannot group by {by!r}")
    chosen = m.select(datas, since, until)
    rows = [m.durations(data) for data in chosen]
    result: dict[str, Any] = {
        "selection": {
            "by_field": "opened_at",
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "group_by": by,
        },
        "now": format_ts(now),
        "incidents": len(chosen),
        "counts": m.counts(chosen),
        "metrics": m.measure_all(rows),
        "response": m.response(chosen, targets, now, rows),
        "action_items": m.action_items(chosen, now.date()),
    }
    if by is not None:
        result["groups"] = m.grouped(chosen, rows, by)
    return result


def collect(
    repo: IncidentRepo,
    *,
    now: datetime,
    since: date | None = None,
    until: date | None = None,
    by: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`compute` over every valid incident of `repo`; invalid files go to `warn`."""
    datas = [record.data for record in repo.records(warn)]
    return compute(datas, targets=targets(repo.config), now=now, since=since, until=until, by=by)


def text_lines(result: dict[str, Any]) -> list[tuple[str, bool]]:
    """What `stats` prints without --json: (line, is a heading), unescaped."""
    sel = result["selection"]
    span = ""
    if sel["since"]:
        span += f" from {sel['since']}"
    if sel["until"]:
        span += f" until before {sel['until']}"
    lines: list[tuple[str, bool]] = [
        (f"{result['incidents']} incident(s) opened{span} (UTC, by opened_at)", True)
    ]
    counts = result["counts"]
    for kind in ("severity", "status", "type"):
        shown = [f"{k} {n}" for k, n in counts[kind].items() if n]
        lines.append((f"  {kind:<9} {' · '.join(shown) or '-'}", False))
    services = list(counts["service"].items())
    shown = [f"{k} {n}" for k, n in services[:SERVICES_SHOWN]]
    more = f" · +{len(services) - SERVICES_SHOWN} more" if len(services) > SERVICES_SHOWN else ""
    lines.append((f"  {'service':<9} {' · '.join(shown) or '-'}{more}", False))
    lines += [("", False), ("Time metrics (median; p90 by nearest rank; mean)", True)]
    lines += metric_lines(result["metrics"], "  ")
    if "groups" in result:
        lines += [("", False), (f"By {sel['group_by']}", True)]
        for key, group in result["groups"].items():
            lines.append((f"  {key} ({group['incidents']} incident(s))", False))
            lines += metric_lines(group["metrics"], "    ")
    lines += [("", False), *response_lines(result["response"])]
    items = result["action_items"]
    lines += [
        ("", False),
        (
            f"Action items: {items['open']} open ({items['overdue']} overdue), "
            f"{items['done']} done",
            True,
        ),
    ]
    return lines


def metric_lines(figures: dict[str, dict[str, Any]], indent: str) -> list[tuple[str, bool]]:
    """One line per metric: label, count, median, p90, mean, who was left out and why."""
    lines = [
        (
            f"{indent}{'metric':<20} {'count':>5}  {'median':<9} {'p90':<9} {'mean':<9} left out",
            False,
        )
    ]
    for figure in figures.values():
        left = ", ".join(f"{figure[r]} {r}" for r in m.REASONS if figure[r]) or "-"
        few = f"  [{m.FEW_TEXT}]" if figure["few"] else ""
        lines.append(
            (
                f"{indent}{figure['label']:<20} {figure['count']:>5}  "
                f"{m.human(figure['median']):<9} {m.human(figure['p90']):<9} "
                f"{m.human(figure['mean']):<9} {left}{few}",
                False,
            )
        )
    return lines


def response_lines(response: dict[str, Any]) -> list[tuple[str, bool]]:
    share = response["share"]
    percent = "-" if share is None else f"{share * 100:.1f}%"
    few = f"  [{m.FEW_TEXT}]" if response["few"] else ""
    lines = [
        (
            f"Acknowledged within target: {response['within']} of {response['measured']} "
            f"({percent}){few}",
            True,
        )
    ]
    missed = response["missed"]
    for miss in missed[:MISSED_SHOWN]:
        how = (
            f"acknowledged after {m.human(miss['took'])}"
            if miss["took"] is not None
            else "not acknowledged yet"
        )
        lines.append(
            (
                f"  {miss['id']}  {miss['severity']}  {m.human(miss['late'])} late "
                f"(target {m.human(miss['target'])}; {how})",
                False,
            )
        )
    if len(missed) > MISSED_SHOWN:
        lines.append((f"  … and {len(missed) - MISSED_SHOWN} more (--json lists all)", False))
    return lines
