"""`sync`: fetch, rebase and push with retries, renumbering IDs another clone took."""

from __future__ import annotations

from datetime import datetime

from ..errors import IncidentctlError, InvalidInput
from ..incident.file import IncidentFile
from ..incident.storage import write_atomic
from ..incident.timeutil import utcnow
from .base import RepoBase
from .git import Shelf

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from .rows import SyncResult


def sync(
    repo: RepoBase,
    *,
    attempts: int = 10,
    sleep: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> SyncResult:
    """Fetch, rebase local commits onto the remote branch, push; retry when beaten.

    Never force-pushes. A conflict the merge driver cannot settle aborts the rebase,
    so the repository is left as it was, and the error says what to do. Uncommitted
    changes are put aside before a rebase and back after it; a sync that cannot put
    them back cleanly (the remote changed the same lines) stops before pushing and
    returns the clone, commits and uncommitted changes, to exactly where it was.
    """
    with repo.git.lock():
        unsafe = repo.git.unsafe_to_commit()
        if unsafe is not None:
            reason, remedy = unsafe
            raise InvalidInput(f"not syncing: {reason}; {remedy}, then sync")
        left = repo.git.shelved_by(SHELF_MESSAGE)
        if left:
            raise InvalidInput(
                f"an earlier sync was interrupted and your uncommitted changes are still in "
                f"`git stash list` ({left}); put them back with `git stash pop --index {left}`,"
                " then run `incidentctl sync`"
            )
        remote, branch = repo.git.upstream()
        shelf: list[Shelf] = []
        try:
            result = _sync(repo, remote, branch, attempts, sleep, now, shelf)
        except BaseException:
            if shelf and not repo.git.unshelve(shelf[0], at_base=True):
                raise IncidentctlError(  # pragma: no cover (a stash made here applies here)
                    f"sync stopped, and your uncommitted changes are in `git stash list` "
                    f"({shelf[0].sha[:10]}); run `git reset --hard {shelf[0].base[:10]}` "
                    "and `git stash pop --index`"
                ) from None
            raise
        if shelf and not repo.git.unshelve(shelf[0]):
            raise IncidentctlError(  # pragma: no cover (shelf_conflicts said it goes back)
                f"pushed to {remote}/{branch}, but your uncommitted changes did not go back "
                f"cleanly; they are in `git stash list` ({shelf[0].sha[:10]}): run "
                "`git stash pop --index` and resolve what it reports"
            )
        return result


def _sync(
    repo: RepoBase,
    remote: str,
    branch: str,
    attempts: int,
    sleep: Callable[[float], None] | None,
    now: datetime | None,
    shelf: list[Shelf],
) -> SyncResult:
    """The fetch-rebase-push loop of `sync`; `shelf` receives what it put aside."""
    import random
    import time

    from .rows import SyncResult

    pause = sleep or time.sleep
    tracking = f"refs/remotes/{remote}/{branch}"
    renumbered: list[tuple[str, str]] = []
    pulled = 0
    shelved = False
    for attempt in range(1, attempts + 1):
        if repo.git.fetch(remote, branch):
            ahead, behind = repo.git.counts(tracking)
            if behind:
                if not shelved:
                    shelved = True
                    put = repo.git.shelve(SHELF_MESSAGE)
                    shelf.extend([put] if put else [])
                repo.git.rebase(tracking)
                pulled += behind
            renumbered += _renumber_collisions(repo, tracking, remote, now)
            if shelf:
                conflicts = repo.git.shelf_conflicts(shelf[0])
                if conflicts:
                    raise InvalidInput(_shelf_conflict_message(conflicts, remote, branch))
            ahead, _ = repo.git.counts(tracking)
            if ahead == 0:
                return SyncResult(remote, branch, 0, attempt, pulled, renumbered)
        else:
            ahead = int(repo.git.run("rev-list", "--count", "HEAD").strip())
        if repo.git.push(remote, branch):
            return SyncResult(remote, branch, ahead, attempt, pulled, renumbered)
        # Someone pushed first: back off with jitter so racing clones spread out.
        pause(random.uniform(0.05, 0.25) * 2 ** min(attempt, 5))
    raise InvalidInput(
        f"{remote}/{branch} kept changing during {attempts} attempts; "
        "your commits are safe here: run `incidentctl sync` again"
    )


def _renumber_collisions(
    repo: RepoBase, tracking: str, remote: str, now: datetime | None
) -> list[tuple[str, str]]:
    """Give a new ID to a local, unpushed incident whose ID the remote already has."""
    pattern = repo.filename_regex()
    added = {
        (repo.root / rel).resolve()
        for rel in repo.git.added_since(tracking, repo.config.incidents_dir)
    }
    if not added:
        return []
    by_id: dict[str, list[Path]] = {}
    for ident, path in repo.files():
        by_id.setdefault(ident.lower(), []).append(path.resolve())
    done = []
    taken = set(by_id)
    for paths in list(by_id.values()):
        local = [p for p in paths if p in added]
        if len(paths) < 2 or not local or len(local) == len(paths):
            continue
        for path in local:
            old_id = pattern.match(path.name).group(1)  # type: ignore[union-attr]
            file = IncidentFile.read(path, repo.rel(path), root=repo.git.top)
            opened = file.data.get("opened_at")
            when = opened if isinstance(opened, datetime) and opened.tzinfo else now
            new_id = repo.new_id(when or utcnow(), taken)
            taken.add(new_id.lower())
            target = path.with_name(path.name.replace(old_id, new_id, 1))
            file.set_field("id", new_id)
            _rename_mentions(file, old_id, new_id)
            write_atomic(target, file.text, root=repo.git.top, shown=repo.rel(target))
            path.unlink()
            repo.git.commit_only(
                [path, target],
                f"incident({new_id}): renumber from {old_id} (the ID is taken on {remote})",
                {"Incident": new_id},
            )
            done.append((old_id, new_id))
    return done


def _rename_mentions(file: IncidentFile, old_id: str, new_id: str) -> None:
    """The body's mentions of a renumbered incident's old ID (its timeline, the post-mortem's
    tables, a path to its file) name the new one: the file only ever spoke of itself."""
    import re

    mention = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(old_id)}(?![A-Za-z0-9_])")
    for index in range(file.body_start, len(file.lines)):
        file.lines[index] = mention.sub(new_id, file.lines[index])


SHELF_MESSAGE = "incidentctl sync: your uncommitted changes, put aside during the sync"


def _shelf_conflict_message(files: list[str], remote: str, branch: str) -> str:
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return (
        f"sync stopped: your uncommitted change to {shown} conflicts with what "
        f"{remote}/{branch} changed; nothing was changed here (your commits and uncommitted "
        "changes are as they were). To go on: `git stash`, `incidentctl sync`, "
        "`git stash pop`, then resolve the conflict markers it leaves and `git stash drop`; "
        "or commit the change first and run `incidentctl sync`"
    )
