"""Child processes (git) started with posix_spawn, without the subprocess module.

Importing subprocess (with selectors, signal, threading and their imports) costs
about as much as the git process it would start, and `log` starts one or two.
This covers what incidentctl asks of a child: an argument list, an environment, an
optional input, and both outputs captured. Like subprocess, it decodes output with
universal newlines, gives the child SIGPIPE's default action back, and kills and
reaps the child if the caller is interrupted while it runs.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_CHUNK = 4096  # written per poll: a pipe with room takes at least PIPE_BUF at once


class Completed:
    """A finished child: its arguments, exit status and decoded outputs."""

    __slots__ = ("args", "returncode", "stderr", "stdout")

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def _text(data: bytes) -> str:
    """Bytes as text, the way subprocess's text mode reads them (universal newlines)."""
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


class Process:
    """A running child with its three standard streams on pipes."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str] | None = None):
        # _signal, not signal: the same numbers without building signal's enums
        from _signal import SIGPIPE, SIGXFSZ  # type: ignore[import-not-found]

        self.args = list(args)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.pid = os.posix_spawnp(
                self.args[0],
                self.args,
                os.environ if env is None else env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, in_r, 0),
                    (os.POSIX_SPAWN_DUP2, out_w, 1),
                    (os.POSIX_SPAWN_DUP2, err_w, 2),
                ],
                setsigdef=(SIGPIPE, SIGXFSZ),  # Python ignores them; git should not
            )
        except BaseException:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        self._stdin, self._stdout, self._stderr = in_w, out_r, err_r
        self._open = {in_w, out_r, err_r}  # our ends of the pipes, until closed
        self.returncode: int | None = None

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)

    def communicate(self, data: bytes = b"") -> Completed:
        """Send `data`, close the input, read both outputs to the end, and reap."""
        try:
            out, err = self._exchange(data)
            status = os.waitpid(self.pid, 0)[1]
        except BaseException:
            self.kill()
            raise
        self.returncode = os.waitstatus_to_exitcode(status)
        return Completed(self.args, self.returncode, _text(out), _text(err))

    def _exchange(self, data: bytes) -> tuple[bytes, bytes]:
        import select

        poller = select.poll()
        chunks: dict[int, list[bytes]] = {self._stdout: [], self._stderr: []}
        for fd in chunks:
            poller.register(fd, select.POLLIN | select.POLLPRI)
        view = memoryview(data)
        if view:
            poller.register(self._stdin, select.POLLOUT)
        else:
            self._close(self._stdin)
        while self._open:
            for fd, _ in poller.poll():
                if fd == self._stdin:
                    try:
                        view = view[os.write(fd, view[:_CHUNK]) :]
                    except BrokenPipeError:  # the child stopped reading, as subprocess allows
                        view = view[:0]
                    if not view:
                        poller.unregister(fd)
                        self._close(fd)
                    continue
                block = os.read(fd, 32768)
                if block:
                    chunks[fd].append(block)
                else:
                    poller.unregister(fd)
                    self._close(fd)
        return b"".join(chunks[self._stdout]), b"".join(chunks[self._stderr])

    def kill(self) -> None:
        """Stop the child and reap it (after an interrupt or an error of ours)."""
        from _signal import SIGKILL  # type: ignore[import-not-found,unused-ignore]

        for fd in list(self._open):
            self._close(fd)
        if self.returncode is not None:
            return
        try:
            os.kill(self.pid, SIGKILL)
            os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped already
            pass
        except ProcessLookupError:  # pragma: no cover - reaped by someone else
            pass
        self.returncode = -SIGKILL


def run(
    args: Sequence[str], *, input: str | None = None, env: Mapping[str, str] | None = None
) -> Completed:
    """Run a command to the end, capturing both outputs (its input: UTF-8 text)."""
    process = Process(args, env)
    data = input.encode("utf-8", errors="surrogateescape") if input else b""
    return process.communicate(data)


def start_git(cwd: str, *args: str) -> Process | None:
    """Start `git -C cwd ARGS...` to read its answer later; None if it cannot start."""
    try:
        return Process(["git", "-C", cwd, *args])
    except OSError:  # no git on PATH: the next git command says so
        return None
