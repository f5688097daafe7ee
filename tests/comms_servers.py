"""Local stand-ins for the services incidentctl notifies, for tests.

Each is a real HTTP server (``http.server.ThreadingHTTPServer``) on 127.0.0.1 and a free
port, optionally over TLS, speaking the shapes the service documents and refusing what
the service would refuse:

* :class:`SlackWebhook` -- an incoming webhook, ``POST /services/T…/B…/<token>``: 200
  ``ok``; errors as text bodies (``invalid_payload`` 400, ``no_text`` 400,
  ``invalid_blocks`` 400, ``action_prohibited`` 403, ``no_service`` 404 for a wrong URL,
  ``channel_not_found`` 404, ``channel_is_archived`` 410, ``rollup_error`` 500). Block
  Kit is checked against Slack's documented limits (50 blocks, header 150, section text
  3,000, 10 fields of 2,000, context 10 elements); the top-level ``text`` over 4,000
  characters is refused too (Slack truncates it; we never want to send that).
* :class:`SlackApi` -- the Web API under ``/api/``: ``auth.test``,
  ``conversations.create`` (names: lowercase letters, digits, ``-``, ``_``, at most 80;
  ``name_taken``, ``invalid_name_specials``, ``invalid_name_maxlength``,
  ``invalid_name_required``), ``conversations.invite`` (``force``), ``chat.postMessage``
  (``channel_not_found``, ``not_in_channel``, ``no_text``, ``invalid_blocks``),
  ``chat.getPermalink``, ``users.lookupByEmail`` (``users_not_found``). Errors are HTTP
  200 with ``{"ok": false, "error": …}`` as Slack sends them; no or a wrong
  ``Authorization: Bearer`` gives ``not_authed`` / ``invalid_auth``; a missing scope
  ``missing_scope`` with ``needed``. JSON, form and query parameters are all read.
* :class:`Teams` -- a Workflows trigger URL ``/workflows/<id>/triggers/manual/paths/
  invoke?…&sig=<sig>``: 202 empty; Logic Apps error bodies ``{"error": {"code",
  "message"}}``; the Adaptive Card message shape is checked, and size over 28 KB.
* :class:`Mattermost` -- ``POST /hooks/<key>``: 200 ``ok``; errors as Mattermost's
  ``{"id", "message", "detailed_error", "request_id", "status_code"}``.
* :class:`Discord` -- ``POST /api/webhooks/<id>/<token>``: 204, or 200 and the message
  with ``?wait=true``; ``Invalid Webhook Token`` (401, 50027), ``Unknown Webhook`` (404,
  10015), ``Cannot send an empty message`` (400, 50006), ``Invalid Form Body`` (400,
  50035) for any limit broken; 429 with ``retry_after`` when told to rate limit.
* :class:`SignedReceiver` -- a receiver of incidentctl's generic webhook: it checks
  ``X-Incidentctl-Signature`` (HMAC-SHA256 of ``<timestamp>.<body>``) and that
  ``X-Incidentctl-Timestamp`` is within 5 minutes, 401 otherwise.
* :class:`PagerDuty` -- Events API v2 ``POST /v2/enqueue``: 202 ``{"status": "success",
  "message": "Event processed", "dedup_key"}``; 400 ``{"status": "invalid event",
  "message": "Event object is invalid", "errors": […]}``; alerts kept by dedup_key.
* :class:`Smtp` -- a real SMTP server (aiosmtpd) requiring STARTTLS and AUTH, with a
  certificate from :func:`make_certificates`.

Every HTTP stand-in records what it received (:attr:`StandIn.received`) and can be told
to fail: :meth:`StandIn.fail` (any status, body, headers, a delay before answering),
:meth:`StandIn.hang`, :meth:`StandIn.trickle` (an answer dripped a byte at a time),
:meth:`StandIn.rate_limit` and :meth:`StandIn.refuse` (closes the
port: connections are refused from then on).
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import re
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1024 * 1024

# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Received:
    """One request as the stand-in saw it (headers with lower-case names)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    status: int
    at: float
    fault: bool = False

    def json(self) -> Any:
        return json.loads(self.raw)

    def params(self) -> dict[str, Any]:
        """Query, form and JSON parameters together (Slack's Web API takes all three)."""
        out: dict[str, Any] = {k: v[0] for k, v in self.query.items()}
        kind = self.headers.get("content-type", "")
        if self.raw and kind.startswith("application/json"):
            body = json.loads(self.raw)
            if isinstance(body, dict):
                out.update(body)
        elif self.raw:
            out.update({k: v[0] for k, v in parse_qs(self.raw.decode()).items()})
        return out


