"""The time metrics (history/metrics.py) against incidents whose figures were worked out
by hand: real incident files with explicit front matter, committed, read back through
IncidentRepo.records().

The March 2026 set (times UTC unless the file says otherwise; minutes):

    id    sev    status         detect  ack        mitigate  resolve   note
    I1    SEV-1  resolved       10      10         40        60
    I2    SEV-2  resolved       -       10         20 (d)    30 (d)    no started_at
    I3    SEV-3  resolved       30      20         60        90        offsets +02:00, -05:00
    I4    SEV-3  closed         5       5          60        120       action items
    I5    SEV-2  resolved       5       10         30        45        reopened: final resolved_at
    I6    SEV-4  resolved       3       5          10        15
    I7    SEV-1  resolved       -       30 (miss)  60 (d)    240 (d)   no started_at
    I8    SEV-2  resolved       120     60 (=1h)   300       597
    I9    SEV-3  resolved       20      10         60        75
    I10   SEV-3  resolved       1       3          10        20
    I11   SEV-2  resolved       5       10         32        50        opened 2026-04-01T01:40+02:00
                                                                       = 2026-03-31T23:40Z: March
    C1    SEV-3  cancelled      cancelled everywhere
    O1    SEV-1  investigating  -       25 (miss)  open      open      no started_at
    X1    SEV-4  resolved       -       10 (o)     -         -         neither started nor detected
    V1    SEV-3  resolved       30      invalid    invalid   invalid   hand edit: ends before starts
    U1    SEV-2  triage         -       -          open      open      never acknowledged

    (d) from detected_at, started_at being empty; (o) from opened_at, detected_at too.

February 2026 holds three resolved incidents (30, 90, 60 minutes to resolve): a month
of fewer than 10 incidents.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo

from incidentctl.history import metrics as m
from incidentctl.repo.incidents import IncidentRepo
from incidentctl.repo.records import IncidentRecord

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=timezone.utc)
MIN = 60
TARGETS = {
    "SEV-1": timedelta(minutes=15),
    "SEV-2": timedelta(hours=1),
    "SEV-3": timedelta(hours=4),
    "SEV-4": timedelta(days=1),
}
KEYS = ("started_at", "detected_at", "opened_at", "acknowledged_at", "mitigated_at")
KEYS += ("resolved_at", "closed_at")


def write_incident(
    root: Path,
    ident: str,
    *,
    title: str | None = None,
    status: str = "resolved",
    severity: str = "SEV-3",
    kind: str = "outage",
    services: tuple[str, ...] = ("api",),
    times: dict[str, str] | None = None,
    action_items: str = "[]",
    timeline: list[str] | None = None,
    year: str | None = None,
) -> Path:
    """An incident file written by hand: front matter exactly as given (timestamps as
    typed, offsets and all), a title, a timeline. Returns its path."""
    times = times or {}
    title = title or f"Incident {ident}"
    lines = [
        "---",
        f"id: {ident}",
        f"title: {json.dumps(title, ensure_ascii=False)}",
        f"status: {status}",
        f"severity: {severity}",
        f"type: {kind}",
        "environment: production",
        "services:" + ("".join(f"\n- {s}" for s in services) if services else " []"),
        "commander: Alice Responder",
        "roles: {}",
        "visibility: internal",
    ]
    lines += [f"{key}: {times.get(key, 'null')}" for key in KEYS]
    lines += [f"action_items: {action_items}" if action_items == "[]" else action_items, "---"]
    opened = times["opened_at"]
    entries = timeline or [f"- `{opened}` **Alice Responder** _(opened)_ Incident opened."]
    body = ["", f"# {title}", "", "## Timeline", "", *entries, ""]
    folder = root / "incidents" / (year or ident.split("-")[1][:4])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ident}-incident.md"
    path.write_text("\n".join(lines + body), encoding="utf-8")
    return path


def commit_all(repo: Repo) -> None:
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "incidents written by hand")


def day(d: int, hm: str) -> str:
    return f"2026-03-{d:02d}T{hm}:00Z"


MARCH: list[dict[str, Any]] = [
    {
        "ident": "INC-20260302-aaa1",
        "severity": "SEV-1",
        "services": ("checkout",),
        "times": {
            "started_at": day(2, "10:00"),
            "detected_at": day(2, "10:10"),
            "opened_at": day(2, "10:15"),
            "acknowledged_at": day(2, "10:20"),
            "mitigated_at": day(2, "10:40"),
            "resolved_at": day(2, "11:00"),
        },
    },
    {
        "ident": "INC-20260303-aaa2",
        "severity": "SEV-2",
        "times": {
            "detected_at": day(3, "08:00"),
            "opened_at": day(3, "08:05"),
            "acknowledged_at": day(3, "08:10"),
            "mitigated_at": day(3, "08:20"),
            "resolved_at": day(3, "08:30"),
        },
    },
    {
        "ident": "INC-20260305-aaa3",
        "kind": "performance",
        "times": {  # hand-edited with offsets: 10:00Z, 10:30Z, 10:40Z, 10:50Z, 11:00Z, 11:30Z
            "started_at": "2026-03-05T12:00:00+02:00",
            "detected_at": "2026-03-05T10:30:00Z",
            "opened_at": "2026-03-05T12:40:00+02:00",
            "acknowledged_at": "2026-03-05T05:50:00-05:00",
            "mitigated_at": "2026-03-05T11:00:00Z",
            "resolved_at": "2026-03-05T13:30:00+02:00",
        },
    },
    {
        "ident": "INC-20260308-aaa4",
        "status": "closed",
        "services": ("api", "db"),
        "times": {
            "started_at": day(8, "00:00"),
            "detected_at": day(8, "00:05"),
            "opened_at": day(8, "00:06"),
            "acknowledged_at": day(8, "00:10"),
            "mitigated_at": day(8, "01:00"),
            "resolved_at": day(8, "02:00"),
            "closed_at": day(9, "00:00"),
        },
        "action_items": (
            "action_items:\n"
            "- id: AI-1\n  title: Alert on it\n  owner: Bob\n  due: 2026-03-15\n  status: done\n"
            "- id: AI-2\n  title: Fix it\n  owner: Bob\n  due: 2026-03-20\n  status: open\n"
            "- id: AI-3\n  title: Test it\n  owner: Carol\n  due: 2099-05-01\n  status: open"
        ),
    },
    {
        "ident": "INC-20260310-aaa5",
        "severity": "SEV-2",
        "times": {
            "started_at": day(10, "09:00"),
            "detected_at": day(10, "09:05"),
            "opened_at": day(10, "09:10"),
            "acknowledged_at": day(10, "09:15"),
            "mitigated_at": day(10, "09:30"),
            "resolved_at": day(10, "09:45"),  # the final resolution, after the reopen
        },
        "timeline": [
            "- `2026-03-10T09:10:00Z` **Alice Responder** _(opened)_ Incident opened.",
            "- `2026-03-10T09:20:00Z` **Alice Responder** _(status)_ Status monitoring → resolved",
            "- `2026-03-10T09:25:00Z` **Alice Responder** _(status)_ Status resolved → "
            "investigating (reopen): errors are back",
            "- `2026-03-10T09:45:00Z` **Alice Responder** _(status)_ Status investigating → "
            "resolved",
        ],
    },
    {
        "ident": "INC-20260312-aaa6",
        "severity": "SEV-4",
        "times": {
            "started_at": day(12, "14:00"),
            "detected_at": day(12, "14:03"),
            "opened_at": day(12, "14:05"),
            "acknowledged_at": day(12, "14:08"),
            "mitigated_at": day(12, "14:10"),
            "resolved_at": day(12, "14:15"),
        },
    },
    {
        "ident": "INC-20260314-aaa7",
        "severity": "SEV-1",
        "times": {
            "detected_at": day(14, "10:00"),
            "opened_at": day(14, "10:00"),
            "acknowledged_at": day(14, "10:30"),
            "mitigated_at": day(14, "11:00"),
            "resolved_at": day(14, "14:00"),
        },
    },
    {
        "ident": "INC-20260316-aaa8",
        "severity": "SEV-2",
        "times": {
            "started_at": day(16, "00:00"),
            "detected_at": day(16, "02:00"),
            "opened_at": day(16, "02:00"),
            "acknowledged_at": day(16, "03:00"),
            "mitigated_at": day(16, "05:00"),
            "resolved_at": day(16, "09:57"),
        },
    },
    {
        "ident": "INC-20260318-aaa9",
        "times": {
            "started_at": day(18, "10:00"),
            "detected_at": day(18, "10:20"),
            "opened_at": day(18, "10:25"),
            "acknowledged_at": day(18, "10:30"),
            "mitigated_at": day(18, "11:00"),
            "resolved_at": day(18, "11:15"),
        },
    },
    {
        "ident": "INC-20260320-aa10",
        "times": {
            "started_at": day(20, "10:00"),
            "detected_at": day(20, "10:01"),
            "opened_at": day(20, "10:02"),
            "acknowledged_at": day(20, "10:04"),
            "mitigated_at": day(20, "10:10"),
            "resolved_at": day(20, "10:20"),
        },
    },
    {
        "ident": "INC-20260331-aa11",  # 23:30Z on 31 March, written at +02:00 (1 April)
        "severity": "SEV-2",
        "times": {
            "started_at": "2026-04-01T01:30:00+02:00",
            "detected_at": "2026-03-31T23:35:00Z",
            "opened_at": "2026-04-01T01:40:00+02:00",
            "acknowledged_at": "2026-03-31T23:45:00Z",
            "mitigated_at": "2026-04-01T00:02:00Z",
            "resolved_at": "2026-04-01T00:20:00Z",
        },
    },
    {
        "ident": "INC-20260322-ccc1",
        "status": "cancelled",
        "times": {
            "started_at": day(22, "10:00"),
            "detected_at": day(22, "10:05"),
            "opened_at": day(22, "10:06"),
            "acknowledged_at": day(22, "10:07"),
        },
    },
    {
        "ident": "INC-20260324-ooo1",
        "status": "investigating",
        "severity": "SEV-1",
        "times": {
            "detected_at": day(24, "10:00"),
            "opened_at": day(24, "10:05"),
            "acknowledged_at": day(24, "10:25"),
        },
    },
    {
        "ident": "INC-20260325-xxx1",
        "severity": "SEV-4",
        "services": (),
        "times": {
            "opened_at": day(25, "10:00"),
            "acknowledged_at": day(25, "10:10"),
            "mitigated_at": day(25, "10:20"),
            "resolved_at": day(25, "10:30"),
        },
    },
    {
        "ident": "INC-20260326-vvv1",
        "times": {
            "started_at": day(26, "10:00"),
            "detected_at": day(26, "10:30"),
            "opened_at": day(26, "10:31"),
            "acknowledged_at": day(26, "10:20"),
            "mitigated_at": day(26, "09:50"),
            "resolved_at": day(26, "09:55"),
        },
    },
    {
        "ident": "INC-20260328-uuu1",
        "status": "triage",
        "severity": "SEV-2",
        "times": {"opened_at": day(28, "10:00")},
    },
]
FEBRUARY: list[dict[str, Any]] = [
    {
        "ident": f"INC-202602{d:02d}-fff{n}",
        "times": {
            "started_at": f"2026-02-{d:02d}T10:00:00Z",
            "opened_at": f"2026-02-{d:02d}T10:05:00Z",
            "acknowledged_at": f"2026-02-{d:02d}T10:06:00Z",
            "resolved_at": f"2026-02-{d:02d}T{10 + minutes // 60:02d}:{minutes % 60:02d}:00Z",
        },
    }
    for n, (d, minutes) in enumerate([(3, 30), (10, 90), (17, 60)], start=1)
]


def write_set(repo: Repo, incidents: list[dict[str, Any]]) -> None:
    for spec in incidents:
        write_incident(repo.path, **spec)
    commit_all(repo)


@pytest.fixture
def records(repo: Repo) -> list[IncidentRecord]:
    write_set(repo, MARCH + FEBRUARY)
    warnings: list[str] = []
    found = IncidentRepo.open(repo.path).records(warnings.append, timelines=True)
    assert warnings == []
    assert len(found) == len(MARCH) + len(FEBRUARY)
    return found


def month(records: list[IncidentRecord], first: date, until: date) -> list[dict[str, Any]]:
    return m.select([r.data for r in records], first, until)


def figures(datas: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return m.measure_all([m.durations(d) for d in datas])


def test_hand_edited_offsets_are_read_in_utc_and_set_the_month(
    records: list[IncidentRecord],
) -> None:
    """+02:00 and -05:00 in a file become UTC; 01:40 on 1 April at +02:00 is in March."""
    march = month(records, date(2026, 3, 1), date(2026, 4, 1))
    assert len(march) == len(MARCH) == 16
    by_id = {d["id"]: d for d in march}
    assert by_id["INC-20260305-aaa3"]["acknowledged_at"] == "2026-03-05T10:50:00Z"
    assert m.month_of(by_id["INC-20260331-aa11"]) == "2026-03"
    assert m.durations(by_id["INC-20260305-aaa3"]) == {
        "detect": 30 * MIN,
        "acknowledge": 20 * MIN,
        "mitigate": 60 * MIN,
        "resolve": 90 * MIN,
    }
    # Crossing midnight into April is no different from any other hour.
    assert m.durations(by_id["INC-20260331-aa11"])["resolve"] == 50 * MIN
    april = month(records, date(2026, 4, 1), date(2026, 5, 1))
    assert april == []


def test_time_to_detect(records: list[IncidentRecord]) -> None:
    """started -> detected: 10 incidents; 4 without started_at; the cancelled one out.

    Sorted minutes 1 3 5 5 5 10 20 30 30 120: median (5 + 10) / 2 = 7.5 m = 450 s;
    p90 = the 9th (ceil 0.9 * 10) = 30 m; mean 229 / 10 = 22.9 m = 1374 s."""
    detect = figures(month(records, date(2026, 3, 1), date(2026, 4, 1)))["detect"]
    assert detect == {
        "label": "time to detect",
        "from": ["started_at"],
        "to": "detected_at",
        "count": 10,
        "median": 450,
        "p90": 1800,
        "mean": 1374,
        "few": False,
        "missing": 5,  # I2, I7, O1, X1, U1
        "invalid": 0,
        "open": 0,
        "cancelled": 1,
    }


def test_time_to_acknowledge(records: list[IncidentRecord]) -> None:
    """detected (else opened) -> acknowledged; the open O1 counts, V1 is invalid.

    Sorted minutes 3 5 5 10 10 10 10 10 10 20 25 30 60 (13): median the 7th = 10 m;
    p90 the 12th (ceil 11.7) = 30 m; mean 208 / 13 = 16 m = 960 s."""
    ack = figures(month(records, date(2026, 3, 1), date(2026, 4, 1)))["acknowledge"]
    assert ack["from"] == ["detected_at", "opened_at"]
    assert (ack["count"], ack["median"], ack["p90"], ack["mean"]) == (13, 600, 1800, 960)
    assert (ack["missing"], ack["invalid"], ack["open"], ack["cancelled"]) == (1, 1, 0, 1)


def test_time_to_mitigate(records: list[IncidentRecord]) -> None:
    """started (else detected) -> mitigated; open incidents are left out and counted.

    Sorted minutes 10 10 20 30 32 40 60 60 60 60 300 (11): median the 6th = 40 m;
    p90 the 10th (ceil 9.9) = 60 m; mean 682 / 11 = 62 m = 3720 s."""
    mitigate = figures(month(records, date(2026, 3, 1), date(2026, 4, 1)))["mitigate"]
    assert (mitigate["count"], mitigate["median"], mitigate["p90"]) == (11, 2400, 3600)
    assert mitigate["mean"] == 3720
    assert (mitigate["open"], mitigate["missing"], mitigate["invalid"]) == (2, 1, 1)
    assert mitigate["cancelled"] == 1


def test_time_to_resolve_counts_a_reopened_incident_once_with_its_final_resolution(
    records: list[IncidentRecord],
) -> None:
    """started (else detected) -> resolved; I5 was resolved at 09:20, reopened and
    resolved at 09:45: it counts once, 45 minutes.

    Sorted minutes 15 20 30 45 50 60 75 90 120 240 597 (11): median the 6th = 60 m;
    p90 the 10th = 240 m; mean 1342 / 11 = 122 m = 7320 s."""
    march = month(records, date(2026, 3, 1), date(2026, 4, 1))
    resolve = figures(march)["resolve"]
    assert (resolve["count"], resolve["median"], resolve["p90"]) == (11, 3600, 14400)
    assert resolve["mean"] == 7320
    assert resolve["few"] is False
    assert (resolve["open"], resolve["missing"], resolve["invalid"]) == (2, 1, 1)
    assert resolve["cancelled"] == 1
    reopened = next(d for d in march if d["id"] == "INC-20260310-aaa5")
    assert m.durations(reopened)["resolve"] == 45 * MIN


def test_a_month_of_few_incidents_is_marked(records: list[IncidentRecord]) -> None:
    """February's three: median 60 m, p90 the 3rd (ceil 2.7) = 90 m, mean 60 m; every
    figure carries few (fewer than 10 incidents: do not compare)."""
    february = month(records, date(2026, 2, 1), date(2026, 3, 1))
    found = figures(february)
    assert {k: found["resolve"][k] for k in ("count", "median", "p90", "mean", "few")} == {
        "count": 3,
        "median": 3600,
        "p90": 5400,
        "mean": 3600,
        "few": True,
    }
    assert all(f["few"] for f in found.values())
    assert found["detect"]["missing"] == 3  # no detected_at in these
    by_month = m.grouped([r.data for r in records], [m.durations(r.data) for r in records], "month")
    assert list(by_month) == ["2026-02", "2026-03"]
    assert by_month["2026-02"]["metrics"]["resolve"]["few"] is True
    assert by_month["2026-03"]["metrics"]["resolve"]["few"] is False
    assert by_month["2026-03"]["incidents"] == 16


def test_response_targets_and_misses(records: list[IncidentRecord]) -> None:
    """14 measured (V1 invalid and C1 cancelled are not; U1, never acknowledged and open
    past its hour at NOW, is a miss in progress); I8's exactly 1 h is within."""
    march = month(records, date(2026, 3, 1), date(2026, 4, 1))
    found = m.response(march, TARGETS, NOW)
    assert (found["measured"], found["within"], found["share"]) == (14, 11, round(11 / 14, 4))
    assert found["few"] is False
    # U1: opened 28 March 10:00, NOW 2 April 12:00 = 122 h, target 1 h: 121 h late.
    assert found["missed"] == [
        {"id": "INC-20260328-uuu1", "severity": "SEV-2", "target": 3600, "took": None,
         "late": 121 * 3600},
        {"id": "INC-20260314-aaa7", "severity": "SEV-1", "target": 900, "took": 1800,
         "late": 900},
        {"id": "INC-20260324-ooo1", "severity": "SEV-1", "target": 900, "took": 1500,
         "late": 600},
    ]  # fmt: skip


