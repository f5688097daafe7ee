"""Commands that only read: show, timeline, history, list."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from ..safetext import safe
from .common import State, emit_json, handle_errors, id_argument, json_option, style, warn

if TYPE_CHECKING:
    from ..incident.model import Status

STATUS_COLOURS = {
    "triage": "magenta",
    "investigating": "red",
    "identified": "yellow",
    "monitoring": "cyan",
    "resolved": "green",
    "closed": "bright_black",
    "cancelled": "bright_black",
}
SEVERITY_COLOURS = {"SEV-1": "red", "SEV-2": "yellow", "SEV-3": "blue", "SEV-4": "bright_black"}


def _ts(value: datetime | None) -> str:
    from ..incident.timeutil import format_ts

    return format_ts(value) if value else "-"


def _short(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%MZ")


@click.command("show")
@id_argument
@json_option
@click.pass_obj
@handle_errors
def show(state: State, incident_id: str, as_json: bool) -> None:
    """Show one incident: its fields, roles, timeline and action items."""
    from ..incident.timeutil import format_duration, utcnow

    repo = state.repo()
    file, incident = repo.get(incident_id)
    entries = file.timeline()
    if as_json:  # fastpath.py answers this form without click when it can
        from ..incident.jsonview import front_matter_json

        data = front_matter_json(file, incident)
        data["path"] = file.path
        data["timeline"] = [e.as_json() for e in entries]
        emit_json(data)
        return
    policy = repo.config.severities[incident.severity.value]
    status = incident.status.value
    click.echo(f"{style(incident.id, bold=True)}  {safe(incident.title)}")
    sev = incident.severity.value
    click.echo(
        f"  {style(sev, fg=SEVERITY_COLOURS[sev], bold=True)}"
        f" · {style(status, fg=STATUS_COLOURS[status])} · {incident.type.value} · "
        f"{incident.environment.value} · {incident.visibility.value}"
    )
    click.echo(f"  Respond {safe(policy.response)}; update every {safe(policy.update_every)}")
    if incident.services:
        click.echo(f"  {'Services:':<14}{safe(', '.join(incident.services))}")
    click.echo(f"  {'Commander:':<14}{safe(incident.commander or '-')}")
    for role, name in incident.roles.items():
        click.echo(f"  {safe(role.capitalize() + ':'):<14}{safe(name)}")
    end = incident.resolved_at or utcnow()
    click.echo(
        f"  {'Opened:':<14}{_ts(incident.opened_at)} ({format_duration(end - incident.opened_at)}"
        f"{' to resolve' if incident.resolved_at else ' so far'})"
    )
    for key in (
        "detected_at",
        "started_at",
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
    ):
        value = getattr(incident, key)
        if value:
            label = key.removesuffix("_at").capitalize() + ":"
            click.echo(f"  {label:<14}{_ts(value)}")
    click.echo(f"  {'File:':<14}{safe(file.path)}")
    click.echo("")
    click.echo(style("Timeline", bold=True))
    _print_entries(entries)
    if incident.action_items:
        click.echo("")
        click.echo(style("Action items", bold=True))
        for item in incident.action_items:
            mark = "x" if item.status.value == "done" else " "
            due = item.due.isoformat() if item.due else "no due date"
            who = safe(item.owner or "no owner")
            click.echo(f"  [{mark}] {safe(item.id)} {safe(item.title)} ({who}, {due})")


def _print_entries(entries: list[Any]) -> None:
    if not entries:
        click.echo("  (no entries)")
    for entry in entries:
        lines = entry.text.split("\n")
        click.echo(
            f"  {style(_short(entry.at), dim=True)}  {safe(entry.author)}  "
            f"{style(entry.kind, fg='cyan')}  {safe(lines[0])}"
        )
        for more in lines[1:]:
            click.echo(f"  {'':17}  {safe(more)}")


@click.command("timeline")
@id_argument
@json_option
@click.pass_obj
@handle_errors
def timeline(state: State, incident_id: str, as_json: bool) -> None:
    """Print an incident's timeline, oldest first."""
    _, _, file = state.repo().read(incident_id)
    entries = file.timeline()
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    _print_entries(entries)


@click.command("history")
@id_argument
@json_option
@click.pass_obj
@handle_errors
def history(state: State, incident_id: str, as_json: bool) -> None:
    """Who changed the incident, what and when: its git log, newest first."""
    ident, commits = state.repo().history(incident_id)
    if as_json:
        emit_json(
            [
                {
                    "commit": c.sha,
                    "author": c.author,
                    "email": c.email,
                    "at": _ts(c.at),
                    "subject": c.subject,
                }
                for c in commits
            ]
        )
        return
    if not commits:
        click.echo(f"{safe(ident)} has no commits yet.", err=True)
    for c in commits:
        author, subject = safe(c.author), safe(c.subject)
        click.echo(f"{style(c.sha[:10], fg='yellow')}  {_short(c.at)}  {author:<20} {subject}")


@click.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Only this status (repeatable); 'active' means not yet resolved.",
)
@click.option("--severity", "severities", multiple=True, help="Only this severity (repeatable).")
@click.option("--since", help="Only incidents opened on or after this date (YYYY-MM-DD).")
@json_option
@click.pass_obj
@handle_errors
def list_(
    state: State,
    statuses: tuple[str, ...],
    severities: tuple[str, ...],
    since: str | None,
    as_json: bool,
) -> None:
    """List incidents, newest first."""
    from ..incident.timeutil import parse_date
    from ..incident.vocab import ACTIVE, parse_severity, parse_status

    wanted: set[Status] = set()
    for value in statuses:
        wanted.update(ACTIVE if value.lower() == "active" else {parse_status(value)})
    rows = state.repo().summaries(
        statuses=wanted,
        severities={parse_severity(s) for s in severities},
        since=parse_date(since, what="--since") if since else None,
        warn=warn,
    )
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    if not rows:
        click.echo("No incidents match.", err=True)
        return
    width = max(len(safe(r.id)) for r in rows)
    for r in rows:
        opened = f"{r.opened_at[:10]} {r.opened_at[11:16]}Z"  # as _short() writes a time
        click.echo(
            f"{safe(r.id):<{width}}  {style(r.severity, fg=SEVERITY_COLOURS[r.severity]):<5}  "
            f"{style(f'{r.status:<13}', fg=STATUS_COLOURS[r.status])}  {opened}  "
            f"{safe(r.title)}"
        )


COMMANDS = [show, timeline, history, list_]
