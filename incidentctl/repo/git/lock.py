"""The lock that serialises incidentctl processes on one clone (an flock in .git/)."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from ...errors import GitError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import IO

    StrPath = str | os.PathLike[str]


LOCK_NAME = "incidentctl.lock"


class RepoLock:
    """`with RepoLock(path):` holds an exclusive flock on `path` (made if missing).

    An flock is released by the kernel when its holder dies, so a killed command
    never leaves a lock that blocks the next one. Locks sharing a `depth` counter are
    one re-entrant lock (GitRepo.lock): taken again inside itself, it only counts.
    """

    def __init__(self, path: StrPath, timeout: float = 120.0, depth: list[int] | None = None):
        self.path = path
        self.timeout = timeout
        self._handle: IO[str] | None = None
        self._depth = depth if depth is not None else [0]
        self._nested = False

    def __enter__(self) -> None:
        if self._depth[0] > 0:
            self._depth[0] += 1
            self._nested = True
            return
        self._take()
        self._depth[0] = 1

    def _take(self) -> None:
        import fcntl

        try:
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until __exit__)
        except OSError as exc:
            from ...incident.safefs import write_reason

            raise GitError(f"cannot open the lock file {self.path}: {write_reason(exc)}") from None
        try:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        handle.seek(0)
                        owner = handle.read().strip() or "unknown"
                        raise GitError(
                            f"another incidentctl ({owner}) has held {self.path} for over "
                            f"{int(self.timeout)} s; wait for it or stop that process"
                        ) from None
                    time.sleep(0.02)
            try:  # who holds the lock, for the message above; the flock is what counts
                # Unbuffered: a failed write leaves nothing for close() to fail on.
                os.ftruncate(handle.fileno(), 0)
                os.write(
                    handle.fileno(),
                    f"pid {os.getpid()} on {os.uname().nodename} since "
                    f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n".encode(),
                )
            except OSError:  # a full disk: the command's own write will say so
                pass
        except BaseException:
            handle.close()
            raise
        self._handle = handle

    def __exit__(self, *exc_info: object) -> None:
        self._depth[0] -= 1
        if self._nested:
            self._nested = False
            return
        if self._handle is not None:
            self._handle.close()
            self._handle = None
