"""Alerts into incidents: de-duplication, grouping, folded repeats, recurrences.

Payloads are grouped by their key (`Notice.ref`). A key whose incident is still
active gets timeline entries there; otherwise the first firing payload opens a new
incident, linked to the key's last resolved one as its recurrence. Within an
incident each alert of the group keeps its own state by fingerprint: one resolved
alert out of three is recorded as such and changes nothing else; when all have
resolved the incident says so and, with `alerts.resolve_to`, moves on. A repeat
that changes nothing is counted in one entry ("Fired again x12 since 14:05Z", with a
multiplication sign) instead of a line per payload. Each incident touched gets one
commit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..incident.file import IncidentFile
from ..incident.model import Incident, IncidentType, Status
from ..incident.timeline import Entry
from ..incident.timeutil import format_ts, utcnow
from ..incident.vocab import parse_severity
from ..repo.incidents import IncidentRepo
from ..repo.lifecycle import move_status
from .config import AlertsConfig, environment
from .config import load as load_settings
from .notice import ACKNOWLEDGED, FIRING, RESOLVED, Member, Notice
from .redact import redact

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
_OPEN = (Status.TRIAGE, Status.INVESTIGATING, Status.IDENTIFIED)


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


@dataclass
class _Known:
    id: str
    status: Status
    opened_at: datetime


def author_of(notice: Notice) -> str:
    if notice.format == "plain":
        return str(notice.payload.get("source") or "monitor")[:100] or "monitor"
    return AUTHORS[notice.format]


def apply(
    repo: IncidentRepo,
    notices: Sequence[tuple[Notice, datetime]],
    *,
    dedupe: bool = True,
    commit: bool = True,
    trailers: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> list[Outcome]:
    """Apply payloads (each with the time it was received), in order; one commit per
    incident touched. Holds the repository lock throughout. `overrides` (title,
    severity, type, environment, services, commander, summary) replace what the payload
    says for an incident opened here (`open TITLE --alert-payload …`)."""
    settings = load_settings(repo.config)
    groups: dict[str, list[tuple[Notice, datetime]]] = {}
    for notice, received in notices:  # incident files keep times to the second
        groups.setdefault(notice.ref, []).append((notice, received.replace(microsecond=0)))
    outcomes = []
    with repo.git.lock():
        if commit:
            repo.refuse_commit()
        known = find(repo, list(groups)) if dedupe else {}
        for ref, group in groups.items():
            outcome = _apply_group(
                repo,
                settings,
                ref,
                group,
                known.get(ref, []),
                commit,
                trailers or {},
                overrides or {},
            )
            outcomes.append(outcome)
    return outcomes


def find(repo: IncidentRepo, refs: list[str]) -> dict[str, list[_Known]]:
    """The incidents that hold each ref in `source.ref`, newest first (one git grep)."""
    found: dict[str, list[_Known]] = {}
    wanted = set(refs)
    for rel in repo.git.files_containing(refs, repo.config.incidents_dir):
        try:
            file = IncidentFile.read(repo.root / rel, rel, known=repo.known, root=repo.git.top)
            source = file.data.get("source")
            ref = source.get("ref") if isinstance(source, dict) else None
            if ref not in wanted:
                continue
            incident = Incident.model_validate(file.data)
        except Exception:  # noqa: S112 - a broken file is `check`'s to report, not ours
            continue
        found.setdefault(str(ref), []).append(
            _Known(incident.id, incident.status, incident.opened_at)
        )
    for items in found.values():
        items.sort(key=lambda k: k.opened_at, reverse=True)
    return found


def _apply_group(
    repo: IncidentRepo,
    settings: AlertsConfig,
    ref: str,
    group: list[tuple[Notice, datetime]],
    known: list[_Known],
    commit: bool,
    trailers: dict[str, str],
    overrides: dict[str, Any],
) -> Outcome:
    outcome = Outcome(ref, payloads=len(group))
    trailers = {**trailers, "Alert-Ref": ref}
    active = [k for k in known if k.status in (*_OPEN, Status.MONITORING)]
    if active:
        target = active[0]

        def mutate(file: IncidentFile) -> str:
            subject = _fold(repo, settings, file, group, outcome)
            outcome.status = str(file.data.get("status"))
            outcome.severity = str(file.data.get("severity"))
            return subject

        change = repo.change(target.id, mutate, commit=commit, command="alert", trailers=trailers)
        outcome.deduplicated = True
        outcome.id, outcome.path, outcome.commit = change.id, change.path, change.commit
        outcome.extra.update(change.extra)
        return outcome
    first = next((n for n, (notice, _) in enumerate(group) if notice.status == FIRING), None)
    if first is None:  # resolved or acknowledged, and nothing open: nothing to record
        outcome.ignored = len(group)
        return outcome
    outcome.ignored = first
    notice, received = group[first]
    rest = group[first + 1 :]
    previous = known[0].id if known else None
    source = _source(notice, received, previous)

    def amend(file: IncidentFile) -> None:
        outcome.entries.append(_opened_entry(file, notice, received, previous))
        if rest:
            _fold(repo, settings, file, rest, outcome, opening=True)

    fields: dict[str, Any] = {
        "title": notice.title[:200],
        "severity": settings.severity(notice.severity),
        "type": notice.type if notice.type in {t.value for t in IncidentType} else None,
        "environment": environment(notice.environment, repo.config.default_environment),
        "services": notice.services,
        "commander": None,
        "summary": _summary(notice),
    }
    fields.update({k: v for k, v in overrides.items() if v not in (None, (), [])})
    fields["severity"] = parse_severity(str(fields["severity"])).value
    change = repo.new(
        **fields,
        detected_at=received,
        started_at=min(notice.started_at, received).replace(microsecond=0)
        if notice.started_at
        else None,
        source=source,
        opened_at=received,
        now=max(received, utcnow()),
        commit=commit,
        amend=amend,
        subject=_subject_open(str(fields["severity"]), notice, len(rest)),
        trailers=trailers,
    )
    outcome.opened = True
    outcome.recurrence_of = previous
    outcome.id, outcome.path, outcome.commit = change.id, change.path, change.commit
    outcome.status, outcome.severity = change.extra["status"], change.extra["severity"]
    outcome.extra.update({k: v for k, v in change.extra.items() if k == "pushed"})
    return outcome


def _source(notice: Notice, received: datetime, previous: str | None) -> dict[str, Any]:
    source: dict[str, Any] = {
        "kind": "alert",
        "format": notice.format,
        "key": notice.key[:500],
        "ref": notice.ref,
        "alerts": {m.fingerprint: m.status for m in notice.members[:MAX_TRACKED]},
        "links": notice.links,
        "received": 1,
        "last_at": received,
    }
    if previous:
        source["recurrence_of"] = previous
    source["payload"] = redact(notice.payload)
    return source


def _summary(notice: Notice) -> str | None:
    parts = [notice.summary] if notice.summary else []
    if notice.alert_summaries and not notice.summary:
        shown = notice.alert_summaries[:NAMES_SHOWN]
        more = len(notice.alert_summaries) - len(shown)
        parts.append(
            "\n".join(f"- {text}" for text in shown) + (f"\n- and {more} more" if more > 0 else "")
        )
    links = " · ".join(f"[{name}](<{_href(url)}>)" for name, url in notice.links.items())
    if links:
        parts.append(f"Alert links: {links}")
    return "\n\n".join(parts) or None


def _href(url: str) -> str:
    return url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")


def _opened_entry(
    file: IncidentFile, notice: Notice, received: datetime, previous: str | None
) -> str:
    firing = [m for m in notice.members if m.status == FIRING]
    if notice.format in ("alertmanager", "grafana"):
        text = f"{len(firing)} alert{'s' if len(firing) != 1 else ''} firing: {_names(firing)}"
        if notice.truncated:
            text += f"; {notice.truncated} more not listed by the sender"
    else:
        text = f"Fired: {notice.title}"
    if previous:
        text += f". Recurrence of {previous}"
    file.add_entry(Entry(received, author_of(notice), "alert", text))
    return text


def _names(members: Sequence[Any]) -> str:
    shown = ", ".join(m.name for m in members[:NAMES_SHOWN])
    more = len(members) - NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _fold(
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
            f"{_names(joined)} ({firing} of {total} firing)"
        )
    if refired:
        out.append(f"Firing again: {_names(refired)} ({firing} of {total} firing)")
    if resolved and firing:
        named = [m for m in resolved if not isinstance(m, _Unnamed)]
        what = _names(named) if named else f"{len(resolved)} alerts"
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
    if status in _OPEN or (target == Status.RESOLVED and status == Status.MONITORING):
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


def _subject_open(severity: str, notice: Notice, more: int) -> str:
    from ..repo.base import one_line

    extra = f" (+{more} payload{'s' if more != 1 else ''})" if more else ""
    return f"open {severity} from {notice.format}: {one_line(notice.title, 40)}{extra}"
