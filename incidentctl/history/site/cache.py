"""What an incremental build reuses, kept per clone in `.git/incidentctl/site-cache/`.

An incremental build writes the index and the search index again from every
incident, but builds only the changed incidents' pages: the others' rows in the
index and their search words come from here, keyed like records.py's cache by git's
blob id of the file's bytes (an entry is never wrong, only missing: then the page is
built again, which makes the entry). So do the histories of the files, keyed by path
and the newest commit that changed the file: a changed file's history is then the
commits since the last build put before the one kept here, with no `git log` over
the file (tens of milliseconds each).

marshal, not JSON: it loads in milliseconds. Sixteen shard files, by the first hex
digit of the blob id (rows) or of the path's hash (histories): a build that changed
one incident rewrites two small shards, not everything. Never committed; a missing
or torn shard only makes a build slower.
"""

from __future__ import annotations

import hashlib
import os

from .gitinfo import Change

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1
NAME = "site-cache"
SHARDS = "0123456789abcdef"


def _path_shard(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()[0]


class _Shard:
    """One shard file: {"rows": {blob: (row, words)}, "histories": {path: (newest, [...])}}."""

    def __init__(self, path: str, key: tuple[Any, ...]):
        import marshal

        self.path = path
        self.key = key
        self.rows: dict[str, tuple[str, str]] = {}
        self.histories: dict[str, tuple[str, list[tuple[str, int, str, str]]]] = {}
        self.used_rows: set[str] = set()
        self.used_histories: set[str] = set()
        self.changed = False
        try:
            with open(path, "rb") as handle:
                # Written only by incidentctl into this clone's .git folder, trusted as
                # much as .git/config and hooks; marshal runs no code.
                key, rows, histories = marshal.loads(handle.read())  # noqa: S302
            if key == self.key and isinstance(rows, dict) and isinstance(histories, dict):
                self.rows, self.histories = rows, histories
        except Exception:  # missing, torn, or from another version: start afresh
            self.rows, self.histories = {}, {}

    def save(self) -> None:
        """Write the entries this build used, if anything changed here."""
        import marshal

        if (
            not self.changed
            and len(self.used_rows) == len(self.rows)
            and len(self.used_histories) == len(self.histories)
        ):
            return
        rows = {blob: self.rows[blob] for blob in self.used_rows if blob in self.rows}
        histories = {p: self.histories[p] for p in self.used_histories if p in self.histories}
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(marshal.dumps((self.key, rows, histories)))
            os.replace(tmp, self.path)
        except (OSError, ValueError):
            try:  # noqa: SIM105
                os.unlink(tmp)
            except OSError:
                pass


class SiteCache:
    """Rows and search words by blob id, histories by path (see the module)."""

    def __init__(self, gitdir: str, version: str):
        folder = os.path.join(gitdir, "incidentctl", NAME)
        key = (FORMAT, version)
        self.shards = {s: _Shard(os.path.join(folder, s), key) for s in SHARDS}

    def row(self, blob: str) -> tuple[str, str] | None:
        """(row HTML, search words) of the file with this blob id, if known."""
        shard = self.shards.get(blob[:1])
        found = shard.rows.get(blob) if shard is not None else None
        if shard is not None and found is not None:
            shard.used_rows.add(blob)
        return found

    def put_row(self, blob: str, row: str, words: str) -> None:
        shard = self.shards.get(blob[:1])
        if shard is None:  # no blob id (an unreadable file): nothing to keep
            return
        shard.used_rows.add(blob)
        if shard.rows.get(blob) != (row, words):
            shard.rows[blob] = (row, words)
            shard.changed = True

    def history(self, path: str, newest: str) -> list[Change] | None:
        """The history of `path` whose newest commit is `newest`, if known."""
        shard = self.shards[_path_shard(path)]
        found = shard.histories.get(path)
        if found is None or found[0] != newest:
            return None
        shard.used_histories.add(path)
        return [Change(*change) for change in found[1]]

    def put_history(self, path: str, changes: list[Change]) -> None:
        shard = self.shards[_path_shard(path)]
        shard.used_histories.add(path)
        plain = [(c.sha, c.at, c.author, c.subject) for c in changes]  # marshal: tuples
        entry = (changes[0].sha if changes else "", plain)
        if shard.histories.get(path) != entry:
            shard.histories[path] = entry
            shard.changed = True

    def keep_history(self, path: str) -> None:
        """Keep `path`'s entry (its page was current) when saving."""
        shard = self.shards[_path_shard(path)]
        if path in shard.histories:
            shard.used_histories.add(path)

    def save(self) -> None:
        """Keep the entries this build used; failing to cache fails nothing."""
        for shard in self.shards.values():
            shard.save()
