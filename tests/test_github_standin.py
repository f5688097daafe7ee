"""The GitHub REST API stand-in, exercised over real HTTP with urllib.request."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from github_standin import (
    DEFAULT_REPO,
    DEFAULT_TOKEN,
    GitHubStandIn,
    iter_pages,
    parse_link,
)

REPO = DEFAULT_REPO
LABEL = "action-item"
RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-used",
    "x-ratelimit-resource",
)


class Reply:
    def __init__(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def data(self) -> Any:
        return json.loads(self.raw)

    @property
    def links(self) -> dict[str, str]:
        return parse_link(self.headers.get("link", ""))


def call(
    gh: GitHubStandIn,
    method: str,
    target: str,
    body: Any = None,
    *,
    token: str | None = DEFAULT_TOKEN,
    scheme: str = "Bearer",
    raw: bytes | None = None,
    timeout: float = 10,
) -> Reply:
    """One request; `target` is a path on the stand-in or an absolute URL."""
    url = target if target.startswith("http") else gh.url + target
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def list_all(gh: GitHubStandIn, query: str) -> list[Reply]:
    """Follow rel="next" from the first page, as a client must."""
    pages = [call(gh, "GET", f"/repos/{REPO}/issues?{query}")]
    while "next" in pages[-1].links:
        pages.append(call(gh, "GET", pages[-1].links["next"]))
    return pages


def seed_mixed(gh: GitHubStandIn) -> None:
    """250 items, pull requests spread among issues: 100 issues, 20 PRs, 100 issues, 30 PRs."""
    gh.seed_issues(REPO, 100, label=LABEL)
    gh.seed_pull_requests(REPO, 20, label=LABEL)
    gh.seed_issues(REPO, 100, label=LABEL)
    gh.seed_pull_requests(REPO, 30, label=LABEL)


# ------------------------------------------------------------------ lifecycle


def test_serves_on_a_random_local_port_and_releases_it() -> None:
    with GitHubStandIn() as gh:
        assert gh.url.startswith("http://127.0.0.1:")
        port = gh.port
        assert call(gh, "GET", f"/repos/{REPO}/issues").status == 200
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_two_stand_ins_are_independent(github: GitHubStandIn) -> None:
    with GitHubStandIn(token="other", repos=["x/y"]) as other:
        assert other.url != github.url
        assert call(other, "GET", f"/repos/{REPO}/issues", token="other").status == 404
        assert call(other, "GET", "/repos/x/y/issues", token="other").status == 200


def test_fixture_exposes_an_actions_like_environment(github: GitHubStandIn) -> None:
    env = github.env()
    assert env == {
        "GITHUB_TOKEN": DEFAULT_TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.com",
    }


# ------------------------------------------------------------------ listing and pagination


def test_pagination_across_250_items_with_pull_requests_mixed_in(github: GitHubStandIn) -> None:
    seed_mixed(github)
    pages = list_all(github, f"labels={LABEL}&state=all&per_page=100")

    assert [len(p.data) for p in pages] == [100, 100, 50]
    repo_id_path = urlsplit(pages[0].links["next"]).path
    assert repo_id_path.startswith("/repositories/") and repo_id_path.endswith("/issues")

    first, middle, last = (p.links for p in pages)
    assert set(first) == {"next", "last"}
    assert set(middle) == {"prev", "next", "last", "first"}
    assert set(last) == {"prev", "first"}
    # GitHub's order: prev, next, last, first.
    rels = [part.split('rel="')[1].rstrip('"') for part in pages[1].headers["link"].split(", ")]
    assert rels == ["prev", "next", "last", "first"]
    for url in (*first.values(), *middle.values(), *last.values()):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == github.url
        query = parse_qs(parts.query)
        assert query["per_page"] == ["100"] and query["state"] == ["all"]
        assert query["labels"] == [LABEL]
        assert parts.query.endswith(f"page={query['page'][0]}")  # page comes last
    assert parse_qs(urlsplit(first["last"]).query)["page"] == ["3"]
    assert parse_qs(urlsplit(middle["prev"]).query)["page"] == ["1"]
    assert parse_qs(urlsplit(last["first"]).query)["page"] == ["1"]

    items = [item for page in pages for item in page.data]
    numbers = [item["number"] for item in items]
    assert numbers == list(range(250, 0, -1))  # created, desc: the defaults
    pulls = [item for item in items if "pull_request" in item]
    issues = [item for item in items if "pull_request" not in item]
    assert len(pulls) == 50 and len(issues) == 200
    assert {p["number"] for p in pulls} == set(range(101, 121)) | set(range(221, 251))
    pr = pulls[0]
    assert pr["html_url"] == f"https://github.com/{REPO}/pull/{pr['number']}"
    assert pr["pull_request"]["html_url"] == pr["html_url"]
    assert pr["pull_request"]["url"] == f"{github.url}/repos/{REPO}/pulls/{pr['number']}"
    issue = issues[0]
    assert issue["html_url"] == f"https://github.com/{REPO}/issues/{issue['number']}"


def test_iter_pages_helper_follows_links(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 45)
    pages = list(iter_pages(f"{github.url}/repos/{REPO}/issues?per_page=20", DEFAULT_TOKEN))
    assert [len(data) for _, _, data in pages] == [20, 20, 5]


def test_one_page_has_no_link_header_and_defaults_to_30(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 10)
    reply = call(github, "GET", f"/repos/{REPO}/issues")
    assert reply.status == 200 and len(reply.data) == 10 and "link" not in reply.headers

    github.seed_issues(REPO, 30)
    reply = call(github, "GET", f"/repos/{REPO}/issues")
    assert len(reply.data) == 30 and set(reply.links) == {"next", "last"}


def test_per_page_is_capped_at_100(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 120)
    reply = call(github, "GET", f"/repos/{REPO}/issues?per_page=500")
    assert len(reply.data) == 100
    assert parse_qs(urlsplit(reply.links["last"]).query)["page"] == ["2"]


def test_a_page_past_the_end_is_empty(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 5)
    reply = call(github, "GET", f"/repos/{REPO}/issues?page=3")
    assert reply.status == 200 and reply.data == []
    assert "next" not in reply.links


def test_label_filter_needs_every_label(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 2, label="a")
    github.seed_issues(REPO, 3, label=["a", "b"])
    github.seed_issues(REPO, 4, label="b")
    github.seed_pull_requests(REPO, 1, label=["a", "b"])

    def numbers(query: str) -> list[int]:
        return sorted(
            i["number"] for i in call(github, "GET", f"/repos/{REPO}/issues?{query}").data
        )

    assert numbers("labels=a") == [1, 2, 3, 4, 5, 10]
    assert numbers("labels=a,b") == [3, 4, 5, 10]
    assert numbers("labels=B,%20A") == [3, 4, 5, 10]  # case and spaces do not matter
    assert numbers("labels=c") == []
    assert numbers("") == list(range(1, 11))
    labels = call(github, "GET", f"/repos/{REPO}/issues/3").data["labels"]
    assert [label["name"] for label in labels] == ["a", "b"]
    assert all({"id", "url", "name", "color", "default"} <= set(label) for label in labels)


def test_state_filter_defaults_to_open(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 3)
    github.seed_issues(REPO, 2, state="closed")

    def numbers(query: str) -> list[int]:
        return sorted(
            i["number"] for i in call(github, "GET", f"/repos/{REPO}/issues?{query}").data
        )

    assert numbers("") == [1, 2, 3]
    assert numbers("state=open") == [1, 2, 3]
    assert numbers("state=closed") == [4, 5]
    assert numbers("state=all") == [1, 2, 3, 4, 5]
    bad = call(github, "GET", f"/repos/{REPO}/issues?state=bogus")
    assert bad.status == 422 and bad.data["errors"][0]["field"] == "state"


def test_sort_direction_and_since(github: GitHubStandIn) -> None:
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    github.clock = lambda: now[0]
    for _ in range(3):
        github.seed_issues(REPO, 1)
        now[0] += timedelta(hours=1)
    github.update_issue(REPO, 1, title="touched")  # updated at 03:00

    def numbers(query: str) -> list[int]:
        return [i["number"] for i in call(github, "GET", f"/repos/{REPO}/issues?{query}").data]

    assert numbers("") == [3, 2, 1]
    assert numbers("direction=asc") == [1, 2, 3]
    assert numbers("sort=updated") == [1, 3, 2]
    assert numbers("since=2026-01-01T01:00:00Z&direction=asc") == [1, 2, 3]
    assert sorted(numbers("since=2026-01-01T01:30:00Z")) == [1, 3]
    assert call(github, "GET", f"/repos/{REPO}/issues?since=yesterday").status == 422
    issue = call(github, "GET", f"/repos/{REPO}/issues/2").data
    assert issue["created_at"] == "2026-01-01T01:00:00Z" == issue["updated_at"]


def test_150_items_list_in_well_under_a_second(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 120, label=LABEL, with_marker=lambda i: f"<!-- m:{i} -->")
    github.seed_pull_requests(REPO, 30, label=LABEL)
    start = time.perf_counter()
    pages = list_all(github, f"labels={LABEL}&state=all&per_page=100")
    elapsed = time.perf_counter() - start
    assert sum(len(p.data) for p in pages) == 150
    assert elapsed < 0.5, f"listing 150 items took {elapsed:.3f}s"


# ------------------------------------------------------------------ create, get, update


def test_create_returns_201_with_the_issue(github: GitHubStandIn) -> None:
    github.seed_pull_requests(REPO, 2)
    reply = call(
        github,
        "POST",
        f"/repos/{REPO}/issues",
        {
            "title": "Fix it",
            "body": "body <!-- m -->",
            "labels": ["sev1", LABEL],
            "assignees": ["al"],
        },
    )
    assert reply.status == 201
    issue = reply.data
    assert issue["number"] == 3  # one sequence with the pull requests
    assert issue["title"] == "Fix it" and issue["body"] == "body <!-- m -->"
    assert issue["state"] == "open" and issue["state_reason"] is None
    assert issue["closed_at"] is None
    assert [label["name"] for label in issue["labels"]] == ["sev1", LABEL]
    assert [a["login"] for a in issue["assignees"]] == ["al"]
    assert issue["user"]["login"] == "github-actions[bot]"
    assert issue["html_url"] == f"https://github.com/{REPO}/issues/3"
    assert issue["url"] == f"{github.url}/repos/{REPO}/issues/3"
    assert "pull_request" not in issue
    assert datetime.strptime(issue["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert reply.headers["location"] == issue["url"]
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert github.issues(REPO) == [issue]
    assert len(github.issues(REPO, include_pull_requests=True)) == 3


def test_create_accepts_label_objects_and_no_body(github: GitHubStandIn) -> None:
    reply = call(github, "POST", f"/repos/{REPO}/issues", {"title": "t", "labels": [{"name": "x"}]})
    assert reply.status == 201 and reply.data["body"] is None
    assert [label["name"] for label in reply.data["labels"]] == ["x"]


def test_get_one_issue_and_a_pull_request_through_the_issues_endpoint(
    github: GitHubStandIn,
) -> None:
    github.seed_issues(REPO, 1)
    github.seed_pull_requests(REPO, 1)
    assert "pull_request" not in call(github, "GET", f"/repos/{REPO}/issues/1").data
    assert "pull_request" in call(github, "GET", f"/repos/{REPO}/issues/2").data


def test_update_closes_and_reopens(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 1, label=["a", "b"])
    path = f"/repos/{REPO}/issues/1"

    closed = call(github, "PATCH", path, {"state": "closed"})
    assert closed.status == 200
    assert closed.data["state"] == "closed" and closed.data["state_reason"] == "completed"
    assert closed.data["closed_at"] is not None

    reopened = call(github, "PATCH", path, {"state": "open"}).data
    assert reopened["state"] == "open" and reopened["state_reason"] == "reopened"
    assert reopened["closed_at"] is None

    not_planned = call(github, "PATCH", path, {"state": "closed", "state_reason": "not_planned"})
    assert not_planned.data["state_reason"] == "not_planned"
    # state_reason alone is ignored unless the state changes (as documented).
    same = call(github, "PATCH", path, {"state_reason": "completed"}).data
    assert same["state_reason"] == "not_planned"

    edited = call(github, "PATCH", path, {"title": "new", "body": "b", "labels": ["c"]}).data
    assert (edited["title"], edited["body"]) == ("new", "b")
    assert [label["name"] for label in edited["labels"]] == ["c"]
    assert github.issue(REPO, 1)["title"] == "new"

    bad = call(github, "PATCH", path, {"state": "done"})
    assert bad.status == 422 and "state" in bad.data["message"]


# ------------------------------------------------------------------ errors


def test_wrong_token_is_401_bad_credentials(github: GitHubStandIn) -> None:
    reply = call(github, "GET", f"/repos/{REPO}/issues", token="ghp_wrong")
    assert reply.status == 401
    assert reply.data == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    assert all(name in reply.headers for name in RATE_HEADERS)
    posted = call(github, "POST", f"/repos/{REPO}/issues", {"title": "x"}, token="nope")
    assert posted.status == 401 and github.issues(REPO) == []


def test_missing_token_is_401_requires_authentication(github: GitHubStandIn) -> None:
    reply = call(github, "POST", f"/repos/{REPO}/issues", {"title": "x"}, token=None)
    assert reply.status == 401 and reply.data["message"] == "Requires authentication"
    assert github.issues(REPO) == []


def test_token_scheme_is_accepted_too(github: GitHubStandIn) -> None:
    assert call(github, "GET", f"/repos/{REPO}/issues", scheme="token").status == 200
    assert call(github, "GET", f"/repos/{REPO}/issues", scheme="Basic").status == 401


def test_configured_token(github: GitHubStandIn) -> None:
    with GitHubStandIn(token="ghp_custom") as gh:
        assert gh.token == "ghp_custom"
        assert call(gh, "GET", f"/repos/{REPO}/issues", token="ghp_custom").status == 200
        assert call(gh, "GET", f"/repos/{REPO}/issues").status == 401


def test_missing_title_is_422(github: GitHubStandIn) -> None:
    reply = call(github, "POST", f"/repos/{REPO}/issues", {"body": "no title"})
    assert reply.status == 422
    assert reply.data["message"] == 'Invalid request.\n\n"title" wasn\'t supplied.'
    assert reply.data["documentation_url"].endswith("#create-an-issue")
    assert reply.data["status"] == "422"

    empty = call(github, "POST", f"/repos/{REPO}/issues", {"title": "  "})
    assert empty.status == 422
    assert empty.data["message"] == "Validation Failed"
    assert empty.data["errors"] == [
        {"resource": "Issue", "code": "missing_field", "field": "title"}
    ]
    assert github.issues(REPO) == []


def test_bad_json_is_400(github: GitHubStandIn) -> None:
    reply = call(github, "POST", f"/repos/{REPO}/issues", raw=b"{not json")
    assert reply.status == 400 and reply.data["message"] == "Problems parsing JSON"
    listed = call(github, "POST", f"/repos/{REPO}/issues", raw=b"[1]")
    assert listed.status == 400 and listed.data["message"] == "Body should be a JSON object"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/repos/nobody/nothing/issues", None),
        ("POST", "/repos/nobody/nothing/issues", {"title": "x"}),
        ("GET", f"/repos/{REPO}/issues/99", None),
        ("PATCH", f"/repos/{REPO}/issues/99", {"state": "closed"}),
        ("GET", "/repos/nobody/nothing/issues/1", None),
        ("GET", f"/repos/{REPO}/issues/", None),  # a trailing slash is a 404 on GitHub
        ("GET", "/user/repos", None),
    ],
)
def test_not_found(github: GitHubStandIn, method: str, path: str, body: Any) -> None:
    reply = call(github, method, path, body)
    assert reply.status == 404
    assert reply.data["message"] == "Not Found" and reply.data["status"] == "404"
    assert "documentation_url" in reply.data


def test_repository_names_are_case_insensitive(github: GitHubStandIn) -> None:
    assert call(github, "GET", f"/repos/{REPO.upper()}/issues").status == 200


def test_every_response_carries_rate_limit_headers(github: GitHubStandIn) -> None:
    replies = [
        call(github, "GET", f"/repos/{REPO}/issues"),
        call(github, "POST", f"/repos/{REPO}/issues", {"title": "t"}),
        call(github, "GET", "/repos/a/b/issues"),
        call(github, "GET", f"/repos/{REPO}/issues", token="bad"),
    ]
    for reply in replies:
        assert all(name in reply.headers for name in RATE_HEADERS), reply.headers
        assert reply.headers["content-type"] == "application/json; charset=utf-8"
        assert reply.headers["x-ratelimit-resource"] == "core"
        assert int(reply.headers["x-ratelimit-reset"]) > time.time()
    used = [int(r.headers["x-ratelimit-used"]) for r in replies]
    remaining = [int(r.headers["x-ratelimit-remaining"]) for r in replies]
    assert used == sorted(used) and len(set(used)) == 4
    assert all(u + r == 5000 for u, r in zip(used, remaining, strict=True))


# ------------------------------------------------------------------ introspection


def test_request_log_keeps_everything_but_the_token(github: GitHubStandIn) -> None:
    call(github, "GET", f"/repos/{REPO}/issues?labels={LABEL}&state=all")
    call(github, "POST", f"/repos/{REPO}/issues", {"title": "t", "labels": [LABEL]})
    log = github.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", f"/repos/{REPO}/issues", 200),
        ("POST", f"/repos/{REPO}/issues", 201),
    ]
    assert log[0].query == {"labels": [LABEL], "state": ["all"]} and log[0].q("state") == "all"
    assert log[1].body == {"title": "t", "labels": [LABEL]}
    assert log[1].headers["Authorization"] == "Bearer ***"
    assert log[1].headers["X-Github-Api-Version"] == "2022-11-28"
    assert DEFAULT_TOKEN not in repr(log)
    assert len(github.requests_to("POST", r"/issues$")) == 1
    github.clear_requests()
    assert github.requests == []


def test_seed_helpers(github: GitHubStandIn) -> None:
    seeded = github.seed_issues(
        "other/repo", 3, label=LABEL, with_marker=lambda i: f"<!-- incidentctl:INC-1/AI-{i} -->"
    )
    assert [i["number"] for i in seeded] == [1, 2, 3]
    assert seeded[1]["body"].endswith("<!-- incidentctl:INC-1/AI-2 -->")
    assert seeded[0]["labels"][0]["name"] == LABEL
    prs = github.seed_pull_requests("other/repo", 2)
    assert [p["number"] for p in prs] == [4, 5] and all("pull_request" in p for p in prs)
    assert len(github.issues("other/repo")) == 3
    assert [p["number"] for p in github.pull_requests("other/repo")] == [4, 5]
    closed = github.seed_issues("other/repo", 1, state="closed")[0]
    assert closed["state"] == "closed" and closed["state_reason"] == "completed"


def test_concurrent_creates_get_distinct_numbers(github: GitHubStandIn) -> None:
    def worker(k: int) -> None:
        for i in range(10):
            reply = call(github, "POST", f"/repos/{REPO}/issues", {"title": f"{k}-{i}"})
            assert reply.status == 201

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i["number"] for i in github.issues(REPO)) == list(range(1, 81))


# ------------------------------------------------------------------ faults


def test_fail_answers_the_matching_requests_then_recovers(github: GitHubStandIn) -> None:
    fault = github.fail("POST", r"/issues$", 500, times=2, skip=1)
    path = f"/repos/{REPO}/issues"
    assert call(github, "GET", path).status == 200  # other method: untouched
    statuses = [call(github, "POST", path, {"title": f"t{i}"}).status for i in range(4)]
    assert statuses == [201, 500, 500, 201]
    assert fault.hits == 2 and fault.exhausted
    assert len(github.issues(REPO)) == 2  # the failed ones did nothing
    failed = [r for r in github.requests if r.fault]
    assert [r.status for r in failed] == [500, 500]


def test_fail_with_custom_headers_and_body(github: GitHubStandIn) -> None:
    github.fail(None, ".*", 503, headers={"Content-Type": "text/html"}, body="<h1>Unicorn!</h1>")
    reply = call(github, "GET", f"/repos/{REPO}/issues")
    assert reply.status == 503 and reply.raw == b"<h1>Unicorn!</h1>"
    assert reply.headers["content-type"] == "text/html"
    assert "x-ratelimit-remaining" in reply.headers


def test_bad_gateway_without_effect(github: GitHubStandIn) -> None:
    github.bad_gateway()
    reply = call(github, "POST", f"/repos/{REPO}/issues", {"title": "t"})
    assert reply.status == 502 and reply.data["message"] == "Server Error"
    assert github.issues(REPO) == []
    assert call(github, "POST", f"/repos/{REPO}/issues", {"title": "t"}).status == 201


def test_bad_gateway_after_effect_creates_the_issue_anyway(github: GitHubStandIn) -> None:
    github.bad_gateway(after_effect=True, method="POST")
    reply = call(github, "POST", f"/repos/{REPO}/issues", {"title": "ghost", "labels": [LABEL]})
    assert reply.status == 502
    assert [i["title"] for i in github.issues(REPO)] == ["ghost"]
    listed = call(github, "GET", f"/repos/{REPO}/issues?labels={LABEL}&state=all")
    assert [i["title"] for i in listed.data] == ["ghost"]


def test_after_effect_update(github: GitHubStandIn) -> None:
    github.seed_issues(REPO, 1)
    github.fail("PATCH", r"/issues/1$", 504, after_effect=True)
    assert call(github, "PATCH", f"/repos/{REPO}/issues/1", {"state": "closed"}).status == 504
    assert github.issue(REPO, 1)["state"] == "closed"


def test_slow_response_with_after_effect_looks_like_a_timeout(github: GitHubStandIn) -> None:
    github.fail("POST", r"/issues$", 502, after_effect=True, delay=0.6)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(github, "POST", f"/repos/{REPO}/issues", {"title": "slow"}, timeout=0.2)
    assert [i["title"] for i in github.issues(REPO)] == ["slow"]


def test_drip_sends_the_answer_one_byte_at_a_time(github: GitHubStandIn) -> None:
    """With `drip`, the answer (status line included) arrives in many tiny pieces, and
    whole."""
    github.fail("GET", r"/issues$", 200, body=[], drip=0.01)
    with socket.create_connection(("127.0.0.1", github.port), timeout=5) as sock:
        sock.sendall(
            f"GET /repos/{REPO}/issues HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {github.token}\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    raw = b"".join(chunks)
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert raw.endswith(b"\r\n\r\n[]")
    assert len(chunks) > len(raw) // 4  # a byte per recv, unless the reader fell behind


def test_primary_rate_limit(github: GitHubStandIn) -> None:
    github.rate_limit_primary(reset_in=1, method="POST")
    path = f"/repos/{REPO}/issues"
    assert call(github, "GET", path).status == 200  # not matched, not yet limited
    before = time.time()
    reply = call(github, "POST", path, {"title": "t"})
    assert reply.status == 403
    assert reply.data["message"].startswith("API rate limit exceeded for ")
    assert "rate-limits" in reply.data["documentation_url"]
    assert reply.headers["x-ratelimit-remaining"] == "0"
    reset = int(reply.headers["x-ratelimit-reset"])
    assert before + 1 <= reset <= before + 2
    assert github.issues(REPO) == []

    # Too early: refused the same way (any request), and recorded as a violation.
    early = call(github, "GET", path)
    assert early.status == 403 and early.headers["x-ratelimit-remaining"] == "0"
    assert [r.method for r in github.rate_limit_violations] == ["GET"]

    time.sleep(max(reset - time.time(), 0) + 0.05)
    assert call(github, "POST", path, {"title": "t"}).status == 201
    assert len(github.rate_limit_violations) == 1


def test_primary_rate_limit_as_429(github: GitHubStandIn) -> None:
    github.rate_limit_primary(status=429, enforce=False)
    reply = call(github, "GET", f"/repos/{REPO}/issues")
    assert reply.status == 429 and reply.headers["x-ratelimit-remaining"] == "0"
    assert call(github, "GET", f"/repos/{REPO}/issues").status == 200  # not enforced
    assert github.rate_limit_violations == []


def test_secondary_rate_limit(github: GitHubStandIn) -> None:
    github.rate_limit_secondary(retry_after=1, method="POST", skip=2)
    path = f"/repos/{REPO}/issues"
    assert [call(github, "POST", path, {"title": f"{i}"}).status for i in range(2)] == [201, 201]
    reply = call(github, "POST", path, {"title": "third"})
    received = time.monotonic()
    assert reply.status == 429
    assert reply.headers["retry-after"] == "1"
    assert reply.data["message"].startswith("You have exceeded a secondary rate limit")
    assert "request ID" in reply.data["message"] and "{request_id}" not in reply.data["message"]
    assert reply.headers["x-github-request-id"] in reply.data["message"]
    assert int(reply.headers["x-ratelimit-remaining"]) > 0
    assert len(github.issues(REPO)) == 2

    early = call(github, "POST", path, {"title": "third"})
    assert early.status == 429 and len(github.rate_limit_violations) == 1
    assert len(github.issues(REPO)) == 2

    time.sleep(max(1 - (time.monotonic() - received), 0) + 0.05)
    assert call(github, "POST", path, {"title": "third"}).status == 201
    assert len(github.issues(REPO)) == 3


def test_secondary_rate_limit_as_403(github: GitHubStandIn) -> None:
    github.rate_limit_secondary(status=403, retry_after=0, times=2)
    replies = [call(github, "GET", f"/repos/{REPO}/issues") for _ in range(3)]
    assert [r.status for r in replies] == [403, 403, 200]
    assert replies[0].headers["retry-after"] == "0"
    assert "secondary rate limit" in replies[0].data["message"]


def test_faults_need_valid_credentials_first(github: GitHubStandIn) -> None:
    fault = github.bad_gateway()
    assert call(github, "GET", f"/repos/{REPO}/issues", token="bad").status == 401
    assert fault.hits == 0
    assert call(github, "GET", f"/repos/{REPO}/issues").status == 502


def test_clear_faults(github: GitHubStandIn) -> None:
    github.rate_limit_primary(reset_in=60)
    assert call(github, "GET", f"/repos/{REPO}/issues").status == 403
    github.clear_faults()
    assert call(github, "GET", f"/repos/{REPO}/issues").status == 200
