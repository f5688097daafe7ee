"""Every incident's front matter (and timeline), read once per version of its file.

Reading 10,000 incident files means parsing 10,000 YAML front matters and validating
them: seconds. This module keeps what that gave in the clone's `.git/incidentctl/`
(never committed), keyed by git's blob id of the file's bytes. The ids come from what
git already knows: `git ls-files -s` for the tracked files, whose work-tree copy
`git diff-files` does not report as changed; every other file (changed by hand, new,
untracked) is read and hashed as git would hash it. A hand edit, a branch switch, a
pull or a rebase changes the bytes, so the id, so the entry: a cache entry is never
wrong, only missing. Entries of blobs no longer present are dropped on save.

    records/fm-XX        blob id -> the front matter as `show --json` prints it, or the
                         one-line error of a file that does not validate
    records/timeline-XX  blob id -> the timeline entries (loaded only when asked for)

XX is the blob id's first two hex digits: 256 small files, so that one incident
(`show`) reads one of them and a whole listing reads them all.
"""

from __future__ import annotations

import os

from ..errors import InvalidIncident
from ..incident.file import IncidentFile
from ..record import Record
from .base import RepoBase

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1  # of the cache files; with incidentctl's version, part of their key


class IncidentRecord(Record):
    """One valid incident: where it is, its front matter as JSON values (timestamps as
    RFC 3339 strings in UTC, enums as their values), and, when asked for, its timeline
    (`{"at", "author", "kind", "text"}` each, oldest first)."""

    __slots__ = ("path", "data", "timeline")  # noqa: RUF023 (field order)

    def __init__(self, path: str, data: dict[str, Any], timeline: list[dict[str, str]] | None):
        self.path = path
        self.data = data
        self.timeline = timeline


def records(
    repo: RepoBase,
    warn: Any = None,
    *,
    timelines: bool = False,
) -> list[IncidentRecord]:
    """Every incident that validates, by file name order; the others go to `warn`."""
    found, odd = repo.scan(many=True)  # one pass over the folders serves both
    top = repo.config.incidents_dir.rstrip("/")
    if warn:
        bad = [(f"{top}/{folder}/{name}", why) for _, folder, name, why in found if why]
        for rel, why in sorted(bad + odd):
            warn(f"skipped {rel}: {why}")
    base = repo.incidents_top
    files = [
        (f"{top}/{folder}/{name}", f"{base}/{folder}/{name}")
        for _, folder, name, problem in sorted(found, key=lambda n: n[2])
        if problem is None
    ]
    known = _index_blobs(repo, top)
    fronts = _Cache(repo, "fm")
    times = _Cache(repo, "timeline") if timelines else None
    out = []
    for rel, path in files:
        blob = known.get(rel)
        entry = fronts.get(blob) if blob else None
        timeline = times.get(blob) if times is not None and blob else None
        if entry is None or (times is not None and timeline is None):
            blob, entry, timeline = _read(repo, rel, path, fronts, times)
        if isinstance(entry, str):  # the file's one-line error
            if warn:
                warn(f"skipped {entry}")
            continue
        out.append(IncidentRecord(rel, entry, timeline))
    fronts.save(prune=True)
    if times is not None:
        times.save(prune=True)
    return out


def front_matter(repo: RepoBase, rel: str, path: str) -> tuple[IncidentFile, dict[str, Any]]:
    """One incident file and its front matter as `show --json` prints it: from the cache
    when its bytes were seen before (no YAML, no model), else parsed and validated."""
    from ..incident.storage import decode, read_limited

    raw = read_limited(path, rel, root=repo.git.top)
    file = IncidentFile(decode(raw, rel), rel, known=repo.known)
    fronts = _Cache(repo, "fm")
    blob = _blob_id(raw)
    data = fronts.get(blob)
    if not isinstance(data, dict):
        data = _validated(file)  # raises the file's own error
        fronts.put(blob, data)
        fronts.save()
    return file, data


def _validated(file: IncidentFile) -> dict[str, Any]:
    from ..incident.jsonview import front_matter_json
    from ..incident.validation import validate

    return front_matter_json(file, validate(file))


def _read(
    repo: RepoBase, rel: str, path: str, fronts: _Cache, times: _Cache | None
) -> tuple[str, Any, list[dict[str, str]] | None]:
    """Parse and validate one file; remember what it gave under its content's blob id."""
    from ..incident.storage import read_limited

    try:
        raw = read_limited(path, rel, root=repo.git.top)
    except InvalidIncident as exc:
        return "", str(exc), None
    blob = _blob_id(raw)
    entry = fronts.get(blob)
    timeline = times.get(blob) if times is not None else None
    if entry is not None and (times is None or timeline is not None):
        return blob, entry, timeline
    data: Any
    try:
        file = IncidentFile(_decode(raw, rel), rel)
        data = _validated(file)
        timeline = [e.as_json() for e in file.timeline()] if times is not None else None
    except InvalidIncident as exc:
        data, timeline = str(exc), []
    fronts.put(blob, data)
    if times is not None and timeline is not None:
        times.put(blob, timeline)
    return blob, data, timeline


