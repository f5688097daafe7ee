"""The `incidentctl` console script."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import NoReturn


def _exit_now(status: int) -> NoReturn:
    """Exit once the output is out, skipping the interpreter's teardown.

    Freeing every module and object at exit takes longer than a third of the `log`
    command's own work (bench/README.md), and there is nothing left to tidy: files
    are written, fsynced and closed, and the kernel releases the repository lock with
    the process.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): the output is gone anyway
            continue
    os._exit(status)


def main() -> None:
    # `--version` answers before click and the rest are imported: it is what
    # scripts and health checks call most, and it should cost no more than python.
    if sys.argv[1:] == ["--version"]:
        from . import __version__

        sys.stdout.write(f"incidentctl {__version__}\n")
        return
    from .fastpath import run

    status = run(sys.argv[1:])  # `log` without click's import cost; None: not handled
    if status is not None:
        _exit_now(status)
    from .cli import cli

    try:
        cli(prog_name="incidentctl")
    except SystemExit as done:  # click always ends so; skip the teardown here too
        code = done.code
        if isinstance(code, str):
            sys.stderr.write(code + "\n")
            code = 1
        _exit_now(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
