"""Timestamps: parsed only with an explicit offset, always written in UTC with `Z`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from ..errors import InvalidInput

# Patterns, compiled on first use (re caches them): `log` without --at needs no `re`.
_RFC3339 = (
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"\s*(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)
_RELATIVE = r"^-?(\d+)\s*([smhd])(?:\s+ago)?$"
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest duration or relative time taken (`--at 15m`, `--due 2w`, `update_every`):
# beyond it lies no incident, and datetime arithmetic would leave the calendar.
MAX_DURATION_DAYS = 36_525  # 100 years


def utcnow() -> datetime:
    """Now, in UTC, to the second (incident files do not need microseconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def format_ts(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, e.g. 2026-11-26T02:47:00Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")  # a bug: every datetime here is aware
    value = value.astimezone(timezone.utc)
    text = value.replace(tzinfo=None, microsecond=0).isoformat()  # faster than strftime
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(text: str, *, now: datetime | None = None, what: str = "time") -> datetime:
    """Parse a user-given time: RFC 3339 with an offset, `now`, or `15m` / `2h ago`.

    A time without an offset is refused: guessing the responder's zone mid-outage
    puts entries hours off.
    """
    import re

    raw = text.strip()
    now = now or utcnow()
    if raw.lower() == "now":
        return now
    rel = re.match(_RELATIVE, raw.lower())
    if rel:
        return now - _delta(rel.group(1), rel.group(2), text, what, "ago")
    match = re.match(_RFC3339, raw)
    if not match:
        raise InvalidInput(
            f"{what} {text!r} is not a time; use RFC 3339 with an offset, "
            "e.g. 2026-11-26T14:05:00Z, or '15m' for 15 minutes ago"
        )
    if match.group("tz") is None:
        raise InvalidInput(
            f"{what} {text!r} has no UTC offset; add 'Z' for UTC or an offset "
            "such as '+02:00' (e.g. 2026-11-26T14:05:00Z)"
        )
    iso = raw.replace(" ", "T", 1).replace("t", "T").replace("z", "Z")
    iso = re.sub(r"\s+", "", iso)
    if iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise InvalidInput(f"{what} {text!r} is not a valid time: {exc}") from None
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first UTC time
        raise InvalidInput(
            f"{what} {text!r} is out of range in UTC; give a time between the years 1 and 9999"
        ) from None


def _delta(amount: str, unit: str, text: str, what: str, noun: str) -> timedelta:
    """`amount` of `unit` as a timedelta, refused past MAX_DURATION_DAYS (one line)."""
    # A 5,000-digit amount is refused before int() (which would raise on it).
    if len(amount) > 12 or int(amount) * _SECONDS[unit] > MAX_DURATION_DAYS * 86400:
        shown = text.strip() if len(text.strip()) <= 40 else text.strip()[:39] + "…"
        raise InvalidInput(
            f"{what} {shown!r} is more than 100 years {noun}; "
            "give a shorter one, e.g. 30m, 2h, 1d or 1w"
        )
    return timedelta(seconds=int(amount) * _SECONDS[unit])


def parse_date(text: str, *, what: str = "date") -> date:
    """Parse YYYY-MM-DD (due dates and --since)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date; use YYYY-MM-DD") from None


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """Parse `30m`, `2h`, `1d`, `1w`, `90s` into a timedelta.

    ValueError when `text` is not a duration; InvalidInput when it is one longer
    than MAX_DURATION_DAYS.
    """
    import re

    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not match:
        raise ValueError(f"{what} {text!r} is not a duration; use e.g. 30m, 2h, 1d, 1w")
    return _delta(match.group(1), match.group(2), text, what, "long")


def format_duration(delta: timedelta) -> str:
    """A short human duration: 45m, 2h 5m, 3d 4h."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "-" + format_duration(-delta)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    if not parts:
        parts.append(f"{secs}s")
    return " ".join(parts)