def _decode(raw: bytes, rel: str) -> str:
    from ..incident.storage import decode

    return decode(raw, rel)


def _blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob (SHA-1 object format)."""
    import hashlib

    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def _index_blobs(repo: RepoBase, top: str) -> dict[str, str]:
    """{path: blob id} of the tracked files under `top` whose work-tree copy git does
    not report as changed (those, and untracked files, are hashed when read)."""
    from .proc import Process

    # Both at once: each reads the index, neither waits for the other.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    git = ["git", "-C", repo.git.top]
    try:
        listing = Process([*git, "ls-files", "-s", "-z", "--", top], env=env)
        changes = Process([*git, "diff-files", "--name-only", "-z", "--", top], env=env)
    except OSError:
        return {}
    listed, changed = listing.communicate(), changes.communicate()
    if listed.returncode != 0 or changed.returncode != 0:
        return {}
    dirty = set(changed.stdout.split("\0"))
    blobs = {}
    for record in listed.stdout.split("\0"):
        info, tab, path = record.partition("\t")
        if tab and path not in dirty:
            mode, blob, stage = info.split(" ")
            if mode in ("100644", "100755") and stage == "0":
                blobs[path] = blob
    return blobs


class _Cache:
    """{blob id: value} in 256 marshal files by the id's first two hex digits, each
    loaded when first asked for and written atomically when it changed."""

    def __init__(self, repo: RepoBase, kind: str):
        from .. import __version__

        self.folder = os.path.join(repo.git.gitdir, "incidentctl", "records")
        self.kind = kind
        self.key = (FORMAT, __version__)
        self.shards: dict[str, dict[str, Any]] = {}
        self.used: dict[str, set[str]] = {}
        self.changed: set[str] = set()

    def _shard(self, prefix: str) -> dict[str, Any]:
        import marshal

        found = self.shards.get(prefix)
        if found is None:
            found = {}
            try:
                with open(os.path.join(self.folder, f"{self.kind}-{prefix}"), "rb") as handle:
                    # Written only by incidentctl into this clone's .git folder, trusted
                    # as much as .git/config and hooks; marshal runs no code.
                    stored_key, entries = marshal.loads(handle.read())  # noqa: S302
                if stored_key == self.key and isinstance(entries, dict):
                    found = entries
            except Exception:  # missing, torn, or from another version: start afresh
                found = {}
            self.shards[prefix] = found
            self.used[prefix] = set()
        return found

    def get(self, blob: str) -> Any:
        prefix = blob[:2]
        shard = self._shard(prefix)
        self.used[prefix].add(blob)  # (a miss is put under the same id right after)
        return shard.get(blob)

    def put(self, blob: str, value: Any) -> None:
        prefix = blob[:2]
        self._shard(prefix)[blob] = value
        self.used[prefix].add(blob)
        self.changed.add(prefix)

    def save(self, *, prune: bool = False) -> None:
        """Write the shards that changed (with `prune`, after a pass over every file:
        also those holding entries of blobs no longer seen). Failing to cache fails
        nothing."""
        import marshal

        for prefix, shard in self.shards.items():
            used = self.used[prefix]
            stale = prune and len(used) != len(shard)
            if prefix not in self.changed and not stale:
                continue
            kept = {blob: shard[blob] for blob in used if blob in shard} if prune else shard
            path = os.path.join(self.folder, f"{self.kind}-{prefix}")
            tmp = f"{path}.{os.getpid()}.tmp"
            try:
                os.makedirs(self.folder, exist_ok=True)
                with open(tmp, "wb") as handle:
                    handle.write(marshal.dumps((self.key, kept)))
                os.replace(tmp, path)
            except (OSError, ValueError):
                try:  # noqa: SIM105
                    os.unlink(tmp)
                except OSError:
                    pass
        if prune:  # shards no file maps to any more
            for name in _listdir(self.folder):
                kind, _, prefix = name.partition("-")
                if kind == self.kind and len(prefix) == 2 and prefix not in self.shards:
                    try:  # noqa: SIM105
                        os.unlink(os.path.join(self.folder, name))
                    except OSError:
                        pass


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []
