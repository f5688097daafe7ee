"""Maintenance windows: `maintenance add/list/cancel` in real repositories, their files and
commits, and alerts for a service under maintenance recorded in the window instead of
opening an incident (`open --alert-payload`, `intake.apply` and `incidentctl serve`)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Repo, console_script

from incidentctl.alerts import formats, intake
from incidentctl.repo import maintenance
from incidentctl.repo.incidents import IncidentRepo

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "alerts"
PLAIN = json.loads((FIXTURES / "plain.json").read_text())
PLAIN_AUTH = json.dumps({**PLAIN, "service": "auth"})
NOW = datetime.now(timezone.utc).replace(microsecond=0)
HOUR = timedelta(hours=1)


def front(repo: Repo, rel: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(repo.file(rel).read_text().split("---\n")[1])
    return data


def schedule(repo: Repo, *, now: datetime = NOW, **fields: Any) -> maintenance.Window:
    """A window through the core, at a chosen `now` (so one can be over already)."""
    handle = IncidentRepo.open(repo.path)
    try:
        fields.setdefault("services", ["auth"])
        fields.setdefault("start", now - HOUR)
        fields.setdefault("end", now + HOUR)
        return maintenance.add(handle, fields.pop("title", "Auth upgrade"), now=now, **fields)
    finally:
        handle.git.close()


def incident_files(repo: Repo) -> list[Path]:
    return sorted((repo.path / "incidents").rglob("*.md"))


def suppressed_lines(repo: Repo, rel: str) -> list[str]:
    text = repo.file(rel).read_text()
    return [ln for ln in text.split("## Suppressed alerts")[1].splitlines() if ln.startswith("- ")]


# -- add, list, cancel ----------------------------------------------------------------------


def test_add_list_cancel_write_files_and_commits(repo: Repo) -> None:
    """`add` writes maintenance/<year>/<ID>-<slug>.md and commits it; `list` shows it
    until `cancel` commits status cancelled; each commit carries `Maintenance: <ID>`."""
    added = repo.json(
        "maintenance", "add", "Database upgrade", "--service", "db", "--service", "auth",
        "--start", "+1h", "--end", "+3h", "--description", "Postgres 15 to 16", "--public",
    )  # fmt: skip
    ident = added["id"]
    assert re.fullmatch(r"MNT-\d{8}-[0-9a-z]{4}", ident)
    assert added["path"] == f"maintenance/{ident[4:8]}/{ident}-database-upgrade.md"
    assert added["state"] == "scheduled" and added["visibility"] == "public"
    data = front(repo, added["path"])
    assert data["services"] == ["db", "auth"] and data["status"] == "scheduled"
    assert data["suppressed"] == 0 and data["description"] == "Postgres 15 to 16"
    assert data["end"] - data["start"] == 2 * HOUR
    body = repo.file(added["path"]).read_text()
    assert "## Description\n\nPostgres 15 to 16\n" in body and "## Suppressed alerts" in body
    assert repo.git("log", "-1", "--format=%B").split("\n")[:3] == [
        f"maintenance({ident}): add Database upgrade",
        "",
        f"Maintenance: {ident}",
    ]
    assert added["commit"] == repo.git("rev-parse", "HEAD").strip()
    assert repo.git("status", "--porcelain") == ""

    listed = repo.ok("maintenance", "list").stdout
    assert ident in listed and "scheduled" in listed and "Database upgrade" in listed
    cancelled = repo.json("maintenance", "cancel", ident[-4:])
    assert cancelled["state"] == "cancelled" and cancelled["cancelled_at"]
    assert front(repo, added["path"])["status"] == "cancelled"
    assert repo.git("log", "-1", "--format=%s").strip() == f"maintenance({ident}): cancel"
    assert repo.commits() == 3
    assert repo.json("maintenance", "list") == []
    assert [w["state"] for w in repo.json("maintenance", "list", "--all")] == ["cancelled"]


def test_no_commit_writes_the_file_and_a_later_change_commits_it_apart(repo: Repo) -> None:
    """`add --no-commit` writes only; `cancel` then commits the file as found on its own,
    and its own change after it."""
    added = repo.json(
        "maintenance", "add", "Patch", "--service", "api", "--end", "+1h", "--no-commit"
    )
    assert added["commit"] is None and repo.commits() == 1
    repo.ok("maintenance", "cancel", added["id"])
    subjects = repo.git("log", "-2", "--format=%s").splitlines()
    assert subjects[0] == f"maintenance({added['id']}): cancel"
    assert subjects[1].startswith(
        f"maintenance({added['id']}): uncommitted file found before cancel"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "Patch", "--service", "db", "--start", "+2h", "--end", "+1h"], "is not after"),
        (["add", "Patch", "--service", "db", "--start", "3h", "--end", "2h"], "has passed"),
        (["add", "Patch", "--service", " ", "--end", "+1h"], "a service is empty"),
        (["add", "Patch\x1b[2J", "--service", "db", "--end", "+1h"], "control character"),
        (["add", "Patch", "--service", "db", "--end", "tomorrow"], "is not a time"),
        (["add", "Patch", "--service", "db", "--end", "+2x"], "is not a time"),
        (["cancel", "MNT-20260101-zzzz"], "no window matches"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    repo: Repo, args: list[str], message: str
) -> None:
    """Each refusal: exit 1, one line on stderr naming the problem, no file, no commit."""
    result = repo.run("maintenance", *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not (repo.path / "maintenance").exists() and repo.commits() == 1


def test_a_missing_service_is_a_usage_error(repo: Repo) -> None:
    """No --service at all: click's usage error, exit 2, nothing written."""
    result = repo.run("maintenance", "add", "Patch", "--end", "+1h")
    assert result.exit_code == 2 and "--service" in result.stderr
    assert not (repo.path / "maintenance").exists()


