"""A local stand-in for GitLab's REST API v4 project issues, for tests.

A real HTTP server (``http.server.ThreadingHTTPServer``) on 127.0.0.1 and a free port,
with in-memory projects, speaking the shapes GitLab documents
(https://docs.gitlab.com/api/issues/, https://docs.gitlab.com/api/rest/):

* Projects are addressed by numeric ID or by URL-encoded path
  (``/api/v4/projects/acme%2Fplatform%2Fops/...``); a path with raw slashes is another
  route, so 404, as on GitLab. Unknown project -> 404 ``{"message": "404 Project Not
  Found"}``.
* Authentication: ``PRIVATE-TOKEN: <token>`` or ``Authorization: Bearer <token>``;
  anything else -> 401 ``{"message": "401 Unauthorized"}``.
* ``GET /projects/:id/issues``: ``labels`` (comma separated, every one must match),
  ``state`` (``opened``, ``closed``, ``all``; all by default), ``order_by``
  (``created_at`` by default, ``updated_at``, ``title``, ``id``), ``sort`` (``desc`` by
  default), ``per_page`` (20 by default, at most 100), ``page``.
  Offset pagination answers with ``Link`` (rel ``prev``, ``next``, ``first``, ``last``, in
  that order, the original query plus ``page`` and ``per_page``) and ``x-page``,
  ``x-next-page`` (empty on the last page), ``x-prev-page``, ``x-per-page``,
  ``x-total``, ``x-total-pages``. With ``pagination=keyset`` (GitLab 18.3 and later,
  ``keyset="supported"``) the answer carries only ``Link: <...&cursor=...>;
  rel="next"`` (absent on the last page); the cursor is base64 of
  ``{"created_at", "id"}`` as GitLab's. ``keyset="ignored"`` is an older GitLab (the
  parameter is ignored: offset pages), ``keyset="refused"`` answers 405 ``Keyset
  pagination is not yet available for this type of request``. ``links=False`` drops
  the ``Link`` header of offset pages (only ``x-next-page`` is left).
* ``POST /projects/:id/issues`` -> 201 and the issue. No ``title`` -> 400 ``{"error":
  "title is missing"}`` (Grape's check); a blank one -> 400 ``{"message": {"title":
  ["can't be blank"]}}``. ``labels`` is a comma-separated string (or an array); a
  Guest (``guest=True``) gets 201 with the labels silently dropped, as on GitLab.
* ``GET`` / ``PUT /projects/:id/issues/:iid``; ``state_event`` ``close`` or ``reopen``.
* Every answer carries ``RateLimit-Limit``/``-Observed``/``-Remaining``/``-Reset``/
  ``-ResetTime``; a rate limit (:meth:`GitLabStandIn.rate_limit`) is 429 ``Retry
  later`` with ``Retry-After`` and ``RateLimit-Remaining: 0``, and refuses every request
  until its window has passed (those are kept in ``rate_limit_violations``).

Faults are driven by the test (:meth:`GitLabStandIn.fail` and helpers). Standard
library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

DEFAULT_TOKEN = "glpat-StandInToken0123456789"
DEFAULT_PROJECT = "acme/ops"
BOT = "project_42_bot_incidentctl"
ORDER_BY = ("created_at", "updated_at", "title", "id")
KEYSET_ORDER = ("created_at", "updated_at", "title", "id")
_ROUTE = re.compile(r"/api/v4/projects/(?P<project>[^/]+)/issues(?:/(?P<iid>[0-9]+))?")


def iso(moment: datetime) -> str:
    """GitLab's timestamps: UTC with milliseconds and ``Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class _Issue:
    id: int
    iid: int
    title: str
    description: str | None
    author: str
    created_at: datetime
    updated_at: datetime
    state: str = "opened"
    closed_at: datetime | None = None
    labels: list[str] = field(default_factory=list)


