"""History: `stats`, `report`, `export`."""

from __future__ import annotations

from datetime import date

import click

from ..safetext import safe
from .common import State, emit_json, handle_errors, json_option, style, warn

# The choices are spelled here so that `incidentctl --help` imports nothing of history/.
GROUP_BY = ("severity", "type", "service", "month")


def _date(value: str | None, what: str) -> date | None:
    from ..incident.timeutil import parse_date

    return parse_date(value, what=what) if value else None


@click.command("stats")
@click.option("--since", help="Only incidents opened on or after this date (YYYY-MM-DD, UTC).")
@click.option("--until", help="Only incidents opened before this date (YYYY-MM-DD, UTC; excluded).")
@click.option(
    "--by",
    type=click.Choice(GROUP_BY),
    help="Also give the time metrics per severity, type, service or month opened.",
)
@json_option
@click.pass_obj
@handle_errors
def stats(
    state: State, since: str | None, until: str | None, by: str | None, as_json: bool
) -> None:
    """Incident counts and time metrics.

    Counts by severity, status, type and service; time to detect, acknowledge, mitigate
    and resolve (count, median, p90, mean); the share acknowledged within each
    severity's `respond_within`, and the misses; action items open, done and overdue.
    Incidents are chosen by opened_at (UTC): --since inclusive, --until exclusive.
    """
    from ..history.stats import collect, text_lines
    from ..incident.timeutil import utcnow

    result = collect(
        state.repo(),
        now=utcnow(),
        since=_date(since, "--since"),
        until=_date(until, "--until"),
        by=by,
        warn=warn,
    )
    if as_json:
        emit_json(result)
        return
    for line, heading in text_lines(result):
        click.echo(style(line, bold=True) if heading else safe(line))


@click.command("report")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month (UTC) to report on.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("markdown", "json", "html")),
    default="markdown",
    show_default=True,
    help="Markdown (GitHub tables), one JSON document, or one self-contained HTML page.",
)
@click.pass_obj
@handle_errors
def report(state: State, month: str, fmt: str) -> None:
    """The monthly incident report.

    Totals by severity, the time metrics, the share within target, the change against
    the previous month (where both have at least 10 incidents), the notable incidents
    and the action items closed in the month or still open, with charts in HTML.
    """
    from ..history import report as monthly
    from ..history.stats import targets
    from ..incident.timeutil import utcnow

    monthly.month_bounds(month)  # a bad --month fails before anything is read
    repo = state.repo()
    records = repo.records(warn, timelines=True)
    data = monthly.build(records, month, targets=targets(repo.config), now=utcnow())
    if fmt == "json":
        emit_json(data)
        return
    text = monthly.html(data, repo.root) if fmt == "html" else monthly.markdown(data)
    click.echo(safe(text, keep="\n"), nl=False)


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("json", "csv", "ndjson")),
    default="json",
    show_default=True,
    help="One JSON array, CSV with a header row, or one JSON object per line.",
)
@click.option("--since", help="Only incidents opened on or after this date (YYYY-MM-DD, UTC).")
@click.pass_obj
@handle_errors
def export(state: State, fmt: str, since: str | None) -> None:
    """Every incident as JSON, CSV or NDJSON.

    Each incident's front matter (in the schema's order) and its timeline, oldest
    first by opened_at, on stdout, written incident by incident.
    """
    from ..history.export import chunks, incidents

    rows = incidents(state.repo().records(warn, timelines=True), _date(since, "--since"))
    for chunk in chunks(rows, fmt):  # already escaped (safe / json_safe), row by row
        click.echo(chunk, nl=False)


COMMANDS: list[click.Command] = [stats, report, export]
