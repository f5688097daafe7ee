"""One alert payload, whatever its format, as incidentctl reads it: a Notice.

Everything in a payload is untrusted text: it is cut to a bounded size and its
control, bidi and invisible characters are replaced before it goes anywhere
(safetext), so no payload can act on a terminal or hide text in a file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidInput
from ..safetext import is_unsafe

FORMATS = ("plain", "alertmanager", "grafana", "pagerduty", "datadog")
FIRING, RESOLVED, ACKNOWLEDGED, OTHER = "firing", "resolved", "acknowledged", "other"
TEXT_MAX = 500  # a label, annotation or title as kept from a payload
SUMMARY_MAX = 2_000


class PayloadError(InvalidInput):
    """A payload that is not one incidentctl can read (exit 1, or HTTP 400)."""


@dataclass
class Member:
    """One alert of a group (Alertmanager and Grafana send several per payload)."""

    fingerprint: str
    status: str  # FIRING or RESOLVED
    name: str  # what a responder calls it: alertname and the labels that tell it apart
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass
class Notice:
    """What one payload says, in incidentctl's terms."""

    format: str
    key: str  # the de-duplication key: which incident this payload belongs to
    status: str  # FIRING, RESOLVED, ACKNOWLEDGED or OTHER (an event that changes nothing)
    title: str
    event: str = ""  # the sender's own word for what happened (incident.triggered, ...)
    severity: str | None = None  # the sender's value, mapped by the [alerts] config
    type: str | None = None
    environment: str | None = None
    services: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    members: list[Member] = field(default_factory=list)
    truncated: int = 0  # alerts the sender left out (Alertmanager's max_alerts)
    summary: str | None = None
    alert_summaries: list[str] = field(default_factory=list)  # one line per alert of a group
    actor: str | None = None  # who acknowledged or resolved, when the sender says
    payload: dict[str, Any] = field(default_factory=dict)  # as received (redact before keeping)

    @property
    def ref(self) -> str:
        """The key as a short token that is kept in the incident's `source` and can be
        searched for in files: `alert-` and 20 hex digits of SHA-256."""
        digest = hashlib.sha256(f"{self.format}\n{self.key}".encode()).hexdigest()
        return f"alert-{digest[:20]}"


def clean(value: Any, limit: int = TEXT_MAX) -> str:
    """A payload value as text that is safe to keep and print: one line, bounded."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if len(text) > limit * 4:
        text = text[: limit * 4]
    if not text.isprintable():  # else no control, format or separator character: fast
        text = "".join(" " if char in "\r\n\t" or is_unsafe(char) else char for char in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def untagged(title: str) -> str:
    """A title without a sender's status tag in front: `[FIRING:3] `, `[Triggered on …] `."""
    if title.startswith("[") and "] " in title[:200]:
        tag, rest = title[1:].split("] ", 1)
        words = ("firing", "resolved", "triggered", "recovered", "warn", "no data", "re-")
        if rest and tag.lower().startswith(words):
            return rest
    return title


def clean_block(value: Any, limit: int = SUMMARY_MAX) -> str | None:
    """Longer payload text (a description) with its line breaks kept; None when empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    lines = [clean(line, limit) for line in value[: limit * 2].splitlines()]
    text = "\n".join(line for line in lines if line).strip()
    return (text if len(text) <= limit else text[: limit - 1].rstrip() + "…") or None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def texts(value: Any) -> dict[str, str]:
    """A label or annotation map with every key and value made safe text."""
    return {clean(k, 100): clean(v) for k, v in mapping(value).items() if clean(k, 100)}


ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: "not ended" in Alertmanager


def when(value: Any) -> datetime | None:
    """A sender's timestamp (RFC 3339, any fraction, `Z` or an offset; or epoch
    milliseconds as Datadog sends them), in UTC; None when absent or unreadable."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        try:
            number = float(value)
            seconds = number / 1000 if number > 1e11 else number
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Go trims or extends the fraction; Python wants at most six digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, tail = rest[:digits], rest[digits:]
        text = f"{head}.{(fraction + '000000')[:6]}{tail}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        return None


def status_word(value: Any) -> str:
    """FIRING or RESOLVED from a sender's status word (anything unknown counts as firing)."""
    return RESOLVED if str(value).lower() in ("resolved", "ok", "recovered", "success") else FIRING
