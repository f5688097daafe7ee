"""The `[alerts]` table of incidentctl.toml: severity mapping, folding, what resolving does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..errors import ConfigError
from ..incident.config import CONFIG_NAME, Config
from ..incident.configfile import TableReader
from ..incident.timeutil import parse_duration
from ..incident.vocab import parse_severity

# A sender's severity, priority or urgency (lower case) -> incidentctl's severity.
DEFAULT_SEVERITY_MAP = {
    **dict.fromkeys(["critical", "crit", "emergency", "fatal", "page", "p0", "p1"], "SEV-1"),
    **dict.fromkeys(["high", "error", "major", "p2"], "SEV-2"),
    **dict.fromkeys(["warning", "warn", "medium", "moderate", "p3"], "SEV-3"),
    **dict.fromkeys(["low", "info", "informational", "minor", "none", "p4", "p5"], "SEV-4"),
}
ENVIRONMENTS = {
    **dict.fromkeys(["production", "prod", "prd", "live"], "production"),
    **dict.fromkeys(["staging", "stage", "stg", "preprod", "uat"], "staging"),
    **dict.fromkeys(["development", "dev", "test", "testing", "sandbox"], "development"),
}
RESOLVE_TO = ("", "monitoring", "resolved")


@dataclass(frozen=True)
class AlertsConfig:
    severity_map: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default_severity: str = "SEV-3"
    resolve_to: str = ""  # the status an incident moves to when every alert resolved
    fold_window: timedelta = timedelta(hours=1)  # repeats counted in one entry for this long

    def severity(self, value: str | None) -> str:
        """The severity for a sender's value: the map, else SEV-N/1..4 spellings, else
        the default."""
        if value:
            word = value.strip().lower()
            if word in self.severity_map:
                return self.severity_map[word]
            try:
                return parse_severity(word).value
            except Exception:  # noqa: S110 - an unknown word takes the default
                pass
        return self.default_severity


def environment(value: str | None, default: str) -> str:
    return ENVIRONMENTS.get((value or "").strip().lower(), default)


def load(config: Config) -> AlertsConfig:
    """The [alerts] table, checked key by key like the rest of incidentctl.toml."""
    table = TableReader(config.section("alerts"), "alerts.")
    mapping = dict(DEFAULT_SEVERITY_MAP)
    for word, value in table.table("severity").items():
        try:
            mapping[str(word).strip().lower()] = parse_severity(str(value)).value
        except Exception:
            raise ConfigError(
                f"{CONFIG_NAME}: `alerts.severity.{word}` must be SEV-1..SEV-4 (got {value!r})"
            ) from None
    default = table.text("default_severity", config.default_severity)
    try:
        default = parse_severity(default).value
    except Exception:
        raise table.fail("default_severity", "must be SEV-1..SEV-4") from None
    resolve_to = _choice(table, "resolve_to", "", RESOLVE_TO)
    window_text = table.text("fold_window", "1h")
    try:
        window = parse_duration(window_text)
    except Exception:
        raise table.fail("fold_window", "must be a duration such as 15m, 1h or 1d") from None
    table.done()
    return AlertsConfig(mapping, default, resolve_to, window)


def _choice(table: TableReader, name: str, default: str, choices: tuple[str, ...]) -> str:
    value: Any = table.data.pop(name, default)
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise table.fail(name, f"must be one of {shown} (got {value!r})")
    return str(value)
