"""Meta tests: every command documents itself, answers -h, and is in the README."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import console_script, run_env

from incidentctl import __version__
from incidentctl.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The name path of every command and subcommand, groups included."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from walk(command, path)


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.commands.get(name)
        assert found is not None, path
        command = found
    return command


COMMANDS = list(walk(cli))
IDS = [" ".join(path) for path in COMMANDS]


def test_commands_were_found() -> None:
    """The walk sees the commands the SPEC names (a guard against an empty table)."""
    assert {"open", "log", "status", "severity", "show", "list", "schema"} <= set(IDS)


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_command_has_help_text(path: tuple[str, ...]) -> None:
    """Each command has a docstring: a one-line summary for the command list, and help."""
    command = command_at(path)
    assert (command.help or "").strip(), f"`incidentctl {' '.join(path)}` has no help text"
    assert command.get_short_help_str().strip()


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=["incidentctl", *IDS])
def test_dash_h_prints_help(path: tuple[str, ...]) -> None:
    """`-h` is a synonym of `--help` on every command and prints its usage, exit 0."""
    result = CliRunner().invoke(cli, [*path, "-h"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.startswith("Usage: ")
    assert result.stdout == CliRunner().invoke(cli, [*path, "--help"]).stdout


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_command_is_in_readme(path: tuple[str, ...]) -> None:
    """The README mentions every command as `incidentctl <name>` in backticks."""
    text = README.read_text(encoding="utf-8")
    name = " ".join(path)
    pattern = re.compile(r"`incidentctl " + re.escape(name) + r"[` ]")
    assert pattern.search(text), f"README.md never shows `incidentctl {name}`; document it"


def test_version_via_console_script() -> None:
    """`incidentctl --version` prints `incidentctl <version>` and nothing else."""
    result = subprocess.run(
        [console_script(), "--version"], capture_output=True, text=True, env=run_env(), check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"incidentctl {__version__}\n"
    assert result.stderr == ""


def test_version_via_click_matches() -> None:
    """The click path (e.g. `python -m incidentctl --version`, CliRunner) says the same."""
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"incidentctl {__version__}\n"
    module = subprocess.run(
        [sys.executable, "-m", "incidentctl", "--version"],
        capture_output=True,
        text=True,
        env=run_env(),
        check=False,
    )
    assert module.returncode == 0, module.stderr
    assert module.stdout == f"incidentctl {__version__}\n"
