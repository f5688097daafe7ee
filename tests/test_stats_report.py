"""`incidentctl stats` and `incidentctl report` through the command line, on the hand-made
incidents of test_metrics.py (figures worked out there)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest import Repo
from test_metrics import FEBRUARY, MARCH, commit_all, write_incident, write_set

from incidentctl.history.svg import bar_chart, line_chart

SCRIPT_TITLE = '<script>alert("x")</script> & <b>co</b>'


def april() -> list[dict[str, Any]]:
    """12 incidents in April 2026: detect 5 m, acknowledge 5 m, mitigate 20 m, resolve
    30 m each (started 10:00, detected 10:05, opened 10:06, ack 10:10, 10:20, 10:30)."""
    return [
        {
            "ident": f"INC-202604{d:02d}-apr{d % 10}",
            "times": {
                "started_at": f"2026-04-{d:02d}T10:00:00Z",
                "detected_at": f"2026-04-{d:02d}T10:05:00Z",
                "opened_at": f"2026-04-{d:02d}T10:06:00Z",
                "acknowledged_at": f"2026-04-{d:02d}T10:10:00Z",
                "mitigated_at": f"2026-04-{d:02d}T10:20:00Z",
                "resolved_at": f"2026-04-{d:02d}T10:30:00Z",
            },
        }
        for d in range(2, 14)
    ]


def report_json(repo: Repo, month: str) -> Any:
    return json.loads(repo.ok("report", "--month", month, "--format", "json").stdout)


@pytest.fixture
def history(repo: Repo) -> Repo:
    """March (16 incidents) and February (3) of test_metrics.py."""
    write_set(repo, MARCH + FEBRUARY)
    return repo


@pytest.fixture
def months(repo: Repo) -> Repo:
    """February (3 + one with dated action items), March (16; I1's title holds
    <script>), April (12)."""
    march = [dict(spec) for spec in MARCH]
    march[0]["title"] = SCRIPT_TITLE
    for spec in march + FEBRUARY + april():
        write_incident(repo.path, **spec)
    entry = "- `{}` **Alice Responder** _(action)_ Action item {}"
    write_incident(
        repo.path,
        "INC-20260220-act1",
        times={"opened_at": "2026-02-20T09:00:00Z"},
        status="investigating",
        action_items=(
            "action_items:\n"
            "- id: AI-1\n  title: Done in March\n  owner: Bob\n  due: 2026-03-15\n  status: done\n"
            "- id: AI-2\n  title: Overdue\n  owner: Bob\n  due: 2026-03-01\n  status: open\n"
            "- id: AI-3\n  title: Added in April\n  owner: Bob\n  due: 2026-04-20\n  status: open\n"
            "- id: AI-4\n  title: Done in April\n  owner: Carol\n  due: 2026-06-01\n  status: done"
        ),
        timeline=[
            entry.format("2026-02-20T09:00:00Z", "AI-1 added: Done in March (owner Bob, due …)"),
            entry.format("2026-02-20T09:01:00Z", "AI-2 added: Overdue (owner Bob, due …)"),
            entry.format("2026-02-20T09:02:00Z", "AI-4 added: Done in April (owner Carol, …)"),
            entry.format("2026-03-30T12:00:00Z", "AI-1 done: Done in March"),
            entry.format("2026-04-02T12:00:00Z", "AI-3 added: Added in April (owner Bob, …)"),
            entry.format("2026-04-05T12:00:00Z", "AI-4 done: Done in April"),
        ],
    )
    commit_all(repo)
    return repo


def test_stats_json_shape_and_figures(history: Repo) -> None:
    """`stats --json`: selection, counts, the four metrics, targets, action items."""
    data = history.json("stats", "--since", "2026-03-01", "--until", "2026-04-01")
    assert set(data) == {
        "selection", "now", "incidents", "counts", "metrics", "response", "action_items"
    }  # fmt: skip
    assert data["selection"] == {
        "by_field": "opened_at", "since": "2026-03-01", "until": "2026-04-01", "group_by": None
    }  # fmt: skip
    assert data["incidents"] == 16
    assert data["counts"]["severity"] == {"SEV-1": 3, "SEV-2": 5, "SEV-3": 6, "SEV-4": 2}
    assert list(data["metrics"]) == ["detect", "acknowledge", "mitigate", "resolve"]
    resolve = data["metrics"]["resolve"]
    assert (resolve["count"], resolve["median"], resolve["p90"], resolve["mean"]) == (
        11, 3600, 14400, 7320
    )  # fmt: skip
    assert (resolve["open"], resolve["missing"], resolve["invalid"], resolve["cancelled"]) == (
        2, 1, 1, 1
    )  # fmt: skip
    assert resolve["few"] is False
    response = data["response"]
    assert (response["measured"], response["within"]) == (14, 11)
    assert [m["id"] for m in response["missed"]] == [
        "INC-20260328-uuu1", "INC-20260314-aaa7", "INC-20260324-ooo1"
    ]  # fmt: skip
    assert response["missed"][1] == {
        "id": "INC-20260314-aaa7", "severity": "SEV-1", "target": 900, "took": 1800, "late": 900
    }  # fmt: skip
    assert data["action_items"] == {"open": 2, "done": 1, "overdue": 1}


@pytest.mark.parametrize(
    ("since", "until", "count"),
    [
        (None, None, 19),
        ("2026-03-01", None, 16),
        (None, "2026-03-01", 3),
        # I11 was opened 2026-04-01T01:40+02:00 = 2026-03-31T23:40Z: on the 31st.
        ("2026-03-31", "2026-04-01", 1),
        ("2026-03-01", "2026-03-31", 15),
        ("2026-04-01", None, 0),
    ],
)
def test_stats_since_until_select_by_opened_at_in_utc(
    history: Repo, since: str | None, until: str | None, count: int
) -> None:
    """--since is inclusive, --until exclusive, both UTC days of opened_at."""
    args = [*(["--since", since] if since else []), *(["--until", until] if until else [])]
    assert history.json("stats", *args)["incidents"] == count


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ("severity", ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]),
        ("type", ["outage", "performance"]),
        ("service", ["(none)", "api", "checkout", "db"]),
        ("month", ["2026-02", "2026-03"]),
    ],
)
def test_stats_by_groups_the_metrics(history: Repo, by: str, groups: list[str]) -> None:
    """--by severity|type|service|month: the four metrics per group, few marked."""
    data = history.json("stats", "--by", by)
    assert data["selection"]["group_by"] == by
    assert list(data["groups"]) == groups
    for group in data["groups"].values():
        assert list(group["metrics"]) == ["detect", "acknowledge", "mitigate", "resolve"]
        assert group["metrics"]["resolve"]["few"] is (group["metrics"]["resolve"]["count"] < 10)
    text = history.ok("stats", "--by", by).stdout
    assert f"By {by}" in text
    for name in groups:
        assert f"  {name} (" in text


def test_stats_text(history: Repo) -> None:
    """The text form: counts, a line per metric with the few marker, misses, items."""
    out = history.ok("stats", "--since", "2026-03-01", "--until", "2026-04-01").stdout
    assert "16 incident(s) opened from 2026-03-01 until before 2026-04-01" in out
    assert "severity  SEV-1 3 · SEV-2 5 · SEV-3 6 · SEV-4 2" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("time to resolve"))
    assert re.search(r"11\s+1h\s+4h\s+2h 2m\s+1 missing, 1 invalid, 2 open, 1 cancelled$", line)
    detect = next(ln for ln in out.splitlines() if ln.strip().startswith("time to detect"))
    assert "few incidents" not in detect  # 10 incidents: enough
    assert "Acknowledged within target: 11 of 14 (78.6%)" in out
    assert "INC-20260314-aaa7  SEV-1  15m late (target 15m; acknowledged after 30m)" in out
    assert "not acknowledged yet" in out
    assert "Action items: 2 open (1 overdue), 1 done" in out
    few = history.ok("stats", "--until", "2026-03-01").stdout
    assert "[few incidents: do not compare]" in few


def test_stats_refuses_a_bad_date(history: Repo) -> None:
    """A date that is not YYYY-MM-DD is one line and exit 1."""
    result = history.run("stats", "--since", "March")
    assert result.exit_code == 1
    assert "--since 'March' is not a date; use YYYY-MM-DD" in result.output


def test_report_markdown(months: Repo) -> None:
    """Markdown with GitHub tables; change against February is refused (3 + 1 incidents)."""
    out = months.ok("report", "--month", "2026-03").stdout
    assert out.startswith("# Incident report: March 2026\n")
    assert "| severity | incidents |\n| --- | ---: |\n| SEV-1 | 3 |" in out
    assert "| total | 16 |" in out
    assert (
        "| time to resolve | started\\_at or detected\\_at → resolved\\_at | 11 | 1h | 4h |" in out
    )
    assert "Not compared: February 2026 has 4 incident(s), fewer than 10." in out
    assert "&lt;script&gt;" in out and "<script>" not in out
    for line in out.splitlines():  # every table row has as many cells as its header
        if line.startswith("|"):
            assert line.endswith("|")
    # Action items: closed in March by their timeline entry; open at its end.
    assert "| INC-20260220-act1 | AI-1 | Done in March | Bob | 2026-03-30T12:00:00Z |" in out
    still_open = out.split("still open at the end of March 2026", 1)[1]
    items = re.findall(r"\| (INC-\S+) \| (AI-\d) \|", still_open)
    assert items == [
        ("INC-20260220-act1", "AI-2"),
        ("INC-20260308-aaa4", "AI-2"),
        ("INC-20260220-act1", "AI-4"),
        ("INC-20260308-aaa4", "AI-3"),
    ]


def test_report_json_compares_only_months_of_ten_or_more(months: Repo) -> None:
    """April (12) against March (16): compared; March against February (4): not."""
    april_report = report_json(months, "2026-04")
    assert set(april_report) >= {
        "month", "from", "until", "incidents", "severity", "metrics", "response",
        "previous", "change", "notable", "action_items", "trend",
    }  # fmt: skip
    assert (april_report["incidents"], april_report["previous"]["incidents"]) == (12, 16)
    change = {c["figure"]: c for c in april_report["change"]}
    assert change["incidents"] == {
        "figure": "incidents", "label": "incidents", "this": 12, "previous": 16,
        "compared": True, "change": -4, "percent": -25.0, "reason": None,
    }  # fmt: skip
    # Time to resolve: April 30 m each, March median 60 m, p90 240 m.
    assert change["resolve.median"]["change"] == -1800
    assert change["resolve.median"]["percent"] == -50.0
    assert change["resolve.p90"]["change"] == 1800 - 14400
    assert change["detect.median"]["compared"] is True  # 12 and 10 measured
    march_report = report_json(months, "2026-03")
    assert not any(c["compared"] for c in march_report["change"])
    assert march_report["change"][0]["reason"] == (
        "not compared: February 2026 has 4 incident(s), fewer than 10"
    )
    notable = [(n["id"], n["why"]) for n in march_report["notable"]]
    assert notable[:3] == [
        ("INC-20260302-aaa1", ["SEV-1"]),
        ("INC-20260314-aaa7", ["SEV-1", "among the 3 longest to resolve"]),
        ("INC-20260324-ooo1", ["SEV-1"]),
    ]
    assert ("INC-20260308-aaa4", ["among the 3 longest to resolve"]) in notable
    assert all(n["id"] != "INC-20260322-ccc1" for n in march_report["notable"])
    assert march_report["trend"]["months"][-1] == "2026-03"
    assert len(march_report["trend"]["months"]) == 12


def test_report_html_is_self_contained_escaped_and_its_svg_parses(months: Repo) -> None:
    """One HTML page: no script, no external resource, the <script> title escaped, and
    each inline SVG well-formed XML with a <title>."""
    out = months.ok("report", "--month", "2026-03", "--format", "html").stdout
    assert out.startswith("<!DOCTYPE html>")
    assert "<script" not in out
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in out
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", out)
    svgs = re.findall(r"<svg .*?</svg>", out, re.DOTALL)
    assert len(svgs) == 2
    ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == f"{ns}svg"
        assert root.find(f"{ns}title") is not None
    ET.fromstring(out.split("\n", 1)[1])  # the whole page is well-formed, too


def test_report_refuses_a_bad_month(months: Repo) -> None:
    """--month must be YYYY-MM."""
    result = months.run("report", "--month", "2026-13")
    assert result.exit_code == 1
    assert "is not a month; use YYYY-MM" in result.output


def test_charts_escape_text_and_are_deterministic() -> None:
    """bar_chart and line_chart: XML that parses, text escaped, same input same bytes."""
    series = {"<script>": [1.0, 2.0], "SEV-2": [0.0, 3.5]}
    bars = bar_chart(["2026-01", "a&b"], series, title="<script>alert(1)</script>")
    assert bars == bar_chart(["2026-01", "a&b"], series, title="<script>alert(1)</script>")
    assert "<script>" not in bars and "&lt;script&gt;alert(1)&lt;/script&gt;" in bars
    ET.fromstring(bars)
    lines = line_chart(["a", "b", "c"], {"p90": [1.0, None, 2.0]}, title="t\x1b[2J", unit="h")
    root = ET.fromstring(lines)
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "t\\x1b[2J"
    with pytest.raises(ValueError, match="has 1 values for 2 categories"):
        bar_chart(["a", "b"], {"x": [1.0]}, title="t")
    with pytest.raises(ValueError, match="values are numbers >= 0"):
        line_chart(["a"], {"x": [-1.0]}, title="t")
    assert bar_chart([], {}, title="empty").count("no data") == 1
