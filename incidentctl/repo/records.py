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
from .frontcache import FrontCache
from .frontcache import blob_id as _blob_id

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any


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
    known = index_blobs(repo, top)
    fronts = FrontCache(repo.git.gitdir, "fm")
    times = FrontCache(repo.git.gitdir, "timeline") if timelines else None
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
    fronts = FrontCache(repo.git.gitdir, "fm")
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
    repo: RepoBase, rel: str, path: str, fronts: FrontCache, times: FrontCache | None
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


def index_blobs(repo: RepoBase, top: str) -> dict[str, str]:
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
