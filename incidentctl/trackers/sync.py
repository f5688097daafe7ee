"""`incidentctl issues sync`: one ticket per action item, exactly once, in any tracker.

Existing tickets are found by listing every ticket with our label (all pages, open
and closed) and reading the marker of each (base.py); never by search (it lags) and
never by title. A creation that fails with a 5xx or a lost answer may still have
happened, so before trying again the newest tickets are listed to look for its
marker. The same for GitHub, Jira and GitLab: only the tracker differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import IncidentctlError
from .base import Draft, Ticket, Tracker, inert, inert_title, marker
from .http import TrackerError

if TYPE_CHECKING:
    from ..incident.model import ActionItem, Incident
    from ..repo.incidents import IncidentRepo

RESULTS = ("created", "existing", "closed", "failed")


def _inert_fields(value: Any) -> Any:
    """Every string inside a dumped model, made inert for a ticket body."""
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, dict):
        return {key: _inert_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_inert_fields(item) for item in value]
    return value


@dataclass
class Outcome:
    incident: str
    action: str
    result: str  # created, existing, closed, failed, or skipped (done, never opened)
    number: int | None = None
    url: str | None = None
    error: str | None = None
    stop: bool = False  # a dropped label or a long rate limit: the run must not go on
    ticket: str | None = None  # the tracker's name for it: "#12", "OPS-7"

    @classmethod
    def of(cls, incident: str, action: str, result: str, ticket: Ticket) -> Outcome:
        return cls(incident, action, result, ticket.number, ticket.url or None, ticket=ticket.ref)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "incident": self.incident,
            "action": self.action,
            "number": self.number,
            "url": self.url,
            "ticket": self.ticket,
        }
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class SyncReport:
    dry_run: bool
    tracker: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.result == "failed" for o in self.outcomes)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dry_run": self.dry_run, "tracker": self.tracker}
        for result in RESULTS:
            out[result] = [o.as_json() for o in self.outcomes if o.result == result]
        out["duplicates"] = self.duplicates
        out["linked"] = self.linked
        return out


def _existing(tickets: Any) -> tuple[dict[str, Ticket], list[dict[str, Any]]]:
    """Tickets by marker key; a key on several keeps the oldest, the others reported."""
    found: dict[str, Ticket] = {}
    duplicates = []
    for ticket in tickets:
        if ticket.key is None:
            continue
        kept = found.get(ticket.key)
        if kept is None or _older(ticket, kept):
            if kept is not None:
                duplicates.append(_duplicate(ticket.key, kept))
            found[ticket.key] = ticket
        else:
            duplicates.append(_duplicate(ticket.key, ticket))
    return found, duplicates


def _older(a: Ticket, b: Ticket) -> bool:
    if a.number is not None and b.number is not None:
        return a.number < b.number
    return _ref_order(a.ref) < _ref_order(b.ref)


def _ref_order(ref: str) -> tuple[int, str]:
    digits = ref.rsplit("-", 1)[-1].rsplit("#", 1)[-1]
    return (int(digits), ref) if digits.isdigit() else (0, ref)


def _duplicate(key: str, ticket: Ticket) -> dict[str, Any]:
    return {"key": key, "number": ticket.number, "ticket": ticket.ref}


def _recorded(
    tracker: Tracker,
    incidents: list[tuple[Incident, Any]],
    existing: dict[str, Ticket],
    say: Callable[[str], None],
) -> None:
    """Tickets the listing missed but an action item records (`issue:`), checked by marker.

    Someone may have removed our label from a ticket; the URL written back by
    `--write-back` (or by hand) still finds it, so it is not opened a second time.
    """
    for incident, _ in incidents:
        for item in incident.action_items:
            key = f"{incident.id}/{item.id}"
            if key in existing or not item.issue:
                continue
            ticket = tracker.recorded(item.issue)
            if ticket is not None and ticket.key == key:
                existing[key] = ticket
                say(f"found {key} by its recorded URL ({ticket.ref}, without {tracker.label!r})")


def sync(
    repo: IncidentRepo,
    tracker: Tracker,
    *,
    dry_run: bool = False,
    write_back: bool = False,
    progress: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
    incidents: list[tuple[Incident, Any]] | None = None,
) -> SyncReport:
    """Reconcile the action items of the repository (or of `incidents`) with a tracker."""
    from ..incident.render import render

    say = progress or (lambda _: None)
    report = SyncReport(dry_run, tracker.name)
    if incidents is None:
        incidents = repo.valid_incidents(warn)
    say(f"listing tickets labelled {tracker.label!r} in {tracker.where()}")
    existing, report.duplicates = _existing(tracker.list_ours())
    _recorded(tracker, incidents, existing, say)
    created_any = False

    for incident, path in incidents:
        for item in incident.action_items:
            key = f"{incident.id}/{item.id}"
            ticket = existing.get(key)
            done = item.status.value == "done"
            if ticket is not None:
                outcome = Outcome.of(incident.id, item.id, "existing", ticket)
                if done and ticket.open:
                    outcome.result = "closed"
                    if not dry_run:
                        try:
                            tracker.close(ticket)
                        except TrackerError as exc:
                            outcome.result, outcome.error = "failed", str(exc)
                            outcome.stop = exc.stop
                report.outcomes.append(outcome)
                if outcome.stop:
                    break
                continue
            if done:
                report.outcomes.append(Outcome(incident.id, item.id, "skipped"))
                continue
            if dry_run:
                report.outcomes.append(Outcome(incident.id, item.id, "created"))
                continue
            if created_any and tracker.policy.pace:
                tracker.policy.sleep(tracker.policy.pace)
            created_any = True
            fields = {
                # Every field is inert: a title holding `<!-- incidentctl:… -->`
                # must not put a second marker into the body.
                "incident": _inert_fields(incident.model_dump(mode="json")),
                "item": _inert_fields(item.model_dump(mode="json")),
                "incident_url": tracker.incident_url(repo.rel(path)) or "",
                "marker": marker(incident.id, item.id),
            }
            body = render("issue.md.j2", fields, repo.root)
            draft = Draft(
                key=key,
                title=inert_title(f"[{incident.id}] {item.title}"),
                body=body,
                labels=[tracker.label],
                severity=incident.severity.value,
                text=body.replace(str(fields["marker"]), "").rstrip() + "\n",
            )
            outcome = _create(tracker, incident, item, draft)
            if outcome.result != "failed":  # failures are listed, with their error, at the end
                say(f"{outcome.result}: {key}" + (f" ({outcome.ticket})" if outcome.ticket else ""))
            report.outcomes.append(outcome)
            if outcome.stop:
                break  # every further ticket would be invisible or rate limited too
        if report.outcomes and report.outcomes[-1].stop:
            break  # ... in every incident, not only this one

    if write_back and not dry_run:
        report.linked = _write_back(repo, report, incidents)
    return report


def _create(tracker: Tracker, incident: Incident, item: ActionItem, draft: Draft) -> Outcome:
    """Create one ticket; after a 5xx or a lost answer, look for it before trying again."""
    policy = tracker.policy
    delay = policy.backoff
    last = "not attempted"
    for attempt in range(policy.retries + 1):
        if attempt:
            try:
                policy.wait(delay, last)
            except TrackerError as exc:
                return Outcome(incident.id, item.id, "failed", error=str(exc), stop=True)
            delay *= 2
            try:
                for ticket in tracker.recent():
                    if ticket.key == draft.key:
                        return Outcome.of(incident.id, item.id, "created", ticket)
            except TrackerError as exc:
                last = str(exc)
                if exc.stop:
                    return Outcome(incident.id, item.id, "failed", error=last, stop=True)
                continue
        try:
            ticket = tracker.create(draft)
        except TrackerError as exc:
            last = str(exc)
            if isinstance(exc.created, Ticket):
                outcome = Outcome.of(incident.id, item.id, "failed", exc.created)
                outcome.error, outcome.stop = last, exc.stop
                return outcome
            if exc.stop:
                return Outcome(incident.id, item.id, "failed", error=last, stop=True)
            if not exc.retryable:
                break
            continue
        return Outcome.of(incident.id, item.id, "created", ticket)
    return Outcome(incident.id, item.id, "failed", error=last)


def _write_back(
    repo: IncidentRepo, report: SyncReport, incidents: list[tuple[Incident, Any]]
) -> list[str]:
    """Record ticket URLs and keys in the action items that lack them: one commit per
    incident."""
    links: dict[str, dict[str, tuple[str, str | None]]] = {}
    known = {(i.id, a.id): (a.issue, a.ticket) for i, _ in incidents for a in i.action_items}
    for outcome in report.outcomes:
        if not outcome.url:
            continue
        if known.get((outcome.incident, outcome.action)) != (outcome.url, outcome.ticket):
            links.setdefault(outcome.incident, {})[outcome.action] = (outcome.url, outcome.ticket)
    linked = []
    for incident_id, item_links in links.items():
        try:
            repo.link_issues(incident_id, item_links)
        except IncidentctlError as exc:
            raise IncidentctlError(
                f"tickets were synced but writing their URLs failed: {exc}"
            ) from None
        linked.append(incident_id)
    return linked
