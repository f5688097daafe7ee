"""What subscribers read: `status.json` (Statuspage's summary shape) and `feed.xml` (Atom).

Both are made from public.status_data only. The JSON is escaped like all of
incidentctl's JSON (safetext.json_safe); the feed is written by ElementTree, with
every text's control and bidi characters made visible first (XML 1.0 cannot carry
most control characters at all).
"""

from __future__ import annotations

import json
import uuid
from html import escape

from ...safetext import is_unsafe, json_safe, safe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50
LABEL = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "completed": "Completed",
}


def status_json(status: dict[str, Any]) -> str:
    """Statuspage's `summary.json` shape: page, status, components, incidents
    (unresolved), scheduled_maintenances (scheduled and in progress); plus
    `past_incidents` (resolved in the last 90 days) and each component's `days`."""
    base = status["site_url"]

    def incident(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": item["id"],
            "name": item["name"],
            "status": item["status"],
            "impact": item["impact"],
            "created_at": item["created_at"],
            "started_at": item["started_at"],
            "updated_at": item["updated_at"],
            "monitoring_at": item["monitoring_at"],
            "resolved_at": item["resolved_at"],
            "shortlink": _url(base, item["href"]),
            "components": [{"name": c} for c in item["components"]],
            "incident_updates": [
                {"status": u["status"], "body": u["body"], "created_at": u["at"]}
                for u in item["updates"]
            ],
        }

    document = {
        "page": {"name": status["title"], "url": base, "updated_at": status["now"]},
        "status": {"indicator": status["indicator"], "description": status["description"]},
        "components": [
            {
                "id": c["id"],
                "name": c["name"],
                "status": c["status"],
                "days": [{"date": d["date"], "status": d["status"]} for d in c["days"]],
            }
            for c in status["components"]
        ],
        "incidents": [incident(i) for i in status["active"]],
        "past_incidents": [incident(i) for i in status["recent"]],
        "scheduled_maintenances": [
            {
                "id": m["id"],
                "name": m["name"],
                "status": m["status"],
                "scheduled_for": m["start"],
                "scheduled_until": m["end"],
                "components": [{"name": c} for c in m["components"]],
                "body": m["description"],
            }
            for m in status["in_progress"] + status["scheduled"]
        ],
    }
    return inert_json(document, indent=2) + "\n"


def inert_json(document: Any, indent: int | None = None) -> str:
    """JSON as incidentctl writes it: control, bidi and invisible characters as \\u
    escapes (safetext.json_safe, which looks at every character; here each distinct
    character is looked at once), and, as Go's encoding/json does, `<`, `>` and `&`
    (only ever inside strings) too, so the text is inert even pasted into HTML."""
    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(document, ensure_ascii=False, indent=indent, separators=separators)
    if not text.isascii():
        for char in set(text):
            if not char.isascii() and is_unsafe(char):
                text = text.replace(char, json_safe(char))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def atom_feed(status: dict[str, Any]) -> str:
    """An Atom feed: one entry per public incident and maintenance window, newest
    first, each with all its updates; ids are stable across builds."""
    import xml.etree.ElementTree as ET

    ET.register_namespace("", ATOM)
    base = status["site_url"]
    seed = base or status["title"]
    entries = [
        (i["updated_at"], i["id"], _incident_entry(i, base)) for i in status["incidents"]
    ] + [(_window_updated(m), m["id"], _window_entry(m, base)) for m in status["maintenance"]]
    entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
    entries = entries[:FEED_ENTRIES]
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", _urn(seed, "feed"))
    _text(feed, "title", status["title"])
    _text(feed, "updated", entries[0][0] if entries else status["now"])
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", status["title"])
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=_url(base, "index.html"))
    if base:
        ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=_url(base, "feed.xml"))
    for updated, ident, fields in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", _urn(seed, ident))
        _text(entry, "title", fields["title"])
        _text(entry, "updated", updated)
        _text(entry, "published", fields["published"])
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=fields["link"])
        content = _text(entry, "content", fields["html"])
        content.set("type", "html")
    ET.indent(feed)
    return ET.tostring(feed, encoding="unicode", xml_declaration=True) + "\n"


def _incident_entry(item: dict[str, Any], base: str | None) -> dict[str, str]:
    parts = [
        f"<p><strong>{LABEL[u['status']]}</strong> ({escape(u['at'])}): {escape(u['body'])}</p>"
        for u in item["updates"]
    ]
    affected = ", ".join(item["components"])
    if affected:
        parts.append(f"<p>Affected: {escape(affected)}</p>")
    return {
        "title": f"[{LABEL[item['status']]}] {item['name']}",
        "published": item["created_at"],
        "link": _url(base, item["href"]),
        "html": "\n".join(parts),
    }


def _window_entry(item: dict[str, Any], base: str | None) -> dict[str, str]:
    parts = [
        f"<p><strong>{LABEL[item['status']]}</strong>: {escape(item['start'])} to "
        f"{escape(item['end'])}</p>",
        f"<p>Affected: {escape(', '.join(item['components']))}</p>",
    ]
    if item["description"]:
        parts.append(f"<p>{escape(item['description'])}</p>")
    return {
        "title": f"[Maintenance, {LABEL[item['status']].lower()}] {item['name']}",
        "published": item["created_at"],
        "link": _url(base, "index.html") + f"#{item['id']}",
        "html": "\n".join(parts),
    }


def _window_updated(item: dict[str, Any]) -> str:
    """When a window last changed as a reader sees it: announced, began, or ended."""
    moment = {"completed": "end", "in_progress": "start"}.get(item["status"], "created_at")
    return str(item[moment])


def _text(parent: Any, tag: str, text: str) -> Any:
    import xml.etree.ElementTree as ET

    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = xml_text(text)
    return element


def xml_text(text: str) -> str:
    """Text XML 1.0 can hold: unsafe characters as visible escapes, non-characters out."""
    return safe(text, keep="\n").replace("\ufffe", "").replace("\uffff", "")


def _urn(seed: str, name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"incidentctl-status:{seed}#{name}").urn


def _url(base: str | None, path: str) -> str:
    return f"{base.rstrip('/')}/{path}" if base else path
