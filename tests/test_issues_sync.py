"""`incidentctl issues sync` over real HTTP against the GitHub stand-in, on real git repositories.

Nothing of ours is mocked: the CLI runs in-process (CliRunner) and talks HTTP to
tests/github_standin.py on 127.0.0.1; the incident repositories are real git work trees.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from actions_sim import StepRun, all_steps, check_pinned_and_inert, load, run_steps
from click.testing import CliRunner, Result
from conftest import Repo, git
from github_standin import DEFAULT_REPO, GitHubStandIn

from incidentctl import __version__
from incidentctl.cli import cli
from incidentctl.repo import scaffold

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_NAME = "action-items.yml"
WORKFLOW = ROOT / ".github" / "workflows" / WORKFLOW_NAME
LABEL = "incident-action-item"
SLUG = DEFAULT_REPO
WEB = "https://github.com"
MARKER = re.compile(r"<!-- incidentctl:([A-Za-z0-9._-]+/AI-[0-9]+) -->")

# Three incidents, seven action items: (title, severity, [(item, owner, due), ...]).
PLAN = [
    (
        "Checkout returns 500s",
        "SEV-1",
        [
            ("Add a circuit breaker to the payment client", "payments-team", "2026-09-01"),
            ("Alert on checkout error rate", "sre", "2026-09-15"),
            ("Load-test the new payment provider", "bob", "2026-10-01"),
        ],
    ),
    (
        "Search is slow",
        "SEV-2",
        [
            ("Index the orders table by customer", "carol", "2026-09-10"),
            ("Cap query time at 2 s", "search-team", "2026-09-20"),
        ],
    ),
    (
        "Stale data in reports",
        "SEV-3",
        [
            ("Monitor replication lag", "dave", "2026-11-01"),
            ("Document the report cache | flush", "erin", "2026-11-15"),
        ],
    ),
]


@dataclass(frozen=True)
class Item:
    incident: str
    action: str
    title: str
    severity: str
    path: str
    owner: str
    due: str

    @property
    def key(self) -> str:
        return f"{self.incident}/{self.action}"

    @property
    def marker(self) -> str:
        return f"<!-- incidentctl:{self.key} -->"


def make_incidents(repo: Repo, plan: list[Any] = PLAN) -> list[Item]:
    """Open the incidents and add their action items through the CLI (one commit each)."""
    items = []
    for title, severity, actions in plan:
        incident = repo.open(title, "--severity", severity)
        for action_title, owner, due in actions:
            added = repo.json(
                "action", "add", incident["id"], action_title, "--owner", owner, "--due", due
            )
            items.append(
                Item(
                    incident["id"],
                    added["action"],
                    action_title,
                    severity,
                    incident["path"],
                    owner,
                    due,
                )
            )
    return items


def sync(repo: Repo, github: GitHubStandIn, *args: str, **env: str | None) -> Result:
    """`incidentctl issues sync --pace 0` with the variables of an Actions job, plus `env`."""
    full: dict[str, str | None] = {**github.env(), "GH_TOKEN": None}
    full.update(env)
    return repo.run("issues", "sync", "--pace", "0", *args, env=full)


def sync_json(repo: Repo, github: GitHubStandIn, *args: str, code: int = 0) -> dict[str, Any]:
    result = sync(repo, github, "--json", *args)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def keys(report: dict[str, Any], result: str) -> list[str]:
    return [f"{o['incident']}/{o['action']}" for o in report[result]]


def per_marker(github: GitHubStandIn) -> Counter[str]:
    """How many issues (not pull requests) carry each incidentctl marker."""
    counts: Counter[str] = Counter()
    for issue in github.issues(SLUG):
        counts.update(MARKER.findall(issue["body"] or ""))
    return counts


def assert_one_issue_each(github: GitHubStandIn, items: list[Item]) -> None:
    counts = per_marker(github)
    ours = {item.key for item in items}
    assert {k: counts[k] for k in ours} == dict.fromkeys(ours, 1), counts
    assert sum(counts[k] for k in ours) == len(items)


def posted(github: GitHubStandIn) -> list[str]:
    """The marker key of each POST the stand-in received, in order (sync order is by file)."""
    return [MARKER.findall(r.body["body"])[0] for r in github.requests_to("POST")]


def issue_for(github: GitHubStandIn, item: Item) -> dict[str, Any]:
    (issue,) = [i for i in github.issues(SLUG) if item.marker in (i["body"] or "")]
    return issue


def label_names(issue: dict[str, Any]) -> set[str]:
    return {label["name"] for label in issue["labels"]}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Where the module's incident repository is built once (by the first test needing it)."""
    return {"path": tmp_path_factory.mktemp("template") / "work", "items": None}


@pytest.fixture
def items(repo: Repo, template: dict[str, Any]) -> list[Item]:
    """`repo` holding the 3 incidents and 7 action items of PLAN (a copy of one real repo)."""
    built: Path = template["path"]
    if template["items"] is None:
        shutil.copytree(repo.path, built, symlinks=True)
        template["items"] = make_incidents(Repo(built))
    shutil.rmtree(repo.path)
    shutil.copytree(built, repo.path, symlinks=True)
    assert repo.git("status", "--porcelain") == ""
    found: list[Item] = template["items"]
    return found


# -- creating, finding ---------------------------------------------------------------------------


