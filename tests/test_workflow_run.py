"""The post-mortem check workflow: its file, and its `run:` steps in a simulated Actions job."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from actions_sim import StepRun, all_steps, check_pinned_and_inert, expand, load, run_steps
from click.testing import CliRunner
from conftest import Repo, git

from incidentctl import __version__
from incidentctl.cli import cli
from incidentctl.repo import scaffold

ROOT = Path(__file__).resolve().parent.parent
NAME = "postmortem-check.yml"
OURS = ROOT / ".github" / "workflows" / NAME
PR_BRANCH = "postmortem/checkout-outage"
SLUG = "acme/incidents"


# -- the workflow file --------------------------------------------------------------------------


def test_triggers_and_permissions() -> None:
    """Runs on pull_request for incidents/** and incidentctl.toml, never pull_request_target,
    read-only token."""
    doc = load(OURS.read_text(encoding="utf-8"))
    assert doc["on"] == {"pull_request": {"paths": ["incidents/**", "incidentctl.toml"]}}
    assert "pull_request_target" not in doc["on"]
    assert "pull_request_target" not in yaml.safe_dump(doc)  # nowhere, not even in a job `if:`
    assert doc["permissions"] == {"contents": "read"}
    for job in doc["jobs"].values():
        assert job.get("permissions", {"contents": "read"}) == {"contents": "read"}


def test_steps_are_pinned_and_inject_nothing() -> None:
    """Every action is pinned to a 40-hex SHA; no `${{ github.event` (or any `${{`) in run:."""
    check_pinned_and_inert(all_steps(load(OURS.read_text(encoding="utf-8"))), runs=2)


def test_checkout_has_history_and_no_credentials() -> None:
    """actions/checkout fetches full history (for the merge base) and keeps no token."""
    checkouts = [
        s
        for s in all_steps(load(OURS.read_text(encoding="utf-8")))
        if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert len(checkouts) == 1
    assert checkouts[0]["with"]["fetch-depth"] == 0
    assert checkouts[0]["with"]["persist-credentials"] is False


def test_packaged_workflow_is_ours_but_for_the_install() -> None:
    """The workflow `init` installs is this repository's, with only the install value changed."""
    assert scaffold.workflow_text(NAME, ".") == OURS.read_text(encoding="utf-8")
    user = scaffold.workflow_text(NAME)
    assert f'INCIDENTCTL_INSTALL: "incidentctl=={__version__}"' in user
    assert user.replace(f"incidentctl=={__version__}", ".") == OURS.read_text(encoding="utf-8")


# -- running it ---------------------------------------------------------------------------------


def run_job(workspace: Path, summary: Path, head_ref: str) -> list[StepRun]:
    """Run the clone's post-mortem check workflow as on a pull request into main."""
    return run_steps(
        workspace / ".github" / "workflows" / NAME,
        workspace,
        {
            "GITHUB_BASE_REF": "main",
            "GITHUB_HEAD_REF": head_ref,
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_REPOSITORY": SLUG,
            "GITHUB_STEP_SUMMARY": str(summary),
        },
        {"github.base_ref": "main", "github.head_ref": head_ref},
    )


def checkout(origin: Path, into: Path, branch: str) -> Path:
    """What actions/checkout with fetch-depth 0 leaves: a full clone on the PR's head."""
    into.parent.mkdir(parents=True)
    git(into.parent, "clone", "--quiet", str(origin), str(into))
    git(into, "checkout", "--quiet", branch)
    return into


def write_todos(path: Path) -> None:
    """Replace each placeholder line with prose, as the post-mortem's author would."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if "TODO" in line:
            bullet = "- " if line.lstrip().startswith("- ") else ""
            line = f"{bullet}Written after review.\n"
        out.append(line)
    path.write_text("".join(out), encoding="utf-8")


def test_pull_request_goes_red_then_green(tmp_path: Path, origin: Path) -> None:
    """A PR adding a placeholder post-mortem fails the check step; the fix commit passes it."""
    seed = tmp_path / "seed"
    result = CliRunner().invoke(cli, ["init", str(seed)])
    assert result.exit_code == 0, result.output
    written = (seed / ".github" / "workflows" / NAME).read_text(encoding="utf-8")
    assert written == scaffold.workflow_text(NAME)
    assert scaffold.workflow_text(NAME, ".") == OURS.read_text(encoding="utf-8")

    user = Repo(seed)
    user.git("add", "-A")
    user.git("commit", "--quiet", "-m", "incidentctl init")
    # An old incident on main that fails check: the PR must not be blamed for it.
    old = user.open("Old outage", "--severity", "SEV-2")
    user.ok("status", old["id"], "resolved")
    user.git("remote", "add", "origin", str(origin))
    user.git("push", "--quiet", "origin", "main")

    user.git("checkout", "--quiet", "-b", PR_BRANCH)
    new = user.open("Checkout returns 500s", "--severity", "SEV-2")
    user.ok("status", new["id"], "resolved")
    user.ok("postmortem", new["id"])
    user.git("push", "--quiet", "origin", PR_BRANCH)

    # First run: red.
    summary = tmp_path / "summary-1.md"
    ran = run_job(checkout(origin, tmp_path / "run-1" / "ws", PR_BRANCH), summary, PR_BRANCH)
    assert [r.name for r in ran] == ["Install incidentctl", "Check changed incidents"]
    install, check = ran
    assert install.code == 0, install.stdout + install.stderr
    assert "incidentctl" in install.stdout
    assert f"incidentctl=={__version__}" in install.stdout
    assert check.code == 1, check.stdout + check.stderr
    errors = [line for line in check.stdout.splitlines() if line.startswith("::error ")]
    assert errors
    for line in errors:
        assert line.startswith(f"::error file={new['path']},line="), line
    assert old["path"] not in check.stdout
    assert {re.findall(r"title=incidentctl ([a-z-]+)::", e)[0] for e in errors} == {
        "postmortem-placeholder"
    }
    token = re.search(r"^::stop-commands::(\w+)$", check.stdout, re.M)
    assert token
    assert f"\n::{token.group(1)}::\n" in check.stdout
    report = summary.read_text(encoding="utf-8")
    assert report.startswith("## incidentctl check failed\n")
    assert "1 incident file(s) checked" in report
    assert f"| `{new['path']}` |" in report
    assert old["path"] not in report

    # The author writes the sections and pushes; the next run is green.
    write_todos(user.file(new["path"]))
    user.git("commit", "--quiet", "-am", "Write the post-mortem")
    user.git("push", "--quiet", "origin", PR_BRANCH)
    summary = tmp_path / "summary-2.md"
    ran = run_job(checkout(origin, tmp_path / "run-2" / "ws", PR_BRANCH), summary, PR_BRANCH)
    assert [r.code for r in ran] == [0, 0], [(r.name, r.stdout, r.stderr) for r in ran]
    assert "::error" not in ran[1].stdout
    assert "no problems" in ran[1].stdout
    assert summary.read_text(encoding="utf-8").startswith("## incidentctl check passed\n")


def test_check_step_takes_the_policy_of_the_base_branch() -> None:
    """The check step runs --changed-since against origin/$BASE_REF and never opts out of its
    policy with --policy-from-worktree."""
    scripts = [
        str(s["run"]) for s in all_steps(load(OURS.read_text(encoding="utf-8"))) if "run" in s
    ]
    check = [s for s in scripts if "incidentctl check" in s]
    assert check == ['incidentctl check --changed-since "origin/$BASE_REF" --format github']
    assert "--policy-from-worktree" not in OURS.read_text(encoding="utf-8").replace(
        "never add --policy-from-worktree", ""
    )


WEAKER = "[severities.SEV-1]\npostmortem = false\n"


def test_pull_request_that_weakens_the_policy_still_fails(tmp_path: Path, origin: Path) -> None:
    """A PR closing a SEV-1 without a post-mortem and setting `postmortem = false` for SEV-1 in
    incidentctl.toml fails the simulated job, with a ::notice:: and the notice in the summary,
    though by its own rules (--policy-from-worktree) the branch passes."""
    seed = tmp_path / "seed"
    result = CliRunner().invoke(cli, ["init", str(seed)])
    assert result.exit_code == 0, result.output
    user = Repo(seed)
    user.git("add", "-A")
    user.git("commit", "--quiet", "-m", "incidentctl init")
    user.git("remote", "add", "origin", str(origin))
    user.git("push", "--quiet", "origin", "main")

    user.git("checkout", "--quiet", "-b", PR_BRANCH)
    new = user.open("Database down", "--severity", "SEV-1")
    user.ok("status", new["id"], "resolved")
    (seed / "incidentctl.toml").write_text(WEAKER, encoding="utf-8")
    user.git("add", "incidentctl.toml")
    user.git("commit", "--quiet", "-m", "SEV-1 needs no post-mortem")
    user.ok("status", new["id"], "closed")
    user.git("push", "--quiet", "origin", PR_BRANCH)
    # By its own rules the branch is clean: only the base branch's policy can fail it.
    own = user.run("check", "--changed-since", "main", "--policy-from-worktree")
    assert own.exit_code == 0, own.output

    summary = tmp_path / "summary.md"
    ran = run_job(checkout(origin, tmp_path / "run" / "ws", PR_BRANCH), summary, PR_BRANCH)
    assert [r.name for r in ran] == ["Install incidentctl", "Check changed incidents"]
    check = ran[1]
    assert check.code == 1, check.stdout + check.stderr
    errors = [line for line in check.stdout.splitlines() if line.startswith("::error ")]
    assert any("title=incidentctl closed-postmortem::" in e for e in errors), errors
    assert all(e.startswith(f"::error file={new['path']},line=") for e in errors), errors
    notices = [line for line in check.stdout.splitlines() if line.startswith("::notice ")]
    assert len(notices) == 1
    assert "edits incidentctl.toml" in notices[0]
    assert "rules of origin/main" in notices[0]
    report = summary.read_text(encoding="utf-8")
    assert report.startswith("## incidentctl check failed\n")
    assert "Policy: incidentctl.toml as of origin/main (" in report
    assert "> **Notice:** this change edits incidentctl.toml" in report


def test_expressions_other_than_refs_are_refused() -> None:
    """The simulation evaluates only base_ref/head_ref, and fails on anything else."""
    context = {"github.base_ref": "main", "github.head_ref": "b"}
    assert expand("origin/${{ github.base_ref }}", context) == "origin/main"
    with pytest.raises(pytest.fail.Exception):
        expand("${{ github.event.pull_request.title }}", context)
