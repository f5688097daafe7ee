"""`[trackers.NAME]` in incidentctl.toml: where action items become tickets.

    [trackers.ops-jira]
    type = "jira"                       # github, jira, gitlab
    url = "https://acme.atlassian.net"
    project = "OPS"
    email_env = "JIRA_EMAIL"            # secrets: *_env (a variable) or *_file (a path)
    token_env = "JIRA_API_TOKEN"
    services = ["checkout", "payments"] # optional: only incidents with one of these

Each type's module reads its own keys through a `Table` (jira.from_table,
gitlab.from_table, github.from_table); a key no reader asked for is refused, so a
typo never passes silently. Secrets are never written in the file.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .base import DEFAULT_LABEL, Tracker
from .http import Policy

TYPES = ("github", "jira", "gitlab")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
SECRET_WORDS = ("token", "password", "secret", "api_token", "key", "private_token")
MAX_SECRET = 4096


class Table:
    """One `[trackers.NAME]` table, read key by key with one-line errors."""

    def __init__(self, name: str, table: Mapping[str, Any], env: Mapping[str, str]):
        self.name = name
        self._table = dict(table)
        self._env = env
        self._read: list[str] = ["type", "services", "label"]

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"incidentctl.toml [trackers.{self.name}]: {message}")

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        self._read.append(key)
        value = self._table.get(key, default)
        if value is None:
            if required:
                raise self.error(f"`{key}` is missing")
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > 2000:
            raise self.error(f"`{key}` must be a non-empty string")
        return value.strip()

    def words(self, key: str) -> tuple[str, ...]:
        self._read.append(key)
        value = self._table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(f"`{key}` must be a list of strings")
        return tuple(value)

    def mapping(self, key: str) -> dict[str, str]:
        self._read.append(key)
        value = self._table.get(key, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.error(f"`{key}` must be a table of strings")
        return dict(value)

    def url(self, key: str, default: str | None = None) -> str:
        value = self.text(key, default, required=True)
        assert value is not None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise self.error(f"`{key}` must be an http(s) URL without query, got {value!r}")
        return value.rstrip("/")

    def secret(self, key: str, *, default_env: str | None = None, what: str = "") -> str:
        """The value of `<key>_env` (a variable's name) or `<key>_file` (a path)."""
        what = what or key.replace("_", " ")
        how = f"set {key}_env (an environment variable's name) or {key}_file (a file's path)"
        self._read += [key, f"{key}_env", f"{key}_file"]
        if key in self._table:
            raise self.error(f"do not write the {what} in the configuration file; {how}")
        env_name = self._table.get(f"{key}_env")
        file_name = self._table.get(f"{key}_file")
        if env_name is not None and file_name is not None:
            raise self.error(f"set {key}_env or {key}_file, not both")
        if file_name is not None:
            if not isinstance(file_name, str) or not file_name:
                raise self.error(f"{key}_file must be a path")
            try:
                with open(os.path.expanduser(file_name), "rb") as handle:
                    raw = handle.read(MAX_SECRET + 1)
            except OSError as exc:
                raise self.error(f"cannot read {key}_file: {exc.strerror}") from None
            value = raw.decode("utf-8", "replace").strip()
            source = f"{key}_file"
        else:
            env_name = env_name if env_name is not None else default_env
            if env_name is None:
                raise self.error(f"no {what}: {how}")
            if not isinstance(env_name, str) or not _ENV_NAME.fullmatch(env_name):
                raise self.error(f"{key}_env must name an environment variable")
            value = (self._env.get(env_name) or "").strip()
            source = f"environment variable {env_name}"
            if not value:
                raise self.error(f"no {what}: {source} is not set ({how})")
        if len(value) > MAX_SECRET or not re.fullmatch(r"[\x21-\x7e]+", value):
            raise self.error(
                f"the {what} from {source} is not a token (spaces or control characters)"
            )
        return value

    def finish(self) -> None:
        """Refuse the keys no reader asked for: a typo must not pass silently."""
        unknown = [key for key in self._table if key not in self._read]
        if not unknown:
            return
        key = unknown[0]
        if key.lower() in SECRET_WORDS:
            raise self.error(f"unknown key {key!r}; a secret is never written in the file")
        known = ", ".join(sorted(set(self._read) - {"type"}))
        raise self.error(f"unknown key {key!r} (known: {known})")


@dataclass
class Configured:
    """A tracker of the configuration, before it is built (no secret read yet)."""

    name: str
    type: str
    services: tuple[str, ...]
    table: dict[str, Any]

    def takes(self, services: list[str]) -> bool:
        """Whether this tracker takes an incident with these services."""
        if not self.services:
            return True
        wanted = {s.casefold() for s in self.services}
        return any(s.casefold() in wanted for s in services)


def configured(section: Any) -> list[Configured]:
    """The trackers of `[trackers]`, in file order, checked for shape."""
    if not section:
        return []
    if not isinstance(section, dict):
        raise ConfigError("incidentctl.toml: [trackers] must hold tables, e.g. [trackers.jira]")
    out = []
    for name, table in section.items():
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"incidentctl.toml: tracker name {name!r} must be lowercase letters, digits, - or _"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"incidentctl.toml: [trackers.{name}] must be a table")
        kind = table.get("type")
        if kind not in TYPES:
            raise ConfigError(
                f"incidentctl.toml [trackers.{name}]: `type` must be one of {', '.join(TYPES)}"
            )
        services = table.get("services", [])
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise ConfigError(
                f"incidentctl.toml [trackers.{name}]: `services` must be a list of strings"
            )
        out.append(Configured(name, str(kind), tuple(services), table))
    return out


def build(
    item: Configured,
    env: Mapping[str, str],
    policy: Policy,
    *,
    label: str | None = None,
) -> Tracker:
    """The tracker of one configured table (its secrets read now)."""
    table = Table(item.name, item.table, env)
    chosen = label or table.text("label", DEFAULT_LABEL) or DEFAULT_LABEL
    # trackers/github.py, jira.py, gitlab.py: each `from_table(name, table, policy,
    # label)`; only the configured type's module (and client) is imported.
    module = importlib.import_module(f"{__package__}.{item.type}")
    tracker: Tracker = module.from_table(item.name, table, policy, chosen)
    table.finish()
    return tracker
