"""The core of GitRepo: finding the repository, identity, state, committing, the lock."""

from __future__ import annotations

import os
import time

from ...errors import GitError
from .lock import LOCK_NAME, RepoLock
from .run import HEX, find_root, git_message, index_locked, run_git

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import TypeVar

    from ..proc import Completed, Process

    StrPath = str | os.PathLike[str]
    _Git = TypeVar("_Git", bound="GitCore")

# git's state files for an operation that has stopped half-way: (file, what, how to end).
_IN_PROGRESS = (
    ("rebase-merge", "a rebase", "`git rebase --continue` or `git rebase --abort`"),
    ("rebase-apply", "a rebase", "`git rebase --continue` or `git rebase --abort`"),
    ("MERGE_HEAD", "a merge", "`git commit` or `git merge --abort`"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "`git cherry-pick --continue` or `--abort`"),
    ("REVERT_HEAD", "a revert", "`git revert --continue` or `git revert --abort`"),
    ("sequencer", "a cherry-pick or revert", "`git cherry-pick --continue` or `--abort`"),
    ("BISECT_LOG", "a bisect", "`git bisect reset` when done"),
)


def _status_args(rel: str) -> list[str]:
    return ["status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--", rel]


_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0, 2.5)


class GitCore:
    """A git work tree, addressed by its root.

    `top` and `gitdir` are plain strings, which is all `log` needs; `root` and
    `git_dir` give them as Path objects to everything else.
    """

    def __init__(self, root: StrPath, git_dir: StrPath):
        self.top = os.fspath(root)
        self.gitdir = os.fspath(git_dir)
        self._identity: tuple[str, str] | None = None
        self._ident_proc: Process | None = None
        self._lock_depth = [0]  # how deep this process holds the lock (RepoLock)

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self.top)

    @property
    def git_dir(self) -> Path:
        from pathlib import Path

        return Path(self.gitdir)

    @classmethod
    def discover(cls: type[_Git], start: StrPath, *, identity: Process | None = None) -> _Git:
        """The repository around `start`.

        `identity` is a `git var GIT_AUTHOR_IDENT` already started in `start`
        (`proc.start_git`, as `log` does while it loads); `identity()` reads its answer.
        """
        try:
            root, git_dir = find_root(start)
        except BaseException:
            if identity is not None:
                identity.kill()
            raise
        repo = cls(root, git_dir)
        repo._ident_proc = identity
        return repo

    def _index_lock_message(self) -> str:
        """What to say about a held .git/index.lock: how old it is, and what to do."""
        lock = self.git_dir / "index.lock"
        try:
            age = time.time() - lock.stat().st_mtime
        except OSError:
            age = 0.0
        if age > 60:
            return (
                f"{lock} has been there for {int(age)} s and looks stale: a git process "
                "probably died holding it; if no git command is running, remove it "
                f"(rm {lock}) and run the command again"
            )
        return (
            f"git's index is locked by another process ({lock}); wait for it to finish, "
            "or remove the lock if no git is running"
        )

    def close(self) -> None:
        """Reap a prefetched identity process nobody asked for (an error came first)."""
        if self._ident_proc is not None:
            self._ident_proc.kill()
            self._ident_proc = None

    def run(self, *args: str, stdin: str | None = None) -> str:
        return run_git(args, self.top, stdin=stdin).stdout

    def run_indexed(self, *args: str) -> str:
        """Run a command that takes `.git/index.lock`, waiting while another holds it;
        a lock held throughout is one line saying how old it is and what to do."""
        result = self._run_retrying(args)
        if result.returncode != 0:
            raise GitError(git_message(args, result.stderr + result.stdout))
        return result.stdout

    def _run_retrying(self, args: Sequence[str], *, stdin: str | None = None) -> Completed:
        """Run a command that takes `.git/index.lock`, retrying while someone holds it.

        git fails at once on a held lock; we wait briefly and never delete the lock.
        Returns the last result; only a lock held throughout raises.
        """
        for delay in (*_RETRY_DELAYS, None):
            result = run_git(args, self.top, stdin=stdin, check=False)
            if result.returncode == 0 or not index_locked(result.stderr + result.stdout):
                return result
            if delay is None:
                raise GitError(self._index_lock_message())
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- identity and state ---------------------------------------------------------

    def identity(self) -> tuple[str, str]:
        """(name, email) git will put on the next commit."""
        if self._identity is not None:
            return self._identity
        if self._ident_proc is not None:
            result = self._ident_proc.communicate()
            self._ident_proc = None
        else:
            result = run_git(["var", "GIT_AUTHOR_IDENT"], self.top, check=False)
        if result.returncode != 0:
            raise GitError(
                "git does not know who you are; run "
                "`git config --global user.name 'Your Name'` and "
                "`git config --global user.email you@example.com`"
            )
        ident = result.stdout.strip()
        name, _, rest = ident.partition(" <")
        email = rest.split(">", 1)[0]
        self._identity = (name.strip(), email.strip())
        return self._identity

    def is_tracked(self, path: StrPath) -> bool:
        rel = self.relative(path)
        result = run_git(["ls-files", "--error-unmatch", "--", rel], self.top, check=False)
        return result.returncode == 0

    def relative(self, path: StrPath) -> str:
        """`path` relative to the root, with `/` (ValueError if it is outside)."""
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(self.top))
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise ValueError(f"{os.fspath(path)} is not inside {self.top}")
        return rel.replace(os.sep, "/")

    def head(self) -> str | None:
        result = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], self.top, check=False)
        return result.stdout.strip() or None

    def blob_at_head(self, path: StrPath) -> str | None:
        """The object ID of `path` in HEAD, or None when HEAD has no such file."""
        rel = self.relative(path)
        result = run_git(
            ["rev-parse", "--verify", "--quiet", f"HEAD:./{rel}"], self.top, check=False
        )
        return result.stdout.strip() or None

    def start_uncommitted(self, path: StrPath) -> Process | None:
        """Start the `git status` of `uncommitted(path)` now, to run while the caller
        works (it reads only); None if git cannot be started (`uncommitted` says so)."""
        from ..proc import Process

        args = ["git", "-C", self.top, *_status_args(self.relative(path))]
        try:
            return Process(args, {**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
        except OSError:
            return None

    def uncommitted(self, path: StrPath, *, started: Process | None = None) -> str | None:
        """How `path` in the work tree differs from HEAD, or None when it does not.

        "+3 -1 lines", "new file, 40 lines", "file mode changed": what a commit of the
        file would carry besides the change a command is about to make. One `git status`
        in the common (clean) case (`started`: that status, from `start_uncommitted`);
        a second process only when something is found.
        """
        rel = self.relative(path)
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # a read: never take index.lock
        if started is not None:
            done = started.communicate()
            if done.returncode != 0:
                raise GitError(git_message(_status_args(rel), done.stderr or done.stdout))
            status = done.stdout
        else:
            status = run_git(_status_args(rel), self.top, env=env).stdout
        if not status.strip("\0"):
            return None
        if "?" in status[:2] or "A" in status[:2] or self.head() is None:
            try:
                with open(path, "rb") as handle:
                    lines = handle.read().count(b"\n")
            except OSError:
                lines = 0
            return f"new file, {lines} lines"
        diff = run_git(["diff", "--numstat", "--summary", "HEAD", "--", rel], self.top, env=env)
        added = deleted = 0
        mode = False
        for line in diff.stdout.splitlines():
            fields = line.split("\t")
            if len(fields) >= 3:
                if not (fields[0].isdigit() and fields[1].isdigit()):
                    return "changed (not as text)"  # numstat's `-` for a binary file
                added += int(fields[0])
                deleted += int(fields[1])
            elif line.strip().startswith("mode change"):
                mode = True
        if added or deleted:
            return f"+{added} -{deleted} lines" + (", file mode changed" if mode else "")
        return "file mode changed" if mode else None

    def set_config(self, key: str, value: str) -> None:
        """Set a value in this clone's own git config (.git/config)."""
        run_git(["config", "--local", "--", key, value], self.top)

    # -- writing ----------------------------------------------------------------------

    def commit_only(
        self,
        paths: StrPath | Sequence[StrPath],
        subject: str,
        trailers: dict[str, str],
        *,
        body: str = "",
        created: bool = False,
    ) -> str:
        """Commit exactly these files; whatever else is staged stays staged, uncommitted.

        `created`: the paths are new files (`open`): registered before the first try.

        Uses `git commit --only`, so hooks and signing configured by the user apply. A
        path that no longer exists is committed as removed. Returns the new commit's SHA.
        Refused while git is in the middle of something or HEAD is detached
        (`unsafe_to_commit`): the commit would be lost.
        """
        self.refuse_commit()
        items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        rels = [self.relative(p) for p in items]
        message = subject.strip() + "\n\n" + (body.strip() + "\n\n" if body.strip() else "")
        message += "".join(f"{k}: {v}\n" for k, v in trailers.items())
        args = ["commit", "--only", "--quiet", "--file=-", "--cleanup=strip", "--", *rels]
        # Most commits are of tracked files: try at once, and only for a path git does
        # not know yet register it (intent-to-add stages no content) and try again.
        new: list[str] = []
        if created:
            new = [rel for p, rel in zip(items, rels, strict=True) if os.path.exists(p)]
            added = self._run_retrying(["add", "--intent-to-add", "--", *new])
            if added.returncode != 0:
                raise GitError(git_message(["add"], added.stderr + added.stdout))
        result = self._run_retrying(args, stdin=message)
        if not created and result.returncode != 0 and "did not match any file" in result.stderr:
            new = [
                rel
                for p, rel in zip(items, rels, strict=True)
                if os.path.exists(p) and not self.is_tracked(p)
            ]
            if new:
                added = self._run_retrying(["add", "--intent-to-add", "--", *new])
                if added.returncode != 0:
                    raise GitError(git_message(["add"], added.stderr + added.stdout))
                result = self._run_retrying(args, stdin=message)
        if result.returncode != 0:
            if new:  # leave the index as it was before the command
                run_git(["rm", "--cached", "--quiet", "--", *new], self.top, check=False)
            raise GitError(git_message(args, result.stderr + result.stdout))
        return self._head_sha() or self.run("rev-parse", "HEAD").strip()

    def _head_sha(self) -> str | None:
        """HEAD's SHA read from the ref files (saves a process); None when unsure."""

        def read(*parts: str) -> str:
            with open(os.path.join(*parts), "rb") as handle:  # bytes: no codec to import
                return handle.read().decode("ascii").strip()

        try:
            head = read(self.gitdir, "HEAD")
            if not head.startswith("ref: refs/"):
                return None
            common = self.gitdir
            if os.path.exists(os.path.join(self.gitdir, "commondir")):  # a linked worktree
                common = os.path.join(self.gitdir, read(self.gitdir, "commondir"))
            sha = read(common, head[5:])
        except (OSError, UnicodeDecodeError):
            return None
        return sha if len(sha) in (40, 64) and HEX.issuperset(sha) else None

    # -- operations in progress -----------------------------------------------------

    def in_progress(self) -> tuple[str, str] | None:
        """What git is in the middle of in this work tree, and how to end it; None if nothing.

        Read from git's state files (cheap: no process, fit for `log`). They live in
        this work tree's own git folder, which for a linked worktree is
        `.git/worktrees/NAME` (what `find_root` gives as `gitdir`).
        """
        exists = os.path.exists
        for marker, what, end in _IN_PROGRESS:
            if exists(os.path.join(self.gitdir, marker)):
                if marker == "rebase-apply" and exists(
                    os.path.join(self.gitdir, marker, "applying")
                ):
                    return "a `git am`", "`git am --continue` or `git am --abort`"
                return what, end
        return None

    def detached(self) -> bool:
        """HEAD names a commit, not a branch (read from .git/HEAD, no process)."""
        try:
            with open(os.path.join(self.gitdir, "HEAD"), "rb") as handle:
                return not handle.read(5).startswith(b"ref:")
        except OSError:
            return False  # no HEAD file: git itself will say what is wrong

    def unsafe_to_commit(self) -> tuple[str, str] | None:
        """Why a commit made here now would be lost or orphaned, and what to do; or None.

        A commit made while a rebase (or cherry-pick, revert, merge, bisect, `git am`)
        is stopped is dropped by its `--abort` or mixed into its result, and one on a
        detached HEAD belongs to no branch, so the next checkout leaves it behind.
        """
        busy = self.in_progress()
        if busy is not None:
            what, end = busy
            return f"{what} is in progress in {self.top}", f"finish or end it ({end})"
        if self.detached():
            return (
                f"HEAD is detached in {self.top} (no branch is checked out), so a commit "
                "would belong to no branch",
                "check out a branch (`git switch BRANCH`)",
            )
        return None

    def refuse_commit(self) -> None:
        """Raise GitError when a commit now would be lost (see `unsafe_to_commit`)."""
        unsafe = self.unsafe_to_commit()
        if unsafe is not None:
            reason, remedy = unsafe
            raise GitError(
                f"not committing: {reason}; {remedy} and run the command again, "
                "or pass --no-commit to write the file only"
            )

    # -- the index and the lock -----------------------------------------------------

    def modes(self, folders: Sequence[str]) -> dict[str, str]:
        """{path: git mode} of every file the index holds under these folders."""
        out = run_git(
            ["ls-files", "--stage", "-z", "--", *folders],
            self.top,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        ).stdout
        modes = {}
        for record in out.split("\0"):
            info, tab, path = record.partition("\t")
            if tab:
                modes[path] = info.split(" ", 1)[0]
        return modes

    def lock(self, timeout: float = 120.0) -> RepoLock:
        """Serialise incidentctl processes on this clone over read-modify-write-commit.

        Re-entrant within this GitRepo (one thread): a change made while the lock is
        held, as the alert writer does for a whole batch, takes it again for free.
        """
        return RepoLock(os.path.join(self.gitdir, LOCK_NAME), timeout, self._lock_depth)
