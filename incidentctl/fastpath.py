"""`incidentctl log` and `show ID --json` without click.

`log` is the command responders type most, mid-outage, and scripts ask `show --json`
about one incident again and again. Importing click costs more than the git commit
that `log` makes (bench/README.md), so the documented forms of these two are parsed
here and handed to the same core and the same output code as the click commands.
Anything else, including `-h`, a bad option or a missing argument, returns None and
goes through click, so help and usage errors stay click's own.
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


def parse_show(argv: Sequence[str]) -> dict[str, object] | None:
    """The options of `[--repo P] show ID --json`, or None if this is not that."""
    args = list(argv)
    repo: str | None = os.environ.get("INCIDENTCTL_REPO") or None
    while args and args[0] != "show":
        head = args.pop(0)
        if head == "--repo" and args:
            repo = args.pop(0)
        elif head.startswith("--repo="):
            repo = head.split("=", 1)[1]
        else:
            return None
    if not args or repo == "" or (repo and os.path.isfile(repo)):
        return None
    rest = args[1:]
    if "--json" not in rest:
        return None
    rest.remove("--json")
    if len(rest) != 1 or rest[0].startswith("-"):
        return None
    return {"repo": repo, "id": rest[0]}


def show(opts: dict[str, object]) -> int:
    """`show ID --json`: the front matter from the cache of front matters (records.py)
    when the file's bytes were seen before, so neither YAML nor the model is loaded."""
    from .errors import IncidentctlError, InvalidIncident
    from .output import to_json
    from .repo.incidents import IncidentRepo
    from .repo.records import front_matter
    from .safetext import safe

    repo = None
    try:
        repo = IncidentRepo.open(str(opts["repo"]) if opts["repo"] else None)
        ident, path = repo._locate(str(opts["id"]))
        rel = repo.rel(path)
        file, data = front_matter(repo, rel, path)
        if data.get("id") != ident:
            raise InvalidIncident(
                f"the file name says {ident} but `id` is {data.get('id')!r}; make them agree",
                path=rel,
                line=file.key_line("id"),
            )
        document = {**data, "path": rel, "timeline": [e.as_json() for e in file.timeline()]}
    except IncidentctlError as exc:
        sys.stderr.write(f"Error: {safe(str(exc))}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")
        return 1
    finally:
        if repo is not None:
            repo.git.close()
    sys.stdout.write(to_json(document) + "\n")
    return 0


def run(argv: Sequence[str]) -> int | None:
    """Run `log` or `show ID --json` if argv is one of them; the exit status, or None
    to let click handle it."""
    if "_INCIDENTCTL_COMPLETE" in os.environ:
        return None
    opts = parse(argv)
    if opts is None:
        shown = parse_show(argv)
        return show(shown) if shown is not None else None
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
