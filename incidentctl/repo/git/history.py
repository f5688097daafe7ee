"""Reading git history: one file's commits (following its renames), a file at a revision,
what changed since a revision; the work tree searched (grep)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ...errors import GitError
from .core import GitCore
from .run import git_message, run_git

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

    from ..rows import Commit


class GitHistory(GitCore):
    """What GitRepo reads from history (log, show, diff)."""

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
            raise GitError(git_message(["log"], str(exc.stderr))) from None

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

        from ...incident.storage import MAX_FILE_BYTES

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
            raise GitError(git_message(["show"], str(exc.stderr))) from None

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
            raise GitError(git_message(["diff"], str(exc.stderr))) from None

    def files_containing(self, needles: Sequence[str], folder: str) -> list[str]:
        """Files under `folder` (tracked or new, not ignored) holding any of `needles`
        (fixed strings), relative to the root with `/`: one `git grep` over the work
        tree, fast over thousands of files."""
        if not needles:
            return []
        args = ["grep", "--untracked", "-l", "-z", "-F", "--no-color"]
        for needle in needles:
            args += ["-e", needle]
        result = run_git(
            [*args, "--", folder],
            self.top,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
        if result.returncode == 1:  # nothing found
            return []
        if result.returncode != 0:
            raise GitError(git_message(["grep"], result.stderr + result.stdout))
        return [path for path in result.stdout.split("\0") if path]


def _commit(commit: Any) -> Commit:
    from ..rows import Commit

    return Commit(
        sha=commit.hexsha,
        author=commit.author.name or "",
        email=commit.author.email or "",
        at=datetime.fromtimestamp(commit.authored_date, timezone.utc),
        subject=commit.summary if isinstance(commit.summary, str) else commit.summary.decode(),
    )
