"""The pre-commit hook: its definition, its command, and a real `pre-commit try-repo` run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import yaml
from conftest import Repo, git, tool

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def hook() -> dict[str, Any]:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    assert [h["id"] for h in hooks] == ["incidentctl-check"]
    found: dict[str, Any] = hooks[0]
    return found


def test_hook_definition() -> None:
    """One python hook, `incidentctl check`, on incident Markdown files, given their names."""
    h = hook()
    assert h["entry"] == "incidentctl check"
    assert h["language"] == "python"
    assert h["pass_filenames"] is True
    assert h["name"]
    pattern = re.compile(h["files"])
    for path, matched in [
        ("incidents/2026/INC-20260301-abcd-queue.md", True),
        ("incidents/.gitkeep", False),
        ("incidents/2026/notes.txt", False),
        ("README.md", False),
        ("docs/incidents/2026/x.md", False),
    ]:
        assert bool(pattern.search(path)) is matched, path


def bad_and_good(repo: Repo) -> tuple[str, str]:
    """A resolved SEV-2 without post-mortem (bad) and an open SEV-3 (good), committed."""
    bad = repo.open("Checkout down", "--severity", "SEV-2")
    repo.ok("status", bad["id"], "resolved")
    good = repo.open("Slow dashboard", "--severity", "SEV-3")
    return str(bad["path"]), str(good["path"])


def run_entry(repo: Repo, *files: str) -> subprocess.CompletedProcess[str]:
    """Run the hook's entry the way pre-commit does: from the root, file names appended."""
    argv = shlex.split(hook()["entry"])
    argv[0] = tool(argv[0])
    return subprocess.run(
        [*argv, *files], cwd=repo.path, capture_output=True, text=True, check=False
    )


def test_entry_fails_on_a_bad_file_and_passes_a_good_one(repo: Repo) -> None:
    """`incidentctl check <files>` as the hook runs it: exit 1 on the bad file, 0 on the good."""
    bad, good = bad_and_good(repo)
    failed = run_entry(repo, bad)
    assert failed.returncode == 1, failed.stderr
    assert f"{bad}:" in failed.stdout
    assert "postmortem-section" in failed.stdout
    passed = run_entry(repo, good)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout == ""
    assert "1 file(s) checked: 0 error(s)" in passed.stderr
    both = run_entry(repo, good, bad)
    assert both.returncode == 1
    assert good not in both.stdout


def test_pre_commit_try_repo(repo: Repo, tmp_path: Path) -> None:
    """Real `pre-commit try-repo` installs the hook from a clone and runs it: red, then green."""
    clone = tmp_path / "hook-repo"
    git(tmp_path, "clone", "--quiet", str(ROOT), str(clone))
    bad, good = bad_and_good(repo)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool("pre-commit"), "try-repo", str(clone), "incidentctl-check", "--files", *files],
            cwd=repo.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    failed = try_repo(bad)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"incidentctl check\.+Failed", failed.stdout), failed.stdout
    assert f"{bad}:" in failed.stdout
    assert "postmortem-section" in failed.stdout
    passed = try_repo(good)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"incidentctl check\.+Passed", passed.stdout), passed.stdout
