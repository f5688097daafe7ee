"""The commands responders type most, and `show ID --json`, without click.

`open`, `log`, `status`, `severity`, `assign` and `action add` are typed mid-outage,
and scripts ask `show --json` about one incident again and again. Importing click
(and every command module) costs more than the git commit these commands make
(bench/README.md), so their documented forms are parsed here and handed to the same
core (`status`, `severity`, `assign` and `action add` through repo/quick.py, which
works from the cache of front matters and goes the full way when it cannot; `open`
through repo/quickopen.py, which writes the file without Jinja2, the model or
PyYAML when it can) and the same output code as the click commands. Anything else,
including `-h`, a bad option, a missing argument or a value click would refuse,
returns None and goes through click, so help and usage errors stay click's own; so
does an `open` that click would ask questions (stdin a terminal, no --severity) or
that is given an alert payload or a time (--alert-payload, --at, --detected-at,
--started-at and their companions).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

    from .repo.base import Change
    from .repo.incidents import IncidentRepo

KINDS = ("note", "decision", "action", "comms", "public")
_FLAGS = {
    "--no-commit": ("commit", False),
    "--json": ("as_json", True),
    "--push": ("push", True),
    "--no-push": ("push", False),
    "--no-notify": ("no_notify", True),
}
# Per command: its words, its arguments, its options with a value (option -> key;
# a key in `_MANY` collects every use) and their defaults.
_COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict[str, str], dict[str, object]]] = {
    "open": (
        ("open",),
        ("title",),
        {
            "--severity": "severity",
            "-s": "severity",
            "--type": "kind",
            "-t": "kind",
            "--env": "environment",
            "-e": "environment",
            "--service": "services",
            "--commander": "commander",
            "-c": "commander",
            "--summary": "summary",
        },
        dict.fromkeys(("severity", "kind", "environment", "commander", "summary")),
    ),
    "log": (
        ("log",),
        ("id", "text"),
        {"--at": "at", "--kind": "kind", "-k": "kind"},
        {"at": None, "kind": "note"},
    ),
    "status": (
        ("status",),
        ("id", "status"),
        {"--message": "message", "-m": "message", "--at": "at"},
        {"message": None, "at": None},
    ),
    "severity": (
        ("severity",),
        ("id", "severity"),
        {"--message": "reason", "-m": "reason"},
        {"reason": None},
    ),
    "assign": (
        ("assign",),
        ("id",),
        {"--commander": "commander", "-c": "commander", "--role": "roles", "-r": "roles"},
        {"commander": None},
    ),
    "action add": (
        ("action", "add"),
        ("id", "title"),
        {"--owner": "owner", "-o": "owner", "--due": "due", "-d": "due"},
        {"owner": None, "due": None},
    ),
}
_MANY = frozenset({"roles", "services"})


def parse(argv: Sequence[str], command: str = "log") -> dict[str, object] | None:
    """The options of `[--repo P] COMMAND ARGS [...]`, or None if argv is not that
    (or is something click would refuse: then click says so)."""
    words, names, valued, defaults = _COMMANDS[command]
    args = list(argv)
    opts: dict[str, object] = {
        "repo": os.environ.get("INCIDENTCTL_REPO") or None,
        "commit": True,
        "as_json": False,
        "push": None,
        "no_notify": False,
    }
    opts.update(defaults)
    many: dict[str, list[str]] = {key: [] for key in _MANY if key in valued.values()}
    opts.update(many)
    while args and args[0] != words[0]:
        head = args.pop(0)
        if head == "--repo" and args:
            opts["repo"] = args.pop(0)
        elif head.startswith("--repo="):
            opts["repo"] = head.split("=", 1)[1]
        else:
            return None
    if args[: len(words)] != list(words):
        return None
    del args[: len(words)]
    positional: list[str] = []
    while args:
        arg = args.pop(0)
        name, eq, inline = arg.partition("=")
        if (name in valued and arg.startswith("--")) or arg in valued:
            if eq:
                value = inline
            elif args:
                value = args.pop(0)
            else:
                return None
            key = valued[name]
            if key in many:
                many[key].append(value)
            else:
                opts[key] = value
        elif arg in _FLAGS:
            key, flag = _FLAGS[arg]
            opts[key] = flag
        elif arg.startswith("-") and arg != "-":
            return None  # -h, --, a typo: click answers
        else:
            positional.append(arg)
    if len(positional) != len(names) or opts["repo"] == "":
        return None
    if opts["repo"] and os.path.isfile(str(opts["repo"])):
        return None  # click's usage error says it is a file
    if command == "log" and opts["kind"] not in KINDS:
        return None
    if command == "open" and not _plain_open(opts):
        return None
    if command == "action add" and (opts["owner"] is None or opts["due"] is None):
        return None  # click says which is missing
    if command == "assign":
        roles = _role_pairs(many["roles"])
        if roles is None:
            return None
        opts["roles"] = roles
    opts.update(zip(names, positional, strict=True))
    return opts


def _plain_open(opts: dict[str, object]) -> bool:
    """Whether click's `open` would take these options as they are and ask nothing:
    --type and --env among its choices, and no questions (in a terminal it asks for
    the severity when --severity is not given, unless --json)."""
    from .incident.config import ENVIRONMENTS, TYPES

    if opts["kind"] not in (None, *TYPES) or opts["environment"] not in (None, *ENVIRONMENTS):
        return False
    if opts["severity"] is None and not opts["as_json"]:
        try:
            return sys.stdin is not None and not sys.stdin.isatty()
        except ValueError:  # a closed stdin: click finds out
            return False
    return True


def _role_pairs(values: list[str]) -> dict[str, str] | None:
    """cli/incident.py's `_role_pairs`; None where it would raise (click's error)."""
    roles = {}
    for value in values:
        role, sep, name = value.partition("=")
        if not sep or not role.strip() or not name.strip():
            return None
        roles[role.strip().lower()] = name.strip()
    return roles


def _due(value: str) -> date | None:
    """cli/review.py's `_due`; None where it would raise (click's error)."""
    from .errors import InvalidInput
    from .incident.timeutil import parse_date, parse_duration, utcnow

    try:
        return utcnow().date() + parse_duration(value, what="--due")
    except ValueError:
        pass
    except InvalidInput:
        return None
    try:
        return parse_date(value, what="--due")
    except InvalidInput:
        return None


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


def _command(argv: Sequence[str]) -> str | None:
    """The command argv names after the global `--repo`, if it is one handled here."""
    index = 0
    while index < len(argv) and argv[index].startswith("--repo"):
        index += 2 if argv[index] == "--repo" else 1
    head = argv[index : index + 2]
    if head[:1] == ["action"] and head[1:] == ["add"]:
        return "action add"
    if head[:1] and head[0] in ("show", *_COMMANDS):
        return head[0]
    return None


def run(argv: Sequence[str]) -> int | None:
    """Run one of the commands handled here if argv is one; the exit status, or None
    to let click handle it."""
    if "_INCIDENTCTL_COMPLETE" in os.environ:
        return None
    command = _command(argv)
    if command is None:
        return None
    if command == "show":
        shown = parse_show(argv)
        return show(shown) if shown is not None else None
    opts = parse(argv, command)
    if opts is None:
        return None
    if command == "action add":
        # Before the repository, as the click command reads it.
        opts["due"] = _due(str(opts["due"]))
        if opts["due"] is None:
            return None
    from .repo.proc import start_git

    # The entry needs the author's name: git works it out while the rest loads.
    repo_path = opts["repo"]
    identity = start_git(str(repo_path or "."), "var", "GIT_AUTHOR_IDENT")

    from .errors import IncidentctlError
    from .output import change_report, opened_report
    from .repo.incidents import IncidentRepo
    from .safetext import safe

    repo = None
    try:
        repo = IncidentRepo.open(str(repo_path) if repo_path else None, identity=identity)
        push = opts["push"]
        repo.push_after = repo.config.push if push is None else bool(push)
        change = _apply(command, repo, opts)
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
    if command == "open":
        policy = repo.config.severities[change.extra["severity"]]
        report = opened_report(change, policy.response, policy.update_every, bool(opts["as_json"]))
    else:
        report = change_report(change, bool(opts["as_json"]))
    sys.stdout.write(report + "\n")
    from .comms import wanted

    if not opts["no_notify"] and wanted(repo.config.sections):
        # Only when channels, commands or rules are configured: then the
        # notification rules run as after the click command (comms).
        sys.stdout.flush()
        from .cli.notices import after_change, events_of

        after_change(repo, change, events_of(change.subject), False)
    return 0


def _apply(command: str, repo: IncidentRepo, opts: dict[str, object]) -> Change:
    """What the click command calls, with what it passes."""
    commit = bool(opts["commit"])
    if command == "open":
        from .repo.quickopen import open_incident

        services: list[str] = opts["services"]  # type: ignore[assignment]
        return open_incident(
            repo,
            str(opts["title"]),
            severity=_text(opts["severity"]),
            type=_text(opts["kind"]),
            environment=_text(opts["environment"]),
            services=services,
            commander=_text(opts["commander"]),
            summary=_text(opts["summary"]),
            commit=commit,
        )
    from .incident.timeutil import parse_time
    from .repo import quick

    ref = str(opts["id"])
    if command in ("log", "status"):
        at = parse_time(str(opts["at"]), what="--at") if opts["at"] is not None else None
        if command == "log":
            text, kind = str(opts["text"]), str(opts["kind"])
            return repo.append(ref, text, kind=kind, at=at, commit=commit)
        message = opts["message"]
        return quick.transition(
            repo, ref, str(opts["status"]), message=_text(message), at=at, commit=commit
        )
    if command == "severity":
        reason = _text(opts["reason"])
        return quick.set_severity(repo, ref, str(opts["severity"]), reason=reason, commit=commit)
    if command == "assign":
        roles: dict[str, str] = opts["roles"]  # type: ignore[assignment]
        commander = _text(opts["commander"])
        return quick.assign(repo, ref, commander=commander, roles=roles, commit=commit)
    due: date = opts["due"]  # type: ignore[assignment]
    owner = str(opts["owner"])
    return quick.add_action(repo, ref, str(opts["title"]), owner=owner, due=due, commit=commit)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
