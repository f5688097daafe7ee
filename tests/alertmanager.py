"""Start and drive a real Prometheus Alertmanager (Debian's 0.25) for end-to-end tests.

Usage::

    with Alertmanager(tmp_path, "http://127.0.0.1:8080/hook", token_file=token) as am:
        am.fire("DiskFull", labels={"instance": "db1"})
        ...

Each instance writes its own configuration (JSON, which is YAML) under
``tmp_path / "alertmanager"``, binds a free loopback port, disables cluster
gossip (no :9094) and never touches the packaged system service or
/etc/prometheus. A missing or broken binary makes the test FAIL (never skip),
quoting the process's log and the install hint ``scripts/ensure-alertmanager``.

Standard library only (plus pytest for ``pytest.fail``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn

import pytest

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")
"""Debian installs /usr/bin/prometheus-alertmanager; upstream tarballs ship `alertmanager`."""

BINARY_ENV = "ALERTMANAGER_BIN"
"""Set to an explicit binary path to override the PATH / /usr/bin lookup."""

INSTALL_HINT = (
    "run `scripts/ensure-alertmanager` (as root it installs Debian's prometheus-alertmanager: "
    "apt-get install -y --no-install-recommends prometheus-alertmanager)"
)

DEFAULT_GENERATOR_URL = "http://prometheus.invalid/graph"

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

# Never send loopback test traffic through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def find_binary() -> str | None:
    """Path of the Alertmanager binary, or None: $ALERTMANAGER_BIN, then PATH, then /usr/bin."""
    override = os.environ.get(BINARY_ENV)
    if override:
        return override
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for name in BINARY_NAMES:
        candidate = Path("/usr/bin") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rfc3339(moment: datetime | None = None) -> str:
    """UTC timestamp in the form Alertmanager's API accepts (millisecond precision)."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_alert(
    alertname: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    *,
    starts_at: str | None = None,
    ends_at: str | None = None,
    generator_url: str = DEFAULT_GENERATOR_URL,
) -> dict[str, Any]:
    """One postable alert for ``POST /api/v2/alerts`` (labels always include alertname)."""
    alert: dict[str, Any] = {
        "labels": {"alertname": alertname, **(labels or {})},
        "annotations": dict(annotations or {}),
        "generatorURL": generator_url,
    }
    if starts_at is not None:
        alert["startsAt"] = starts_at
    if ends_at is not None:
        alert["endsAt"] = ends_at
    return alert


