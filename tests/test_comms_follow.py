"""Follow-up rules: `update-due` and `action-overdue` fired by `due --fire` and by
`serve` every minute, once per missed update and once per overdue item a day; the
rules for incidents that alerts open, in `serve` and in `open --alert-payload`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo
from test_comms import ENV, heal, ok, receiver, run, timeline, wired
from test_serve import Serve, servers

from incidentctl.comms.follow import fire
from incidentctl.comms.settings import load
from incidentctl.incident.timeutil import format_ts, utcnow
from incidentctl.repo.incidents import IncidentRepo

__all__ = ["receiver", "servers"]  # fixtures used here

ALERT = {
    "source": "probe",
    "spec_id": "checkout",
    "metric": "errors",
    "value": 9,
    "slo": 1,
    "severity": "SEV-2",
}
OVERDUE_RULE = """
[[rules]]
on = ["action-overdue"]
do = [{ notify = "ops" }]
"""


@pytest.fixture
def pager() -> Any:
    import comms_servers as cs

    with cs.PagerDuty() as server:
        yield server


def stages(receiver: Any, ident: str) -> list[str]:
    return [d["stage"] for d in receiver.documents if d["incident_id"] == ident]


def notes(repo: Repo, ident: str, start: str) -> list[str]:
    return [e["text"] for e in timeline(repo, ident) if e["text"].startswith(start)]


def test_update_due_fires_once_per_missed_update(repo: Repo, receiver: Any, pager: Any) -> None:
    """A SEV-1 updates every 30 minutes: a missed update fires the rules once, however
    often `fire` runs; the notice sent moves the next update on, and the next miss fires
    again."""
    wired(repo, receiver, pager)
    now = utcnow()
    opened = now - timedelta(hours=3)
    ident = repo.json(
        "open", "Checkout down", "-s", "SEV-1", "--at", format_ts(opened), "--no-notify"
    )["id"]
    handle = IncidentRepo.open(str(repo.path))
    settings = load(handle.config)

    first = now - timedelta(hours=2)  # the first update was due 30 min before
    fired = fire(handle, settings, now=first, env=ENV)
    assert [(f.id, f.event) for f in fired] == [(ident, "update-due")]
    assert stages(receiver, ident)[-1] == "update"
    count = len(receiver.documents)
    for _ in range(3):
        assert fire(handle, settings, now=first, env=ENV) == []
    assert len(receiver.documents) == count

    assert fire(handle, settings, now=first + timedelta(minutes=29), env=ENV) == []
    again = fire(handle, settings, now=first + timedelta(minutes=31), env=ENV)
    assert [f.event for f in again] == ["update-due"]
    assert len(receiver.documents) == count + 1
    markers = notes(repo, ident, "Rules for update-due fired")
    assert len(markers) == 2 and len(set(markers)) == 2
    kinds = {e["kind"] for e in timeline(repo, ident) if e["text"] in markers}
    assert kinds == {"note"}  # the marker is not an update; the notice is
    assert repo.git("status", "--porcelain") == ""


def test_a_failed_reminder_is_queued_once_not_every_minute(
    repo: Repo, receiver: Any, pager: Any
) -> None:
    """The channel is down when the update falls due: the reminder waits in the outbox,
    later runs queue no second copy, and the retry sends it once."""
    wired(repo, receiver, pager)
    now = utcnow()
    at = format_ts(now - timedelta(hours=5))
    ident = repo.json("open", "Queue stuck", "-s", "SEV-2", "--at", at, "--no-notify")["id"]
    receiver.fail(503, {"error": "down"}, times=None)
    handle = IncidentRepo.open(str(repo.path))
    settings = load(handle.config)
    for minute in range(5):
        fire(handle, settings, now=now - timedelta(minutes=10 - minute), env=ENV)
    assert len(notes(repo, ident, "Rules for update-due fired")) == 1
    heal(receiver)
    before = len(receiver.documents)
    ok(repo, "notify", "--retry")
    assert len(receiver.documents) == before + 1


def test_action_overdue_fires_once_per_item_a_day(repo: Repo, receiver: Any, pager: Any) -> None:
    wired(repo, receiver, pager, OVERDUE_RULE)
    ident = repo.json("open", "Disk full", "-s", "SEV-4", "--no-notify")["id"]
    late = (utcnow() - timedelta(days=2)).date().isoformat()
    ok(repo, "action", "add", ident, "Alert on disk use", "--owner", "ana", "--due", late)
    ok(repo, "action", "add", ident, "Rotate logs", "--owner", "bo", "--due", late)
    handle = IncidentRepo.open(str(repo.path))
    settings = load(handle.config)
    now = utcnow()
    fired = fire(handle, settings, now=now, env=ENV)
    overdue = [f for f in fired if f.event == "action-overdue"]
    assert len(overdue) == 2
    assert fire(handle, settings, now=now, env=ENV) == []
    tomorrow = fire(handle, settings, now=now + timedelta(days=1), env=ENV)
    assert len([f for f in tomorrow if f.event == "action-overdue"]) == 2
    assert len(notes(repo, ident, "Rules for action-overdue fired")) == 4


def test_no_rule_no_note(repo: Repo, receiver: Any, pager: Any) -> None:
    """Without an action-overdue rule, an overdue item fires nothing and writes nothing."""
    wired(repo, receiver, pager)
    ident = repo.json("open", "Disk full", "-s", "SEV-4", "--no-notify")["id"]
    late = (utcnow() - timedelta(days=2)).date().isoformat()
    ok(repo, "action", "add", ident, "Alert on disk use", "--owner", "ana", "--due", late)
    commits = repo.commits()
    result = run(repo, "due", "--fire", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["fired"] == []
    assert repo.commits() == commits


def test_due_fire_reports_what_it_fired(repo: Repo, receiver: Any, pager: Any) -> None:
    wired(repo, receiver, pager)
    at = format_ts(utcnow() - timedelta(hours=4))
    ident = repo.json("open", "Login slow", "-s", "SEV-2", "--at", at, "--no-notify")["id"]
    result = run(repo, "due", "--fire", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [d["what"] for d in document["overdue"]] == ["update"]
    assert document["fired"][0]["id"] == ident
    assert any("sent to oncall via ops" in o for o in document["fired"][0]["outcomes"])
    again = json.loads(run(repo, "due", "--fire", "--json").stdout)
    assert again["fired"] == []  # the update just sent: nothing is overdue any more
    assert again["overdue"] == []


def test_open_from_an_alert_payload_tells_the_oncall(
    repo: Repo, receiver: Any, pager: Any, tmp_path: Path
) -> None:
    wired(repo, receiver, pager)
    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps(ALERT))
    result = ok(repo, "open", "--alert-payload", f"@{payload}")
    ident = repo.json("list")[0]["id"]
    assert stages(receiver, ident) == ["initial"], result.output
    ok(repo, "open", "--alert-payload", f"@{payload}", "--no-dedupe", "--no-notify")
    assert len(receiver.documents) == 1


def wait_for(check: Callable[[], bool], server: Serve, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout} s:\n{server.log()}")


def test_serve_tells_on_open_and_reminds_when_an_update_is_due(
    repo: Repo, receiver: Any, pager: Any, servers: Callable[..., Serve]
) -> None:
    """An incident overdue for its update when `serve` starts gets its reminder on the
    first minute's check; an alert the server opens tells the on-call."""
    wired(repo, receiver, pager)
    at = format_ts(utcnow() - timedelta(hours=1))
    late = repo.json("open", "Search down", "-s", "SEV-1", "--at", at, "--no-notify")["id"]
    server = servers(repo.path, "--insecure-no-auth", "--no-push", env=ENV)
    wait_for(lambda: stages(receiver, late) == ["update"], server, "the reminder")
    assert pager.alerts.get(late) is None  # a reminder pages no one
    body = json.dumps(ALERT)
    answer = server.post("/alerts/plain", body.encode(), token=None)
    assert answer.status == 202, answer
    server.wait_drained(applied=1)
    opened = [i["id"] for i in repo.json("list") if i["id"] != late]
    assert len(opened) == 1
    wait_for(lambda: stages(receiver, opened[0]) == ["initial"], server, "the initial notice")
    wait_for(lambda: pager.alerts.get(opened[0]) == "triggered", server, "the page")
    assert server.terminate() == 0
    assert stages(receiver, late) == ["update"]  # once, however long it ran
    assert repo.git("status", "--porcelain") == ""


