"""IncidentRepo: the one door to an incident repository that the command line uses.

A door, not a warehouse: each group of changes lives in a module of its own
(lifecycle, editing, actions, syncing, reading), imported when first used so that
`log` loads only what it needs. What all of them stand on, finding files and the
one way to change one, is in base.py.
"""

from __future__ import annotations

import os

from ..errors import IncidentctlError
from ..incident.configfile import load as load_config
from .base import Change, RepoBase
from .git import GitRepo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import date, datetime
    from pathlib import Path
    from typing import Any

    from ..incident.model import Incident, Severity, Status
    from .editing import EditStart
    from .proc import Process
    from .rows import ActionRow, Commit, Summary, SyncResult

__all__ = ["Change", "IncidentRepo"]


class IncidentRepo(RepoBase):
    """The incidents of one git repository (the facade the CLI talks to)."""

    @classmethod
    def open(
        cls, start: str | os.PathLike[str] | None = None, *, identity: Process | None = None
    ) -> IncidentRepo:
        """The incidents of the repository around `start` (default: the working folder).

        `identity`: a `git var GIT_AUTHOR_IDENT` started early (see GitRepo.discover).
        """
        git = GitRepo.discover(start or os.getcwd(), identity=identity)
        try:
            return cls(git, load_config(git.top, cache_dir=git.gitdir))
        except BaseException:
            git.close()
            raise

    def _pushed(self, change: Change) -> Change:
        """Sync after a commit when asked to (`--push`, or `push` in the config); the
        report then says where it went: extra["pushed"] = "origin/main"."""
        if change.commit is None or not self.push_after:
            return change
        try:
            result = self.sync()
        except IncidentctlError as exc:
            raise IncidentctlError(
                f"committed {change.commit[:10]} here, but sync failed: {exc.message}"
            ) from None
        change.extra["pushed"] = f"{result.remote}/{result.branch}"
        return change

    # -- lifecycle and roles (lifecycle.py) ------------------------------------------

    def new(
        self,
        title: str,
        *,
        severity: str | None = None,
        type: str | None = None,
        environment: str | None = None,
        services: Iterable[str] = (),
        commander: str | None = None,
        summary: str | None = None,
        detected_at: datetime | None = None,
        started_at: datetime | None = None,
        source: dict[str, Any] | None = None,
        opened_at: datetime | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Create an incident file (and commit it): the front matter, summary, timeline.

        `opened_at` backfills an incident declared after the fact (default: now).
        """
        from . import lifecycle

        return self._pushed(
            lifecycle.new(
                self,
                title,
                severity=severity,
                type=type,
                environment=environment,
                services=services,
                commander=commander,
                summary=summary,
                detected_at=detected_at,
                started_at=started_at,
                source=source,
                opened_at=opened_at,
                now=now,
                commit=commit,
            )
        )

    def append(
        self,
        ref: str,
        text: str,
        *,
        kind: str = "note",
        at: datetime | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Add a timeline entry (in time order)."""
        from . import lifecycle

        return self._pushed(
            lifecycle.append(self, ref, text, kind=kind, at=at, now=now, commit=commit)
        )

    def transition(
        self,
        ref: str,
        status: str,
        *,
        message: str | None = None,
        at: datetime | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Move to another status, stamping its lifecycle timestamp and the timeline."""
        from . import lifecycle

        return self._pushed(
            lifecycle.transition(self, ref, status, message=message, at=at, now=now, commit=commit)
        )

    def set_severity(
        self,
        ref: str,
        severity: str,
        *,
        reason: str | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Escalate or downgrade."""
        from . import lifecycle

        return self._pushed(
            lifecycle.set_severity(self, ref, severity, reason=reason, now=now, commit=commit)
        )

    def assign(
        self,
        ref: str,
        *,
        commander: str | None = None,
        roles: dict[str, str] | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Set the Incident Commander and other roles."""
        from . import lifecycle

        return self._pushed(
            lifecycle.assign(self, ref, commander=commander, roles=roles, now=now, commit=commit)
        )

    # -- edit (editing.py) -------------------------------------------------------------

    def edit_start(self, ref: str) -> EditStart:
        """What `edit` opens: the file's text and its blob at HEAD, to compare at save."""
        from . import editing

        return editing.edit_start(self, ref)

    def save_edit(self, ident: str, text: str) -> str:
        """Keep edited text that was not written, in the git folder; return its path."""
        from . import editing

        return editing.save_edit(self, ident, text)

    def replace(
        self, ref: str, text: str, *, commit: bool = True, started: EditStart | None = None
    ) -> Change:
        """Replace the whole file with edited text (from `edit`), checked first; with
        `started`, never over a change made since (EditConflict)."""
        from . import editing

        return self._pushed(editing.replace(self, ref, text, commit=commit, started=started))

    # -- post-mortem and action items (actions.py) ---------------------------------------

    def postmortem(self, ref: str, *, commit: bool = True) -> Change:
        """Add the post-mortem sections the incident lacks, prefilled from it."""
        from . import actions

        return self._pushed(actions.postmortem(self, ref, commit=commit))

    def add_action(
        self,
        ref: str,
        title: str,
        *,
        owner: str,
        due: date,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Add an action item (AI-N, the next free number) and note it in the timeline."""
        from . import actions

        return self._pushed(
            actions.add_action(self, ref, title, owner=owner, due=due, now=now, commit=commit)
        )

    def complete_action(
        self, ref: str, action_id: str, *, now: datetime | None = None, commit: bool = True
    ) -> Change:
        """Mark an action item done."""
        from . import actions

        return self._pushed(actions.complete_action(self, ref, action_id, now=now, commit=commit))

    def link_issues(self, ref: str, links: dict[str, str], *, commit: bool = True) -> Change:
        """Record GitHub issue URLs in action items (`issues sync --write-back`)."""
        from . import actions

        return self._pushed(actions.link_issues(self, ref, links, commit=commit))

    def actions(
        self,
        ref: str | None = None,
        *,
        open_only: bool = False,
        overdue: bool = False,
        today: date | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> list[ActionRow]:
        """Action items of one incident, or of all, filtered."""
        from . import actions

        return actions.actions(
            self, ref, open_only=open_only, overdue=overdue, today=today, warn=warn
        )

    # -- many clones (syncing.py) ---------------------------------------------------------

    def sync(
        self,
        *,
        attempts: int = 10,
        sleep: Callable[[float], None] | None = None,
        now: datetime | None = None,
    ) -> SyncResult:
        """Fetch, rebase local commits onto the remote branch, push; retry when beaten."""
        from . import syncing

        return syncing.sync(self, attempts=attempts, sleep=sleep, now=now)

    # -- reading many (reading.py) --------------------------------------------------------

    def valid_incidents(
        self, warn: Callable[[str], None] | None = None
    ) -> list[tuple[Incident, Path]]:
        """Every incident that parses and validates; the others are reported to `warn`."""
        from . import reading

        return reading.valid_incidents(self, warn)

    def summaries(
        self,
        *,
        statuses: Iterable[Status] = (),
        severities: Iterable[Severity] = (),
        since: date | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> list[Summary]:
        """Incidents matching the filters, newest first; invalid files are reported."""
        from . import reading

        return reading.summaries(
            self, statuses=statuses, severities=severities, since=since, warn=warn
        )

    def history(self, ref: str) -> tuple[str, list[Commit]]:
        """The commits that changed this incident's file, following its renames."""
        from . import reading

        return reading.history(self, ref)
