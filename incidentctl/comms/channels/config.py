"""A channel's table from incidentctl.toml, read key by key; secrets from `*_env` or `*_file`.

A secret is never written in the table itself: the file is committed and pushed. So
`url = "https://hooks.slack.com/…"` or `token = "xoxb-…"` is refused, and the value is
read from the environment variable that `url_env` names or the file that `url_file`
names. No error message ever repeats a secret, or any value the table holds.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from .model import ChannelError, Secret

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_SECRET_FILE = 64 * 1024
# Keys that hold a credential in other tools' settings: never accepted as literals.
SECRET_WORDS = frozenset(
    {"token", "secret", "password", "routing_key", "api_key", "key", "webhook", "webhook_url"}
)


def check_url(value: str, *, what: str, show: bool) -> str | None:
    """Why `value` is not a URL a channel may post to (https, or http on loopback), or None.

    With `show` false (a secret URL) the reason never quotes the value.
    """
    shown = f" {value!r}" if show else ""
    if not _TOKEN.fullmatch(value):
        return f"{what}{shown} holds spaces or control characters"
    parts = urllib.parse.urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        named = f"'{scheme}'" if _SCHEME.fullmatch(scheme) else "none"
        return f"{what}{shown} is not an https URL (scheme {named})"
    try:
        host = parts.hostname
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        host = None
    if not host:
        return f"{what}{shown} has no host"
    if scheme == "http" and host not in LOOPBACK:
        return f"{what}{shown} must use https (http only to 127.0.0.1, ::1 or localhost)"
    return None


class Table:
    """One `[channels.NAME]` table: typed getters that remember which keys were read."""

    def __init__(
        self, name: str, type_: str, table: Mapping[str, object], env: Mapping[str, str]
    ) -> None:
        self.name = name
        self.type = type_
        self._table = dict(table)
        self._env = env
        self._read: list[str] = ["type"]

    def has(self, key: str) -> bool:
        return key in self._table

    def error(self, what: str) -> ChannelError:
        return ChannelError(f"channel {self.name!r} ({self.type}): {what}")

    def _get(self, key: str, kinds: tuple[type, ...], kind_name: str) -> object | None:
        self._read.append(key)
        value = self._table.get(key)
        # bool is an int in Python, but `port = true` is a mistake, not port 1.
        if value is not None and (
            not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        ):
            raise self.error(f"{key} must be {kind_name}, not {_kind(value)}")
        return value

    def text(
        self, key: str, default: str | None = None, *, required: bool = False, limit: int = 200
    ) -> str | None:
        value = self._get(key, (str,), "a string")
        if value is None:
            if required:
                raise self.error(f"set {key}")
            return default
        assert isinstance(value, str)
        if not value.strip() or len(value) > limit or not value.isprintable():
            raise self.error(
                f"{key} must be 1 to {limit} printable characters, without control characters"
            )
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, (bool,), "true or false")
        return default if value is None else bool(value)

    def number(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key, (int,), "a whole number")
        if value is None:
            return default
        assert isinstance(value, int)
        if not low <= value <= high:
            raise self.error(f"{key} must be between {low} and {high}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, (list,), "a list of strings")
        if value is None:
            return ()
        assert isinstance(value, list)
        if not all(isinstance(v, str) and v.strip() and v.isprintable() for v in value):
            raise self.error(f"{key} must be a list of non-empty strings")
        return tuple(value)

    def mapping(self, key: str) -> dict[str, str]:
        value = self._get(key, (dict,), "a table of strings")
        if value is None:
            return {}
        assert isinstance(value, dict)
        if not all(isinstance(v, str) and v.isprintable() for v in value.values()):
            raise self.error(f"{key} must be a table whose values are strings")
        return {str(k): str(v) for k, v in value.items()}

    def url(self, key: str, default: str | None = None) -> str | None:
        """A URL that is not a secret (an API's base URL): written in the table."""
        value = self.text(key, default, limit=2000)
        if value is not None and (problem := check_url(value, what=key, show=True)):
            raise self.error(problem)
        return value

    def path(self, key: str) -> str | None:
        """A file's path (a CA bundle): it must exist now, not at 3 a.m."""
        value = self.text(key, limit=4096)
        if value is not None and not Path(value).expanduser().is_file():
            raise self.error(f"{key} {value!r} is not a file")
        return None if value is None else str(Path(value).expanduser())

    def secret(self, key: str, *, required: bool = True, what: str = "") -> Secret | None:
        """The value of `<key>_env` (a variable's name) or `<key>_file` (a path)."""
        what = what or key.replace("_", " ")
        how = f"set {key}_env (an environment variable's name) or {key}_file (a file's path)"
        self._read += [key, f"{key}_env", f"{key}_file"]
        if key in self._table:
            raise self.error(f"do not write the {what} in the configuration file; {how}")
        env_name, file_name = self._table.get(f"{key}_env"), self._table.get(f"{key}_file")
        if env_name is not None and file_name is not None:
            raise self.error(f"set {key}_env or {key}_file, not both")
        if env_name is None and file_name is None:
            if required:
                raise self.error(f"no {what}: {how}")
            return None
        if env_name is not None:
            return self._from_env(key, env_name)
        return self._from_file(key, file_name)

    def _from_env(self, key: str, env_name: object) -> Secret:
        if not isinstance(env_name, str) or not _ENV_NAME.fullmatch(env_name):
            raise self.error(f"{key}_env must name an environment variable (letters, digits, _)")
        value = self._env.get(env_name)
        if value is None:
            raise self.error(f"environment variable {env_name} ({key}_env) is not set")
        return self._checked(key, value.strip(), f"{key}_env {env_name}")

    def _from_file(self, key: str, file_name: object) -> Secret:
        if not isinstance(file_name, str) or not file_name.strip():
            raise self.error(f"{key}_file must be a file's path")
        path = Path(file_name).expanduser()
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_SECRET_FILE + 1)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise self.error(f"cannot read {key}_file {file_name!r}: {reason}") from None
        if len(raw) > MAX_SECRET_FILE:
            raise self.error(f"{key}_file {file_name!r} is larger than 64 KiB")
        try:
            value = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise self.error(f"{key}_file {file_name!r} is not UTF-8 text") from None
        return self._checked(key, value, f"{key}_file {file_name}")

    def _checked(self, key: str, value: str, source: str) -> Secret:
        if not value:
            raise self.error(f"{source} is empty")
        if not _TOKEN.fullmatch(value):
            raise self.error(f"{source} holds spaces or control characters")
        return Secret(value, source)

    def secret_url(self, key: str = "url") -> Secret:
        """A URL that is itself the credential (Slack, Teams, Discord webhooks)."""
        secret = self.secret(key, what="webhook URL")
        assert secret is not None
        if problem := check_url(secret.reveal(), what=secret.source, show=False):
            raise self.error(problem)
        return secret

    def finish(self) -> None:
        """Refuse the keys no getter asked for: a typo must not pass silently."""
        unknown = [key for key in self._table if key not in self._read]
        if not unknown:
            return
        key = unknown[0]
        if key.lower() in SECRET_WORDS:
            raise self.error(
                f"unknown key {key!r}; a secret is never written in the configuration file"
            )
        known = ", ".join(sorted(set(self._read) - {"type"}))
        raise self.error(f"unknown key {key!r} (known: {known})")


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", int: "a number", float: "a number", list: "a list"}.get(
        type(value), "a table"
    )
