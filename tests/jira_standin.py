"""A local stand-in for the Jira REST API (Cloud v3 and Data Center v2), for tests.

A real HTTP server (``http.server.ThreadingHTTPServer``) on 127.0.0.1 and a free port,
holding one or more projects in memory and speaking the shapes Atlassian documents:

* Cloud (``deployment="cloud"``), REST v3
  (https://developer.atlassian.com/cloud/jira/platform/rest/v3/):
  ``GET /rest/api/3/search/jql`` -- "Search for issues using JQL (enhanced search)":
  ``jql``, ``fields`` (comma separated; only ``id`` by default), ``properties``,
  ``maxResults`` (50 by default, at most ``max_page``), ``nextPageToken``; the answer is
  ``{"issues", "isLast", "nextPageToken"}`` with the token only when more pages follow
  (an opaque token: the client cannot compute it). The old ``/rest/api/{2,3}/search``
  answers 410, as on Cloud since 2025. Authentication: HTTP Basic ``email:api_token``.
  A description must be an Atlassian Document Format ``doc`` (validated: a subset of
  the JSON schema at http://go.atlassian.com/adf-json-schema).
* Data Center (``deployment="datacenter"``), REST v2
  (https://docs.atlassian.com/software/jira/docs/api/REST/latest/):
  ``GET /rest/api/2/search`` with ``jql``, ``fields`` (all navigable by default),
  ``properties``, ``startAt`` and ``maxResults``; the answer is ``{"startAt",
  "maxResults", "total", "issues"}``. Authentication: ``Authorization: Bearer <PAT>``.
  A description must be a string (wiki markup).
* Both: ``POST /rest/api/{v}/issue`` (201 ``{"id", "key", "self"}``; ``properties``
  stored as issue properties), ``GET /rest/api/{v}/issue/{key}`` (``fields``,
  ``properties``; 404 when there is none), ``GET``/``POST
  /rest/api/{v}/issue/{key}/transitions`` (To Do -> In Progress -> Done, and Reopen;
  the done transition's name is ``done_name``). Errors are Jira's
  ``{"errorMessages": [...], "errors": {field: message}}``: a missing or wrong
  credential -> 401, a label with a space, an unknown priority, issue type or field,
  a summary that is empty, too long or holds a newline -> 400.
* JQL: a subset -- clauses ``field = value`` (fields ``project``, ``labels``, ``key``,
  ``status``; values quoted with ``"``/``'`` and ``\\`` escapes, or bare words) joined
  by ``AND``, then ``ORDER BY created|key ASC|DESC``. Anything else -> 400 ``Error in
  the JQL Query``; an unknown project -> 400, as Jira does.

Faults are driven by the test: :meth:`JiraStandIn.fail` (any status, also after the
request took effect), :meth:`~JiraStandIn.bad_gateway` and :meth:`~JiraStandIn.rate_limit`
(429 with ``Retry-After``; every request inside the window is refused too and listed in
:attr:`JiraStandIn.rate_limit_violations`).

Standard library only.
"""

from __future__ import annotations

import base64
import json
import re
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_EMAIL = "automation@acme.example"
DEFAULT_TOKEN = "ATATT3xFfGF0-jira-test-token-9f8e7d6c"
DEFAULT_PROJECT = "OPS"
LABEL = "incident-action-item"
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
ISSUE_TYPES = ("Task", "Bug", "Story")

# status -> (category key, category name, category id, status id)
STATUSES = {
    "To Do": ("new", "To Do", 2, "10000"),
    "In Progress": ("indeterminate", "In Progress", 4, "3"),
    "Done": ("done", "Done", 3, "10001"),
}
MARKS = {"strong", "em", "code", "link", "strike", "underline", "textColor", "subsup"}
BLOCKS = {"paragraph", "bulletList", "orderedList", "heading", "codeBlock", "rule", "blockquote"}


