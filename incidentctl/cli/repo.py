"""Repository-level commands: init, schema, completion."""

from __future__ import annotations

from pathlib import Path

import click

from ..safetext import safe
from .common import emit_json, handle_errors, style


@click.command("init")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option(
    "--install",
    metavar="PIP-SPEC",
    help="What the GitHub workflows pip-install.  [default: this incidentctl's version]",
)
@click.option(
    "--tracker",
    type=click.Choice(["github", "jira", "gitlab"]),
    default="github",
    show_default=True,
    help="Where action items become tickets: installs that tracker's action-items "
    "workflow and a commented [trackers] table to fill in.",
)
@handle_errors
def init(path: Path | None, force: bool, install: str | None, tracker: str) -> None:
    """Scaffold an incident repository in PATH (default: here); runs `git init` if needed.

    Writes incidentctl.toml, incidents/ and the GitHub workflows (the post-mortem
    check, action items, alert intake, the status page, reminders). Never
    overwrites an existing file without --force.
    """
    from ..repo.scaffold import init as scaffold

    created, kept, ran_git_init = scaffold(
        path or Path.cwd(), force=force, install=install, tracker=tracker
    )
    if ran_git_init:
        click.echo("Initialised a git repository.")
    for name in created:
        click.echo(f"  {style('created', fg='green')}  {safe(name)}")
    for name in kept:
        click.echo(f"  {style('kept', fg='yellow')}     {safe(name)} (exists; --force overwrites)")
    click.echo('Next: incidentctl open "What is broken" --severity SEV-2')


@click.command("schema")
def schema() -> None:
    """Print the JSON Schema of the incident front matter."""
    from ..incident.model import schema as make_schema

    emit_json(make_schema())


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script, e.g. `eval "$(incidentctl completion bash)"`."""
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root().command
    cls = get_completion_class(shell)
    assert cls is not None  # click.Choice admits only shells click supports
    click.echo(cls(root, {}, "incidentctl", "_INCIDENTCTL_COMPLETE").source())


COMMANDS = [init, schema, completion]
