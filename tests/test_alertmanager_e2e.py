"""End to end: a REAL Alertmanager posts to a REAL `incidentctl serve`, which commits.

    Alertmanager API  --POST /api/v2/alerts-->  Alertmanager 0.25 (tests/alertmanager.py)
        --webhook, Authorization: Bearer (credentials_file)-->  incidentctl serve
        --one commit per notification-->  the incident repository (real git)

A group of three alerts (one alertname, three instances, severity critical, one service)
opens ONE incident; resolving one of them records "1 of 3 resolved" and changes nothing
else; resolving the other two records "All 3 alerts resolved", and with
`[alerts] resolve_to = "monitoring"` moves the incident to monitoring. Serve and
Alertmanager share one token file. serve stops on SIGTERM with exit 0.

No Alertmanager binary, or one that does not start: the test FAILS (never skips), with
the harness's install hint (`scripts/ensure-alertmanager`).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from alertmanager import Alertmanager, make_alert
from conftest import console_script, git, run_env

WAIT = 15.0  # bound on each step; group_wait is 1s and group_interval 2s
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
LISTENING = re.compile(r"listening on http://([^\s/]+):(\d+)/alerts/\{format\}")
ALERTNAME = "HighHTTPErrorRate"
SERVICE = "checkout"
INSTANCES = ("web-1:8080", "web-2:8080", "web-3:8080")
RUNBOOK = "https://runbooks.example.com/checkout/high-error-rate"

# Loopback traffic never goes through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

T = TypeVar("T")


# -- incidentctl serve ---------------------------------------------------------------------


class Serve:
    """`incidentctl --repo R serve --port 0 --token-file F`; the port read from its log."""

    def __init__(self, repo: Path, token_file: Path, log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [
                console_script(),
                "--repo",
                str(repo),
                "serve",
                "--port",
                "0",
                "--token-file",
                str(token_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=run_env(),
            start_new_session=True,
        )
        self.port = 0
        deadline = time.monotonic() + START_TIMEOUT
        while not self.port:
            found = LISTENING.search(self.log())
            if found:
                self.port = int(found.group(2))
            elif self.process.poll() is not None:
                self.close()
                pytest.fail(f"serve exited {self.process.returncode}:\n{self.log()}")
            elif time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"serve did not start within {START_TIMEOUT:.0f}s:\n{self.log()}")
            else:
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> str:
        with _OPENER.open(f"{self.url}{path}", timeout=10) as response:
            assert response.status == 200, (path, response.status)
            body: bytes = response.read()
            return body.decode("utf-8")

    def terminate(self) -> int:
        """SIGTERM (to this process only) and wait; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.close()

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()


@contextmanager
def serving(repo: Path, token_file: Path, log: Path) -> Iterator[Serve]:
    server = Serve(repo, token_file, log)
    try:
        yield server
    finally:
        server.kill()


# -- the repository ------------------------------------------------------------------------


def make_repo(tmp_path: Path, resolve_to: str) -> Path:
    """git init, `incidentctl init`, the [alerts] table if asked for, one commit."""
    path = tmp_path / "incidents-repo"
    path.mkdir()
    git(path, "init", "--quiet")
    result = subprocess.run(
        [console_script(), "init"],
        cwd=path,
        env=run_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if resolve_to:
        config = path / "incidentctl.toml"
        with config.open("a", encoding="utf-8") as handle:
            handle.write(f'\n[alerts]\nresolve_to = "{resolve_to}"\n')
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "incidentctl init")
    return path


