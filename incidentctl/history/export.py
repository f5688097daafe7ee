"""`incidentctl export`: every incident, front matter and timeline, as JSON, NDJSON or CSV.

One object (or row) per incident, sorted by `opened_at` (then ID). Fields in a fixed
order: the front matter keys in the schema's order, a team's own `x-` keys after them,
then `timeline` (`[{"at", "author", "kind", "text"}]`, oldest first).

- `json`: one array, one incident per line; `ndjson`: one incident per line, nothing
  around them. Both are exact: control and bidi characters inside strings are written
  as `\\uXXXX` escapes, which JSON reads back as the same characters.
- `csv` (RFC 4180 quoting, rows end in LF, a header row): one column per front matter
  key (all `x-` keys any incident has, sorted, after them), then `timeline_count` and
  `timeline` (the entries as JSON). Null, [] and {} are empty cells; lists of
  text (`services`) are joined by `;`; objects and lists of objects (`roles`,
  `action_items`, `source`, `x-` values that are not text) are compact JSON. Text is
  printed as everything incidentctl prints (control and bidi characters as `\\x1b`-style
  escapes; tab and newline kept), and a text cell that starts with `=`, `+`, `-` or
  `@` gets a leading `'` so that a spreadsheet shows it instead of running it as a
  formula. For exact values use json or ndjson.

The rows are produced one at a time (`chunks`), so a large repository is written as
it goes, never as one string.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from ..safetext import json_safe, safe
from .metrics import opened

if TYPE_CHECKING:
    from ..repo.records import IncidentRecord

FORMATS = ("json", "ndjson", "csv")
# The front matter schema's order (incidentctl schema; tests/test_export.py checks it).
FRONT_MATTER_KEYS = (
    "id",
    "title",
    "status",
    "severity",
    "type",
    "environment",
    "services",
    "commander",
    "roles",
    "visibility",
    "detected_at",
    "started_at",
    "opened_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "action_items",
    "source",
    "war_room",
    "personal_data",
    "regulator_notified_at",
)
FORMULA_START = ("=", "+", "-", "@")


def incidents(records: Iterable[IncidentRecord], since: date | None = None) -> list[dict[str, Any]]:
    """The incidents opened on or after `since` (UTC), by opened_at, each as one dict in
    the export's field order."""
    start = datetime(since.year, since.month, since.day, tzinfo=timezone.utc) if since else None
    keyed = [(opened(record.data), record) for record in records]
    chosen = [(at, record) for at, record in keyed if start is None or at >= start]
    chosen.sort(key=lambda pair: (pair[0], pair[1].data["id"]))
    return [_ordered(record.data, record.timeline or []) for _, record in chosen]


def _ordered(data: dict[str, Any], timeline: list[dict[str, str]]) -> dict[str, Any]:
    row = {key: data.get(key) for key in FRONT_MATTER_KEYS}
    row.update((key, value) for key, value in data.items() if key not in row)
    row["timeline"] = timeline
    return row


def chunks(rows: list[dict[str, Any]], fmt: str) -> Iterator[str]:
    """The export as pieces of text to write in order (about one per incident)."""
    if fmt == "ndjson":
        for row in rows:
            yield _json_line(row) + "\n"
    elif fmt == "json":
        if not rows:
            yield "[]\n"
            return
        for n, row in enumerate(rows):
            yield ("[\n  " if n == 0 else ",\n  ") + _json_line(row)
        yield "\n]\n"
    elif fmt == "csv":
        yield from _csv(rows)
    else:
        raise ValueError(f"unknown export format {fmt!r}; use {', '.join(FORMATS)}")


def _json_line(row: dict[str, Any]) -> str:
    return json_safe(json.dumps(row, ensure_ascii=False))


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """The CSV header: front matter keys, every `x-` key found (sorted), the timeline."""
    extra = sorted({key for row in rows for key in row} - {*FRONT_MATTER_KEYS, "timeline"})
    return [*FRONT_MATTER_KEYS, *extra, "timeline_count", "timeline"]


def _csv(rows: list[dict[str, Any]]) -> Iterator[str]:
    header = columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        timeline = row.get("timeline") or []
        cells = [_cell(row.get(key)) for key in header[:-2]]
        writer.writerow([*cells, str(len(timeline)), _compact(timeline)])
        yield buffer.getvalue()


def _cell(value: Any) -> str:
    """One CSV cell (see the module's docstring)."""
    if value is None or (isinstance(value, (list, dict)) and not value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return _text(";".join(value))
    return _compact(value)


def _text(value: str) -> str:
    value = safe(value, keep="\t\n")
    return "'" + value if value.startswith(FORMULA_START) else value


def _compact(value: Any) -> str:
    return json_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
