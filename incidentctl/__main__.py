"""The `incidentctl` console script."""

from __future__ import annotations

import sys


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
        sys.exit(status)
    from .cli import cli

    cli(prog_name="incidentctl")


if __name__ == "__main__":
    main()
