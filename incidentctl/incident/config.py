"""incidentctl.toml: every key optional, unknown keys and bad values refused by name."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from ..errors import InvalidInput
from ..record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    StrPath = str | os.PathLike[str]

CONFIG_NAME = "incidentctl.toml"
# Tables that belong to a capability (alerts/, ...): read here, validated there.
SECTIONS = ("alerts", "channels", "groups", "rules", "commands", "comms", "trackers")

SEVERITY_NAMES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")
TYPES = ("outage", "security", "performance", "data", "integration")
ENVIRONMENTS = ("production", "staging", "development")
# What `severity_name` accepts (lower case) -> the severity it names.
SEVERITY_WORDS = {
    **{word: f"SEV-{n}" for n in range(1, 5) for word in (f"{n}", f"sev{n}", f"sev-{n}")},
    **{f"p{n - 1}": f"SEV-{n}" for n in range(1, 5)},
    **dict(zip(("critical", "high", "medium", "low"), SEVERITY_NAMES, strict=True)),
}
ID_PLACEHOLDERS = {
    "date": r"\d{8}",
    "time": r"\d{4}",
    "rand": r"[0-9a-z]{4}",
}
_RAND_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
# The same placeholders as (width, test of a slice of that width), for id_matcher.
ID_CHECKS: dict[str, tuple[int, Callable[[str], bool]]] = {
    "date": (8, lambda s: len(s) == 8 and s.isdecimal()),
    "time": (4, lambda s: len(s) == 4 and s.isdecimal()),
    "rand": (4, lambda s: len(s) == 4 and _RAND_CHARS.issuperset(s)),
}


def severity_name(text: str) -> str:
    """SEV-1..SEV-4 from SEV-1, SEV1, sev1, 1, P0..P3 (P0 = SEV-1) or
    critical/high/medium/low (vocab.parse_severity, without `re` or `enum`)."""
    name = SEVERITY_WORDS.get(str(text).strip().lower())
    if name is None:
        raise InvalidInput(
            f"unknown severity {text!r}; use SEV-1..SEV-4, 1..4, P0..P3 or critical/high/medium/low"
        )
    return name


class SeverityPolicy(Record):
    """What a severity means and what it asks of responders."""

    __slots__ = (  # noqa: RUF023 (field order)
        "name",
        "description",
        "response",
        "update_every",
        "postmortem",
        "sections",
        "respond_within",
    )

    def __init__(
        self,
        name: str,
        description: str,
        response: str,
        update_every: str,
        postmortem: bool,
        sections: tuple[str, ...] | None = None,  # None: the [postmortem] required_sections
        respond_within: str = "1h",  # the response target `stats` measures acknowledging by
    ):
        self.name = name
        self.description = description
        self.response = response
        self.update_every = update_every
        self.postmortem = postmortem
        self.sections = sections
        self.respond_within = respond_within


DEFAULT_SEVERITIES = {
    "SEV-1": SeverityPolicy(
        "SEV-1",
        "Critical: full outage, data loss or security breach; all hands",
        "immediate",
        "30m",
        True,
        None,
        "15m",
    ),
    "SEV-2": SeverityPolicy(
        "SEV-2",
        "Major: a key feature down or badly degraded for many users",
        "< 15 min to 1 h",
        "2h",
        True,
        None,
        "1h",
    ),
    "SEV-3": SeverityPolicy(
        "SEV-3",
        "Minor: partial degradation with a workaround",
        "< 4 h",
        "1d",
        False,
        None,
        "4h",
    ),
    "SEV-4": SeverityPolicy(
        "SEV-4",
        "Low: cosmetic or internal, no user impact",
        "next business day",
        "1w",
        False,
        None,
        "1d",
    ),
}

DEFAULT_ROLES = ("commander", "deputy", "comms", "scribe", "ops_lead", "liaison")

DEFAULT_PLACEHOLDER = r"(?<![A-Za-z])TODO(?![A-Za-z])"  # `_TODO:` counts, `TODOS` not

DEFAULT_REQUIRED_SECTIONS = (
    "Summary",
    "Impact",
    "Timeline",
    "Root Cause",
    "Detection",
    "Resolution",
    "Action Items",
    "What Went Well",
    "What Went Wrong",
    "Lessons Learned",
)


class OnCall(Record):
    """A simple rotation: `rotation[i]` is on call during the i-th shift after `start`."""

    __slots__ = ("rotation", "start", "shift")  # noqa: RUF023 (field order)

    def __init__(
        self,
        rotation: tuple[str, ...] = (),
        start: datetime | None = None,
        shift: timedelta = timedelta(weeks=1),
    ):
        self.rotation = rotation
        self.start = start
        self.shift = shift

    def current(self, now: datetime) -> str | None:
        if not self.rotation:
            return None
        start = self.start or datetime(1970, 1, 5, tzinfo=timezone.utc)  # a Monday
        index = int((now - start) / self.shift) % len(self.rotation)
        return self.rotation[index]


class Config(Record):
    """The repository's settings; `Config()` is the default of every key."""

    __slots__ = (  # noqa: RUF023 (field order)
        "incidents_dir",
        "id_format",
        "default_severity",
        "default_type",
        "default_environment",
        "roles",
        "severities",
        "required_sections",
        "placeholder_pattern",
        "oncall",
        "push",
        "sections",
    )

    def __init__(
        self,
        incidents_dir: str = "incidents",
        id_format: str = "INC-{date}-{rand}",
        default_severity: str = "SEV-3",
        default_type: str = "outage",
        default_environment: str = "production",
        roles: tuple[str, ...] = DEFAULT_ROLES,
        severities: dict[str, SeverityPolicy] = DEFAULT_SEVERITIES,  # never mutated
        required_sections: tuple[str, ...] = DEFAULT_REQUIRED_SECTIONS,
        placeholder_pattern: str = DEFAULT_PLACEHOLDER,
        oncall: OnCall | None = None,
        push: bool = False,  # run `sync` after every change, as if --push were given
        sections: dict[str, Any] | None = None,  # SECTIONS, as read; never mutated
    ):
        self.incidents_dir = incidents_dir
        self.id_format = id_format
        self.default_severity = default_severity
        self.default_type = default_type
        self.default_environment = default_environment
        self.roles = roles
        self.severities = severities
        self.required_sections = required_sections
        self.placeholder_pattern = placeholder_pattern
        self.oncall = oncall if oncall is not None else OnCall()
        self.push = push
        self.sections = sections if sections is not None else {}

    def section(self, name: str) -> Any:
        """The table `[name]` of a capability (one of SECTIONS), as read; {} if absent
        (`[[rules]]` is an array of tables)."""
        return self.sections.get(name, {})

    def id_matcher_re(self) -> Callable[[str], str | None]:
        """`id_matcher` through a compiled regular expression: faster per name, for
        commands that read thousands of names and have imported `re` anyway."""
        import re

        pattern = re.compile(rf"({self.id_regex()})(?:-[^/]*)?\.md\Z")

        def match(name: str) -> str | None:
            found = pattern.match(name)
            return found.group(1) if found else None

        return match

    def id_matcher(self) -> Callable[[str], str | None]:
        r"""A function giving the ID an incident file name starts with, or None.

        It answers what `^(ID)(?:-[^/]*)?\.md\Z` would, with ID from `id_regex()`,
        without importing `re`: every placeholder has a fixed width, so an ID is
        read part by part.
        """
        parts = split_format(self.id_format)
        checks = [(literal, ID_CHECKS[name] if name else None) for literal, name in parts]

        def match(name: str) -> str | None:
            pos = 0
            for literal, check in checks:
                if not name.startswith(literal, pos):
                    return None
                pos += len(literal)
                if check is not None:
                    width, accept = check
                    if not accept(name[pos : pos + width]):
                        return None
                    pos += width
            rest = name[pos:]
            if rest == ".md" or (rest[:1] == "-" and rest.endswith(".md") and "/" not in rest):
                return name[:pos]
            return None

        return match

    def id_regex(self) -> str:
        """A regex (no anchors) matching IDs this format produces."""
        import re

        out = []
        for literal, name in split_format(self.id_format):
            out.append(re.escape(literal))
            if name:
                out.append(ID_PLACEHOLDERS[name])
        return "".join(out)


DEFAULTS = Config()


def split_format(fmt: str) -> list[tuple[str, str | None]]:
    r"""(literal text, placeholder name or None) pairs: `\{([^{}]*)\}` splits the format."""
    parts: list[tuple[str, str | None]] = []
    pos = start = 0
    while (left := fmt.find("{", start)) >= 0:
        right = fmt.find("}", left + 1)
        if right < 0:
            break
        inner = fmt.find("{", left + 1, right)
        if inner >= 0:  # `{a{b}`: the placeholder is the innermost `{b}`
            start = inner
            continue
        parts.append((fmt[pos:left], fmt[left + 1 : right]))
        pos = start = right + 1
    parts.append((fmt[pos:], None))
    return parts
