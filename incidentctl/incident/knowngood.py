"""Front matters this clone has parsed and found valid, by content hash.

`log` is typed mid-outage and appends to the body only; re-parsing an unchanged
front matter with PyYAML on every entry costs more than the commit does. A front
matter whose exact bytes were parsed and accepted before is accepted again, with
its `id` and `opened_at` from here. Any change, a hand edit included, changes the
hash and the file is parsed in full. The list lives in the clone's .git folder,
so git never moves it between clones.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    StrPath = str | os.PathLike[str]

FILE_NAME = "incidentctl-known-good"
KEEP = 500  # lines kept when the list is trimmed (a few per active incident)


def digest(data: bytes) -> str:
    """SHA-256 of `data`, in hex."""
    try:  # the built-in SHA-256 module: hashlib would load OpenSSL first (~5 ms)
        from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python 3.12 renamed it; any Python has hashlib
        try:
            from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            from hashlib import sha256

    return str(sha256(data).hexdigest())


# Part of every hash: raise it when the loader turns stricter, so a front matter an
# older version accepted (an alias, say) is parsed again, not taken from the list.
LOADER_VERSION = b"2\n"


def _digest(front_matter: str) -> str:
    return digest(LOADER_VERSION + front_matter.encode("utf-8", errors="surrogateescape"))


class KnownGood:
    """The list for one clone; reading it is optional, writing it never fails a command."""

    def __init__(self, git_dir: StrPath):
        self.path = os.path.join(git_dir, FILE_NAME)
        self._entries: dict[str, tuple[str, datetime | None]] | None = None

    def _load(self) -> dict[str, tuple[str, datetime | None]]:
        if self._entries is None:
            self._entries = {}
            try:
                with open(self.path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):
                return self._entries
            for line in text.split("\n"):
                parts = line.split(" ")
                if len(parts) != 3 or len(parts[0]) != 64:
                    continue
                opened = None
                if parts[2] != "-":
                    try:
                        opened = datetime.fromisoformat(parts[2].replace("Z", "+00:00"))
                    except ValueError:
                        continue
                self._entries[parts[0]] = (parts[1], opened)
        return self._entries

    def lookup(self, front_matter: str) -> tuple[str, datetime | None] | None:
        return self._load().get(_digest(front_matter))

    def remember(self, front_matter: str, ident: str, opened: datetime | None) -> None:
        """Record a front matter that was just parsed and accepted (callers hold the lock)."""
        if " " in ident or "\n" in ident:
            return
        digest = _digest(front_matter)
        entries = self._load()
        if digest in entries:
            return
        stamp = opened.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if opened else "-"
        entries[digest] = (ident, opened)
        line = f"{digest} {ident} {stamp}\n"
        try:
            if len(entries) > 2 * KEEP:
                with open(self.path, encoding="utf-8") as handle:
                    kept = handle.read().rstrip("\n").split("\n")[-KEEP:]
                with open(self.path, "w", encoding="utf-8") as handle:
                    handle.write("\n".join(kept) + "\n" + line)
            else:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
        except OSError:
            pass  # a cache: losing it only costs time
