"""Shared fixtures: real git repositories, isolated from the developer's git config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from incidentctl.cli import cli

AUTHOR = ("Alice Responder", "alice@example.com")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's ~/.gitconfig, hooks, signing or editor."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Alice Responder\n\temail = alice@example.com\n"
        "[commit]\n\tgpgSign = false\n[init]\n\tdefaultBranch = main\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "INCIDENTCTL_REPO",
        "VISUAL",
        "EDITOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run real git in `cwd` and return its stdout."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@dataclass
class Repo:
    """A real git work tree with an initial commit, driven through the CLI."""

    path: Path

    def run(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli, ["--repo", str(self.path), *args], input=input, env=env, catch_exceptions=True
        )

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def open(self, title: str = "API returning 500s", *args: str) -> dict[str, Any]:
        data: dict[str, Any] = self.json("open", title, *args)
        return data

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.path, *args, check=check)

    def commits(self) -> int:
        return int(self.git("rev-list", "--count", "HEAD").strip())

    def file(self, rel: str) -> Path:
        return self.path / rel


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    path = tmp_path / "work"
    path.mkdir()
    git(path, "init", "--quiet")
    (path / "README.md").write_text("# ops\n")
    git(path, "add", "README.md")
    git(path, "commit", "--quiet", "-m", "initial")
    yield Repo(path)


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository to act as `origin`."""
    path = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(path))
    return path


def tool(name: str) -> str:
    """An installed console script: next to this Python (a venv), else on PATH.

    A missing tool is a broken install: tests fail on it, never skip.
    """
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    assert found, f"{name} is not installed; run `pip install -e '.[test]'` (or scripts/test)"
    return found


def log_in_fresh_process(repo: Repo, *args: str, report: str) -> subprocess.CompletedProcess[str]:
    """`incidentctl --repo R log ARGS` through the fast path, in a new Python.

    After the command, the process prints `report` (Python arguments to print(),
    evaluated there with `sys` and `status` at hand): what the command loaded.
    """
    code = (
        "import sys; from incidentctl.fastpath import run; status = run(sys.argv[1:]); "
        f"print({report}); sys.exit(status)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "--repo", str(repo.path), "log", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def console_script() -> str:
    """The installed `incidentctl`."""
    return tool("incidentctl")


def run_env() -> dict[str, str]:
    """The environment for running the installed `incidentctl` as a subprocess."""
    return dict(os.environ)


# A local stand-in for the GitHub REST API (issues), for `incidentctl issues sync`.
from github_standin import DEFAULT_REPO, GitHubStandIn  # noqa: E402


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    """A real HTTP GitHub stand-in on 127.0.0.1 with the empty repository DEFAULT_REPO.

    `github.url` is the API base, `github.token` the valid token, `github.env()` the
    GITHUB_TOKEN / GITHUB_REPOSITORY / GITHUB_API_URL a workflow job would see.
    """
    with GitHubStandIn(repos=[DEFAULT_REPO]) as standin:
        yield standin
