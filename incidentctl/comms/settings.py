"""Who is told what: the communication matrix, the rules, the commands and [comms] timings.

    [groups.executives]            # a stakeholder group (the matrix's rows)
    severities = ["SEV-1", "SEV-2"] #   reached when the severity is one of these,
    types = []                     #   or the type one of these
    channels = ["exec-email"]      #   through these channels ([channels.NAME])
    recipients = ["cto@example.com"]  # addresses for email channels

    [[rules]]                      # on an event, when conditions hold, do actions
    on = ["open", "status", "resolved"]
    when = { severity = ["SEV-1", "SEV-2"] }
    do = [{ notify = "incidents" }, { page = "oncall" }]

    [commands.rollback]            # what a `run` action may start
    argv = ["./scripts/rollback"]

The matrix's groups are the default rules: each group is told of every `open`,
`status`, `severity`, `resolved` and `update-due` of an incident that reaches it.
`[comms] matrix = false` leaves only the [[rules]].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..errors import ConfigError
from ..incident.config import CONFIG_NAME, SEVERITY_NAMES, TYPES, Config
from ..incident.configfile import TableReader
from ..incident.timeutil import parse_duration

EVENTS = ("open", "status", "severity", "assign", "resolved", "update-due", "action-overdue")
CONDITIONS = ("severity", "type", "environment", "service", "visibility", "status")
ACTIONS = ("notify", "page", "war-room", "checklist", "run")
STATUS_PAGE = "status-page"  # not a channel: the public status page (`site build --public`)

# The communication matrix of our workflows: who hears of which incidents.
DEFAULT_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "executives": (("SEV-1", "SEV-2"), ()),
    "engineering-leads": (("SEV-1", "SEV-2", "SEV-3"), ()),
    "oncall": (SEVERITY_NAMES, ()),
    "support": (("SEV-1", "SEV-2", "SEV-3"), ()),
    "customers": (("SEV-1", "SEV-2"), ()),
    "security": ((), ("security",)),
    "legal": (("SEV-1",), ("security",)),
}
MATRIX_EVENTS = ("open", "status", "severity", "resolved", "update-due")


@dataclass(frozen=True)
class Group:
    name: str
    severities: tuple[str, ...]
    types: tuple[str, ...]
    channels: tuple[str, ...]
    recipients: tuple[str, ...] = ()

    def reaches(self, severity: str, type_: str) -> bool:
        """An incident reaches a group by its severity or by its type."""
        return severity in self.severities or type_ in self.types


@dataclass(frozen=True)
class Rule:
    on: tuple[str, ...]
    when: dict[str, tuple[str, ...]]  # condition -> accepted values (all must hold)
    do: tuple[tuple[str, str], ...]  # (action, its argument)
    origin: str  # "matrix: executives", "rules[2]": where it came from, for `comms plan`
    group: str | None = None  # a matrix rule: the group whose reach is the condition


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    timeout: float = 300.0


@dataclass(frozen=True)
class Settings:
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # raw tables
    groups: dict[str, Group] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    commands: dict[str, Command] = field(default_factory=dict)
    timeout: float = 5.0  # seconds a changing command may spend delivering notices
    postmortem_due_days: int = 5  # business days after resolution
    regulator_deadline: timedelta = timedelta(hours=72)  # GDPR's 72 hours
    secure: frozenset[str] = frozenset()  # channels that may carry restricted incidents
    public: frozenset[str] = frozenset()  # channels the public reads: public incidents only

    def matching(self, event: str, data: dict[str, Any]) -> list[Rule]:
        """The rules that fire for `event` on an incident (its front matter as JSON)."""
        return [rule for rule in self.rules if event in rule.on and self.holds(rule, data)]

    def holds(self, rule: Rule, data: dict[str, Any]) -> bool:
        if rule.group is not None:
            group = self.groups.get(rule.group)
            if group is None or not group.reaches(data["severity"], data["type"]):
                return False
        for condition, accepted in rule.when.items():
            if condition == "service":
                if not set(data.get("services") or ()) & set(accepted):
                    return False
            elif str(data.get(condition)) not in accepted:
                return False
        return True


def load(config: Config) -> Settings:
    """The comms part of incidentctl.toml, checked key by key."""
    top = TableReader(config.section("comms"), "comms.")
    matrix = top.flag("matrix", True)
    timeout = _seconds(top, "timeout", "5s")
    days = top.data.pop("postmortem_due_days", 5)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 60:
        raise top.fail("postmortem_due_days", "must be a whole number of business days, 1 to 60")
    deadline = _duration(top, "regulator_deadline", "72h")
    top.done()
    channels = _channels(config.section("channels"))
    groups = _groups(config.section("groups"), matrix)
    commands = _commands(config.section("commands"))
    rules = [
        Rule(MATRIX_EVENTS, {}, (("notify", name),), f"matrix: {name}", group=name)
        for name in groups
    ]
    if matrix:  # the on-call paged for SEV-1/2 (trigger, acknowledge, resolve)
        rules.append(
            Rule(
                ("open", "severity", "status", "resolved"),
                {"severity": ("SEV-1", "SEV-2")},
                (("page", "oncall"),),
                "matrix: page",
            )
        )
        rules.append(
            Rule(
                ("open", "severity"),
                {"severity": ("SEV-1",)},
                (("war-room", ""),),
                "matrix: war room",
            )
        )
    rules += _rules(config.section("rules"), groups, channels, commands)
    return Settings(
        channels={n: t for n, t in channels.items()},
        groups=groups,
        rules=tuple(rules),
        commands=commands,
        timeout=timeout,
        postmortem_due_days=days,
        regulator_deadline=deadline,
        secure=frozenset(n for n, t in channels.items() if t.get("secure") is True),
        public=frozenset(n for n, t in channels.items() if t.get("public") is True),
    )


def _fail(key: str, why: str) -> ConfigError:
    return ConfigError(f"{CONFIG_NAME}: `{key}` {why}")


def _seconds(table: TableReader, name: str, default: str) -> float:
    return _duration(table, name, default).total_seconds()


def _duration(table: TableReader, name: str, default: str) -> timedelta:
    text = table.text(name, default)
    try:
        value = parse_duration(text)
    except Exception:
        raise table.fail(name, f"must be a duration such as 5s, 30m, 72h (got {text!r})") from None
    if value <= timedelta(0):
        raise table.fail(name, "must be longer than zero")
    return value


def _channels(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, table in section.items():
        if not isinstance(table, dict):
            raise _fail(f"channels.{name}", "must be a table with a `type`")
        if name == STATUS_PAGE:
            raise _fail(f"channels.{name}", f"is reserved: `{STATUS_PAGE}` is the status page")
        for flag in ("secure", "public"):
            if flag in table and not isinstance(table[flag], bool):
                raise _fail(f"channels.{name}.{flag}", "must be true or false")
        out[str(name)] = dict(table)
    return out


def _groups(section: dict[str, Any], matrix: bool) -> dict[str, Group]:
    groups: dict[str, Group] = {}
    names = [*(DEFAULT_GROUPS if matrix else ()), *(n for n in section if n not in DEFAULT_GROUPS)]
    for name in names:
        raw = section.get(name, {})
        if not isinstance(raw, dict):
            raise _fail(f"groups.{name}", "must be a table")
        table = TableReader(raw, f"groups.{name}.")
        if not table.flag("enabled", True):
            table.done()
            continue
        severities, types = DEFAULT_GROUPS.get(name, ((), ()))
        severities = table.texts("severities", severities) if "severities" in raw else severities
        types = table.texts("types", types) if "types" in raw else types
        for value in severities:
            if value not in SEVERITY_NAMES:
                raise table.fail("severities", f"has {value!r}; use SEV-1..SEV-4")
        for value in types:
            if value not in TYPES:
                raise table.fail("types", f"has {value!r}; use one of {', '.join(TYPES)}")
        default_channels = (STATUS_PAGE,) if name == "customers" else (name,)
        channels = (
            table.texts("channels", default_channels) if "channels" in raw else default_channels
        )
        recipients = table.texts("recipients", ()) if "recipients" in raw else ()
        table.done()
        groups[name] = Group(
            name, tuple(severities), tuple(types), tuple(channels), tuple(recipients)
        )
    return groups


def _commands(section: dict[str, Any]) -> dict[str, Command]:
    out = {}
    for name, raw in section.items():
        if not isinstance(raw, dict):
            raise _fail(f"commands.{name}", "must be a table with `argv`")
        table = TableReader(raw, f"commands.{name}.")
        argv = table.texts("argv", ())
        if not argv:
            raise table.fail(
                "argv", 'must list the program and its arguments, e.g. ["./scripts/rollback"]'
            )
        timeout = _seconds(table, "timeout", "5m")
        table.done()
        out[str(name)] = Command(str(name), tuple(argv), timeout)
    return out


def _rules(
    section: Any, groups: dict[str, Group], channels: dict[str, Any], commands: dict[str, Command]
) -> list[Rule]:
    if section in ({}, None):
        return []
    if not isinstance(section, list):
        raise _fail("rules", "must be an array of tables: [[rules]]")
    out = []
    for index, raw in enumerate(section):
        where = f"rules[{index}]"
        if not isinstance(raw, dict):
            raise _fail(where, "must be a table")
        table = TableReader(raw, f"{where}.")
        on = table.texts("on", ())
        for event in on:
            if event not in EVENTS:
                raise table.fail("on", f"has {event!r}; events are {', '.join(EVENTS)}")
        if not on:
            raise table.fail("on", f"must name one or more events: {', '.join(EVENTS)}")
        when = _when(table, where)
        do = _do(table, where, groups, channels, commands)
        table.done()
        out.append(Rule(tuple(on), when, do, where))
    return out


def _when(table: TableReader, where: str) -> dict[str, tuple[str, ...]]:
    raw = table.table("when")
    when = {}
    for condition, value in raw.items():
        if condition not in CONDITIONS:
            raise _fail(
                f"{where}.when.{condition}", f"is not a condition; use {', '.join(CONDITIONS)}"
            )
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise _fail(f"{where}.when.{condition}", "must be a string or a list of strings")
        when[str(condition)] = tuple(values)
    return when


def _do(
    table: TableReader,
    where: str,
    groups: dict[str, Group],
    channels: dict[str, Any],
    commands: dict[str, Command],
) -> tuple[tuple[str, str], ...]:
    raw = table.data.pop("do", None)
    if not isinstance(raw, list) or not raw:
        raise _fail(f"{where}.do", 'must list actions, e.g. [{ notify = "incidents" }]')
    out = []
    for position, action in enumerate(raw):
        key = f"{where}.do[{position}]"
        if not isinstance(action, dict) or len(action) != 1:
            raise _fail(key, "must be one action: notify, page, war-room, checklist or run")
        [(name, argument)] = action.items()
        if name not in ACTIONS:
            raise _fail(key, f"has unknown action {name!r}; use {', '.join(ACTIONS)}")
        if not isinstance(argument, str):
            raise _fail(f"{key}.{name}", "must be a name")
        if name == "notify" and argument not in groups and argument not in channels:
            raise _fail(f"{key}.notify", f"names {argument!r}, neither a group nor a channel")
        if name == "run" and argument not in commands:
            raise _fail(f"{key}.run", f"names {argument!r}; define it in [commands.{argument}]")
        if name == "checklist" and argument not in TYPES:
            raise _fail(f"{key}.checklist", f"must be a checklist: {', '.join(TYPES)}")
        out.append((str(name), argument))
    return tuple(out)
