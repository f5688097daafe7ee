"""Alerts into incidents: de-duplication, folded repeats, groups resolved alert by alert,
recurrences, and `open --alert-payload` through the command line, in real repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Repo, console_script

from incidentctl.alerts import formats, intake
from incidentctl.alerts.notice import Notice
from incidentctl.repo.incidents import IncidentRepo

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "alerts"
sys.path.insert(0, str(FIXTURES / "malformed"))
T0 = datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc)


def notice(name: str) -> Notice:
    return formats.read((FIXTURES / name).read_bytes())


def front(repo: Repo, rel: str) -> dict[str, Any]:
    text = repo.file(rel).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text.split("---\n")[1])
    return data


def alert_entries(repo: Repo, ident: str) -> list[str]:
    shown = repo.json("show", ident)
    return [e["text"] for e in shown["timeline"] if e["kind"] == "alert"]


def apply(repo: Repo, *items: tuple[str, datetime], **kwargs: Any) -> list[intake.Outcome]:
    handle = IncidentRepo.open(repo.path)
    try:
        return intake.apply(handle, [(notice(name), at) for name, at in items], **kwargs)
    finally:
        handle.git.close()


def open_alert(repo: Repo, payload: str, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = repo.json("open", "--alert-payload", payload, *args)
    return data


def test_the_same_alert_fifty_times_is_one_incident_with_counted_entries(repo: Repo) -> None:
    """50 firings of one alert: one incident; the repeats fold into one counted entry."""
    plain = str(FIXTURES / "plain.json")
    first = open_alert(repo, "@" + plain)
    assert first["deduplicated"] is False and first["opened"] is True
    for _ in range(49):
        again = open_alert(repo, "@" + plain)
        assert again["deduplicated"] is True
        assert again["id"] == first["id"]
    assert len(repo.json("list")) == 1
    assert front(repo, first["path"])["source"]["received"] == 50
    entries = alert_entries(repo, first["id"])
    assert len(entries) == 2, entries
    assert entries[0].startswith("Fired: p99_latency 350 above SLO 200")
    assert entries[1].startswith("Fired again \N{MULTIPLICATION SIGN}49 since ")


def test_repeats_over_hours_leave_a_handful_of_entries(repo: Repo) -> None:
    """One repeat every 5 minutes for 3 hours: a fold entry per hour (fold_window), with
    counts that add up to every payload."""
    items = [("plain.json", T0 + timedelta(minutes=5 * n)) for n in range(37)]
    [outcome] = apply(repo, *items)
    assert outcome.opened and outcome.payloads == 37
    entries = alert_entries(repo, str(outcome.id))
    folds = entries[1:]
    assert 3 <= len(folds) <= 4, entries
    counted = sum(
        int(e.split("\N{MULTIPLICATION SIGN}")[1].split()[0])
        if "\N{MULTIPLICATION SIGN}" in e
        else 1
        for e in folds
    )
    assert counted == 36
    assert front(repo, str(outcome.path))["source"]["received"] == 37
    assert repo.commits() == 2  # the initial commit and this batch's one


def test_one_resolved_alert_of_three_changes_nothing_else(repo: Repo) -> None:
    """A group of three where one resolves: an entry, the others still firing, the
    status untouched; when all three resolve: the entry, and the status only when
    `alerts.resolve_to` asks for it."""
    [opened] = apply(repo, ("alertmanager-firing-3.json", T0))
    ident = str(opened.id)
    [partial] = apply(repo, ("alertmanager-one-resolved.json", T0 + timedelta(minutes=5)))
    assert partial.id == ident and partial.deduplicated
    assert partial.entries == [
        "Resolved: HighErrorRate (job=payments-api, service=payments) "
        "(1 of 3 resolved, 2 still firing)"
    ]
    data = front(repo, str(opened.path))
    assert data["status"] == "triage"
    assert data["source"]["alerts"] == {
        "d9790b394a80061f": "firing",
        "9c47d689903be137": "firing",
        "f077150065054c91": "resolved",
    }
    [done] = apply(repo, ("alertmanager-all-resolved.json", T0 + timedelta(minutes=10)))
    assert done.entries == ["All 3 alerts resolved"]
    assert front(repo, str(opened.path))["status"] == "triage"  # resolve_to not set


def test_resolve_to_monitoring_moves_the_status_when_every_alert_resolved(repo: Repo) -> None:
    """With `[alerts] resolve_to = "monitoring"`, the last resolved alert moves the
    incident to monitoring (mitigated_at stamped), in the same commit."""
    repo.file("incidentctl.toml").write_text('[alerts]\nresolve_to = "monitoring"\n')
    [opened] = apply(repo, ("alertmanager-firing-3.json", T0))
    apply(repo, ("alertmanager-one-resolved.json", T0 + timedelta(minutes=5)))
    assert front(repo, str(opened.path))["status"] == "triage"
    before = repo.commits()
    [done] = apply(repo, ("alertmanager-all-resolved.json", T0 + timedelta(minutes=10)))
    data = front(repo, str(opened.path))
    assert data["status"] == "monitoring"
    assert data["mitigated_at"] is not None
    assert repo.commits() == before + 1
    assert done.entries[0] == "All 3 alerts resolved"
    assert done.entries[1] == "status triage -> monitoring"


def test_new_alerts_joining_the_group_are_listed(repo: Repo) -> None:
    """A fourth fingerprint in the same group: named in an entry, tracked from then on."""
    [opened] = apply(repo, ("alertmanager-firing-3.json", T0))
    [joined] = apply(repo, ("alertmanager-new-alert-joins.json", T0 + timedelta(minutes=5)))
    assert joined.id == opened.id
    assert joined.entries == [
        "1 new alert firing: HighErrorRate (job=search-api, service=search) (4 of 4 firing)"
    ]
    assert len(front(repo, str(opened.path))["source"]["alerts"]) == 4


def test_a_recurrence_after_resolution_opens_a_new_incident_linking_the_old(repo: Repo) -> None:
    """Once the incident is resolved, the same alert firing opens a new one that says it
    recurs the first; a resolved notification with nothing open changes nothing."""
    first = open_alert(repo, "@" + str(FIXTURES / "plain.json"))
    repo.ok("status", first["id"], "resolved")
    before = repo.commits()
    quiet = {**json.loads((FIXTURES / "plain.json").read_text()), "status": "resolved"}
    ignored = open_alert(repo, json.dumps(quiet))
    assert ignored["id"] is None and ignored["ignored"] == 1
    assert repo.commits() == before
    again = open_alert(repo, "@" + str(FIXTURES / "plain.json"))
    assert again["opened"] is True and again["id"] != first["id"]
    assert again["recurrence_of"] == first["id"]
    assert front(repo, again["path"])["source"]["recurrence_of"] == first["id"]
    assert any(f"Recurrence of {first['id']}" in e for e in alert_entries(repo, again["id"]))


def test_no_dedupe_opens_another_incident(repo: Repo) -> None:
    """--no-dedupe: a new incident even with one open for the alert."""
    payload = "@" + str(FIXTURES / "plain.json")
    first = open_alert(repo, payload)
    second = open_alert(repo, payload, "--no-dedupe")
    assert second["opened"] and second["id"] != first["id"]
    assert len(repo.json("list")) == 2


def test_pagerduty_lifecycle(repo: Repo) -> None:
    """Triggered opens, acknowledged is recorded with who, resolved is recorded."""
    opened = open_alert(repo, "@" + str(FIXTURES / "pagerduty-triggered.json"))
    acked = open_alert(repo, "@" + str(FIXTURES / "pagerduty-acknowledged.json"))
    done = open_alert(repo, "@" + str(FIXTURES / "pagerduty-resolved.json"))
    assert opened["id"] == acked["id"] == done["id"]
    assert acked["entries"] == ["Acknowledged in PagerDuty by Alice Responder"]
    assert done["entries"] == ["Alert resolved"]
    data = front(repo, opened["path"])
    assert data["source"]["links"]["pagerduty"].endswith("/incidents/Q1CHK8XP4R2TZM")


def test_an_alert_opened_incident_has_every_field_a_responder_needs(repo: Repo) -> None:
    """Title, severity, services, environment, started_at, a commander, the links in
    the summary, the redacted payload in `source`, and `check` passes."""
    out = open_alert(repo, "@" + str(FIXTURES / "alertmanager-firing-3.json"))
    assert set(out) >= {"id", "path", "status", "severity", "commit", "deduplicated", "alert_key"}
    data = front(repo, out["path"])
    assert data["title"] == "HighErrorRate on cart, checkout, payments"
    assert data["severity"] == "SEV-1"
    assert data["services"] == ["cart", "checkout", "payments"]
    assert data["environment"] == "production"
    assert data["commander"] == "Alice Responder"
    assert data["started_at"] == datetime(2026, 11, 24, 14, 1, 30, tzinfo=timezone.utc)
    assert data["source"]["kind"] == "alert" and data["source"]["format"] == "alertmanager"
    assert data["source"]["payload"]["groupKey"] == data["source"]["key"]
    body = repo.file(out["path"]).read_text(encoding="utf-8")
    assert "[runbook](<https://runbooks.example.com/alerts/HighErrorRate>)" in body
    assert "- High 5xx error rate on checkout (31.2%)" in body
    assert repo.run("check").exit_code == 0
    log = repo.git("log", "-1", "--format=%B")
    assert f"Alert-Ref: {out['alert_key']}" in log and f"Incident: {out['id']}" in log


def test_title_and_fields_given_on_the_command_line_win(repo: Repo) -> None:
    """`open TITLE --alert-payload … --severity …`: the person's words over the payload's."""
    out = open_alert(repo, "@" + str(FIXTURES / "plain.json"), "--severity", "critical")
    assert out["severity"] == "SEV-1"
    repo.ok("status", out["id"], "resolved")
    result = repo.ok(
        "open", "Login is slow", "--alert-payload", "@" + str(FIXTURES / "plain.json"), "--json"
    )
    again = json.loads(result.stdout)
    assert front(repo, again["path"])["title"] == "Login is slow"


def test_manual_incident_is_recorded_as_such(repo: Repo) -> None:
    """--manual-incident: `source: {kind: manual}`; it cannot be combined with a payload."""
    out = repo.json("open", "Checkout down", "--manual-incident")
    assert front(repo, out["path"])["source"] == {"kind": "manual"}
    bad = repo.run("open", "--manual-incident", "--alert-payload", "{}")
    assert bad.exit_code == 2


def test_one_commit_per_incident_per_batch(repo: Repo) -> None:
    """Ten payloads for two alerts in one batch: two incidents, two commits."""
    items = [("plain.json", T0 + timedelta(seconds=n)) for n in range(5)]
    items += [("pagerduty-triggered.json", T0 + timedelta(seconds=n)) for n in range(5)]
    outcomes = apply(repo, *items, trailers={"Alert-Batch": "b1"})
    assert [o.payloads for o in outcomes] == [5, 5]
    assert repo.commits() == 3
    subjects = repo.git("log", "-2", "--format=%s").splitlines()
    assert all("(+4 payloads)" in s for s in subjects), subjects
    assert repo.git("status", "--porcelain") == ""


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        '{"hello": "world"}',
        '{"spec_id": "x", "metric": "y"}',
        "@/no/such/file",
        "@malformed/non-utf8.bin",
        "@10 MB",
        "@10,000 deep",
    ],
)
def test_bad_payload_is_one_line_exit_1_and_nothing_written(
    repo: Repo, payload: str, tmp_path: Path
) -> None:
    """Every bad payload: exit 1, one line on stderr, no traceback, no commit, no file."""
    from make_hostile import big_body, deep_json

    made = {"@10 MB": big_body(), "@10,000 deep": deep_json()}
    if payload in made:
        path = tmp_path / "payload.json"
        path.write_bytes(made[payload])
        payload = f"@{path}"
    elif payload.startswith("@malformed/"):
        payload = f"@{FIXTURES / payload[1:]}"
    before = repo.commits()
    result = subprocess.run(
        [console_script(), "--repo", str(repo.path), "open", "--alert-payload", payload],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert repo.commits() == before
    assert repo.git("status", "--porcelain") == ""


def test_alert_text_is_never_run_templated_or_taken_for_an_option(
    repo: Repo, tmp_path: Path
) -> None:
    """Jinja, shell and option-like text in a payload are kept as typed: not evaluated,
    not run, not passed to git as an option; a heading in it does not become one."""
    marker = tmp_path / "pwned"
    payload = {
        "source": "--exec=touch",
        "spec_id": f"{{{{ 7*7 }}}} $(touch {marker}) `touch {marker}`",
        "metric": "-x",
        "value": 1,
        "slo": 2,
        "summary": f"## Root Cause\n{{% include '/etc/passwd' %}}\n$(touch {marker})",
    }
    out = open_alert(repo, json.dumps(payload))
    text = repo.file(out["path"]).read_text(encoding="utf-8")
    assert "{{ 7*7 }}" in text and "49" not in front(repo, out["path"])["title"]
    assert "root:" not in text
    assert not marker.exists()
    assert "\n## Root Cause" not in text
    assert repo.git("status", "--porcelain") == ""
    assert repo.run("check").exit_code == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('resolve_to = "closed"', "`alerts.resolve_to` must be one of"),
        ('fold_window = "soon"', "`alerts.fold_window` must be a duration"),
        (
            "[alerts.severity]\ndisaster = 'SEV-9'",
            "`alerts.severity.disaster` must be SEV-1..SEV-4",
        ),
        ("bogus = 1", "unknown key `alerts.bogus`"),
    ],
)
def test_a_bad_alerts_table_is_named_by_check_and_by_open(
    repo: Repo, table: str, message: str
) -> None:
    """A mistake in [alerts] is one line naming the key, from `check` and from `open`."""
    repo.file("incidentctl.toml").write_text(f"[alerts]\n{table}\n")
    for args in (("check",), ("open", "--alert-payload", "@" + str(FIXTURES / "plain.json"))):
        result = repo.run(*args)
        assert result.exit_code == 1, result.output
        assert message in result.output
    assert repo.commits() == 1
