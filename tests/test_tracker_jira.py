"""`incidentctl issues sync --tracker jira` over real HTTP against the Jira stand-in.

Nothing of ours is mocked: the CLI runs in-process (CliRunner) with an
incidentctl.toml holding `[trackers.jira]`, and talks HTTP to tests/jira_standin.py
on 127.0.0.1, as Jira Cloud (REST v3, e-mail + API token, ADF descriptions,
`nextPageToken` pages) and as Jira Data Center (REST v2, a personal access token,
wiki descriptions, `startAt` pages). The incident repositories are real git work trees.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from actions_sim import all_steps, check_pinned_and_inert, load
from click.testing import Result
from conftest import Repo, tool
from jira_standin import (
    DEFAULT_EMAIL,
    DEFAULT_PROJECT,
    LABEL,
    JiraStandIn,
    adf_marks,
    adf_problem,
    adf_text,
)
from test_issues_sync import PLAN, Item, make_incidents

from incidentctl.trackers import jiradoc
from incidentctl.trackers.base import Draft
from incidentctl.trackers.config import Configured, build
from incidentctl.trackers.http import Policy

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "templates" / "workflows" / "action-items-jira.yml"
WEB = "https://github.com/acme/incidents/blob/HEAD"
PRIORITY = {"SEV-1": "Highest", "SEV-2": "High", "SEV-3": "Medium"}
BAD_TOKEN = "ATATT-wrong-token-Secret0123456789"


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request: pytest.FixtureRequest) -> Iterator[JiraStandIn]:
    with JiraStandIn(request.param) as standin:
        yield standin


cloud_only = pytest.mark.parametrize("jira", ["cloud"], indirect=True)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {"path": tmp_path_factory.mktemp("template") / "work", "items": None}


@pytest.fixture
def items(repo: Repo, template: dict[str, Any]) -> list[Item]:
    """`repo` holding the 3 incidents and 7 action items of PLAN (a copy of one repo)."""
    built: Path = template["path"]
    if template["items"] is None:
        shutil.copytree(repo.path, built, symlinks=True)
        template["items"] = make_incidents(Repo(built))
    shutil.rmtree(repo.path)
    shutil.copytree(built, repo.path, symlinks=True)
    found: list[Item] = template["items"]
    return found


def table(jira: JiraStandIn, **keys: Any) -> str:
    """`[trackers.jira]` for the stand-in; `keys` add, replace or (None) drop keys."""
    values: dict[str, Any] = {
        "type": "jira",
        "url": jira.url,
        "deployment": jira.deployment,
        "project": DEFAULT_PROJECT,
        "email": DEFAULT_EMAIL if jira.cloud else None,
        "token_env": "JIRA_API_TOKEN" if jira.cloud else "JIRA_TOKEN",
    }
    values.update(keys)
    lines = [f"{k} = {toml_value(v)}" for k, v in values.items() if v is not None]
    return "[trackers.jira]\n" + "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    return json.dumps(value)  # strings and lists of strings: JSON is TOML here


def configure(repo: Repo, jira: JiraStandIn, **keys: Any) -> None:
    repo.file("incidentctl.toml").write_text(table(jira, **keys), encoding="utf-8")
    repo.git("add", "incidentctl.toml")
    repo.git("commit", "-qm", "Jira")


def sync(repo: Repo, jira: JiraStandIn, *args: str, **env: str | None) -> Result:
    full: dict[str, str | None] = {
        **jira.env(),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/incidents",
        "JIRA_EMAIL": None,
        "GITHUB_TOKEN": None,
        "GH_TOKEN": None,
    }
    full.update(env)
    argv = ["issues", "sync", "--tracker", "jira", "--pace", "0", "--min-backoff", "0.01"]
    return repo.run(*argv, *args, env=full)  # type: ignore[arg-type]  # None unsets


def sync_json(
    repo: Repo, jira: JiraStandIn, *args: str, code: int = 0, **env: str | None
) -> dict[str, Any]:
    result = sync(repo, jira, "--json", *args, **env)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def keys(report: dict[str, Any], result: str) -> list[str]:
    return [f"{o['incident']}/{o['action']}" for o in report[result]]


def ours(issue: Any) -> str | None:
    value = issue.properties.get("incidentctl")
    return value.get("key") if isinstance(value, dict) else None


def assert_one_ticket_each(jira: JiraStandIn, items: list[Item]) -> None:
    counts = Counter(ours(i) for i in jira.issues())
    assert {i.key: counts[i.key] for i in items} == {i.key: 1 for i in items}, counts


def ticket_for(jira: JiraStandIn, item: Item) -> Any:
    (issue,) = [i for i in jira.issues() if ours(i) == item.key]
    return issue


def text_of(description: Any) -> str:
    return adf_text(description) if isinstance(description, dict) else str(description)


# -- creating, finding ---------------------------------------------------------------------------


def test_creates_one_ticket_per_open_action_item(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    """7 open items -> 7 tickets: summary, labels, priority from the severity, the
    property, and a description in the deployment's format (ADF: text nodes only)."""
    configure(repo, jira)
    report = sync_json(repo, jira)
    assert report["tracker"] == "jira"
    assert sorted(keys(report, "created")) == sorted(i.key for i in items)
    assert report["existing"] == report["closed"] == report["failed"] == []
    assert len(jira.issues()) == 7
    by_key = {i.key: i for i in jira.issues()}
    for outcome in report["created"]:
        issue = by_key[outcome["ticket"]]
        assert outcome["url"] == f"{jira.url}/browse/{issue.key}"
        assert outcome["number"] is None
        assert ours(issue) == f"{outcome['incident']}/{outcome['action']}"
    for item in items:
        issue = ticket_for(jira, item)
        assert issue.summary == f"[{item.incident}] {item.title}"
        assert issue.labels == [LABEL, item.severity.lower()]
        assert issue.priority == PRIORITY[item.severity]
        assert issue.issuetype == "Task" and issue.status == "To Do"
        text = text_of(issue.description)
        assert f"{WEB}/{item.path}" in text
        assert item.owner in text and item.due in text and item.severity in text
        assert "<!--" not in text and "**" not in text
        if jira.cloud:
            assert adf_problem(issue.description) is None
            assert adf_marks(issue.description) == []
        else:
            assert isinstance(issue.description, str)
            assert f"* Owner: {item.owner}\n" in issue.description
    posts = jira.requests_to("POST")
    assert {p.path for p in posts} == {f"/rest/api/{jira.version}/issue"}
    scheme = "Basic ***" if jira.cloud else "Bearer ***"
    assert all(r.headers["Authorization"] == scheme for r in jira.requests)
    assert all(p.body["properties"][0]["key"] == "incidentctl" for p in posts)