def _errors(messages: Sequence[str] = (), errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {"errorMessages": list(messages), "errors": dict(errors or {})}


def adf_problem(node: Any, where: str = "doc") -> str | None:
    """Why ``node`` is not a valid ADF ``doc`` of the subset Jira takes, or None."""
    if not isinstance(node, dict):
        return f"{where}: not an object"
    if node.get("type") != "doc" or node.get("version") != 1:
        return f"{where}: not a doc of version 1"
    if set(node) - {"type", "version", "content"} or not isinstance(node.get("content"), list):
        return f"{where}: a doc is type, version and content"
    for index, block in enumerate(node["content"]):
        problem = _block_problem(block, f"{where}.content[{index}]")
        if problem:
            return problem
    return None


def _block_problem(node: Any, where: str) -> str | None:
    if not isinstance(node, dict) or node.get("type") not in BLOCKS:
        return f"{where}: not a block node"
    kind, content = node["type"], node.get("content", [])
    if set(node) - {"type", "content", "attrs"} or not isinstance(content, list):
        return f"{where}: unexpected keys"
    if kind in ("bulletList", "orderedList"):
        if not content:
            return f"{where}: a list needs items"
        for index, item in enumerate(content):
            here = f"{where}.content[{index}]"
            if not isinstance(item, dict) or item.get("type") != "listItem":
                return f"{here}: not a listItem"
            inner = item.get("content")
            if not isinstance(inner, list) or not inner or set(item) - {"type", "content"}:
                return f"{here}: a listItem needs content"
            if not isinstance(inner[0], dict) or inner[0].get("type") != "paragraph":
                return f"{here}: a listItem starts with a paragraph"
            for at, child in enumerate(inner):
                problem = _block_problem(child, f"{here}.content[{at}]")
                if problem:
                    return problem
        return None
    if kind == "blockquote":
        for index, child in enumerate(content):
            problem = _block_problem(child, f"{where}.content[{index}]")
            if problem:
                return problem
        return None
    for index, inline in enumerate(content):
        here = f"{where}.content[{index}]"
        if not isinstance(inline, dict):
            return f"{here}: not an inline node"
        if inline.get("type") == "hardBreak":
            continue
        if inline.get("type") != "text" or set(inline) - {"type", "text", "marks"}:
            return f"{here}: not a text node"
        if not isinstance(inline.get("text"), str) or not inline["text"]:
            return f"{here}: a text node needs non-empty text"
        marks = inline.get("marks", [])
        if not isinstance(marks, list) or any(
            not isinstance(m, dict) or m.get("type") not in MARKS for m in marks
        ):
            return f"{here}: unknown marks"
    return None


def adf_marks(node: Any) -> list[Any]:
    """Every mark anywhere in an ADF tree."""
    found: list[Any] = []
    if isinstance(node, dict):
        found += node.get("marks", []) if isinstance(node.get("marks"), list) else []
        for child in node.get("content", []) if isinstance(node.get("content"), list) else []:
            found += adf_marks(child)
    return found


def adf_text(node: Any) -> str:
    """The text of an ADF tree, one line per paragraph."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    parts = [adf_text(c) for c in node.get("content", []) if isinstance(c, dict)]
    return ("\n" if node.get("type") in ("doc", "bulletList", "listItem") else "").join(parts)


# --------------------------------------------------------------------------- JQL


_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>=)|(?P<word>[A-Za-z0-9_.-]+))"""
)


class JQLError(ValueError):
    pass


def parse_jql(jql: str) -> tuple[list[tuple[str, str]], tuple[str, bool] | None]:
    """``field = value`` clauses joined by AND, and ORDER BY (field, descending)."""
    tokens: list[tuple[str, str]] = []
    at = 0
    while at < len(jql.rstrip()):
        match = _TOKEN.match(jql, at)
        if match is None or match.end() == at:
            raise JQLError(
                f"Error in the JQL Query: the character '{jql[at:].strip()[:1]}' is a "
                f"reserved JQL character (line 1, character {at + 1})"
            )
        at = match.end()
        if match["str"]:
            raw = match["str"][1:-1]
            tokens.append(("str", re.sub(r"\\(.)", r"\1", raw)))
        elif match["op"]:
            tokens.append(("op", "="))
        else:
            tokens.append(("word", match["word"]))
    clauses: list[tuple[str, str]] = []
    order: tuple[str, bool] | None = None
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "word" and value.upper() == "ORDER":
            rest = tokens[i + 1 :]
            if len(rest) < 2 or rest[0][1].upper() != "BY" or rest[1][0] != "word":
                raise JQLError("Error in the JQL Query: expecting 'BY' after 'ORDER'")
            direction = rest[2][1].upper() if len(rest) > 2 else "ASC"
            if direction not in ("ASC", "DESC") or len(rest) > 3:
                raise JQLError("Error in the JQL Query: expecting ASC or DESC")
            if rest[1][1].lower() not in ("created", "key"):
                raise JQLError(f"Not able to sort using field '{rest[1][1]}'.")
            order = (rest[1][1].lower(), direction == "DESC")
            break
        if clauses:
            if kind != "word" or value.upper() != "AND":
                raise JQLError(f"Error in the JQL Query: expecting 'AND' but got '{value}'")
            i += 1
        if i + 2 >= len(tokens):
            raise JQLError("Error in the JQL Query: incomplete clause")
        name, op, operand = tokens[i], tokens[i + 1], tokens[i + 2]
        if name[0] != "word" or op != ("op", "=") or operand[0] == "op":
            raise JQLError("Error in the JQL Query: expecting field = value")
        if name[1].lower() not in ("project", "labels", "key", "status"):
            raise JQLError(
                f"Field '{name[1]}' does not exist or you do not have permission to view it."
            )
        clauses.append((name[1].lower(), operand[1]))
        i += 3
    return clauses, order


