"""Everything incidentctl asks of git, in one place.

Writes go through the git command line (as `repo.git.commit` would), so the user's
hooks, `core.hooksPath` and commit signing apply; GitPython's own commit path skips
them (FIELD-NOTES.md). Reads that walk history use GitPython. User text reaches git
only as data: paths after `--`, messages on standard input, never as an option or
a revision.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from .errors import GitError

LOCK_NAME = "incidentctl.lock"
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0, 2.5)


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    at: datetime
    subject: str


def _run(
    args: Sequence[str],
    cwd: Path,
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
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


def find_root(start: Path) -> tuple[Path, Path]:
    """The work tree root and the git directory around `start`."""
    if not start.exists():
        raise GitError(f"{start}: no such folder; check --repo")
    result = _run(
        ["rev-parse", "--show-toplevel", "--absolute-git-dir"],
        start if start.is_dir() else start.parent,
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != 2:
        raise GitError(
            f"not inside a git work tree ({start}); run `git init` or pass `--repo PATH`"
        )
    return Path(lines[0]), Path(lines[1])


class GitRepo:
    """A git work tree, addressed by its root."""

    def __init__(self, root: Path, git_dir: Path):
        self.root = root
        self.git_dir = git_dir

    @classmethod
    def discover(cls, start: Path) -> GitRepo:
        root, git_dir = find_root(start)
        return cls(root, git_dir)

    def run(self, *args: str, stdin: str | None = None) -> str:
        return _run(args, self.root, stdin=stdin).stdout

    def _run_retrying(self, args: Sequence[str], *, stdin: str | None = None) -> str:
        """Run a command that takes `.git/index.lock`, retrying while someone holds it.

        git fails at once on a held lock; we wait briefly and never delete the lock.
        """
        for delay in (*_RETRY_DELAYS, None):
            result = _run(args, self.root, stdin=stdin, check=False)
            if result.returncode == 0:
                return result.stdout
            output = result.stderr + result.stdout
            if not _locked(output) or delay is None:
                if _locked(output):
                    raise GitError(
                        "git's index is locked by another process (.git/index.lock); "
                        "wait for it to finish, or remove the lock if no git is running"
                    )
                raise GitError(_git_message(args, output))
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- identity and state ---------------------------------------------------------

    def identity(self) -> tuple[str, str]:
        """(name, email) git will put on the next commit."""
        result = _run(["var", "GIT_AUTHOR_IDENT"], self.root, check=False)
        if result.returncode != 0:
            raise GitError(
                "git does not know who you are; run "
                "`git config --global user.name 'Your Name'` and "
                "`git config --global user.email you@example.com`"
            )
        ident = result.stdout.strip()
        name, _, rest = ident.partition(" <")
        email = rest.split(">", 1)[0]
        return name.strip(), email.strip()

    def is_tracked(self, path: Path) -> bool:
        rel = self.relative(path)
        result = _run(["ls-files", "--error-unmatch", "--", rel], self.root, check=False)
        return result.returncode == 0

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def head(self) -> str | None:
        result = _run(["rev-parse", "--verify", "--quiet", "HEAD"], self.root, check=False)
        return result.stdout.strip() or None

    # -- writing ----------------------------------------------------------------------

    def commit_only(self, path: Path, subject: str, trailers: dict[str, str]) -> str:
        """Commit exactly one file; whatever else is staged stays staged, uncommitted.

        Uses `git commit --only`, so hooks and signing configured by the user apply.
        Returns the new commit's SHA.
        """
        rel = self.relative(path)
        new = not self.is_tracked(path)  # one cheap ls-files; hand-made files count too
        if new:
            # --only needs the path known to git; intent-to-add stages no content.
            self._run_retrying(["add", "--intent-to-add", "--", rel])
        message = subject.strip() + "\n\n" + "".join(f"{k}: {v}\n" for k, v in trailers.items())
        try:
            self._run_retrying(
                ["commit", "--only", "--quiet", "--file=-", "--cleanup=strip", "--", rel],
                stdin=message,
            )
        except GitError:
            if new:  # leave the index as it was before the command
                _run(["rm", "--cached", "--quiet", "--", rel], self.root, check=False)
            raise
        return self.run("rev-parse", "HEAD").strip()

    @contextmanager
    def lock(self, timeout: float = 120.0) -> Iterator[None]:
        """Serialise incidentctl processes on this clone over read-modify-write-commit.

        An flock is released by the kernel when its holder dies, so a killed command
        never leaves a lock that blocks the next one.
        """
        import fcntl

        path = self.git_dir / LOCK_NAME
        handle: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        handle.seek(0)
                        owner = handle.read().strip() or "unknown"
                        raise GitError(
                            f"another incidentctl ({owner}) has held {path} for over "
                            f"{int(timeout)} s; wait for it or stop that process"
                        ) from None
                    time.sleep(0.02)
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"pid {os.getpid()} on {socket.gethostname()} since "
                f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n"
            )
            handle.flush()
            yield
        finally:
            handle.close()

    # -- reading history (GitPython) --------------------------------------------------------

    def history(self, path: Path) -> list[Commit]:
        """Commits that touched `path`, newest first, following renames."""
        import git

        rel = self.relative(path)
        try:
            with git.Repo(self.root) as repo:
                if self.head() is None:
                    return []
                # `git rev-list` (what iter_commits runs) refuses --follow; `git log` takes it.
                shas = repo.git.log("--follow", "--format=%H", "HEAD", "--", rel).split()
                return [_commit(repo.commit(sha)) for sha in shas]
        except git.GitCommandError as exc:
            raise GitError(_git_message(["log"], str(exc.stderr))) from None

    def changed_since(self, ref: str) -> list[str]:
        """Paths (relative to the root) changed between the merge base with `ref` and now."""
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
                return sorted(p for p in changed if p and (self.root / p).exists())
        except git.GitCommandError as exc:
            raise GitError(_git_message(["diff"], str(exc.stderr))) from None


def _commit(commit: Any) -> Commit:
    return Commit(
        sha=commit.hexsha,
        author=commit.author.name or "",
        email=commit.author.email or "",
        at=datetime.fromtimestamp(commit.authored_date, timezone.utc),
        subject=commit.summary if isinstance(commit.summary, str) else commit.summary.decode(),
    )
