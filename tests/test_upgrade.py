"""An incident repository set up by incidentctl 0.1.0 works unchanged with this version.

`tests/fixtures/repo-0.1.0.tar.gz` is a work tree with its `.git`, frozen from 0.1.0 by
`tests/fixtures/make_legacy_repo.py`: what `init` wrote (config, templates, workflows,
.gitattributes, the merge driver in .git/config), a resolved SEV-2 with its post-mortem
and action items, an active SEV-3, and the per-clone caches. Nothing in it is changed
here but the merge driver's program path (an upgrade in place keeps the path; the
tarball holds a placeholder for it).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from actions_sim import run_steps
from conftest import console_script, git

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "repo-0.1.0.tar.gz"


def ic(repo: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user types it, in `repo`."""
    done = subprocess.run(
        [console_script(), *args], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def ic_json(repo: Path, *args: str) -> Any:
    return json.loads(ic(repo, *args, "--json").stdout)


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """The 0.1.0 repository unpacked, its merge driver pointing at this installation."""
    with tarfile.open(FIXTURE) as tar:
        for member in tar.getmembers():  # our own fixture, but still: nothing outside
            assert not member.name.startswith(("/", "..")) and ".." not in member.name.split("/")
            assert not (member.issym() or member.islnk()), member.name
        tar.extractall(tmp_path)  # members checked above
    repo = tmp_path / "repo"
    driver = git(repo, "config", "--get", "merge.incidentctl.driver").strip()
    assert driver == "@INCIDENTCTL@ merge-driver %O %A %B %P"
    git(
        repo,
        "config",
        "merge.incidentctl.driver",
        driver.replace("@INCIDENTCTL@", console_script()),
    )
    assert git(repo, "status", "--porcelain") == ""
    return repo


def _ids(repo: Path) -> dict[str, dict[str, Any]]:
    return {row["severity"]: row for row in ic_json(repo, "list")}


def test_reading_commands_see_the_old_repository_as_it_was(legacy: Path) -> None:
    """check passes; list, show, timeline, action list and history read every incident."""
    assert "0 error(s)" in ic(legacy, "check").stderr
    rows = _ids(legacy)
    assert sorted(rows) == ["SEV-2", "SEV-3"]
    sev2 = rows["SEV-2"]["id"]
    shown = ic_json(legacy, "show", sev2)
    assert shown["status"] == "resolved"
    assert [e["text"] for e in shown["timeline"] if e["kind"] == "note"] == [
        "Error rate at 30% on checkout"
    ]
    items = ic_json(legacy, "action", "list", sev2)
    assert sorted(i["title"] for i in items) == ["Add a canary stage", "Alert on checkout 5xx"]
    assert "Rolled back release 4.2" in ic(legacy, "timeline", sev2).stdout
    assert len(ic(legacy, "history", sev2).stdout.strip().splitlines()) >= 8
    assert git(legacy, "status", "--porcelain") == ""


def test_changing_commands_commit_in_the_old_repository(legacy: Path) -> None:
    """log, status, action add/done, postmortem and close work, one commit each."""
    rows = _ids(legacy)
    sev3, sev2 = rows["SEV-3"]["id"], rows["SEV-2"]["id"]
    before = int(git(legacy, "rev-list", "--count", "HEAD"))
    ic(legacy, "log", sev3, "Scaled consumers from 4 to 12")
    ic(legacy, "status", sev3, "monitoring", "-m", "Lag falling")
    ic(legacy, "action", "done", sev2, "AI-1")
    ic(legacy, "status", sev2, "closed")
    assert int(git(legacy, "rev-list", "--count", "HEAD")) == before + 4
    assert git(legacy, "status", "--porcelain") == ""
    assert ic_json(legacy, "show", sev2)["status"] == "closed"
    assert "Scaled consumers from 4 to 12" in [
        e["text"] for e in ic_json(legacy, "show", sev3)["timeline"]
    ]


def test_the_merge_driver_registered_by_the_old_version_merges_timelines(legacy: Path) -> None:
    """Two branches each add an entry at the same place: plain git would conflict; the
    driver entry that 0.1.0 wrote into .git/config merges both."""
    sev3 = _ids(legacy)["SEV-3"]["id"]
    git(legacy, "checkout", "--quiet", "-b", "teammate")
    ic(legacy, "log", sev3, "Entry written on the teammate's branch")
    git(legacy, "checkout", "--quiet", "main")
    ic(legacy, "log", sev3, "Entry written on main")
    merged = subprocess.run(
        ["git", "merge", "--no-edit", "teammate"],
        cwd=legacy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    texts = [e["text"] for e in ic_json(legacy, "show", sev3)["timeline"]]
    assert "Entry written on the teammate's branch" in texts
    assert "Entry written on main" in texts
    assert "<<<<<<<" not in ic(legacy, "show", sev3).stdout
    assert "0 error(s)" in ic(legacy, "check").stderr


def test_the_installed_check_workflow_runs_on_a_pull_request(
    legacy: Path, tmp_path: Path, origin: Path
) -> None:
    """The workflow 0.1.0 installed, run step by step: a change that breaks a post-mortem
    fails the check with annotations on that file."""
    git(legacy, "remote", "add", "origin", str(origin))
    git(legacy, "push", "--quiet", "origin", "main")
    sev2 = _ids(legacy)["SEV-2"]
    git(legacy, "checkout", "--quiet", "-b", "pm-cut")
    path = legacy / sev2["path"]
    text = path.read_text(encoding="utf-8")
    start = text.index("## Root Cause")
    end = text.index("\n## ", start + 1)
    path.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    git(legacy, "commit", "--quiet", "-am", "Drop the root cause")
    git(legacy, "push", "--quiet", "origin", "pm-cut")

    workspace = tmp_path / "run" / "ws"
    workspace.parent.mkdir(parents=True)
    git(workspace.parent, "clone", "--quiet", str(origin), str(workspace))
    git(workspace, "checkout", "--quiet", "pm-cut")
    summary = tmp_path / "summary.md"
    ran = run_steps(
        workspace / ".github" / "workflows" / "postmortem-check.yml",
        workspace,
        {
            "GITHUB_BASE_REF": "main",
            "GITHUB_HEAD_REF": "pm-cut",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_REPOSITORY": "acme/incidents",
            "GITHUB_STEP_SUMMARY": str(summary),
        },
        {"github.base_ref": "main", "github.head_ref": "pm-cut"},
    )
    assert [r.code for r in ran] == [0, 1], [(r.name, r.stdout, r.stderr) for r in ran]
    errors = [line for line in ran[1].stdout.splitlines() if line.startswith("::error ")]
    assert errors and all(e.startswith(f"::error file={sev2['path']},line=") for e in errors)
    assert "Root Cause" in ran[1].stdout
    assert summary.read_text(encoding="utf-8").startswith("## incidentctl check failed\n")
