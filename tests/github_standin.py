"""A local stand-in for the GitHub REST API issue endpoints, for tests.

A real HTTP server (``http.server.ThreadingHTTPServer``) on 127.0.0.1 and a free port, with
in-memory repositories, speaking the shapes GitHub documents:

* ``GET /repos/{owner}/{repo}/issues`` -- "List repository issues"
  (https://docs.github.com/en/rest/issues/issues#list-repository-issues): ``state``
  (open by default, closed, all), ``labels`` (comma separated, every one must match),
  ``sort`` (created by default, updated, comments), ``direction`` (desc by default),
  ``since``, ``per_page`` (30 by default, at most 100), ``page``. Pull requests come back
  too, told apart by their ``pull_request`` key, because "GitHub's REST API considers
  every pull request an issue".
* Pagination as in "Using pagination in the REST API"
  (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api):
  a ``link`` header with ``rel="prev"``, ``rel="next"``, ``rel="last"`` and
  ``rel="first"`` (in that order), omitted when everything fits on one page. Like GitHub,
  the URLs point at ``/repositories/{id}/issues`` (the repository's numeric id, not its
  name) and carry the original query parameters with ``page`` last, so a client has to
  follow them rather than rebuild them. That route is served too.
* ``POST /repos/{owner}/{repo}/issues`` -- "Create an issue": 201, a ``Location`` header
  and the issue. No ``title`` key -> 422 ``Invalid request.\\n\\n"title" wasn't
  supplied.``; an empty title -> 422 ``Validation Failed`` with
  ``errors: [{"resource": "Issue", "code": "missing_field", "field": "title"}]`` (the two
  shapes GitHub returns).
* ``GET`` / ``PATCH /repos/{owner}/{repo}/issues/{number}`` -- "Get an issue", "Update an
  issue" (``state_reason`` is ignored unless ``state`` changes; closing defaults it to
  ``completed``, reopening sets ``reopened``; ``labels``/``assignees`` replace the set).
* Authentication: ``Authorization: Bearer <token>`` or ``token <token>``. A wrong token ->
  401 ``Bad credentials``; no ``Authorization`` header -> 401 ``Requires
  authentication`` (GitHub's two 401 messages).
* Every response carries ``x-ratelimit-limit``/``-remaining``/``-used``/``-reset``/
  ``-resource`` ("Rate limits for the REST API",
  https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api),
  ``x-github-request-id`` and ``Content-Type: application/json; charset=utf-8``.
  Error bodies are ``{"message", "documentation_url", "status"}`` with ``status`` a
  string, as GitHub sends them ("Troubleshooting the REST API").

Faults are driven by the test: :meth:`GitHubStandIn.fail` and the helpers
:meth:`~GitHubStandIn.rate_limit_primary`, :meth:`~GitHubStandIn.rate_limit_secondary`
and :meth:`~GitHubStandIn.bad_gateway`. A rate limit keeps refusing every request until
its window has passed (``x-ratelimit-reset`` / ``retry-after``), as GitHub does; requests
that arrive too early are listed in :attr:`GitHubStandIn.rate_limit_violations`.

Standard library only, so the sync tests (and anything else) can import it as is.
"""

from __future__ import annotations

import json
import math
import re
import socketserver
import sys
import threading
import time
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

__all__ = [
    "DEFAULT_LOGIN",
    "DEFAULT_REPO",
    "DEFAULT_TOKEN",
    "Fault",
    "GitHubStandIn",
    "RecordedRequest",
]

DEFAULT_TOKEN = "ghs_test_token_123"
DEFAULT_REPO = "acme/ops"
DEFAULT_LOGIN = "github-actions[bot]"

DOCS = "https://docs.github.com/rest"
DOC_LIST = "https://docs.github.com/rest/issues/issues#list-repository-issues"
DOC_CREATE = "https://docs.github.com/rest/issues/issues#create-an-issue"
DOC_GET = "https://docs.github.com/rest/issues/issues#get-an-issue"
DOC_UPDATE = "https://docs.github.com/rest/issues/issues#update-an-issue"
DOC_PRIMARY = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)
DOC_SECONDARY = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/"
    "rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")
SORTS = ("created", "updated", "comments")

_REPO_PATH = r"/repos/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+)"
_ROUTE_LIST = re.compile(_REPO_PATH + r"/issues")
_ROUTE_LIST_BY_ID = re.compile(r"/repositories/(?P<repo_id>[0-9]+)/issues")
_ROUTE_ONE = re.compile(_REPO_PATH + r"/issues/(?P<number>[0-9]+)")

