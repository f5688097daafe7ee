"""`incidentctl board`: the war-room screen, as plain text that fits the terminal.

    INCIDENTS  2 active · 1 update overdue                         2026-11-24 14:52Z
    ID                SEV   STATUS        OPEN     NEXT UPDATE     ACTIONS
    INC-20261124-hqpm SEV-1 investigating 43m      overdue 13m     2 open
      Checkout API returning 500s · Alice Responder

Every value comes from incident files, so each is made safe text (safetext) and cut
to its column; colour only when asked (a terminal, no NO_COLOR).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..incident.timeutil import format_duration, parse_time
from ..safetext import safe
from . import messages

ACTIVE = ("triage", "investigating", "identified", "monitoring")
ORDER = {"SEV-1": 0, "SEV-2": 1, "SEV-3": 2, "SEV-4": 3}
COLUMNS = (("ID", 17), ("SEV", 5), ("STATUS", 13), ("OPEN", 8), ("NEXT UPDATE", 15), ("ACTIONS", 8))


@dataclass(frozen=True)
class Row:
    id: str
    severity: str
    status: str
    commander: str
    title: str
    open_for: timedelta
    next_update: datetime | None
    overdue: bool
    actions_open: int


def rows(config: Any, records: list[Any], now: datetime) -> list[Row]:
    out = []
    for record in records:
        data, timeline = record.data, record.timeline or []
        if data["status"] not in ACTIVE:
            continue
        since = messages.last_update(data, timeline)
        due = messages.next_update(config, data, since)
        out.append(
            Row(
                id=data["id"],
                severity=data["severity"],
                status=data["status"],
                commander=data.get("commander") or "-",
                title=data["title"],
                open_for=now - parse_time(data["opened_at"]),
                next_update=due,
                overdue=due is not None and due <= now,
                actions_open=sum(
                    1 for i in data.get("action_items") or () if i.get("status") == "open"
                ),
            )
        )
    out.sort(key=lambda r: (ORDER.get(r.severity, 9), -r.open_for.total_seconds()))
    return out


def _cell(text: str, width: int) -> str:
    text = safe(text)
    return (text if len(text) <= width else text[: width - 1] + "…").ljust(width)


def render(board: list[Row], now: datetime, *, width: int = 100, colour: bool = False) -> str:
    """The screen as text lines of at most `width` characters."""
    red = (lambda s: f"\x1b[31;1m{s}\x1b[0m") if colour else (lambda s: s)
    bold = (lambda s: f"\x1b[1m{s}\x1b[0m") if colour else (lambda s: s)
    late = sum(1 for r in board if r.overdue)
    head = f"INCIDENTS  {len(board)} active" + (
        f" · {late} update{'s' if late != 1 else ''} overdue" if late else ""
    )
    clock = now.strftime("%Y-%m-%d %H:%MZ")
    lines = [bold(head.ljust(max(0, width - len(clock) - 1)) + " " + clock)]
    lines.append(" ".join(name.ljust(size) for name, size in COLUMNS)[:width].rstrip())
    if not board:
        lines.append("No active incident.")
    for row in board:
        if row.next_update is None:
            due = "-"
        elif row.overdue:
            due = f"overdue {format_duration(now - row.next_update)}"
        else:
            due = f"in {format_duration(row.next_update - now)}"
        cells = [
            _cell(row.id, 17),
            _cell(row.severity, 5),
            _cell(row.status, 13),
            _cell(format_duration(row.open_for), 8),
            _cell(due, 15),
            _cell(f"{row.actions_open} open" if row.actions_open else "-", 8),
        ]
        line = " ".join(cells)[:width].rstrip()
        lines.append(red(line) if row.overdue or row.severity == "SEV-1" else line)
        about = f"{row.title} · {row.commander}"
        lines.append(("  " + _cell(about, max(10, width - 2))).rstrip())
    return "\n".join(lines) + "\n"
