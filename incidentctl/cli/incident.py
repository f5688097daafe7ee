"""Commands that change one incident: open, log, status, severity, assign, edit."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from ..output import carried_note, opened_report
from ..safetext import safe
from .common import (
    State,
    commit_note,
    handle_errors,
    id_argument,
    json_option,
    no_commit_option,
    notify_after,
    report_change,
    style,
)

SEVERITY_HELP = "SEV-1..SEV-4 (also 1..4, P0..P3, critical/high/medium/low)."
ENTRY_KINDS = ["note", "decision", "action", "comms", "public"]


def _time(value: str | None, what: str) -> datetime | None:
    from ..incident.timeutil import parse_time

    return parse_time(value, what=what) if value is not None else None


@click.command("open")
@click.argument("title", required=False)
@click.option("--severity", "-s", "severity", help=SEVERITY_HELP)
@click.option(
    "--type",
    "-t",
    "kind",
    type=click.Choice(["outage", "security", "performance", "data", "integration"]),
    help="The kind of incident; picks the checklist.  [default: outage]",
)
@click.option(
    "--env",
    "-e",
    "environment",
    type=click.Choice(["production", "staging", "development"]),
    help="Where it happens.  [default: production]",
)
@click.option("--service", "services", multiple=True, help="An affected service (repeatable).")
@click.option("--commander", "-c", help="Incident Commander (default: on-call, else you).")
@click.option("--summary", help="The first summary: what is happening, who is affected.")
@click.option("--detected-at", help="When it was detected (RFC 3339 with offset, or '15m').")
@click.option("--started-at", help="When impact started (RFC 3339 with offset, or '1h').")
@click.option("--at", "opened_at", help="Backfill: when it was opened.  [default: now]")
@click.option(
    "--alert-payload",
    metavar="JSON|@FILE|-",
    help="Open (or update) the incident from an alert payload; TITLE is then optional.",
)
@click.option(
    "--source",
    "alert_format",
    type=click.Choice(["plain", "alertmanager", "grafana", "pagerduty", "datadog"]),
    help="The payload's format.  [default: told from its shape]",
)
@click.option(
    "--no-dedupe",
    is_flag=True,
    help="Open a new incident even when one is open for the same alert.",
)
@click.option(
    "--manual-incident",
    is_flag=True,
    help="Record that a person opened it by hand (source: manual), not an alert.",
)
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def open_(
    state: State,
    title: str | None,
    severity: str | None,
    kind: str | None,
    environment: str | None,
    services: tuple[str, ...],
    commander: str | None,
    summary: str | None,
    detected_at: str | None,
    started_at: str | None,
    opened_at: str | None,
    alert_payload: str | None,
    alert_format: str | None,
    no_dedupe: bool,
    manual_incident: bool,
    no_commit: bool,
    as_json: bool,
) -> None:
    """Open an incident: create its file and commit it.

    In a terminal, asks for anything missing (title, severity, symptoms); with no
    terminal it never waits and uses the configured default severity (SEV-3).
    With --alert-payload, a payload whose alert already has an open incident adds
    to that incident's timeline instead (see the README, "Alerts").
    """
    repo = state.repo()
    if alert_payload is not None:
        if manual_incident:
            raise click.UsageError("--manual-incident and --alert-payload exclude each other")
        from .alerts import open_from_alert

        fields: dict[str, Any] = {"title": title, "severity": severity, "type": kind}
        fields.update(environment=environment, services=services, commander=commander)
        fields.update(summary=summary)
        dedupe, commit = not no_dedupe, not no_commit
        open_from_alert(repo, alert_payload, alert_format, dedupe, fields, commit, as_json)
        return
    if alert_format or no_dedupe:
        raise click.UsageError("--source and --no-dedupe go with --alert-payload")
    interactive = sys.stdin.isatty() and not as_json
    if title is None:
        if not interactive:
            raise click.UsageError('give the incident a TITLE, e.g. incidentctl open "API 500s"')
        title = click.prompt("Title (what is broken, as users see it)")
    if severity is None and interactive:
        for name, policy in repo.config.severities.items():
            about = f"{name}: {policy.description} (respond {policy.response})"
            click.echo(f"  {safe(about)}", err=True)
        severity = click.prompt("Severity", default=repo.config.default_severity)
        if summary is None:
            summary = click.prompt("Symptoms (optional)", default="", show_default=False) or None
    change = repo.new(
        title,
        severity=severity,
        type=kind,
        environment=environment,
        services=services,
        commander=commander,
        summary=summary,
        detected_at=_time(detected_at, "--detected-at"),
        started_at=_time(started_at, "--started-at"),
        opened_at=_time(opened_at, "--at"),
        source={"kind": "manual"} if manual_incident else None,
        commit=not no_commit,
    )
    policy = repo.config.severities[change.extra["severity"]]
    click.echo(opened_report(change, policy.response, policy.update_every, as_json))
    notify_after(change)


@click.command("log")
@id_argument
@click.argument("text")
@click.option("--at", help="When it happened (RFC 3339 with offset, or '10m' ago).  [default: now]")
@click.option("--kind", "-k", type=click.Choice(ENTRY_KINDS), default="note", show_default=True)
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def log(
    state: State,
    incident_id: str,
    text: str,
    at: str | None,
    kind: str,
    no_commit: bool,
    as_json: bool,
) -> None:
    """Append a timeline entry (kept in time order)."""
    change = state.repo().append(
        incident_id, text, kind=kind, at=_time(at, "--at"), commit=not no_commit
    )
    report_change(change, as_json)


@click.command("status")
@id_argument
@click.argument("status", metavar="STATUS")
@click.option("--message", "-m", help="Why: goes into the timeline entry.")
@click.option("--at", help="When it happened (RFC 3339 with offset, or '10m' ago).  [default: now]")
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def status(
    state: State,
    incident_id: str,
    status: str,
    message: str | None,
    at: str | None,
    no_commit: bool,
    as_json: bool,
) -> None:
    """Change status: triage, investigating, identified, monitoring, resolved, closed, cancelled.

    Any forward move is allowed; resolved -> an earlier status reopens.
    """
    change = state.repo().transition(
        incident_id, status, message=message, at=_time(at, "--at"), commit=not no_commit
    )
    report_change(change, as_json)


@click.command("severity")
@id_argument
@click.argument("severity", metavar="SEV")
@click.option("--message", "-m", "reason", help="Why: goes into the timeline entry.")
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def severity(
    state: State,
    incident_id: str,
    severity: str,
    reason: str | None,
    no_commit: bool,
    as_json: bool,
) -> None:
    """Escalate or downgrade. SEV is SEV-1..SEV-4 (or 1..4, P0..P3, critical..low)."""
    change = state.repo().set_severity(incident_id, severity, reason=reason, commit=not no_commit)
    report_change(change, as_json)


def _role_pairs(values: tuple[str, ...]) -> dict[str, str]:
    roles = {}
    for value in values:
        role, sep, name = value.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise click.BadParameter(f"{value!r} is not ROLE=NAME", param_hint="--role")
        roles[role.strip().lower()] = name.strip()
    return roles


@click.command("assign")
@id_argument
@click.option("--commander", "-c", help="The Incident Commander.")
@click.option(
    "--role",
    "-r",
    "roles",
    multiple=True,
    metavar="ROLE=NAME",
    help="Another role, e.g. comms=bob or scribe=carol (repeatable).",
)
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def assign(
    state: State,
    incident_id: str,
    commander: str | None,
    roles: tuple[str, ...],
    no_commit: bool,
    as_json: bool,
) -> None:
    """Set the Incident Commander and other roles (see `roles` in incidentctl.toml)."""
    change = state.repo().assign(
        incident_id, commander=commander, roles=_role_pairs(roles), commit=not no_commit
    )
    report_change(change, as_json)


@click.command("edit")
@id_argument
@no_commit_option
@click.pass_obj
@handle_errors
def edit(state: State, incident_id: str, no_commit: bool) -> None:
    """Edit the file in $VISUAL or $EDITOR; it is checked on save, then committed.

    An invalid save re-opens the editor (in a terminal) or is kept aside; a save is
    never written over a change made while the editor was open (it is kept aside too,
    in .git/incidentctl/edits/).
    """
    from ..errors import EditConflict, IncidentctlError

    repo = state.repo()
    ident, _, _ = repo.read(incident_id)
    if not no_commit:
        repo.refuse_commit()  # say so before the editor opens, not after the work is done
    repo.ensure_writable(incident_id)  # before the editor: no edit is typed in vain
    started = repo.edit_start(incident_id)
    text = started.text
    while True:
        edited = click.edit(text, extension=".md", require_save=True)
        if edited is None or edited == started.text:
            click.echo("No change; nothing committed.", err=True)
            return
        try:
            change = repo.replace(incident_id, edited, commit=not no_commit, started=started)
        except EditConflict as exc:
            kept = repo.save_edit(ident, edited)
            merged = _merged_edit(started.text, exc.current, edited, exc.path or "")
            if merged is not None and sys.stdin.isatty():
                click.echo(
                    f"{safe(str(exc))}; it is kept in {safe(kept)}. It merges cleanly with "
                    "the new version: the editor opens on the merge.",
                    err=True,
                )
                started, text = repo.edit_start(incident_id), merged
                continue
            raise click.ClickException(
                f"{safe(str(exc))}; it is kept in {safe(kept)}. Run `incidentctl edit "
                f"{ident}` again and bring your changes over from that file"
            ) from None
        except IncidentctlError as exc:
            click.echo(f"Error: {safe(str(exc))}", err=True)
            if sys.stdin.isatty() and click.confirm("Re-open the editor?", default=True):
                text = edited
                continue
            kept = repo.save_edit(ident, edited)
            raise click.ClickException(
                f"the edit was not saved; the file is unchanged; your text is kept in {safe(kept)}"
            ) from None
        if carried_note(change):
            click.echo(carried_note(change))
        click.echo(f"Edited {style(change.id, bold=True)} ({commit_note(change.commit)})")
        return


def _merged_edit(base: str, current: str, edited: str, path: str) -> str | None:
    """The edit merged three-way onto the file as it is now, or None on a conflict."""
    from ..errors import IncidentctlError
    from ..repo.merge import merge_incident

    try:
        merged, clean = merge_incident(base, current, edited, path)
    except (IncidentctlError, ValueError):
        return None
    return merged if clean else None


COMMANDS = [open_, log, status, severity, assign, edit]
