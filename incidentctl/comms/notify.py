"""Rules into actions: who is told, paged, given a war room; commands run; all recorded.

`plan` answers "what would the rules do for this incident on this event" without
doing it (`comms plan`, `notify --dry-run`). `run_event` does it: notices go through the
outbox (outbox.py) within the time budget, a war room is opened on Slack, a checklist
added, a configured command run (commands.py); then one commit records every outcome
on the incident's timeline: a notice delivered as a `comms` entry (stakeholders heard:
the cadence starts again), anything else as a `note` (and the war room's name and URL
in `war_room`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import IncidentctlError
from ..incident.timeline import Entry
from ..incident.timeutil import utcnow
from ..repo.incidents import IncidentRepo
from . import messages
from .channels.base import Channel, ChannelError, Delivery, make
from .commands import run_command
from .outbox import Outbox
from .settings import STATUS_PAGE, Settings

STAGE_OF = {
    "open": "initial",
    "status": "update",
    "severity": "update",
    "assign": "update",
    "update-due": "update",
    "action-overdue": "update",
    "resolved": "resolved",
}
PAGE_STAGE = {"open": "page", "severity": "page", "resolved": "resolved", "status": "acknowledge"}
AUTHOR = "incidentctl"


@dataclass
class Step:
    """One thing a rule does for an incident (or why it does not)."""

    origin: str
    action: str  # notify, page, war-room, checklist, run
    target: str  # a group, a channel, a checklist type or a command
    channel: str | None  # the channel a notice goes through
    stage: str
    skipped: str = ""
    recipients: tuple[str, ...] = ()

    def describe(self) -> str:
        via = f" via {self.channel}" if self.channel and self.channel != self.target else ""
        what = {
            "notify": f"tell {self.target}{via} ({self.stage})",
            "page": f"page {self.target}{via} ({self.stage})",
            "war-room": f"open a war room{via}",
            "checklist": f"add the {self.target} checklist",
            "run": f"run {self.target}",
        }[self.action]
        return what + (f": not sent, {self.skipped}" if self.skipped else "")


@dataclass
class Report:
    steps: list[Step]
    outcomes: list[str] = field(default_factory=list)  # the entries recorded
    sent: list[str] = field(default_factory=list)  # of those, the notices delivered
    failed: list[str] = field(default_factory=list)  # one line each, for stderr
    previews: list[tuple[Step, str]] = field(default_factory=list)  # --dry-run
    commit: str | None = None


def plan(
    settings: Settings,
    data: dict[str, Any],
    event: str | list[str],
    *,
    stage: str | None = None,
    only: set[str] | None = None,
) -> list[Step]:
    """What the rules do on an event (or several, as one change: a move to resolved is
    `status` and `resolved`) for an incident, its front matter as JSON. A channel gets
    one notice per change, of the last event's stage."""
    events = [event] if isinstance(event, str) else list(event)
    merged: dict[tuple[str, str | None, str], Step] = {}
    for one in events:
        for step in _plan_one(settings, data, one, stage=stage, only=only):
            key = (step.action, step.channel, step.target if not step.channel else "")
            merged.pop(key, None)
            merged[key] = step
    return list(merged.values())


def _plan_one(
    settings: Settings,
    data: dict[str, Any],
    event: str,
    *,
    stage: str | None,
    only: set[str] | None,
) -> list[Step]:
    channels = settings.channels
    steps: list[Step] = []
    seen: set[tuple[str, str | None, str]] = set()

    def add(step: Step) -> None:
        if only is not None and step.channel not in only:
            return
        if step.channel and not step.skipped:
            step.skipped = _refusal(settings, data, step.channel)
        key = (step.action, step.channel or step.target, step.stage)
        if key not in seen:
            seen.add(key)
            steps.append(step)

    for rule in settings.matching(event, data):
        for action, target in rule.do:
            if action == "notify":
                group = settings.groups.get(target)
                targets = list(group.channels) if group else [target]
                recipients = group.recipients if group else ()
                for name in targets:
                    why = ""
                    if name == STATUS_PAGE:
                        why = "the status page shows what you log with --kind public"
                    elif name not in channels:
                        why = f"no [channels.{name}] configured"
                    elif _type(channels, name) == "pagerduty":
                        continue  # a pager is for `page`: a notice never pages anyone
                    add(
                        Step(
                            rule.origin,
                            action,
                            target,
                            name,
                            stage or STAGE_OF[event],
                            why,
                            recipients,
                        )
                    )
            elif action == "page":
                page_stage = PAGE_STAGE.get(event)
                if page_stage is None or (
                    event == "status" and data["status"] in ("resolved", "closed", "cancelled")
                ):
                    continue  # (a move to resolved is the `resolved` event's to page)
                group = settings.groups.get(target)
                pagers = [
                    n
                    for n in (group.channels if group else (target,))
                    if _type(channels, n) == "pagerduty"
                ]
                pagers = pagers or [n for n in channels if _type(channels, n) == "pagerduty"]
                if not pagers:
                    add(
                        Step(
                            rule.origin,
                            action,
                            target,
                            None,
                            page_stage,
                            "no pagerduty channel configured",
                        )
                    )
                for name in pagers:
                    add(Step(rule.origin, action, target, name, page_stage))
            elif action == "war-room":
                if data.get("war_room") or event not in ("open", "severity"):
                    continue
                rooms = (
                    [target]
                    if target
                    else [n for n in channels if _type(channels, n) == "slack-api"]
                )
                if not rooms:
                    add(
                        Step(
                            rule.origin,
                            action,
                            "war room",
                            None,
                            "war-room",
                            "no slack-api channel configured",
                        )
                    )
                else:
                    add(Step(rule.origin, action, "war room", rooms[0], "war-room"))
            else:
                add(Step(rule.origin, action, target, None, STAGE_OF[event]))
    return steps


