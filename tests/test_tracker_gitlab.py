"""`incidentctl issues sync --tracker gitlab` over real HTTP against the GitLab stand-in.

Nothing of ours is mocked: the CLI runs in-process (CliRunner), reads a
`[trackers.gitlab]` table of incidentctl.toml and talks HTTP to tests/gitlab_standin.py
on 127.0.0.1; the incident repositories are real git work trees.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from actions_sim import all_steps, check_pinned_and_inert, load
from click.testing import Result
from conftest import Repo, tool
from gitlab_standin import DEFAULT_PROJECT, GitLabStandIn

from incidentctl.trackers.base import body_key

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "templates" / "workflows" / "action-items-gitlab.yml"
LABEL = "incident-action-item"
CI_PROJECT_URL = "https://gitlab.example/acme/incidents"
BLOB = f"{CI_PROJECT_URL}/-/blob/HEAD"
ENCODED = "/api/v4/projects/acme%2Fops/issues"

PLAN = [
    ("Checkout returns 500s", "SEV-1", ["Add a breaker", "Alert on errors", "Load-test"]),
    ("Search is slow", "SEV-2", ["Index orders", "Cap query time"]),
    ("Stale reports", "SEV-3", ["Monitor lag", "Document the cache | flush"]),
]
# Variables of the developer's or the CI's shell that would change what is tested.
CLEARED: dict[str, str | None] = dict.fromkeys(
    (
        "GITLAB_TOKEN",
        "CI_PROJECT_URL",
        "CI_SERVER_URL",
        "CI_PROJECT_PATH",
        "GITHUB_SERVER_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
        "GH_TOKEN",
    )
)


@dataclass(frozen=True)
class Item:
    incident: str
    action: str
    title: str
    severity: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.incident}/{self.action}"

    @property
    def marker(self) -> str:
        return f"<!-- incidentctl:{self.key} -->"


def make_incidents(repo: Repo) -> list[Item]:
    items = []
    for title, severity, actions in PLAN:
        incident = repo.open(title, "--severity", severity)
        for action in actions:
            added = repo.json(
                "action", "add", incident["id"], action, "--owner", "sre", "--due", "2026-12-31"
            )
            items.append(Item(incident["id"], added["action"], action, severity, incident["path"]))
    return items


@pytest.fixture
def gitlab() -> Iterator[GitLabStandIn]:
    with GitLabStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {"path": tmp_path_factory.mktemp("gitlab-template") / "work", "items": None}


def configure(repo: Repo, gitlab: GitLabStandIn, body: str | None = None, **keys: Any) -> None:
    """Write and commit `[trackers.gitlab]`: the stand-in, acme/ops, GL_TOKEN, plus `keys`
    (or exactly `body`)."""
    if body is None:
        table = {"type": "gitlab", "url": gitlab.url, "project": DEFAULT_PROJECT}
        table |= {"token_env": "GL_TOKEN"} | keys
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items() if v is not None)
    repo.file("incidentctl.toml").write_text(f"[trackers.gitlab]\n{body}\n", encoding="utf-8")
    repo.git("add", "incidentctl.toml")
    repo.git("commit", "-qm", "tracker")


@pytest.fixture
def items(repo: Repo, template: dict[str, Any], gitlab: GitLabStandIn) -> list[Item]:
    """`repo` with 3 incidents and 7 open action items, configured for the stand-in."""
    built: Path = template["path"]
    if template["items"] is None:
        shutil.copytree(repo.path, built, symlinks=True)
        template["items"] = make_incidents(Repo(built))
    shutil.rmtree(repo.path)
    shutil.copytree(built, repo.path, symlinks=True)
    configure(repo, gitlab)
    found: list[Item] = template["items"]
    return found


def sync(repo: Repo, gitlab: GitLabStandIn, *args: str, **env: str | None) -> Result:
    full: dict[str, str | None] = {**CLEARED, "GL_TOKEN": gitlab.token}
    full["CI_PROJECT_URL"] = CI_PROJECT_URL
    full.update(env)
    options = ("--tracker", "gitlab", "--pace", "0", "--min-backoff", "0.01")
    # CliRunner unsets the variables given as None.
    return repo.run("issues", "sync", *options, *args, env=cast("dict[str, str]", full))


def sync_json(repo: Repo, gitlab: GitLabStandIn, *args: str, code: int = 0) -> dict[str, Any]:
    result = sync(repo, gitlab, "--json", *args)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def keys(report: dict[str, Any], result: str) -> list[str]:
    return [f"{o['incident']}/{o['action']}" for o in report[result]]


def ours(gitlab: GitLabStandIn, *, labelled: bool = True) -> Counter[str]:
    """How many (labelled) issues are each item's: the marker as the description's last
    line."""
    issues = (i for i in gitlab.issues() if LABEL in i["labels"] or not labelled)
    return Counter(k for i in issues if (k := body_key(i["description"])))


def assert_one_issue_each(
    gitlab: GitLabStandIn, items: list[Item], *, labelled: bool = True
) -> None:
    counts = ours(gitlab, labelled=labelled)
    assert {i.key: counts[i.key] for i in items} == {i.key: 1 for i in items}, counts


def issue_for(gitlab: GitLabStandIn, item: Item) -> dict[str, Any]:
    (issue,) = [i for i in gitlab.issues() if body_key(i["description"]) == item.key]
    return issue


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert "Traceback" not in result.output
    return line


# -- creating, finding -----------------------------------------------------------------------


def test_seven_open_items_become_seven_issues(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    """7 issues: title, description ending with the marker, label + sev-N, incident link;
    POSTed to the URL-encoded project with PRIVATE-TOKEN (never Authorization)."""
    report = sync_json(repo, gitlab)
    assert report["tracker"] == "gitlab"
    assert sorted(keys(report, "created")) == sorted(i.key for i in items)
    assert report["existing"] == report["failed"] == report["duplicates"] == []
    issues = {i["iid"]: i for i in gitlab.issues()}
    assert len(issues) == 7
    for outcome in report["created"]:
        issue = issues[outcome["number"]]
        assert (
            outcome["url"] == issue["web_url"] == f"{gitlab.url}/acme/ops/-/issues/{issue['iid']}"
        )
        assert outcome["ticket"] == f"acme/ops#{issue['iid']}"
    for item in items:
        issue = issue_for(gitlab, item)
        assert issue["state"] == "opened"
        assert issue["title"] == f"[{item.incident}] {item.title}"
        assert issue["labels"] == [LABEL, item.severity.lower()]
        assert issue["description"].rstrip("\n").splitlines()[-1] == item.marker
        assert f"({BLOB}/{item.path})" in issue["description"]
    posts = gitlab.requests_to("POST")
    assert len(posts) == 7 and {p.path for p in posts} == {ENCODED}
    assert {p.body["labels"] for p in posts} == {
        f"{LABEL},sev-1",
        f"{LABEL},sev-2",
        f"{LABEL},sev-3",
    }
    for request in gitlab.requests:
        assert request.header("PRIVATE-TOKEN") == "***"
        assert request.header("Authorization") is None


def test_a_rerun_creates_nothing(repo: Repo, gitlab: GitLabStandIn, items: list[Item]) -> None:
    first = sync_json(repo, gitlab)
    gitlab.clear_requests()
    second = sync_json(repo, gitlab)
    assert second["created"] == second["closed"] == second["failed"] == []
    assert sorted(keys(second, "existing")) == sorted(i.key for i in items)
    assert {o["number"] for o in second["existing"]} == {o["number"] for o in first["created"]}
    assert gitlab.requests_to("POST") == gitlab.requests_to("PUT") == []
    text = sync(repo, gitlab)
    assert text.exit_code == 0, text.output
    assert text.stdout == "0 created, 7 existing, 0 closed, 0 failed\n"
    assert len(gitlab.issues()) == 7


@pytest.mark.parametrize("mode", ["keyset", "offset (GitLab < 18.3)", "405 on keyset", "no Link"])
def test_only_our_issues_count_across_pages(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item], mode: str
) -> None:
    """155 labelled issues on two pages: foreign markers, a forged marker in the middle of
    a description, a second marker, unlabelled ones; only the last-line marker counts."""
    gitlab.keyset = {"keyset": "supported", "405 on keyset": "refused"}.get(mode, "ignored")
    gitlab.links = mode != "no Link"
    other = "INC-20200101-abcd"
    seed = gitlab.seed_issues
    seed(
        DEFAULT_PROJECT,
        60,
        labels=[LABEL],
        description=lambda i: f"x\n<!-- incidentctl:{other}/AI-{i} -->",
    )
    found = seed(
        DEFAULT_PROJECT,
        1,
        labels=[LABEL, "sev-1"],
        description=lambda _: f"Ours.\n\n{items[0].marker}",
    )
    forged = f"Quoting {items[1].marker} in the middle.\n\nNothing more."
    seed(DEFAULT_PROJECT, 1, labels=[LABEL], description=lambda _: forged)
    seed(DEFAULT_PROJECT, 50, labels=[LABEL])
    two = f"<!-- incidentctl:{other}/AI-99 -->\n{items[4].marker}"
    seed(DEFAULT_PROJECT, 1, labels=[LABEL], description=lambda _: two)
    found += seed(
        DEFAULT_PROJECT, 1, labels=[LABEL], description=lambda _: items[2].marker, state="closed"
    )
    seed(DEFAULT_PROJECT, 41, labels=[LABEL, "bug"], state="closed")
    seed(DEFAULT_PROJECT, 10, labels=["bug"], description=lambda _: items[3].marker)
    gitlab.clear_requests()

    report = sync_json(repo, gitlab)

    assert sorted(keys(report, "existing")) == sorted([items[0].key, items[2].key])
    assert sorted(o["number"] for o in report["existing"]) == [f["iid"] for f in found]
    assert sorted(keys(report, "created")) == sorted(i.key for i in items[1:2] + items[3:])
    assert report["failed"] == [] and report["duplicates"] == []
    assert_one_issue_each(gitlab, items)
    assert gitlab.issue(DEFAULT_PROJECT, found[1]["iid"])["state"] == "closed"  # never reopened
    lists = gitlab.requests_to("GET")
    pages = [r for r in lists if r.status == 200]
    assert len(pages) == 2 and len(lists) == (3 if mode == "405 on keyset" else 2)
    first = lists[0]
    assert first.path == ENCODED
    wanted = {"labels": LABEL, "state": "all", "per_page": "100", "order_by": "created_at"}
    assert {k: first.q(k) for k in wanted} | {"sort": first.q("sort")} == wanted | {"sort": "asc"}
    assert first.q("pagination") == "keyset"
    after = pages[1]
    if mode == "keyset":
        assert after.q("cursor") and after.q("page") is None
    else:
        assert after.q("page") == "2" and after.q("cursor") is None
        assert after.q("pagination") == ("keyset" if mode != "405 on keyset" else None)


def test_duplicates_keep_the_oldest(repo: Repo, gitlab: GitLabStandIn, items: list[Item]) -> None:
    twins = gitlab.seed_issues(
        DEFAULT_PROJECT, 2, labels=[LABEL], description=lambda _: items[0].marker
    )
    report = sync_json(repo, gitlab)
    assert [o["number"] for o in report["existing"]] == [twins[0]["iid"]]
    assert report["duplicates"] == [
        {"key": items[0].key, "number": twins[1]["iid"], "ticket": f"acme/ops#{twins[1]['iid']}"}
    ]


# -- faults halfway ----------------------------------------------------------------------------


def test_a_502_on_the_third_creation_then_a_rerun_ends_with_one_issue_each(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    gitlab.bad_gateway(method="POST", path_regex=r"/issues$", skip=2)
    report = sync_json(repo, gitlab, "--retries", "0", code=1)
    (failed,) = report["failed"]
    assert "502" in failed["error"] and failed["number"] is None
    assert len(report["created"]) == 6 and len(gitlab.issues()) == 6
    rerun = sync_json(repo, gitlab, "--retries", "0")
    assert keys(rerun, "created") == keys(report, "failed")
    assert len(rerun["existing"]) == 6
    assert_one_issue_each(gitlab, items)
    assert len(gitlab.issues()) == 7


def test_created_but_502_is_found_by_marker_within_the_run(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    """The issue was created and the answer was a 502: the newest issues are listed
    (sort=desc) and it is found; no second POST, exit 0."""
    gitlab.bad_gateway(method="POST", path_regex=r"/issues$", skip=2, after_effect=True)
    report = sync_json(repo, gitlab, "--retries", "2")
    assert report["failed"] == [] and len(report["created"]) == 7
    posts = gitlab.requests_to("POST")
    assert len(posts) == 7 and posts[2].status == 502
    assert_one_issue_each(gitlab, items)
    newest = [r for r in gitlab.requests_to("GET") if r.q("sort") == "desc"]
    assert newest and all(r.q("labels") == LABEL and r.q("state") == "all" for r in newest)


def test_created_but_502_without_retries_is_found_by_the_rerun(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    gitlab.bad_gateway(method="POST", path_regex=r"/issues$", skip=2, after_effect=True)
    report = sync_json(repo, gitlab, "--retries", "0", code=1)
    assert len(report["failed"]) == 1 and len(gitlab.issues()) == 7
    rerun = sync_json(repo, gitlab, "--retries", "0")
    assert rerun["created"] == [] and len(rerun["existing"]) == 7
    assert_one_issue_each(gitlab, items)


@pytest.mark.parametrize("retry_after", [1, None], ids=["Retry-After", "RateLimit-Reset"])
def test_a_429_is_waited_out(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item], retry_after: int | None
) -> None:
    """429 on POST #3, with Retry-After (or only RateLimit-Reset): the run waits and
    succeeds; no request arrives while limited."""
    gitlab.rate_limit(method="POST", skip=2, retry_after=retry_after, reset_in=1)
    report = sync_json(repo, gitlab)
    assert report["failed"] == [] and len(report["created"]) == 7
    assert gitlab.rate_limit_violations == []
    assert [r.status for r in gitlab.requests_to("POST")].count(429) == 1
    assert_one_issue_each(gitlab, items)


def test_a_done_item_closes_its_issue(repo: Repo, gitlab: GitLabStandIn, items: list[Item]) -> None:
    sync_json(repo, gitlab)
    item = items[3]
    repo.ok("action", "done", item.incident, item.action)
    gitlab.clear_requests()
    report = sync_json(repo, gitlab)
    assert keys(report, "closed") == [item.key]
    assert len(report["existing"]) == 6 and report["created"] == []
    issue = issue_for(gitlab, item)
    assert issue["state"] == "closed"
    (put,) = gitlab.requests_to("PUT")
    assert put.path == f"{ENCODED}/{issue['iid']}" and put.body == {"state_event": "close"}
    assert sum(i["state"] == "opened" for i in gitlab.issues()) == 6
    gitlab.clear_requests()
    again = sync_json(repo, gitlab)
    assert again["closed"] == [] and gitlab.requests_to("PUT") == []


def test_a_guest_token_whose_labels_are_dropped_stops_the_run(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    gitlab.guest = True
    result = sync(repo, gitlab)
    assert result.exit_code == 1
    assert f"dropped the label '{LABEL}'" in result.stderr and "Reporter" in result.stderr
    assert len(gitlab.requests_to("POST")) == 1


# -- errors, the token ---------------------------------------------------------------------------


def test_401_is_one_line_without_the_token(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    bad = "glpat-WrongSecretValue0123456789"
    for args in ((), ("--json",)):
        result = sync(repo, gitlab, *args, GL_TOKEN=bad)
        line = one_error_line(result)
        assert line == "Error: GitLab rejected the token (401); check GL_TOKEN"
        assert result.stdout == ""
        assert bad not in result.output and gitlab.token not in result.output
    configure(repo, gitlab, token_env=None)  # the default variable
    line = one_error_line(sync(repo, gitlab, GITLAB_TOKEN=bad))
    assert line.endswith("check GITLAB_TOKEN")
    assert gitlab.requests_to("POST") == []
    assert {r.status for r in gitlab.requests} == {401}


def test_403_and_404_say_what_to_check(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    gitlab.forbidden()
    line = one_error_line(sync(repo, gitlab))
    assert "403" in line and "`api` scope" in line and "Reporter" in line
    gitlab.clear_faults()
    configure(repo, gitlab, project="acme/nope")
    line = one_error_line(sync(repo, gitlab))
    assert "404" in line and "Project Not Found" in line
    assert "check `url` and `project` in [trackers.gitlab]" in line


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            {"message": {"title": ["can't be blank"], "labels": ["is invalid"]}},
            "title can't be blank; labels is invalid",
        ),
        ({"message": ["first problem", "second\nproblem"]}, "first problem; second problem"),
        ({"error": "title is missing"}, "title is missing"),
        ({"message": "too long " * 100}, "too long too long"),
    ],
)
def test_gitlab_error_messages_are_one_bounded_line(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item], body: dict[str, Any], says: str
) -> None:
    gitlab.fail("POST", r"/issues$", 400, body=body, times=None)
    report = sync_json(repo, gitlab, "--retries", "0", code=1)
    assert len(report["failed"]) == 7
    error = report["failed"][0]["error"]
    assert error.startswith("GitLab answered 400 to POST: ") and says in error
    assert "\n" not in error and len(error) < 300


def test_the_stand_in_answers_gitlabs_own_400_shapes(gitlab: GitLabStandIn) -> None:
    def post(body: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{gitlab.url}{ENCODED}",
            data=json.dumps(body).encode(),
            headers={"PRIVATE-TOKEN": gitlab.token, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert post({"description": "x"}) == (400, {"error": "title is missing"})
    assert post({"title": " "}) == (400, {"message": {"title": ["can't be blank"]}})
    status, issue = post({"title": "t", "labels": "a,b"})
    assert status == 201 and issue["labels"] == ["a", "b"] and issue["state"] == "opened"


def test_the_token_appears_nowhere(repo: Repo, gitlab: GitLabStandIn, items: list[Item]) -> None:
    """Not in stdout or stderr (a run, a failing run, write-back), not in any file of the
    work tree, not in `git log -p`."""
    outputs = [sync(repo, gitlab, "--write-back"), sync(repo, gitlab, "--json")]
    repo.ok("action", "done", items[0].incident, items[0].action)
    gitlab.bad_gateway(times=None, method="PUT")
    outputs.append(sync(repo, gitlab, "--retries", "1"))
    assert [r.exit_code for r in outputs] == [0, 0, 1]
    for result in outputs:
        assert gitlab.token not in result.output and gitlab.token not in repr(result.exception)
    for path in repo.path.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert gitlab.token not in path.read_text(encoding="utf-8", errors="replace"), path
    assert gitlab.token not in repo.git("log", "-p", "--all")
    assert "GL_TOKEN" in repo.file("incidentctl.toml").read_text(encoding="utf-8")


# -- write-back, links, labels -------------------------------------------------------------------


def test_write_back_records_url_and_ticket_one_commit_per_incident(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    head = repo.git("rev-parse", "HEAD").strip()
    report = sync_json(repo, gitlab, "--write-back")
    assert sorted(report["linked"]) == sorted({i.incident for i in items})
    shas = repo.git("rev-list", f"{head}..HEAD").split()
    assert len(shas) == 3
    for sha in shas:
        assert len(repo.git("show", "--name-only", "--format=", sha).split()) == 1
    for item in items:
        front = yaml.safe_load(repo.file(item.path).read_text(encoding="utf-8").split("---")[1])
        (entry,) = [a for a in front["action_items"] if a["id"] == item.action]
        issue = issue_for(gitlab, item)
        assert entry["issue"] == issue["web_url"]
        assert entry["ticket"] == f"acme/ops#{issue['iid']}"
    rows = repo.json("action", "list")
    assert sorted(r["ticket"] for r in rows) == sorted(f"acme/ops#{n}" for n in range(1, 8))
    commits = repo.commits()
    again = sync_json(repo, gitlab, "--write-back")
    assert again["linked"] == [] and again["created"] == [] and repo.commits() == commits


def test_an_issue_that_lost_its_label_is_found_by_its_recorded_url(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    sync_json(repo, gitlab, "--write-back")
    lost = issue_for(gitlab, items[0])
    gitlab.update_issue(DEFAULT_PROJECT, lost["iid"], labels=[])
    gitlab.clear_requests()
    again = sync_json(repo, gitlab)
    assert again["created"] == [] and items[0].key in keys(again, "existing")
    assert any(r.path == f"{ENCODED}/{lost['iid']}" for r in gitlab.requests_to("GET"))
    assert_one_issue_each(gitlab, items, labelled=False)


def test_a_subgroup_project_is_url_encoded(
    repo: Repo, gitlab: GitLabStandIn, items: list[Item]
) -> None:
    project = "acme/platform/ops"
    gitlab.add_project(project)
    configure(repo, gitlab, project=project)
    report = sync_json(repo, gitlab)
    assert len(report["created"]) == 7
    assert {r.path for r in gitlab.requests_to("POST")} == {
        "/api/v4/projects/acme%2Fplatform%2Fops/issues"
    }
    assert all(o["ticket"].startswith("acme/platform/ops#") for o in report["created"])
    assert all(
        o["url"].startswith(f"{gitlab.url}/acme/platform/ops/-/issues/") for o in report["created"]
    )
    assert len(gitlab.issues(project)) == 7 and gitlab.issues() == []
    assert len(sync_json(repo, gitlab)["existing"]) == 7


def test_a_numeric_project_id(repo: Repo, gitlab: GitLabStandIn, items: list[Item]) -> None:
    ident = gitlab.add_project(DEFAULT_PROJECT)
    configure(repo, gitlab, project=str(ident))
    report = sync_json(repo, gitlab, "--write-back")
    assert {r.path for r in gitlab.requests_to("POST")} == {f"/api/v4/projects/{ident}/issues"}
    assert sorted(o["ticket"] for o in report["created"]) == [f"acme/ops#{n}" for n in range(1, 8)]
    gitlab.update_issue(DEFAULT_PROJECT, 1, labels=[])  # found again by its recorded URL
    again = sync_json(repo, gitlab)
    assert again["created"] == [] and len(again["existing"]) == 7


@pytest.mark.parametrize(
    ("env", "keys_", "link"),
    [
        (
            {},
            {"incidents_url": "https://git.example/ops/-/blob/main"},
            "https://git.example/ops/-/blob/main/",
        ),
        (
            {
                "CI_PROJECT_URL": None,
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "acme/inc",
            },
            {},
            "https://github.com/acme/inc/blob/HEAD/",
        ),
        ({"CI_PROJECT_URL": None}, {}, None),
    ],
    ids=["incidents_url", "GitHub", "none"],
)
def test_extra_labels_a_custom_label_and_the_incident_link(
    repo: Repo,
    gitlab: GitLabStandIn,
    items: list[Item],
    env: dict[str, str | None],
    keys_: dict[str, str],
    link: str | None,
) -> None:
    configure(repo, gitlab, labels=["postmortem", "ops"], label="follow-up", **keys_)
    result = sync(repo, gitlab, "--json", **env)
    assert result.exit_code == 0, result.output
    issue = issue_for(gitlab, items[0])
    assert issue["labels"] == ["follow-up", "sev-1", "postmortem", "ops"]
    if link is None:
        assert "/blob/" not in issue["description"]
    else:
        assert f"]({link}{items[0].path})" in issue["description"]
    assert all(r.q("labels") == "follow-up" for r in gitlab.requests_to("GET"))


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys_", "says"),
    [
        ({"project": None}, "`project` is missing"),
        ({"token": "glpat-InlineSecret123"}, "do not write the GitLab token"),
        ({"private_token": "glpat-InlineSecret123"}, "a secret is never written in the file"),
        ({"projct": "acme/ops"}, "unknown key 'projct'"),
        ({"project": "acme"}, "`project` must be a path"),
        ({"project": "acme/../ops"}, "`project` must be a path"),
        ({"url": "ftp://gitlab.example"}, "`url` must be an http(s) URL"),
        ({"labels": ["a,b"]}, "cannot be empty or hold a comma"),
        ({"token_env": "NOT_SET_ANYWHERE"}, "environment variable NOT_SET_ANYWHERE is not set"),
    ],
)
def test_a_misconfigured_table_is_one_line(
    repo: Repo, gitlab: GitLabStandIn, keys_: dict[str, Any], says: str
) -> None:
    configure(repo, gitlab, **keys_)
    line = one_error_line(sync(repo, gitlab))
    assert line.startswith("Error: incidentctl.toml [trackers.gitlab]: ") and says in line, line
    assert "InlineSecret" not in line
    assert gitlab.requests == []


# -- the workflow --------------------------------------------------------------------------------


def test_the_gitlab_workflow_is_pinned_and_least_privilege() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    doc = load(text)
    assert doc["on"] == {
        "push": {"branches": ["main"], "paths": ["incidents/**"]},
        "workflow_dispatch": None,
    }
    assert doc["permissions"] == {}
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert doc["concurrency"]["cancel-in-progress"] is False
    steps = all_steps(doc)
    check_pinned_and_inert(steps, runs=2)
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    step = next(s for s in steps if "issues sync" in str(s.get("run", "")))
    assert step["env"] == {"GITLAB_TOKEN": "${{ secrets.GITLAB_TOKEN }}"}
    assert step["run"] == "incidentctl issues sync --tracker gitlab"
    assert "@INCIDENTCTL_INSTALL@" in text
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    for argv in (
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(WORKFLOW)],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
