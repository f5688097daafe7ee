"""Working as a team: sync with the remote, and the git merge driver."""

from __future__ import annotations

from pathlib import Path

import click

from ..safetext import safe
from .common import State, emit_json, handle_errors, json_option, style


@click.command("sync")
@click.option(
    "--attempts",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many times to retry when someone else pushed first.",
)
@json_option
@click.pass_obj
@handle_errors
def sync(state: State, attempts: int, as_json: bool) -> None:
    """Fetch, rebase your incident commits onto the remote branch, push; lose nothing.

    Retries with jittered backoff when another clone pushed first; never force-pushes.
    Timelines and action items changed on both sides are merged by the incidentctl
    merge driver (`incidentctl init` registers it). A conflict it cannot settle (the
    same field set differently on both sides) stops the sync with the repository as
    it was, and says how to resolve it.
    """
    result = state.repo().sync(attempts=attempts)
    if as_json:
        emit_json(
            {
                "remote": result.remote,
                "branch": result.branch,
                "pushed": result.pushed,
                "attempts": result.attempts,
                "pulled": result.pulled,
                "renumbered": [{"from": a, "to": b} for a, b in result.renumbered],
            }
        )
        return
    for old, new in result.renumbered:
        old = safe(old)
        click.echo(f"Renumbered {old} to {style(new, bold=True)}: {old} is taken on the remote.")
    where = safe(f"{result.remote}/{result.branch}")
    pulled = f"Pulled {result.pulled} commit(s); " if result.pulled else ""
    if result.pushed:
        tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
        click.echo(f"{pulled}Pushed {result.pushed} commit(s) to {where}{tries}.")
    else:
        click.echo(f"{pulled}Up to date with {where}.")


@click.command("merge-driver")
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("ours", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("path", required=False, default="<incident>")
@handle_errors
def merge_driver(base: Path, ours: Path, theirs: Path, path: str) -> None:
    """git's merge driver for incident files (git runs it; `init` registers it).

    Merges timeline entries and action items three-way against BASE: both sides'
    additions are kept (entries in time order), a deletion or edit made on one side is
    taken, and an entry, item or field changed differently on both sides is left
    between conflict markers. Writes the result over OURS; exit 0 clean, 1 conflict.
    """
    from ..repo.merge import run_driver

    raise SystemExit(run_driver(base, ours, theirs, path))


COMMANDS = [sync, merge_driver]