def test_alerts_that_resolve_an_incident_tell_and_resolve_the_page(
    repo: Repo, receiver: Any, pager: Any
) -> None:
    """With `[alerts] resolve_to = "resolved"`, the Alertmanager group firing opens a
    SEV-1 (initial notice, page) and its all-resolved payload resolves it: the final
    notice goes out and the page is resolved, as `status ID resolved` would do."""
    fixtures = Path(__file__).resolve().parent / "fixtures" / "alerts"
    wired(repo, receiver, pager, '\n[alerts]\nresolve_to = "resolved"\n')
    ok(repo, "open", "--alert-payload", f"@{fixtures / 'alertmanager-firing-3.json'}")
    [incident] = repo.json("list")
    ident = incident["id"]
    assert stages(receiver, ident) == ["initial"]
    assert pager.alerts[ident] == "triggered"
    partly = ok(repo, "open", "--alert-payload", f"@{fixtures / 'alertmanager-one-resolved.json'}")
    assert stages(receiver, ident) == ["initial"], partly.output  # no status change: no notice
    ok(repo, "open", "--alert-payload", f"@{fixtures / 'alertmanager-all-resolved.json'}")
    assert repo.json("show", ident)["status"] == "resolved"
    assert stages(receiver, ident) == ["initial", "resolved"]
    assert pager.alerts[ident] == "resolved"
