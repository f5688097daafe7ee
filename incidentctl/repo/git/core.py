"""Everything incidentctl asks of git, in one place.

Writes go through the git command line (as `repo.git.commit` would), so the user's
hooks, `core.hooksPath` and commit signing apply; GitPython's own commit path skips
them (FIELD-NOTES.md). Reads that walk history use GitPython. User text reaches git
only as data: paths after `--`, messages on standard input, never as an option or
a revision.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from ..errors import GitError
from .proc import Completed, Process
from .proc import run as run_process

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import IO, Any

    StrPath = str | os.PathLike[str]

    from .rows import Commit

LOCK_NAME = "incidentctl.lock"
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
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0, 2.5)


def _run(
    args: Sequence[str],
    cwd: StrPath,
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Completed:
    try:
        # `-C` is where the process starts, as subprocess's cwd would be (posix_spawn
        # has no working-folder setting before Python 3.13).
        result = run_process(["git", "-C", os.fspath(cwd), *args], input=stdin, env=env)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git") from None
    if check and result.returncode != 0:
        raise GitError(_git_message(args, result.stderr or result.stdout))
    return result


def _git_message(args: Sequence[str], output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    text = "; ".join(lines[-3:]) if lines else "no output"
    return f"git {args[0]} failed: {text}"


def _locked(output: str) -> bool:
    return "index.lock" in output and ("File exists" in output or "Unable to create" in output)


_HEX = frozenset("0123456789abcdef")
_GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_COMMON_DIR")


def _plain_repo(start: str) -> tuple[str, str] | None:
    """The common case without a process: a folder holding a `.git` folder.

    Anything unusual (git's environment variables, a `.git` file of a worktree or
    submodule) returns None, and git itself is asked.
    """
    if any(name in os.environ for name in _GIT_ENV):
        return None
    candidate = os.path.realpath(start)
    while True:
        dot_git = os.path.join(candidate, ".git")
        if os.path.isdir(dot_git) and os.path.isfile(os.path.join(dot_git, "HEAD")):
            return candidate, dot_git
        if os.path.lexists(dot_git):
            return None
        parent = os.path.dirname(candidate)
        if parent == candidate:
            return None
        candidate = parent


def find_root(start: StrPath) -> tuple[str, str]:
    """The work tree root and the git directory around `start`, as absolute paths."""
    folder = os.fspath(start)
    if not os.path.exists(folder):
        raise GitError(f"{folder}: no such folder; check --repo")
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder) or "."
    plain = _plain_repo(folder)
    if plain is not None:
        return plain
    result = _run(
        ["rev-parse", "--show-toplevel", "--absolute-git-dir"],
        folder,
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    lines = result.stdout.rstrip("\n").split("\n")  # a path may hold U+2028 or \x85
    if result.returncode != 0 or len(lines) != 2:
        raise GitError(
            no_work_tree(folder)
            or f"not inside a git work tree ({os.fspath(start)}); "
            "run `git init` or pass `--repo PATH`"
        )
    return lines[0], lines[1]


def no_work_tree(folder: StrPath) -> str | None:
    """What to say when `folder` is a bare repository (git has no work tree there); None
    when it is not one (a work tree, or no repository at all)."""
    result = _run(
        ["rev-parse", "--is-bare-repository"],
        folder,
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    if result.returncode != 0 or result.stdout.strip() != "true":
        return None
    where = os.fspath(folder)
    return (
        f"{where} is a bare git repository (no work tree, so no incident files to "
        f"change); clone it (`git clone {where}`) and run incidentctl in the clone"
    )


def is_work_tree(path: Path) -> bool:
    result = _run(["rev-parse", "--is-inside-work-tree"], path, check=False)
    return result.returncode == 0 and result.stdout.strip() == "true"


def init_repo(path: Path) -> None:
    _run(["init", "--quiet"], path)


def merge_file(base: str, ours: str, theirs: str) -> tuple[str, bool]:
    """git merge-file on three texts: (result with conflict markers if any, clean)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="incidentctl-merge-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
            paths.append(str(path))
        import subprocess

        result = subprocess.run(
            ["git", "merge-file", "-p", "-L", "ours", "-L", "base", "-L", "theirs", "--", *paths],
            capture_output=True,
            check=False,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise GitError(f"git merge-file failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode("utf-8", errors="surrogateescape"), result.returncode == 0


class RepoLock:
    """`with RepoLock(path):` holds an exclusive flock on `path` (made if missing).

    An flock is released by the kernel when its holder dies, so a killed command
    never leaves a lock that blocks the next one.
    """

    def __init__(self, path: StrPath, timeout: float = 120.0):
        self.path = path
        self.timeout = timeout
        self._handle: IO[str] | None = None

    def __enter__(self) -> None:
        import fcntl

        try:
            handle = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            from ..incident.safefs import write_reason

            raise GitError(f"cannot open the lock file {self.path}: {write_reason(exc)}") from None
        try:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        handle.seek(0)
                        owner = handle.read().strip() or "unknown"
                        raise GitError(
                            f"another incidentctl ({owner}) has held {self.path} for over "
                            f"{int(self.timeout)} s; wait for it or stop that process"
                        ) from None
                    time.sleep(0.02)
            try:  # who holds the lock, for the message above; the flock is what counts
                # Unbuffered: a failed write leaves nothing for close() to fail on.
                os.ftruncate(handle.fileno(), 0)
                os.write(
                    handle.fileno(),
                    f"pid {os.getpid()} on {os.uname().nodename} since "
                    f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n".encode(),
                )
            except OSError:  # a full disk: the command's own write will say so
                pass
        except BaseException:
            handle.close()
            raise
        self._handle = handle

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Shelf:
    """Uncommitted changes put aside during a sync: a stash commit made on `base`."""

    __slots__ = ("base", "sha", "staged")

    def __init__(self, sha: str, base: str, *, staged: bool):
        self.sha = sha
        self.base = base
        self.staged = staged  # something was staged: put it back with `--index`


class GitRepo:
    """A git work tree, addressed by its root.

    `top` and `gitdir` are plain strings, which is all `log` needs; `root` and
    `git_dir` give them as Path objects to everything else.
    """

    def __init__(self, root: StrPath, git_dir: StrPath):
        self.top = os.fspath(root)
        self.gitdir = os.fspath(git_dir)
        self._identity: tuple[str, str] | None = None
        self._ident_proc: Process | None = None

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self.top)

    @property
    def git_dir(self) -> Path:
        from pathlib import Path

        return Path(self.gitdir)

    @classmethod
    def discover(cls, start: StrPath, *, identity: Process | None = None) -> GitRepo:
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
        return _run(args, self.top, stdin=stdin).stdout

    def _run_retrying(self, args: Sequence[str], *, stdin: str | None = None) -> Completed:
        """Run a command that takes `.git/index.lock`, retrying while someone holds it.

        git fails at once on a held lock; we wait briefly and never delete the lock.
        Returns the last result; only a lock held throughout raises.
        """
        for delay in (*_RETRY_DELAYS, None):
            result = _run(args, self.top, stdin=stdin, check=False)
            if result.returncode == 0 or not _locked(result.stderr + result.stdout):
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
            result = _run(["var", "GIT_AUTHOR_IDENT"], self.top, check=False)
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
        result = _run(["ls-files", "--error-unmatch", "--", rel], self.top, check=False)
        return result.returncode == 0

    def relative(self, path: StrPath) -> str:
        """`path` relative to the root, with `/` (ValueError if it is outside)."""
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(self.top))
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise ValueError(f"{os.fspath(path)} is not inside {self.top}")
        return rel.replace(os.sep, "/")

    def head(self) -> str | None:
        result = _run(["rev-parse", "--verify", "--quiet", "HEAD"], self.top, check=False)
        return result.stdout.strip() or None

    def blob_at_head(self, path: StrPath) -> str | None:
        """The object ID of `path` in HEAD, or None when HEAD has no such file."""
        rel = self.relative(path)
        result = _run(["rev-parse", "--verify", "--quiet", f"HEAD:./{rel}"], self.top, check=False)
        return result.stdout.strip() or None

    def uncommitted(self, path: StrPath) -> str | None:
        """How `path` in the work tree differs from HEAD, or None when it does not.

        "+3 -1 lines", "new file, 40 lines", "file mode changed": what a commit of the
        file would carry besides the change a command is about to make. One `git status`
        in the common (clean) case; a second process only when something is found.
        """
        rel = self.relative(path)
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # a read: never take index.lock
        status = _run(
            ["status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--", rel],
            self.top,
            env=env,
        ).stdout
        if not status.strip("\0"):
            return None
        if "?" in status[:2] or "A" in status[:2] or self.head() is None:
            try:
                with open(path, "rb") as handle:
                    lines = handle.read().count(b"\n")
            except OSError:
                lines = 0
            return f"new file, {lines} lines"
        diff = _run(["diff", "--numstat", "--summary", "HEAD", "--", rel], self.top, env=env)
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
        _run(["config", "--local", "--", key, value], self.top)

    # -- writing ----------------------------------------------------------------------

    def commit_only(
        self,
        paths: StrPath | Sequence[StrPath],
        subject: str,
        trailers: dict[str, str],
        *,
        body: str = "",
    ) -> str:
        """Commit exactly these files; whatever else is staged stays staged, uncommitted.

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
        result = self._run_retrying(args, stdin=message)
        new: list[str] = []
        if result.returncode != 0 and "did not match any file" in result.stderr:
            new = [
                rel
                for p, rel in zip(items, rels, strict=True)
                if os.path.exists(p) and not self.is_tracked(p)
            ]
            if new:
                added = self._run_retrying(["add", "--intent-to-add", "--", *new])
                if added.returncode != 0:
                    raise GitError(_git_message(["add"], added.stderr + added.stdout))
                result = self._run_retrying(args, stdin=message)
        if result.returncode != 0:
            if new:  # leave the index as it was before the command
                _run(["rm", "--cached", "--quiet", "--", *new], self.top, check=False)
            raise GitError(_git_message(args, result.stderr + result.stdout))
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
        return sha if len(sha) in (40, 64) and _HEX.issuperset(sha) else None

    # -- remotes (sync) ---------------------------------------------------------------------

    def upstream(self) -> tuple[str, str]:
        """(remote, branch) this branch pushes to: its upstream, else origin/<same name>."""
        result = _run(["symbolic-ref", "--quiet", "--short", "HEAD"], self.top, check=False)
        local = result.stdout.strip()
        if result.returncode != 0 or not local:
            raise GitError("HEAD is detached; check out a branch before syncing")
        remote = _run(["config", "--get", f"branch.{local}.remote"], self.top, check=False)
        merge = _run(["config", "--get", f"branch.{local}.merge"], self.top, check=False)
        name, ref = remote.stdout.strip(), merge.stdout.strip()
        if name and name != "." and ref.startswith("refs/heads/"):
            return name, ref.removeprefix("refs/heads/")
        remotes = self.run("remote").split()
        if "origin" in remotes:
            return "origin", local
        raise GitError(
            "this branch has no remote to sync with; add one: `git remote add origin URL`, "
            f"then `git push -u origin {local}`"
        )

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

    def fetch(self, remote: str, branch: str) -> bool:
        """Fetch one branch; False when the remote does not have it yet."""
        result = _run(
            [
                "fetch",
                "--quiet",
                "--",
                remote,
                f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
            ],
            self.top,
            check=False,
        )
        if result.returncode == 0:
            return True
        if "couldn't find remote ref" in result.stderr.lower():
            return False
        raise GitError(_git_message(["fetch"], result.stderr))

    def counts(self, ref: str) -> tuple[int, int]:
        """(commits only here, commits only in ref)."""
        out = self.run("rev-list", "--left-right", "--count", f"HEAD...{ref}", "--").split()
        return int(out[0]), int(out[1])

    def rebase(self, onto: str) -> None:
        """Rebase the branch onto `onto`; on a conflict, abort and say which files.

        The work tree must be clean (`shelve` first): git's own `--autostash` reports
        success even when putting the changes back leaves conflict markers.
        """
        result = _run(["rebase", "--quiet", onto], self.top, check=False)
        if result.returncode == 0:
            return
        files = [
            f for f in self.run("diff", "-z", "--name-only", "--diff-filter=U").split("\0") if f
        ]
        _run(["rebase", "--abort"], self.top, check=False)
        in_the_way = _untracked_in_the_way(result.stderr)
        if in_the_way:
            raise GitError(
                f"sync stopped: the remote adds {', '.join(in_the_way)}, which is here as an "
                "untracked file that would be overwritten; nothing was changed here. Move it "
                "away (or commit it), then run `incidentctl sync`"
            )
        if not files:
            raise GitError(_git_message(["rebase"], result.stderr + result.stdout))
        raise GitError(
            f"sync stopped: {', '.join(files)} changed on both sides in a way that cannot be "
            "merged automatically (the same field set differently); nothing was changed here, "
            "your clone is as it was before the sync. "
            f"To resolve: `git pull --rebase`, edit the conflict markers, `git add` the file, "
            "`git rebase --continue`, then `incidentctl sync`"
        )

    # -- the user's uncommitted work during a sync -------------------------------------------

    def shelve(self, message: str) -> Shelf | None:
        """Put uncommitted changes (staged and not) aside; None when there are none.

        They go into `git stash list` under `message` first, so a sync killed halfway
        leaves them where a git user looks, and only then is the work tree reset.
        Untracked and ignored files stay where they are.
        """
        base = self.run("rev-parse", "--verify", "HEAD").strip()
        sha = self.run("stash", "create").strip()
        if not sha:
            return None
        _run(["stash", "store", "--quiet", f"--message={message}", sha], self.top)
        index_tree = self.run("rev-parse", "--verify", f"{sha}^2^{{tree}}").strip()
        base_tree = self.run("rev-parse", "--verify", f"{base}^{{tree}}").strip()
        shelf = Shelf(sha, base, staged=index_tree != base_tree)
        reset = self._run_retrying(["reset", "--hard", "--quiet", "HEAD"])
        if reset.returncode != 0:
            self.unshelve(shelf, at_base=True)
            raise GitError(_git_message(["reset"], reset.stderr + reset.stdout))
        return shelf

    def shelved_by(self, message: str) -> str | None:
        """The stash entry (`stash@{N}`) holding `message`, e.g. left by a killed sync."""
        for line in self.run("stash", "list", "--format=%gd %gs").splitlines():
            name, _, subject = line.partition(" ")
            if subject == message:
                return name
        return None

    def shelf_conflicts(self, shelf: Shelf) -> list[str]:
        """Files where putting `shelf` back on HEAD would conflict ([] when it goes cleanly).

        A three-way merge in git's object store (base: where the changes were made,
        ours: HEAD, theirs: the changes), through the same merge drivers as a pull;
        the work tree is not touched. What was staged is merged the same way.
        """
        if self.run("rev-parse", "--verify", "HEAD").strip() == shelf.base:
            return []
        conflicts = self._merge_onto_head(shelf, shelf.sha)[1]
        if shelf.staged:
            conflicts += self._merge_onto_head(shelf, f"{shelf.sha}^2")[1]
        return sorted(set(conflicts))

    def unshelve(self, shelf: Shelf, *, at_base: bool = False) -> bool:
        """Put the changes back, staged as they were, and drop them from the stash list.

        `at_base`: first return the branch to the commit they were made on, which
        restores the user's state exactly. False (the stash entry kept, the work tree
        clean) when they did not go back without a conflict.
        """
        if at_base:
            self._run_retrying(["reset", "--hard", "--quiet", shelf.base])
        index = None
        if shelf.staged:  # what the index will hold: the staged tree, merged onto HEAD
            index, conflicts = self._merge_onto_head(shelf, f"{shelf.sha}^2")
            if conflicts:
                return False
        applied = self._run_retrying(["stash", "apply", "--quiet", shelf.sha])
        unmerged = self.run("diff", "--name-only", "--diff-filter=U")
        if applied.returncode != 0 or unmerged.strip():
            self._run_retrying(["reset", "--hard", "--quiet", "HEAD"])
            return False
        if index is not None:
            self._run_retrying(["read-tree", index])
            _run(["update-index", "-q", "--refresh"], self.top, check=False)
        listed = self.run("stash", "list", "--format=%H").split()
        if shelf.sha in listed:
            _run(["stash", "drop", "--quiet", f"stash@{{{listed.index(shelf.sha)}}}"], self.top)
        return True

    def _merge_onto_head(self, shelf: Shelf, rev: str) -> tuple[str, list[str]]:
        """(the merged tree, conflicting files) of `rev`'s tree put onto HEAD from the base."""
        if self.run("rev-parse", "--verify", "HEAD").strip() == shelf.base:
            return self.run("rev-parse", "--verify", f"{rev}^{{tree}}").strip(), []
        base = self._synthetic(f"{shelf.base}^{{tree}}")
        ours = self._synthetic("HEAD^{tree}", base)
        theirs = self._synthetic(f"{rev}^{{tree}}", base)
        merged = _run(
            ["merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", ours, theirs],
            self.top,
            check=False,
        )
        if merged.returncode not in (0, 1):
            raise GitError(_git_message(["merge-tree"], merged.stderr + merged.stdout))
        tree, *files = merged.stdout.split("\0")
        return tree.strip(), [f for f in files if f] if merged.returncode == 1 else []

    def _synthetic(self, tree: str, parent: str | None = None) -> str:
        """A commit object of `tree` that no ref points at (for a merge in the object store)."""
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "incidentctl",
            "GIT_AUTHOR_EMAIL": "incidentctl@localhost",
            "GIT_COMMITTER_NAME": "incidentctl",
            "GIT_COMMITTER_EMAIL": "incidentctl@localhost",
        }
        args = ["commit-tree", *(["-p", parent] if parent else []), tree]
        return _run(args, self.top, stdin="incidentctl sync check\n", env=env).stdout.strip()

    def push(self, remote: str, branch: str) -> bool:
        """Push HEAD to the branch (never forced); False if someone pushed first.

        A push the server refuses for good (a protected branch, a pre-receive hook, a
        policy) raises at once with git's and the server's words: another attempt
        would only be refused again.
        """
        result = _run(
            ["push", "--porcelain", "--", remote, f"HEAD:refs/heads/{branch}"],
            self.top,
            check=False,
        )
        if result.returncode == 0:
            return True
        summary = _push_summary(result.stdout)
        if summary is None:  # no ref was tried: no connection, no such remote, a bad URL
            raise GitError(_git_message(["push"], result.stderr + result.stdout))
        if _remote_moved(summary):
            return False
        raise GitError(_push_refused(remote, branch, summary, result.stderr))

    def added_since(self, ref: str, folder: str) -> list[str]:
        """Files added by commits here that `ref` does not have."""
        out = self.run(
            "diff", "-z", "--name-only", "--diff-filter=A", f"{ref}...HEAD", "--", folder
        )
        return [f for f in out.split("\0") if f]

    def modes(self, folders: Sequence[str]) -> dict[str, str]:
        """{path: git mode} of every file the index holds under these folders."""
        out = _run(
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
        """Serialise incidentctl processes on this clone over read-modify-write-commit."""
        return RepoLock(os.path.join(self.gitdir, LOCK_NAME), timeout)

    # -- reading history (GitPython) --------------------------------------------------------

    def history(self, path: Path) -> list[Commit]:
        """Commits that touched `path`, newest first, following renames of that file only."""
        import git

        rel = self.relative(path)
        if self.head() is None:
            return []
        shas = self.file_commits(rel)
        try:
            with git.Repo(self.root) as repo:
                return [_commit(repo.commit(sha)) for sha in shas]
        except git.GitCommandError as exc:
            raise GitError(_git_message(["log"], str(exc.stderr))) from None

    def file_commits(self, rel: str) -> list[str]:
        """SHAs of the commits that changed the file at `rel`, newest first.

        Not `git log --follow`: its rename detection also takes a file *copied* from
        another (a new incident made from a similar one) for a rename, and lists the
        other file's commits. Here each path's commits come from a plain path-limited
        `git log`; where the file was added, the adding commit is asked whether git
        sees a rename (`diff-tree -M`: the old path deleted in that very commit, its
        content at least half the same; copies never count), and only then does the
        walk go on with the old path from that commit's parent.
        """
        found: list[str] = []
        rev, current = "HEAD", rel
        while True:
            out = self.run(
                *("-c", "log.follow=false", "-c", "log.showRoot=true", "--literal-pathspecs"),
                *("log", "--no-color", "--no-renames", "--name-status", "--format=%x00%H"),
                *(rev, "--", current),
            )
            source = None
            for chunk in out.split("\0")[1:]:
                sha, _, statuses = chunk.partition("\n")
                found.append(sha.strip())
                added = any(line.startswith("A\t") for line in statuses.split("\n"))
                if added and (source := self._renamed_from(sha.strip(), current)):
                    break
            if source is None:
                return found
            rev, current = f"{found[-1]}^", source

    def _renamed_from(self, sha: str, path: str) -> str | None:
        """The old path of `path` if commit `sha` renamed a file to it (never a copy)."""
        out = self.run(
            "diff-tree", "-r", "-z", "-M", "--no-commit-id", "--name-status", "--root", sha
        )
        fields = out.split("\0")
        index = 0
        while index < len(fields) - 1:
            status = fields[index]
            if status[:1] in ("R", "C"):
                old, new = fields[index + 1], fields[index + 2]
                if status[0] == "R" and new == path:
                    return old
                index += 3
            else:
                index += 2
        return None

    def file_at(self, ref: str, path: str, *, limit: int | None = None) -> tuple[str, bytes | None]:
        """(the commit `ref` names, the bytes of `path` in it or None if it has none).

        `ref` is a revision, never an option; `path` is read from git's object store,
        so what the work tree holds (a pull request's edit) plays no part. A blob
        larger than `limit` bytes (default: the incident file limit) is refused unread.
        """
        import git

        from ..incident.file import MAX_FILE_BYTES

        limit = MAX_FILE_BYTES if limit is None else limit

        if ref.startswith("-"):
            raise GitError(f"{ref!r} is not a revision; a revision cannot start with '-'")
        try:
            with git.Repo(self.root) as repo:
                try:
                    commit = repo.commit(ref)
                except (git.BadName, ValueError):
                    raise GitError(
                        f"unknown revision {ref!r}; fetch it first (e.g. `git fetch origin`)"
                    ) from None
                try:
                    blob = commit.tree / path
                except KeyError:
                    return commit.hexsha, None
                if blob.type != "blob" or blob.mode not in (0o100644, 0o100755):
                    raise GitError(f"{path} at {ref} is not a regular file")
                if blob.size > limit:  # known from git before a byte is read
                    raise GitError(
                        f"{path} at {ref} is larger than {limit // 1024 // 1024} MiB; "
                        "that is not a file incidentctl reads"
                    )
                data: bytes = blob.data_stream.read()
                return commit.hexsha, data
        except git.GitCommandError as exc:
            raise GitError(_git_message(["show"], str(exc.stderr))) from None

    def changed_since(self, ref: str, *, deleted: bool = False) -> list[str]:
        """Paths (relative to the root) changed between the merge base with `ref` and now.

        Deleted paths are left out unless `deleted`.
        """
        import git

        if ref.startswith("-"):
            raise GitError(f"{ref!r} is not a revision; a revision cannot start with '-'")
        try:
            with git.Repo(self.root) as repo:
                try:
                    base = repo.merge_base(repo.rev_parse(ref), "HEAD")
                except (git.BadName, ValueError):
                    raise GitError(
                        f"unknown revision {ref!r}; fetch it first (e.g. `git fetch origin`)"
                    ) from None
                if not base:
                    raise GitError(f"{ref!r} shares no history with HEAD")
                changed = {
                    d.b_path or d.a_path for d in base[0].diff(None) if (d.b_path or d.a_path)
                }
                changed.update(repo.untracked_files)
                return sorted(p for p in changed if p and (deleted or (self.root / p).exists()))
        except git.GitCommandError as exc:
            raise GitError(_git_message(["diff"], str(exc.stderr))) from None


def _untracked_in_the_way(output: str) -> list[str]:
    """The files git lists as "untracked working tree files would be overwritten"."""
    found: list[str] = []
    listing = False
    for line in output.splitlines():
        if "untracked working tree files would be" in line:
            listing = True
        elif listing and line.startswith("\t"):
            found.append(line.strip())
        elif listing:
            break
    return found


def _push_summary(porcelain: str) -> str | None:
    """The summary of the one rejected ref in `git push --porcelain` output.

    Each ref is a line `FLAG<TAB>FROM:TO<TAB>SUMMARY`; `!` marks a rejected one, e.g.
    `[rejected] (fetch first)` or `[remote rejected] (pre-receive hook declined)`.
    """
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "!":
            return parts[2].strip()
    return None


# The server's own words for a push that lost a race to another push after git
# checked the branch (two pushes landing at once): fetch, rebase and try again.
_SERVER_RACES = ("cannot lock ref", "failed to update ref", "failed to lock", "incorrect old value")


def _remote_moved(summary: str) -> bool:
    """Whether a rejected push was only beaten by another push (retrying helps)."""
    if summary.startswith("[rejected]"):
        return "fetch first" in summary or "non-fast-forward" in summary
    if summary.startswith("[remote rejected]"):
        return any(words in summary for words in _SERVER_RACES)
    return False


def _push_refused(remote: str, branch: str, summary: str, stderr: str) -> str:
    """One line: what git said, what the server said, that nothing is lost, what to do."""
    from ..safetext import safe

    said = [
        safe(line.removeprefix("remote:").strip())
        for line in stderr.splitlines()
        if line.startswith("remote:") and line.removeprefix("remote:").strip()
    ]
    server = f"; the server said: {' | '.join(said[-10:])}" if said else ""
    return (
        f"{remote} refused the push to {branch}: {safe(summary)}{server}. Your commits are "
        "kept here, unpushed; retrying will not help until that is settled (e.g. a protected "
        "branch takes a pull request), then run `incidentctl sync` again"
    )


def _commit(commit: Any) -> Commit:
    from .rows import Commit

    return Commit(
        sha=commit.hexsha,
        author=commit.author.name or "",
        email=commit.author.email or "",
        at=datetime.fromtimestamp(commit.authored_date, timezone.utc),
        subject=commit.summary if isinstance(commit.summary, str) else commit.summary.decode(),
    )
