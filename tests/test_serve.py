"""`incidentctl serve`, the alert webhook receiver, as a real process on loopback.

Every test starts the installed console script on a free port (`--port 0`, the port read
from its start line on stderr), talks real HTTP to it (http.client, or raw bytes over a
socket where a client must misbehave) and looks at the clone with real git afterwards:
the spool (`.git/incidentctl/spool`), the incident files, the commits and their trailers.
Servers are always stopped (SIGTERM, then SIGKILL) when a test ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import importlib.util
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Repo, console_script, git

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "alerts"
PLAIN = (FIXTURES / "plain.json").read_bytes()
PAGERDUTY = (FIXTURES / "pagerduty-triggered.json").read_bytes()
TOKEN = "serve-test-token-4f1c2a"
PD_SECRET = "incidentctl-test-secret"
LISTENING = re.compile(r"listening on http://([^\s/]+):(\d+)/alerts/\{format\}")
ALERT_ENTRY = re.compile(r"^- `[^`]+` \*\*.+?\*\* _\(alert\)_ ", re.MULTILINE)
START_TIMEOUT = 30.0
DRAIN_TIMEOUT = 60.0


def _load_make_hostile() -> Any:
    path = FIXTURES / "malformed" / "make_hostile.py"
    spec = importlib.util.spec_from_file_location("make_hostile_serve", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_hostile = _load_make_hostile()


# -- the server -----------------------------------------------------------------------------------


class Serve:
    """One `incidentctl serve` child process; its stderr goes to a log file."""

    def __init__(
        self,
        clone: Path,
        *args: str,
        env: dict[str, str] | None = None,
        log: Path,
        wait: bool = True,
    ):
        self.clone = clone
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop/kill)
        self.proc = subprocess.Popen(
            [console_script(), "--repo", str(clone), "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.host = "127.0.0.1"
        self.port = 0
        if wait:
            self._wait_listening()

    # -- lifecycle

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log())
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                assert self.port > 0, self.log()
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log()}")
            time.sleep(0.02)
        raise AssertionError(f"serve did not say it was listening: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = DRAIN_TIMEOUT) -> int:
        """SIGTERM and wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the server process (only it: git children it started finish)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if not self._log.closed:
            self._log.close()

    # -- HTTP

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        token: str | None = TOKEN,
        timeout: float = 30.0,
    ) -> Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            sent = dict(headers or {})
            if body is not None:
                sent.setdefault("Content-Type", "application/json")
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=body, headers=sent)
            answer = conn.getresponse()
            return Response(answer.status, dict(answer.getheaders()), answer.read())
        finally:
            conn.close()

    def post(self, path: str, body: bytes, **kwargs: Any) -> Response:
        return self.request("POST", path, body, **kwargs)

    def get(self, path: str) -> Response:
        return self.request("GET", path, token=None)

    def metrics(self) -> dict[tuple[str, str], float]:
        answer = self.get("/metrics")
        assert answer.status == 200, answer
        return parse_metrics(answer.text)

    def wait_drained(self, applied: int | None = None, timeout: float = DRAIN_TIMEOUT) -> Metrics:
        """Poll /metrics until the spool is empty (and `applied` reached, if given)."""
        deadline = time.monotonic() + timeout
        seen: Metrics = {}
        while time.monotonic() < deadline:
            seen = self.metrics()
            depth = seen[("incidentctl_spool_depth", "")]
            done = seen[("incidentctl_alerts_applied_total", "")]
            if depth == 0 and (applied is None or done >= applied):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"the spool did not drain in {timeout} s: {seen}\n{self.log()}")


Metrics = dict[tuple[str, str], float]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


def raw_exchange(
    port: int, data: bytes, *, timeout: float = 15.0, host: str = "127.0.0.1"
) -> bytes:
    """Send raw bytes, half-close, read the answer to the end."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def split_answer(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """A raw HTTP/1.x answer: status, headers (lower-cased names), body."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines and lines[0].startswith("HTTP/1."), data[:200]
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


METRIC_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\.)*\""
    r"(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\.)*\")*)\})?"
    r" (?P<value>[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))$"
)


def parse_metrics(text: str) -> Metrics:
    """Prometheus text format, strictly: every line is HELP, TYPE or a sample of a family
    whose HELP and TYPE came first. (name, labels as written) -> value."""
    assert text.endswith("\n"), text
    helped: set[str] = set()
    typed: dict[str, str] = {}
    samples: Metrics = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, about = line[len("# HELP ") :].partition(" ")
            assert about.strip() and name not in helped, line
            helped.add(name)
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE ") :].partition(" ")
            assert kind in ("counter", "gauge"), line
            assert name in helped and name not in typed, line
            typed[name] = kind
        else:
            found = METRIC_LINE.match(line)
            assert found, f"not a Prometheus sample line: {line!r}"
            name = found["name"]
            assert name in typed, f"a sample before its # TYPE: {line!r}"
            if typed[name] == "counter":
                assert name.endswith("_total"), line
            key = (name, found["labels"] or "")
            assert key not in samples, f"a sample given twice: {line!r}"
            samples[key] = float(found["value"])
    return samples


# -- the clone ------------------------------------------------------------------------------------


