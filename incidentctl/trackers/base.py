"""What every tracker offers the exactly-once sync (sync.py), and the marker.

A ticket is ours when it carries the marker of one action item: `INCIDENT/AI-N`.
GitHub and GitLab keep it as the last line of the body, an HTML comment nobody sees
(`marker`, `body_key`); Jira keeps it in an issue property. Tickets are found by
listing everything with our label and reading the marker, never by search (it
lags) and never by title.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .http import Policy

# The marker exactly as `marker()` writes it: trusted only as the body's last line.
MARKER = re.compile(r"<!-- incidentctl:([A-Za-z0-9._-]+)/(AI-[0-9]+) -->")
# Anything that looks like a marker, wherever it is: a body with two is not ours.
MARKER_LIKE = re.compile(r"<!--\s*incidentctl\s*:", re.IGNORECASE)
KEY = re.compile(r"[A-Za-z0-9._-]+/AI-[0-9]+")
DEFAULT_LABEL = "incident-action-item"
PRIORITIES = {"SEV-1": "Highest", "SEV-2": "High", "SEV-3": "Medium", "SEV-4": "Low"}


def marker(incident_id: str, action_id: str) -> str:
    return f"<!-- incidentctl:{incident_id}/{action_id} -->"


def body_key(body: str | None) -> str | None:
    """`INCIDENT/AI-N` if the body is one incidentctl wrote, else None.

    Ours ends with the marker as its last line, exactly, and holds no other
    marker-like text: a marker quoted elsewhere in a body (in a title pasted into
    it, or by whoever wrote the issue) makes no issue ours.
    """
    text = (body or "").replace("\r\n", "\n").rstrip(" \t\n")
    last = text.rsplit("\n", 1)[-1].strip(" \t")
    match = MARKER.fullmatch(last)
    if match is None or len(MARKER_LIKE.findall(text)) != 1:
        return None
    return f"{match.group(1)}/{match.group(2)}"


def inert(text: str) -> str:
    """Text for a ticket body that cannot open or close an HTML comment (nor a tag)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert_title(text: str) -> str:
    """Text for a ticket title (shown as plain text) without `<!--` or `-->` in it."""
    while "<!--" in text or "-->" in text:
        text = text.replace("<!--", "< !--").replace("-->", "-- >")
    return text


@dataclass
class Ticket:
    """One ticket as a tracker shows it."""

    ref: str  # how people name it: "#12", "OPS-7", "group/project#3"
    url: str  # its web page
    open: bool
    key: str | None = None  # the action item it is for (the marker), or None: not ours
    number: int | None = None  # GitHub's and GitLab's issue number (iid)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Draft:
    """A ticket to create for one action item."""

    key: str  # INCIDENT/AI-N
    title: str  # inert already
    body: str  # Markdown, ending with the marker line
    labels: list[str]
    severity: str  # SEV-N: a priority for trackers that have one
    text: str = ""  # the body as plain text without the marker (Jira)


class Tracker(Protocol):
    """One place tickets go: a GitHub repository, a Jira project, a GitLab project."""

    name: str  # as configured ([trackers.NAME]); the type for the one from the environment
    kind: str  # github, jira, gitlab
    label: str
    policy: Policy

    def where(self) -> str:
        """`GitHub acme/incidents`, `Jira OPS`: for messages."""
        ...

    def incident_url(self, rel: str) -> str | None:
        """A web link to the incident file at `rel`, if this tracker knows one."""
        ...

    def list_ours(self) -> Iterator[Ticket]:
        """Every ticket with the label, open or closed, all pages."""
        ...

    def recent(self) -> Iterator[Ticket]:
        """The newest tickets with the label (one page): to find a creation whose
        answer was lost."""
        ...

    def recorded(self, url: str) -> Ticket | None:
        """The ticket at a URL an action item recorded, if it is one of this tracker's."""
        ...

    def create(self, draft: Draft) -> Ticket:
        """Create one ticket; never retried blindly (a 502 may hide a created one)."""
        ...

    def close(self, ticket: Ticket) -> None:
        """Close a ticket whose action item is done."""
        ...
