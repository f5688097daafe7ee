"""The two set-up commands exist, parse, and are the ones the README and CI use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [ROOT / "scripts" / "test", ROOT / "scripts" / "demo", ROOT / ".ci" / "run"]


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_script_is_executable_bash(path: Path) -> None:
    """Each script is executable, starts with a bash shebang and parses (`bash -n`)."""
    assert os.access(path, os.X_OK), f"{path} is not executable; git update-index --chmod=+x"
    assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run execs scripts/test and nothing else; the README gives that same command."""
    lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["exec scripts/test"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "scripts/test" in readme and "scripts/demo" in readme


@pytest.mark.parametrize("name", ["test", "demo"])
def test_script_is_strict_and_never_prompts(name: str) -> None:
    """Both scripts stop on errors and work from any folder; the demo reads no stdin."""
    text = (ROOT / "scripts" / name).read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert 'cd "$(dirname "$0")/.."' in text
    if name == "demo":
        assert "exec </dev/null" in text
