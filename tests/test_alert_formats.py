"""Alert payloads of five formats read into what incidentctl keeps: golden payloads, bad
input, redaction. The payloads in tests/fixtures/alerts follow the vendors' documented
shapes (their README names the sources); captured/ holds real Alertmanager 0.25 bodies."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from incidentctl.alerts import formats
from incidentctl.alerts.config import AlertsConfig, environment
from incidentctl.alerts.notice import FIRING, RESOLVED, PayloadError, clean, when
from incidentctl.alerts.redact import REDACTED, redact

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "alerts"
sys.path.insert(0, str(FIXTURES / "malformed"))
from make_hostile import big_body, deep_json  # noqa: E402


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


AM_KEY = '{}/{severity="critical"}:{alertname="HighErrorRate"}'

# file: (format, status, title, severity (mapped), services, environment, members, key)
GOLDEN: dict[str, tuple[Any, ...]] = {
    "plain.json": (
        "plain",
        FIRING,
        "p99_latency 350 above SLO 200 on spec-core-001-authentication",
        "SEV-2",
        [],
        None,
        1,
        "spec-monitor/spec-core-001-authentication/p99_latency",
    ),
    "alertmanager-firing-3.json": (
        "alertmanager",
        FIRING,
        "HighErrorRate on cart, checkout, payments",
        "SEV-1",
        ["cart", "checkout", "payments"],
        "production",
        3,
        AM_KEY,
    ),
    "alertmanager-all-resolved.json": (
        "alertmanager",
        RESOLVED,
        "HighErrorRate on cart, checkout, payments",
        "SEV-1",
        ["cart", "checkout", "payments"],
        "production",
        3,
        AM_KEY,
    ),
    "grafana-firing.json": (
        "grafana",
        FIRING,
        "Checkout p99 latency above SLO on checkout",
        "SEV-1",
        ["checkout"],
        None,
        2,
        None,  # orgId/groupKey, checked below
    ),
    "pagerduty-triggered.json": (
        "pagerduty",
        FIRING,
        "HighErrorRate (prod-eu-1 production critical commerce)",
        "SEV-2",  # no priority: urgency high
        ["Checkout API"],
        None,
        1,
        "558b79073d7341d427c63af07b90f482a501267929ebae0c3c90273093254c92",
    ),
    "pagerduty-acknowledged.json": (
        "pagerduty",
        "acknowledged",
        "HighErrorRate (prod-eu-1 production critical commerce)",
        "SEV-1",  # priority P1
        ["Checkout API"],
        None,
        1,
        "558b79073d7341d427c63af07b90f482a501267929ebae0c3c90273093254c92",
    ),
    "datadog-triggered.json": (
        "datadog",
        FIRING,
        "Checkout p99 latency above 2s",
        "SEV-2",
        ["checkout"],
        "production",
        1,
        None,  # the cycle key, checked below
    ),
    "datadog-recovered.json": (
        "datadog",
        RESOLVED,
        "Checkout p99 latency above 2s",
        "SEV-2",
        ["checkout"],
        "production",
        1,
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_payload_maps_to_title_severity_services_and_key(name: str) -> None:
    """Each format's documented shape gives the right title, severity, services and key."""
    fmt, status, title, severity, services, env, members, key = GOLDEN[name]
    notice = formats.read(load(name))
    assert notice.format == fmt
    assert notice.status == status
    assert notice.title == title
    assert AlertsConfig().severity(notice.severity) == severity
    assert notice.services == services
    assert (environment(notice.environment, "x") if env else None) == env
    assert len(notice.members) == members
    if key is not None:
        assert notice.key == key
    assert notice.ref.startswith("alert-") and len(notice.ref) == 26


def test_keys_of_a_group_stay_the_same_across_its_notifications() -> None:
    """Every notification of one Alertmanager group, Grafana group, PagerDuty incident or
    Datadog cycle carries the same key, so they reach the same incident."""
    pairs = [
        ("alertmanager-firing-3.json", "alertmanager-one-resolved.json"),
        ("alertmanager-firing-3.json", "alertmanager-new-alert-joins.json"),
        ("alertmanager-firing-3.json", "alertmanager-all-resolved.json"),
        ("grafana-firing.json", "grafana-resolved.json"),
        ("pagerduty-triggered.json", "pagerduty-resolved.json"),
        ("datadog-triggered.json", "datadog-recovered.json"),
        ("plain.json", "plain-repeat-other-value.json"),
    ]
    for first, later in pairs:
        assert formats.read(load(first)).ref == formats.read(load(later)).ref, (first, later)
    refs = {formats.read(load(first)).ref for first, _ in pairs}
    assert len(refs) == 5  # five sources; Alertmanager's three pairs are one group