def test_cancel_twice_and_cancel_after_the_end_are_refused(repo: Repo) -> None:
    """A cancelled window cannot be cancelled again, nor a completed one: one line, exit
    1, no commit."""
    window = schedule(repo)
    repo.ok("maintenance", "cancel", window.id)
    before = repo.commits()
    again = repo.run("maintenance", "cancel", window.id)
    assert again.exit_code == 1 and "cancelled at" in again.stderr and "already" in again.stderr
    over = schedule(repo, now=NOW - 5 * HOUR, start=NOW - 4 * HOUR, end=NOW - 3 * HOUR)
    late = repo.run("maintenance", "cancel", over.id)
    assert late.exit_code == 1 and "too late to cancel" in late.stderr
    assert repo.commits() == before + 1  # the second window's `add` only
    assert late.stderr.count("\n") == again.stderr.count("\n") == 1


def test_list_shows_states_over_time(repo: Repo) -> None:
    """`list` shows scheduled and in-progress windows by start; `--all` adds completed
    and cancelled ones; the state follows the clock."""
    done = schedule(
        repo, title="Done", now=NOW - 5 * HOUR, start=NOW - 4 * HOUR, end=NOW - 3 * HOUR
    )
    running = schedule(repo, title="Running", start=NOW - HOUR, end=NOW + HOUR)
    later = schedule(repo, title="Later", start=NOW + 24 * HOUR, end=NOW + 26 * HOUR)
    dropped = schedule(repo, title="Dropped", start=NOW + 2 * HOUR, end=NOW + 3 * HOUR)
    repo.ok("maintenance", "cancel", dropped.id)
    shown = repo.json("maintenance", "list")
    assert [(w["id"], w["state"]) for w in shown] == [
        (running.id, "in_progress"),
        (later.id, "scheduled"),
    ]
    every = {w["title"]: w["state"] for w in repo.json("maintenance", "list", "--all")}
    assert every == {
        "Done": "completed",
        "Running": "in_progress",
        "Dropped": "cancelled",
        "Later": "scheduled",
    }
    assert [later.state(NOW + t * HOUR) for t in (0, 25, 27)] == [
        "scheduled",
        "in_progress",
        "completed",
    ]
    assert done.state(NOW) == "completed"


def test_a_broken_window_file_is_skipped_with_a_warning(repo: Repo) -> None:
    """A hand-edited window that does not validate is named on stderr; the rest list."""
    good = schedule(repo)
    bad = repo.path / "maintenance" / "2026" / "MNT-20260101-abcd-broken.md"
    bad.write_text("---\nid: MNT-20260101-abcd\ntitle: Broken\nstatus: maybe\n---\n")
    result = repo.ok("maintenance", "list")
    assert good.id in result.stdout
    assert "warning: skipped maintenance/2026/MNT-20260101-abcd-broken.md" in result.stderr


# -- alerts -----------------------------------------------------------------------------------


