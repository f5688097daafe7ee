"""What payloads do to an incident's file: entries per alert of the group, repeats
counted in one entry, "all resolved" and the status it may move to."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..incident.file import IncidentFile
from ..incident.model import Incident, Status
from ..incident.timeline import Entry
from ..incident.timeutil import format_ts
from ..repo.incidents import IncidentRepo
from ..repo.lifecycle import move_status
from .config import AlertsConfig
from .notice import ACKNOWLEDGED, FIRING, RESOLVED, Member, Notice

AUTHORS = {
    "alertmanager": "Alertmanager",
    "grafana": "Grafana",
    "pagerduty": "PagerDuty",
    "datadog": "Datadog",
}


NAMES_SHOWN = 8  # alerts named in one entry; the rest are counted


MAX_TRACKED = 500  # fingerprints kept per incident


TIMES = "\N{MULTIPLICATION SIGN}"


FOLD = re.compile(r"^Fired again(?: \N{MULTIPLICATION SIGN}(\d+))?(?: |$)")


OPEN = (Status.TRIAGE, Status.INVESTIGATING, Status.IDENTIFIED)


@dataclass
class Outcome:
    """What the payloads of one key did."""

    alert_key: str  # the ref: `alert-…`
    id: str | None = None
    path: str | None = None
    commit: str | None = None
    deduplicated: bool = False  # folded into an incident that was already open
    opened: bool = False
    recurrence_of: str | None = None
    status: str | None = None
    severity: str | None = None
    payloads: int = 0
    entries: list[str] = field(default_factory=list)
    ignored: int = 0  # payloads with nothing to do (resolved, with nothing open)
    extra: dict[str, Any] = field(default_factory=dict)

    def events(self) -> list[str]:
        """The notification rules' events of what the payloads did to a committed
        incident: opened it, or moved its status (alerts.resolve_to)."""
        if self.id is None or self.commit is None:
            return []
        if self.opened:
            return ["open"]
        if "status_from" in self.extra:
            return ["status", "resolved"] if self.status == "resolved" else ["status"]
        return []

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "status": self.status,
            "severity": self.severity,
            "commit": self.commit,
            "deduplicated": self.deduplicated,
            "alert_key": self.alert_key,
            "opened": self.opened,
            "recurrence_of": self.recurrence_of,
            "payloads": self.payloads,
            "ignored": self.ignored,
            "entries": self.entries,
            **self.extra,
        }


def author_of(notice: Notice) -> str:
    if notice.format == "plain":
        return str(notice.payload.get("source") or "monitor")[:100] or "monitor"
    return AUTHORS[notice.format]


def names(members: Sequence[Any]) -> str:
    shown = ", ".join(m.name for m in members[:NAMES_SHOWN])
    more = len(members) - NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def fold(
    repo: IncidentRepo,
    settings: AlertsConfig,
    file: IncidentFile,
    group: Sequence[tuple[Notice, datetime]],
    outcome: Outcome,
    *,
    opening: bool = False,
) -> str:
    """Apply payloads to an incident's file; the commit subject, which says what
    happened: `alerts: 3 payloads (1 new firing, 1 resolved, 1 repeat; status triage ->
    monitoring)`."""
    source = dict(file.data.get("source") or {})
    states: dict[str, str] = dict(source.get("alerts") or {})
    tally: Counter[str] = Counter()
    moved = ""
    last = None
    for notice, received in group:
        author = author_of(notice)
        before = sum(tally.values())
        texts = _events(notice, states, tally)
        for text in texts:
            file.add_entry(Entry(received, author, "alert", text))
            outcome.entries.append(text)
        if sum(tally.values()) == before:  # nothing new in it
            if notice.status == FIRING:
                outcome.entries.append(
                    _repeat(file, notice, received, author, settings.fold_window)
                )
            tally["repeat" if notice.status == FIRING else "unchanged"] += 1
        if notice.status == RESOLVED and states and all(s == RESOLVED for s in states.values()):
            moved = _all_resolved(repo, settings, file, received, author, len(states), outcome)
        last = received
    source["alerts"] = states
    source["received"] = int(source.get("received") or 0) + len(group)
    if last is not None:
        source["last_at"] = last
    file.set_field("source", source)
    if opening:
        return ""
    plural = {"repeat": "repeats", "new firing": "new firing", "unchanged": "unchanged"}
    shown = ", ".join(
        f"{n} {plural.get(word, word) if n != 1 else word}" for word, n in tally.items() if n
    )
    payloads = f"{len(group)} payload{'s' if len(group) != 1 else ''}"
    return f"alerts: {payloads} ({shown}{'; ' + moved if moved else ''})"


def _events(notice: Notice, states: dict[str, str], tally: Counter[str]) -> list[str]:
    """The entries a payload makes, updating the per-fingerprint `states` and `tally`."""
    name = AUTHORS.get(notice.format, "the monitor")
    if notice.status == ACKNOWLEDGED:
        tally["acknowledged"] += 1
        return [f"Acknowledged in {name}" + (f" by {notice.actor}" if notice.actor else "")]
    if notice.status not in (FIRING, RESOLVED):
        tally["other"] += 1
        return [f"{name}: {notice.event or 'event'}"]
    joined: list[Member] = []
    refired: list[Member] = []
    resolved: list[Member | _Unnamed] = []
    for member in notice.members:
        before = states.get(member.fingerprint)
        if member.status == FIRING and before is None and len(states) < MAX_TRACKED:
            joined.append(member)
        elif member.status == FIRING and before == RESOLVED:
            refired.append(member)
        elif member.status == RESOLVED and before != RESOLVED:
            resolved.append(member)
        if before is not None or len(states) < MAX_TRACKED:
            states[member.fingerprint] = member.status
    if notice.status == RESOLVED:
        # A group resolved as a whole: the alerts the sender no longer lists (dropped
        # after an earlier resolve, or cut by max_alerts) are resolved too.
        for fingerprint, state in states.items():
            if state == FIRING:
                states[fingerprint] = RESOLVED
                resolved.append(_Unnamed(fingerprint))
    tally["new firing"] += len(joined)
    tally["firing again"] += len(refired)
    tally["resolved"] += len(resolved)
    out = []
    total = len(states)
    firing = sum(1 for s in states.values() if s == FIRING)
    if joined:
        out.append(
            f"{len(joined)} new alert{'s' if len(joined) != 1 else ''} firing: "
            f"{names(joined)} ({firing} of {total} firing)"
        )
    if refired:
        out.append(f"Firing again: {names(refired)} ({firing} of {total} firing)")
    if resolved and firing:
        named = [m for m in resolved if not isinstance(m, _Unnamed)]
        what = names(named) if named else f"{len(resolved)} alerts"
        out.append(
            f"Resolved: {what} ({total - firing} of {total} resolved, {firing} still firing)"
        )
    return out


@dataclass
class _Unnamed:
    fingerprint: str
    name: str = "an alert no longer listed"


def _all_resolved(
    repo: IncidentRepo,
    settings: AlertsConfig,
    file: IncidentFile,
    when: datetime,
    author: str,
    total: int,
    outcome: Outcome,
) -> str:
    """Every alert of the group resolved: say so, and move on when configured; the
    status move made, if any."""
    text = "All alerts resolved" if total != 1 else "Alert resolved"
    if total > 1:
        text = f"All {total} alerts resolved"
    file.add_entry(Entry(when, author, "alert", text))
    outcome.entries.append(text)
    if not settings.resolve_to:
        return ""
    status = Incident.model_validate(file.data).status
    target = Status(settings.resolve_to)
    if status in OPEN or (target == Status.RESOLVED and status == Status.MONITORING):
        note = f"every alert of the group resolved (alerts.resolve_to = {settings.resolve_to})"
        moved = move_status(repo, file, target, when, author, note)
        outcome.entries.append(moved)
        return moved
    return ""


def _repeat(
    file: IncidentFile, notice: Notice, when: datetime, author: str, window: timedelta
) -> str:
    """Count a repeat in the last fold entry while it is recent, else start one."""
    folds = [e for e in file.timeline() if e.kind == "alert" and e.author == author]
    last = folds[-1] if folds else None
    match = FOLD.match(last.text) if last else None
    latest = "" if notice.title == file.data.get("title") else f"; last: {notice.title}"
    if last is not None and match and timedelta(0) <= when - last.at <= window:
        count = int(match.group(1) or 1) + 1
        text = f"Fired again {TIMES}{count} since {_hm(last.at)} (last {_hm(when)}){latest}"
        file.replace_entry(last, Entry(last.at, author, "alert", text))
        return text
    text = f"Fired again ({_hm(when)}){latest}"
    file.add_entry(Entry(when, author, "alert", text))
    return text


def _hm(moment: datetime) -> str:
    return format_ts(moment)[11:16] + "Z"
