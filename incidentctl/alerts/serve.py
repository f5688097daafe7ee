"""`incidentctl serve`: the webhook receiver for alerts.

    POST /alerts/{format}   a payload of that format (plain, alertmanager, grafana,
    POST /alerts            pagerduty, datadog); /alerts tells the format from its shape
    GET  /healthz           200 "ok"; 503 once the writer has failed for 30 s
    GET  /metrics           Prometheus text format

A request is answered 202 only once its payload is checked and fsynced in the spool;
a single writer thread (writer.py) applies the spool in order. Authentication: the
bearer token (`Authorization: Bearer …`, what Alertmanager's `http_config.authorization`
sends), compared in constant time; or, for PagerDuty, the `X-PagerDuty-Signature`
HMAC of the raw body when a secret is configured. Nothing is written for a request
that fails either.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import IncidentctlError, InvalidInput
from ..incident.timeutil import format_ts, utcnow
from ..safetext import safe
from . import formats
from .config import load as load_settings
from .notice import FORMATS, PayloadError
from .spool import Spool
from .writer import Follow, Writer, recover

READ_TIMEOUT = 10.0  # seconds a client may take to send its request
DRAIN_LIMIT = 16 * 1024 * 1024  # a body this large over the limit is still read away
STOP_WAIT = 15.0  # seconds stopping waits for requests in flight


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 9095
    token: bytes | None = None
    pagerduty_secret: bytes | None = None
    max_body: int = formats.MAX_BYTES
    insecure_no_auth: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_settings(settings: Settings) -> None:
    if settings.token is None and settings.pagerduty_secret is None:
        if not settings.insecure_no_auth:
            raise InvalidInput(
                "no token configured; give --token-file FILE or INCIDENTCTL_SERVE_TOKEN "
                "(or --insecure-no-auth, on a loopback address only)"
            )
        if not is_loopback(settings.host):
            raise InvalidInput(
                f"--insecure-no-auth is refused on {settings.host}: only a loopback address "
                "(127.0.0.1, ::1) may take requests without a credential"
            )


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """PagerDuty: `v1=<hex HMAC-SHA256>`, several comma-separated while secrets rotate."""
    if not header:
        return False
    expected = "v1=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(",")[:8])


class Receiver(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, settings: Settings, spool: Spool, writer: Writer, log: Callable[[str], None]
    ):
        self.settings = settings
        self.spool = spool
        self.writer = writer
        self.log = log
        self.counts: Counter[tuple[str, str]] = Counter()
        self.counts_lock = threading.Lock()
        self.stopping = threading.Event()  # set: new requests get 503, connections close
        self.active = threading.Condition()
        self.requests = 0  # POSTs in flight
        super().__init__((settings.host, settings.port), Handler)

    def quiesce(self, timeout: float) -> int:
        """Refuse new POSTs; wait for those in flight; how many were still running."""
        deadline = time.monotonic() + timeout
        with self.active:
            self.stopping.set()
            while self.requests and time.monotonic() < deadline:
                self.active.wait(timeout=0.1)
            return self.requests

    def count(self, name: str, label: str) -> None:
        with self.counts_lock:
            self.counts[(name, label)] += 1


class Handler(BaseHTTPRequestHandler):
    server: Receiver
    timeout = READ_TIMEOUT
    # Headers and body go out as two writes: with Nagle's algorithm the second waits
    # for the client's delayed ACK (about 40 ms a request).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "incidentctl"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # our own line per request
        pass

    def do_GET(self) -> None:
        started = time.perf_counter()
        if self.path == "/healthz":
            failing = self.server.writer.failing()
            if failing:
                self._answer(503, f"writer failing: {failing}\n", "text/plain", started)
            else:
                self._answer(200, "ok\n", "text/plain", started)
        elif self.path == "/metrics":
            self._answer(200, metrics(self.server), "text/plain; version=0.0.4", started)
        else:
            self._answer(404, {"error": "not found; POST /alerts/{format}"}, None, started)

    def do_POST(self) -> None:
        started = time.perf_counter()
        with self.server.active:
            if self.server.stopping.is_set():
                self.close_connection = True
                return self._reject(503, "stopping", "the receiver is stopping; retry", started)
            self.server.requests += 1
        try:
            return self._post(started)
        finally:
            with self.server.active:
                self.server.requests -= 1
                self.server.active.notify_all()

    def _discard(self, size: int) -> None:
        try:
            while size > 0:
                chunk = self.rfile.read(min(size, 65536))
                if not chunk:
                    return
                size -= len(chunk)
        except OSError:
            return

    def _post(self, started: float) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        fmt: str | None = None
        if path.startswith("/alerts/"):
            fmt = path[len("/alerts/") :]
            if fmt not in FORMATS:
                return self._reject(
                    404, "format", f"unknown format; use one of: {', '.join(FORMATS)}", started
                )
        elif path != "/alerts":
            return self._reject(404, "path", "not found; POST /alerts/{format}", started)
        settings = self.server.settings
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None:
            return self._reject(411, "length", "a Content-Length is required", started)
        if not (length.isascii() and length.isdigit()) or len(length) > 18:
            return self._reject(400, "length", "the Content-Length is not a number", started)
        size = int(length)
        bearer = self._bearer_ok()
        if size > settings.max_body:
            if not bearer:
                return self._reject(401, "unauthorized", "a valid credential is required", started)
            if size <= DRAIN_LIMIT:  # read it away, so a client that sends first sees the 413
                self._discard(size)
            return self._reject(
                413,
                "too_large",
                f"the payload is {size:,} bytes; the limit is {settings.max_body:,}",
                started,
            )
        if not bearer and not (fmt == "pagerduty" and settings.pagerduty_secret):
            return self._reject(401, "unauthorized", "a valid credential is required", started)
        try:
            body = self.rfile.read(size)
        except OSError:  # the client went quiet past READ_TIMEOUT
            self.close_connection = True
            return None
        if len(body) < size:
            return self._reject(400, "invalid", "the request body ended early", started)
        if not bearer:
            secret = settings.pagerduty_secret or b""
            if not signature_ok(secret, body, self.headers.get("X-PagerDuty-Signature")):
                return self._reject(
                    401, "unauthorized", "the PagerDuty signature does not match", started
                )
        try:
            notice = formats.read(body, fmt, max_bytes=settings.max_body)
        except PayloadError as exc:
            return self._reject(400, "invalid", exc.message, started)
        try:
            name = self.server.spool.accept(body, notice.format, utcnow())
        except OSError as exc:
            return self._reject(503, "spool", f"cannot write the spool: {exc.strerror}", started)
        self.server.count("accepted", notice.format)
        self.server.writer.remember(name, notice)
        self.server.writer.wake.set()
        answer = {"accepted": name, "format": notice.format, "alert_key": notice.ref}
        self._answer(202, answer, None, started, f"{notice.format} {notice.ref} {name}")
        return None

    def _bearer_ok(self) -> bool:
        token = self.server.settings.token
        if token is None:
            return self.server.settings.insecure_no_auth
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(value.strip().encode("utf-8", "replace"), token)

    def _reject(self, code: int, reason: str, message: str, started: float) -> None:
        self.server.count("rejected", reason)
        self.close_connection = True  # the body may be unread
        self._answer(code, {"error": message}, None, started, safe(message))

    def _answer(
        self, code: int, body: Any, kind: str | None, started: float, note: str = ""
    ) -> None:
        data = (body if isinstance(body, str) else json.dumps(body) + "\n").encode()
        if self.server.stopping.is_set():
            self.close_connection = True
        self.send_response(code)
        self.send_header("Content-Type", kind or "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.server.count("requests", str(code))
        ms = (time.perf_counter() - started) * 1000
        line = f"{self.client_address[0]} {self.command} {self.path[:100]} {code} {ms:.1f}ms {note}"
        self.server.log(safe(line.rstrip()))


def metrics(server: Receiver) -> str:
    """The counters in Prometheus text format."""
    stats = server.writer.stats
    with server.counts_lock:
        counts = dict(server.counts)
    with stats.lock:
        writer = {
            "applied": stats.applied,
            "batches": stats.batches,
            "commits": stats.commits,
            "incidents_opened": stats.incidents_opened,
            "apply_errors": stats.apply_errors,
            "push_errors": stats.push_errors,
            "failed": stats.failed,
        }
        last = stats.last_applied
    lines = []

    def family(name: str, kind: str, about: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP incidentctl_{name} {about}")
        lines.append(f"# TYPE incidentctl_{name} {kind}")
        lines.extend(f"incidentctl_{name}{labels} {_number(value)}" for labels, value in samples)

    def labelled(kind: str, label: str) -> list[tuple[str, float]]:
        found = [
            (f'{{{label}="{k[1]}"}}', float(v)) for k, v in sorted(counts.items()) if k[0] == kind
        ]
        return found or [("", 0.0)]

    family(
        "requests_total",
        "counter",
        "HTTP requests answered, by status code.",
        labelled("requests", "code"),
    )
    family(
        "alerts_accepted_total",
        "counter",
        "Payloads accepted (202) and spooled, by format.",
        labelled("accepted", "format"),
    )
    family(
        "alerts_rejected_total",
        "counter",
        "Payloads refused, by reason.",
        labelled("rejected", "reason"),
    )
    family(
        "alerts_applied_total",
        "counter",
        "Payloads applied to the repository.",
        [("", writer["applied"])],
    )
    family(
        "spool_depth",
        "gauge",
        "Payloads accepted and not yet applied.",
        [("", server.spool.depth())],
    )
    family("batches_total", "counter", "Batches the writer applied.", [("", writer["batches"])])
    family("commits_total", "counter", "Commits made by the writer.", [("", writer["commits"])])
    family(
        "incidents_opened_total",
        "counter",
        "Incidents opened from alerts.",
        [("", writer["incidents_opened"])],
    )
    family(
        "apply_errors_total",
        "counter",
        "Batches that failed and were retried.",
        [("", writer["apply_errors"])],
    )
    family(
        "push_errors_total",
        "counter",
        "Pushes that failed (commits kept).",
        [("", writer["push_errors"])],
    )
    family(
        "alerts_failed_total",
        "counter",
        "Payloads set aside as unreadable.",
        [("", writer["failed"])],
    )
    family(
        "last_applied_timestamp_seconds", "gauge", "When a batch was last applied.", [("", last)]
    )
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """A sample value as Prometheus reads it exactly: integers whole, no exponent."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def run(
    repo_path: str | None,
    settings: Settings,
    spool_dir: str,
    *,
    push: bool | None = None,
    batch: int = 500,
    log: Callable[[str], None] | None = None,
    follow: Follow | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT; then stop taking requests, apply what is spooled,
    and return 0."""
    from ..repo.incidents import IncidentRepo

    log_lock = threading.Lock()

    def say(message: str) -> None:
        line = f"{format_ts(utcnow())} {message}\n"
        with log_lock:  # one write per line: lines of parallel requests never mix
            sys.stderr.write(line)
            sys.stderr.flush()

    emit = log or say
    check_settings(settings)
    spool = Spool(spool_dir)
    repo = IncidentRepo.open(repo_path)
    try:
        load_settings(repo.config)  # a bad [alerts] table stops here, not at every batch
        recovered, _ = recover(repo, spool, emit)
    finally:
        repo.git.close()
    writer = Writer(repo_path, spool, batch=batch, push=push, log=emit, follow=follow)
    try:
        server = Receiver(settings, spool, writer, emit)
    except OSError as exc:
        raise IncidentctlError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; pick another --port"
        ) from None
    writer.start()
    stop = threading.Event()

    def on_signal(number: int, frame: Any) -> None:
        if not stop.is_set():
            stop.set()
            server.stopping.set()  # open keep-alive connections get 503 from now on
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    host, port = str(server.server_address[0]), server.server_address[1]
    auth = "bearer token" if settings.token else "none (loopback only)"
    if settings.pagerduty_secret:
        auth += ", PagerDuty signature"
    emit(
        f"incidentctl serve: listening on http://{host}:{port}/alerts/{{format}} "
        f"(formats: {', '.join(FORMATS)}; /alerts detects it); auth: {auth}; "
        f"spool: {spool.root}; {spool.depth()} payload(s) waiting"
        + (f", {recovered} recovered" if recovered else "")
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        still = server.quiesce(STOP_WAIT)
        server.server_close()
        if still:
            emit(f"stopping with {still} request(s) still running after {STOP_WAIT:g}s")
        emit(f"stopping: applying the {spool.depth()} payload(s) left in the spool")
        writer.stopping.set()
        writer.wake.set()
        writer.join()
        emit("stopped")
    return 0
