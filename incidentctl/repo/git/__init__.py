"""Everything incidentctl asks of git, in one place: GitRepo.

Writes go through the git command line (as `repo.git.commit` would), so the user's
hooks, `core.hooksPath` and commit signing apply; GitPython's own commit path skips
them (FIELD-NOTES.md). Reads that walk history use GitPython. User text reaches git
only as data: paths after `--`, messages on standard input, never as an option or
a revision.

GitRepo is put together from its parts: core.py (the repository, identity, state,
committing), remote.py (fetch, rebase, push, uncommitted work during a sync) and
history.py (log, show, diff).
"""

from __future__ import annotations

from .history import GitHistory
from .lock import LOCK_NAME, RepoLock
from .remote import GitRemote, Shelf
from .run import find_root, init_repo, is_work_tree, merge_file, no_work_tree

__all__ = [
    "LOCK_NAME",
    "GitRepo",
    "RepoLock",
    "Shelf",
    "find_root",
    "init_repo",
    "is_work_tree",
    "merge_file",
    "no_work_tree",
]


class GitRepo(GitRemote, GitHistory):
    """A git work tree, addressed by its root (see the parts for what it does)."""
