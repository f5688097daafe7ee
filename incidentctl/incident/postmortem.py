"""Post-mortem sections: rendered from a template, added without touching human text."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .file import IncidentFile, scan_headings
from .lines import split_lines
from .timeline import format_entry
from .timeutil import format_duration, format_ts

if TYPE_CHECKING:
    from .model import Incident

TEMPLATE = "postmortem.md.j2"
FIGURES = "figures"
ACTIONS = "action-items"


def figures(incident: Incident) -> dict[str, str | None]:
    """Durations and milestones for the post-mortem header, as display strings."""

    def since(end: datetime | None, start: datetime | None) -> str | None:
        if end is None or start is None:
            return None
        return format_duration(end - start)

    opened = incident.opened_at
    return {
        "opened_at": format_ts(opened),
        "resolved_at": format_ts(incident.resolved_at) if incident.resolved_at else None,
        "detected_at": format_ts(incident.detected_at) if incident.detected_at else None,
        "duration": since(incident.resolved_at, incident.started_at or opened),
        "time_to_detect": since(incident.detected_at, incident.started_at),
        "time_to_acknowledge": since(incident.acknowledged_at, opened),
        "time_to_mitigate": since(incident.mitigated_at, opened),
        "time_to_resolve": since(incident.resolved_at, opened),
    }


def context(file: IncidentFile, incident: Incident) -> dict[str, Any]:
    return {
        "incident": incident.model_dump(mode="json"),
        "figures": figures(incident),
        "actions": [item.model_dump(mode="json") for item in incident.action_items],
        "timeline": [line.rstrip("\n") for e in file.timeline() for line in format_entry(e)],
    }


def _render(name: str, ctx: dict[str, Any], root: Path | None) -> str:
    from .render import render

    return render(name, ctx, root)


def refresh_actions(file: IncidentFile, incident: Incident, root: Path | None) -> bool:
    """Re-render the action-items table, if the file has one; True if it changed."""
    if file.region(ACTIONS) is None:
        return False
    before = file.text
    text = _render("postmortem-actions.md.j2", context(file, incident), root)
    file.replace_region(ACTIONS, split_lines(text))
    return file.text != before


def add_sections(file: IncidentFile, incident: Incident, root: Path | None) -> list[str]:
    """Add the template's sections that the file lacks; refresh tool-owned regions.

    Returns the titles of the sections added. Text outside the marked regions is
    never changed, so re-running after people have written the post-mortem is safe.
    """
    from .sections import find_section, sections

    ctx = context(file, incident)
    rendered = split_lines(_render(TEMPLATE, ctx, root))
    heads = scan_headings(rendered)
    have = sections(file)
    chunks: list[tuple[str, int, list[str]]] = []  # (title, level, lines)
    preamble_end = heads[0][0] if heads else len(rendered)
    if heads and heads[0][2] == 1:
        # A level-1 heading (`# Post-mortem`) and its lead-in come first.
        preamble_end = heads[1][0] if len(heads) > 1 else len(rendered)
        chunks.append((heads[0][1], 1, rendered[heads[0][0] : preamble_end]))
        heads = heads[1:]
    level2 = [h for h in heads if h[2] == 2]
    for pos, (start, title, _, _) in enumerate(level2):
        end = level2[pos + 1][0] if pos + 1 < len(level2) else len(rendered)
        chunks.append((title, 2, rendered[start:end]))
    added = []
    for title, _level, lines in chunks:
        if find_section(have, title) is not None:
            continue
        file.append_body("".join(lines).rstrip("\n") + "\n")
        added.append(title)
    for name, template in ((FIGURES, "postmortem-figures.md.j2"),):
        if file.region(name) is not None:
            file.replace_region(name, split_lines(_render(template, ctx, root)))
    refresh_actions(file, incident, root)
    return added
