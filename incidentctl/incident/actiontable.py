"""The post-mortem's action-items table without Jinja2, while the template in use is
the one incidentctl ships.

`action add` refreshes that table (postmortem.refresh_actions). Importing Jinja2 and
compiling the template costs more than the rest of the command; this writes what
the shipped `postmortem-actions.md.j2` renders, and says None (render it with
Jinja2) when a repository's own template, or a changed one, is in use.
tests/test_plainyaml.py compares the two.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from .file import IncidentFile

NAME = "postmortem-actions.md.j2"
REGION = "action-items"  # postmortem.ACTIONS
SHIPPED = """{% if actions %}
| ID | Action | Owner | Due | Status | Issue |
| --- | --- | --- | --- | --- | --- |
{% for item in actions %}
| {{ item.id }} | {{ item.title | cell }} | {{ (item.owner or "-") | cell }} | \
{{ item.due or "-" }} | {{ item.status }} | {{ (item.issue or "-") | cell }} |
{% endfor %}
{% else %}
_TODO: add action items with `incidentctl action add {{ incident.id }} "What to do" \
--owner NAME --due YYYY-MM-DD`._
{% endif %}
"""


def _cell(value: object) -> str:
    """render.markdown_cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def table(actions: list[dict[str, Any]], incident_id: str) -> str:
    """What the shipped template renders for these action items (as JSON)."""
    if not actions:
        return (
            f'_TODO: add action items with `incidentctl action add {incident_id} "What to do" '
            "--owner NAME --due YYYY-MM-DD`._\n"
        )
    rows = [
        "| ID | Action | Owner | Due | Status | Issue |\n",
        "| --- | --- | --- | --- | --- | --- |\n",
    ]
    for item in actions:
        owner, issue = _cell(item["owner"] or "-"), _cell(item["issue"] or "-")
        due = item["due"] or "-"
        rows.append(
            f"| {item['id']} | {_cell(item['title'])} | {owner} | {due} | {item['status']} "
            f"| {issue} |\n"
        )
    return "".join(rows)


def template_in_use(root: str) -> str | None:
    """The text of the template Jinja2 would load (render.environment: the
    repository's `templates/` first, then the packaged ones), or None if none."""
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # incidentctl/
    packaged = os.path.join(here, "templates")
    if not os.path.isdir(packaged):  # a source checkout or an editable install
        packaged = os.path.join(os.path.dirname(here), "templates")
    own = os.path.join(root, "templates")
    for folder in ([own] if os.path.isdir(own) else []) + [packaged]:
        path = os.path.join(folder, NAME)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    return handle.read()
            except (OSError, UnicodeDecodeError):
                return None
    return None


def refresh(file: IncidentFile, actions: list[dict[str, Any]], incident_id: str, root: str) -> bool:
    """postmortem.refresh_actions without Jinja2; False when that needs Jinja2 (a
    template other than the shipped one). A file without the table is left as it is."""
    if file.region(REGION) is None:
        return True
    if template_in_use(root) != SHIPPED:
        return False
    from .lines import split_lines

    file.replace_region(REGION, split_lines(table(actions, incident_id)))
    return True
