"""What the site needs from git: blob ids of the incident files, HEAD, and histories.

A page is rebuilt when its file's bytes (blob id) or its history changed. The blob ids
come from `git ls-files -s` (files git does not report as changed) and from hashing the
others, like records.py. Histories of every file come from one `git log` over the
incidents folder (renames followed where git sees one, a copy never); on an
incremental build only the changed files' are needed: the commits since the last
build's HEAD put before the history kept then (cache.py), else one file's own log.
"""

from __future__ import annotations

import hashlib
import os
from typing import NamedTuple

from ...incident.storage import read_limited
from ...repo.git.run import run_git
from ...repo.records import index_blobs

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ...repo.base import RepoBase

_READ_ENV = {"GIT_OPTIONAL_LOCKS": "0"}  # reads never take index.lock
# `%x1e` starts a commit; the SHA (40 hex) then tells a real start from a subject
# that happens to hold the same character.
_FORMAT = "--format=%x1e%H%x1f%at%x1f%an%x1f%s"
_FEW = 40  # more changed files than this: one pass over the whole history is cheaper


class Change(NamedTuple):
    """One commit in a file's history."""

    sha: str
    at: int  # author time, seconds since the epoch
    author: str
    subject: str


class Since(NamedTuple):
    """The commits since the last build's HEAD that changed incident files, newest
    first, each with its (status, paths); and all those paths (renames: both)."""

    paths: set[str]
    commits: list[tuple[Change, list[tuple[str, list[str]]]]]


def _git(repo: RepoBase, *args: str, check: bool = False) -> tuple[int, str]:
    result = run_git(list(args), repo.git.top, check=check, env={**os.environ, **_READ_ENV})
    return result.returncode, result.stdout


def head(repo: RepoBase) -> str | None:
    code, out = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD")
    return (out.strip() or None) if code == 0 else None


