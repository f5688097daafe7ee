"""The GitHub workflows we ship are valid, pinned and clean under zizmor."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import tool

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
FILES = sorted(p for p in WORKFLOWS.glob("*") if p.suffix in (".yml", ".yaml"))
IDS = [p.name for p in FILES]
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


def offline_env() -> dict[str, str]:
    # No token: zizmor must not go online, whatever the developer's shell holds.
    return {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}


def steps(path: Path) -> list[dict[str, object]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_workflows_exist() -> None:
    """The folder holds at least ci.yml (a guard against testing nothing)."""
    assert "ci.yml" in IDS


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_matches_github_workflow_schema(path: Path) -> None:
    """check-jsonschema's vendored GitHub workflow schema accepts the file."""
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_zizmor_finds_nothing(path: Path) -> None:
    """zizmor (offline audits) reports no finding: exit 0, nothing to report."""
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(path)],
        capture_output=True,
        text=True,
        env=offline_env(),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr, result.stdout


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_actions_pinned_by_sha_with_version_comment(path: Path) -> None:
    """Every `uses:` is a full 40-character commit SHA followed by a `# vX.Y.Z` comment."""
    uses = [str(step["uses"]) for step in steps(path) if "uses" in step]
    for ref in uses:
        if ref.startswith("./"):
            continue  # a local action is pinned by this repository's own commit
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a full commit SHA"
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.search(r"\buses:\s+[^.\s]", line):
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$", line), line


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_checkout_keeps_no_credentials(path: Path) -> None:
    """actions/checkout never leaves the token in .git/config."""
    for step in steps(path):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            with_ = step.get("with") or {}
            assert isinstance(with_, dict)
            assert with_.get("persist-credentials") is False, step


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_no_event_data_in_run(path: Path) -> None:
    """No `${{ github.event.* }}` is pasted into a shell script (template injection)."""
    for step in steps(path):
        script = str(step.get("run", ""))
        assert not re.search(r"\$\{\{[^}]*github\.event\.", script), script