def _label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class Alertmanager:
    """A real Alertmanager process routing every alert to one webhook receiver."""

    ready_timeout = 30.0
    stop_timeout = 10.0
    start_attempts = 3  # a freshly picked free port can be taken before the process binds it

    def __init__(
        self,
        tmp_path: Path,
        webhook_url: str,
        token_file: Path | None = None,
        group_wait: str = "1s",
        group_interval: str = "2s",
        repeat_interval: str = "1h",
        send_resolved: bool = True,
        max_alerts: int = 0,
        group_by: Sequence[str] = ("alertname",),
        resolve_timeout: str = "5m",
    ) -> None:
        self.webhook_url = webhook_url
        self.token_file = Path(token_file).resolve() if token_file is not None else None
        self.dir = Path(tmp_path) / "alertmanager"
        self.storage_path = self.dir / "data"
        self.config_file = self.dir / "alertmanager.yml"
        self.log_file = self.dir / "alertmanager.log"
        self.config: dict[str, Any] = self.build_config(
            webhook_url,
            token_file=self.token_file,
            group_wait=group_wait,
            group_interval=group_interval,
            repeat_interval=repeat_interval,
            send_resolved=send_resolved,
            max_alerts=max_alerts,
            group_by=group_by,
            resolve_timeout=resolve_timeout,
        )
        self.port: int | None = None
        self.binary: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._starts_at: dict[tuple[tuple[str, str], ...], str] = {}

    # -- configuration -------------------------------------------------------------------------

    @staticmethod
    def build_config(
        webhook_url: str,
        *,
        token_file: Path | None,
        group_wait: str,
        group_interval: str,
        repeat_interval: str,
        send_resolved: bool,
        max_alerts: int,
        group_by: Sequence[str],
        resolve_timeout: str,
    ) -> dict[str, Any]:
        webhook: dict[str, Any] = {
            "url": webhook_url,
            "send_resolved": send_resolved,
            "max_alerts": max_alerts,
        }
        if token_file is not None:
            webhook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
            }
        return {
            "global": {"resolve_timeout": resolve_timeout},
            "route": {
                "receiver": "incidentctl",
                "group_by": list(group_by),
                "group_wait": group_wait,
                "group_interval": group_interval,
                "repeat_interval": repeat_interval,
            },
            "receivers": [{"name": "incidentctl", "webhook_configs": [webhook]}],
        }

    def write_config(self) -> Path:
        """Write the configuration; JSON is valid YAML, so no YAML library is needed."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        return self.config_file

    # -- process lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("Alertmanager is not started")
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        assert self.binary is not None
        return [
            self.binary,
            f"--config.file={self.config_file}",
            f"--storage.path={self.storage_path}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Otherwise externalURL (in every webhook payload) embeds this machine's hostname.
            f"--web.external-url=http://127.0.0.1:{port}/",
            # Empty: no gossip listener, so nothing binds :9094 and /-/ready answers at once.
            "--cluster.listen-address=",
            "--log.level=debug",
        ]

    def start(self) -> Alertmanager:
        if self.process is not None:
            return self
        binary = find_binary()
        if binary is None:
            _fail(
                "Alertmanager binary not found (looked for $"
                f"{BINARY_ENV}, {' / '.join(BINARY_NAMES)} on PATH and in /usr/bin); "
                f"{INSTALL_HINT}"
            )
        self.binary = binary
        self.write_config()
        self.storage_path.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}

        problem = ""
        for _attempt in range(self.start_attempts):
            port = free_port()
            self._log = self.log_file.open("ab")
            try:
                self.process = subprocess.Popen(
                    self.command(port),
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    cwd=self.dir,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                self._close_log()
                _fail(f"cannot execute Alertmanager {binary!r}: {exc}; {INSTALL_HINT}")
            self.port = port
            problem = self._wait_ready()
            if not problem:
                return self
            log = self.log_tail()
            self.stop()
            if "address already in use" not in log:
                break
        _fail(
            f"Alertmanager ({binary}) did not become ready: {problem}\n"
            f"command: {' '.join(self.command(self.port or 0))}\n"
            f"--- last lines of {self.log_file} ---\n{self.log_tail()}\n---\n"
            f"If the binary is missing or broken: {INSTALL_HINT}"
        )

    def _wait_ready(self) -> str:
        """Poll /-/ready; return "" once it answers 200, else a description of the failure."""
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return f"process exited with status {code}"
            try:
                with _OPENER.open(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return ""
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.05)
        return f"/-/ready did not answer 200 within {self.ready_timeout:.0f}s ({last_error})"

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL on timeout. Safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.stop_timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> Alertmanager:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- HTTP API ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Call the Alertmanager API; return the decoded JSON (or None for an empty body)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with _OPENER.open(req, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise AssertionError(
                f"Alertmanager {method} {path} -> HTTP {exc.code}: {detail}\n"
                f"--- log tail ---\n{self.log_tail()}"
            ) from None
        return json.loads(raw) if raw.strip() else None

    def post_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """POST /api/v2/alerts; fills in startsAt (remembered per label set) when absent."""
        batch: list[dict[str, Any]] = []
        now = rfc3339()
        for alert in alerts:
            item = dict(alert)
            key = _label_key(item["labels"])
            if "startsAt" not in item:
                item["startsAt"] = self._starts_at.get(key, now)
            self._starts_at.setdefault(key, item["startsAt"])
            batch.append(item)
        self.request("POST", "/api/v2/alerts", batch)
        return batch

    def fire(
        self,
        alertname: str,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        *,
        generator_url: str = DEFAULT_GENERATOR_URL,
    ) -> dict[str, Any]:
        """Post one firing alert (no endsAt: Alertmanager keeps it for resolve_timeout)."""
        alert = make_alert(alertname, labels, annotations, generator_url=generator_url)
        return self.post_alerts([alert])[0]

    def resolve(
        self,
        alertname: str,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        *,
        generator_url: str = DEFAULT_GENERATOR_URL,
    ) -> dict[str, Any]:
        """Post the same label set with endsAt=now (and its original startsAt): resolved."""
        alert = make_alert(
            alertname, labels, annotations, ends_at=rfc3339(), generator_url=generator_url
        )
        return self.post_alerts([alert])[0]

    def resolve_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Resolve several previously posted alerts (dicts with at least "labels") at once."""
        now = rfc3339()
        return self.post_alerts(
            [{**{k: v for k, v in a.items() if k != "endsAt"}, "endsAt": now} for a in alerts]
        )

    def alerts(self, **filters: str | bool) -> list[dict[str, Any]]:
        """GET /api/v2/alerts (keyword filters become query parameters, e.g. active=True)."""
        query = "&".join(
            f"{name}={str(value).lower() if isinstance(value, bool) else value}"
            for name, value in filters.items()
        )
        result: list[dict[str, Any]] = self.request(
            "GET", "/api/v2/alerts" + (f"?{query}" if query else "")
        )
        return result

    def status(self) -> dict[str, Any]:
        """GET /api/v2/status (versionInfo, config.original, cluster)."""
        result: dict[str, Any] = self.request("GET", "/api/v2/status")
        return result

    def version(self) -> str:
        return str(self.status()["versionInfo"]["version"])