def commits(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").strip())


def read_incident(repo: Path, rel: str) -> tuple[dict[str, Any], str]:
    """The committed incident file (HEAD's version): front matter and body."""
    text = git(repo, "show", f"HEAD:{rel}")
    assert text.startswith("---\n"), text[:200]
    front, body = text[4:].split("\n---\n", 1)
    data = yaml.safe_load(front)
    assert isinstance(data, dict)
    return data, body


def alert_entries(body: str) -> list[str]:
    """The texts of the timeline's alert entries, in order."""
    return re.findall(r"^- `[^`]+` \*\*Alertmanager\*\* _\(alert\)_ (.*)$", body, re.MULTILINE)


def wait_until(what: str, check: Callable[[], T | None], server: Serve, am: Alertmanager) -> T:
    """Poll `check` (bounded by WAIT) until it returns something; fail with both logs."""
    deadline = time.monotonic() + WAIT
    while True:
        value = check()
        if value:
            return value
        if server.process.poll() is not None:
            pytest.fail(
                f"serve exited {server.process.returncode} waiting for {what}:\n{server.log()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: not within {WAIT:.0f}s\n--- serve ---\n{server.log()}\n"
                f"--- alertmanager ---\n{am.log_tail(40)}",
                pytrace=False,
            )
        time.sleep(0.1)


# -- the test ------------------------------------------------------------------------------


@pytest.mark.parametrize("resolve_to", ["", "monitoring"], ids=["default", "resolve_to-monitoring"])
def test_alert_group_opens_tracks_and_resolves_one_incident(
    tmp_path: Path, resolve_to: str
) -> None:
    repo = make_repo(tmp_path, resolve_to)
    base = commits(repo)
    token_file = tmp_path / "serve-token"
    token_file.write_text(secrets.token_hex(24) + "\n", encoding="utf-8")
    os.chmod(token_file, 0o600)

    alerts = [
        make_alert(
            ALERTNAME,
            {
                "instance": instance,
                "severity": "critical",
                "service": SERVICE,
                "env": "production",
            },
            {
                "summary": f"HTTP error rate above 50% on {instance}",
                "description": f"Most requests to {instance} fail with a 5xx status.",
                "runbook_url": RUNBOOK,
            },
        )
        for instance in INSTANCES
    ]

    with serving(repo, token_file, tmp_path / "serve.log") as server:
        assert server.get("/healthz") == "ok\n"
        with Alertmanager(
            tmp_path,
            f"{server.url}/alerts/alertmanager",
            token_file=token_file,
            group_wait="1s",
            group_interval="2s",
            group_by=("alertname", "service"),
        ) as am:
            # 1. Three alerts fire together: one notification, one incident.
            posted = am.post_alerts(alerts)
            fingerprints = {
                a["labels"]["instance"]: a["fingerprint"] for a in am.alerts(active=True)
            }
            assert set(fingerprints) == set(INSTANCES)

            wait_until("the incident's commit", lambda: commits(repo) == base + 1, server, am)
            added = git(repo, "show", "--name-only", "--diff-filter=A", "--format=", "HEAD")
            [rel] = [p for p in added.split() if p.startswith("incidents/") and p.endswith(".md")]
            data, body = read_incident(repo, rel)
            subject = git(repo, "log", "-1", "--format=%s", "HEAD").strip()
            assert subject.startswith(f"incident({data['id']}): open SEV-1 from alertmanager")
            ref = git(repo, "log", "-1", "--format=%(trailers:key=Alert-Ref,valueonly)", "HEAD")

            assert data["title"] == f"{ALERTNAME} on {SERVICE}"
            assert data["severity"] == "SEV-1"
            assert data["services"] == [SERVICE]
            assert data["environment"] == "production"
            opened_status = data["status"]
            assert opened_status in ("triage", "investigating", "identified")
            source = data["source"]
            assert source["kind"] == "alert"
            assert source["format"] == "alertmanager"
            assert source["key"] == f'{{}}:{{alertname="{ALERTNAME}", service="{SERVICE}"}}'
            assert source["ref"] == ref.strip()
            assert source["alerts"] == dict.fromkeys(fingerprints.values(), "firing")
            assert source["received"] == 1
            assert source["links"]["runbook"] == RUNBOOK
            assert source["links"]["alertmanager"] == am.url
            [opened] = alert_entries(body)
            assert opened.startswith("3 alerts firing: "), opened
            for instance in INSTANCES:
                assert f"{ALERTNAME} (instance={instance})" in opened, opened

            # 2. One alert resolves: recorded for that alert only; the status stays.
            am.resolve_alerts(posted[:1])
            wait_until("the partial resolve", lambda: commits(repo) == base + 2, server, am)
            data, body = read_incident(repo, rel)
            first, *others = (fingerprints[i] for i in INSTANCES)
            assert data["source"]["alerts"] == {
                first: "resolved",
                **dict.fromkeys(others, "firing"),
            }
            assert data["source"]["received"] == 2
            assert data["status"] == opened_status
            assert data["mitigated_at"] is None and data["resolved_at"] is None
            entries = alert_entries(body)
            assert entries[1:] == [
                f"Resolved: {ALERTNAME} (instance={INSTANCES[0]}) (1 of 3 resolved, 2 still firing)"
            ], entries

            # 3. The other two resolve: the whole group is over.
            am.resolve_alerts(posted[1:])
            wait_until("the final resolve", lambda: commits(repo) == base + 3, server, am)
            data, body = read_incident(repo, rel)
            assert data["source"]["alerts"] == dict.fromkeys(fingerprints.values(), "resolved")
            assert data["source"]["received"] == 3
            entries = alert_entries(body)
            assert entries[-1] == "All 3 alerts resolved", entries
            assert len(entries) == 3, entries
            if resolve_to:
                assert data["status"] == resolve_to
                assert data["mitigated_at"] is not None
                assert (
                    f"Status {opened_status} → {resolve_to}: every alert of the group "
                    f"resolved (alerts.resolve_to = {resolve_to})"
                ) in body
            else:
                assert data["status"] == opened_status
                assert data["mitigated_at"] is None

            # Every notification was authorised and applied; nothing was refused.
            metrics = server.get("/metrics")
            assert 'incidentctl_alerts_accepted_total{format="alertmanager"} 3' in metrics
            assert "incidentctl_incidents_opened_total 1" in metrics
            assert "incidentctl_alerts_rejected_total 0" in metrics, metrics

        assert server.terminate() == 0, server.log()

    log = server.log()
    assert log.count("POST /alerts/alertmanager 202") == 3, log
    assert " 401 " not in log, log
    assert log.rstrip().endswith("stopped"), log
    assert commits(repo) == base + 3  # nothing left to apply on the way out
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_no_alertmanager_fails_the_test_and_stops_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a working Alertmanager the end-to-end test FAILS (never skips), quoting the
    install hint, and the serve it had started is not left running."""
    monkeypatch.setenv("ALERTMANAGER_BIN", str(tmp_path / "no-such-alertmanager"))
    with pytest.raises(pytest.fail.Exception, match="scripts/ensure-alertmanager"):
        test_alert_group_opens_tracks_and_resolves_one_incident(tmp_path, "")
    found = LISTENING.search((tmp_path / "serve.log").read_text(encoding="utf-8"))
    assert found, "serve had started"
    with pytest.raises(OSError):
        _OPENER.open(f"http://127.0.0.1:{found.group(2)}/healthz", timeout=5)
