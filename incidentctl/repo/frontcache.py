"""The cache of front matters on disk: {git blob id: value} in 256 small files.

records.py fills it from many files at once; a command that changes one incident
(base.py, quick.py) puts the new version's front matter in it as it writes the file,
so the next command on that incident finds it without YAML or the model.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1  # of the cache files; with incidentctl's version, part of their key


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob (SHA-1 object format)."""
    try:  # the built-in module: hashlib would load OpenSSL first (~5 ms)
        from _sha1 import sha1  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - a Python built without it
        from hashlib import sha1

    digest = sha1(b"blob %d\0" % len(data))  # noqa: S324 (git's object ids, no secret)
    digest.update(data)
    return str(digest.hexdigest())


class FrontCache:
    """{blob id: value} in 256 marshal files by the id's first two hex digits, each
    loaded when first asked for and written atomically when it changed."""

    def __init__(self, gitdir: str, kind: str):
        from .. import __version__

        self.folder = os.path.join(gitdir, "incidentctl", "records")
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


def remember(gitdir: str, old: bytes | None, new: bytes, data: dict[str, Any] | None) -> None:
    """Put the front matter of a file just written (`new`) in the cache: `data` when
    the command validated it, else, for a change that left the front matter as it
    was (`log`), whatever the cache holds for the bytes it had before (`old`)."""
    fronts = FrontCache(gitdir, "fm")
    if data is None:
        if old is None:
            return
        data = fronts.get(blob_id(old))
        if not isinstance(data, dict):
            return
    fronts.put(blob_id(new), data)
    fronts.save()


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []
