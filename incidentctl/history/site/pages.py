"""The full (internal) site's data: index rows, the search index, one incident's page.

Everything handed to a template is plain data (strings, numbers, lists, dicts); the
only HTML is what markup.render made from the body. Restricted incidents stay out of
the site's pages, index and search (they count in the stats only).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from html import escape

from ...safetext import safe
from . import markup

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from ...repo.records import IncidentRecord
    from .gitinfo import Change

ACTIVE = ("triage", "investigating", "identified", "monitoring")
STATUSES = (*ACTIVE, "resolved", "closed", "cancelled")
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")
TIMES = (
    ("started_at", "Impact started"),
    ("detected_at", "Detected"),
    ("opened_at", "Opened"),
    ("acknowledged_at", "Acknowledged"),
    ("mitigated_at", "Mitigated"),
    ("resolved_at", "Resolved"),
    ("closed_at", "Closed"),
)
SUMMARY_CHARS = 280
CLASS = {"cancelled": "status-cancelled"}
LT = "\\u003c"  # `<` inside a JSON string, as a JavaScript escape
_WORD = re.compile(r"\w+")


def shown(record: IncidentRecord) -> bool:
    """Whether the full site shows this incident (restricted ones it never does)."""
    return record.data.get("visibility") != "restricted"


def page_name(incident_id: str) -> str:
    """Where an incident's page goes: IDs are letters, digits, `.`, `_`, `-` (checked)."""
    return f"incidents/{incident_id}.html"


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (_time(end) - _time(start)).total_seconds()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def row_html(record: IncidentRecord, summary: str) -> str:
    """The incident's row in the index, written here rather than in index.html.j2 (a
    sandboxed template spends most of a second on 10,000 rows) and kept with its page
    in the manifest. Text from the file goes through `_h` (unsafe characters made
    visible, then HTML-escaped); status, severity, type and year are the schema's own
    words (validated), times and durations our own."""
    from .templating import duration, when

    data = record.data
    status, severity, kind = data["status"], data["severity"], data["type"]
    services = tuple(data.get("services") or ())
    active = status in ACTIVE
    state = "status-active" if active else CLASS.get(status, "status-done")
    brief = markup.plain(summary, SUMMARY_CHARS)
    brief = f'<span class="summary">{_h(brief)}</span>' if brief else ""
    ident = _h(data["id"])
    to_resolve = seconds_between(data["opened_at"], data.get("resolved_at"))
    return (
        f'<tr data-id="{ident}" data-status="{status}" data-active="{int(active)}" '
        f'data-severity="{severity}" data-type="{kind}" data-year="{data["opened_at"][:4]}" '
        f'data-services="{_h(_services_json(services))}">\n'
        f'<td class="title"><a href="{_h(page_name(data["id"]))}">{_h(data["title"])}</a> '
        f'<span class="muted mono">{ident}</span>{brief}</td>\n'
        f'<td><span class="badge sev-{severity}">{severity}</span></td>\n'
        f'<td class="{state}">{status}</td>\n<td>{kind}</td>\n'
        f"<td>{_h(', '.join(services))}</td>\n"
        f'<td class="nowrap">{when(data["opened_at"])}</td>\n'
        f'<td class="nowrap">{duration(to_resolve)}</td>\n</tr>\n'
    )


def _h(value: str) -> str:
    return escape(value if value.isprintable() else safe(value, keep="\n"), quote=True)


@cache
def _services_json(services: tuple[str, ...]) -> str:
    return json.dumps(list(services))  # many incidents share one list: made once each


def filters(records: list[IncidentRecord]) -> dict[str, list[str]]:
    """The values each filter offers, in a reader's order."""
    datas = [r.data for r in records]
    present = {key: {str(d[key]) for d in datas} for key in ("status", "severity", "type")}
    return {
        "status": [s for s in STATUSES if s in present["status"]],
        "severity": [s for s in SEVERITIES if s in present["severity"]],
        "type": sorted(present["type"]),
        "service": sorted({s for d in datas for s in d.get("services") or ()}, key=str.casefold),
        "year": sorted({d["opened_at"][:4] for d in datas}, reverse=True),
    }


