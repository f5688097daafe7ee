"""Maintenance windows: `maintenance add`, `list`, `cancel`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..safetext import safe
from .common import CONTEXT, State, commit_note, emit_json, handle_errors, json_option, style, warn

if TYPE_CHECKING:
    from datetime import datetime

    from ..repo.maintenance import Window

STATE_COLOURS = {
    "scheduled": "cyan",
    "in_progress": "yellow",
    "completed": "bright_black",
    "cancelled": "bright_black",
}


def parse_when(text: str, now: datetime, what: str) -> datetime:
    """A time as `--at` takes it (RFC 3339 with an offset, `now`, `2h` for two hours
    ago: timeutil.parse_time), or `+2h` (`+30m`, `+1d`, `+1w`) for that long from now."""
    from ..errors import InvalidInput
    from ..incident.timeutil import parse_duration, parse_time

    if text.strip().startswith("+"):
        try:
            return now + parse_duration(text.strip()[1:], what=what)
        except ValueError:
            raise InvalidInput(
                f"{what} {text!r} is not a time; use e.g. +2h (two hours from now), "
                "or RFC 3339 with an offset such as 2026-12-01T02:00:00Z"
            ) from None
    return parse_time(text, now=now, what=what)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%MZ")


def _report(verb: str, window: Window, now: datetime, as_json: bool) -> None:
    if as_json:
        emit_json({**window.as_json(now), "commit": window.commit})
        return
    click.echo(
        f"{verb} {style(window.id, bold=True)} ({window.state(now).replace('_', ' ')}, "
        f"{_when(window.start)} to {_when(window.end)}) for {safe(', '.join(window.services))}"
    )
    click.echo(f"  {safe(window.path)}")
    click.echo(f"  {commit_note(window.commit)}")


@click.group("maintenance", context_settings=CONTEXT)
def maintenance() -> None:
    """Maintenance windows: while one is in progress, alerts for its services are
    recorded in its file and open no incident."""


@maintenance.command("add")
@click.argument("title")
@click.option("--service", "services", multiple=True, required=True, help="A service (repeatable).")
@click.option(
    "--start",
    default="now",
    show_default=True,
    help="When it starts: RFC 3339 with an offset, 'now', or '+2h' (from now).",
)
@click.option("--end", required=True, help="When it ends: as --start, e.g. '+2h'.")
@click.option("--description", help="What is done, and what users may notice.")
@click.option("--public", is_flag=True, help="Show it on the public status page.")
@click.option("--no-commit", is_flag=True, help="Write the file only; make no git commit.")
@json_option
@click.pass_obj
@handle_errors
def add(
    state: State,
    title: str,
    services: tuple[str, ...],
    start: str,
    end: str,
    description: str | None,
    public: bool,
    no_commit: bool,
    as_json: bool,
) -> None:
    """Schedule a maintenance window for one or more services.

    \b
    Times: RFC 3339 with an offset (2026-12-01T02:00:00Z), 'now', '+2h' (two hours
    from now; also +30m, +1d, +1w) or '2h' (two hours ago). A window may have
    started already, but its end must be to come.
    """
    from ..incident.timeutil import utcnow
    from ..repo import maintenance as windows

    now = utcnow()
    window = windows.add(
        state.repo(),
        title,
        services=services,
        start=parse_when(start, now, "--start"),
        end=parse_when(end, now, "--end"),
        description=description,
        visibility="public" if public else "internal",
        commit=not no_commit,
        now=now,
    )
    _report("Scheduled", window, now, as_json)


@maintenance.command("list")
@click.option("--all", "show_all", is_flag=True, help="Completed and cancelled ones too.")
@json_option
@click.pass_obj
@handle_errors
def list_(state: State, show_all: bool, as_json: bool) -> None:
    """List scheduled and running windows, by start (--all: every one)."""
    from ..incident.timeutil import utcnow
    from ..repo import maintenance as windows

    now = utcnow()
    rows = [
        w
        for w in windows.windows(state.repo(), warn=warn)
        if show_all or w.state(now) in ("scheduled", "in_progress")
    ]
    if as_json:
        emit_json([w.as_json(now) for w in rows])
        return
    if not rows:
        click.echo("No maintenance windows scheduled or in progress.", err=True)
        return
    width = max(len(w.id) for w in rows)
    for w in rows:
        shown = w.state(now)
        click.echo(
            f"{safe(w.id):<{width}}  {style(f'{shown:<11}', fg=STATE_COLOURS[shown])}  "
            f"{_when(w.start)} to {_when(w.end)}  {safe(', '.join(w.services))}  {safe(w.title)}"
        )


@maintenance.command("cancel")
@click.argument("window_id", metavar="ID")
@click.option("--no-commit", is_flag=True, help="Write the file only; make no git commit.")
@json_option
@click.pass_obj
@handle_errors
def cancel(state: State, window_id: str, no_commit: bool, as_json: bool) -> None:
    """Cancel a scheduled or running window: alerts open incidents again.

    ID is the window's ID or its end (`x7k2`). A completed window cannot be cancelled.
    """
    from ..incident.timeutil import utcnow
    from ..repo import maintenance as windows

    now = utcnow()
    window = windows.cancel(state.repo(), window_id, commit=not no_commit, now=now)
    _report("Cancelled", window, now, as_json)


COMMANDS: list[click.Command] = [maintenance]
