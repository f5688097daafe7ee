"""Work done in forked child processes, so that a build uses every CPU.

Rendering thousands of pages is pure Python: one process uses one CPU. On Linux a
build forks children that inherit everything already loaded (records, templates,
the manifest), each does one job (a chunk of pages, the status page) and sends its
result back pickled through a pipe; the parent merges the results. Elsewhere (no
fork, or one CPU) the jobs run one after the other in the process itself.

A child never returns into the caller's code: it leaves with os._exit, so no atexit
handler, buffered output or cleanup of the parent runs twice. An error in a child
comes back as an IncidentctlError; Ctrl-C stops the children with the parent.
"""

from __future__ import annotations

import os
import sys

from ...errors import IncidentctlError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

MAX_WORKERS = 8


def workers() -> int:
    """How many children may run at once (1: run everything here)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


class Child:
    """One job running in a forked child; `result()` waits for what it returned."""

    def __init__(self, job: Callable[[], Any]):
        import pickle

        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run the job, send the result, leave at once
            status = 0
            try:
                os.close(read)
                try:
                    outcome: tuple[str, Any] = ("ok", job())
                except IncidentctlError as exc:
                    outcome = ("error", str(exc))
                except BaseException as exc:  # a bug: the parent shows it
                    outcome = ("error", f"{type(exc).__name__}: {exc}")
                data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write, view) :]
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(write)
        self.pid = pid
        self.fd = read
        self.chunks: list[bytes] = []
        self.done = False

    def read_some(self) -> bool:
        """Read what the child has sent; True once it has sent everything."""
        data = os.read(self.fd, 1 << 20)
        if data:
            self.chunks.append(data)
            return False
        os.close(self.fd)
        self.done = True
        return True

    def result(self) -> Any:
        """Wait for the child; its job's return value (or its error, raised)."""
        import pickle

        while not self.done:
            self.read_some()
        _, status = os.waitpid(self.pid, 0)
        if status != 0 or not self.chunks:
            raise IncidentctlError("a build process ended without its result; run the build again")
        # From the child this process forked a moment ago, through its own pipe.
        kind, value = pickle.loads(b"".join(self.chunks))  # noqa: S301
        if kind != "ok":
            raise IncidentctlError(str(value))
        return value

    def stop(self) -> None:
        """Kill and reap the child (after an error or Ctrl-C in the parent)."""
        import signal
        from contextlib import suppress

        if not self.done:
            os.close(self.fd)
            self.done = True
        with suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with suppress(OSError):
            os.waitpid(self.pid, 0)


def start(job: Callable[[], Any]) -> Child | None:
    """The job running in a child, or None where there is no second CPU or no fork
    (then the caller runs it itself)."""
    if workers() <= 1:
        return None
    try:
        return Child(job)
    except OSError:
        return None


def run_all(
    jobs: Sequence[Callable[[], Any]],
    on_result: Callable[[Any, bool], None],
    *,
    at_once: int | None = None,
) -> None:
    """Run the jobs, at most `at_once` (default: workers()) at a time; `on_result`
    gets each job's result in this process as the job ends (in any order), and
    whether it ran in a child (False: here, its effects on this process are made)."""
    limit = workers() if at_once is None else at_once
    if limit <= 1 or len(jobs) <= 1:
        for job in jobs:
            on_result(job(), False)
        return
    import select

    waiting = list(jobs)
    running: dict[int, Child] = {}
    try:
        while waiting or running:
            while waiting and len(running) < limit:
                job = waiting.pop(0)
                try:
                    child = Child(job)
                except OSError:  # no process to be had (a limit): do it here
                    on_result(job(), False)
                    continue
                running[child.fd] = child
            if not running:
                continue
            ready, _, _ = select.select(list(running), [], [])
            for fd in ready:
                child = running[fd]
                if child.read_some():
                    del running[fd]
                    on_result(child.result(), True)
    except BaseException:
        for child in running.values():
            child.stop()
        raise
