"""The message a channel sends, what came of it, and the base every channel type builds on."""

from __future__ import annotations

import json
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from ...errors import ConfigError

STAGES = ("initial", "update", "acknowledge", "resolved", "page", "war-room")
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")
# How a subject line or a heading names each stage.
STAGE_WORDS = {
    "initial": "opened",
    "update": "update",
    "acknowledge": "acknowledged",
    "resolved": "resolved",
    "page": "page",
    "war-room": "war room",
}
MASK = "***"


class ChannelError(ConfigError):
    """A channel's configuration is incomplete or wrong (one line: the channel, what to set)."""


@dataclass(frozen=True)
class Message:
    """One notification about one incident, the same for every channel.

    Every text in it comes from an incident file, which anyone who can open a pull
    request can write: each channel cleans, clips and escapes it for its own format.
    """

    incident_id: str
    stage: str  # one of STAGES
    title: str
    severity: str  # SEV-1 … SEV-4
    status: str
    text: str = ""  # several lines of plain text
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)  # ordered
    url: str | None = None  # the incident's page, when there is one
    recipients: tuple[str, ...] = ()  # email addresses (the email channel)
    dedup_key: str = ""  # PagerDuty's dedup_key; the incident ID when empty

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage {self.stage!r} is not one of {', '.join(STAGES)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if not self.incident_id:
            raise ValueError("a message needs an incident ID")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "recipients", tuple(self.recipients))

    @property
    def key(self) -> str:
        """The key that ties every message of one incident together (PagerDuty's dedup_key)."""
        return self.dedup_key or self.incident_id


@dataclass(frozen=True)
class Delivery:
    """What came of one send: the outbox records it and decides whether to try again."""

    ok: bool
    detail: str  # one line, no secret
    retry: bool = False  # a failure worth trying again (timeout, 429, 5xx), not a 4xx
    external_id: str | None = None  # the service's ID: Slack ts or channel ID, PagerDuty key
    url: str | None = None  # where to see it: a Slack channel's URL
    name: str | None = None  # a human name for what was made: a war room's `#inc-…`
    status: int | None = None  # the HTTP status or SMTP reply code, when there was one
    retry_after: float | None = None  # seconds the service asked to wait

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", " ".join(self.detail.split()))


class Secret:
    """A credential read from the environment or a file; prints as `***` everywhere."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source  # where it came from: `url_env SLACK_URL`, never the value

    def reveal(self) -> str:
        return self._value

    def variants(self) -> tuple[str, ...]:
        """The forms the value may take in text: as is, URL-quoted, a URL's path and query."""
        value = self._value
        forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
        parts = urllib.parse.urlsplit(value)
        if parts.scheme and parts.netloc:
            tail = value.split(parts.netloc, 1)[1]
            if len(tail) >= 8:
                forms.add(tail)
            # Long path segments and query values are the token part of a webhook URL.
            forms.update(p for p in parts.path.split("/") if len(p) >= 16)
            forms.update(v for _, v in urllib.parse.parse_qsl(parts.query) if len(v) >= 16)
        # A very short value (a username like "ops") would mangle every message it
        # occurs in; such values are masked where they are used, not searched for.
        return tuple(sorted((f for f in forms if len(f) >= 6), key=len, reverse=True))

    def __repr__(self) -> str:
        return f"Secret({self.source!r})"

    def __str__(self) -> str:
        return MASK

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")


def scrub(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with every form of every secret replaced by `***` (a last line of defence)."""
    for secret in secrets:
        for form in secret.variants():
            text = text.replace(form, MASK)
    return text


def masked_url(url: str) -> str:
    """A URL that is itself the credential, shown as its scheme and host only."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{MASK}"


def retryable(status: int) -> bool:
    """Whether an HTTP status is worth another try: 408, 425, 429 and 5xx."""
    return status in (408, 425, 429) or status >= 500


def request_preview(
    method: str, url: str, headers: Mapping[str, str], body: Any, *, note: str = ""
) -> str:
    """The request as `--dry-run` shows it: the request line, headers, the JSON body."""
    lines = [f"{method} {url}" + (f"  # {note}" if note else "")]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append("")
    lines.append(json.dumps(body, indent=2, ensure_ascii=False))
    return "\n".join(lines)


class Channel(ABC):
    """One configured destination: `send` delivers a message, `preview` shows the payload.

    `send` never raises for a failure of the far side (it returns a Delivery that says
    whether to retry); a ChannelError is raised only by the factory, for configuration.
    """

    type: ClassVar[str]

    def __init__(self, name: str, secrets: Iterable[Secret] = ()) -> None:
        self.name = name
        self._secrets = tuple(secrets)

    @abstractmethod
    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        """Deliver `message`, giving up after `timeout` seconds in all."""

    @abstractmethod
    def preview(self, message: Message) -> str:
        """The exact request `send` would make, with every secret shown as `***`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.type})>"

    def _clean(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _done(self, detail: str, **extra: Any) -> Delivery:
        return Delivery(ok=True, detail=self._clean(detail), **extra)

    def _failed(self, detail: str, *, retry: bool, **extra: Any) -> Delivery:
        return Delivery(ok=False, detail=self._clean(detail), retry=retry, **extra)

    def _safe_preview(self, text: str) -> str:
        return self._clean(text)
