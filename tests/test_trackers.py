"""Trackers in incidentctl.toml: routing by service, the choice of --tracker, one-line
configuration errors, `init --tracker`, and ticket keys in `action list` and `export`.
GitHub's stand-in serves two repositories; Jira and GitLab have their own test files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Repo
from github_standin import DEFAULT_REPO, GitHubStandIn

from incidentctl.cli import cli

OTHER = "acme/payments-actions"


def configure(repo: Repo, toml: str) -> None:
    repo.file("incidentctl.toml").write_text(toml, encoding="utf-8")
    repo.git("add", "incidentctl.toml")
    repo.git("commit", "-qm", "trackers")


def two_trackers(github: GitHubStandIn) -> str:
    return f"""
[trackers.platform]
type = "github"
repo = "{DEFAULT_REPO}"
api_url = "{github.url}"
token_env = "PLATFORM_TOKEN"

[trackers.payments]
type = "github"
repo = "{OTHER}"
api_url = "{github.url}"
token_env = "PAYMENTS_TOKEN"
services = ["Checkout", "payments"]
label = "payments-follow-up"
"""


def seed(repo: Repo) -> dict[str, str]:
    """Two incidents: one for checkout (two items), one for search (one item)."""
    checkout = repo.open("Checkout down", "--service", "checkout", "-s", "SEV-1")["id"]
    search = repo.open("Search slow", "--service", "search", "-s", "SEV-3")["id"]
    for title in ("Add a breaker", "Alert on errors"):
        repo.ok("action", "add", checkout, title, "--owner", "bo", "--due", "2026-12-31")
    repo.ok("action", "add", search, "Index orders", "--owner", "cy", "--due", "2026-12-31")
    return {"checkout": checkout, "search": search}


def run_sync(repo: Repo, github: GitHubStandIn, *args: str) -> Any:
    env = {
        "PLATFORM_TOKEN": github.token,
        "PAYMENTS_TOKEN": github.token,
        "GITHUB_TOKEN": None,
        "GH_TOKEN": None,
        "GITHUB_REPOSITORY": None,
    }
    return repo.run("issues", "sync", "--pace", "0", *args, env=env)


def test_every_configured_tracker_takes_its_incidents(repo: Repo, github: GitHubStandIn) -> None:
    """With no --tracker, each configured tracker syncs the incidents it takes: the
    checkout incident (service listed) goes to `payments`, every incident to the
    tracker without `services`; a second run creates nothing."""
    github.add_repo(OTHER)
    configure(repo, two_trackers(github))
    ids = seed(repo)
    result = run_sync(repo, github, "--json", "--write-back")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trackers"] == ["platform", "payments"]
    created = sorted((o["tracker"], o["incident"]) for o in report["created"])
    assert created == sorted(
        [("platform", ids["checkout"])] * 2
        + [("platform", ids["search"])]
        + [("payments", ids["checkout"])] * 2
    )
    assert len(github.issues(DEFAULT_REPO)) == 3
    payments = github.issues(OTHER)
    assert len(payments) == 2
    assert all({lbl["name"] for lbl in i["labels"]} >= {"payments-follow-up"} for i in payments)
    again = json.loads(run_sync(repo, github, "--json").stdout)
    assert again["created"] == [] and len(again["existing"]) == 5
    rows = repo.json("action", "list")
    assert all(r["ticket"] and r["ticket"].startswith("#") for r in rows)
    assert all(r["issue"].startswith("https://") for r in rows)


def test_tracker_chooses_one_by_name_or_type(repo: Repo, github: GitHubStandIn) -> None:
    github.add_repo(OTHER)
    configure(repo, two_trackers(github))
    seed(repo)
    only = json.loads(run_sync(repo, github, "--tracker", "payments", "--json").stdout)
    assert only["tracker"] == "payments" and len(only["created"]) == 2
    assert github.issues(DEFAULT_REPO) == []
    unknown = run_sync(repo, github, "--tracker", "jira")
    assert unknown.exit_code == 1
    assert "no tracker 'jira' in incidentctl.toml" in unknown.output
    assert len(unknown.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('type = "trello"', "`type` must be one of github, jira, gitlab"),
        ('type = "github"\nrepo = "a/b"\ntoken = "ghp_inline"', "do not write the GitHub token"),
        ('type = "github"\nrepo = "a/b"\ntoken_env = "T"\nlabels = 3', "unknown key 'labels'"),
        ('type = "github"\nrepo = "a/b"\ntoken_env = "NOT_SET_ANYWHERE"', "is not set"),
        ('type = "github"\nrepo = "a/b"\ntoken_env = "T"\nservices = "x"', "`services` must"),
        ('type = "github"\nrepo = "a/b"\ntoken_env = "T"\napi_url = "ftp://x"', "`api_url`"),
    ],
)
def test_a_bad_tracker_table_is_one_line(repo: Repo, table: str, says: str) -> None:
    configure(repo, f"[trackers.ops]\n{table}\n")
    result = repo.run("issues", "sync", env={"T": "tok", "GITHUB_REPOSITORY": None})
    assert result.exit_code == 1
    assert says in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "ghp_inline" not in result.output and "Traceback" not in result.output


def test_flags_for_github_from_the_environment_are_refused_with_a_table(
    repo: Repo, github: GitHubStandIn
) -> None:
    configure(repo, two_trackers(github))
    result = run_sync(repo, github, "--repo-slug", "a/b")
    assert result.exit_code == 1 and "--repo-slug and --api-url" in result.output


@pytest.mark.parametrize(
    ("tracker", "workflow", "table"),
    [
        ("github", "action-items.yml", None),
        ("jira", "action-items-jira.yml", "# [trackers.jira]"),
        ("gitlab", "action-items-gitlab.yml", "# [trackers.gitlab]"),
    ],
)
def test_init_installs_the_trackers_workflow(
    tmp_path: Path, tracker: str, workflow: str, table: str | None
) -> None:
    target = tmp_path / "incidents-repo"
    result = CliRunner().invoke(cli, ["init", str(target), "--tracker", tracker])
    assert result.exit_code == 0, result.output
    workflows = {p.name for p in (target / ".github" / "workflows").iterdir()}
    assert workflow in workflows
    others = {"action-items.yml", "action-items-jira.yml", "action-items-gitlab.yml"} - {workflow}
    assert not workflows & others
    text = (target / ".github" / "workflows" / workflow).read_text(encoding="utf-8")
    assert "@INCIDENTCTL_INSTALL@" not in text
    if tracker != "github":
        assert f"--tracker {tracker}" in text
    toml = (target / "incidentctl.toml").read_text(encoding="utf-8")
    if table:
        assert table in toml
    # The scaffold is valid as written: every tracker line is commented out.
    assert CliRunner().invoke(cli, ["--repo", str(target), "list"]).exit_code == 0


def test_export_carries_ticket_keys(repo: Repo, github: GitHubStandIn) -> None:
    configure(repo, two_trackers(github).split("[trackers.payments]")[0])
    ids = seed(repo)
    assert run_sync(repo, github, "--write-back").exit_code == 0
    exported = {i["id"]: i for i in json.loads(repo.ok("export", "--format", "json").stdout)}
    items = exported[ids["checkout"]]["action_items"]
    tickets = [i["ticket"] for i in items]
    numbers = {issue["number"] for issue in github.issues(DEFAULT_REPO)}
    assert len(set(tickets)) == 2 and {int(t.lstrip("#")) for t in tickets} <= numbers
    assert all(i["issue"].endswith(i["ticket"].replace("#", "/issues/")) for i in items)
