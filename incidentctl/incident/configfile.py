"""Reading incidentctl.toml: parsed, validated key by key, and cached per clone."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, time, timedelta

from ..errors import ConfigError, InvalidInput
from .config import (
    CONFIG_NAME,
    DEFAULT_PLACEHOLDER,
    DEFAULT_REQUIRED_SECTIONS,
    DEFAULT_ROLES,
    DEFAULT_SEVERITIES,
    DEFAULTS,
    ENVIRONMENTS,
    ID_PLACEHOLDERS,
    SECTIONS,
    SEVERITY_NAMES,
    TYPES,
    Config,
    OnCall,
    SeverityPolicy,
    split_format,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]


def load(root: StrPath, cache_dir: StrPath | None = None) -> Config:
    """Read `incidentctl.toml` at the repository root; a missing file means defaults.

    With `cache_dir` (the clone's .git folder), a file validated before is not
    parsed again: `log` would otherwise pay for tomllib and the checks on every
    entry (about 30 ms). The cache is keyed by the file's exact bytes and the
    incidentctl version, so any edit, or an upgrade, validates afresh.
    """
    try:
        with open(os.path.join(root, CONFIG_NAME), "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"cannot read {CONFIG_NAME}: {exc.strerror}") from None
    return from_bytes(raw, cache_dir)


def from_bytes(raw: bytes, cache_dir: StrPath | None = None) -> Config:
    """The Config an `incidentctl.toml` holding `raw` gives (also one read from git)."""
    if all(not line.strip() or line.lstrip().startswith(b"#") for line in raw.splitlines()):
        return Config()  # only comments (as `init` writes it): no TOML parser needed
    cache = ConfigCache(cache_dir, raw) if cache_dir is not None else None
    if cache is not None and (cached := cache.get()) is not None:
        return cached
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{CONFIG_NAME} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{CONFIG_NAME} is not valid TOML: {exc}") from None
    config = parse(data)
    if cache is not None:
        cache.put(config)
    return config


class ConfigCache:
    """The last validated Config of this clone, in `marshal` form, in the .git folder."""

    FILE_NAME = "incidentctl-config-cache"
    FORMAT = 3

    def __init__(self, cache_dir: StrPath, raw: bytes):
        from .. import __version__
        from .knowngood import digest

        self.path = os.path.join(cache_dir, self.FILE_NAME)
        self.key = (self.FORMAT, __version__, digest(raw))

    def get(self) -> Config | None:
        """The Config cached for exactly this file and version, else None."""
        import marshal

        try:
            with open(self.path, "rb") as handle:
                # Written only by incidentctl into this clone's .git folder, which is
                # trusted as much as .git/config and hooks; marshal runs no code.
                key, plain = marshal.loads(handle.read())  # noqa: S302
            return from_plain(plain) if key == self.key else None
        except Exception:  # missing, torn or from another format: parse the file instead
            return None

    def put(self, config: Config) -> None:
        """Remember a validated Config (atomically; failing to cache fails nothing)."""
        import marshal

        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(marshal.dumps((self.key, to_plain(config))))
            os.replace(tmp, self.path)
        except OSError:
            try:  # noqa: SIM105 (contextlib would be one more import on the `log` path)
                os.unlink(tmp)
            except OSError:
                pass


def to_plain(config: Config) -> tuple[Any, ...]:
    """A Config as nested tuples of str, int, bool and None (what marshal stores)."""
    oncall = config.oncall
    shift = oncall.shift
    return (
        config.incidents_dir,
        config.id_format,
        config.default_severity,
        config.default_type,
        config.default_environment,
        config.roles,
        tuple(
            (
                key,
                p.name,
                p.description,
                p.response,
                p.update_every,
                p.postmortem,
                p.sections,
                p.respond_within,
            )
            for key, p in config.severities.items()
        ),
        config.required_sections,
        config.placeholder_pattern,
        (
            oncall.rotation,
            oncall.start.isoformat() if oncall.start else None,
            (shift.days, shift.seconds, shift.microseconds),
        ),
        config.push,
        _freeze(config.sections),
    )


def _freeze(value: Any) -> Any:
    """A TOML value in what marshal stores: dates and times become tagged tuples."""
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_freeze(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return (_TIME_TAG, type(value).__name__, value.isoformat())
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    if isinstance(value, tuple) and len(value) == 3 and value[0] == _TIME_TAG:
        if value[1] == "datetime":
            return datetime.fromisoformat(value[2])
        return date.fromisoformat(value[2]) if value[1] == "date" else time.fromisoformat(value[2])
    return value


_TIME_TAG = "\0toml-time"


def from_plain(plain: tuple[Any, ...]) -> Config:
    """The Config `to_plain` described."""
    (incidents_dir, id_format, severity, kind, environment, roles, severities) = plain[:7]
    required_sections, placeholder, (rotation, start, shift), push, sections = plain[7:]
    return Config(
        incidents_dir=incidents_dir,
        id_format=id_format,
        default_severity=severity,
        default_type=kind,
        default_environment=environment,
        roles=roles,
        severities={key: SeverityPolicy(*fields) for key, *fields in severities},
        required_sections=required_sections,
        placeholder_pattern=placeholder,
        oncall=OnCall(
            rotation,
            datetime.fromisoformat(start) if start else None,
            timedelta(days=shift[0], seconds=shift[1], microseconds=shift[2]),
        ),
        push=push,
        sections=_thaw(sections),
    )


class TableReader:
    """Pops keys from a TOML table, so that what is left over is unknown."""

    def __init__(self, table: dict[str, Any], prefix: str = ""):
        self.data = dict(table)
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, why: str) -> ConfigError:
        return ConfigError(f"{CONFIG_NAME}: `{self.key(name)}` {why}")

    def text(self, name: str, default: str, choices: tuple[str, ...] = ()) -> str:
        value = self.data.pop(name, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "must be a non-empty string")
        if choices and value not in choices:
            raise self.fail(name, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.pop(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, "must be true or false")
        return value

    def texts(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.data.pop(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(name, "must be a list of non-empty strings")
        return tuple(value)

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.pop(name, {})
        if not isinstance(value, dict):
            raise self.fail(name, "must be a table")
        return value

    def done(self) -> None:
        if self.data:
            name = sorted(self.data)[0]
            raise ConfigError(
                f"{CONFIG_NAME}: unknown key `{self.key(name)}`; see the README for the keys"
            )


def parse(data: dict[str, Any]) -> Config:
    """Validate a parsed TOML document into a Config."""
    import re

    top = TableReader(data)
    incidents_dir = incidents_folder(top)
    id_format = top.text("id_format", DEFAULTS.id_format)
    names = [name for _, name in split_format(id_format) if name is not None]
    unknown = [n for n in names if n not in ID_PLACEHOLDERS]
    if unknown:
        raise top.fail("id_format", f"has unknown placeholder {{{unknown[0]}}}")
    if "rand" not in names or "date" not in names:
        raise top.fail(
            "id_format",
            "must contain {date} and {rand} (IDs sort by date and stay unique across clones)",
        )
    sample = id_format.format(date="20260101", time="0000", rand="abcd")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", sample):
        raise top.fail("id_format", "may hold only letters, digits, '.', '_' and '-'")
    default_severity = top.text("default_severity", DEFAULTS.default_severity)
    try:
        from .vocab import parse_severity

        default_severity = parse_severity(default_severity).value
    except Exception:
        raise top.fail("default_severity", "must be SEV-1..SEV-4") from None
    default_type = top.text("default_type", DEFAULTS.default_type, TYPES)
    default_environment = top.text(
        "default_environment", DEFAULTS.default_environment, ENVIRONMENTS
    )
    push = top.flag("push", DEFAULTS.push)
    tables = {name: top.data.pop(name) for name in SECTIONS if name in top.data}
    for name, value in tables.items():  # checked in full by their capability
        if not isinstance(value, (dict, list)):
            raise top.fail(name, "must be a table (or an array of tables)")
    roles = top.texts("roles", DEFAULT_ROLES)
    for role in roles:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", role):
            raise top.fail("roles", f"has {role!r}; a role is lower-case letters, digits and _")

    severities = dict(DEFAULT_SEVERITIES)
    sev_table = top.table("severities")
    for name in list(sev_table):
        if name not in SEVERITY_NAMES:
            raise ConfigError(
                f"{CONFIG_NAME}: unknown key `severities.{name}`; severities are SEV-1..SEV-4"
            )
        base = DEFAULT_SEVERITIES[name]
        raw = sev_table[name]
        if not isinstance(raw, dict):
            raise ConfigError(f"{CONFIG_NAME}: `severities.{name}` must be a table")
        sev = TableReader(raw, f"severities.{name}.")
        update_every = sev.text("update_every", base.update_every)
        _duration(sev, "update_every", update_every)
        sections = sev.texts("sections", ()) if "sections" in sev.data else None
        respond_within = sev.text("respond_within", base.respond_within)
        _duration(sev, "respond_within", respond_within)
        severities[name] = SeverityPolicy(
            name,
            sev.text("description", base.description),
            sev.text("response", base.response),
            update_every,
            sev.flag("postmortem", base.postmortem),
            sections,
            respond_within,
        )
        sev.done()

    pm = TableReader(top.table("postmortem"), "postmortem.")
    required_sections = pm.texts("required_sections", DEFAULT_REQUIRED_SECTIONS)
    placeholder = pm.text("placeholder_pattern", DEFAULT_PLACEHOLDER)
    try:
        re.compile(placeholder)
    except re.error as exc:
        raise pm.fail("placeholder_pattern", f"is not a valid regular expression: {exc}") from None
    pm.done()

    oc = TableReader(top.table("oncall"), "oncall.")
    rotation = oc.texts("rotation", ())
    start = oc.data.pop("start", None)
    if start is not None and (not isinstance(start, datetime) or start.tzinfo is None):
        raise oc.fail("start", "must be a TOML date-time with an offset, e.g. 2026-01-05T09:00:00Z")
    shift = _duration(oc, "shift", oc.text("shift", "1w"))
    oc.done()
    top.done()
    return Config(
        incidents_dir=incidents_dir,
        id_format=id_format,
        default_severity=default_severity,
        default_type=default_type,
        default_environment=default_environment,
        roles=roles,
        severities=severities,
        required_sections=required_sections,
        placeholder_pattern=placeholder,
        oncall=OnCall(rotation, start, shift),
        push=push,
        sections=tables,
    )


_PATTERN_CHARS = frozenset('*?[]\\"')  # glob and quoting characters of .gitattributes


def incidents_folder(top: TableReader) -> str:
    """`incidents_dir`, normalised (`a/./b/` is `a/b`), or why it cannot be one.

    It must name a folder below the repository root, outside `.git`, that a
    `.gitattributes` pattern can name literally; that no part of it is a link is
    checked on the disk when it is used (store, filescan).
    """
    from ..safetext import first_unsafe

    raw = top.text("incidents_dir", DEFAULTS.incidents_dir)
    if raw.startswith("/") or raw[1:3] == ":\\" or raw.startswith("~"):
        raise top.fail("incidents_dir", f"must be relative to the repository root (got {raw!r})")
    if first_unsafe(raw) is not None or raw != raw.strip():
        raise top.fail("incidents_dir", "must not hold control characters or end in spaces")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise top.fail("incidents_dir", f"must stay inside the repository: no `..` (got {raw!r})")
    if not parts:
        raise top.fail("incidents_dir", "must name a folder inside the repository, not its root")
    if any(part.lower() == ".git" for part in parts):
        raise top.fail("incidents_dir", "must not be inside .git, which git owns")
    bad = sorted(_PATTERN_CHARS.intersection(raw))
    if bad or raw[0] in "-!#" or any(part != part.strip() for part in parts):
        shown = f"`{bad[0]}`" if bad else f"a leading `{raw[0]}` or spaces around a `/`"
        raise top.fail(
            "incidents_dir", f"must be a plain folder name: {shown} is not allowed (got {raw!r})"
        )
    return "/".join(parts)


def _duration(reader: TableReader, name: str, text: str) -> timedelta:
    from .timeutil import parse_duration

    try:
        value = parse_duration(text)
    except ValueError:
        raise reader.fail(
            name, f"must be a duration such as 30m, 2h, 1d or 1w (got {text!r})"
        ) from None
    except InvalidInput:
        raise reader.fail(name, f"must be at most 100 years (got {text!r})") from None
    if value <= timedelta(0):
        raise reader.fail(name, "must be longer than zero")
    return value
