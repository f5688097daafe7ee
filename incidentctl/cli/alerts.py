"""Alerts: `open --alert-payload` (its output) and `serve`, the webhook receiver."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ..safetext import safe
from .common import commit_note, emit_json, style

if TYPE_CHECKING:
    from ..repo.incidents import IncidentRepo


def open_from_alert(
    repo: IncidentRepo,
    payload: str,
    fmt: str | None,
    dedupe: bool,
    fields: dict[str, Any],
    commit: bool,
    as_json: bool,
) -> None:
    """`open --alert-payload`: one payload, applied as the receiver applies it."""
    from ..alerts import formats, intake
    from ..incident.timeutil import utcnow

    notice = formats.read(formats.argument(payload, sys.stdin.buffer), fmt)
    [outcome] = intake.apply(
        repo, [(notice, utcnow())], dedupe=dedupe, commit=commit, overrides=fields
    )
    if as_json:
        emit_json({**outcome.as_json(), "path": outcome.path})
    elif outcome.id is None:
        click.echo(
            f"No open incident for this {notice.format} alert ({notice.status}); nothing changed",
            err=True,
        )
    elif outcome.opened:
        again = f", recurrence of {outcome.recurrence_of}" if outcome.recurrence_of else ""
        severity = style(outcome.severity or "", fg="red", bold=True)
        click.echo(
            f"Opened {style(outcome.id, bold=True)} ({severity}, {safe(outcome.status or '')}) "
            f"from a {notice.format} alert{safe(again)}"
        )
        click.echo(f"  {safe(outcome.path or '')}")
        click.echo(f"  {commit_note(outcome.commit, outcome.extra.get('pushed'))}")
    else:
        click.echo(
            f"{style(outcome.id, bold=True)}: alert added to the open incident "
            f"({safe('; '.join(outcome.entries) or 'counted')})"
        )
        click.echo(f"  {commit_note(outcome.commit, outcome.extra.get('pushed'))}")


COMMANDS: list[click.Command] = []