@dataclass
class _Project:
    id: int
    path: str
    issues: dict[int, _Issue] = field(default_factory=dict)
    next_iid: int = 1


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; the token is never kept (``***``).

    ``path`` is the raw path (still URL-encoded, as sent) without the query."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int
    at: float
    fault: str | None = None

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A header by name, in any case (urllib sends `Private-token`)."""
        return _header(self.headers, name)


@dataclass
class Fault:
    method: str | None
    path_regex: str
    status: int
    times: int | None = 1
    after_effect: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    skip: int = 0
    kind: str = "custom"
    retry_after: float | None = None
    reset_in: float = 0.0
    hits: int = 0
    seen: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*") and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


@dataclass
class _Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    standin: GitLabStandIn

    def server_bind(self) -> None:  # no reverse DNS lookup (HTTPServer's getfqdn)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        response = self.server.standin._dispatch(
            self.command, self.path, dict(self.headers.items()), raw
        )
        if isinstance(response.body, str):
            payload = response.body.encode()
            kind = "text/plain"
        else:
            payload = json.dumps(response.body, separators=(",", ":")).encode()
            kind = "application/json"
        self.send_response(response.status)
        self.send_header("Content-Type", kind)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class GitLabStandIn:
    """An in-memory GitLab serving project issues over real HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        projects: Iterable[str] = (DEFAULT_PROJECT,),
        keyset: str = "supported",
        links: bool = True,
        guest: bool = False,
    ) -> None:
        assert keyset in ("supported", "ignored", "refused")
        self.token = token
        self.keyset = keyset
        self.links = links
        self.guest = guest
        self._lock = threading.RLock()
        self._projects: dict[str, _Project] = {}
        self._by_id: dict[int, _Project] = {}
        self._next_project_id = 42
        self._next_issue_id = 9_000_001
        self._tick = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._violations: list[RecordedRequest] = []
        self._limited_until = 0.0  # time.time() of a rate limit's end
        self._limit_fault: Fault | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for path in projects:
            self.add_project(path)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> GitLabStandIn:
        if self._server is None:
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.standin = self
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.01},
                name="gitlab-standin",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> GitLabStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The instance URL (``http://127.0.0.1:PORT``); the API is under ``/api/v4``."""
        if self._server is None:
            raise RuntimeError("the GitLab stand-in is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    # ------------------------------------------------------------------ state

    def add_project(self, path: str) -> int:
        """Create an empty project at ``path`` (``group[/subgroup]/name``); its ID."""
        with self._lock:
            if path.lower() in self._projects:
                return self._projects[path.lower()].id
            project = _Project(self._next_project_id, path)
            self._next_project_id += 1
            self._projects[path.lower()] = project
            self._by_id[project.id] = project
            return project.id

    def _now(self) -> datetime:
        # Every issue a distinct created_at, a millisecond apart: a stable order.
        self._tick += timedelta(milliseconds=1)
        return self._tick

    def _new(
        self, project: _Project, title: str, description: str | None, labels: Sequence[str]
    ) -> _Issue:
        now = self._now()
        issue = _Issue(
            id=self._next_issue_id,
            iid=project.next_iid,
            title=title,
            description=description,
            author=BOT,
            created_at=now,
            updated_at=now,
            labels=_dedupe(labels),
        )
        self._next_issue_id += 1
        project.next_iid += 1
        project.issues[issue.iid] = issue
        return issue

    def seed_issues(
        self,
        project: str,
        n: int,
        *,
        labels: Sequence[str] = (),
        description: Callable[[int], str] | None = None,
        state: str = "opened",
        title: Callable[[int], str] | None = None,
    ) -> list[dict[str, Any]]:
        """Create ``n`` issues directly (no HTTP); ``description(i)`` for i = 1..n."""
        with self._lock:
            p = self._projects[project.lower()]
            out = []
            for i in range(1, n + 1):
                text = description(i) if description else f"Seeded issue {i}."
                issue = self._new(p, title(i) if title else f"Seeded {i}", text, labels)
                issue.author = "someone"
                if state == "closed":
                    issue.state, issue.closed_at = "closed", issue.created_at
                out.append(self._render(p, issue))
            return out

    def issues(self, project: str = DEFAULT_PROJECT) -> list[dict[str, Any]]:
        """Every issue of the project, rendered, in iid order."""
        with self._lock:
            p = self._projects[project.lower()]
            return [self._render(p, i) for _, i in sorted(p.issues.items())]

    def issue(self, project: str, iid: int) -> dict[str, Any]:
        with self._lock:
            p = self._projects[project.lower()]
            return self._render(p, p.issues[iid])

    def update_issue(self, project: str, iid: int, **fields: Any) -> dict[str, Any]:
        """Change an issue as a person would: ``labels`` (a list), ``description``,
        ``state_event``."""
        with self._lock:
            p = self._projects[project.lower()]
            problem = self._apply(p.issues[iid], fields)
            if problem:
                raise ValueError(problem)
            return self._render(p, p.issues[iid])

    # ------------------------------------------------------------------ introspection

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_regex: str = ".*") -> list[RecordedRequest]:
        return [
            r for r in self.requests if r.method == method.upper() and re.search(path_regex, r.path)
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._violations.clear()

    @property
    def rate_limit_violations(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._violations)

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        *,
        times: int | None = 1,
        after_effect: bool = False,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        skip: int = 0,
    ) -> Fault:
        """Answer matching requests (``re.search`` on the raw path) with ``status``: the
        first ``skip`` pass, the next ``times`` (None: all) fail. ``after_effect``: the
        request takes effect first (the issue IS created) and the client still gets the
        error. ``body`` defaults to ``{"message": "<status> <reason>"}``."""
        fault = Fault(
            method, path_regex, status, times, after_effect, dict(headers or {}), body, skip
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def bad_gateway(
        self,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        after_effect: bool = False,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """502 from the proxy in front of GitLab (an HTML page), after doing the work
        with ``after_effect``: "created but 502"."""
        return self.fail(
            method,
            path_regex,
            502,
            times=times,
            after_effect=after_effect,
            skip=skip,
            body="<html><body><h1>502 Bad Gateway</h1></body></html>",
        )

    def forbidden(self, *, method: str | None = None, times: int | None = None) -> Fault:
        return self.fail(method, ".*", 403, times=times, body={"message": "403 Forbidden"})

    def rate_limit(
        self,
        *,
        method: str | None = None,
        skip: int = 0,
        retry_after: float | None = 1,
        reset_in: float = 1,
    ) -> Fault:
        """429 ``Retry later`` (Rack::Attack's), ``RateLimit-Remaining: 0``,
        ``RateLimit-Reset`` = now + ``reset_in`` (epoch seconds, rounded up) and, unless
        ``retry_after`` is None, ``Retry-After``. Every request before the window's end
        is refused the same way and kept in ``rate_limit_violations``."""
        fault = Fault(
            method,
            ".*",
            429,
            1,
            skip=skip,
            kind="rate",
            retry_after=retry_after,
            reset_in=reset_in,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._limited_until = 0.0

    # ------------------------------------------------------------------ rendering

    def _render(self, project: _Project, issue: _Issue) -> dict[str, Any]:
        web = f"{self.url}/{project.path}" if self._server else f"http://gitlab/{project.path}"
        short = f"#{issue.iid}"
        return {
            "id": issue.id,
            "iid": issue.iid,
            "project_id": project.id,
            "title": issue.title,
            "description": issue.description,
            "state": issue.state,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at) if issue.closed_at else None,
            "closed_by": _user(BOT) if issue.state == "closed" else None,
            "labels": list(issue.labels),
            "milestone": None,
            "assignees": [],
            "author": _user(issue.author),
            "type": "ISSUE",
            "issue_type": "issue",
            "assignee": None,
            "user_notes_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": None,
            "confidential": False,
            "discussion_locked": None,
            "web_url": f"{web}/-/issues/{issue.iid}",
            "references": {
                "short": short,
                "relative": short,
                "full": f"{project.path}{short}",
            },
            "severity": "UNKNOWN",
            "task_completion_status": {"count": 0, "completed_count": 0},
        }

    def _rate_headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {
            "RateLimit-Limit": "2000",
            "RateLimit-Observed": str(2000 - remaining),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(int(reset)),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        }

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Response:
        parts = urlsplit(target)
        query = parse_qsl(parts.query, keep_blank_values=True)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            response = self._answer(method, parts.path, query, headers, body)
            now = time.time()
            window = math.ceil(now / 60) * 60
            response.headers = {**self._rate_headers(1999, window), **response.headers}
            self._requests.append(
                RecordedRequest(
                    method,
                    parts.path,
                    _multi(query),
                    _redact(headers),
                    body,
                    response.status,
                    time.monotonic(),
                    response.fault,
                )
            )
            if response.fault == "limited":
                self._violations.append(self._requests[-1])
            return response

    def _answer(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
    ) -> _Response:
        if not self._authorized(headers):
            return _Response(401, {"message": "401 Unauthorized"})
        if time.time() < self._limited_until:
            return self._limited(None, renew=False)
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind == "rate":
            return self._limited(fault, renew=True)
        if fault is not None and not fault.after_effect:
            return self._fault_response(fault)
        response = self._route(method, path, query, body)
        if fault is not None:
            return self._fault_response(fault)
        return response

    def _authorized(self, headers: dict[str, str]) -> bool:
        private = _header(headers, "PRIVATE-TOKEN")
        bearer = _header(headers, "Authorization") or ""
        return private == self.token or bearer == f"Bearer {self.token}"

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if (fault.times is not None and fault.hits >= fault.times) or not fault.matches(
                method, path
            ):
                continue
            fault.seen += 1
            if fault.seen <= fault.skip:
                continue
            fault.hits += 1
            return fault
        return None

    def _fault_response(self, fault: Fault) -> _Response:
        body = fault.body
        if body is None:
            body = {"message": f"{fault.status} {_reason(fault.status)}"}
        return _Response(fault.status, body, dict(fault.headers), fault="custom")

    def _limited(self, fault: Fault | None, *, renew: bool) -> _Response:
        now = time.time()
        if fault is not None:
            self._limited_until = now + max(fault.reset_in, fault.retry_after or 0)
            self._limit_fault = fault
        limit = self._limit_fault
        assert limit is not None
        headers = self._rate_headers(0, math.ceil(self._limited_until))
        if limit.retry_after is not None:
            headers["Retry-After"] = str(max(math.ceil(self._limited_until - now), 0))
        return _Response(429, "Retry later\n", headers, fault="rate" if renew else "limited")

    def _route(self, method: str, path: str, query: list[tuple[str, str]], body: Any) -> _Response:
        match = _ROUTE.fullmatch(path)
        if match is None:
            return _Response(404, {"error": "404 Not Found"})
        ident = unquote(match["project"])
        project = (
            self._by_id.get(int(ident)) if ident.isdigit() else self._projects.get(ident.lower())
        )
        if project is None:
            return _Response(404, {"message": "404 Project Not Found"})
        if match["iid"] is None:
            if method == "GET":
                return self._list(project, query)
            if method == "POST":
                return self._create(project, body)
            return _Response(405, {"error": "405 Method Not Allowed"})
        issue = project.issues.get(int(match["iid"]))
        if issue is None:
            return _Response(404, {"message": "404 Not found"})
        if method == "GET":
            return _Response(200, self._render(project, issue))
        if method == "PUT":
            problem = self._apply(issue, body if isinstance(body, dict) else {})
            if problem:
                return _Response(400, {"error": problem})
            return _Response(200, self._render(project, issue))
        return _Response(405, {"error": "405 Method Not Allowed"})

    def _list(self, project: _Project, query: list[tuple[str, str]]) -> _Response:
        params = dict(query)
        state = params.get("state", "all")
        order_by = params.get("order_by", "created_at")
        sort = params.get("sort", "desc")
        for name, value, allowed in (
            ("state", state, ("opened", "closed", "all")),
            ("order_by", order_by, ORDER_BY),
            ("sort", sort, ("asc", "desc")),
        ):
            if value not in allowed:
                return _Response(400, {"error": f"{name} does not have a valid value"})
        per_page = _int(params.get("per_page"), 20)
        per_page = 20 if per_page < 1 else min(per_page, 100)
        wanted = [w.strip().lower() for w in params.get("labels", "").split(",") if w.strip()]
        chosen = [
            i
            for i in project.issues.values()
            if (state == "all" or i.state == state)
            and all(w in {name.lower() for name in i.labels} for w in wanted)
        ]

        def key(issue: _Issue) -> tuple[Any, int]:
            value = {"created_at": issue.created_at, "updated_at": issue.updated_at}
            return (value.get(order_by, issue.title if order_by == "title" else issue.id), issue.id)

        chosen.sort(key=key, reverse=sort == "desc")
        if params.get("pagination") == "keyset" and self.keyset == "refused":
            return _Response(
                405, {"error": "Keyset pagination is not yet available for this type of request"}
            )
        if params.get("pagination") == "keyset" and self.keyset == "supported":
            return self._keyset(project, query, chosen, key, per_page, sort)
        return self._offset(project, query, chosen, per_page, _int(params.get("page"), 1))

    def _keyset(
        self,
        project: _Project,
        query: list[tuple[str, str]],
        chosen: list[_Issue],
        key: Callable[[_Issue], tuple[Any, int]],
        per_page: int,
        sort: str,
    ) -> _Response:
        cursor = dict(query).get("cursor")
        if cursor:
            try:
                after = json.loads(base64.urlsafe_b64decode(cursor.encode()))
                mark = next(i for i in chosen if i.id == int(after["id"]))
            except (ValueError, KeyError, TypeError, StopIteration, binascii.Error):
                return _Response(400, {"error": "cursor is invalid"})
            edge = key(mark)
            chosen = [i for i in chosen if (key(i) > edge if sort == "asc" else key(i) < edge)]
        page = chosen[:per_page]
        headers: dict[str, str] = {}
        if len(chosen) > per_page:
            last = page[-1]
            token = json.dumps({"created_at": iso(last.created_at), "id": str(last.id), "_kd": "n"})
            kept = [(k, v) for k, v in query if k != "cursor"]
            kept.append(("cursor", base64.urlsafe_b64encode(token.encode()).decode()))
            headers["Link"] = f'<{self._api(project)}/issues?{urlencode(kept)}>; rel="next"'
        return _Response(200, [self._render(project, i) for i in page], headers)

    def _api(self, project: _Project) -> str:
        return f"{self.url}/api/v4/projects/{project.id}"

    def _offset(
        self,
        project: _Project,
        query: list[tuple[str, str]],
        chosen: list[_Issue],
        per_page: int,
        page: int,
    ) -> _Response:
        page = max(page, 1)
        total_pages = max(math.ceil(len(chosen) / per_page), 1)
        items = chosen[(page - 1) * per_page : page * per_page]
        kept = [(k, v) for k, v in query if k not in ("page", "per_page")]

        def url(number: int) -> str:
            tail = urlencode([*kept, ("page", str(number)), ("per_page", str(per_page))])
            return f"{self._api(project)}/issues?{tail}"

        rels = []
        if page > 1:
            rels.append((url(page - 1), "prev"))
        if page < total_pages:
            rels.append((url(page + 1), "next"))
        rels += [(url(1), "first"), (url(total_pages), "last")]
        headers = {
            "x-page": str(page),
            "x-next-page": str(page + 1) if page < total_pages else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
            "x-per-page": str(per_page),
            "x-total": str(len(chosen)),
            "x-total-pages": str(total_pages),
        }
        if self.links:
            headers["Link"] = ", ".join(f'<{u}>; rel="{rel}"' for u, rel in rels)
        return _Response(200, [self._render(project, i) for i in items], headers)

    def _create(self, project: _Project, body: Any) -> _Response:
        if not isinstance(body, dict):
            return _Response(400, {"error": "title is missing"})
        if "title" not in body:
            return _Response(400, {"error": "title is missing"})
        title = body["title"]
        if not isinstance(title, str) or not title.strip():
            return _Response(400, {"message": {"title": ["can't be blank"]}})
        labels = body.get("labels") or []
        if isinstance(labels, str):
            labels = [name.strip() for name in labels.split(",") if name.strip()]
        if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
            return _Response(400, {"error": "labels is invalid"})
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            return _Response(400, {"error": "description is invalid"})
        issue = self._new(project, title, description, [] if self.guest else labels)
        return _Response(201, self._render(project, issue))

    def _apply(self, issue: _Issue, fields: Mapping[str, Any]) -> str | None:
        event = fields.get("state_event")
        if event is not None and event not in ("close", "reopen"):
            return "state_event does not have a valid value"
        now = self._now()
        if "labels" in fields:
            labels = fields["labels"]
            issue.labels = _dedupe(labels.split(",") if isinstance(labels, str) else labels)
        if "description" in fields:
            issue.description = fields["description"]
        if event == "close" and issue.state == "opened":
            issue.state, issue.closed_at = "closed", now
        elif event == "reopen" and issue.state == "closed":
            issue.state, issue.closed_at = "opened", None
        issue.updated_at = now
        return None


# ----------------------------------------------------------------------------- helpers


def _user(username: str) -> dict[str, Any]:
    return {
        "id": 1000 + len(username),
        "username": username,
        "name": username,
        "state": "active",
        "web_url": f"https://gitlab.example/{username}",
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key, value in headers.items():
        if key.lower() == "private-token":
            value = "***"
        elif key.lower() == "authorization":
            value = value.strip().partition(" ")[0] + " ***"
        out[key] = value
    return out


def _multi(query: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in query:
        out.setdefault(key, []).append(value)
    return out


def _dedupe(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        name = name.strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