@pytest.fixture
def clone(repo: Repo) -> Path:
    """A committed incident repository (`incidentctl init` on a fresh git repository)."""
    result = subprocess.run(
        [console_script(), "init", str(repo.path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    git(repo.path, "add", "-A")
    git(repo.path, "commit", "--quiet", "-m", "Set up the incident repository")
    return repo.path


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "serve-token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """Start servers with `servers(clone, *args)`; all are stopped at the end."""
    started: list[Serve] = []
    count = [0]

    def start(clone: Path, *args: str, **kwargs: Any) -> Serve:
        count[0] += 1
        server = Serve(clone, *args, log=tmp_path / f"serve-{count[0]}.log", **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.proc.wait(timeout=10)
        server.kill()


def spool_of(clone: Path) -> Path:
    return clone / ".git" / "incidentctl" / "spool"


def ready(clone: Path) -> list[str]:
    """The names of the payloads waiting in the spool."""
    return sorted(p.name for p in (spool_of(clone) / "ready").glob("*.alert"))


def spool_files(clone: Path) -> list[str]:
    """Everything in the spool folder but the empty ready/ and failed/ folders."""
    root = spool_of(clone)
    if not root.exists():
        return []
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if not (p.is_dir() and p.parent == root)
    )


def head(clone: Path) -> str:
    return git(clone, "rev-parse", "HEAD").strip()


def porcelain(clone: Path) -> str:
    return git(clone, "status", "--porcelain", "--untracked-files=all")


@dataclass
class IncidentDoc:
    rel: str
    front: dict[str, Any]
    body: str

    @property
    def source(self) -> dict[str, Any]:
        source = self.front.get("source")
        assert isinstance(source, dict), self.rel
        return source

    @property
    def alert_entries(self) -> int:
        return len(ALERT_ENTRY.findall(self.body))


def incidents(clone: Path) -> list[IncidentDoc]:
    """Every incident file of the work tree, its front matter read with PyYAML."""
    found = []
    for path in sorted((clone / "incidents").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("---\n"), path
        front, _, body = text[4:].partition("\n---\n")
        found.append(IncidentDoc(path.relative_to(clone).as_posix(), yaml.safe_load(front), body))
    return found


def by_key(clone: Path) -> dict[str, list[IncidentDoc]]:
    """Incidents by their alert key (`source.key`)."""
    keys: dict[str, list[IncidentDoc]] = {}
    for doc in incidents(clone):
        keys.setdefault(str(doc.source["key"]), []).append(doc)
    return keys


def plain(spec_id: str, value: int = 350) -> bytes:
    return json.dumps(
        {
            "source": "spec-monitor",
            "spec_id": spec_id,
            "metric": "p99_latency",
            "value": value,
            "slo": 200,
            "severity": "SEV-3",
        }
    ).encode()


def plain_key(spec_id: str) -> str:
    return f"spec-monitor/{spec_id}/p99_latency"


def assert_error_answer(answer: Response, status: int) -> str:
    """A refusal: the status, and one line of JSON {"error": "..."}; the message."""
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.body.endswith(b"\n") and answer.body.count(b"\n") == 1, answer.body[:300]
    data = answer.json()
    assert isinstance(data, dict) and list(data) == ["error"], data
    assert isinstance(data["error"], str) and data["error"].strip(), data
    return str(data["error"])


def assert_nothing_written(clone: Path, before: str) -> None:
    assert ready(clone) == [], ready(clone)
    assert list((spool_of(clone) / "failed").glob("*")) == []
    assert head(clone) == before, git(clone, "log", "--oneline", f"{before}..HEAD")
    assert porcelain(clone) == ""


def pagerduty_signature(body: bytes, secret: str = PD_SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- 1. authentication ----------------------------------------------------------------------------


def _run_serve(clone: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """`serve` that is expected to refuse to start: it must exit by itself."""
    return subprocess.run(
        [console_script(), "--repo", str(clone), "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_no_credential_configured_refuses_to_start(clone: Path) -> None:
    """No token and no --insecure-no-auth: exit 1 with one line, no traceback, nothing made."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTCTL_")}
    result = subprocess.run(
        [console_script(), "--repo", str(clone), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "no token configured" in result.stderr and "--token-file" in result.stderr
    assert "listening" not in result.stderr
    assert not spool_of(clone).exists()
    assert porcelain(clone) == ""


def test_insecure_no_auth_is_refused_off_loopback(clone: Path) -> None:
    """--insecure-no-auth with --host 0.0.0.0 (and a public address): exit 1, one line."""
    for host in ("0.0.0.0", "192.0.2.10"):
        result = _run_serve(clone, "--insecure-no-auth", "--host", host)
        assert result.returncode == 1, result
        assert result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"--insecure-no-auth is refused on {host}" in result.stderr, result.stderr
        assert "listening" not in result.stderr


def test_insecure_no_auth_on_loopback_takes_requests_without_credential(
    clone: Path, servers: Callable[..., Serve]
) -> None:
    """--insecure-no-auth on 127.0.0.1 starts and answers 202 to a request with no token."""
    server = servers(clone, "--insecure-no-auth")
    assert server.host == "127.0.0.1"
    assert "auth: none (loopback only)" in server.log()
    answer = server.post("/alerts/plain", PLAIN, token=None)
    assert answer.status == 202, answer
    server.wait_drained(applied=1)
    assert server.terminate() == 0


def test_bearer_token_is_required_and_checked(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """No or a wrong bearer: 401, nothing spooled or committed; the right one: 202 and its JSON."""
    # --token-file: no or wrong Authorization -> 401 with nothing spooled or committed; the right
    # token -> 202 with {accepted, format, alert_key}.
    server = servers(clone, "--token-file", str(token_file))
    assert "auth: bearer token" in server.log()
    before = head(clone)
    refusals = [
        server.post("/alerts/plain", PLAIN, token=None),
        server.post("/alerts/plain", PLAIN, token="not-the-token"),
        server.post("/alerts/plain", PLAIN, token=TOKEN + "x"),
        server.post("/alerts/plain", PLAIN, token=None, headers={"Authorization": TOKEN}),
        server.post(
            "/alerts/plain", PLAIN, token=None, headers={"Authorization": f"Basic {TOKEN}"}
        ),
        server.post("/alerts", PLAIN, token=None),
    ]
    for answer in refusals:
        assert_error_answer(answer, 401)
    time.sleep(0.3)  # a writer that wrongly got something would have started on it
    assert_nothing_written(clone, before)

    answer = server.post("/alerts/plain", PLAIN)
    assert answer.status == 202, answer
    data = answer.json()
    assert set(data) == {"accepted", "format", "alert_key"}, data
    assert data["format"] == "plain"
    assert re.fullmatch(r"alert-[0-9a-f]+", data["alert_key"]), data
    assert re.fullmatch(r"\d{20}-\d{8}-[0-9a-f]{8}", data["accepted"]), data
    metrics = server.wait_drained(applied=1)
    assert metrics[("incidentctl_alerts_rejected_total", 'reason="unauthorized"')] == 6
    [doc] = incidents(clone)
    assert doc.source["ref"] == data["alert_key"]
    assert server.terminate() == 0


def test_token_from_the_environment(clone: Path, servers: Callable[..., Serve]) -> None:
    """INCIDENTCTL_SERVE_TOKEN works as --token-file does."""
    server = servers(clone, env={"INCIDENTCTL_SERVE_TOKEN": f"  {TOKEN}\n"})
    assert "auth: bearer token" in server.log()
    assert_error_answer(server.post("/alerts/plain", PLAIN, token=None), 401)
    assert_error_answer(server.post("/alerts/plain", PLAIN, token="wrong"), 401)
    assert ready(clone) == []
    answer = server.post("/alerts/plain", PLAIN)
    assert answer.status == 202, answer
    server.wait_drained(applied=1)
    assert server.terminate() == 0
    assert len(incidents(clone)) == 1


# -- 2. PagerDuty signatures ----------------------------------------------------------------------


def test_pagerduty_signature_is_checked(
    clone: Path, tmp_path: Path, servers: Callable[..., Serve]
) -> None:
    """A PagerDuty v1= HMAC (alone or among several) is a credential; a wrong one: 401."""
    # --pagerduty-secret-file: the right v1= HMAC (alone or among several) -> 202 with no bearer;
    # a wrong or missing one -> 401 and nothing spooled.
    secret = tmp_path / "pd-secret"
    secret.write_text(PD_SECRET + "\n")
    server = servers(clone, "--pagerduty-secret-file", str(secret))
    assert "PagerDuty signature" in server.log()
    good = pagerduty_signature(PAGERDUTY)
    # The fixture's README gives the signature of the file as stored.
    assert good == "v1=9be33699a187ae44a623c9a43f5b519f2b6672a614e80ec2c138b073a4470c20"
    before = head(clone)
    wrong = [
        {},
        {"X-PagerDuty-Signature": pagerduty_signature(PAGERDUTY, "another-secret")},
        {"X-PagerDuty-Signature": pagerduty_signature(PAGERDUTY + b" ")},
        {"X-PagerDuty-Signature": good[3:]},  # no v1=
        {"X-PagerDuty-Signature": "v1=" + "0" * 64 + ",v1=" + "f" * 64},
    ]
    for headers in wrong:
        assert_error_answer(
            server.post("/alerts/pagerduty", PAGERDUTY, token=None, headers=headers), 401
        )
    # A right signature is for /alerts/pagerduty only: elsewhere a bearer is needed.
    assert_error_answer(
        server.post("/alerts", PAGERDUTY, token=None, headers={"X-PagerDuty-Signature": good}),
        401,
    )
    time.sleep(0.3)
    assert_nothing_written(clone, before)

    answer = server.post(
        "/alerts/pagerduty", PAGERDUTY, token=None, headers={"X-PagerDuty-Signature": good}
    )
    assert answer.status == 202, answer
    assert answer.json()["format"] == "pagerduty"
    rotating = f"v1={'a' * 64}, {good} ,v1={'b' * 64}"
    answer = server.post(
        "/alerts/pagerduty", PAGERDUTY, token=None, headers={"X-PagerDuty-Signature": rotating}
    )
    assert answer.status == 202, answer
    metrics = server.wait_drained(applied=2)
    assert metrics[("incidentctl_alerts_accepted_total", 'format="pagerduty"')] == 2
    assert server.terminate() == 0
    [doc] = incidents(clone)
    assert doc.source["format"] == "pagerduty" and doc.source["received"] == 2


# -- 3. limits and bad input ----------------------------------------------------------------------


def _post_headers(path: str, length: int, extra: str = "", token: str = TOKEN) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


def post_big(port: int, body: bytes, path: str = "/alerts/alertmanager") -> bytes:
    """POST a body the server refuses by its Content-Length: the body is sent from a
    thread while the answer is read, as a client that does not wait for 100-continue
    would; the answer is what the server sent (a reset after it is fine)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sent = [0]

    def send() -> None:
        try:
            sock.sendall(_post_headers(path, len(body)))
            view = memoryview(body)
            while view:
                count = sock.send(view[:65536])
                sent[0] += count
                view = view[count:]
        except OSError:  # the server stopped reading: expected
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        return _read_all(sock)
    finally:
        sock.close()
        sender.join(timeout=15)


@pytest.fixture
def guarded(clone: Path, token_file: Path, servers: Callable[..., Serve]) -> Serve:
    """A server with a bearer token and the default --max-body (1 MiB)."""
    return servers(clone, "--token-file", str(token_file))


def test_a_body_over_max_body_is_refused_with_413(guarded: Serve, clone: Path) -> None:
    """The 10 MiB storm body: 413 with one JSON line, nothing spooled, the server still up."""
    # The 10 MiB Alertmanager storm (make_hostile.big_body): 413, one JSON line, nothing spooled;
    # the server then still answers.
    before = head(clone)
    body = make_hostile.big_body()
    assert len(body) == 10 * 1024 * 1024
    status, headers, answer = split_answer(post_big(guarded.port, body))
    message = assert_error_answer(Response(status, headers, answer), 413)
    assert "10,485,760" in message and "1,048,576" in message, message
    assert headers.get("connection") == "close"
    # Also through http.client, which sends the whole body before it reads the answer: the
    # server closes without reading the body, so this client sees a broken pipe, not the 413.
    try:
        big = guarded.post("/alerts/alertmanager", body)
    except (ConnectionResetError, BrokenPipeError):
        big = None
    if big is not None:
        assert_error_answer(big, 413)
    assert guarded.post("/alerts/plain", PLAIN).status == 202
    metrics = guarded.wait_drained(applied=1)
    assert metrics[("incidentctl_alerts_rejected_total", 'reason="too_large"')] >= 1
    assert len(incidents(clone)) == 1 and head(clone) != before
    assert "Traceback" not in guarded.log()


BAD_PAYLOADS = [  # (what, path, body, words the error must hold)
    ("10,000-deep object", "/alerts/plain", make_hostile.deep_json(kind="object"), "nested"),
    ("10,000-deep array", "/alerts", make_hostile.deep_json(kind="array"), "nested"),
    ("65-deep object", "/alerts/plain", b'{"a":' * 65 + b"1" + b"}" * 65, "nested"),
    (
        "non-UTF-8",
        "/alerts/plain",
        (FIXTURES / "malformed" / "non-utf8.bin").read_bytes(),
        "not UTF-8",
    ),
    ("form-encoded", "/alerts", (FIXTURES / "malformed" / "not-json.txt").read_bytes(), "JSON"),
    ("JSON array", "/alerts", (FIXTURES / "malformed" / "array.json").read_bytes(), "array"),
    (
        "JSON array to /alerts/alertmanager",
        "/alerts/alertmanager",
        (FIXTURES / "malformed" / "array.json").read_bytes(),
        "array",
    ),
    (
        "wrong shape",
        "/alerts",
        (FIXTURES / "malformed" / "wrong-shape.json").read_bytes(),
        "not one of the alert formats",
    ),
    (
        "wrong shape to /alerts/plain",
        "/alerts/plain",
        (FIXTURES / "malformed" / "wrong-shape.json").read_bytes(),
        "lacks",
    ),
    ("empty body", "/alerts/plain", b"", "empty"),
    ("NaN", "/alerts/plain", PLAIN.replace(b"350", b"NaN"), "JSON"),
    ("a JSON string", "/alerts", b'"firing"', "string"),
]


def test_bad_payloads_are_refused_with_400(guarded: Serve, clone: Path) -> None:
    """Deep, non-UTF-8, non-JSON, array, wrong-shape payloads: 400, one JSON line, no spool."""
    # Payloads that are not a readable alert (10,000-deep nesting, non-UTF-8, form-encoded, a JSON
    # array, a wrong shape, ...): 400, one JSON line saying why, nothing spooled.
    before = head(clone)
    for what, path, body, words in BAD_PAYLOADS:
        answer = guarded.post(path, body)
        message = assert_error_answer(answer, 400)
        assert words in message, (what, message)
        assert len(message) < 1000, (what, message)
    time.sleep(0.3)
    assert_nothing_written(clone, before)
    metrics = guarded.metrics()
    assert metrics[("incidentctl_alerts_rejected_total", 'reason="invalid"')] == len(BAD_PAYLOADS)
    assert metrics[("incidentctl_requests_total", 'code="400"')] == len(BAD_PAYLOADS)
    assert metrics[("incidentctl_alerts_accepted_total", "")] == 0
    assert "Traceback" not in guarded.log()
    assert guarded.get("/healthz").status == 200


def test_unknown_format_and_paths_are_404(guarded: Serve, clone: Path) -> None:
    """/alerts/nope and other paths: 404 with one JSON line; nothing spooled."""
    before = head(clone)
    assert "plain" in assert_error_answer(guarded.post("/alerts/nope", PLAIN), 404)
    assert_error_answer(guarded.post("/alerts/plain/extra", PLAIN), 404)
    assert_error_answer(guarded.post("/hooks", PLAIN), 404)
    assert_error_answer(guarded.get("/alerts/plain"), 404)
    assert_nothing_written(clone, before)


def test_a_request_without_content_length_is_411(guarded: Serve, clone: Path) -> None:
    """Transfer-Encoding: chunked, or no Content-Length at all: 411, nothing spooled."""
    before = head(clone)
    chunked = (
        b"POST /alerts/plain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(PLAIN):x}\r\n".encode()
        + PLAIN
        + b"\r\n0\r\n\r\n"
    )
    missing = (
        b"POST /alerts/plain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nConnection: close\r\n\r\n"
        + PLAIN
    )
    for data in (chunked, missing):
        status, headers, body = split_answer(raw_exchange(guarded.port, data))
        assert_error_answer(Response(status, headers, body), 411)
    time.sleep(0.2)
    assert_nothing_written(clone, before)


def test_a_malformed_content_length_gets_an_answer(guarded: Serve, clone: Path) -> None:
    """A non-decimal Content-Length (even '²': str.isdigit() is True) gets a 4xx JSON answer."""
    # Content-Length that is not a decimal number, including Latin-1 superscript digits that
    # str.isdigit() accepts and int() refuses: a 4xx JSON answer each time, never a dropped
    # connection with a traceback in the log.
    before = head(clone)
    failures = []
    for length in ("-1", "1e3", "0x10", " ", "\u00b2", "\u00b9\u00b2"):
        data = (
            f"POST /alerts/plain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1") + PLAIN
        answer = raw_exchange(guarded.port, data)
        if not answer:
            failures.append(f"Content-Length {length!r}: connection closed with no answer")
            continue
        status, headers, body = split_answer(answer)
        if not 400 <= status < 500:
            failures.append(f"Content-Length {length!r}: {status}")
            continue
        assert_error_answer(Response(status, headers, body), status)
    assert not failures, "\n".join(failures) + "\n" + guarded.log()[-1500:]
    assert "Traceback" not in guarded.log()
    assert_nothing_written(clone, before)


def test_a_stalled_client_does_not_block_others(guarded: Serve, clone: Path) -> None:
    """Clients that send headers (or half of them) and stall do not delay other requests."""
    stalled = []
    try:
        for data in (
            _post_headers("/alerts/plain", len(PLAIN)),  # headers, then no body
            _post_headers("/alerts/plain", len(PLAIN)) + PLAIN[:10],  # part of the body
            b"POST /alerts/plain HTTP/1.1\r\nHost: x\r\n",  # half the headers
        ):
            sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=15)
            sock.sendall(data)
            stalled.append(sock)
        time.sleep(0.2)
        started = time.monotonic()
        for n in range(3):
            answer = guarded.post("/alerts/plain", plain(f"spec-unblocked-{n}"), timeout=5)
            assert answer.status == 202, answer
        assert guarded.get("/healthz").status == 200
        assert time.monotonic() - started < 3.0
        guarded.wait_drained(applied=3)
    finally:
        for sock in stalled:
            sock.close()
    assert len(incidents(clone)) == 3


# -- 4. /healthz and /metrics ---------------------------------------------------------------------


def test_healthz_and_metrics_count_what_was_sent(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """/healthz is ok; /metrics parses as Prometheus text and its counters match what was sent."""
    # /healthz is 200 "ok"; /metrics is strict Prometheus text whose counters match the requests
    # sent: accepted by format, rejected by reason, answers by code, applied, and spool_depth 0
    # once drained. A body of exactly --max-body is taken, one byte more is not.
    server = servers(clone, "--token-file", str(token_file), "--max-body", "4096")
    health = server.get("/healthz")
    assert (health.status, health.text) == (200, "ok\n")
    assert health.headers["Content-Type"].startswith("text/plain")
    first = server.get("/metrics")
    assert first.headers["Content-Type"] == "text/plain; version=0.0.4"
    zero = parse_metrics(first.text)
    for name in (
        "incidentctl_alerts_applied_total",
        "incidentctl_spool_depth",
        "incidentctl_commits_total",
        "incidentctl_incidents_opened_total",
        "incidentctl_apply_errors_total",
        "incidentctl_push_errors_total",
        "incidentctl_alerts_failed_total",
        "incidentctl_alerts_accepted_total",
        "incidentctl_alerts_rejected_total",
    ):
        assert zero[(name, "")] == 0, name

    base = PLAIN.rstrip()[:-1]  # without its closing brace
    exact = base + b" " * (4095 - len(base)) + b"}"
    over = base + b" " * (4096 - len(base)) + b"}"
    assert (len(exact), len(over)) == (4096, 4097)
    expect_codes: Counter[int] = Counter()
    for body in (PLAIN, PLAIN, exact):
        assert server.post("/alerts/plain", body).status == 202
        expect_codes[202] += 1
    assert server.post("/alerts", PAGERDUTY).status == 202  # told from its shape
    expect_codes[202] += 1
    assert server.post("/alerts/plain", plain("spec-metrics-2")).status == 202
    expect_codes[202] += 1
    refused = [
        (server.post("/alerts/plain", PLAIN, token=None), 401),
        (server.post("/alerts/plain", PLAIN, token="nope"), 401),
        (server.post("/alerts/plain", b"{}"), 400),
        (server.post("/alerts/plain", over), 413),
        (server.post("/alerts/nope", PLAIN), 404),
        (server.post("/elsewhere", PLAIN), 404),
    ]
    for answer, code in refused:
        assert_error_answer(answer, code)
        expect_codes[code] += 1
    status, _, _ = split_answer(
        raw_exchange(
            server.port,
            b"POST /alerts/plain HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        )
    )
    assert status == 411
    expect_codes[411] += 1
    assert server.get("/healthz").status == 200
    expect_codes[200] += 2  # the first /healthz and /metrics

    metrics = server.wait_drained(applied=5)
    expect_codes[200] += 1  # this /healthz; the /metrics polls are counted after answering
    assert metrics[("incidentctl_alerts_accepted_total", 'format="plain"')] == 4
    assert metrics[("incidentctl_alerts_accepted_total", 'format="pagerduty"')] == 1
    rejected = {
        labels: value
        for (name, labels), value in metrics.items()
        if name == "incidentctl_alerts_rejected_total"
    }
    assert rejected == {
        'reason="unauthorized"': 2,
        'reason="invalid"': 1,
        'reason="too_large"': 1,
        'reason="format"': 1,
        'reason="path"': 1,
        'reason="length"': 1,
    }
    codes = {
        labels: value
        for (name, labels), value in metrics.items()
        if name == "incidentctl_requests_total"
    }
    polls = codes.pop('code="200"') - expect_codes.pop(200)
    assert polls >= 0  # the earlier /metrics polls of wait_drained
    assert codes == {f'code="{code}"': float(n) for code, n in expect_codes.items()}
    assert metrics[("incidentctl_alerts_applied_total", "")] == 5
    assert metrics[("incidentctl_spool_depth", "")] == 0
    assert metrics[("incidentctl_incidents_opened_total", "")] == 3
    assert metrics[("incidentctl_commits_total", "")] >= 3
    assert metrics[("incidentctl_apply_errors_total", "")] == 0
    assert metrics[("incidentctl_alerts_failed_total", "")] == 0
    assert len(incidents(clone)) == 3
    assert server.terminate() == 0


def test_last_applied_timestamp_is_exact(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """last_applied_timestamp_seconds is exact, not rounded to 6 significant digits."""
    # incidentctl_last_applied_timestamp_seconds is the time of the last batch to the second, not
    # rounded to 6 significant digits (which is off by up to ~83 minutes).
    server = servers(clone, "--token-file", str(token_file))
    before = time.time()
    assert server.post("/alerts/plain", PLAIN).status == 202
    metrics = server.wait_drained(applied=1)
    after = time.time()
    raw = [
        line
        for line in server.get("/metrics").text.splitlines()
        if line.startswith("incidentctl_last_applied_timestamp_seconds ")
    ]
    last = metrics[("incidentctl_last_applied_timestamp_seconds", "")]
    assert before - 1 <= last <= after + 1, (raw, before, after)


# -- 5. applying ----------------------------------------------------------------------------------


def commit_messages(clone: Path, since: str) -> list[str]:
    out = git(clone, "log", "--format=%B%x00", f"{since}..HEAD")
    return [m.strip() for m in out.split("\x00") if m.strip()]


def trailers(message: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in message.splitlines():
        name, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z][A-Za-z-]*", name):
            found.setdefault(name, []).append(value)
    return found


def test_fifty_repeats_make_one_incident(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """50 POSTs of plain.json: one incident, received 50, <= 4 alert entries, trailers."""
    # 50 POSTs of plain.json: one incident, source.received == 50, at most 4 alert entries in its
    # timeline, every commit with Incident/Alert-Batch/Alert-Ref trailers, and a clean work tree
    # once the spool is drained.
    server = servers(clone, "--token-file", str(token_file))
    start = head(clone)
    accepted = []
    for _ in range(50):
        answer = server.post("/alerts/plain", PLAIN)
        assert answer.status == 202, answer
        accepted.append(answer.json())
    assert len({a["accepted"] for a in accepted}) == 50
    assert len({a["alert_key"] for a in accepted}) == 1
    metrics = server.wait_drained(applied=50)
    assert metrics[("incidentctl_alerts_applied_total", "")] == 50
    assert metrics[("incidentctl_incidents_opened_total", "")] == 1
    assert porcelain(clone) == ""
    assert ready(clone) == []

    [doc] = incidents(clone)
    assert doc.source["received"] == 50, doc.source
    assert doc.source["ref"] == accepted[0]["alert_key"]
    assert doc.source["key"] == "spec-monitor/spec-core-001-authentication/p99_latency"
    assert 1 <= doc.alert_entries <= 4, doc.body
    messages = commit_messages(clone, start)
    assert len(messages) == metrics[("incidentctl_commits_total", "")]
    names = {a["accepted"] for a in accepted}
    for message in messages:
        found = trailers(message)
        assert found.get("Incident") == [doc.front["id"]], message
        assert found.get("Alert-Ref") == [doc.source["ref"]], message
        [batch] = found.get("Alert-Batch", [None])
        assert batch in names, message  # a batch is named after its first payload
    assert server.terminate() == 0
    assert "stopped" in server.log()
    assert porcelain(clone) == ""


# -- 6. SIGTERM -----------------------------------------------------------------------------------


@dataclass
class Burst:
    """Threads posting plain payloads, each over one keep-alive connection (as
    Alertmanager's Go client does; a new one after the server closes it), until
    `per_thread` are sent (None: until `stop` is set) or the server is gone."""

    port: int
    threads: int
    per_thread: int | None
    tag: str
    shared_every: int = 5  # every n-th payload of a thread repeats the one shared key
    pause: float = 0.0  # seconds between two requests of a thread
    on_accept: Callable[[int], None] | None = None
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (spec_id, spool name)
    sent: list[str] = field(default_factory=list)  # spec_ids whose request was started
    failed: list[str] = field(default_factory=list)  # spec_ids with no answer
    other: list[tuple[str, int]] = field(default_factory=list)  # answers other than 202
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def shared(self) -> str:
        return f"{self.tag}-shared"

    def spec(self, thread: int, n: int) -> str:
        if self.shared_every and n % self.shared_every == self.shared_every - 1:
            return self.shared
        return f"{self.tag}-t{thread}-n{n}"

    def run(self) -> None:
        workers = [threading.Thread(target=self._work, args=(t,)) for t in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=180)
            assert not worker.is_alive(), "a burst thread hung"

    def _work(self, thread: int) -> None:
        conn: http.client.HTTPConnection | None = None
        gone = 0
        n = 0
        while (self.per_thread is None or n < self.per_thread) and not self.stop.is_set():
            spec = self.spec(thread, n)
            n += 1
            with self.lock:
                self.sent.append(spec)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request(
                    "POST",
                    "/alerts/plain",
                    body=plain(spec, value=300 + n),
                    headers={
                        "Authorization": f"Bearer {TOKEN}",
                        "Content-Type": "application/json",
                    },
                )
                answer = conn.getresponse()
                data = answer.read()
                if answer.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.failed.append(spec)
                if conn is not None:
                    conn.close()
                    conn = None
                gone += 1
                if gone >= 3:  # refused three times in a row: the server is gone
                    break
                time.sleep(0.05)
                continue
            gone = 0
            count = 0
            with self.lock:
                if answer.status == 202:
                    self.accepted.append((spec, json.loads(data)["accepted"]))
                    count = len(self.accepted)
                else:
                    self.other.append((spec, answer.status))
            if count and self.on_accept is not None:
                self.on_accept(count)
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()


def assert_applied_exactly_once(clone: Path, bursts: list[Burst]) -> Counter[str]:
    """Every payload answered 202 is applied once and nothing twice; no key has two
    incidents. Figures: how many were applied although they never got a 202."""
    keys = by_key(clone)
    doubled = {k: [d.rel for d in docs] for k, docs in keys.items() if len(docs) > 1}
    assert not doubled, f"keys with more than one incident: {doubled}"
    received = {k: int(docs[0].source["received"]) for k, docs in keys.items()}
    figures: Counter[str] = Counter()
    for burst in bursts:
        got = Counter(spec for spec, _ in burst.accepted)
        sent = Counter(burst.sent)
        for spec, n in sent.items():
            key = plain_key(spec)
            if spec == burst.shared:
                applied = received.get(key, 0)
                assert got[spec] <= applied <= n, (spec, "202s", got[spec], applied, "sent", n)
                figures["shared applied without a 202"] += applied - got[spec]
                continue
            assert n == 1, spec
            if got[spec]:
                assert received.get(key) == 1, (spec, "got a 202, applied", received.get(key))
            elif key in received:
                assert received[key] == 1, (spec, "no 202, applied", received[key])
                figures["unique applied without a 202"] += 1
        figures["accepted"] += len(burst.accepted)
    figures["incidents"] = len(keys)
    return figures


def assert_settled(clone: Path) -> None:
    """Every incident file committed, nothing untracked, the spool empty, no journal."""
    assert porcelain(clone) == "", porcelain(clone)
    assert ready(clone) == [], ready(clone)
    assert not (spool_of(clone) / "journal.json").exists()
    assert spool_files(clone) == [], spool_files(clone)
    tracked = set(git(clone, "ls-files", "incidents").split())
    assert {d.rel for d in incidents(clone)} <= tracked


def assert_trailers_once(clone: Path, since: str) -> int:
    """Every commit since `since` has the Incident, Alert-Batch and Alert-Ref trailers,
    and no (batch, key) pair is committed twice. The number of commits."""
    fields = "%x1e%(trailers:key=Incident,valueonly)%x1f%(trailers:key=Alert-Batch,valueonly)"
    out = git(
        clone, "log", f"--format={fields}%x1f%(trailers:key=Alert-Ref,valueonly)", f"{since}..HEAD"
    )
    pairs: Counter[tuple[str, str]] = Counter()
    commits = 0
    for record in out.split("\x1e")[1:]:
        incident, batch, ref = (part.strip() for part in record.split("\x1f"))
        assert re.fullmatch(r"INC-\d{8}-[0-9a-z]{4}", incident), record
        assert re.fullmatch(r"\d{20}-\d{8}-[0-9a-f]{8}", batch), record
        assert re.fullmatch(r"alert-[0-9a-f]+", ref), record
        pairs[(batch, ref)] += 1
        commits += 1
    twice = [pair for pair, n in pairs.items() if n > 1]
    assert not twice, f"a batch committed one key twice: {twice}"
    return commits


def test_sigterm_during_a_burst_applies_everything_and_exits_0(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """SIGTERM mid-burst: no more 202s, all accepted applied, spool empty, 'stopped', exit 0."""
    # SIGTERM in the middle of a burst over keep-alive connections: the server stops taking
    # requests (only the requests in flight may be answered after it logs "stopping"), applies all
    # it accepted (spool empty, sum of source.received == number of 202s), says "stopped" and
    # exits 0.
    server = servers(clone, "--token-file", str(token_file))
    signalled = threading.Event()

    def on_accept(count: int) -> None:
        if count == 60 and not signalled.is_set():
            signalled.set()
            server.proc.send_signal(signal.SIGTERM)

    burst = Burst(server.port, threads=6, per_thread=40, tag="term", on_accept=on_accept)
    burst.run()
    assert signalled.is_set()
    code = server.proc.wait(timeout=DRAIN_TIMEOUT)
    log = server.log()
    assert code == 0, log[-2000:]
    assert log.rstrip().endswith("stopped"), log[-2000:]
    assert "Traceback" not in log
    # After SIGTERM, a request on a connection left open is refused (503, "retry"), never
    # accepted and dropped; anything else is a bug.
    assert {status for _, status in burst.other} <= {503}, burst.other
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()

    assert_settled(clone)
    total = sum(int(doc.source["received"]) for doc in incidents(clone))
    assert total == len(burst.accepted), (total, len(burst.accepted), len(burst.failed))
    assert_applied_exactly_once(clone, [burst])

    late = log[log.index(" stopping: ") :].count(" 202 ")
    assert late <= burst.threads, (
        f"after SIGTERM the server went on answering 202 over open keep-alive connections: "
        f"{late} of {len(burst.accepted)} accepted after it logged 'stopping'"
    )


# -- 7. kill -9 -----------------------------------------------------------------------------------

KILL_ROUNDS = 4


def _wait_no_index_lock(clone: Path, timeout: float = 10.0) -> None:
    """A git child of the killed server may still be finishing its commit."""
    deadline = time.monotonic() + timeout
    while (clone / ".git" / "index.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


class Killer:
    """SIGKILL the server (only its process) once `target` payloads got a 202."""

    def __init__(self, server: Serve, target: int, delay: float):
        self.server, self.target, self.delay = server, target, delay
        self.fired = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, count: int) -> None:
        with self.lock:
            if count < self.target or self.fired.is_set():
                return
            self.fired.set()
        if self.delay:
            threading.Timer(self.delay, self.server.proc.kill).start()
        else:
            self.server.proc.kill()


def test_kill_9_during_a_burst_loses_nothing_and_applies_nothing_twice(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """kill -9 mid-burst, restart: each 202 applied exactly once, all committed, spool empty."""
    # Rounds of: a burst from 8 threads, kill -9 after a random number of 202s, restart on the
    # same clone and spool, drain, SIGTERM. Every payload answered 202 is applied exactly once,
    # none twice, no key gets two incidents, every incident file is committed, the spool is empty
    # and no journal is left.
    seed = int(os.environ.get("SERVE_KILL_SEED", str(time.time_ns() % 2**31)))
    rng = random.Random(seed)
    bursts: list[Burst] = []
    report: list[str] = []
    start = head(clone)
    for round_ in range(KILL_ROUNDS):
        server = servers(clone, "--token-file", str(token_file))
        target = rng.randint(20, 250)  # beyond the 240 sent: killed after the burst
        delay = rng.choice([0.0, 0.0, 0.01, 0.1, 0.5, 1.5])
        killer = Killer(server, target, delay)
        burst = Burst(
            server.port,
            threads=8,
            per_thread=30,
            tag=f"k{round_}",
            shared_every=4,
            on_accept=killer,
        )
        bursts.append(burst)
        burst.run()
        context = f"seed {seed}, round {round_}, kill after {target} 202s (+{delay} s)"
        if not killer.fired.is_set():  # fewer 202s than the target: while it applies
            time.sleep(delay)
            server.proc.kill()
        assert server.proc.wait(timeout=30) == -signal.SIGKILL, context
        server.kill()
        _wait_no_index_lock(clone)
        left = len(ready(clone))
        journal = (spool_of(clone) / "journal.json").exists()
        dirty = len(porcelain(clone).splitlines())

        again = servers(clone, "--token-file", str(token_file))
        metrics = again.wait_drained()
        assert again.terminate() == 0, again.log()[-2000:]
        log = again.log()
        assert "Traceback" not in log, (context, log[-3000:])
        assert metrics[("incidentctl_alerts_failed_total", "")] == 0, context
        recovered = re.findall(r"recovered an interrupted batch: .*", log)

        assert_settled(clone)
        figures = assert_applied_exactly_once(clone, bursts)
        figures["commits"] = assert_trailers_once(clone, start)
        spooled = {name for b in bursts for _, name in b.accepted}
        assert not spooled & {p.stem for p in (spool_of(clone) / "failed").glob("*")}
        report.append(
            f"{context}: {len(burst.accepted)} accepted, {len(burst.failed)} unanswered, "
            f"{left} left in the spool, journal {journal}, {dirty} dirty path(s); "
            f"{recovered or 'no interrupted batch'}; totals {dict(figures)}"
        )
    print("\n".join(report))


# -- 8. a repository that cannot take commits -----------------------------------------------------


def _wait_metric(server: Serve, name: str, at_least: float, timeout: float = 20.0) -> Metrics:
    deadline = time.monotonic() + timeout
    seen: Metrics = {}
    while time.monotonic() < deadline:
        seen = server.metrics()
        if seen[(name, "")] >= at_least:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{name} did not reach {at_least}: {seen}\n{server.log()[-2000:]}")


def test_a_payload_waits_in_the_spool_while_head_is_detached(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """Accepted on a detached HEAD: kept in the spool, apply errors counted, applied on main."""
    # Accepted while HEAD is detached: the payload stays in the spool (not lost, nothing
    # committed), apply_errors_total grows; after `git checkout main` it is applied.
    server = servers(clone, "--token-file", str(token_file))
    git(clone, "checkout", "--quiet", "--detach")
    before = head(clone)
    answer = server.post("/alerts/plain", PLAIN)
    assert answer.status == 202, answer
    name = answer.json()["accepted"]
    metrics = _wait_metric(server, "incidentctl_apply_errors_total", 1)
    assert metrics[("incidentctl_spool_depth", "")] == 1
    assert metrics[("incidentctl_alerts_applied_total", "")] == 0
    assert ready(clone) == [f"{name}.alert"]
    assert head(clone) == before and porcelain(clone) == ""
    assert incidents(clone) == []
    assert "HEAD is detached" in server.log()

    git(clone, "checkout", "--quiet", "main")
    metrics = server.wait_drained(applied=1, timeout=30)
    assert metrics[("incidentctl_apply_errors_total", "")] >= 1
    [doc] = incidents(clone)
    assert doc.source["received"] == 1
    assert git(clone, "log", "--format=%s", "-1").startswith(f"incident({doc.front['id']})")
    assert_settled(clone)
    assert server.terminate() == 0


def test_a_batch_that_fails_halfway_is_not_applied_twice(
    clone: Path, token_file: Path, servers: Callable[..., Serve]
) -> None:
    """A batch retried after key A's commit was made and key B's refused does not apply A again."""
    # A batch of keys A and B where A's commit is made and B's is refused (by the user's
    # commit-msg hook) is retried: A must not be applied again on each retry.
    server = servers(clone, "--token-file", str(token_file))
    git(clone, "checkout", "--quiet", "--detach")  # holds both payloads in one batch
    first = server.post("/alerts/plain", plain("partial-a"))
    second = server.post("/alerts/plain", plain("partial-b"))
    assert (first.status, second.status) == (202, 202)
    errors = _wait_metric(server, "incidentctl_apply_errors_total", 1)[
        ("incidentctl_apply_errors_total", "")
    ]
    flag = clone / ".git" / "refuse-b"
    flag.touch()
    hook = clone / ".git" / "hooks" / "commit-msg"
    hook.write_text(
        "#!/bin/sh\n"
        f'if [ -e "{flag}" ] && grep -q "^Alert-Ref: {second.json()["alert_key"]}$" "$1"; then\n'
        '  echo "refused by the test hook" >&2; exit 1\n'
        "fi\n"
    )
    hook.chmod(0o755)
    git(clone, "checkout", "--quiet", "main")
    _wait_metric(server, "incidentctl_apply_errors_total", errors + 2)  # B refused twice
    flag.unlink()
    metrics = server.wait_drained(applied=2, timeout=30)
    assert server.terminate() == 0
    keys = by_key(clone)
    assert sorted(keys) == [plain_key("partial-a"), plain_key("partial-b")]
    received = {k: [d.source["received"] for d in docs] for k, docs in keys.items()}
    ref_a = first.json()["alert_key"]
    commits = git(clone, "log", "--format=%s", f"--grep=^Alert-Ref: {ref_a}$").splitlines()
    assert received == {plain_key("partial-a"): [1], plain_key("partial-b"): [1]}, (
        f"one payload each was sent; source.received: {received}; commits for A: {commits}; "
        f"apply errors: {metrics[('incidentctl_apply_errors_total', '')]}"
    )
