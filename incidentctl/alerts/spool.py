"""The receiver's spool: every accepted payload on disk, fsynced, before it is answered.

    spool/
      ready/<nanoseconds>-<sequence>-<random>.alert   accepted, not yet applied (in name order)
      failed/                                       payloads that could not be applied
      journal.json                                  the batch being applied, if any

A payload is written to a temporary name, fsynced, renamed into `ready/` and the folder
fsynced: after a crash it is either wholly there or not at all. The writer applies a
batch, then deletes its files. Before a batch it writes the journal (the batch's files
and HEAD), so that a crash between a batch's commits and the deletion of its files is
settled on the next start without applying anything twice (serve.py: recover).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import IncidentctlError

SUFFIX = ".alert"


@dataclass(frozen=True)
class Spooled:
    """One accepted payload: its name in the spool, format, when it came, its bytes."""

    name: str
    format: str
    received: datetime
    body: bytes


class Spool:
    def __init__(self, folder: str | os.PathLike[str]):
        self.root = Path(folder)
        self.ready = self.root / "ready"
        self.failed = self.root / "failed"
        self.journal = self.root / "journal.json"
        self._lock = threading.Lock()
        self._sequence = 0
        try:
            for path in (self.root, self.ready, self.failed):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise IncidentctlError(
                f"cannot use the spool folder {self.root}: {exc.strerror}; pass --spool DIR"
            ) from None
        for stale in self.ready.glob(".*.tmp"):  # a write cut off before its rename
            stale.unlink(missing_ok=True)

    def accept(self, body: bytes, format: str, received: datetime) -> str:
        """Store a payload durably; its name (also the delivery's ID in the answer)."""
        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        name = f"{time.time_ns():020d}-{sequence:08d}-{os.urandom(4).hex()}"
        header = {"format": format, "received": received.isoformat()}
        data = json.dumps(header).encode() + b"\n" + body
        tmp = self.ready / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.ready / f"{name}{SUFFIX}")
        _sync_folder(self.ready)
        return name

    def pending(self, limit: int | None = None) -> list[str]:
        """Names of the payloads not yet applied, oldest first."""
        names = sorted(p.name[: -len(SUFFIX)] for p in self.ready.glob(f"*{SUFFIX}"))
        return names[:limit] if limit is not None else names

    def depth(self) -> int:
        return sum(1 for _ in self.ready.glob(f"*{SUFFIX}"))

    def read(self, name: str) -> Spooled:
        data = (self.ready / f"{name}{SUFFIX}").read_bytes()
        head, _, body = data.partition(b"\n")
        header = json.loads(head)
        received = datetime.fromisoformat(header["received"]).astimezone(timezone.utc)
        return Spooled(name, header["format"], received, body)

    def done(self, names: list[str]) -> None:
        """The payloads are applied: remove them (and the journal, last)."""
        for name in names:
            (self.ready / f"{name}{SUFFIX}").unlink(missing_ok=True)
        _sync_folder(self.ready)
        self.journal.unlink(missing_ok=True)
        _sync_folder(self.root)

    def fail(self, name: str, why: str) -> None:
        """Set a payload aside that cannot be applied, with the reason beside it."""
        source = self.ready / f"{name}{SUFFIX}"
        if source.exists():
            os.replace(source, self.failed / f"{name}{SUFFIX}")
            (self.failed / f"{name}.why").write_text(why + "\n", encoding="utf-8")
            _sync_folder(self.failed)
            _sync_folder(self.ready)

    def write_journal(self, entry: dict[str, Any]) -> None:
        tmp = self.root / ".journal.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(entry, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.journal)
        _sync_folder(self.root)

    def read_journal(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.journal.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # torn: written before any commit of its batch
            return {}
        return data


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