def test_creates_one_issue_per_open_action_item(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """7 open items -> 7 issues with title, marker, labels, owner, due and the incident link."""
    report = sync_json(repo, github)
    assert report["dry_run"] is False
    assert sorted(keys(report, "created")) == sorted(i.key for i in items)
    assert report["existing"] == report["closed"] == report["failed"] == []
    assert report["duplicates"] == []
    issues = github.issues(SLUG)
    assert len(issues) == 7
    by_number = {i["number"]: i for i in issues}
    for outcome in report["created"]:
        issue = by_number[outcome["number"]]
        assert outcome["url"] == issue["html_url"]
        assert f"incidentctl:{outcome['incident']}/{outcome['action']} " in issue["body"]
    for item in items:
        issue = issue_for(github, item)
        assert issue["state"] == "open"
        assert issue["title"] == f"[{item.incident}] {item.title}"
        assert label_names(issue) == {LABEL, item.severity.lower()}
        body = issue["body"]
        assert item.marker in body
        assert f"{WEB}/{SLUG}/blob/HEAD/{item.path}" in body
        assert item.path.startswith("incidents/")
        assert item.owner.replace("|", "\\|") in body
        assert item.due in body
        assert item.severity in body
    posts = github.requests_to("POST")
    assert len(posts) == 7
    assert {p.path for p in posts} == {f"/repos/{SLUG}/issues"}
    assert all(p.headers.get("Authorization") == "Bearer ***" for p in posts)


def test_second_run_creates_nothing(repo: Repo, github: GitHubStandIn, items: list[Item]) -> None:
    """A second run finds all 7 by marker: 0 created, 7 existing, no POST at all."""
    first = sync_json(repo, github)
    github.clear_requests()
    second = sync_json(repo, github)
    assert second["created"] == [] and second["failed"] == [] and second["closed"] == []
    assert sorted(keys(second, "existing")) == sorted(i.key for i in items)
    assert {o["number"] for o in second["existing"]} == {o["number"] for o in first["created"]}
    assert github.requests_to("POST") == []
    assert github.requests_to("PATCH") == []
    assert len(github.issues(SLUG)) == 7
    text = sync(repo, github)
    assert text.exit_code == 0, text.output
    assert text.stdout == "0 created, 7 existing, 0 closed, 0 failed\n"


def test_finds_its_issues_among_150_labelled_issues_and_pull_requests_on_three_pages(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """3 items found by marker across Link pages (PRs skipped, titles ignored), 4 created."""
    found = [items[0], items[3], items[5]]
    other = "INC-20200101-abcd"
    github.seed_issues(
        SLUG, 50, label=LABEL, with_marker=lambda i: f"<!-- incidentctl:{other}/AI-{i} -->"
    )
    prs = github.seed_pull_requests(SLUG, 20, label=LABEL)
    seeded = github.seed_issues(SLUG, 1, label=LABEL, with_marker=lambda _: found[0].marker)
    github.seed_issues(SLUG, 50, label=LABEL)  # no marker at all
    # A person closed this one: it is still the item's issue (listing is state=all).
    seeded += github.seed_issues(
        SLUG, 1, label=LABEL, with_marker=lambda _: found[1].marker, state="closed"
    )
    prs += github.seed_pull_requests(SLUG, 20, label=LABEL)
    github.seed_issues(
        SLUG,
        49,
        label=LABEL,
        with_marker=lambda i: f"<!-- incidentctl:INC-20210202-wxyz/AI-{i} -->",
        state="closed",
    )
    # Same title as an item's issue would have, but no marker: titles never match.
    github.seed_issues(
        SLUG, 1, label=LABEL, title=lambda _: f"[{items[6].incident}] {items[6].title}"
    )
    seeded += github.seed_issues(SLUG, 1, label=LABEL, with_marker=lambda _: found[2].marker)
    prs += github.seed_pull_requests(SLUG, 20, label=LABEL)
    # Pull requests whose body carries the marker of an item without an issue: ignored.
    for pr, item in zip(prs[::20], (items[1], items[2], items[4]), strict=True):
        github.update_issue(SLUG, pr["number"], body=f"Fixes it.\n\n{item.marker}")
    # Unlabelled issues are not ours, marker or not.
    github.seed_issues(
        SLUG, 10, label="bug", with_marker=lambda i: f"<!-- incidentctl:{other}/AI-{i} -->"
    )
    labelled = [
        i for i in github.issues(SLUG, include_pull_requests=True) if LABEL in label_names(i)
    ]
    assert len(labelled) == 150 + 3 + 60
    github.clear_requests()

    report = sync_json(repo, github)

    assert sorted(keys(report, "existing")) == sorted(i.key for i in found)
    assert sorted(o["number"] for o in report["existing"]) == [s["number"] for s in seeded]
    assert sorted(keys(report, "created")) == sorted(i.key for i in items if i not in found)
    assert report["failed"] == [] and report["duplicates"] == []
    assert_one_issue_each(github, items)
    # The issue a person closed stays closed: the sync never reopens.
    assert github.issue(SLUG, seeded[1]["number"])["state"] == "closed"
    for pr in prs:
        assert "pull_request" in github.issue(SLUG, pr["number"])

    lists = github.requests_to("GET")
    assert len(lists) == 3, [(r.path, r.query) for r in lists]
    assert lists[0].path == f"/repos/{SLUG}/issues"
    for number, request in enumerate(lists, start=1):
        assert request.q("labels") == LABEL
        assert request.q("state") == "all"
        assert request.q("per_page") == "100"
        assert request.q("page") == (None if number == 1 else str(number))
    assert all(re.fullmatch(r"/repositories/[0-9]+/issues", r.path) for r in lists[1:])
    assert not any("/search" in r.path for r in github.requests)
    assert len(github.requests_to("POST")) == 4


def test_duplicate_issues_keep_the_oldest_and_are_reported(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """Two issues with one marker (made by hand): the oldest is used, the other reported."""
    twins = github.seed_issues(SLUG, 2, label=LABEL, with_marker=lambda _: items[0].marker)
    report = sync_json(repo, github)
    (existing,) = report["existing"]
    assert existing["number"] == twins[0]["number"]
    assert report["duplicates"] == [
        {"key": items[0].key, "number": twins[1]["number"], "ticket": f"#{twins[1]['number']}"}
    ]
    assert len(report["created"]) == 6
    text = sync(repo, github)
    assert text.exit_code == 0
    assert f"warning: issue #{twins[1]['number']} duplicates {items[0].key}" in text.stderr


# -- faults halfway ------------------------------------------------------------------------------


def test_502_on_the_third_creation_fails_the_run_and_the_rerun_finishes(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """A 502 on POST #3 (no retries): exit 1, reported as failed; the re-run ends 1 per item."""
    github.bad_gateway(method="POST", path_regex=r"/issues$", skip=2)
    report = sync_json(repo, github, "--retries", "0", code=1)
    (failed,) = report["failed"]
    assert f"{failed['incident']}/{failed['action']}" == posted(github)[2]
    assert failed["number"] is None
    assert "502" in failed["error"]
    assert len(report["created"]) == 6
    assert len(github.issues(SLUG)) == 6

    rerun = sync_json(repo, github, "--retries", "0")
    assert keys(rerun, "created") == [posted(github)[2]]
    assert len(rerun["existing"]) == 6
    assert_one_issue_each(github, items)
    assert len(github.issues(SLUG)) == 7


def test_502_after_the_issue_was_created_and_the_rerun_adds_no_duplicate(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """A 502 for an issue GitHub did create (no retries): exit 1; the re-run finds it."""
    github.bad_gateway(method="POST", path_regex=r"/issues$", skip=2, after_effect=True)
    report = sync_json(repo, github, "--retries", "0", code=1)
    assert keys(report, "failed") == [posted(github)[2]]
    assert len(github.issues(SLUG)) == 7  # it exists, whatever the answer said

    rerun = sync_json(repo, github, "--retries", "0")
    assert rerun["created"] == [] and rerun["failed"] == []
    assert len(rerun["existing"]) == 7
    assert_one_issue_each(github, items)


def test_502_after_the_issue_was_created_is_found_by_marker_within_the_run(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """With retries, a 502 that hid a creation is found by marker: no second POST, exit 0."""
    github.bad_gateway(method="POST", path_regex=r"/issues$", skip=2, after_effect=True)
    report = sync_json(repo, github, "--retries", "2")
    assert report["failed"] == []
    assert sorted(keys(report, "created")) == sorted(i.key for i in items)
    assert_one_issue_each(github, items)
    assert len(github.requests_to("POST")) == 7
    hit = posted(github)[2]
    assert github.requests_to("POST")[2].status == 502
    (third,) = [o for o in report["created"] if f"{o['incident']}/{o['action']}" == hit]
    (issue,) = [i for i in github.issues(SLUG) if f"incidentctl:{hit} " in i["body"]]
    assert third["number"] == issue["number"] and third["url"] == issue["html_url"]
    # It looked among the newest issues with the label rather than trusting the 502.
    newest = [r for r in github.requests_to("GET") if r.q("direction") == "desc"]
    assert newest and all(r.q("labels") == LABEL and r.q("state") == "all" for r in newest)


def test_502_without_effect_is_retried_within_the_run(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """With retries, a 502 that created nothing is retried once: 8 POSTs, 7 issues, exit 0."""
    github.bad_gateway(method="POST", path_regex=r"/issues$", skip=2)
    report = sync_json(repo, github, "--retries", "1")
    assert report["failed"] == [] and len(report["created"]) == 7
    assert len(github.requests_to("POST")) == 8
    assert_one_issue_each(github, items)


def test_a_failing_listing_is_retried(repo: Repo, github: GitHubStandIn, items: list[Item]) -> None:
    """A 502 on the list is retried after a backoff; the run then succeeds."""
    github.bad_gateway(times=1, method="GET")
    report = sync_json(repo, github, "--retries", "1")
    assert len(report["created"]) == 7
    assert [r.status for r in github.requests_to("GET")] == [502, 200]


def test_primary_rate_limit_is_waited_out(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """403 with x-ratelimit-remaining 0 on POST #3: the run waits for the reset and succeeds."""
    github.rate_limit_primary(reset_in=1, method="POST", skip=2)
    report = sync_json(repo, github)
    assert report["failed"] == [] and len(report["created"]) == 7
    assert github.rate_limit_violations == []
    assert [r.status for r in github.requests_to("POST")].count(403) == 1
    assert_one_issue_each(github, items)


def test_primary_rate_limit_on_the_listing_is_waited_out(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """The limit can be hit by the first GET too: wait, then list and create."""
    github.rate_limit_primary(reset_in=1, method="GET")
    report = sync_json(repo, github)
    assert len(report["created"]) == 7
    assert github.rate_limit_violations == []


def test_secondary_rate_limit_is_waited_out(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """429 with Retry-After 1 on POST #3: the run waits and succeeds, one issue per item."""
    github.rate_limit_secondary(retry_after=1, method="POST", skip=2)
    result = sync(repo, github, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["failed"] == [] and len(report["created"]) == 7
    assert github.rate_limit_violations == []
    assert [r.status for r in github.requests_to("POST")].count(429) == 1
    assert_one_issue_each(github, items)


def test_secondary_rate_limit_as_403_is_waited_out(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """GitHub also sends secondary limits as 403 + Retry-After: same wait, same result."""
    github.rate_limit_secondary(retry_after=1, method="POST", skip=4, status=403)
    report = sync_json(repo, github)
    assert len(report["created"]) == 7
    assert github.rate_limit_violations == []
    assert_one_issue_each(github, items)


def test_a_rate_limit_far_in_the_future_stops_the_run_and_a_later_run_finishes(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """Reset in an hour: exit 1 saying so, no request while limited; later, no duplicate."""
    github.rate_limit_primary(reset_in=3600, method="POST", skip=2)
    result = sync(repo, github)
    assert result.exit_code == 1, result.output
    assert "rate limit" in result.stderr
    assert "re-run later" in result.stderr
    assert len(github.issues(SLUG)) == 2
    # Waiting was not possible, so it stopped: hammering a limited API gets a token banned.
    assert github.rate_limit_violations == []
    assert len(github.requests_to("POST")) == 3

    github.clear_faults()
    report = sync_json(repo, github)
    assert len(report["existing"]) == 2 and len(report["created"]) == 5
    assert_one_issue_each(github, items)


def test_a_rate_limit_far_in_the_future_on_the_listing_is_one_clear_error(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """Limited for an hour before anything was listed: exit 1, one line, nothing created."""
    github.rate_limit_primary(reset_in=3600, method="GET")
    result = sync(repo, github, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and "rate limit" in line and "re-run later" in line
    assert github.requests_to("POST") == []


# -- done items ----------------------------------------------------------------------------------


def test_done_item_closes_its_issue(repo: Repo, github: GitHubStandIn, items: list[Item]) -> None:
    """`action done` -> the next sync closes the issue as completed and reports it as closed."""
    sync_json(repo, github)
    item = items[3]
    repo.ok("action", "done", item.incident, item.action)
    github.clear_requests()
    report = sync_json(repo, github)
    assert keys(report, "closed") == [item.key]
    assert report["closed"][0]["number"] == issue_for(github, item)["number"]
    assert len(report["existing"]) == 6 and report["created"] == []
    issue = issue_for(github, item)
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    (patch,) = github.requests_to("PATCH")
    assert patch.path == f"/repos/{SLUG}/issues/{issue['number']}"
    assert patch.body == {"state": "closed", "state_reason": "completed"}
    assert sum(i["state"] == "open" for i in github.issues(SLUG)) == 6

    github.clear_requests()
    again = sync_json(repo, github)
    assert again["closed"] == [] and len(again["existing"]) == 7
    assert github.requests_to("PATCH") == []


def test_a_long_rate_limit_while_closing_stops_the_run(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """Closing hits an hour-long rate limit: exit 1, no further request; later it closes both."""
    sync_json(repo, github)
    for item in (items[0], items[5]):
        repo.ok("action", "done", item.incident, item.action)
    github.rate_limit_primary(reset_in=3600, method="PATCH")
    github.clear_requests()
    report = sync_json(repo, github, code=1)
    (failed,) = report["failed"]
    assert "re-run later" in failed["error"]
    assert len(github.requests_to("PATCH")) == 1
    assert github.rate_limit_violations == []

    github.clear_faults()
    report = sync_json(repo, github)
    assert sorted(keys(report, "closed")) == sorted([items[0].key, items[5].key])
    assert sum(i["state"] == "closed" for i in github.issues(SLUG)) == 2


def test_item_done_before_any_sync_gets_no_issue(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """An item done before the first sync is never opened (and not reported as failed)."""
    item = items[1]
    repo.ok("action", "done", item.incident, item.action)
    report = sync_json(repo, github)
    assert item.key not in keys(report, "created") + keys(report, "closed")
    assert len(report["created"]) == 6 and report["failed"] == []
    assert per_marker(github)[item.key] == 0
    assert len(github.issues(SLUG)) == 6


# -- tokens, repository, API URL -----------------------------------------------------------------


def assert_token_hidden(result: Result, *tokens: str) -> None:
    for token in tokens:
        assert token not in result.stdout
        assert token not in result.stderr
        assert token not in repr(result.exception)


def test_bad_token_is_one_clear_error_without_the_token(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """401: exit 1, one error line naming GITHUB_TOKEN, the token shown nowhere."""
    bad = "ghp_WrongSecretValue0123456789abcdef"
    for args in ((), ("--json",)):
        result = sync(repo, github, *args, GITHUB_TOKEN=bad)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, result.stderr
        assert "GITHUB_TOKEN" in errors[0] and "401" in errors[0]
        assert result.stdout == ""
        assert_token_hidden(result, bad)
    assert github.requests_to("POST") == []
    assert all(r.status == 401 for r in github.requests)


@pytest.mark.parametrize("token", ["tok\nsecret-1", "tok secret-2", "tok\u20acsecret-3"])
def test_token_with_control_characters_is_refused_without_showing_it(
    repo: Repo, github: GitHubStandIn, token: str
) -> None:
    """A token with a newline, space or non-ASCII inside: exit 1 naming GITHUB_TOKEN, unsent."""
    result = sync(repo, github, GITHUB_TOKEN=token)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: GITHUB_TOKEN")
    assert_token_hidden(result, token, token[-8:])
    assert github.requests == []


def test_token_with_a_trailing_newline_works(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """A secret pasted with a trailing newline is still the token (whitespace is trimmed)."""
    result = sync(repo, github, "--json", GITHUB_TOKEN=f" {github.token}\n")
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert len(report["created"]) == 7


def test_token_is_not_printed_when_requests_fail(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """502 on the list after retries, and 502 on a POST in --json: no error shows the token."""
    github.bad_gateway(times=None, method="GET")
    result = sync(repo, github, "--retries", "1")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "502" in result.stderr
    assert_token_hidden(result, github.token)

    github.clear_faults()
    github.bad_gateway(times=None, method="POST")
    result = sync(repo, github, "--json", "--retries", "0")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert len(report["failed"]) == 7
    assert all("502" in o["error"] for o in report["failed"])
    assert_token_hidden(result, github.token)


def test_no_token_is_a_clear_error(repo: Repo, github: GitHubStandIn) -> None:
    """Neither GITHUB_TOKEN nor GH_TOKEN: exit 1 naming both, no request made."""
    result = sync(repo, github, GITHUB_TOKEN=None, GH_TOKEN=None)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("Error: no token")
    assert "GITHUB_TOKEN" in result.stderr and "GH_TOKEN" in result.stderr
    assert github.requests == []


def test_gh_token_is_used_when_github_token_is_unset(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """GH_TOKEN (the gh CLI's variable) works too."""
    result = sync(repo, github, "--json", GITHUB_TOKEN=None, GH_TOKEN=github.token)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["created"]) == 7


def test_no_repository_is_a_clear_error(repo: Repo, github: GitHubStandIn) -> None:
    """No --repo-slug and no GITHUB_REPOSITORY: exit 1 naming both, no request made."""
    result = sync(repo, github, GITHUB_REPOSITORY=None)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "--repo-slug" in result.stderr and "GITHUB_REPOSITORY" in result.stderr
    assert github.requests == []


@pytest.mark.parametrize(
    "slug",
    ["acme", "acme/ops/issues", "acme/", "/ops", "acme/..", "../ops", "acme/ops\n", "ac me/ops"],
)
def test_malformed_repository_is_refused(repo: Repo, github: GitHubStandIn, slug: str) -> None:
    """A slug that is not OWNER/NAME: exit 1 with a clear line, nothing sent."""
    for result in (
        sync(repo, github, "--repo-slug", slug),
        sync(repo, github, GITHUB_REPOSITORY=slug),
    ):
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "OWNER/NAME" in result.stderr
    assert github.requests == []


def test_flags_override_the_environment(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """--repo-slug and --api-url win over GITHUB_REPOSITORY and GITHUB_API_URL."""
    github.add_repo("acme/other")
    result = sync(
        repo,
        github,
        "--json",
        "--repo-slug",
        "acme/other",
        "--api-url",
        github.url + "/",
        GITHUB_API_URL="http://127.0.0.1:9",
    )
    assert result.exit_code == 0, result.output
    assert len(github.issues("acme/other")) == 7
    assert github.issues(SLUG) == []


def test_a_custom_label(repo: Repo, github: GitHubStandIn, items: list[Item]) -> None:
    """--label names the label issues get and are found by."""
    sync_json(repo, github, "--label", "postmortem-ai")
    assert all(label_names(i) >= {"postmortem-ai"} for i in github.issues(SLUG))
    assert all(LABEL not in label_names(i) for i in github.issues(SLUG))
    again = sync_json(repo, github, "--label", "postmortem-ai")
    assert again["created"] == [] and len(again["existing"]) == 7


# -- dry run, write-back -------------------------------------------------------------------------


def test_dry_run_reports_and_changes_nothing(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """--dry-run lists what it would create and close, sends no POST/PATCH, exit 0."""
    commits = repo.commits()
    report = sync_json(repo, github, "--dry-run")
    assert report["dry_run"] is True
    assert sorted(keys(report, "created")) == sorted(i.key for i in items)
    assert all(o["number"] is None for o in report["created"])
    assert github.issues(SLUG) == []
    text = sync(repo, github, "--dry-run")
    assert text.exit_code == 0
    assert text.stdout == "7 would be created, 0 existing, 0 would be closed, 0 failed\n"

    sync_json(repo, github)
    repo.ok("action", "done", items[0].incident, items[0].action)
    github.clear_requests()
    report = sync_json(repo, github, "--dry-run", "--write-back")
    assert keys(report, "closed") == [items[0].key]
    assert report["created"] == [] and report["linked"] == []
    assert issue_for(github, items[0])["state"] == "open"
    assert {r.method for r in github.requests} == {"GET"}
    assert repo.commits() == commits + 1  # the `action done` commit only
    assert repo.git("status", "--porcelain") == ""


def test_write_back_records_issue_urls_one_commit_per_incident(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """--write-back puts `issue: <url>` in each item, one commit per incident with a trailer."""
    head = repo.git("rev-parse", "HEAD").strip()
    report = sync_json(repo, github, "--write-back")
    incidents = sorted({i.incident for i in items})
    assert sorted(report["linked"]) == incidents
    assert repo.commits() == len(PLAN) + len(items) + 1 + 3
    assert repo.git("status", "--porcelain") == ""
    for sha in repo.git("rev-list", f"{head}..HEAD").split():
        files = repo.git("show", "--name-only", "--format=", sha).split()
        assert len(files) == 1
        message = repo.git("log", "-1", "--format=%B", sha)
        (ident,) = re.findall(r"^Incident: (\S+)$", message, re.M)
        assert files[0] == next(i.path for i in items if i.incident == ident)
    for item in items:
        front = yaml.safe_load(repo.file(item.path).read_text(encoding="utf-8").split("---")[1])
        (entry,) = [a for a in front["action_items"] if a["id"] == item.action]
        assert entry["issue"] == issue_for(github, item)["html_url"]
        assert entry["issue"].startswith(f"{WEB}/{SLUG}/issues/")

    commits = repo.commits()
    github.clear_requests()
    again = sync_json(repo, github, "--write-back")
    assert again["linked"] == [] and again["created"] == []
    assert repo.commits() == commits
    assert github.requests_to("POST") == []


def test_an_issue_that_lost_its_label_is_found_by_its_recorded_url(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """Someone removed our label: the `issue:` URL written back still finds it, no duplicate."""
    sync_json(repo, github, "--write-back")
    lost = issue_for(github, items[0])
    github.update_issue(SLUG, lost["number"], labels=[])
    github.clear_requests()
    again = sync_json(repo, github)
    assert again["created"] == []
    assert items[0].key in keys(again, "existing")
    assert github.requests_to("POST") == []
    assert_one_issue_each(github, items)
    assert any(r.path.endswith(f"/issues/{lost['number']}") for r in github.requests_to("GET"))


def test_a_recorded_url_of_another_issue_is_not_trusted(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """A recorded URL whose issue lacks the item's marker does not count: the item is opened."""
    number = github.seed_issues(SLUG, 1)[0]["number"]
    path = repo.file(items[0].path)
    text = path.read_text(encoding="utf-8")
    marker = f"  status: open\n  issue: {WEB}/{SLUG}/issues/{number}\n"
    first = text.index("  status: open\n")
    path.write_text(text[:first] + marker + text[first + len("  status: open\n") :])
    repo.git("commit", "-qam", "hand-recorded URL")
    report = sync_json(repo, github)
    assert items[0].key in keys(report, "created")
    assert_one_issue_each(github, items)


# -- what must stop the run ----------------------------------------------------------------------


def test_dropped_label_stops_the_run(repo: Repo, github: GitHubStandIn, items: list[Item]) -> None:
    """GitHub silently dropped the label (no push access): exit 1 about the label, no more POSTs."""
    github.drop_labels = True
    result = sync(repo, github)
    assert result.exit_code == 1, result.output
    assert f"dropped the label '{LABEL}'" in result.stderr
    assert len(github.requests_to("POST")) == 1
    assert len(github.issues(SLUG)) == 1

    report = sync_json(repo, github, code=1)
    (failed,) = report["failed"]
    assert "label" in failed["error"]
    assert len(github.requests_to("POST")) == 2


def test_link_to_another_host_is_not_followed_with_the_token(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """A `Link: rel="next"` to another host stops the run; that host gets no request."""
    with GitHubStandIn(repos=[SLUG]) as elsewhere:
        link = f'<{elsewhere.url}/repos/{SLUG}/issues?labels={LABEL}&state=all&page=2>; rel="next"'
        github.fail("GET", rf"^/repos/{SLUG}/issues$", 200, body=[], headers={"Link": link})
        result = sync(repo, github)
        assert result.exit_code == 1, result.output
        assert "another host" in result.stderr
        assert elsewhere.requests == []
    assert github.requests_to("POST") == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_to_another_host_gets_no_token(
    repo: Repo, github: GitHubStandIn, items: list[Item], status: int
) -> None:
    """A redirect to another host is not followed with the Authorization header."""
    with GitHubStandIn(repos=[SLUG]) as elsewhere:
        target = f"{elsewhere.url}/repos/{SLUG}/issues?labels={LABEL}&state=all"
        github.fail(
            "GET", rf"^/repos/{SLUG}/issues$", status, body="", headers={"Location": target}
        )
        result = sync(repo, github)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert all("Authorization" not in r.headers for r in elsewhere.requests)
    assert github.requests_to("POST") == []


# -- the workflow --------------------------------------------------------------------------------


def test_workflow_triggers_permissions_concurrency_pins() -> None:
    """push to main on incidents/** + dispatch; {} then {contents: read, issues: write}; pinned."""
    doc = load(WORKFLOW.read_text(encoding="utf-8"))
    assert doc["on"] == {
        "push": {"branches": ["main"], "paths": ["incidents/**"]},
        "workflow_dispatch": None,
    }
    assert doc["permissions"] == {}
    assert len(doc["jobs"]) == 1
    for job in doc["jobs"].values():
        assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert doc["concurrency"]["group"]
    assert doc["concurrency"]["cancel-in-progress"] is False
    steps = all_steps(doc)
    check_pinned_and_inert(steps, runs=2)
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    sync_step = next(s for s in steps if "issues sync" in str(s.get("run", "")))
    assert sync_step["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}
    assert "--write-back" not in sync_step["run"]  # it would need contents: write


def test_packaged_workflow_is_ours_but_for_the_install() -> None:
    """What `init` installs is the committed workflow with only the install value changed."""
    ours = WORKFLOW.read_text(encoding="utf-8")
    user = scaffold.workflow_text(WORKFLOW_NAME)
    assert f'INCIDENTCTL_INSTALL: "incidentctl=={__version__}"' in user
    assert 'INCIDENTCTL_INSTALL: "."' in ours
    assert user.replace(f"incidentctl=={__version__}", ".") == ours


def run_job(workspace: Path, github: GitHubStandIn, summary: Path) -> list[StepRun]:
    """Run the workspace's action-items workflow as on a push to main."""
    return run_steps(
        workspace / ".github" / "workflows" / WORKFLOW_NAME,
        workspace,
        {
            "GITHUB_REPOSITORY": SLUG,
            "GITHUB_API_URL": github.url,
            "GITHUB_SERVER_URL": WEB,
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REF_NAME": "main",
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_STEP_SUMMARY": str(summary),
        },
        {"github.token": github.token},
    )


def test_workflow_run_steps_open_one_issue_per_open_item(
    tmp_path: Path, origin: Path, github: GitHubStandIn
) -> None:
    """The installed workflow's steps, run twice on a fresh clone: one issue per open item."""
    seed = tmp_path / "seed"
    created = CliRunner().invoke(cli, ["init", str(seed)])
    assert created.exit_code == 0, created.output
    assert (seed / ".github" / "workflows" / WORKFLOW_NAME).read_text(
        encoding="utf-8"
    ) == scaffold.workflow_text(WORKFLOW_NAME)
    user = Repo(seed)
    user.git("add", "-A")
    user.git("commit", "--quiet", "-m", "incidentctl init")
    plan = [(title, severity, actions[:2]) for title, severity, actions in PLAN[:2]]
    items = make_incidents(user, plan)
    done = items[1]
    user.ok("action", "done", done.incident, done.action)
    open_items = [i for i in items if i != done]
    user.git("remote", "add", "origin", str(origin))
    user.git("push", "--quiet", "origin", "main")

    for run in (1, 2):
        workspace = tmp_path / f"run-{run}" / "ws"
        workspace.parent.mkdir()
        git(workspace.parent, "clone", "--quiet", str(origin), str(workspace))
        summary = workspace.parent / "summary.md"
        ran = run_job(workspace, github, summary)
        assert [r.name for r in ran] == [
            "Install incidentctl",
            "Open and close issues for action items",
        ]
        install, synced = ran
        assert install.code == 0, install.stdout + install.stderr
        assert f"incidentctl=={__version__}" in install.stdout
        assert synced.code == 0, synced.stdout + synced.stderr
        expected = "3 created, 0 existing" if run == 1 else "0 created, 3 existing"
        assert synced.stdout.startswith(expected), synced.stdout
        assert github.token not in synced.stdout + synced.stderr
        assert_one_issue_each(github, open_items)
        assert per_marker(github)[done.key] == 0
        assert len(github.issues(SLUG)) == 3
        assert git(workspace, "status", "--porcelain") == ""  # the job changed no file
    for item in open_items:
        issue = issue_for(github, item)
        assert f"{WEB}/{SLUG}/blob/HEAD/{item.path}" in issue["body"]
        assert label_names(issue) == {LABEL, item.severity.lower()}


# -- forged markers -------------------------------------------------------------------------------


def open_with_item(repo: Repo, title: str, action: str = "Fix it") -> Item:
    incident = repo.open(title, "--severity", "SEV-2")
    added = repo.json(
        "action", "add", incident["id"], action, "--owner", "ops", "--due", "2026-09-01"
    )
    return Item(
        incident["id"], added["action"], action, "SEV-2", incident["path"], "ops", "2026-09-01"
    )


def test_a_marker_in_an_incident_title_claims_no_other_issue(
    repo: Repo, github: GitHubStandIn
) -> None:
    """An incident titled with another item's marker and a stray `-->` gets an issue whose body
    holds only its own marker (the title is inert), so the other item still gets its own issue
    and closing it closes the right one."""
    from markdown_it import MarkdownIt

    victim_id = "INC-20990101-zzzz"
    forged = f"Outage <!-- incidentctl:{victim_id}/AI-1 --> --> after deploy"
    hostile = open_with_item(repo, forged, action=f"Review <!-- incidentctl:{victim_id}/AI-1 -->")
    first = sync_json(repo, github)
    assert keys(first, "created") == [hostile.key]
    (issue,) = github.issues(SLUG)
    body = issue["body"]
    assert MARKER.findall(body) == [hostile.key]
    assert body.rstrip().splitlines()[-1] == hostile.marker
    assert body.count("<!--") == 1 and body.count("-->") == 1
    assert "<!--" not in issue["title"] and "-->" not in issue["title"]
    html = MarkdownIt("commonmark").render(body)
    assert html.count("<!--") == 1  # only our marker renders as a (hidden) comment
    assert f"&lt;!-- incidentctl:{victim_id}/AI-1 --&gt;" in html  # the title shows as text

    # The victim's incident arrives later, with the forged ID: it gets an issue of its own.
    victim_path = repo.open("Database failover", "--severity", "SEV-2")["path"]
    real_id = Path(victim_path).name[:17]
    text = repo.file(victim_path).read_text(encoding="utf-8")
    (repo.file(victim_path)).write_text(text.replace(real_id, victim_id), encoding="utf-8")
    repo.file(victim_path).rename(repo.file(victim_path.replace(real_id, victim_id)))
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "victim")
    repo.ok("action", "add", victim_id, "Fail over faster", "--owner", "db", "--due", "2026-09-01")
    second = sync_json(repo, github)
    assert keys(second, "created") == [f"{victim_id}/AI-1"]
    assert keys(second, "existing") == [hostile.key]
    assert second["duplicates"] == []
    victim_issue = second["created"][0]["number"]
    assert victim_issue != issue["number"]

    repo.ok("action", "done", victim_id, "AI-1")
    third = sync_json(repo, github)
    assert [o["number"] for o in third["closed"]] == [victim_issue]
    assert github.issue(SLUG, issue["number"])["state"] == "open"


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda m: f"{m}\n\nQuoted from the incident channel.", id="not-last-line"),
        pytest.param(lambda m: f"See {m} here", id="inside-a-line"),
        pytest.param(lambda m: f"{m}\n{m}", id="two-markers"),
        pytest.param(lambda m: f"<!-- incidentctl:OTHER/AI-9 -->\n{m}", id="another-marker-first"),
        pytest.param(lambda m: m.replace("<!-- ", "<!--  "), id="not-exact"),
    ],
)
def test_a_third_party_issue_with_a_forged_marker_is_not_ours(
    repo: Repo, github: GitHubStandIn, forged: Any
) -> None:
    """An issue someone else opened, with the label and an item's marker anywhere but alone on
    its last line, is neither taken for the item's issue (one is created) nor closed."""
    open_item = open_with_item(repo, "Disk full on db-3")
    done_item = open_with_item(repo, "Cache stampede")
    repo.ok("action", "done", done_item.incident, done_item.action)
    planted = [
        github.seed_issues(SLUG, 1, label=LABEL, with_marker=lambda _, i=item: forged(i.marker))[0]
        for item in (open_item, done_item)
    ]
    report = sync_json(repo, github)
    assert keys(report, "created") == [open_item.key]
    assert report["existing"] == report["closed"] == report["duplicates"] == []
    assert report["created"][0]["number"] not in {p["number"] for p in planted}
    for issue in planted:
        assert github.issue(SLUG, issue["number"])["state"] == "open"
        assert github.issue(SLUG, issue["number"])["body"] == issue["body"]


# -- retries and waits are capped, whatever the server says ------------------------------------

SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
FAST = ("--retries", "3", "--min-backoff", "0.05", "--timeout", "1", "--max-wait", "5")


def _forever_429(github: GitHubStandIn) -> None:
    github.rate_limit_secondary(times=None, retry_after=0)


def _forever_403_secondary(github: GitHubStandIn) -> None:
    github.rate_limit_secondary(times=None, retry_after=0, status=403)


def _forever_403_no_header(github: GitHubStandIn) -> None:
    github.fail(None, ".*", 403, times=None, body=SECONDARY)


def _retry_after_a_day(github: GitHubStandIn) -> None:
    github.fail(None, ".*", 429, times=None, headers={"Retry-After": "86400"}, body=SECONDARY)


def _reset_in_a_day(github: GitHubStandIn) -> None:
    github.rate_limit_primary(times=None, reset_in=86400)


def _forever_502(github: GitHubStandIn) -> None:
    github.bad_gateway(times=None)


def _forever_503_html(github: GitHubStandIn) -> None:
    github.fail(None, ".*", 503, times=None, body="<html>Service Unavailable</html>")


def _never_answers(github: GitHubStandIn) -> None:
    github.fail(None, ".*", 200, times=None, body=[], delay=20)


def _slow_drip(github: GitHubStandIn) -> None:
    github.fail(None, ".*", 200, times=None, body=[], drip=0.05)


def _not_json(github: GitHubStandIn) -> None:
    github.fail(None, ".*", 200, times=None, body="<html>a captive portal</html>")


@pytest.mark.parametrize(
    ("server", "requests", "seconds", "reason"),
    [
        pytest.param(_forever_429, 4, 3, "gave up after 4 attempts, --retries 3", id="429-ra-0"),
        pytest.param(_forever_403_secondary, 4, 3, "gave up after 4 attempts", id="403-ra-0"),
        pytest.param(_forever_403_no_header, 1, 3, "asks to wait 60 s, more", id="403-no-header"),
        pytest.param(_retry_after_a_day, 1, 3, "asks to wait 86400 s", id="retry-after-1d"),
        pytest.param(_reset_in_a_day, 1, 3, "more than the longest wait", id="reset-in-1d"),
        pytest.param(_forever_502, 4, 3, "502", id="502"),
        pytest.param(_forever_503_html, 4, 3, "503", id="503-html"),
        pytest.param(_never_answers, 4, 8, "no complete answer within 1 s", id="no-answer"),
        pytest.param(_slow_drip, 4, 8, "no complete answer within 1 s", id="slow-drip"),
        pytest.param(_not_json, 1, 3, "is not JSON", id="not-json"),
    ],
)
def test_a_hostile_server_cannot_keep_the_run_going(
    repo: Repo,
    github: GitHubStandIn,
    items: list[Item],
    server: Any,
    requests: int,
    seconds: float,
    reason: str,
) -> None:
    """Against a server that never gives a usable answer, the run ends within a bound, with at
    most 1 + --retries requests, exit 1 and a one-line reason; nothing is created."""
    import time

    server(github)
    started = time.monotonic()
    result = sync(repo, github, "--json", *FAST)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert elapsed < seconds, elapsed
    assert len(github.requests) <= requests
    assert len(github.requests) == requests or server in (_never_answers, _slow_drip)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and reason in line, line
    assert github.token not in line
    assert github.issues(SLUG) == []


def test_the_default_caps_end_a_retry_after_zero_storm(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """429 with Retry-After: 0 for ever, default options: 4 requests (not thousands) about 1, 2
    and 4 s apart, then exit 1 with one line."""
    import time

    _forever_429(github)
    started = time.monotonic()
    result = sync(repo, github, "--json")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert 6.5 < elapsed < 12, elapsed
    times = [r.at for r in github.requests]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert [round(g) for g in gaps] == [1, 2, 4], gaps
    (line,) = result.stderr.splitlines()
    assert "secondary rate limit" in line and "--retries 3" in line


def test_the_total_wait_of_a_run_is_capped(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """Retry-After: 1 on every POST, many retries allowed: the run stops once the next wait
    would pass --max-total-wait, and says so; no POST after that."""
    github.fail("POST", r"/issues$", 429, times=None, headers={"Retry-After": "1"}, body=SECONDARY)
    result = sync(
        repo, github, "--retries", "50", "--min-backoff", "0.1", "--max-total-wait", "2.5"
    )
    assert result.exit_code == 1, result.output
    assert len(github.requests_to("POST")) == 3  # waits of 1 s and 1 s; a third would pass 2.5
    assert "--max-total-wait" in result.stderr
    assert "1 failed" in result.stdout
    assert github.issues(SLUG) == []


def test_a_rate_limit_on_creation_stops_the_run_after_its_retries(
    repo: Repo, github: GitHubStandIn, items: list[Item]
) -> None:
    """429 with Retry-After: 0 on every POST: the first item is tried 1 + --retries times, then
    the run stops (every later item would be limited too): 4 POSTs for 7 items, exit 1."""
    github.rate_limit_secondary(times=None, retry_after=0, method="POST")
    result = sync(repo, github, *FAST)
    assert result.exit_code == 1, result.output
    assert len(github.requests_to("POST")) == 4
    assert "0 created" in result.stdout and "1 failed" in result.stdout
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "gave up after 4 attempts" in failed[0]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--timeout", "0"), ("--min-backoff", "0"), ("--max-wait", "-1"), ("--retries", "-1")],
)
def test_caps_must_be_sensible(repo: Repo, github: GitHubStandIn, option: str, value: str) -> None:
    """A zero timeout or backoff, or a negative cap, is a usage error: exit 2, no request."""
    result = sync(repo, github, option, value)
    assert result.exit_code == 2
    assert option in result.stderr
    assert github.requests == []