def search_words(record: IncidentRecord, summary: str) -> str:
    """The words an incident is found by (title, summary, timeline, ID, services),
    lower case, each once: a query matches when each of its words is part of one."""
    data = record.data
    parts = [data["id"], data["title"], summary, " ".join(data.get("services") or [])]
    parts.extend(entry["text"] for entry in record.timeline or ())
    words = dict.fromkeys(_WORD.findall(" ".join(parts).casefold()))
    return " ".join(words)


def search_index_js(words: dict[str, str]) -> str:
    """`search-index.js`: {ID: words} for site.js, loaded with a plain <script src>
    (works from file:// too, where fetch() does not). IDs and words (\\w+) hold no
    quote, `<` or control character; all else non-ASCII is written as a \\u escape
    (ensure_ascii, U+2028/U+2029 included), so the JSON is a JavaScript literal."""
    document = json.dumps(words, ensure_ascii=True, separators=(",", ":")).replace("<", LT)
    return f"window.INCIDENTCTL_SEARCH = {document};\n"


def incident_page(
    record: IncidentRecord, body: markup.Body, history: list[Change]
) -> dict[str, Any]:
    """What incident.html.j2 shows of one incident."""
    data = record.data
    opened = data["opened_at"]
    figures = [
        ("Time to acknowledge", seconds_between(opened, data.get("acknowledged_at"))),
        ("Time to mitigate", seconds_between(opened, data.get("mitigated_at"))),
        ("Time to resolve", seconds_between(opened, data.get("resolved_at"))),
    ]
    source = data.get("source") or None
    return {
        "incident": data,
        "path": record.path,
        "roles": sorted((data.get("roles") or {}).items()),
        "times": [(label, data.get(key)) for key, label in TIMES if data.get(key)],
        "figures": [(label, value) for label, value in figures if value is not None],
        "summary_html": markup.trusted(markup.render(body.summary)),
        "body_html": markup.trusted(markup.render(body.rest)),
        "timeline": list(record.timeline or ()),
        "actions": [_action(item) for item in data.get("action_items") or ()],
        "history": [_change(change) for change in history],
        "source": _source(source) if isinstance(source, dict) else None,
    }


def _action(item: dict[str, Any]) -> dict[str, Any]:
    issue = item.get("issue")
    link = issue if isinstance(issue, str) and issue.startswith(("https://", "http://")) else None
    return {**item, "issue_url": link}


def _change(change: Change) -> dict[str, Any]:
    from datetime import timezone

    at = datetime.fromtimestamp(change.at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "sha": change.sha,
        "short": change.sha[:10],
        "at": at,
        "author": change.author,
        "subject": change.subject,
    }


def _incident_href(ident: object) -> str | None:
    if isinstance(ident, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", ident):
        return f"{ident}.html"
    return None


def _source(source: dict[str, Any]) -> dict[str, Any]:
    """How an alert opened the incident: its format, key, counts and links (the
    payload itself stays in the file)."""
    links = source.get("links") or {}
    url = source.get("url")
    all_links = [("source", url)] if isinstance(url, str) else []
    all_links += [(str(k), v) for k, v in sorted(links.items()) if isinstance(v, str)]
    return {
        "kind": source.get("kind"),
        "format": source.get("format"),
        "key": source.get("key"),
        "received": source.get("received"),
        "last_at": source.get("last_at"),
        # An ID links to its page; anything else (hand-edited) is shown as text.
        "recurrence_of": source.get("recurrence_of"),
        "recurrence_href": _incident_href(source.get("recurrence_of")),
        "alerts": sorted((source.get("alerts") or {}).items()),
        "links": [(name, url, markup.is_safe_url(url) and "://" in url) for name, url in all_links],
    }