@dataclass
class Reply:
    status: int
    body: Any = b""  # bytes, str, or JSON (dict/list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """An injected failure: the next ``times`` matching requests get it (None: all)."""

    reply: Reply
    path: str = ".*"
    times: int | None = 1
    delay: float = 0.0
    drip: float = 0.0  # seconds between bytes of the answer (status line included)
    hits: int = 0


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    stand_in: StandIn
    tls: ssl.SSLContext | None = None

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        if self.tls is not None:  # the handshake happens in the request's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return  # a client that gave up, or refused our certificate
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(Reply(413, "too large"))
            return
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Received(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw=raw,
            status=0,
            at=time.monotonic(),
        )
        reply, fault = self.server.stand_in._reply(request)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        self.server.stand_in._record(request, reply.status, fault is not None)
        self._answer(reply, fault.drip if fault else 0.0)

    def _answer(self, reply: Reply, drip: float = 0.0) -> None:
        body = reply.body
        kind = "text/plain; charset=utf-8"
        if isinstance(body, (dict, list)):
            body, kind = json.dumps(body).encode(), "application/json; charset=utf-8"
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(reply.status)
        headers = {"Content-Type": kind, **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.close_connection = True
        if reply.status in (204, 304):
            body = b""
        if not drip:
            self.end_headers()
            self.wfile.write(body)
            return
        buffered: list[bytes] = getattr(self, "_headers_buffer")  # noqa: B009 -- http.server's
        raw = b"".join(buffered) + b"\r\n" + body
        buffered.clear()
        for index in range(len(raw)):
            self.wfile.write(raw[index : index + 1])
            self.wfile.flush()
            time.sleep(drip)

    do_GET = do_POST = _handle


class StandIn:
    """The server, recording and faults; subclasses answer in :meth:`handle`."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.RLock()
        self._received: list[Received] = []
        self._faults: list[Fault] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.scheme = "https" if tls else "http"
        self._tls = tls

    def start(self) -> StandIn:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.stand_in, server.tls = self, self._tls
        self._server, self._port = server, server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    refuse = stop  # the port is closed: every connection from now on is refused

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._port}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def last(self) -> Received:
        return self.received[-1]

    def fail(
        self,
        status: int,
        body: Any = b"",
        *,
        headers: Mapping[str, str] | None = None,
        times: int | None = 1,
        path: str = ".*",
        delay: float = 0.0,
        drip: float = 0.0,
    ) -> Fault:
        fault = Fault(Reply(status, body, dict(headers or {})), path, times, delay, drip)
        with self._lock:
            self._faults.append(fault)
        return fault

    def hang(self, seconds: float, *, times: int | None = 1) -> Fault:
        """Answer 200 only after ``seconds``: longer than a client's timeout, it hangs."""
        return self.fail(200, b"", times=times, delay=seconds)

    def trickle(self, seconds_per_byte: float, *, times: int | None = 1) -> Fault:
        """Answer 200 ``ok``, one byte at a time: every read succeeds, the whole takes long."""
        return self.fail(200, "ok" * 50, times=times, drip=seconds_per_byte)

    def rate_limit(self, retry_after: float = 1, *, times: int | None = 1) -> Fault:
        """429 with ``Retry-After`` (whole seconds, as services send it)."""
        return self.fail(
            429, "rate limited", headers={"Retry-After": f"{retry_after:g}"}, times=times
        )

    def _reply(self, request: Received) -> tuple[Reply, Fault | None]:
        with self._lock:
            for fault in self._faults:
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                if re.search(fault.path, request.path):
                    fault.hits += 1
                    return fault.reply, fault
        return self.handle(request), None

    def _record(self, request: Received, status: int, fault: bool) -> None:
        with self._lock:
            self._received.append(
                Received(**{**request.__dict__, "status": status, "fault": fault})
            )

    def handle(self, request: Received) -> Reply:
        raise NotImplementedError


def _json_body(request: Received) -> Any:
    try:
        return json.loads(request.raw)
    except ValueError:
        return None


# --------------------------------------------------------------------------- Slack

SLACK_BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image"}


def block_problem(blocks: Any) -> str | None:
    """Why Slack would refuse these blocks, or None (Block Kit's documented limits)."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "blocks must be a list of at most 50"
    for number, block in enumerate(blocks):
        where = f"block {number}"
        if not isinstance(block, dict) or block.get("type") not in SLACK_BLOCK_TYPES:
            return f"{where}: unknown type"
        kind, text = block["type"], block.get("text")
        if kind == "header":
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                return f"{where}: a header's text must be plain_text"
            if not 1 <= len(text.get("text", "")) <= 150:
                return f"{where}: a header's text must be 1 to 150 characters"
        elif kind == "section":
            fields = block.get("fields")
            if text is None and not fields:
                return f"{where}: a section needs text or fields"
            if text is not None and not 1 <= len(text.get("text", "")) <= 3000:
                return f"{where}: a section's text must be 1 to 3,000 characters"
            if fields is not None and (
                not isinstance(fields, list)
                or len(fields) > 10
                or any(not 1 <= len(f.get("text", "")) <= 2000 for f in fields)
            ):
                return f"{where}: at most 10 fields of 1 to 2,000 characters"
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                return f"{where}: a context has 1 to 10 elements"
    return None


def slack_message_problem(body: dict[str, Any]) -> str | None:
    """The error code Slack would answer, or None."""
    text, blocks = body.get("text"), body.get("blocks")
    if not text and not blocks:
        return "no_text"
    if text is not None and (not isinstance(text, str) or len(text) > 4000):
        return "msg_too_long"
    if blocks is not None and block_problem(blocks):
        return "invalid_blocks"
    return None


class SlackWebhook(StandIn):
    """One incoming webhook; ``state`` may be ``archived``, ``deleted`` or ``prohibited``."""

    def __init__(self, token: str = "hook0token0abcdefghijklmn", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = f"/services/T0AAAAAAA/B0BBBBBBB/{token}"
        self.state = "ok"
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return self.url + self.path

    def handle(self, request: Received) -> Reply:
        if request.method != "POST" or request.path != self.path:
            return Reply(404, "no_service")
        body = _json_body(request)
        if not isinstance(body, dict):
            return Reply(400, "invalid_payload")
        if problem := slack_message_problem(body):
            return Reply(400, "invalid_blocks" if problem == "msg_too_long" else problem)
        errors = {
            "archived": (410, "channel_is_archived"),
            "deleted": (404, "channel_not_found"),
            "prohibited": (403, "action_prohibited"),
        }
        if self.state in errors:
            return Reply(*errors[self.state])
        self.messages.append(body)
        return Reply(200, "ok")


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool = False
    members: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


class SlackApi(StandIn):
    """A Slack workspace behind the Web API, with one bot token."""

    def __init__(self, token: str = "xoxb-test-token", *, team: str = "T0TEAM0001", **kw: Any):
        super().__init__(**kw)
        self.token, self.team, self.bot = token, team, "U0BOT00001"
        self.scopes = {"chat:write", "channels:manage", "groups:write", "users:read.email"}
        self.users: dict[str, str] = {}  # email -> user ID
        self.channels: dict[str, _Channel] = {}
        self.expose_team = True  # false: answers carry no team ID (chat.getPermalink then)
        self._next = 1

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def add_user(self, email_address: str) -> str:
        user_id = f"U0USER{len(self.users) + 1:04d}"
        self.users[email_address] = user_id
        return user_id

    def add_channel(self, name: str, *, bot_member: bool = True) -> str:
        cid = f"C0CHAN{self._next:04d}"
        self._next += 1
        self.channels[cid] = _Channel(cid, name, members=[self.bot] if bot_member else [])
        return cid

    def channel(self, name: str) -> _Channel:
        return next(c for c in self.channels.values() if c.name == name.lstrip("#"))

    def handle(self, request: Received) -> Reply:
        method = request.path.removeprefix("/api/")
        if not request.path.startswith("/api/") or method not in self._methods():
            return Reply(404, {"ok": False, "error": "unknown_method"})
        auth = request.headers.get("authorization", "")
        if not auth:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if not hmac.compare_digest(auth, f"Bearer {self.token}"):
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        try:
            params = request.params()
        except ValueError:
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        out = self._methods()[method](params)
        return Reply(200, out, {"X-OAuth-Scopes": ",".join(sorted(self.scopes))})

    def _methods(self) -> dict[str, Any]:
        return {
            "auth.test": lambda p: {"ok": True, "team_id": self.team, "user_id": self.bot},
            "conversations.create": self._create,
            "conversations.invite": self._invite,
            "chat.postMessage": self._post,
            "chat.getPermalink": self._permalink,
            "users.lookupByEmail": self._lookup,
        }

    def _scope(self, needed: str) -> dict[str, Any] | None:
        if needed in self.scopes:
            return None
        provided = ",".join(sorted(self.scopes))
        return {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        private = str(params.get("is_private", "")).lower() in ("1", "true")
        if denied := self._scope("groups:write" if private else "channels:manage"):
            return denied
        name = str(params.get("name", ""))
        if not name:
            return {"ok": False, "error": "invalid_name_required"}
        if len(name) > 80:
            return {"ok": False, "error": "invalid_name_maxlength"}
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            return {"ok": False, "error": "invalid_name_specials"}
        if any(c.name == name for c in self.channels.values()):
            return {"ok": False, "error": "name_taken"}
        cid = self.add_channel(name)
        self.channels[cid].is_private = private
        channel = {"id": cid, "name": name, "is_channel": not private, "is_private": private}
        channel |= {"created": int(time.time()), "creator": self.bot, "is_member": True}
        if self.expose_team:
            channel["context_team_id"] = self.team
        return {"ok": True, "channel": channel}

    def _find(self, ref: str) -> _Channel | None:
        return self.channels.get(ref) or next(
            (c for c in self.channels.values() if c.name == ref.lstrip("#")), None
        )

    def _invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._find(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        force = str(params.get("force", "")).lower() in ("1", "true")
        errors = []
        for user in filter(None, str(params.get("users", "")).split(",")):
            if user == self.bot:
                errors.append({"user": user, "ok": False, "error": "cant_invite_self"})
            elif user not in self.users.values():
                errors.append({"user": user, "ok": False, "error": "user_not_found"})
            elif user in channel.members:
                errors.append({"user": user, "ok": False, "error": "already_in_channel"})
            else:
                channel.members.append(user)
        if errors and not force:
            return {"ok": False, "error": errors[0]["error"], "errors": errors}
        out: dict[str, Any] = {"ok": True, "channel": {"id": channel.id, "name": channel.name}}
        return out | ({"errors": errors} if errors else {})

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        if denied := self._scope("chat:write"):
            return denied
        channel = self._find(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if self.bot not in channel.members:
            return {"ok": False, "error": "not_in_channel"}
        body = dict(params)
        if isinstance(body.get("blocks"), str):
            body["blocks"] = json.loads(body["blocks"])
        if problem := slack_message_problem(body):
            return {"ok": False, "error": problem}
        ts = f"{time.time():.6f}"
        message = {"type": "message", "text": body.get("text", ""), "user": self.bot, "ts": ts}
        message |= {"bot_id": "B0BOT00001", "blocks": body.get("blocks", [])}
        if self.expose_team:
            message["team"] = self.team
        channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": ts, "message": message}

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._find(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = str(params.get("message_ts", "")).replace(".", "")
        link = f"https://acme.slack.com/archives/{channel.id}/p{ts}"
        return {"ok": True, "channel": channel.id, "permalink": link}

    def _lookup(self, params: dict[str, Any]) -> dict[str, Any]:
        if denied := self._scope("users:read.email"):
            return denied
        user = self.users.get(str(params.get("email", "")))
        if user is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": {"id": user, "team_id": self.team, "deleted": False}}


# --------------------------------------------------------------------------- Teams

CARD = "application/vnd.microsoft.card.adaptive"
CARD_ELEMENTS = {"TextBlock", "RichTextBlock", "ColumnSet", "Container", "FactSet", "Image"}


def _logic_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def card_problem(body: Any) -> str | None:
    """Why a Workflows "post card" flow would fail on this body, or None."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return "the body must be {'type': 'message', 'attachments': [...]}"
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "attachments must be a non-empty list"
    for attachment in attachments:
        if attachment.get("contentType") != CARD:
            return f"contentType must be {CARD}"
        content = attachment.get("content")
        if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return "content.type must be AdaptiveCard"
        if not isinstance(content.get("version"), str) or not isinstance(content.get("body"), list):
            return "an AdaptiveCard needs a version and a body"
        if problem := _elements_problem(content["body"]):
            return problem
        for action in content.get("actions", []):
            if action.get("type") != "Action.OpenUrl" or not str(action.get("url")).startswith(
                ("https://", "http://")
            ):
                return "an action must be Action.OpenUrl with an http(s) url"
    return None


def _elements_problem(elements: list[Any]) -> str | None:
    for element in elements:
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in CARD_ELEMENTS:
            return f"unknown element type {kind!r}"
        if kind == "TextBlock" and not isinstance(element.get("text"), str):
            return "a TextBlock needs text"
        if kind == "RichTextBlock":
            inlines = element.get("inlines")
            if not isinstance(inlines, list) or any(
                i.get("type") != "TextRun" or not isinstance(i.get("text"), str) for i in inlines
            ):
                return "a RichTextBlock holds TextRuns with text"
        if kind == "ColumnSet":
            for column in element.get("columns", []):
                if column.get("type") != "Column":
                    return "a ColumnSet holds Columns"
                if problem := _elements_problem(column.get("items", [])):
                    return problem
    return None


class Teams(StandIn):
    """A Teams Workflows flow triggered by an HTTP request carrying its signature."""

    def __init__(self, sig: str = "teamsSig0abcdefghijklmnopqrstuv", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sig = sig
        self.path = "/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke"
        self.cards: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        query = f"api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}"
        return f"{self.url}{self.path}?{query}"

    def handle(self, request: Received) -> Reply:
        if request.path != self.path:
            return _logic_error(404, "WorkflowNotFound", "The workflow was not found.")
        if request.query.get("sig") != [self.sig]:
            return _logic_error(
                401, "DirectApiAuthorizationRequired", "The request must be authenticated."
            )
        if len(request.raw) > 28 * 1024:
            return _logic_error(413, "MessageSizeTooBig", "The message is too large.")
        body = _json_body(request)
        if body is None:
            return _logic_error(400, "InvalidRequestContent", "The request body is not JSON.")
        if problem := card_problem(body):
            return _logic_error(400, "InvalidTemplate", problem)
        self.cards.append(body["attachments"][0]["content"])
        return Reply(202, b"")


# --------------------------------------------------------------------------- Mattermost


def _mm_error(status: int, error_id: str, message: str) -> Reply:
    body = {"id": error_id, "message": message, "detailed_error": "", "request_id": "r1"}
    return Reply(status, body | {"status_code": status})


class Mattermost(StandIn):
    """One Mattermost incoming webhook; ``locked`` refuses a channel override."""

    def __init__(self, key: str = "mmhook0key0abcdefghijklmno", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.locked = False
        self.posts: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/hooks/{self.key}"

    def handle(self, request: Received) -> Reply:
        if request.path != f"/hooks/{self.key}":
            return _mm_error(400, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
        body = _json_body(request)
        if not isinstance(body, dict):
            return _mm_error(400, "web.incoming_webhook.parse.app_error", "Unable to parse.")
        if not body.get("text") and not body.get("attachments"):
            return _mm_error(400, "web.incoming_webhook.text.app_error", "No text specified.")
        if len(str(body.get("text", ""))) > 16383:
            return _mm_error(400, "web.incoming_webhook.text.length.app_error", "Too long.")
        if self.locked and body.get("channel"):
            error = "web.incoming_webhook.channel_locked.app_error"
            return _mm_error(403, error, "This webhook is not permitted to post there.")
        self.posts.append(body)
        return Reply(200, "ok")


# --------------------------------------------------------------------------- Discord

DISCORD_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}


def discord_problem(body: dict[str, Any]) -> dict[str, Any] | None:
    """Discord's error body for this message, or None."""
    content, embeds = body.get("content") or "", body.get("embeds") or []
    if not content and not embeds:
        return {"message": "Cannot send an empty message", "code": 50006}
    errors: dict[str, Any] = {}
    if len(content) > 2000:
        errors["content"] = "Must be 2000 or fewer in length."
    if len(embeds) > 10:
        errors["embeds"] = "Must be 10 or fewer in length."
    for number, embed in enumerate(embeds[:10]):
        total = 0
        for key, limit in DISCORD_LIMITS.items():
            value = embed.get(key)
            text = (
                value.get("text" if key == "footer" else "name", "")
                if isinstance(value, dict)
                else (value or "")
            )
            total += len(text)
            if len(text) > limit:
                errors[f"embeds.{number}.{key}"] = f"Must be {limit} or fewer in length."
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors[f"embeds.{number}.fields"] = "Must be 25 or fewer in length."
        for index, item in enumerate(fields):
            name, value = item.get("name", ""), item.get("value", "")
            total += len(name) + len(value)
            if not 1 <= len(name) <= 256 or not 1 <= len(value) <= 1024:
                errors[f"embeds.{number}.fields.{index}"] = "Field name/value length."
        if total > 6000:
            errors[f"embeds.{number}"] = "Embed size exceeds maximum size of 6000"
    if errors:
        return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}
    return None


class Discord(StandIn):
    """One Discord channel webhook."""

    def __init__(self, token: str = "discordTok0abcdefghijklmnopqrst", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.webhook_id, self.token = "1234567890123456789", token
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/{self.webhook_id}/{self.token}"

    def rate_limit(self, retry_after: float = 1, *, times: int | None = 1) -> Fault:
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        headers = {"Retry-After": str(int(retry_after + 0.999)), "X-RateLimit-Scope": "shared"}
        return self.fail(429, body | {"global": False}, headers=headers, times=times)

    def handle(self, request: Received) -> Reply:
        match = re.fullmatch(r"/api/webhooks/([0-9]+)/([^/]+)", request.path)
        if not match or match[1] != self.webhook_id:
            return Reply(404, {"message": "Unknown Webhook", "code": 10015})
        if match[2] != self.token:
            return Reply(401, {"message": "Invalid Webhook Token", "code": 50027})
        body = _json_body(request)
        if not isinstance(body, dict):
            return Reply(400, {"message": "The request body contains invalid JSON.", "code": 50109})
        if problem := discord_problem(body):
            return Reply(400, problem)
        self.messages.append(body)
        if request.query.get("wait") == ["true"]:
            ident = str(1300000000000000000 + len(self.messages))
            return Reply(200, {"id": ident, "channel_id": "111", **body})
        return Reply(204)


# --------------------------------------------------------------------------- generic webhook


class SignedReceiver(StandIn):
    """A receiver verifying incidentctl's signature as its module docstring says to."""

    def __init__(self, secret: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret = secret.encode()
        self.documents: list[dict[str, Any]] = []

    @property
    def hook_url(self) -> str:
        return f"{self.url}/incidentctl"

    def handle(self, request: Received) -> Reply:
        if request.path != "/incidentctl":
            return Reply(404, {"error": "not found"})
        timestamp = request.headers.get("x-incidentctl-timestamp", "")
        signature = request.headers.get("x-incidentctl-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return Reply(401, {"error": "stale or missing timestamp"})
        digest = hmac.new(self.secret, timestamp.encode() + b"." + request.raw, hashlib.sha256)
        if not hmac.compare_digest("v1=" + digest.hexdigest(), signature):
            return Reply(401, {"error": "bad signature"})
        body = _json_body(request)
        if not isinstance(body, dict):
            return Reply(400, {"error": "not JSON"})
        self.documents.append(body)
        return Reply(200, {"ok": True})


# --------------------------------------------------------------------------- PagerDuty

PD_SEVERITIES = ("critical", "error", "warning", "info")


def _pd_invalid(*errors: str) -> Reply:
    body = {"status": "invalid event", "message": "Event object is invalid"}
    return Reply(400, body | {"errors": list(errors)})


class PagerDuty(StandIn):
    """The Events API v2; ``alerts`` maps dedup_key to triggered/acknowledged/resolved."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: list[dict[str, Any]] = []
        self.alerts: dict[str, str] = {}
        self.opened = 0  # alerts opened (a trigger after a resolve opens a new one)

    def throttle(self, *, times: int | None = 1) -> Fault:
        body = {"status": "throttle event", "message": "Requests are arriving too quickly."}
        return self.fail(429, body, times=times, path="/v2/enqueue")

    def handle(self, request: Received) -> Reply:
        if request.path != "/v2/enqueue" or request.method != "POST":
            return Reply(404, {"status": "not found"})
        event = _json_body(request)
        if not isinstance(event, dict):
            return Reply(400, {"status": "invalid request", "message": "Invalid JSON"})
        if problem := self._problem(event):
            return _pd_invalid(problem)
        key = event.get("dedup_key") or hashlib.md5(request.raw).hexdigest()
        action = event["event_action"]
        before = self.alerts.get(key)
        if action == "trigger" and before in (None, "resolved"):
            self.opened += 1
            self.alerts[key] = "triggered"
        elif action != "trigger" and before in ("triggered", "acknowledged"):
            self.alerts[key] = "acknowledged" if action == "acknowledge" else "resolved"
        self.events.append(event)
        return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})

    def _problem(self, event: dict[str, Any]) -> str | None:
        if len(str(event.get("routing_key", ""))) != 32:
            return "Length of 'routing_key' is incorrect (should be 32 characters)"
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            return "'event_action' is invalid (must be trigger, acknowledge or resolve)"
        key = event.get("dedup_key")
        if key is not None and (not isinstance(key, str) or len(key) > 255):
            return "'dedup_key' must be a string of at most 255 characters"
        if action != "trigger":
            return None if key else "'dedup_key' is missing or blank"
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return "'payload' is missing or blank"
        if not str(payload.get("summary", "")).strip():
            return "'payload.summary' is missing or blank"
        if len(payload["summary"]) > 1024:
            return "'payload.summary' is longer than 1024 characters"
        if not str(payload.get("source", "")).strip():
            return "'payload.source' is missing or blank"
        if payload.get("severity") not in PD_SEVERITIES:
            return "'payload.severity' is invalid (must be critical, error, warning or info)"
        return None


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Certificates:
    """A test CA, and a server certificate it signed for 127.0.0.1 and localhost."""

    ca_file: str
    cert_file: str
    key_file: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def make_certificates(directory: Path) -> Certificates:
    """Write a CA and a server certificate (P-256 keys, valid for a day) to `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def build(subject: str, issuer: str, key: Any, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        else:
            usage = x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            )  # fmt: skip
            builder = builder.add_extension(usage, critical=True)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("incidentctl test CA", "incidentctl test CA", ca_key, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build("localhost", "incidentctl test CA", key, ca_key, False)
    pem = serialization.Encoding.PEM
    paths = Certificates(
        str(directory / "ca.pem"), str(directory / "server.pem"), str(directory / "server.key")
    )
    Path(paths.ca_file).write_bytes(ca_cert.public_bytes(pem))
    Path(paths.cert_file).write_bytes(cert.public_bytes(pem))
    Path(paths.key_file).write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class Mail:
    """One message the SMTP server accepted, and how the session got there."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool  # STARTTLS was done before the message
    login: str | None  # the AUTH user, if any

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Smtp:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: STARTTLS required, then AUTH."""

    def __init__(self, certificates: Certificates, *, username: str, password: str) -> None:
        from aiosmtpd.controller import Controller

        class _Controller(Controller):
            def _trigger_server(self) -> None:
                # Bound to port 0: learn the port the system chose before connecting.
                server: Any = self.server
                self.port = server.sockets[0].getsockname()[1]
                super()._trigger_server()  # type: ignore[no-untyped-call]

        self.username, self.password = username, password
        self.mails: list[Mail] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self.refused: dict[str, str] = {}  # address -> the reply to its RCPT TO
        self.data_reply: str | None = None  # e.g. "451 4.3.0 try again later"
        self.controller = _Controller(
            _SmtpHandler(self),
            hostname="127.0.0.1",
            port=0,
            server_hostname="mail.test",
            tls_context=certificates.server_context(),
            require_starttls=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
            ready_timeout=5.0,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and hmac.compare_digest(auth_data.password.decode(), self.password)
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        self.auth_attempts.append((login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def __enter__(self) -> Smtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class _SmtpHandler:
    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.smtp.refused:
            return self.smtp.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0)
        if self.smtp.data_reply:
            return self.smtp.data_reply
        login = session.login_data.decode() if session.login_data else None
        self.smtp.mails.append(
            Mail(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.content if isinstance(envelope.content, bytes) else b"",
                tls=session.ssl is not None,
                login=login,
            )
        )
        return "250 Message accepted for delivery"
