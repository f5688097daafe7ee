"""The public status page's files: the page, one page per incident, the history,
status.json and feed.xml, all made from public.status_data alone."""

from __future__ import annotations

from . import feeds, templating
from .markup import trusted
from .output import Output, digest
from .public import days_svg

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "completed": "Completed",
}


def write_status(
    output: Output,
    status: dict[str, Any],
    *,
    site: dict[str, Any],
    folder: str,
    root: str,
    repo_root: str | None,
) -> int:
    """Write the status pages under `folder` ("" or "status/"); `root` leads from
    there to the site's root (assets). Returns the number of public incidents."""
    common = {"site": site, "labels": LABELS, "section": "status"}

    def page(template: str, context: dict[str, Any]) -> str:
        return templating.render(template, {**common, **context}, repo_root)

    components = [{**c, "days_svg": trusted(days_svg(c, LABELS))} for c in status["components"]]
    shown = {**status, "components": components}
    output.write(f"{folder}index.html", page("status.html.j2", {"status": shown, "root": root}))
    months: dict[str, list[dict[str, Any]]] = {}
    for incident in status["incidents"]:
        months.setdefault(incident["created_at"][:7], []).append(incident)
        name = f"{folder}{incident['href']}"
        key = digest(repr(incident), repr(site))  # plain data built the same way each time
        if output.is_current(name, key):
            output.keep(name, key)
            continue
        html = page("status-incident.html.j2", {"incident": incident, "root": f"{root}../"})
        output.write(name, html, key)
    history = sorted(months.items(), reverse=True)
    output.write(
        f"{folder}history.html",
        page("status-history.html.j2", {"months": history, "root": root}),
    )
    output.write(f"{folder}status.json", feeds.status_json(status))
    output.write(f"{folder}feed.xml", feeds.atom_feed(status))
    return len(status["incidents"])
