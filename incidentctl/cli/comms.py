"""Communication: notify, comms plan, due, board; and the notices changing commands send."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from ..output import colour_enabled
from ..safetext import safe
from .common import State, emit_json, handle_errors, id_argument, json_option, style, warn

if TYPE_CHECKING:
    from ..repo.incidents import IncidentRepo

EVENTS = ["open", "status", "severity", "assign", "resolved", "update-due", "action-overdue"]
STAGES = ["initial", "update", "resolved"]


@click.command("notify")
@click.argument("incident_id", metavar="[ID]", required=False)
@click.option("--stage", type=click.Choice(STAGES), help="Which notice.  [default: update]")
@click.option("--channel", "channels", multiple=True, help="Only this channel (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show every notice as it would be sent.")
@click.option("--retry", is_flag=True, help="Send what the outbox still holds, for every incident.")
@json_option
@click.pass_obj
@handle_errors
def notify(
    state: State,
    incident_id: str | None,
    stage: str | None,
    channels: tuple[str, ...],
    dry_run: bool,
    retry: bool,
    as_json: bool,
) -> None:
    """Tell the incident's stakeholders now, as the rules and the matrix say.

    Each notice goes through the outbox in .git/: a channel that is down keeps it for
    `notify --retry`. Sent notices are recorded on the timeline (`comms`).
    """
    from ..comms.notify import retry as retry_outbox
    from ..comms.notify import run_event
    from ..comms.settings import load

    repo = state.repo()
    settings = load(repo.config)
    if retry:
        if incident_id or dry_run or stage or channels:
            raise click.UsageError("--retry goes alone: it sends whatever the outbox holds")
        done = retry_outbox(repo, settings)
        if as_json:
            emit_json({"sent": done})
            return
        for ident, lines in done.items():
            for line in lines:
                click.echo(f"{safe(ident)}: {safe(line)}")
        pending = _pending(repo)
        click.echo(f"{sum(len(v) for v in done.values())} sent; {pending} still pending", err=True)
        return
    if not incident_id:
        raise click.UsageError("give an incident ID, or --retry")
    event = {"initial": "open", "resolved": "resolved"}.get(stage or "", "status")
    report = run_event(
        repo,
        settings,
        incident_id,
        event,
        stage=stage or "update",
        only=set(channels) or None,
        dry_run=dry_run,
    )
    if as_json:
        emit_json(
            {
                "steps": [
                    {
                        "action": s.action,
                        "target": s.target,
                        "channel": s.channel,
                        "stage": s.stage,
                        "skipped": s.skipped or None,
                        "rule": s.origin,
                    }
                    for s in report.steps
                ],
                "previews": [p for _, p in report.previews] if dry_run else None,
                "outcomes": report.outcomes,
                "failed": report.failed,
                "commit": report.commit,
            }
        )
        return
    if dry_run:
        for step, preview in report.previews:
            click.echo(style(safe(step.describe()), bold=True))
            for line in preview.splitlines():
                click.echo(f"  {safe(line)}")
            click.echo("")
        return
    for line in report.outcomes:
        click.echo(safe(line))
    for line in report.failed:
        warn(f"notice not delivered: {line}")
    if not report.steps:
        click.echo("No rule tells anyone of this incident now.", err=True)


def _pending(repo: IncidentRepo) -> int:
    from ..comms.outbox import Outbox

    return len(Outbox(repo.git.gitdir).notices("pending"))


@click.group("comms")
def comms() -> None:
    """Who is told what, through which channel (the matrix and the rules)."""


@comms.command("plan")
@id_argument
@click.option(
    "--event",
    type=click.Choice(EVENTS),
    default="update-due",
    show_default=True,
    help="The event to plan for.",
)
@json_option
@click.pass_obj
@handle_errors
def plan_(state: State, incident_id: str, event: str, as_json: bool) -> None:
    """Print who would be told what, through which channel, for this incident now."""
    from ..comms.notify import _current, plan
    from ..comms.settings import load

    repo = state.repo()
    settings = load(repo.config)
    _, data = _current(repo, incident_id)
    steps = plan(settings, data, event)
    if as_json:
        emit_json(
            [
                {
                    "rule": s.origin,
                    "action": s.action,
                    "target": s.target,
                    "channel": s.channel,
                    "stage": s.stage,
                    "recipients": list(s.recipients),
                    "skipped": s.skipped or None,
                }
                for s in steps
            ]
        )
        return
    what = f"{safe(data['severity'])} {safe(data['type'])}, on {event}"
    click.echo(f"{style(safe(data['id']), bold=True)} {what}:")
    for step in steps:
        mark = "-" if step.skipped else "+"
        click.echo(f"  {mark} {safe(step.describe())}  [{safe(step.origin)}]")
    if not steps:
        click.echo("  nobody: no rule matches")


@click.command("due")
@json_option
@click.option(
    "--fire",
    is_flag=True,
    help="Also fire the update-due and action-overdue rules (once per missed update, "
    "once per item a day), as `serve` does every minute.",
)
@click.pass_obj
@handle_errors
def due(state: State, as_json: bool, fire: bool) -> None:
    """What is overdue: updates, post-mortems, action items, regulator notices (exit 1 if any)."""
    from ..comms.due import overdue
    from ..comms.settings import load
    from ..incident.timeutil import format_duration, utcnow

    repo = state.repo()
    settings, now = load(repo.config), utcnow()
    found = overdue(repo, settings, now=now, warn=warn)
    fired = []
    if fire and found:
        from ..comms.follow import fire as fire_rules

        fired = fire_rules(repo, settings, now=now, found=found)
        for one in fired:
            for line in one.failed:
                click.echo(f"warning: {safe(one.id)}: {safe(line)}", err=True)
    if as_json:
        if fire:
            emit_json(
                {
                    "overdue": [d.as_json() for d in found],
                    "fired": [
                        {"id": f.id, "event": f.event, "outcomes": list(f.outcomes)} for f in fired
                    ],
                }
            )
        else:
            emit_json([d.as_json() for d in found])
    else:
        for item in found:
            click.echo(
                f"{safe(item.id)}  {item.what:<10}  overdue {format_duration(item.overdue_by):<8}  "
                f"{safe(item.detail)}"
            )
        for one in fired:
            for line in one.lines():
                click.echo(f"  {safe(line)}", err=True)
        if not found:
            click.echo("Nothing is overdue.", err=True)
    if found:
        sys.exit(1)


@click.command("board")
@click.option("--watch", is_flag=True, help="Redraw every few seconds until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(1, 3600),
    default=5,
    show_default=True,
    help="Seconds between redraws with --watch.",
)
@click.pass_obj
@handle_errors
def board(state: State, watch: bool, interval: float) -> None:
    """The war-room screen: active incidents, elapsed time, next update due, action items."""
    import shutil

    from ..comms import board as screen
    from ..incident.timeutil import utcnow

    repo = state.repo()
    colour = colour_enabled()
    try:
        while True:
            now = utcnow()
            rows = screen.rows(repo.config, repo.records(warn, timelines=True), now)
            width = shutil.get_terminal_size((100, 24)).columns
            text = screen.render(rows, now, width=width, colour=colour)
            if watch and sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J")  # home, clear: a plain VT100 does it too
            sys.stdout.write(text)
            sys.stdout.flush()
            if not watch:
                return
            time.sleep(interval)
    except KeyboardInterrupt:  # Ctrl-C ends --watch, whenever it comes
        sys.stdout.write("\n")


COMMANDS: list[Any] = [notify, comms, due, board]