JSONBody = dict[str, Any] | list[Any] | str | bytes | None


def iso(moment: datetime) -> str:
    """GitHub's timestamp format: ISO 8601 in UTC, seconds, ``Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _error(status: int, message: str, documentation_url: str = DOCS) -> dict[str, Any]:
    return {"message": message, "documentation_url": documentation_url, "status": str(status)}


# --------------------------------------------------------------------------- state


@dataclass
class _Item:
    """An issue or a pull request, as stored (rendered on the way out)."""

    id: int
    number: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    is_pull: bool = False
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    comments: int = 0


@dataclass
class _Repo:
    id: int
    owner: str
    name: str
    items: dict[int, _Item] = field(default_factory=dict)
    next_number: int = 1
    label_ids: dict[str, int] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (the token itself is never kept).

    ``headers`` keeps every header except that ``Authorization`` is reduced to its scheme
    (``"Bearer ***"``); ``body`` is the parsed JSON (or the raw text when it is not JSON,
    ``None`` when empty); ``at`` is ``time.monotonic()`` on arrival; ``fault`` names the
    injected fault that answered, if any.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int
    at: float
    fault: str | None = None

    def q(self, name: str) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    """An injected failure; see :meth:`GitHubStandIn.fail`."""

    method: str | None
    path_regex: str
    status: int
    times: int | None = 1
    after_effect: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: JSONBody = None
    skip: int = 0
    delay: float = 0.0
    drip: float = 0.0
    kind: str = "custom"
    reset_in: float = 0.0
    retry_after: float = 0.0
    enforce: bool = True
    hits: int = 0
    seen: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*") and self.method.upper() != method:
            return False
        return self._pattern.search(path) is not None


@dataclass
class _Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    delay: float = 0.0
    drip: float = 0.0


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops concurrent connects (a 1 s SYN retry).
    request_queue_size = 128
    standin: GitHubStandIn

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS lookup that can
        # take seconds on a badly configured machine. The name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up (see ``delay``) is not an error here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection does not hold a thread forever
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        response = self.server.standin._dispatch(
            self.command, self.path, dict(self.headers.items()), raw
        )
        if isinstance(response.body, bytes):
            payload = response.body
        elif isinstance(response.body, str):
            payload = response.body.encode("utf-8")
        else:
            payload = json.dumps(response.body, separators=(",", ":")).encode("utf-8")
        self.send_response(response.status)
        names = {name.lower() for name in response.headers}
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if not response.drip:
            self.end_headers()
            self.wfile.write(payload)
            return
        # A slow drip: the status line, headers and body one byte at a time.
        self._headers_buffer.append(b"\r\n")
        raw = b"".join(self._headers_buffer) + payload
        self._headers_buffer = []
        for index in range(len(raw)):
            self.wfile.write(raw[index : index + 1])
            self.wfile.flush()
            time.sleep(response.drip)

    do_GET = _handle
    do_POST = _handle
    do_PATCH = _handle
    do_PUT = _handle
    do_DELETE = _handle


# --------------------------------------------------------------------------- stand-in


class GitHubStandIn:
    """An in-memory GitHub serving the issue endpoints over real HTTP on 127.0.0.1.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Repositories are
    ``"owner/name"`` strings (case-insensitive, like GitHub); requests to any other
    repository get 404. Issues and pull requests share one number sequence per repository.
    All methods are thread-safe.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        repos: Iterable[str] = (DEFAULT_REPO,),
        login: str = DEFAULT_LOGIN,
        rate_limit: int = 5000,
        clock: Callable[[], datetime] = _utcnow,
        drop_labels: bool = False,
    ) -> None:
        self.token = token
        # Like GitHub when the token lacks push access: "Create an issue" silently drops
        # ``labels`` and ``assignees`` and still answers 201. May be changed at any time.
        self.drop_labels = drop_labels
        self.login = login
        self.rate_limit = rate_limit
        self.clock = clock
        self._lock = threading.RLock()
        self._repos: dict[str, _Repo] = {}
        self._repos_by_id: dict[int, _Repo] = {}
        self._next_repo_id = 700_000_001
        self._next_item_id = 2_000_000_001
        self._next_label_id = 5_000_000_001
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._violations: list[RecordedRequest] = []
        self._primary_until = 0.0  # epoch seconds
        self._primary_fault: Fault | None = None
        self._secondary_until = 0.0  # time.monotonic()
        self._secondary_fault: Fault | None = None
        self._window_reset = int(time.time()) + 3600
        self._used = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for repo in repos:
            self.add_repo(repo)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> GitHubStandIn:
        """Bind 127.0.0.1 on a free port and serve in a background thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="github-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the GitHub stand-in is not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self, repo: str = DEFAULT_REPO, *, token: str | None = None) -> dict[str, str]:
        """The variables GitHub Actions would set for a job talking to this server."""
        return {
            "GITHUB_TOKEN": self.token if token is None else token,
            "GITHUB_REPOSITORY": repo,
            "GITHUB_API_URL": self.url,
            "GITHUB_SERVER_URL": "https://github.com",
        }

    # ----------------------------------------------------------------- state

    def add_repo(self, full_name: str) -> None:
        """Create an empty repository ``owner/name`` (no-op if it exists)."""
        owner, sep, name = full_name.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise ValueError(f"repository must be 'owner/name', not {full_name!r}")
        with self._lock:
            if full_name.lower() in self._repos:
                return
            repo = _Repo(id=self._next_repo_id, owner=owner, name=name)
            self._next_repo_id += 1
            self._repos[full_name.lower()] = repo
            self._repos_by_id[repo.id] = repo

    def _repo(self, full_name: str) -> _Repo:
        try:
            return self._repos[full_name.lower()]
        except KeyError:
            raise KeyError(f"no repository {full_name!r} in the GitHub stand-in") from None

    def _new_item(
        self,
        repo: _Repo,
        *,
        title: str,
        body: str | None,
        labels: Sequence[str] = (),
        assignees: Sequence[str] = (),
        is_pull: bool = False,
        user: str | None = None,
    ) -> _Item:
        now = self.clock()
        item = _Item(
            id=self._next_item_id,
            number=repo.next_number,
            title=title,
            body=body,
            user=user or self.login,
            created_at=now,
            updated_at=now,
            is_pull=is_pull,
            labels=_dedupe(labels),
            assignees=_dedupe(assignees),
        )
        self._next_item_id += 1
        repo.next_number += 1
        repo.items[item.number] = item
        return item

    def seed_issues(
        self,
        repo: str,
        n: int,
        *,
        label: str | Sequence[str] | None = None,
        with_marker: Callable[[int], str] | None = None,
        state: str = "open",
        title: Callable[[int], str] | None = None,
    ) -> list[dict[str, Any]]:
        """Create ``n`` issues directly (no HTTP) and return them as GitHub renders them.

        ``label``: one label name or several; ``with_marker(i)`` (i = 1..n) returns text
        appended to each body, e.g. ``lambda i: f"<!-- incidentctl:INC-1/AI-{i} -->"``;
        ``state="closed"`` closes them as completed. The repository is created if needed.
        """
        labels = [label] if isinstance(label, str) else list(label or ())
        self.add_repo(repo)
        with self._lock:
            r = self._repo(repo)
            out = []
            for i in range(1, n + 1):
                body = f"Seeded issue {i}."
                if with_marker is not None:
                    body += "\n\n" + with_marker(i)
                item = self._new_item(
                    r,
                    title=title(i) if title else f"Seeded issue {i}",
                    body=body,
                    labels=labels,
                    user="octocat",
                )
                if state == "closed":
                    item.state, item.state_reason, item.closed_at = (
                        "closed",
                        "completed",
                        item.created_at,
                    )
                out.append(self._render(r, item))
            return out

    def seed_pull_requests(
        self, repo: str, n: int, *, label: str | Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Create ``n`` pull requests directly; they take numbers from the issue sequence."""
        labels = [label] if isinstance(label, str) else list(label or ())
        self.add_repo(repo)
        with self._lock:
            r = self._repo(repo)
            return [
                self._render(
                    r,
                    self._new_item(
                        r,
                        title=f"Seeded pull request {i}",
                        body=f"Seeded pull request {i}.",
                        labels=labels,
                        is_pull=True,
                        user="octocat",
                    ),
                )
                for i in range(1, n + 1)
            ]

    def issues(self, repo: str, *, include_pull_requests: bool = False) -> list[dict[str, Any]]:
        """Every issue of ``repo`` (open and closed, pull requests left out unless asked),
        rendered as the API renders them, in number order."""
        with self._lock:
            r = self._repo(repo)
            return [
                self._render(r, item)
                for _, item in sorted(r.items.items())
                if include_pull_requests or not item.is_pull
            ]

    def pull_requests(self, repo: str) -> list[dict[str, Any]]:
        """The pull requests of ``repo``, as the issues endpoints render them."""
        with self._lock:
            r = self._repo(repo)
            return [self._render(r, it) for _, it in sorted(r.items.items()) if it.is_pull]

    def issue(self, repo: str, number: int) -> dict[str, Any]:
        """One issue (or pull request) by number; KeyError if there is none."""
        with self._lock:
            r = self._repo(repo)
            return self._render(r, r.items[number])

    def update_issue(self, repo: str, number: int, **fields: Any) -> dict[str, Any]:
        """Change an issue directly (as a person would on github.com): any of ``title``,
        ``body``, ``state``, ``state_reason``, ``labels``, ``assignees``."""
        with self._lock:
            r = self._repo(repo)
            item = r.items[number]
            problem = self._apply_update(item, fields)
            if problem is not None:
                raise ValueError(problem)
            return self._render(r, item)

    # ----------------------------------------------------------------- introspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_regex: str = ".*") -> list[RecordedRequest]:
        """The recorded requests with this method whose path matches ``path_regex``."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method.upper() and pattern.search(r.path)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._violations.clear()

    @property
    def rate_limit_violations(self) -> list[RecordedRequest]:
        """Requests that arrived while a rate limit said to wait (each was refused)."""
        with self._lock:
            return list(self._violations)

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    # ----------------------------------------------------------------- fault injection

    def _add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        *,
        times: int | None = 1,
        after_effect: bool = False,
        headers: Mapping[str, str] | None = None,
        body: JSONBody = None,
        skip: int = 0,
        delay: float = 0.0,
        drip: float = 0.0,
    ) -> Fault:
        """Answer matching requests with ``status`` instead of the real response.

        ``method`` (``None`` or ``"*"`` for any) and ``path_regex`` (``re.search`` on the
        path without the query string) select requests; the first ``skip`` matches pass
        through untouched, the next ``times`` (``None``: all) fail. With
        ``after_effect=True`` the request takes effect first -- the issue IS created or
        updated -- and the client still gets the error, as GitHub can answer 502 for an
        issue it created. ``body`` (default ``{"message": <reason>, ...}``) may be a dict
        or list (sent as JSON), or str/bytes sent as is; ``headers`` are added; ``delay``
        seconds are slept before answering; with ``drip`` the whole answer (status line
        included) is sent one byte every ``drip`` seconds. Faults are tried in the order
        they were added.
        """
        fault = Fault(
            method=method,
            path_regex=path_regex,
            status=status,
            times=times,
            after_effect=after_effect,
            headers=dict(headers or {}),
            body=body,
            skip=skip,
            delay=delay,
            drip=drip,
        )
        return self._add_fault(fault)

    def rate_limit_primary(
        self,
        times: int = 1,
        reset_in: float = 1,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        status: int = 403,
        skip: int = 0,
        enforce: bool = True,
    ) -> Fault:
        """Exhaust the primary rate limit: ``status`` (403, or 429) with
        ``x-ratelimit-remaining: 0``, ``x-ratelimit-reset`` = now + ``reset_in`` (UTC
        epoch seconds, rounded up) and ``API rate limit exceeded for user ID 1.``.

        With ``enforce`` (default) every request before the reset time is refused the same
        way -- without using up ``times`` -- and recorded in ``rate_limit_violations``.
        """
        fault = Fault(
            method=method,
            path_regex=path_regex,
            status=status,
            times=times,
            skip=skip,
            kind="primary",
            reset_in=reset_in,
            enforce=enforce,
        )
        return self._add_fault(fault)

    def rate_limit_secondary(
        self,
        times: int = 1,
        retry_after: float = 1,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        status: int = 429,
        skip: int = 0,
        enforce: bool = True,
    ) -> Fault:
        """Trip a secondary rate limit: ``status`` (429, or 403) with ``retry-after:
        <retry_after>`` and ``You have exceeded a secondary rate limit...``;
        ``x-ratelimit-remaining`` stays above 0, as it does on GitHub.

        With ``enforce`` (default) every request within ``retry_after`` seconds is refused
        the same way -- without using up ``times`` -- and recorded in
        ``rate_limit_violations``.
        """
        fault = Fault(
            method=method,
            path_regex=path_regex,
            status=status,
            times=times,
            skip=skip,
            kind="secondary",
            retry_after=retry_after,
            enforce=enforce,
        )
        return self._add_fault(fault)

    def bad_gateway(
        self,
        times: int = 1,
        after_effect: bool = False,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        skip: int = 0,
    ) -> Fault:
        """Answer 502 ``Server Error`` (after doing the work, with ``after_effect``)."""
        return self.fail(
            method,
            path_regex,
            502,
            times=times,
            after_effect=after_effect,
            body={"message": "Server Error"},
            skip=skip,
        )

    def clear_faults(self) -> None:
        """Forget every pending fault and any rate-limit window in force."""
        with self._lock:
            self._faults.clear()
            self._primary_until = self._secondary_until = 0.0
            self._primary_fault = self._secondary_fault = None

    # ----------------------------------------------------------------- rendering

    def _api(self) -> str:
        return self.url if self._server is not None else "http://127.0.0.1"

    def _user(self, login: str) -> dict[str, Any]:
        api = self._api()
        user_id = 41898282 if login == DEFAULT_LOGIN else 1_000_000 + zlib.crc32(login.encode())
        return {
            "login": login,
            "id": user_id,
            "node_id": f"U_{user_id}",
            "url": f"{api}/users/{login}",
            "html_url": f"https://github.com/{login}",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False,
        }

    def _label(self, repo: _Repo, name: str) -> dict[str, Any]:
        label_id = repo.label_ids.get(name.lower())
        if label_id is None:
            label_id = repo.label_ids[name.lower()] = self._next_label_id
            self._next_label_id += 1
        return {
            "id": label_id,
            "node_id": f"LA_{label_id}",
            "url": f"{self._api()}/repos/{repo.full_name}/labels/{quote(name, safe='')}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }

    def _render(self, repo: _Repo, item: _Item) -> dict[str, Any]:
        api = f"{self._api()}/repos/{repo.full_name}"
        html = f"https://github.com/{repo.full_name}"
        kind = "pull" if item.is_pull else "issues"
        assignees = [self._user(login) for login in item.assignees]
        data: dict[str, Any] = {
            "id": item.id,
            "node_id": f"I_{item.id}",
            "url": f"{api}/issues/{item.number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{item.number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{item.number}/comments",
            "events_url": f"{api}/issues/{item.number}/events",
            "html_url": f"{html}/{kind}/{item.number}",
            "number": item.number,
            "state": item.state,
            "state_reason": item.state_reason,
            "title": item.title,
            "body": item.body,
            "user": self._user(item.user),
            "labels": [self._label(repo, name) for name in item.labels],
            "assignee": assignees[0] if assignees else None,
            "assignees": assignees,
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": item.comments,
            "closed_at": iso(item.closed_at) if item.closed_at else None,
            "created_at": iso(item.created_at),
            "updated_at": iso(item.updated_at),
            "closed_by": self._user(self.login) if item.state == "closed" else None,
            "author_association": "NONE" if item.user.endswith("[bot]") else "MEMBER",
        }
        if item.is_pull:
            data["draft"] = False
            data["pull_request"] = {
                "url": f"{api}/pulls/{item.number}",
                "html_url": f"{html}/pull/{item.number}",
                "diff_url": f"{html}/pull/{item.number}.diff",
                "patch_url": f"{html}/pull/{item.number}.patch",
                "merged_at": None,
            }
        return data

    # ----------------------------------------------------------------- request handling

    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        if now >= self._window_reset:
            self._window_reset = int(now) + 3600
            self._used = 0
        self._used += 1
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(self.rate_limit - self._used, 0)),
            "x-ratelimit-reset": str(self._window_reset),
            "x-ratelimit-used": str(self._used),
            "x-ratelimit-resource": "core",
        }

    def _dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Response:
        arrived = time.monotonic()
        split = urlsplit(target)
        path = split.path
        query_pairs = parse_qsl(split.query, keep_blank_values=True)
        query: dict[str, list[str]] = {}
        for key, value in query_pairs:
            query.setdefault(key, []).append(value)
        body_text = raw.decode("utf-8", errors="replace")
        parsed: Any = None
        body_ok = True
        if raw.strip():
            try:
                parsed = json.loads(body_text)
            except ValueError:
                parsed, body_ok = body_text, False
        delay = 0.0
        with self._lock:
            request_id = uuid.uuid4().hex[:20].upper()
            rate = self._rate_headers()
            response, violation = self._respond(
                method, path, query_pairs, headers, parsed, body_ok, rate
            )
            delay = response.delay
            response.headers = {**rate, "x-github-request-id": request_id, **response.headers}
            if response.fault in ("primary", "secondary") and isinstance(response.body, dict):
                message = str(response.body.get("message", ""))
                response.body["message"] = message.replace("{request_id}", request_id)
            record = RecordedRequest(
                method=method,
                path=path,
                query=query,
                headers=_redact(headers),
                body=parsed,
                status=response.status,
                at=arrived,
                fault=response.fault,
            )
            self._requests.append(record)
            if violation:
                self._violations.append(record)
        if delay:
            time.sleep(delay)
        return response

    def _respond(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
        body_ok: bool,
        rate: dict[str, str],
    ) -> tuple[_Response, bool]:
        """The response and whether the request broke a rate-limit window. Holds the lock."""
        auth = _header(headers, "Authorization")
        if auth is None:
            return _Response(401, _error(401, "Requires authentication")), False
        scheme, _, credential = auth.strip().partition(" ")
        if scheme.lower() not in ("bearer", "token") or credential.strip() != self.token:
            return _Response(401, _error(401, "Bad credentials")), False

        # A rate limit in force refuses everything until its window has passed.
        if self._primary_fault is not None and time.time() < self._primary_until:
            return self._primary_response(self._primary_fault, rate, renew=False), True
        if self._secondary_fault is not None and time.monotonic() < self._secondary_until:
            return self._secondary_response(self._secondary_fault, renew=False), True

        fault = self._take_fault(method, path)
        if fault is not None and not fault.after_effect:
            return self._fault_response(fault, rate), False
        response = self._route(method, path, query, body, body_ok)
        if fault is not None:
            return self._fault_response(fault, rate), False
        return response, False

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.exhausted or not fault.matches(method, path):
                continue
            fault.seen += 1
            if fault.seen <= fault.skip:
                continue
            fault.hits += 1
            return fault
        return None

    def _fault_response(self, fault: Fault, rate: dict[str, str]) -> _Response:
        if fault.kind == "primary":
            return self._primary_response(fault, rate, renew=True)
        if fault.kind == "secondary":
            return self._secondary_response(fault, renew=True)
        body: Any = fault.body
        if body is None:
            body = _error(fault.status, _reason(fault.status))
        return _Response(
            fault.status,
            body,
            dict(fault.headers),
            fault="custom",
            delay=fault.delay,
            drip=fault.drip,
        )

    def _primary_response(self, fault: Fault, rate: dict[str, str], *, renew: bool) -> _Response:
        if renew:
            self._primary_until = float(math.ceil(time.time() + fault.reset_in))
            if fault.enforce:
                self._primary_fault = fault
        headers = {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": rate["x-ratelimit-limit"],
            "x-ratelimit-reset": str(int(self._primary_until)),
        }
        body = {
            "message": "API rate limit exceeded for user ID 1.",
            "documentation_url": DOC_PRIMARY,
            "status": str(fault.status),
        }
        return _Response(fault.status, body, headers, fault="primary")

    def _secondary_response(self, fault: Fault, *, renew: bool) -> _Response:
        if renew:
            self._secondary_until = time.monotonic() + fault.retry_after
            if fault.enforce:
                self._secondary_fault = fault
        wait = max(self._secondary_until - time.monotonic(), 0.0)
        body = {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again. If you reach out to GitHub Support for help, please "
            "include the request ID {request_id}.",
            "documentation_url": DOC_SECONDARY,
            "status": str(fault.status),
        }
        return _Response(fault.status, body, {"retry-after": _seconds(wait)}, fault="secondary")

    def _route(
        self, method: str, path: str, query: list[tuple[str, str]], body: Any, body_ok: bool
    ) -> _Response:
        if m := _ROUTE_LIST.fullmatch(path):
            repo = self._repos.get(f"{m['owner']}/{m['name']}".lower())
            if repo is None:
                return _Response(404, _error(404, "Not Found", DOC_LIST))
            if method == "GET":
                return self._list(repo, query, f"/repositories/{repo.id}/issues")
            if method == "POST":
                return self._create(repo, body, body_ok)
        elif m := _ROUTE_LIST_BY_ID.fullmatch(path):
            repo = self._repos_by_id.get(int(m["repo_id"]))
            if repo is not None and method == "GET":
                return self._list(repo, query, path)
        elif m := _ROUTE_ONE.fullmatch(path):
            repo = self._repos.get(f"{m['owner']}/{m['name']}".lower())
            item = repo.items.get(int(m["number"])) if repo is not None else None
            if repo is None or item is None:
                doc = DOC_UPDATE if method == "PATCH" else DOC_GET
                return _Response(404, _error(404, "Not Found", doc))
            if method == "GET":
                return _Response(200, self._render(repo, item))
            if method == "PATCH":
                return self._update(repo, item, body, body_ok)
        return _Response(404, _error(404, "Not Found"))

    def _list(self, repo: _Repo, query: list[tuple[str, str]], link_path: str) -> _Response:
        params = dict(query)
        state = params.get("state", "open")
        if state not in ("open", "closed", "all"):
            return _invalid("state", DOC_LIST)
        sort = params.get("sort", "created")
        if sort not in SORTS:
            return _invalid("sort", DOC_LIST)
        direction = params.get("direction", "desc")
        if direction not in ("asc", "desc"):
            return _invalid("direction", DOC_LIST)
        since = None
        if params.get("since"):
            since = _parse_iso(params["since"])
            if since is None:
                return _invalid("since", DOC_LIST)
        wanted = [w.strip().lower() for w in params.get("labels", "").split(",") if w.strip()]
        per_page = _int(params.get("per_page"), 30)
        per_page = 30 if per_page < 1 else min(per_page, 100)
        page = max(_int(params.get("page"), 1), 1)

        items = []
        for item in repo.items.values():
            if state != "all" and item.state != state:
                continue
            if since is not None and item.updated_at < since:
                continue
            if wanted:
                have = {name.lower() for name in item.labels}
                if not all(w in have for w in wanted):
                    continue
            items.append(item)

        def key(item: _Item) -> tuple[Any, int]:
            if sort == "updated":
                return (item.updated_at, item.number)
            if sort == "comments":
                return (item.comments, item.number)
            return (item.created_at, item.number)

        items.sort(key=key, reverse=direction == "desc")
        last = max(math.ceil(len(items) / per_page), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        link = self._link(link_path, query, page, last)
        if link:
            headers["Link"] = link
        return _Response(200, [self._render(repo, item) for item in chunk], headers)

    def _link(self, path: str, query: list[tuple[str, str]], page: int, last: int) -> str | None:
        if page == 1 and last == 1:
            return None
        kept = [(k, v) for k, v in query if k != "page"]

        def url(number: int) -> str:
            return f"{self.url}{path}?{urlencode([*kept, ('page', str(number))])}"

        rels = []
        if page > 1:
            rels.append((url(min(page - 1, last)), "prev"))
        if page < last:
            rels.append((url(page + 1), "next"))
            rels.append((url(last), "last"))
        if page > 1:
            rels.append((url(1), "first"))
        return ", ".join(f'<{u}>; rel="{rel}"' for u, rel in rels)

    def _create(self, repo: _Repo, body: Any, body_ok: bool) -> _Response:
        bad = _check_body(body, body_ok, DOC_CREATE)
        if bad is not None:
            return bad
        if body.get("title") is None:
            return _Response(
                422, _error(422, 'Invalid request.\n\n"title" wasn\'t supplied.', DOC_CREATE)
            )
        title = body["title"]
        if isinstance(title, int | float) and not isinstance(title, bool):
            title = str(title)
        if not isinstance(title, str):
            return _Response(
                422,
                _error(
                    422, "Invalid request.\n\nFor 'properties/title', is not a string.", DOC_CREATE
                ),
            )
        if not title.strip():
            return _Response(422, _validation_failed("missing_field", "title", DOC_CREATE))
        labels = _label_names(body.get("labels"))
        assignees = body.get("assignees")
        if labels is None or not _str_list(assignees, allow_none=True):
            field_name = "labels" if labels is None else "assignees"
            return _Response(
                422,
                _error(
                    422,
                    f"Invalid request.\n\nFor 'properties/{field_name}', is not an array.",
                    DOC_CREATE,
                ),
            )
        if body.get("body") is not None and not isinstance(body["body"], str):
            return _Response(
                422,
                _error(
                    422, "Invalid request.\n\nFor 'properties/body', is not a string.", DOC_CREATE
                ),
            )
        if self.drop_labels:
            labels, assignees = [], []
        item = self._new_item(
            repo,
            title=title,
            body=body.get("body"),
            labels=labels,
            assignees=assignees or [],
        )
        location = f"{self.url}/repos/{repo.full_name}/issues/{item.number}"
        return _Response(201, self._render(repo, item), {"Location": location})

    def _update(self, repo: _Repo, item: _Item, body: Any, body_ok: bool) -> _Response:
        bad = _check_body(body, body_ok, DOC_UPDATE)
        if bad is not None:
            return bad
        problem = self._apply_update(item, body)
        if problem is not None:
            return _Response(422, _error(422, problem, DOC_UPDATE))
        return _Response(200, self._render(repo, item))

    def _apply_update(self, item: _Item, body: Mapping[str, Any]) -> str | None:
        """Apply an "Update an issue" body; return GitHub's message if it is invalid."""
        state = body.get("state")
        if state is not None and state not in ("open", "closed"):
            return (
                f"Invalid request.\n\nFor 'properties/state', \"{state}\" is not a member of enum."
            )
        reason = body.get("state_reason")
        if reason is not None and reason not in STATE_REASONS:
            return (
                "Invalid request.\n\nFor 'properties/state_reason', "
                f'"{reason}" is not a member of enum.'
            )
        labels = _label_names(body.get("labels")) if "labels" in body else []
        if labels is None:
            return "Invalid request.\n\nFor 'properties/labels', is not an array."
        if "assignees" in body and not _str_list(body["assignees"], allow_none=False):
            return "Invalid request.\n\nFor 'properties/assignees', is not an array."
        title = body.get("title")
        if title is not None and not isinstance(title, str):
            return "Invalid request.\n\nFor 'properties/title', is not a string."
        if body.get("body") is not None and not isinstance(body["body"], str):
            return "Invalid request.\n\nFor 'properties/body', is not a string."
        if isinstance(title, str) and not title.strip():
            return "Invalid request.\n\nTitle can't be blank."
        now = self.clock()
        if isinstance(title, str):
            item.title = title
        if "body" in body:
            item.body = body["body"]
        if "labels" in body:
            item.labels = _dedupe(labels)
        if "assignees" in body:
            item.assignees = _dedupe(body["assignees"])
        if state is not None and state != item.state:
            item.state = state
            if state == "closed":
                item.closed_at = now
                item.state_reason = (
                    reason if reason in ("completed", "not_planned", "duplicate") else "completed"
                )
            else:
                item.closed_at = None
                item.state_reason = "reopened"
        item.updated_at = now
        return None