def _type(channels: Mapping[str, Any], name: str) -> str:
    return str(channels.get(name, {}).get("type", ""))


def _refusal(settings: Settings, data: dict[str, Any], channel: str) -> str:
    visibility = data.get("visibility", "internal")
    if visibility == "restricted" and channel not in settings.secure:
        return "a restricted incident goes only through channels marked secure"
    if channel in settings.public and visibility != "public":
        return f"{channel} is public and the incident is {visibility}"
    return ""


def _usable(
    settings: Settings, names: set[str], env: Mapping[str, str]
) -> tuple[dict[str, Channel], dict[str, str]]:
    """The channels that can be built; and why the others cannot (their notices wait in
    the outbox until the configuration is fixed)."""
    channels: dict[str, Channel] = {}
    broken: dict[str, str] = {}
    for name in sorted(names):
        try:
            channels.update(open_channels(settings, {name}, env))
        except ChannelError as exc:
            broken[name] = exc.message
    return channels, broken


def open_channels(
    settings: Settings, names: set[str], env: Mapping[str, str]
) -> dict[str, Channel]:
    """The channels by name, built from their tables (secrets from `env` or files)."""
    out = {}
    for name in sorted(names):
        table = {k: v for k, v in settings.channels[name].items() if k not in ("secure", "public")}
        out[name] = make(name, table, env)
    return out


def run_event(
    repo: IncidentRepo,
    settings: Settings,
    ref: str,
    event: str | list[str],
    *,
    stage: str | None = None,
    only: set[str] | None = None,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    commit: bool = True,
    note: str | None = None,
) -> Report:
    """Do what the rules say for `event`; record the outcomes in one commit (after
    `note`, a `note` entry, when given)."""
    env = os.environ if env is None else env
    now = now or utcnow()
    file, data = _current(repo, ref)
    timeline = [e.as_json() for e in file.timeline()]
    steps = plan(settings, data, event, stage=stage, only=only)
    report = Report(steps)
    if note and not dry_run:
        report.outcomes.append(note)
    live = [s for s in steps if not s.skipped]
    channels, broken = _usable(settings, {s.channel for s in live if s.channel}, env)
    report.failed += [f"{name}: {why}" for name, why in sorted(broken.items())]
    summary = _summary(repo, file)
    built = {
        id(s): messages.build(
            repo.config,
            data,
            timeline,
            s.stage,
            now=now,
            root=repo.root,
            recipients=s.recipients,
            summary=summary,
        )
        for s in live
        if s.channel
    }
    if dry_run:
        for step in steps:
            channel = channels.get(step.channel or "")
            preview = channel.preview(built[id(step)]) if channel and id(step) in built else ""
            report.previews.append((step, preview))
        return report
    outbox = Outbox(repo.git.gitdir)
    queued = {}
    for step in live:
        if step.action in ("notify", "page") and step.channel:
            queued[outbox.queue(data["id"], step.channel, built[id(step)], now).id] = step
    results = outbox.deliver(channels, budget=settings.timeout, now=now, only=set(queued))
    for result in results:
        step = queued[result.notice.id]
        if result.delivery is not None and result.delivery.ok:
            line = f"Notice ({step.stage}) sent to {step.target} via {step.channel}"
            report.outcomes.append(line)
            report.sent.append(line)
        else:
            why = result.delivery.detail if result.delivery else "no time left"
            report.failed.append(f"{step.channel}: {why}")
            report.outcomes.append(
                f"Notice ({step.stage}) to {step.target} via {step.channel} not sent yet ({why}); "
                "queued for `incidentctl notify --retry`"
            )
    war_room: dict[str, str] = {}
    for step in live:
        if step.action == "war-room" and step.channel:
            delivery = _war_room(channels[step.channel], built[id(step)], data)
            if delivery.ok:
                war_room = {"name": delivery.name or "", "url": delivery.url or ""}
                report.outcomes.append(f"War room {delivery.name} opened: {delivery.url}")
            else:
                report.failed.append(f"{step.channel}: {delivery.detail}")
                report.outcomes.append(f"War room not opened ({delivery.detail})")
        elif step.action == "run":
            last = event if isinstance(event, str) else event[-1]
            report.outcomes.append(run_command(repo, settings, step.target, data, last))
    checklists = [s.target for s in live if s.action == "checklist"]
    if report.outcomes or checklists:
        report.commit = _record(
            repo, data["id"], report.outcomes, checklists, war_room, now, commit, report.sent
        )
    return report


