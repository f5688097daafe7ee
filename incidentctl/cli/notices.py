"""What the notification rules do after a changing command (comms), for cli/common.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..safetext import safe

if TYPE_CHECKING:
    from ..repo.base import Change
    from ..repo.incidents import IncidentRepo


def configured(repo: IncidentRepo) -> bool:
    """Whether anything could be told or run: channels, commands or rules configured."""
    from ..comms import wanted

    return wanted(repo.config.sections)


def after_change(repo: IncidentRepo, change: Change, events: list[str], no_notify: bool) -> None:
    """What the rules do after a changing command; failures on stderr, never fatal."""
    if no_notify or change.commit is None:
        return
    for line in tell(repo, change.id, events):
        click.echo(line, err=True)


def tell(repo: IncidentRepo, ident: str, events: list[str]) -> list[str]:
    """Run the rules for `events` of a committed change to incident `ident`; the lines
    to show (outcomes, warnings). Never raises for a channel or the configuration."""
    if not events or not configured(repo):
        return []
    from ..comms.notify import run_event
    from ..comms.settings import load
    from ..errors import IncidentctlError

    try:  # the change is committed: nothing here may fail the command
        report = run_event(repo, load(repo.config), ident, events)
    except IncidentctlError as exc:
        return [f"warning: no notices sent: {safe(exc.message)}"]
    lines = [f"  {safe(line)}" for line in report.outcomes]
    lines += [f"warning: notice not delivered: {safe(line)}" for line in report.failed]
    return lines


class Follow:
    """What `serve` does besides taking alerts (comms): the rules for the incidents
    alerts open, and every minute the outbox retried and `due --fire`."""

    def changed(self, repo: IncidentRepo, ident: str, events: list[str]) -> list[str]:
        return tell(repo, ident, events)

    def tick(self, repo: IncidentRepo) -> list[str]:
        if not configured(repo):
            return []
        from ..comms.follow import fire
        from ..comms.notify import retry
        from ..comms.settings import load
        from ..errors import IncidentctlError

        try:
            settings = load(repo.config)
        except IncidentctlError as exc:
            return [f"no notices sent: {exc.message}"]
        lines = []
        for ident, sent in retry(repo, settings, force=False).items():
            lines += [f"{ident}: {line}" for line in sent]
        for one in fire(repo, settings):
            lines += one.lines() + [f"{one.id}: {line}" for line in one.failed]
        return lines


def events_of(subject: str) -> list[str]:
    """The rule events a change's commit subject stands for."""
    if subject.startswith("open"):
        return ["open"]
    if subject.startswith(("status", "reopen")):
        return ["status", "resolved"] if subject.endswith("-> resolved") else ["status"]
    if subject.startswith("severity"):
        return ["severity"]
    if subject.startswith("assign"):
        return ["assign"]
    return []
