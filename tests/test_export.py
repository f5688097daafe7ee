"""`incidentctl export`: every incident, front matter then timeline, as JSON, NDJSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo
from test_metrics import commit_all, write_incident

from incidentctl.history.export import FRONT_MATTER_KEYS, chunks, columns, incidents
from incidentctl.repo.records import IncidentRecord

SCHEMA = Path(__file__).resolve().parent.parent / "schema" / "incident.schema.json"
TRICKY = "Checkout, \"payments\" and 'refunds'; down, again"


@pytest.fixture
def exported(repo: Repo) -> Repo:
    """Three incidents whose file (and ID) order is not their opening order; one with a
    tricky title, a commander's name over two lines, and a timeline entry of two lines."""
    write_incident(
        repo.path,
        "INC-20260101-zzz1",
        title=TRICKY,
        severity="SEV-2",
        services=("checkout", "payments"),
        times={"opened_at": "2026-03-05T10:00:00Z", "resolved_at": "2026-03-05T11:00:00Z"},
        timeline=[
            "- `2026-03-05T10:00:00Z` **Alice Responder** _(opened)_ Incident opened.",
            "- `2026-03-05T10:30:00Z` **Bob** _(note)_ First line, with a comma",
            '  and a second line with "quotes"',
        ],
    )
    write_incident(
        repo.path,
        "INC-20260301-aaa1",
        times={"opened_at": "2026-01-10T08:00:00+02:00"},  # 06:00Z
        status="triage",
        year="2026",
    )
    path = write_incident(
        repo.path, "INC-20260201-mmm1", times={"opened_at": "2026-02-01T00:00:00Z"}
    )
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("commander: Alice Responder", 'commander: "Dana\\nSmith"'), encoding="utf-8"
    )
    commit_all(repo)
    return repo


ORDER = ["INC-20260301-aaa1", "INC-20260201-mmm1", "INC-20260101-zzz1"]  # by opened_at


def test_front_matter_keys_are_the_schemas() -> None:
    """The export's field order is the schema's (`incidentctl schema`)."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert list(FRONT_MATTER_KEYS) == list(schema["properties"])


def test_json_field_order_sorting_and_timeline(exported: Repo) -> None:
    """`--format json`: one array, sorted by opened_at, keys in schema order then timeline."""
    result = exported.ok("export", "--format", "json")
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == ORDER
    for row in rows:
        assert list(row) == [*FRONT_MATTER_KEYS, "timeline"]
    tricky = rows[2]
    assert tricky["title"] == TRICKY
    assert tricky["services"] == ["checkout", "payments"]
    assert tricky["timeline"][1] == {
        "at": "2026-03-05T10:30:00Z",
        "author": "Bob",
        "kind": "note",
        "text": 'First line, with a comma\nand a second line with "quotes"',
    }
    assert rows[0]["opened_at"] == "2026-01-10T06:00:00Z"  # +02:00 in the file
    assert rows[1]["commander"] == "Dana\nSmith"
    assert exported.ok("export").stdout == result.stdout  # json is the default


def test_ndjson_one_incident_per_line(exported: Repo) -> None:
    """`--format ndjson`: one complete JSON object per line, nothing else."""
    lines = exported.ok("export", "--format", "ndjson").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ORDER
    assert all(list(r) == [*FRONT_MATTER_KEYS, "timeline"] for r in rows)


def test_csv_parses_and_round_trips_text(exported: Repo) -> None:
    """`--format csv`: the csv module reads back every value: commas, quotes, a
    newline; lists joined by `;`; the timeline as a count and JSON."""
    out = exported.ok("export", "--format", "csv").stdout
    table = list(csv.DictReader(io.StringIO(out, newline="")))
    assert list(table[0]) == [*FRONT_MATTER_KEYS, "timeline_count", "timeline"]
    assert [r["id"] for r in table] == ORDER
    tricky = table[2]
    assert tricky["title"] == TRICKY
    assert tricky["services"] == "checkout;payments"
    assert tricky["roles"] == "" and tricky["action_items"] == ""  # {} and []
    assert tricky["started_at"] == "" and tricky["source"] == ""
    assert tricky["timeline_count"] == "2"
    assert json.loads(tricky["timeline"])[1]["text"].endswith('second line with "quotes"')
    assert table[1]["commander"] == "Dana\nSmith"


def test_since_keeps_incidents_opened_on_or_after_the_day(exported: Repo) -> None:
    """--since YYYY-MM-DD (UTC, inclusive) selects by opened_at."""
    rows = json.loads(exported.ok("export", "--since", "2026-02-01").stdout)
    assert [r["id"] for r in rows] == ORDER[1:]
    assert exported.ok("export", "--since", "2027-01-01").stdout == "[]\n"
    assert exported.ok("export", "--format", "ndjson", "--since", "2027-01-01").stdout == ""
    assert exported.run("export", "--since", "soon").exit_code == 1


def record(data: dict[str, Any], timeline: list[dict[str, str]] | None = None) -> IncidentRecord:
    base = dict.fromkeys(FRONT_MATTER_KEYS)
    return IncidentRecord("incidents/x.md", {**base, **data}, timeline or [])


def test_team_keys_follow_the_front_matter_and_csv_cells_are_safe() -> None:
    """x- keys come after the schema's keys; in CSV a formula or a control character in
    text cannot act (leading ' and \\x1b), while JSON keeps the exact text."""
    formula = '=HYPERLINK("http://x")'
    team = {"x-team": "payments"}
    b_record = record({"id": "B", "title": formula, "opened_at": "2026-01-02T00:00:00Z", **team})
    a_data = {"id": "A", "title": "esc \x1b[2J", "opened_at": "2026-01-01T00:00:00Z"}
    rows = incidents([b_record, record({**a_data, "x-cost": {"eur": 5}})])
    assert [r["id"] for r in rows] == ["A", "B"]
    assert list(rows[1])[-2:] == ["x-team", "timeline"]
    assert columns(rows)[-4:] == ["x-cost", "x-team", "timeline_count", "timeline"]
    table = list(csv.DictReader(io.StringIO("".join(chunks(rows, "csv")), newline="")))
    assert table[0]["title"] == "esc \\x1b[2J" and table[0]["x-cost"] == '{"eur":5}'
    assert table[1]["title"] == '\'=HYPERLINK("http://x")'
    assert table[1]["x-team"] == "payments" and table[0]["x-team"] == ""
    text = "".join(chunks(rows, "ndjson"))
    assert "\x1b" not in text and json.loads(text.splitlines()[0])["title"] == "esc \x1b[2J"


def test_large_exports_are_written_row_by_row() -> None:
    """chunks() yields about one piece per incident: nothing builds the whole export."""
    rows = incidents(
        [record({"id": f"I{n:05d}", "title": "t", "opened_at": "2026-01-01T00:00:00Z"})
         for n in range(2000)]
    )  # fmt: skip
    for fmt, pieces in (("ndjson", 2000), ("json", 2001), ("csv", 2001)):
        parts = list(chunks(rows, fmt))
        assert len(parts) == pieces
        assert max(len(p) for p in parts) < 1000
    with pytest.raises(ValueError, match="unknown export format"):
        list(chunks(rows, "xml"))