def _current(repo: IncidentRepo, ref: str) -> tuple[Any, dict[str, Any]]:
    from ..repo.records import front_matter

    _, path = repo.resolve(ref)
    return front_matter(repo, repo.rel(path), str(path))


def _summary(repo: IncidentRepo, file: Any) -> str:
    """The incident's summary for a notice; "" while it is still the placeholder."""
    import re

    from ..incident.sections import find_section, sections

    found = find_section(sections(file), "Summary")
    prose = found.prose.strip()[:1000] if found else ""
    if prose and re.search(repo.config.placeholder_pattern, prose):
        return ""
    return prose


def _war_room(channel: Channel, message: Any, data: dict[str, Any]) -> Delivery:
    opener = getattr(channel, "open_war_room", None)
    if opener is None:
        return Delivery(False, f"{channel.name} cannot open channels (type slack-api can)")
    members = [data.get("commander") or "", *(data.get("roles") or {}).values()]
    result: Delivery = opener(message, [m for m in members if m])
    return result


def _record(
    repo: IncidentRepo,
    ident: str,
    outcomes: list[str],
    checklists: list[str],
    war_room: dict[str, str],
    now: datetime,
    commit: bool,
    sent: list[str] | None = None,
) -> str | None:
    """One commit with the outcomes as timeline entries: a delivered notice (all of
    `outcomes` when `sent` is None) is a `comms` entry, the time stakeholders last
    heard (cadence); anything else (a notice not sent yet, a command run, a war room)
    is a `note`, so a channel that is down never counts as an update."""
    from ..incident.file import IncidentFile
    from ..incident.render import render

    delivered = set(outcomes if sent is None else sent)

    def mutate(file: IncidentFile) -> str:
        for text in outcomes:
            kind = "comms" if text in delivered else "note"
            file.add_entry(Entry(now, AUTHOR, kind, text))
        for kind in checklists:
            heading = f"## Checklist ({kind})"
            if heading not in file.text:
                body = render(f"checklist-{kind}.md.j2", {}, repo.root).strip("\n")
                file.append_body(f"{heading}\n\n{body}\n")
                file.add_entry(Entry(now, AUTHOR, "note", f"Checklist ({kind}) added"))
        if war_room:
            file.set_field("war_room", war_room)
        return f"notify: {len(outcomes)} outcome{'s' if len(outcomes) != 1 else ''}"

    try:
        change = repo.change(ident, mutate, commit=commit, command="notify")
    except IncidentctlError:
        raise
    return change.commit


def retry(
    repo: IncidentRepo,
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    force: bool = True,
) -> dict[str, list[str]]:
    """Send what the outbox holds; record what got through, per incident. {incident:
    [lines]}; failures are in the lines too."""
    env = os.environ if env is None else env
    now = now or utcnow()
    outbox = Outbox(repo.git.gitdir)
    pending = outbox.notices("pending")
    names = {n.channel for n in pending if n.channel in settings.channels}
    channels, _ = _usable(settings, names, env)
    results = outbox.deliver(channels, budget=max(settings.timeout, 60.0), now=now, force=force)
    done: dict[str, list[str]] = {}
    for result in results:
        notice = result.notice
        stage = notice.message.get("stage", "")
        if result.delivery is not None and result.delivery.ok:
            done.setdefault(notice.incident, []).append(
                f"Notice ({stage}) sent via {notice.channel} after {notice.attempts} attempts"
            )
    for ident, lines in done.items():
        try:
            _record(repo, ident, lines, [], {}, now, True)
        except IncidentctlError:
            continue
    return done
