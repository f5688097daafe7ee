"""The Alertmanager harness drives a REAL Alertmanager (Debian's prometheus-alertmanager).

A loopback receiver records what Alertmanager posts: a group of three alerts fires, one
resolves, then all resolve. Genuine webhook v4 payloads are kept under
tests/fixtures/alerts/captured/ for unit tests (written when missing, or always with
INCIDENTCTL_RECAPTURE=1, so ordinary runs leave the work tree unchanged).

No binary? The test fails (never skips): run `scripts/ensure-alertmanager`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alertmanager import Alertmanager, make_alert

CAPTURED = Path(__file__).resolve().parent / "fixtures" / "alerts" / "captured"
WAIT = 15.0  # bound on any single notification; group_wait/group_interval are 1s/2s
FINGERPRINT = re.compile(r"[0-9a-f]{16}")


@dataclass
class Delivery:
    path: str
    authorization: str | None
    content_type: str | None
    payload: Any
    received: float  # time.monotonic()


@dataclass
class Receiver:
    """A tiny webhook receiver on 127.0.0.1 recording every POST."""

    server: ThreadingHTTPServer
    deliveries: list[Delivery] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/alertmanager"

    def wait_for(self, count: int, timeout: float = WAIT) -> Delivery:
        """Block (bounded) until at least `count` deliveries arrived; return number `count`."""
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.deliveries) >= count, timeout=timeout)
            got = list(self.deliveries)
        assert ok, f"expected webhook #{count} within {timeout}s; got {len(got)}: {got}"
        return got[count - 1]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            delivery = Delivery(
                path=self.path,
                authorization=self.headers.get("Authorization"),
                content_type=self.headers.get("Content-Type"),
                payload=json.loads(body),
                received=time.monotonic(),
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with recorder.cond:
                recorder.deliveries.append(delivery)
                recorder.cond.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def save_capture(name: str, payload: Any) -> None:
    path = CAPTURED / name
    if path.exists() and not os.environ.get("INCIDENTCTL_RECAPTURE"):
        return
    CAPTURED.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def by_instance(payload: dict[str, Any]) -> dict[str, str]:
    return {a["labels"]["instance"]: a["status"] for a in payload["alerts"]}


def test_fire_partial_resolve_and_resolve_reach_the_webhook(
    tmp_path: Path, receiver: Receiver
) -> None:
    token = secrets.token_hex(16)
    token_file = tmp_path / "webhook-token"
    token_file.write_text(token + "\n", encoding="utf-8")  # trailing newline: trimmed by AM

    instances = ["db1:9100", "db2:9100", "db3:9100"]
    alerts = [
        make_alert(
            "DiskFull",
            {"instance": instance, "severity": "critical", "service": "postgres"},
            {"summary": f"Disk almost full on {instance}", "runbook_url": "https://example.com/rb"},
        )
        for instance in instances
    ]

    with Alertmanager(tmp_path, receiver.url, token_file=token_file) as am:
        assert am.version().startswith("0.")
        posted_at = time.monotonic()
        posted = am.post_alerts(alerts)
        assert len(am.alerts(active=True)) == 3

        # 1. The first notification: the whole group, firing.
        first = receiver.wait_for(1)
        firing_latency = first.received - posted_at
        assert first.authorization == f"Bearer {token}"
        assert first.path == "/alertmanager"
        assert first.content_type == "application/json"
        payload = first.payload
        assert payload["version"] == "4"
        assert payload["status"] == "firing"
        assert payload["receiver"] == "incidentctl"
        assert payload["groupKey"]
        assert payload["groupLabels"] == {"alertname": "DiskFull"}
        assert payload["commonLabels"]["severity"] == "critical"
        assert payload["commonLabels"]["alertname"] == "DiskFull"
        assert payload["truncatedAlerts"] == 0
        assert len(payload["alerts"]) == 3
        for alert in payload["alerts"]:
            assert FINGERPRINT.fullmatch(alert["fingerprint"]), alert
            assert alert["status"] == "firing"
            assert alert["endsAt"] == "0001-01-01T00:00:00Z"
        assert by_instance(payload) == dict.fromkeys(instances, "firing")
        group_key = payload["groupKey"]
        fingerprints = {a["labels"]["instance"]: a["fingerprint"] for a in payload["alerts"]}
        save_capture("alertmanager-0.25-firing.json", payload)

        # 2. One alert resolves: next notification (after group_interval) carries it resolved.
        resolved_at = time.monotonic()
        am.resolve_alerts(posted[:1])
        second = receiver.wait_for(2)
        partial_latency = second.received - resolved_at
        partial = second.payload
        assert partial["groupKey"] == group_key
        assert partial["status"] == "firing"  # the group still has firing alerts
        assert by_instance(partial) == {
            instances[0]: "resolved",
            instances[1]: "firing",
            instances[2]: "firing",
        }
        for alert in partial["alerts"]:
            assert alert["fingerprint"] == fingerprints[alert["labels"]["instance"]]
        save_capture("alertmanager-0.25-partially-resolved.json", partial)

        # 3. All resolved: the group's status becomes "resolved".
        all_resolved_at = time.monotonic()
        am.resolve_alerts(posted[1:])
        third = receiver.wait_for(3)
        resolve_latency = third.received - all_resolved_at
        final = third.payload
        assert final["groupKey"] == group_key
        assert final["status"] == "resolved"
        # The alert already reported resolved was dropped from the group after that
        # notification: only the two that just resolved are listed.
        assert by_instance(final) == dict.fromkeys(instances[1:], "resolved")
        for alert in final["alerts"]:
            assert alert["endsAt"] != "0001-01-01T00:00:00Z"
        save_capture("alertmanager-0.25-resolved.json", final)

    print(
        f"post->webhook {firing_latency:.2f}s; partial resolve {partial_latency:.2f}s; "
        f"resolve {resolve_latency:.2f}s; final payload alerts: {len(final['alerts'])}"
    )
    assert am.process is None


def test_missing_binary_fails_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTMANAGER_BIN", str(tmp_path / "no-such-alertmanager"))
    with pytest.raises(pytest.fail.Exception, match="scripts/ensure-alertmanager"):
        Alertmanager(tmp_path, "http://127.0.0.1:9/hook").start()


def test_bad_config_fails_quoting_the_log(tmp_path: Path) -> None:
    am = Alertmanager(tmp_path, "http://127.0.0.1:9/hook", group_wait="soon")
    with pytest.raises(pytest.fail.Exception) as failure:
        am.start()
    message = str(failure.value)
    assert "did not become ready" in message
    assert "soon" in message  # Alertmanager's own complaint about the duration
    assert "scripts/ensure-alertmanager" in message
    assert am.process is None
