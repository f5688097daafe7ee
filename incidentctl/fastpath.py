"""`incidentctl log` without click: the command responders type most, mid-outage.

Importing click costs more than the git commit that `log` makes (bench/README.md),
so the documented form of `log` is parsed here and handed to the same core and the
same output code as the click command. Anything else, including `-h`, a bad option
or a missing argument, returns None and goes through click, so help and usage
errors stay click's own.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence

KINDS = ("note", "decision", "action", "comms", "public")
_VALUED = {"--at": "at", "--kind": "kind", "-k": "kind"}
_FLAGS = {
    "--no-commit": ("commit", False),
    "--json": ("as_json", True),
    "--push": ("push", True),
    "--no-push": ("push", False),
}


def parse(argv: Sequence[str]) -> dict[str, object] | None:
    """The options of `[--repo P] log ID TEXT [...]`, or None if this is not that."""
    args = list(argv)
    opts: dict[str, object] = {
        "repo": os.environ.get("INCIDENTCTL_REPO") or None,
        "at": None,
        "kind": "note",
        "commit": True,
        "as_json": False,
        "push": None,
    }
    while args and args[0] != "log":
        head = args.pop(0)
        if head == "--repo" and args:
            opts["repo"] = args.pop(0)
        elif head.startswith("--repo="):
            opts["repo"] = head.split("=", 1)[1]
        else:
            return None
    if not args:
        return None
    args.pop(0)
    positional: list[str] = []
    while args:
        arg = args.pop(0)
        name, eq, inline = arg.partition("=")
        if (name in _VALUED and arg.startswith("--")) or arg in _VALUED:
            if eq:
                value = inline
            elif args:
                value = args.pop(0)
            else:
                return None
            opts[_VALUED[name]] = value
        elif arg in _FLAGS:
            key, value_ = _FLAGS[arg]
            opts[key] = value_
        elif arg.startswith("-") and arg != "-":
            return None  # -h, --, a typo: click answers
        else:
            positional.append(arg)
    if len(positional) != 2 or opts["kind"] not in KINDS or opts["repo"] == "":
        return None
    if opts["repo"] and os.path.isfile(str(opts["repo"])):
        return None  # click's usage error says it is a file
    opts["id"], opts["text"] = positional
    return opts


def run(argv: Sequence[str]) -> int | None:
    """Run `log` if argv is that; the exit status, or None to let click handle it."""
    if "_INCIDENTCTL_COMPLETE" in os.environ:
        return None
    opts = parse(argv)
    if opts is None:
        return None
    from .repo.proc import start_git

    # The entry needs the author's name: git works it out while the rest loads.
    repo_path = opts["repo"]
    identity = start_git(str(repo_path or "."), "var", "GIT_AUTHOR_IDENT")

    from .errors import IncidentctlError
    from .incident.timeutil import parse_time
    from .output import change_report
    from .repo.incidents import IncidentRepo
    from .safetext import safe

    repo = None
    try:
        repo = IncidentRepo.open(str(repo_path) if repo_path else None, identity=identity)
        push = opts["push"]
        repo.push_after = repo.config.push if push is None else bool(push)
        at = parse_time(str(opts["at"]), what="--at") if opts["at"] is not None else None
        change = repo.append(
            str(opts["id"]),
            str(opts["text"]),
            kind=str(opts["kind"]),
            at=at,
            commit=bool(opts["commit"]),
        )
    except IncidentctlError as exc:
        sys.stderr.write(f"Error: {safe(str(exc))}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")  # as click says it
        return 1
    finally:
        if repo is not None:
            repo.git.close()
        elif identity is not None:
            identity.kill()
    sys.stdout.write(change_report(change, bool(opts["as_json"])) + "\n")
    return 0