def test_second_run_creates_nothing(repo: Repo, jira: JiraStandIn, items: list[Item]) -> None:
    configure(repo, jira)
    first = sync_json(repo, jira)
    jira.clear_requests()
    second = sync_json(repo, jira)
    assert second["created"] == [] and second["failed"] == [] and second["closed"] == []
    assert sorted(o["ticket"] for o in second["existing"]) == sorted(
        o["ticket"] for o in first["created"]
    )
    assert jira.requests_to("POST") == []
    text = sync(repo, jira)
    assert text.exit_code == 0, text.output
    assert text.stdout == "0 created, 7 existing, 0 closed, 0 failed\n"
    assert len(jira.issues()) == 7


def test_finds_its_tickets_among_foreign_ones_on_several_pages(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    """280 labelled issues on 3 pages: only a property holding a key exactly makes one
    ours; a marker or a key in the description, a malformed property, another project
    count for nothing."""
    configure(repo, jira)
    found, forged = [items[0], items[3]], [items[1], items[2], items[4]]
    jira.seed(60)  # no property at all
    jira.seed(1, prop=lambda _: {"key": found[0].key})
    # The marker GitHub uses, and a key, written into the description: not ours.
    jira.seed(
        60,
        description=lambda i: (
            f'<!-- incidentctl:{forged[i % 3].key} -->\n{{"key": "{forged[0].key}"}}'
        ),
    )
    malformed = [
        forged[0].key,  # a string, not {"key": …}
        {"key": f" {forged[1].key}"},
        {"key": f"{forged[2].key}\n"},
        {"key": [forged[0].key]},
        {"id": forged[1].key},
    ]
    jira.seed(len(malformed), prop=lambda i: malformed[i - 1])
    jira.seed(1, prop=lambda _: {"key": found[1].key}, status="Done")  # closed by a person
    jira.seed(150, prop=lambda i: {"key": f"INC-20200101-abcd/AI-{i}"})  # another incident's
    jira.projects["OTHER"] = 0
    jira.seed(3, project="OTHER", prop=lambda i: {"key": forged[i - 1].key})
    jira.seed(2, labels=["something-else"], prop=lambda i: {"key": forged[i - 1].key})

    report = sync_json(repo, jira)
    assert sorted(keys(report, "existing")) == sorted(i.key for i in found)
    assert sorted(keys(report, "created")) == sorted(i.key for i in items if i not in found)
    assert report["duplicates"] == [] and report["failed"] == []
    searches = jira.requests_to("GET", "/search")
    assert len(searches) == 3  # 277 labelled in OPS, 100 a page
    if jira.cloud:
        assert [r.query.get("nextPageToken") is None for r in searches] == [True, False, False]
    else:
        assert [r.query["startAt"] for r in searches] == ["0", "100", "200"]
    jql = searches[0].query["jql"]
    assert jql == f'project = "OPS" AND labels = "{LABEL}" ORDER BY created ASC'
    assert all(r.query["properties"] == "incidentctl" for r in searches)
    assert ticket_for(jira, found[1]).status == "Done"  # an open item's: left as it is


def test_duplicates_keep_the_oldest_and_are_reported(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    twins = jira.seed(2, prop=lambda _: {"key": items[0].key})
    report = sync_json(repo, jira)
    assert [o["ticket"] for o in report["existing"]] == [twins[0]]
    assert report["duplicates"] == [{"key": items[0].key, "number": None, "ticket": twins[1]}]
    result = sync(repo, jira)
    assert f"warning: ticket {twins[1]} duplicates {items[0].key}" in result.stderr


# -- faults halfway ------------------------------------------------------------------------------


def test_502_on_the_third_creation_then_a_rerun_ends_with_one_ticket_each(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    jira.bad_gateway(method="POST", path_regex=r"/issue$", skip=2)
    report = sync_json(repo, jira, "--retries", "0", code=1)
    (failed,) = report["failed"]
    assert "502" in failed["error"] and failed["ticket"] is None
    assert len(report["created"]) == 6 and len(jira.issues()) == 6

    rerun = sync_json(repo, jira, "--retries", "0")
    assert keys(rerun, "created") == keys(report, "failed")
    assert len(rerun["existing"]) == 6
    assert_one_ticket_each(jira, items)


def test_created_but_502_is_found_by_its_property_within_the_run(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    """Jira made the ticket and the answer was a 502: the newest tickets are searched
    (ORDER BY created DESC) and it is found; no second POST, exit 0."""
    configure(repo, jira)
    jira.bad_gateway(method="POST", path_regex=r"/issue$", skip=2, after_effect=True)
    report = sync_json(repo, jira, "--retries", "2")
    assert report["failed"] == []
    assert sorted(keys(report, "created")) == sorted(i.key for i in items)
    assert len(jira.requests_to("POST", r"/issue$")) == 7
    assert_one_ticket_each(jira, items)
    newest = [r for r in jira.requests_to("GET", "/search") if "DESC" in r.query["jql"]]
    assert len(newest) == 1


def test_created_but_502_without_retries_and_the_rerun_adds_no_duplicate(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    jira.bad_gateway(method="POST", path_regex=r"/issue$", skip=2, after_effect=True)
    report = sync_json(repo, jira, "--retries", "0", code=1)
    assert len(report["failed"]) == 1 and len(jira.issues()) == 7
    rerun = sync_json(repo, jira, "--retries", "0")
    assert rerun["created"] == [] and len(rerun["existing"]) == 7
    assert_one_ticket_each(jira, items)


def test_429_with_retry_after_is_waited_out(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    jira.rate_limit(retry_after=1, method="POST", skip=2)
    report = sync_json(repo, jira)
    assert report["failed"] == [] and len(report["created"]) == 7
    assert jira.rate_limit_violations == []
    assert [r.status for r in jira.requests_to("POST")].count(429) == 1
    assert_one_ticket_each(jira, items)


@cloud_only
def test_a_long_retry_after_stops_the_run_in_one_line(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    jira.rate_limit(retry_after=3600, method="GET")
    result = sync(repo, jira)
    assert result.exit_code == 1
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert "429" in line and "re-run later" in line
    assert jira.rate_limit_violations == [] and jira.requests_to("POST") == []


@pytest.mark.parametrize(
    ("status", "method", "says"),
    [
        (403, "POST", "Create issues"),
        (404, "GET", "check `url` and `project` (OPS)"),
        (400, "POST", "Jira answered 400 to POST: Field required; summary: too long"),
    ],
)
@cloud_only
def test_errors_say_what_to_check(
    repo: Repo, jira: JiraStandIn, items: list[Item], status: int, method: str, says: str
) -> None:
    configure(repo, jira)
    body = {"errorMessages": ["Field required"], "errors": {"summary": "too long"}}
    jira.fail(method, ".*", status, times=None, body=body if status == 400 else None)
    result = sync(repo, jira, "--retries", "0")
    assert result.exit_code == 1
    assert says in result.stderr, result.stderr


# -- done items ----------------------------------------------------------------------------------


def test_done_item_is_transitioned_to_done(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    sync_json(repo, jira)
    item = items[3]
    repo.ok("action", "done", item.incident, item.action)
    jira.clear_requests()
    report = sync_json(repo, jira)
    assert keys(report, "closed") == [item.key]
    assert len(report["existing"]) == 6 and report["created"] == []
    issue = ticket_for(jira, item)
    assert issue.status == "Done"
    (post,) = jira.requests_to("POST")
    assert post.path == f"/rest/api/{jira.version}/issue/{issue.key}/transitions"
    assert post.body == {"transition": {"id": "31"}}
    assert sum(i.status == "Done" for i in jira.issues()) == 1
    jira.clear_requests()
    again = sync_json(repo, jira)
    assert again["closed"] == [] and jira.requests_to("POST") == []


@cloud_only
def test_the_done_transition_is_found_by_name_or_target_or_named_in_the_error(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    """`done_transition` matches a transition's name or the status it leads to (any
    case); with none matching, the error lists what the workflow offers."""
    jira.done_name = "Close Issue"  # into the status Done
    configure(repo, jira, done_transition="Resolve")
    sync_json(repo, jira)
    repo.ok("action", "done", items[0].incident, items[0].action)
    report = sync_json(repo, jira, code=1)
    (failed,) = report["failed"]
    key = ticket_for(jira, items[0]).key
    assert failed["error"] == (
        f"Jira offers no transition 'Resolve' for {key} "
        "(available: 'Start Progress', 'Close Issue'); set done_transition"
    )
    configure(repo, jira, done_transition="close issue")
    assert keys(sync_json(repo, jira), "closed") == [items[0].key]
    repo.ok("action", "done", items[1].incident, items[1].action)
    configure(repo, jira)  # "Done": the status that transition leads to
    assert keys(sync_json(repo, jira), "closed") == [items[1].key]
    assert [ticket_for(jira, i).status for i in items[:3]] == ["Done", "Done", "To Do"]


# -- credentials ---------------------------------------------------------------------------------


def leaks(*texts: str, token: str) -> list[str]:
    import base64

    basic = base64.b64encode(f"{DEFAULT_EMAIL}:{token}".encode()).decode()
    return [t for t in texts if token in t or basic in t]


def test_401_is_one_line_without_the_token(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    if jira.cloud:
        configure(repo, jira, email=None, email_env="JIRA_EMAIL")
        variables: tuple[str, ...] = ("JIRA_EMAIL", "JIRA_API_TOKEN")
    else:
        variables = ("JIRA_TOKEN",)
        configure(repo, jira)
    for args in ((), ("--json",)):
        result = sync(repo, jira, *args, JIRA_EMAIL=DEFAULT_EMAIL, **jira.env(token=BAD_TOKEN))
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
        assert line.startswith("Error: Jira rejected the credentials (401); check ")
        assert all(v in line for v in variables)
        assert not leaks(result.output, repr(result.exception), token=BAD_TOKEN)
    assert jira.requests_to("POST") == []
    assert all(r.status == 401 for r in jira.requests)


def test_the_token_appears_nowhere(repo: Repo, jira: JiraStandIn, items: list[Item]) -> None:
    """Not in any output (also of failures), not in the incident files, not in git."""
    configure(repo, jira)
    jira.bad_gateway(method="POST", skip=1)
    outputs = [sync(repo, jira, "--retries", "0", "--write-back")]
    outputs.append(sync(repo, jira, "--write-back", "--json"))
    outputs.append(sync(repo, jira, "--dry-run"))
    assert [r.exit_code for r in outputs] == [1, 0, 0]
    texts = [t for r in outputs for t in (r.stdout, r.stderr, repr(r.exception))]
    texts += [
        p.read_text(encoding="utf-8")
        for p in repo.path.rglob("*")
        if p.is_file() and ".git" not in p.parts
    ]
    texts.append(repo.git("log", "-p", "--all"))
    texts += [json.dumps(r.body) + json.dumps(r.headers) for r in jira.requests]
    assert not leaks(*texts, token=jira.token)
    assert jira.token not in json.dumps([r.query for r in jira.requests])


# -- write-back, action list ---------------------------------------------------------------------


def test_write_back_records_the_browse_url_and_key(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    head = repo.git("rev-parse", "HEAD").strip()
    report = sync_json(repo, jira, "--write-back")
    assert sorted(report["linked"]) == sorted({i.incident for i in items})
    commits = repo.git("rev-list", f"{head}..HEAD").split()
    assert len(commits) == len(PLAN)
    for sha in commits:
        assert len(repo.git("show", "--name-only", "--format=", sha).split()) == 1
    for item in items:
        front = yaml.safe_load(repo.file(item.path).read_text(encoding="utf-8").split("---")[1])
        (entry,) = [a for a in front["action_items"] if a["id"] == item.action]
        key = ticket_for(jira, item).key
        assert entry["issue"] == f"{jira.url}/browse/{key}"
        assert entry["ticket"] == key
    rows = {f"{r['incident']}/{r['id']}": r for r in repo.json("action", "list")}
    assert {k: rows[k]["ticket"] for k in rows} == {i.key: ticket_for(jira, i).key for i in items}
    count = repo.commits()
    jira.clear_requests()
    again = sync_json(repo, jira, "--write-back")
    assert again["linked"] == [] and again["created"] == [] and repo.commits() == count
    assert jira.requests_to("POST") == []


@cloud_only
def test_a_ticket_that_lost_its_label_is_found_by_its_recorded_url(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira)
    sync_json(repo, jira, "--write-back")
    lost = ticket_for(jira, items[0])
    jira.set_labels(lost.key, [])
    jira.clear_requests()
    again = sync_json(repo, jira)
    assert again["created"] == [] and items[0].key in keys(again, "existing")
    assert jira.requests_to("GET", f"/issue/{lost.key}$")
    assert_one_ticket_each(jira, items)


@cloud_only
def test_a_dropped_property_stops_the_run(repo: Repo, jira: JiraStandIn, items: list[Item]) -> None:
    """A ticket without its property could never be found again: one, then stop."""
    jira.drop_properties = True
    configure(repo, jira)
    report = sync_json(repo, jira, code=1)
    (failed,) = report["failed"]
    assert "did not keep the issue property 'incidentctl'" in failed["error"]
    assert failed["ticket"] == "OPS-1"
    assert len(jira.requests_to("POST")) == 1


# -- the table -----------------------------------------------------------------------------------


@cloud_only
def test_priorities_labels_issue_type_and_incident_links_from_the_table(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(
        repo,
        jira,
        priorities={"SEV-1": "High", "SEV-3": ""},
        labels=["postmortem", LABEL],
        issue_type="Bug",
        incidents_url="https://git.acme.example/ops/-/blob/main",
    )
    sync_json(repo, jira, GITHUB_SERVER_URL=None)
    for item in items:
        issue = ticket_for(jira, item)
        assert issue.issuetype == "Bug"
        assert issue.labels == [LABEL, item.severity.lower(), "postmortem"]
        assert f"https://git.acme.example/ops/-/blob/main/{item.path}" in text_of(issue.description)
    posts = {
        p.body["properties"][0]["value"]["key"]: p.body["fields"] for p in jira.requests_to("POST")
    }
    assert {i.severity: posts[i.key].get("priority") for i in items} == {
        "SEV-1": {"name": "High"},
        "SEV-2": {"name": "High"},
        "SEV-3": None,
    }


@cloud_only
def test_an_unknown_priority_is_jiras_400_in_one_line(
    repo: Repo, jira: JiraStandIn, items: list[Item]
) -> None:
    configure(repo, jira, priorities={"SEV-1": "Blocker"})
    report = sync_json(repo, jira, code=1)
    assert len(report["failed"]) == 3 and len(report["created"]) == 4
    assert {f["error"] for f in report["failed"]} == {
        "Jira answered 400 to POST: priority: Priority name 'Blocker' is not valid"
    }


@pytest.mark.parametrize(
    ("keys_", "says"),
    [
        ({"project": None}, "`project` is missing"),
        ({"token_env": None, "token": "ATATT-inline-secret"}, "do not write the Jira API token"),
        ({"projet": "OPS"}, "unknown key 'projet'"),
        ({"api_token": "ATATT-inline-secret"}, "a secret is never written in the file"),
        ({"deployment": "server"}, '`deployment` must be "cloud" or "datacenter"'),
        ({"labels": ["post mortem"]}, "the label 'post mortem' has spaces"),
        ({"email_env": "JIRA_EMAIL"}, "set email, email_env or email_file, not two"),
        ({"project": "OPS-1"}, "`project` must be a Jira project key"),
        ({"priorities": {"P1": "High"}}, "not 'P1'"),
        ({"url": "ftp://jira.example"}, "`url` must be an http(s) URL"),
        ({"email": None}, "environment variable JIRA_EMAIL is not set"),
        ({"email": "not an address"}, "`email` must be"),
        ({"token_env": "NOT_SET_ANYWHERE"}, "NOT_SET_ANYWHERE is not set"),
        ({"deployment": "datacenter"}, "`email` is for Jira Cloud"),
    ],
)
@cloud_only
def test_a_bad_table_is_one_line(
    repo: Repo, jira: JiraStandIn, keys_: dict[str, Any], says: str
) -> None:
    configure(repo, jira, **keys_)
    result = sync(repo, jira)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: incidentctl.toml [trackers.jira]: ") and says in line, line
    assert "inline-secret" not in result.output and jira.requests == []


@pytest.mark.parametrize(
    ("url", "cloud"),
    [
        ("https://acme.atlassian.net", True),
        ("https://jira.acme.example/jira", False),
    ],
)
def test_the_deployment_defaults_by_host(url: str, cloud: bool) -> None:
    raw = {"type": "jira", "url": url, "project": "OPS", "email": DEFAULT_EMAIL}
    env = {"JIRA_API_TOKEN": "t0k", "JIRA_TOKEN": "t0k"}
    if not cloud:
        del raw["email"]
    tracker: Any = build(Configured("jira", "jira", (), raw), env, Policy(), label=None)
    assert tracker.client.cloud is cloud
    assert tracker.client.api("/issue") == f"{url}/rest/api/{3 if cloud else 2}/issue"
    assert tracker.browse("OPS-7") == f"{url}/browse/OPS-7"


# -- descriptions --------------------------------------------------------------------------------


HOSTILE = (
    "Action item **AI-1** from incident [INC-1: a &lt;b&gt;bold&lt;/b&gt; {html} "
    "[x|javascript:y] !img.png! *s* \\\\ title](https://example.com/i.md) (SEV-1).\n\n"
    "| | |\n| --- | --- |\n| Owner | team \\| other |\n| Due | - |\n\n"
    "- a bullet with `code`\n\nMark it done with `incidentctl action done`.\n"
)


def test_descriptions_are_plain_text_in_both_formats() -> None:
    doc = jiradoc.adf(HOSTILE)
    assert adf_problem(doc) is None and adf_marks(doc) == []
    text = adf_text(doc)
    assert "<b>bold</b>" in text and "**" not in text and "`" not in text
    assert "INC-1: a <b>bold</b> {html} [x|javascript:y] !img.png! *s* \\\\ title" in text
    assert "(https://example.com/i.md)" in text
    assert "Owner: team | other" in text.splitlines()
    wiki = jiradoc.wiki(HOSTILE)
    assert "\\{html\\}" in wiki and "\\[x\\|javascript:y\\]" in wiki and "\\!img.png\\!" in wiki
    assert "\\*s\\*" in wiki and "\uff3c\uff3c title" in wiki and "\\\\" not in wiki
    assert "* Owner: team \\| other\n* Due: -\n" in wiki
    assert jiradoc.adf("")["content"] == [] and jiradoc.wiki("") == "\n"


def test_a_long_summary_is_cut_to_255() -> None:
    raw = {"type": "jira", "url": "https://acme.atlassian.net", "project": "OPS"}
    raw["email"] = DEFAULT_EMAIL
    tracker: Any = build(Configured("jira", "jira", (), raw), {"JIRA_API_TOKEN": "t"}, Policy())
    draft = Draft("INC-1/AI-1", "x" * 300 + "\n", "", [LABEL], "SEV-2", "body")
    fields = tracker.fields(draft)
    assert len(fields["summary"]) == 255 and fields["summary"].endswith("…")
    assert fields["priority"] == {"name": "High"}


# -- the workflow --------------------------------------------------------------------------------


def test_the_jira_workflow_is_pinned_and_least_privilege() -> None:
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
    sync_step = next(s for s in steps if "issues sync" in str(s.get("run", "")))
    assert sync_step["run"] == "incidentctl issues sync --tracker jira"
    assert sync_step["env"] == {
        "JIRA_EMAIL": "${{ secrets.JIRA_EMAIL }}",
        "JIRA_API_TOKEN": "${{ secrets.JIRA_API_TOKEN }}",
    }
    assert "@INCIDENTCTL_INSTALL@" in text
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    for argv in (
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(WORKFLOW)],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