def test_counts_action_items_and_groups(records: list[IncidentRecord]) -> None:
    """Counts by severity/status/type/service; AI-2 is overdue on 2 April, AI-3 (2099) not."""
    march = month(records, date(2026, 3, 1), date(2026, 4, 1))
    counts = m.counts(march)
    assert counts["severity"] == {"SEV-1": 3, "SEV-2": 5, "SEV-3": 6, "SEV-4": 2}
    assert counts["status"] == {
        "triage": 1,
        "investigating": 1,
        "identified": 0,
        "monitoring": 0,
        "resolved": 12,
        "closed": 1,
        "cancelled": 1,
    }
    assert counts["type"]["performance"] == 1 and counts["type"]["outage"] == 15
    assert counts["service"] == {"api": 14, "(none)": 1, "checkout": 1, "db": 1}
    assert list(counts["service"]) == ["api", "(none)", "checkout", "db"]
    assert m.action_items(march, NOW.date()) == {"open": 2, "done": 1, "overdue": 1}
    by_severity = m.grouped(march, [m.durations(d) for d in march], "severity")
    assert list(by_severity) == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    # SEV-1: I1 60 m, I7 240 m resolved; O1 open. Median (60 + 240) / 2 = 150 m.
    assert by_severity["SEV-1"]["metrics"]["resolve"]["median"] == 150 * MIN
    assert by_severity["SEV-1"]["metrics"]["resolve"]["few"] is True
    by_service = m.grouped(march, [m.durations(d) for d in march], "service")
    assert by_service["db"]["incidents"] == 1 and by_service["(none)"]["incidents"] == 1


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([5], 5, 5),
        ([1, 2], 1.5, 2),
        (list(range(1, 11)), 5.5, 9),  # rank ceil(9.0) = 9
        (list(range(1, 21)), 10.5, 18),  # rank 18
        (list(range(1, 71)), 35.5, 63),  # rank 63: 0.9 * 70 is 63.000…01 in floats
        (list(range(1, 12)), 6, 10),  # rank ceil(9.9) = 10
    ],
)
def test_summary_median_and_nearest_rank_p90(values: list[int], median: float, p90: float) -> None:
    """Median is the middle (mean of the two middle); p90 is the ceil(0.9 n)-th value."""
    found = m.summarise(float(v) for v in reversed(values))
    assert (found["median"], found["p90"], found["count"]) == (median, p90, len(values))
    assert found["few"] is (len(values) < 10)


def test_nothing_to_summarise() -> None:
    """No values: count 0, no figures, and few."""
    assert m.summarise([]) == {"count": 0, "median": None, "p90": None, "mean": None, "few": True}


def test_timestamps_with_a_fraction_of_a_second() -> None:
    """`…00.5Z` (format_ts drops trailing zeros) parses on every supported Python."""
    assert m.parse_ts("2026-03-01T10:00:00.5Z") == datetime(
        2026, 3, 1, 10, 0, 0, 500000, tzinfo=timezone.utc
    )
    assert m.parse_ts(None) is None and m.parse_ts("") is None