def test_alertmanager_alerts_keep_their_own_fingerprints_and_links() -> None:
    """Each alert of a group has its fingerprint, state and name; links and start come
    from the payload (generator, runbook, Alertmanager)."""
    notice = formats.read(load("alertmanager-one-resolved.json"))
    states = {m.fingerprint: m.status for m in notice.members}
    assert states == {
        "d9790b394a80061f": FIRING,
        "9c47d689903be137": FIRING,
        "f077150065054c91": RESOLVED,
    }
    names = [m.name for m in notice.members]
    assert names[0] == "HighErrorRate (job=cart-api, service=cart)"
    assert notice.links["runbook"] == "https://runbooks.example.com/alerts/HighErrorRate"
    assert notice.links["source"].startswith("http://prometheus-k8s-0.monitoring.svc:9090/graph")
    assert notice.links["alertmanager"] == "https://alertmanager.prod.example.com"
    assert notice.started_at == datetime(2026, 11, 24, 14, 1, 30, 310000, tzinfo=timezone.utc)
    assert notice.members[2].ends_at == datetime(2026, 11, 24, 14, 29, 45, 310000, timezone.utc)


def test_truncated_alerts_are_counted() -> None:
    """Alertmanager's max_alerts: the alerts it left out are counted, not lost."""
    notice = formats.read(load("alertmanager-truncated.json"))
    assert notice.truncated == 5
    assert len(notice.members) == 3


def test_real_alertmanager_payloads_read() -> None:
    """Bodies captured from Alertmanager 0.25 (no notification_reason, no routeLabels)."""
    firing = formats.read(load("captured/alertmanager-0.25-firing.json"))
    resolved = formats.read(load("captured/alertmanager-0.25-resolved.json"))
    assert firing.format == resolved.format == "alertmanager"
    assert firing.ref == resolved.ref
    assert firing.status == FIRING and resolved.status == RESOLVED
    assert all(len(m.fingerprint) == 16 for m in firing.members)


def test_grafana_key_includes_the_organisation() -> None:
    """Two Grafana organisations may use the same group key: the org tells them apart."""
    payload = json.loads(load("grafana-firing.json"))
    notice = formats.parse(payload)
    other = formats.parse({**payload, "orgId": 2})
    assert notice.key.startswith(f"{payload['orgId']}/")
    assert notice.ref != other.ref


def test_datadog_tags_and_epoch_milliseconds() -> None:
    """Datadog sends numbers as strings and times in epoch milliseconds; tags split on
    commas with or without spaces."""
    payload = json.loads(load("datadog-triggered.json"))
    notice = formats.parse(
        {**payload, "service": "", "env": "", "tags": "env:prod, service:api, x"}
    )
    assert notice.services == ["api"]
    assert notice.environment == "prod"
    assert notice.started_at == datetime.fromtimestamp(int(payload["date"]) / 1000, timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("critical", "SEV-1"),
        ("P1", "SEV-1"),
        ("high", "SEV-2"),
        ("error", "SEV-2"),
        ("warning", "SEV-3"),
        ("p3", "SEV-3"),
        ("info", "SEV-4"),
        ("P5", "SEV-4"),
        ("SEV-2", "SEV-2"),
        ("sev1", "SEV-1"),
        ("4", "SEV-4"),
        ("bogus", "SEV-3"),
        (None, "SEV-3"),
    ],
)
def test_default_severity_mapping(value: str | None, expected: str) -> None:
    """The documented default mapping; anything unknown takes the default severity."""
    assert AlertsConfig().severity(value) == expected


# -- bad input ------------------------------------------------------------------------


def _bad(data: bytes | str) -> str:
    with pytest.raises(PayloadError) as caught:
        formats.read(data)
    message = caught.value.message
    assert "\n" not in message and len(message) < 300
    return message


