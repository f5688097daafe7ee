"""The command line: the `incidentctl` group, assembled from the command modules.

Only this package imports click. Each module (incident, read, review, issues, team,
repo) lists its commands in COMMANDS; what they share is in common.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from .. import __version__
from .common import CONTEXT, Group, State


@click.group(
    cls=Group,
    context_settings=CONTEXT,
    epilog="Run `incidentctl COMMAND -h` for a command's options. "
    "Docs: the README of the incidentctl repository.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="INCIDENTCTL_REPO",
    help="The incident repository (default: the git repository around the current folder).",
)
@click.version_option(
    __version__, "--version", prog_name="incidentctl", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(ctx: click.Context, repo: Path | None) -> None:
    """Incidents as code: one Markdown file per incident, one git commit per change.

    \b
    A typical incident:
      incidentctl open "API returning 500s" --severity SEV-2 --service api
      incidentctl log 4f2k "Rolled back deploy 1234" --kind action
      incidentctl status 4f2k resolved -m "Error rate back to baseline"
    """
    ctx.obj = State(repo)


def _register() -> None:
    from . import (
        alerts,
        comms,
        history,
        incident,
        issues,
        maintenance,
        read,
        repo,
        review,
        site,
        team,
    )

    modules = (
        incident,
        read,
        review,
        issues,
        team,
        repo,
        alerts,
        history,
        maintenance,
        site,
        comms,
    )
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


_register()
