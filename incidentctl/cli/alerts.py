"""Alerts: `open --alert-payload` (its output) and `serve`, the webhook receiver."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ..safetext import safe
from .common import State, commit_note, emit_json, handle_errors, style

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
    elif outcome.extra.get("maintenance"):
        click.echo(
            f"Held back: {notice.format} alert for {safe(', '.join(notice.services))} during "
            f"maintenance {safe(outcome.extra['maintenance'])}; recorded in its file "
            f"({commit_note(outcome.commit)})",
            err=True,
        )
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
    state = click.get_current_context().find_object(State)
    events = outcome.events()
    if events and outcome.id and not (state and state.no_notify):
        from .notices import tell

        for line in tell(repo, outcome.id, events):
            click.echo(line, err=True)


def _secret(path: str | None, variable: str, what: str) -> bytes | None:
    """A secret from a file (first 4 KiB, whitespace stripped) or an environment variable."""
    import os

    if path is not None:
        try:
            with open(path, "rb") as handle:
                value = handle.read(4096).strip()
        except OSError as exc:
            raise click.ClickException(
                f"cannot read the {what} file {safe(path)}: {exc.strerror}"
            ) from None
        if not value:
            raise click.ClickException(f"the {what} file {safe(path)} is empty")
        return value
    found = os.environ.get(variable, "").strip()
    return found.encode() if found else None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9095, show_default=True)
@click.option(
    "--spool",
    "spool_dir",
    type=click.Path(file_okay=False),
    help="Where accepted payloads wait.  [default: .git/incidentctl/spool]",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    help="The bearer token clients send (else INCIDENTCTL_SERVE_TOKEN).",
)
@click.option(
    "--pagerduty-secret-file",
    type=click.Path(dir_okay=False),
    help="Verify PagerDuty's X-PagerDuty-Signature (else INCIDENTCTL_PAGERDUTY_SECRET).",
)
@click.option(
    "--insecure-no-auth", is_flag=True, help="Take requests with no credential (loopback only)."
)
@click.option(
    "--max-body",
    type=click.IntRange(1024, 64 * 1024 * 1024),
    default=1024 * 1024,
    show_default=True,
    help="The largest payload taken, in bytes.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="The most payloads applied together (one commit per incident per batch).",
)
@click.option(
    "--push/--no-push",
    default=None,
    help="Run `incidentctl sync` after each batch.  [default: `push` in incidentctl.toml]",
)
@click.pass_obj
@handle_errors
def serve(
    state: State,
    host: str,
    port: int,
    spool_dir: str | None,
    token_file: str | None,
    pagerduty_secret_file: str | None,
    insecure_no_auth: bool,
    max_body: int,
    batch: int,
    push: bool | None,
) -> None:
    """Receive alerts over HTTP: POST /alerts/{format}, GET /healthz, GET /metrics.

    Each accepted payload is fsynced to the spool before the 202 answer; one writer
    applies them in order, one commit per incident per batch. SIGTERM or Ctrl-C stops
    taking requests, applies what is spooled, and exits 0. Run it in a clone of its own.
    """
    from ..alerts.serve import Settings, run

    repo = state.repo()
    settings = Settings(
        host=host,
        port=port,
        token=_secret(token_file, "INCIDENTCTL_SERVE_TOKEN", "token"),
        pagerduty_secret=_secret(
            pagerduty_secret_file, "INCIDENTCTL_PAGERDUTY_SECRET", "PagerDuty secret"
        ),
        max_body=max_body,
        insecure_no_auth=insecure_no_auth,
    )
    spool = spool_dir or str(repo.git.git_dir / "incidentctl" / "spool")
    from .notices import Follow

    sys.exit(run(str(repo.root), settings, spool, push=push, batch=batch, follow=Follow()))


COMMANDS: list[click.Command] = [serve]