def test_malformed_payloads_get_one_line_each() -> None:
    """Not JSON, an array, the wrong shape, non-UTF-8, empty: a clear one-line error."""
    assert "not valid JSON" in _bad(load("malformed/not-json.txt"))
    assert "an array, not a JSON object" in _bad(load("malformed/array.json"))
    assert "not one of the alert formats" in _bad(load("malformed/wrong-shape.json"))
    assert "not UTF-8" in _bad(load("malformed/non-utf8.bin"))
    assert "empty" in _bad(b"  ")
    assert "not valid JSON" in _bad(b'{"a": NaN}')
    assert "not valid JSON" in _bad(b"{'single': 'quotes'}")


def test_oversized_and_deep_payloads_are_refused_quickly() -> None:
    """A 10 MB body and 10,000-deep nesting are refused before anything else is done."""
    assert "the limit is" in _bad(big_body())
    for kind in ("object", "array"):
        assert "nested more than" in _bad(deep_json(kind=kind))
    nested = "[" * 70 + "]" * 70
    assert "nested more than" in _bad('{"alerts": ' + nested + "}")


def test_forced_format_that_does_not_fit_says_what_is_missing() -> None:
    """`--source pagerduty` on an Alertmanager body: refused, naming what is missing."""
    with pytest.raises(PayloadError, match=r"no `event\.data`"):
        formats.read(load("alertmanager-firing-3.json"), "pagerduty")
    with pytest.raises(PayloadError, match="lacks source, spec_id, metric"):
        formats.read(b'{"value": 1}', "plain")
    with pytest.raises(PayloadError, match="unknown alert format"):
        formats.read(load("plain.json"), "splunk")


# -- untrusted text -----------------------------------------------------------------------


def test_payload_text_is_made_safe() -> None:
    """Escape sequences, bidi overrides and line breaks in a payload never survive."""
    payload = json.loads(load("plain.json"))
    payload["spec_id"] = "spec\x1b]0;pwned\x07-\u202egnp.exe\n## Root Cause"
    notice = formats.parse(payload)
    for char in ("\x1b", "\x07", "\u202e", "\n"):
        assert char not in notice.title
    assert clean("a" * 5000).endswith("…") and len(clean("a" * 5000)) == 500


def test_times_in_every_form_the_senders_use() -> None:
    """Go's trimmed fractions, offsets, Z, epoch milliseconds; Go's zero time is none."""
    assert when("2026-11-24T14:01:30.31Z") == datetime(
        2026, 11, 24, 14, 1, 30, 310000, timezone.utc
    )
    assert when("2026-11-24T15:01:30.123456789+01:00") == datetime(
        2026, 11, 24, 14, 1, 30, 123456, timezone.utc
    )
    assert when("1795529112000") == datetime.fromtimestamp(1795529112, timezone.utc)
    assert when("0001-01-01T00:00:00Z") is None
    assert when("2026-11-24T14:01:30") is None  # no offset: not trusted
    assert when("garbage") is None and when(None) is None


def test_redaction_removes_secrets_and_bounds_size() -> None:
    """Secret-like keys, credentials in URLs, bearer tokens and token shapes go; the
    kept payload is bounded in depth, length and values."""
    payload = {
        "labels": {"token": "abc123", "api_key": "k", "password": "p", "severity": "critical"},
        "Authorization": "Bearer sekret-value-123456",
        "url": "https://user:hunter2@example.com/x?token=abc&page=2",
        "note": "call with Bearer abcdefghijklmnop or ghp_" + "a" * 36,
        "aws": "AKIAABCDEFGHIJKLMNOP",
        "list": list(range(100)),
        "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}},
        "long": "x" * 5000,
    }
    kept = redact(payload)
    text = json.dumps(kept)
    for secret in ("abc123", "hunter2", "sekret", "abcdefghijklmnop", "ghp_aaaa", "AKIAABCD"):
        assert secret not in text, secret
    assert kept["labels"]["severity"] == "critical"
    assert kept["labels"]["token"] == REDACTED
    assert kept["url"] == f"https://{REDACTED}@example.com/x?token={REDACTED}&page=2"
    assert len(kept["list"]) == 21 and kept["list"][-1] == "… 80 more"
    assert "…" in json.dumps(kept["deep"], ensure_ascii=False)
    assert len(kept["long"]) <= 1000