# --------------------------------------------------------------------------- state


@dataclass
class Issue:
    id: int
    key: str
    project: str
    summary: str
    description: Any
    labels: list[str]
    issuetype: str = "Task"
    priority: str | None = "Medium"
    status: str = "To Do"
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return STATUSES[self.status][0]

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; ``Authorization`` is kept as its scheme only."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    at: float
    fault: str | None = None


@dataclass
class Fault:
    method: str | None
    path_regex: str
    status: int
    times: int | None = 1
    skip: int = 0
    after_effect: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    retry_after: float | None = None  # a rate limit: refuse everything for this long
    seen: int = 0
    hits: int = 0

    def takes(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
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
    standin: JiraStandIn

    def server_bind(self) -> None:  # no reverse DNS lookup (HTTPServer.server_bind)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Atlassian"
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
        if response.body is None:
            payload = b""
        elif isinstance(response.body, str):
            payload = response.body.encode("utf-8")
        else:
            payload = json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        if payload and not any(k.lower() == "content-type" for k in response.headers):
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


# --------------------------------------------------------------------------- stand-in


class JiraStandIn:
    """An in-memory Jira (Cloud or Data Center) over real HTTP on 127.0.0.1."""

    def __init__(
        self,
        deployment: str = "cloud",
        *,
        projects: Iterable[str] = (DEFAULT_PROJECT,),
        email: str = DEFAULT_EMAIL,
        token: str = DEFAULT_TOKEN,
        max_page: int = 100,
        done_name: str = "Done",
        drop_properties: bool = False,
    ) -> None:
        if deployment not in ("cloud", "datacenter"):
            raise ValueError(deployment)
        self.deployment = deployment
        self.cloud = deployment == "cloud"
        self.version = "3" if self.cloud else "2"
        self.projects = {p: 0 for p in projects}
        self.email, self.token = email, token
        self.max_page = max_page
        self.done_name = done_name
        # Like a project whose create screen lacks properties: created, property lost.
        self.drop_properties = drop_properties
        self._lock = threading.RLock()
        self._issues: dict[str, Issue] = {}
        self._next_id = 10_001
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._tokens: dict[str, int] = {}
        self._faults: list[Fault] = []
        self._limited_until = 0.0
        self._requests: list[RecordedRequest] = []
        self._violations: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> JiraStandIn:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> JiraStandIn:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the Jira stand-in is not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def env(self, *, token: str | None = None) -> dict[str, str]:
        """The variables a job would set: JIRA_API_TOKEN (Cloud) or JIRA_TOKEN (DC)."""
        name = "JIRA_API_TOKEN" if self.cloud else "JIRA_TOKEN"
        return {name: self.token if token is None else token}

    # -- state ---------------------------------------------------------------------------

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def _new(self, project: str, **fields: Any) -> Issue:
        self.projects[project] = self.projects.get(project, 0) + 1
        issue = Issue(
            id=self._next_id,
            key=f"{project}-{self.projects[project]}",
            project=project,
            created=self._tick(),
            **fields,
        )
        self._next_id += 1
        self._issues[issue.key] = issue
        return issue

    def seed(
        self,
        n: int,
        *,
        project: str = DEFAULT_PROJECT,
        labels: Sequence[str] = (LABEL,),
        prop: Callable[[int], Any] | None = None,
        description: Callable[[int], str] | None = None,
        summary: Callable[[int], str] | None = None,
        status: str = "To Do",
    ) -> list[str]:
        """Create ``n`` issues directly (no HTTP); ``prop(i)`` (i = 1..n), when not None,
        is stored as the ``incidentctl`` property. Returns their keys."""
        keys = []
        with self._lock:
            for i in range(1, n + 1):
                text = description(i) if description else f"Seeded issue {i}."
                issue = self._new(
                    project,
                    summary=summary(i) if summary else f"Seeded issue {i}",
                    description=self._describe(text),
                    labels=list(labels),
                    status=status,
                )
                value = prop(i) if prop else None
                if value is not None:
                    issue.properties["incidentctl"] = value
                keys.append(issue.key)
        return keys

    def _describe(self, text: str) -> Any:
        if not self.cloud:
            return text
        paragraph = {"type": "paragraph", "content": [{"type": "text", "text": text}]}
        return {"type": "doc", "version": 1, "content": [paragraph]}

    def issues(self, project: str | None = DEFAULT_PROJECT) -> list[Issue]:
        """The stored issues of ``project`` (None: all), in creation order (copies)."""
        with self._lock:
            found = [i for i in self._issues.values() if project is None or i.project == project]
            return [Issue(**{**i.__dict__, "labels": list(i.labels)}) for i in found]

    def issue(self, key: str) -> Issue:
        with self._lock:
            return self._issues[key]

    def set_labels(self, key: str, labels: Sequence[str]) -> None:
        with self._lock:
            self._issues[key].labels = list(labels)

    def set_status(self, key: str, status: str) -> None:
        with self._lock:
            self._issues[key].status = status

    # -- requests and faults -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_regex: str = ".*") -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.method == method.upper() and re.search(path_regex, r.path) is not None
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._violations.clear()

    @property
    def rate_limit_violations(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._violations)

    def fail(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        *,
        times: int | None = 1,
        skip: int = 0,
        after_effect: bool = False,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Fault:
        """Answer matching requests with ``status``: the first ``skip`` pass, the next
        ``times`` (None: all) fail; ``after_effect``: the request takes effect first."""
        fault = Fault(
            method, path_regex, status, times, skip, after_effect, dict(headers or {}), body
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def bad_gateway(
        self,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        skip: int = 0,
        times: int | None = 1,
        after_effect: bool = False,
    ) -> Fault:
        """502 from the proxy in front of Jira (an HTML page, as Atlassian's edge sends)."""
        body = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        headers = {"Content-Type": "text/html"}
        return self.fail(
            method,
            path_regex,
            502,
            times=times,
            skip=skip,
            after_effect=after_effect,
            headers=headers,
            body=body,
        )

    def rate_limit(
        self,
        retry_after: float = 1,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """429 with ``Retry-After``; until it has passed every request is refused too."""
        fault = self.fail(method, path_regex, 429, times=times, skip=skip)
        fault.retry_after = retry_after
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._limited_until = 0.0

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Response:
        arrived = time.monotonic()
        split = urlsplit(target)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            response, violation = self._respond(method, split.path, query, headers, body)
            response.headers.setdefault("X-AREQUESTID", uuid.uuid4().hex[:12])
            record = RecordedRequest(
                method,
                split.path,
                query,
                _redact(headers),
                body,
                response.status,
                arrived,
                response.fault,
            )
            self._requests.append(record)
            if violation:
                self._violations.append(record)
        return response

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, credential = auth.strip().partition(" ")
        if self.cloud:
            expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            return scheme.lower() == "basic" and credential.strip() == expected
        return scheme.lower() == "bearer" and credential.strip() == self.token

    def _respond(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[_Response, bool]:
        if not self._authorized(headers):
            message = (
                "You are not authenticated. Authentication required to perform this operation."
            )
            return _Response(
                401, _errors([message]), {"WWW-Authenticate": 'Basic realm="protected-area"'}
            ), False
        now = time.monotonic()
        if now < self._limited_until:
            wait = max(1, round(self._limited_until - now))
            return _Response(
                429, _errors(["Rate limit exceeded."]), {"Retry-After": str(wait)}, "rate-limit"
            ), True
        fault = None
        for candidate in self._faults:
            if candidate.takes(method, path):
                candidate.seen += 1
                if candidate.seen > candidate.skip:
                    candidate.hits += 1
                    fault = candidate
                    break
        if fault is not None and fault.retry_after is not None:
            self._limited_until = now + fault.retry_after
            retry = f"{fault.retry_after:g}"
            return _Response(
                429, _errors(["Rate limit exceeded."]), {"Retry-After": retry}, "rate-limit"
            ), False
        if fault is not None and not fault.after_effect:
            return self._fault(fault), False
        response = self._route(method, path, query, body)
        return (self._fault(fault) if fault is not None else response), False

    def _fault(self, fault: Fault) -> _Response:
        body = fault.body if fault.body is not None else _errors([f"Injected {fault.status}"])
        return _Response(fault.status, body, dict(fault.headers), "custom")

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> _Response:
        prefix = f"/rest/api/{self.version}"
        if self.cloud and re.fullmatch(r"/rest/api/[23]/search", path):
            return _Response(
                410,
                _errors(
                    [
                        "The requested API has been removed. "
                        "Please migrate to the /rest/api/3/search/jql API."
                    ]
                ),
            )
        if not path.startswith(prefix + "/"):
            return _Response(404, _errors(["null for uri: " + path]))
        rest = path[len(prefix) :]
        search = "/search/jql" if self.cloud else "/search"
        if rest == search and method == "GET":
            return self._search(query)
        if rest == "/issue" and method == "POST":
            return self._create(body)
        match = re.fullmatch(r"/issue/([A-Za-z0-9_]+-[0-9]+)(/transitions)?", rest)
        if match is None:
            return _Response(404, _errors(["null for uri: " + path]))
        issue = self._issues.get(match[1].upper())
        if issue is None:
            return _Response(
                404, _errors(["Issue does not exist or you do not have permission to see it."])
            )
        if match[2] is None and method == "GET":
            return _Response(200, self._render(issue, query.get("fields"), query.get("properties")))
        if match[2] and method == "GET":
            return _Response(
                200, {"expand": "transitions", "transitions": self._transitions(issue)}
            )
        if match[2] and method == "POST":
            return self._transition(issue, body)
        return _Response(405, _errors([f"Method {method} not allowed"]))

    # -- endpoints -----------------------------------------------------------------------

    def _search(self, query: dict[str, str]) -> _Response:
        try:
            clauses, order = parse_jql(query.get("jql", ""))
        except JQLError as exc:
            return _Response(400, _errors([str(exc)]))
        if self.cloud and not clauses:
            return _Response(
                400,
                _errors(
                    [
                        "Unbounded JQL queries are not allowed here. "
                        "Please add a search restriction to your query."
                    ]
                ),
            )
        found = list(self._issues.values())
        for name, value in clauses:
            if name == "project":
                if value.upper() not in self.projects:
                    return _Response(
                        400,
                        _errors([f"The value '{value}' does not exist for the field 'project'."]),
                    )
                found = [i for i in found if i.project == value.upper()]
            elif name == "labels":
                found = [i for i in found if value in i.labels]
            elif name == "key":
                found = [i for i in found if i.key == value.upper()]
            else:
                found = [i for i in found if i.status.lower() == value.lower()]
        field_name, descending = order or ("created", True)
        found.sort(
            key=lambda i: (i.created, i.id) if field_name == "created" else (i.project, i.number),
            reverse=descending,
        )
        try:
            size = min(int(query.get("maxResults", "50")), self.max_page)
            start = int(query.get("startAt", "0"))
        except ValueError:
            return _Response(400, _errors(["maxResults and startAt must be numbers"]))
        if self.cloud:
            token = query.get("nextPageToken")
            if token is not None:
                if token not in self._tokens:
                    return _Response(
                        400, _errors(["The provided next page token is invalid or expired."])
                    )
                start = self._tokens[token]
        page = found[start : start + size]
        issues = [
            self._render(
                i,
                query.get("fields", "id" if self.cloud else "*navigable"),
                query.get("properties"),
            )
            for i in page
        ]
        if not self.cloud:
            return _Response(
                200,
                {
                    "expand": "schema,names",
                    "startAt": start,
                    "maxResults": size,
                    "total": len(found),
                    "issues": issues,
                },
            )
        answer: dict[str, Any] = {"issues": issues, "isLast": start + size >= len(found)}
        if not answer["isLast"]:
            token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            self._tokens[token] = start + size
            answer["nextPageToken"] = token
        return _Response(200, answer)

    def _render(self, issue: Issue, fields: str | None, properties: str | None) -> dict[str, Any]:
        everything = {
            "summary": issue.summary,
            "status": self._status(issue.status),
            "labels": list(issue.labels),
            "description": issue.description,
            "priority": {"name": issue.priority, "id": str(PRIORITIES.index(issue.priority) + 1)}
            if issue.priority in PRIORITIES
            else None,
            "issuetype": {"name": issue.issuetype, "subtask": False},
            "project": {"key": issue.project, "name": f"{issue.project} project"},
            "created": issue.created.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        }
        wanted = [f.strip() for f in (fields or "*navigable").split(",") if f.strip()]
        if "*all" in wanted or "*navigable" in wanted:
            shown = everything
        else:
            shown = {name: everything[name] for name in wanted if name in everything}
        data: dict[str, Any] = {
            "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": str(issue.id),
            "self": f"{self.url}/rest/api/{self.version}/issue/{issue.id}",
            "key": issue.key,
            "fields": shown,
        }
        if properties:
            names = [p.strip() for p in properties.split(",")]
            data["properties"] = {n: issue.properties[n] for n in names if n in issue.properties}
        return data

    def _status(self, name: str) -> dict[str, Any]:
        key, category, category_id, status_id = STATUSES[name]
        return {
            "self": f"{self.url}/rest/api/{self.version}/status/{status_id}",
            "name": name,
            "id": status_id,
            "statusCategory": {
                "id": category_id,
                "key": key,
                "colorName": "blue-gray",
                "name": category,
            },
        }

    def _create(self, body: Any) -> _Response:
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            return _Response(
                400, _errors(["Can not deserialize instance of IssueBean out of START_ARRAY token"])
            )
        fields: dict[str, Any] = body["fields"]
        errors: dict[str, str] = {}
        project = (
            fields.get("project", {}).get("key")
            if isinstance(fields.get("project"), dict)
            else None
        )
        if project not in self.projects:
            errors["project"] = "valid project is required"
        kind = (
            fields.get("issuetype", {}).get("name")
            if isinstance(fields.get("issuetype"), dict)
            else None
        )
        if kind not in ISSUE_TYPES:
            errors["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        description = fields.get("description")
        if self.cloud and description is not None:
            problem = adf_problem(description)
            if problem:
                errors["description"] = (
                    "Operation value must be an Atlassian Document "
                    f"(see the Atlassian Document Format): {problem}"
                )
        elif description is not None and not isinstance(description, str):
            errors["description"] = "Operation value must be a string"
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            errors["labels"] = "Operation value must be a list of strings"
        else:
            for label in labels:
                if any(c.isspace() for c in label):
                    errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                elif len(label) > 255:
                    errors["labels"] = "The label must not exceed 255 characters."
        priority = fields.get("priority")
        name = priority.get("name") if isinstance(priority, dict) else None
        if priority is not None and name not in PRIORITIES:
            errors["priority"] = f"Priority name '{name}' is not valid"
        known = {"project", "issuetype", "summary", "description", "labels", "priority"}
        for other in sorted(set(fields) - known):
            errors[other] = (
                f"Field '{other}' cannot be set. It is not on the appropriate screen, or unknown."
            )
        properties = body.get("properties", [])
        if not isinstance(properties, list) or not all(
            isinstance(p, dict) and isinstance(p.get("key"), str) and "value" in p
            for p in properties
        ):
            return _Response(400, _errors(["Properties must be a list of {key, value}"]))
        if errors:
            return _Response(400, _errors([], errors))
        issue = self._new(
            str(project),
            summary=summary,
            description=description,
            labels=list(dict.fromkeys(labels)),
            issuetype=str(kind),
            priority=name if priority is not None else "Medium",
        )
        if not self.drop_properties:
            issue.properties.update({p["key"]: p["value"] for p in properties})
        self_url = f"{self.url}/rest/api/{self.version}/issue/{issue.id}"
        return _Response(201, {"id": str(issue.id), "key": issue.key, "self": self_url})

    def _workflow(self, status: str) -> list[tuple[str, str, str]]:
        done = ("31", self.done_name, "Done")
        return {
            "To Do": [("11", "Start Progress", "In Progress"), done],
            "In Progress": [("21", "Stop Progress", "To Do"), done],
            "Done": [("41", "Reopen", "To Do")],
        }[status]

    def _transitions(self, issue: Issue) -> list[dict[str, Any]]:
        return [
            {
                "id": tid,
                "name": name,
                "to": self._status(to),
                "hasScreen": False,
                "isGlobal": False,
                "isInitial": False,
                "isConditional": False,
            }
            for tid, name, to in self._workflow(issue.status)
        ]

    def _transition(self, issue: Issue, body: Any) -> _Response:
        wanted = (
            body.get("transition", {}).get("id")
            if isinstance(body, dict) and isinstance(body.get("transition"), dict)
            else None
        )
        for tid, _, to in self._workflow(issue.status):
            if tid == wanted:
                issue.status = to
                return _Response(204, None)
        return _Response(400, _errors([f"Transition id '{wanted}' is not valid for this issue."]))


def _redact(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            value = value.strip().split(" ", 1)[0] + " ***"
        out[name] = value
    return out
