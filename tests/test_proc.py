"""incidentctl.repo.proc: child processes without subprocess, against real programs."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from incidentctl.incident.knowngood import LOADER_VERSION, _digest
from incidentctl.repo import proc


def test_outputs_status_and_input_round_trip() -> None:
    result = proc.run(
        [
            sys.executable,
            "-c",
            "import sys; d = sys.stdin.read(); print(len(d)); "
            "sys.stderr.write('warn\\n'); sys.exit(3)",
        ],
        input="é" * 10,
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, "10\n", "warn\n")
    assert result.args[0] == sys.executable


def test_large_input_and_output_at_once_do_not_deadlock() -> None:
    # 1 MiB each way: far beyond a pipe's buffer, both directions in flight.
    text = "line\n" * 200_000
    result = proc.run(["cat"], input=text)
    assert result.returncode == 0
    assert result.stdout == text


def test_child_that_stops_reading_is_not_an_error() -> None:
    result = proc.run(["head", "-c", "5"], input="x" * 1_000_000)
    assert (result.returncode, result.stdout) == (0, "xxxxx")


def test_output_is_read_with_universal_newlines_and_bad_bytes_replaced() -> None:
    result = proc.run(["printf", "a\\r\\nb\\rc\\n\\377\\n"])
    assert result.stdout == "a\nb\nc\n\ufffd\n"


def test_environment_is_passed_as_given() -> None:
    result = proc.run(
        ["sh", "-c", 'printf %s "$ONLY"'], env={"ONLY": "this", "PATH": "/usr/bin:/bin"}
    )
    assert result.stdout == "this"


def test_sigpipe_has_its_default_action_in_the_child() -> None:
    # Python ignores SIGPIPE, and exec keeps an ignored signal ignored; the child must
    # get the default action back, as subprocess gives it.
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
    result = proc.run(["grep", "^SigIgn:", "/proc/self/status"])
    mask = int(result.stdout.split()[1], 16)
    assert not mask & (1 << (signal.SIGPIPE - 1))


def test_a_missing_program_raises_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        proc.run(["incidentctl-no-such-program"])
    assert proc.start_git("/", "--version") is not None


def test_no_descriptor_leaks(tmp_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        proc.run(["true"])
    started = proc.Process(["sleep", "5"])
    started.kill()
    assert started.returncode == -signal.SIGKILL
    assert len(os.listdir("/proc/self/fd")) == before


def test_an_interrupt_kills_and_reaps_the_child() -> None:
    # Python's own Ctrl-C handler, even when the suite was started with SIGINT
    # ignored (as a background job of a non-interactive shell is).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_during_communicate()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_during_communicate() -> None:
    process = proc.Process(["sleep", "30"])
    timer = threading.Timer(
        0.2, lambda: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
    )
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        process.communicate()
    assert time.monotonic() - started < 10
    assert process.returncode == -signal.SIGKILL
    with pytest.raises(ChildProcessError):
        os.waitpid(process.pid, os.WNOHANG)  # already reaped: no zombie left


def test_known_good_digest_is_sha256() -> None:
    """The known-good hash is SHA-256 of the loader version and the front matter."""
    import hashlib

    text = "id: INC-1\ntitle: é\n"
    assert _digest(text) == hashlib.sha256(LOADER_VERSION + text.encode()).hexdigest()