class Prefetch:
    """What the site asks git before anything else, asked in a thread while the
    records load (git's processes run on another CPU meanwhile): HEAD, what changed
    since the last build's HEAD, and the blob ids of the tracked incident files."""

    def __init__(self, repo: RepoBase, old_head: str | None):
        import threading

        self.repo = repo
        self.old_head = old_head
        self.head: str | None = None
        self.touched: Since | None = None
        self.index: dict[str, str] = {}  # path -> blob id, where the work tree agrees
        self._thread = threading.Thread(target=self._run, name="site-git", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.head = head(self.repo)
            self.touched = touched_since(self.repo, self.old_head, self.head)
            self.index = index_blobs(self.repo, self.repo.config.incidents_dir.rstrip("/"))
        except Exception:  # git unusable: every page is built, every file hashed
            self.touched, self.index = None, {}

    def wait(self) -> Prefetch:
        self._thread.join()
        return self


def blob_ids(repo: RepoBase, rels: Iterable[str], index: dict[str, str]) -> dict[str, str]:
    """{path: blob id} for `rels` (relative to the root): git's own id from `index`
    (Prefetch) where the work tree copy is unchanged, else the id of the bytes on disk
    (read bounded)."""
    blobs: dict[str, str] = {}
    for rel in rels:
        blob = index.get(rel)
        if blob is None:
            try:
                data = read_limited(os.path.join(repo.git.top, rel), rel, root=repo.git.top)
            except Exception:  # gone or unreadable since records(): rebuild the page
                blobs[rel] = ""
                continue
            digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
            digest.update(data)
            blob = digest.hexdigest()
        blobs[rel] = blob
    return blobs


def touched_since(repo: RepoBase, old: str | None, new: str | None) -> Since | None:
    """The commits in old..new that changed files under the incidents folder, or None
    when that cannot be told (no old HEAD, or history was rewritten since)."""
    if old == new:
        return Since(set(), [])
    if not old or not new or not _is_sha(old) or not _is_sha(new):
        return None
    code, _ = _git(repo, "merge-base", "--is-ancestor", old, new)
    if code != 0:
        return None
    top = repo.config.incidents_dir.rstrip("/")
    code, out = _git(
        repo, "log", "--no-color", "-M", "--name-status", "-z", _FORMAT, f"{old}..{new}", "--", top
    )
    if code != 0:
        return None
    commits = _commits(out)
    return Since({path for _, files in commits for _, paths in files for path in paths}, commits)


def extend(path: str, older: list[Change], since: Since) -> list[Change] | None:
    """`path`'s history: the commits since that changed it, then `older` (its history
    at the last build); None when one of them renamed or copied it (git is asked)."""
    newer: list[Change] = []
    for change, files in since.commits:
        for status, paths in files:
            if path in paths:
                if status[:1] in ("R", "C") or status == "A":
                    return None
                newer.append(change)
                break
    return newer + older


def histories(
    repo: RepoBase,
    rels: Iterable[str] | None = None,
    *,
    since: Since | None = None,
    known: dict[str, list[Change]] | None = None,
) -> dict[str, list[Change]]:
    """{path: commits that changed it, newest first} for `rels` (None: every file under
    the incidents folder): from `known` (the history at the last build) and `since`
    where they tell it, else from git: each file's own log for a few, one pass for many."""
    if rels is None:
        return _all_histories(repo)
    found: dict[str, list[Change]] = {}
    asked: list[str] = []
    for rel in rels:
        older = (known or {}).get(rel)
        history = extend(rel, older, since) if older is not None and since is not None else None
        if history is None:
            asked.append(rel)
        else:
            found[rel] = history
    if len(asked) <= _FEW:
        found.update((rel, _file_history(repo, rel)) for rel in asked)
    elif asked:
        every = _all_histories(repo)
        found.update((rel, every.get(rel, [])) for rel in asked)
    return found


def _all_histories(repo: RepoBase) -> dict[str, list[Change]]:
    """One `git log -M --name-status` over the incidents folder, newest first. A commit
    that renamed a file hands the file's older commits, under the old name, to the
    file's present name."""
    top = repo.config.incidents_dir.rstrip("/")
    code, out = _git(
        repo,
        *("-c", "log.follow=false", "-c", "log.showRoot=true", "--literal-pathspecs"),
        *("log", "--no-color", "-M", "--name-status", "-z", _FORMAT, "--", top),
    )
    found: dict[str, list[Change]] = {}
    if code != 0:  # no commits yet
        return found
    now_called: dict[str, str] = {}  # an older name -> the file's present name
    for change, files in _commits(out):
        for status, paths in files:
            if status.startswith("R") and len(paths) == 2:
                old, new = paths
                present = now_called.get(new, new)
                found.setdefault(present, []).append(change)
                now_called[old] = present
            else:
                present = now_called.get(paths[-1], paths[-1])
                found.setdefault(present, []).append(change)
    return found


def _commits(out: str) -> list[tuple[Change, list[tuple[str, list[str]]]]]:
    """The commits of `git log --name-status -z` with _FORMAT: (commit, [(status, paths)])."""
    chunks: list[str] = []
    for chunk in out.split("\x1e")[1:]:
        if (len(chunk) > 41 and chunk[40] == "\x1f" and _is_sha(chunk[:40])) or not chunks:
            chunks.append(chunk)
        else:  # the subject held \x1e: it belongs to the commit before
            chunks[-1] += "\x1e" + chunk
    parsed = []
    for chunk in chunks:
        header, _, rest = chunk.partition("\0")
        sha, at, author, subject = ([*header.split("\x1f", 3), "", "", ""])[:4]
        change = Change(sha, int(at) if at.isdigit() else 0, author, subject.strip())
        fields = rest.lstrip("\n").split("\0")
        files: list[tuple[str, list[str]]] = []
        index = 0
        while index < len(fields):
            status = fields[index].strip("\n")
            if not status:
                index += 1
                continue
            count = 2 if status[:1] in ("R", "C") else 1
            paths = fields[index + 1 : index + 1 + count]
            if len(paths) == count:
                files.append((status, paths) if status[:1] != "C" else ("A", paths[-1:]))
            index += 1 + count
        parsed.append((change, files))
    return parsed


def _is_sha(text: str) -> bool:
    return len(text) >= 40 and all(c in "0123456789abcdef" for c in text)


def _file_history(repo: RepoBase, rel: str) -> list[Change]:
    """One file's commits, newest first, renames followed as `incidentctl history`
    follows them (GitHistory.file_commits): a path-limited log; where it shows the
    file added, that commit is asked whether git sees a rename to it (never a copy),
    and only then does the walk go on under the old name from that commit's parent."""
    found: list[Change] = []
    rev, current = "HEAD", rel
    for _ in range(100):  # renames followed, at most
        code, out = _git(
            repo,
            *("-c", "log.follow=false", "-c", "log.showRoot=true", "--literal-pathspecs"),
            *("log", "--no-color", "--no-renames", "--name-status", "-z", _FORMAT, rev),
            *("--", current),
        )
        if code != 0:
            return found
        commits = _commits(out)
        found.extend(change for change, _ in commits)
        if not commits or not any(s == "A" for s, _ in commits[-1][1]):
            return found
        oldest = commits[-1][0].sha
        code, out = _git(
            repo, "diff-tree", "-r", "-z", "-M", "--diff-filter=R", "--no-commit-id",
            "--name-status", "--root", oldest,
        )  # fmt: skip
        fields = out.split("\0")
        source = next(
            (fields[i + 1] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == current),
            None,
        )
        if code != 0 or source is None:
            return found
        rev, current = f"{oldest}^", source
    return found
