"""Every incident's front matter (and timeline), read once per version of its file.

Reading 10,000 incident files means parsing 10,000 YAML front matters and validating
them: seconds. This module keeps what that gave in the clone's `.git/incidentctl/`
(never committed), keyed by git's blob id of the file's bytes. The ids come from what
git already knows: `git ls-files -s` for the tracked files, whose work-tree copy
`git diff-files` does not report as changed; every other file (changed by hand, new,
untracked) is read and hashed as git would hash it. A hand edit, a branch switch, a
pull or a rebase changes the bytes, so the id, so the entry: a cache entry is never
wrong, only missing. Entries of blobs no longer present are dropped on save.

    records-fm        blob id -> the validated front matter as JSON values, or the
                      one-line error of a file that does not validate
    records-timeline  blob id -> the timeline entries (loaded only when asked for)
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
    from .. import __version__

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
    cache_dir = os.path.join(repo.git.gitdir, "incidentctl")
    key = (FORMAT, __version__)
    fronts = _Cache(os.path.join(cache_dir, "records-fm"), key)
    times = _Cache(os.path.join(cache_dir, "records-timeline"), key) if timelines else None
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
    fronts.save()
    if times is not None:
        times.save()
    return out


def _read(
    repo: RepoBase, rel: str, path: str, fronts: _Cache, times: _Cache | None
) -> tuple[str, Any, list[dict[str, str]] | None]:
    """Parse and validate one file; remember what it gave under its content's blob id."""
    from pydantic import ValidationError

    from ..incident.model import Incident
    from ..incident.storage import read_limited
    from ..incident.validation import validation_error

    try:
        raw = read_limited(path, rel, root=repo.git.top)
    except InvalidIncident as exc:
        return "", str(exc), None
    blob = _blob_id(raw)
    entry = fronts.get(blob)
    timeline = times.get(blob) if times is not None else None
    if entry is not None and (times is None or timeline is not None):
        return blob, entry, timeline
    try:
        file = IncidentFile(_decode(raw, rel), rel)
        data: Any = Incident.model_validate(file.data).model_dump(mode="json")
        timeline = [e.as_json() for e in file.timeline()] if times is not None else None
    except InvalidIncident as exc:
        data, timeline = str(exc), []
    except ValidationError as exc:
        data, timeline = str(validation_error(exc, file)), []
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
    from .git.run import run_git

    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    listed = run_git(["ls-files", "-s", "-z", "--", top], repo.git.top, check=False, env=env)
    changed = run_git(
        ["diff-files", "--name-only", "-z", "--", top], repo.git.top, check=False, env=env
    )
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
    """One cache file: {blob id: value}, in marshal form, written atomically."""

    def __init__(self, path: str, key: tuple[Any, ...]):
        import marshal

        self.path = path
        self.key = key
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.changed = False
        try:
            with open(path, "rb") as handle:
                # Written only by incidentctl into this clone's .git folder, trusted as
                # much as .git/config and hooks; marshal runs no code.
                stored_key, entries = marshal.loads(handle.read())  # noqa: S302
            if stored_key == key and isinstance(entries, dict):
                self.entries = entries
        except Exception:  # missing, torn, or from another version: start afresh
            self.entries = {}

    def get(self, blob: str) -> Any:
        self.used.add(blob)  # (a miss is put under the same id right after)
        return self.entries.get(blob)

    def put(self, blob: str, value: Any) -> None:
        self.entries[blob] = value
        self.used.add(blob)
        self.changed = True

    def save(self) -> None:
        """Write the entries in use, if anything changed; failing to cache fails nothing."""
        import marshal

        if not self.changed and len(self.used) == len(self.entries):
            return
        kept = {blob: self.entries[blob] for blob in self.used if blob in self.entries}
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(marshal.dumps((self.key, kept)))
            os.replace(tmp, self.path)
        except (OSError, ValueError):
            try:  # noqa: SIM105
                os.unlink(tmp)
            except OSError:
                pass
