"""Post-mortem commands: postmortem, action add/done/list, check."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..safetext import safe
from .common import (
    State,
    emit_json,
    handle_errors,
    id_argument,
    json_option,
    no_commit_option,
    report_change,
    style,
    warn,
)

if TYPE_CHECKING:
    from ..incident.config import Config


@click.command("postmortem")
@id_argument
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def postmortem(state: State, incident_id: str, no_commit: bool, as_json: bool) -> None:
    """Add the post-mortem sections, prefilled from the incident.

    Only missing sections are added: re-running never changes text you wrote. The
    figures and action-item tables between `incidentctl:` markers are refreshed.
    """
    from ..errors import NothingToDo

    try:
        change = state.repo().postmortem(incident_id, commit=not no_commit)
    except NothingToDo as exc:
        if as_json:
            ident, path = state.repo().resolve(incident_id)
            emit_json({"id": ident, "path": state.repo().rel(path), "commit": None, "added": []})
        else:
            click.echo(safe(exc.message), err=True)
        return
    report_change(change, as_json)
    if change.extra["added"] and not as_json:
        click.echo(f"  Write the sections marked TODO in {safe(change.path)},")
        click.echo(f"  then `incidentctl check {safe(change.path)}` and open a pull request.")


@click.group("action", context_settings={"help_option_names": ["-h", "--help"]})
def action() -> None:
    """Action items: add, complete and list the follow-ups of incidents."""


def _due(value: str) -> date:
    from ..errors import InvalidInput
    from ..incident.timeutil import parse_date, parse_duration, utcnow

    try:
        return utcnow().date() + parse_duration(value, what="--due")
    except ValueError:
        pass
    try:
        return parse_date(value, what="--due")
    except InvalidInput:
        raise click.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD or a delay such as 7d or 2w",
            param_hint="--due",
        ) from None


@action.command("add")
@id_argument
@click.argument("title")
@click.option("--owner", "-o", required=True, help="Who owns it (a person or team).")
@click.option("--due", "-d", required=True, help="Due date: YYYY-MM-DD, or a delay like 7d or 2w.")
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def action_add(
    state: State,
    incident_id: str,
    title: str,
    owner: str,
    due: str,
    no_commit: bool,
    as_json: bool,
) -> None:
    """Add an action item to an incident (AI-1, AI-2, …)."""
    when = _due(due)
    change = state.repo().add_action(
        incident_id, title, owner=owner, due=when, commit=not no_commit
    )
    report_change(change, as_json)


@action.command("done")
@id_argument
@click.argument("action_id", metavar="AI")
@no_commit_option
@json_option
@click.pass_obj
@handle_errors
def action_done(
    state: State, incident_id: str, action_id: str, no_commit: bool, as_json: bool
) -> None:
    """Mark action item AI (e.g. AI-2, or 2) of an incident done."""
    change = state.repo().complete_action(incident_id, action_id, commit=not no_commit)
    report_change(change, as_json)


@action.command("list")
@click.argument("incident_id", metavar="[ID]", required=False)
@click.option("--open", "open_only", is_flag=True, help="Only items not done.")
@click.option("--overdue", is_flag=True, help="Only open items past their due date.")
@json_option
@click.pass_obj
@handle_errors
def action_list(
    state: State, incident_id: str | None, open_only: bool, overdue: bool, as_json: bool
) -> None:
    """List action items of one incident, or of every incident."""
    rows = state.repo().actions(
        incident_id,
        open_only=open_only,
        overdue=overdue,
        warn=warn,
    )
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    if not rows:
        click.echo("No action items match.", err=True)
        return
    for r in rows:
        mark = "x" if r.status == "done" else " "
        due = r.due.isoformat() if r.due else "no due date"
        late = style(" OVERDUE", fg="red", bold=True) if r.overdue else ""
        owner = safe(r.owner or "-")
        click.echo(
            f"[{mark}] {safe(r.incident)} {safe(r.id):<5} {due}  {owner:<16} {safe(r.title)}{late}"
        )


def check_sections(config: Config) -> None:
    """The capability tables of incidentctl.toml ([alerts], ...) are checked too."""
    from ..alerts.config import load as alerts_config

    alerts_config(config)


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--changed-since",
    metavar="REF",
    help="Only incident files changed since the merge base with REF (for PRs), checked "
    "against the incidentctl.toml of REF.",
)
@click.option(
    "--policy-from-worktree",
    is_flag=True,
    help="With --changed-since: use the work tree's incidentctl.toml, not REF's.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    show_default=True,
    help="github: workflow annotations and a job summary.",
)
@click.pass_obj
@handle_errors
def check(
    state: State,
    paths: tuple[Path, ...],
    changed_since: str | None,
    policy_from_worktree: bool,
    fmt: str,
) -> None:
    """Validate incident files and their post-mortems; exit 1 on any error.

    Checks the front matter against the schema, timestamps and status, unique IDs and
    file names, action item owners and due dates, and, for severities that need one,
    the post-mortem's required sections (present, written, no placeholder text).
    With --changed-since REF the rules are those of REF's incidentctl.toml, so a pull
    request cannot relax its own check.
    """
    from ..errors import IncidentctlError
    from ..review.check import run

    if policy_from_worktree and changed_since is None:
        raise IncidentctlError(
            "--policy-from-worktree goes with --changed-since REF; without it the work "
            "tree's incidentctl.toml is always used"
        )
    repo = state.repo()
    check_sections(repo.config)
    report = run(
        repo,
        paths,
        changed_since=changed_since,
        policy_from_worktree=policy_from_worktree,
    )
    if fmt == "json":
        emit_json(report.as_json())
    elif fmt == "github":
        from ..review.annotations import emit

        emit(report, click.echo, os.environ.get("GITHUB_STEP_SUMMARY"))
    else:
        for problem in report.problems:
            click.echo(problem.text())
        if report.policy is not None:
            click.echo(report.policy.text(), err=True)
        for notice in report.notices:
            click.echo(f"notice: {notice}", err=True)
        errors = sum(p.level == "error" for p in report.problems)
        click.echo(
            f"{len(report.checked)} file(s) checked: {errors} error(s), "
            f"{len(report.problems) - errors} warning(s).",
            err=True,
        )
    if not report.ok:
        raise SystemExit(1)


COMMANDS = [postmortem, action, check]