def test_an_alert_during_a_window_opens_no_incident_and_is_recorded(repo: Repo) -> None:
    """A plain alert for `auth` while a window for `Auth` runs: no incident, the alert
    listed in the window's file and counted, one commit with `Maintenance:`/`Alert-Ref:`."""
    window = schedule(repo, services=["Auth"])
    out = repo.json("open", "--alert-payload", PLAIN_AUTH)
    assert out["id"] is None and out["opened"] is False
    assert out["maintenance"] == window.id and out["ignored"] == 1
    assert incident_files(repo) == []
    assert front(repo, window.path)["suppressed"] == 1
    [line] = suppressed_lines(repo, window.path)
    assert "plain `spec-monitor/spec-core-001-authentication/p99_latency`" in line
    assert line.endswith("p99_latency 350 above SLO 200 on spec-core-001-authentication")
    log = repo.git("log", "-1", "--format=%s%n%b")
    assert log.startswith(f"maintenance({window.id}): alert suppressed: p99_latency 350")
    assert f"Maintenance: {window.id}" in log and "Alert-Ref: alert-" in log
    assert repo.git("status", "--porcelain") == ""


def test_a_batch_records_one_commit_per_window(repo: Repo) -> None:
    """Three payloads for services under maintenance and one not: one commit for the
    window, an incident for the other; alerts naming no service are never held."""
    window = schedule(repo, services=["auth", "payments"])
    auth = formats.read(PLAIN_AUTH.encode())
    group = formats.read((FIXTURES / "alertmanager-firing-3.json").read_bytes())
    nameless = formats.read(json.dumps({**PLAIN, "spec_id": "other"}).encode())
    handle = IncidentRepo.open(repo.path)
    before = repo.commits()
    try:
        items = [(auth, NOW), (group, NOW), (auth, NOW), (nameless, NOW)]
        outcomes = intake.apply(handle, items)
    finally:
        handle.git.close()
    held = [o for o in outcomes if o.extra.get("maintenance") == window.id]
    assert sorted(o.ignored for o in held) == [1, 2] and all(o.id is None for o in held)
    [opened] = [o for o in outcomes if o.opened]
    assert opened.alert_key == nameless.ref
    assert repo.commits() == before + 2
    assert front(repo, window.path)["suppressed"] == 3
    assert len(suppressed_lines(repo, window.path)) == 3


def test_an_alert_after_the_window_opens_an_incident(repo: Repo) -> None:
    """The same alert once the window has ended opens an incident as usual."""
    window = schedule(repo, now=NOW - 5 * HOUR, start=NOW - 4 * HOUR, end=NOW - 3 * HOUR)
    out = repo.json("open", "--alert-payload", PLAIN_AUTH)
    assert out["opened"] is True and out["id"] and "maintenance" not in out
    assert front(repo, window.path)["suppressed"] == 0


def test_a_cancelled_window_suppresses_nothing(repo: Repo) -> None:
    """Cancelled mid-way, a window no longer holds alerts back."""
    window = schedule(repo)
    repo.ok("maintenance", "cancel", window.id)
    out = repo.json("open", "--alert-payload", PLAIN_AUTH)
    assert out["opened"] is True and len(incident_files(repo)) == 1
    assert front(repo, window.path)["suppressed"] == 0


def test_the_receiver_records_alerts_in_the_window(repo: Repo, tmp_path: Path) -> None:
    """`incidentctl serve` goes through intake.apply: a payload accepted during a window
    for its service lands in the window's file, and no incident is opened."""
    window = schedule(repo)
    token = tmp_path / "token"
    token.write_text("maintenance-test-token\n")
    log = tmp_path / "serve.log"
    command = [console_script(), "--repo", str(repo.path), "serve", "--port", "0"]
    command += ["--token-file", str(token)]
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ),
            start_new_session=True,
        )
    try:
        host, port = _listening(log, proc)
        status, _ = _request(host, port, "POST", "/alerts/plain", PLAIN_AUTH.encode())
        assert status == 202
        deadline = time.monotonic() + 60
        while b"incidentctl_spool_depth 0\n" not in _request(host, port, "GET", "/metrics")[1]:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    assert front(repo, window.path)["suppressed"] == 1
    assert incident_files(repo) == []
    assert "Alert-Batch: " in repo.git("log", "-1", "--format=%b")


def _listening(log: Path, proc: subprocess.Popen[bytes]) -> tuple[str, int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening on http://([^\s/]+):(\d+)/", log.read_text())
        if found:
            return found.group(1), int(found.group(2))
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError(log.read_text())


def _request(
    host: str, port: int, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        headers = {"Authorization": "Bearer maintenance-test-token"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()
