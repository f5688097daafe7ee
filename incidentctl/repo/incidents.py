"""IncidentRepo: the one door to an incident repository that the command line uses.

A door, not a warehouse: each method is the function of the module that holds its
group of changes (lifecycle, editing, actions, syncing, reading); what they all stand
on, finding files and the one way to change one, is in base.py.
"""

from __future__ import annotations

import os

from ..errors import IncidentctlError
from ..incident.configfile import load as load_config
from . import actions as action_items
from . import editing, lifecycle, reading, records, syncing
from .base import Change, RepoBase
from .git import GitRepo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from .proc import Process

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

    def pushed(self, change: Change) -> Change:
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

    # Lifecycle and roles.
    new = lifecycle.new
    append = lifecycle.append
    transition = lifecycle.transition
    set_severity = lifecycle.set_severity
    assign = lifecycle.assign
    # `edit`.
    edit_start = editing.edit_start
    save_edit = editing.save_edit
    replace = editing.replace
    # Post-mortem and action items.
    postmortem = action_items.postmortem
    add_action = action_items.add_action
    complete_action = action_items.complete_action
    link_issues = action_items.link_issues
    actions = action_items.actions
    # Many clones.
    sync = syncing.sync
    # Reading many.
    records = records.records
    valid_incidents = reading.valid_incidents
    summaries = reading.summaries
    history = reading.history