# --------------------------------------------------------------------------- helpers


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key, value in headers.items():
        if key.lower() == "authorization":
            scheme = value.strip().partition(" ")[0]
            value = f"{scheme} ***"
        out[key] = value
    return out


def _dedupe(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _seconds(value: float) -> str:
    return str(max(math.ceil(value), 0))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _str_list(value: Any, *, allow_none: bool) -> bool:
    if value is None:
        return allow_none
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _label_names(value: Any) -> list[str] | None:
    """Label names from a request (strings or ``{"name": ...}`` objects); None if invalid."""
    if value is None:
        return []
    if not isinstance(value, list):
        return None
    names = []
    for entry in value:
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            names.append(entry["name"])
        else:
            return None
    return names


def _check_body(body: Any, body_ok: bool, doc: str) -> _Response | None:
    if not body_ok:
        return _Response(400, _error(400, "Problems parsing JSON", doc))
    if not isinstance(body, dict):
        return _Response(400, _error(400, "Body should be a JSON object", doc))
    return None


def _validation_failed(code: str, field_name: str, doc: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "Issue", "code": code, "field": field_name}],
        "documentation_url": doc,
        "status": "422",
    }


def _invalid(field_name: str, doc: str) -> _Response:
    return _Response(422, _validation_failed("invalid", field_name, doc))


def iter_pages(url: str, token: str) -> Iterator[tuple[int, dict[str, str], Any]]:
    """Follow ``rel="next"`` links from ``url`` with urllib; yield (status, headers, data).

    A small client for tests of the stand-in itself (the product has its own)."""
    next_url: str | None = url
    while next_url:
        req = urllib.request.Request(next_url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            headers = {k.lower(): v for k, v in resp.headers.items()}
            yield resp.status, headers, json.loads(resp.read())
        next_url = parse_link(headers.get("link", "")).get("next")


def parse_link(header: str) -> dict[str, str]:
    """``{rel: url}`` from a ``link`` header."""
    out = {}
    for part in header.split(","):
        m = re.match(r'\s*<([^>]*)>\s*;\s*rel="([^"]+)"', part)
        if m:
            out[m.group(2)] = m.group(1)
    return out
