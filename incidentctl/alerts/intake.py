"""Alerts into incidents: de-duplication, grouping, folded repeats, recurrences.

Payloads are grouped by their key (`Notice.ref`). A key whose incident is still
active gets timeline entries there; otherwise the first firing payload opens a new
incident, linked to the key's last resolved one as its recurrence. Within an
incident each alert of the group keeps its own state by fingerprint: one resolved
alert out of three is recorded as such and changes nothing else; when all have
resolved the incident says so and, with `alerts.resolve_to`, moves on. A repeat
that changes nothing is counted in one entry ("Fired again x12 since 14:05Z", with a
multiplication sign) instead of a line per payload. Each incident touched gets one
commit. A payload for a service under maintenance (a window in progress when it was
received: repo/maintenance.py) opens or touches no incident: it is listed in the
window's file instead, one commit per window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..incident.file import IncidentFile
from ..incident.model import Incident, IncidentType, Status
from ..incident.timeline import Entry
from ..incident.timeutil import utcnow
from ..incident.vocab import parse_severity
from ..repo import maintenance
from ..repo.incidents import IncidentRepo
from .config import AlertsConfig, environment
from .config import load as load_settings
from .folding import (
    MAX_TRACKED,
    NAMES_SHOWN,
    OPEN,
    Outcome,
    author_of,
    fold,
    names,
)
from .notice import FIRING, Notice
from .redact import redact


@dataclass
class _Known:
    id: str
    status: Status
    opened_at: datetime


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
    outcomes: list[Outcome] = []
    with repo.git.lock():
        if commit:
            repo.refuse_commit()
        kept = _suppress(repo, notices, commit, trailers or {}, outcomes)
        groups: dict[str, list[tuple[Notice, datetime]]] = {}
        for notice, received in kept:  # incident files keep times to the second
            groups.setdefault(notice.ref, []).append((notice, received.replace(microsecond=0)))
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


def _suppress(
    repo: IncidentRepo,
    notices: Sequence[tuple[Notice, datetime]],
    commit: bool,
    trailers: dict[str, str],
    outcomes: list[Outcome],
) -> list[tuple[Notice, datetime]]:
    """Record each payload for a service under maintenance in its window (an outcome
    with no incident, `ignored`); the payloads left to apply. A payload naming no
    service is never suppressed."""
    if not any(notice.services for notice, _ in notices):
        return list(notices)
    windows = maintenance.windows(repo)
    kept = []
    held: dict[str, tuple[dict[str, Outcome], list[maintenance.Suppressed]]] = {}
    for notice, received in notices:
        at = received.replace(microsecond=0)
        window = maintenance.active_for(repo, notice.services, at, among=windows)
        if window is None:
            kept.append((notice, received))
            continue
        by_ref, alerts = held.setdefault(window.id, ({}, []))
        outcome = by_ref.setdefault(
            notice.ref, Outcome(notice.ref, extra={"maintenance": window.id})
        )
        outcome.payloads += 1
        outcome.ignored += 1
        alerts.append(maintenance.Suppressed(at, notice.format, notice.key, notice.title))
    for ident, (by_ref, alerts) in held.items():
        # `Alert-Ref` names the keys, so that a receiver's batch cut short by a crash is
        # not recorded twice (writer.recover skips the keys it finds committed).
        refs = {**trailers, "Alert-Ref": " ".join(by_ref)}
        sha = maintenance.record_alerts(repo, ident, alerts, commit=commit, trailers=refs)
        for outcome in by_ref.values():
            outcome.commit = sha
            outcomes.append(outcome)
    return kept


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
    active = [k for k in known if k.status in (*OPEN, Status.MONITORING)]
    if active:
        target = active[0]

        def mutate(file: IncidentFile) -> str:
            before = str(file.data.get("status"))
            subject = fold(repo, settings, file, group, outcome)
            outcome.status = str(file.data.get("status"))
            if outcome.status != before:
                outcome.extra["status_from"] = before
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
            fold(repo, settings, file, rest, outcome, opening=True)

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
        text = f"{len(firing)} alert{'s' if len(firing) != 1 else ''} firing: {names(firing)}"
        if notice.truncated:
            text += f"; {notice.truncated} more not listed by the sender"
    else:
        text = f"Fired: {notice.title}"
    if previous:
        text += f". Recurrence of {previous}"
    file.add_entry(Entry(received, author_of(notice), "alert", text))
    return text


def _subject_open(severity: str, notice: Notice, more: int) -> str:
    from ..repo.base import one_line

    extra = f" (+{more} payload{'s' if more != 1 else ''})" if more else ""
    return f"open {severity} from {notice.format}: {one_line(notice.title, 40)}{extra}"
