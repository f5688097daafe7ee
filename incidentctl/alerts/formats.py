"""Reading an alert payload: bounded JSON, the format told from its shape, a Notice.

Five formats: `plain` (the team's own monitors), `alertmanager` (webhook version 4),
`grafana` (Grafana alerting's webhook), `pagerduty` (V3 webhooks), `datadog` (the
payload template in the README). Each is read by its own function in this package.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from .notice import FORMATS, Notice, PayloadError, clean

MAX_BYTES = 1024 * 1024  # a payload larger than this is refused (serve: --max-body)
MAX_DEPTH = 64  # nesting of objects and arrays
MAX_VALUES = 100_000  # values in one payload


def load(data: bytes | str, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """The payload as a JSON object, or PayloadError saying in one line what is wrong."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise PayloadError(
            f"the payload is {len(data):,} bytes; the limit is {max_bytes:,} "
            "(send fewer alerts per notification, e.g. Alertmanager's max_alerts)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"the payload is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); send JSON encoded as UTF-8"
        ) from None
    if not text.strip():
        raise PayloadError("the payload is empty; send the webhook's JSON object")

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        value = json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise PayloadError(f"the payload is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"the payload is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); a form-encoded webhook must be switched to JSON"
        ) from None
    except ValueError as exc:
        raise PayloadError(f"the payload is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
        if value is None:
            kind = "null"
        raise PayloadError(
            f"the payload is {kind}, not a JSON object; send the webhook's object "
            "(Prometheus posts arrays to Alertmanager: point Alertmanager, not Prometheus, here)"
        )
    _check_size(value)
    return value


def _check_size(value: Any) -> None:
    """Refuse a payload nested deeper than MAX_DEPTH or holding more than MAX_VALUES."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise PayloadError(f"the payload holds more than {MAX_VALUES:,} values")
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise PayloadError(f"the payload is nested more than {MAX_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def detect(payload: dict[str, Any]) -> str | None:
    """The format a payload's shape says, or None."""
    event = payload.get("event")
    if isinstance(event, dict) and "event_type" in event and isinstance(event.get("data"), dict):
        return "pagerduty"
    if isinstance(payload.get("alerts"), list) and "groupKey" in payload:
        grafana = "orgId" in payload or "state" in payload or payload.get("version") == "1"
        return "grafana" if grafana else "alertmanager"
    if payload.get("source") == "datadog" or (
        "alert_id" in payload and ("transition" in payload or "alert_transition" in payload)
    ):
        return "datadog"
    if "spec_id" in payload and "metric" in payload:
        return "plain"
    return None


def parse(payload: dict[str, Any], format: str | None = None) -> Notice:
    """A Notice from a loaded payload; `format` forces one (else it is detected)."""
    from . import datadog, pagerduty, plain, prometheus

    if format is not None and format not in FORMATS:
        raise PayloadError(f"unknown alert format {format!r}; use one of: {', '.join(FORMATS)}")
    found = detect(payload)
    chosen = format or found
    if chosen is None:
        keys = ", ".join(clean(k, 40) for k in list(payload)[:8]) or "none"
        raise PayloadError(
            "the payload is not one of the alert formats incidentctl reads "
            f"({', '.join(FORMATS)}); its keys: {keys}. Pick one with --source"
        )
    readers = {
        "plain": plain.read,
        "alertmanager": prometheus.read_alertmanager,
        "grafana": prometheus.read_grafana,
        "pagerduty": pagerduty.read,
        "datadog": datadog.read,
    }
    notice = readers[chosen](payload)
    if not notice.key:
        raise PayloadError(f"the {chosen} payload carries nothing to tell its alerts apart by")
    return notice


def read(data: bytes | str, format: str | None = None, *, max_bytes: int = MAX_BYTES) -> Notice:
    """`load` then `parse`: raw bytes to a Notice."""
    return parse(load(data, max_bytes=max_bytes), format)


def argument(value: str, stdin: BinaryIO, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes `--alert-payload` names: JSON text itself, `@FILE`, or `-` (stdin)."""
    if value == "-":
        return stdin.read(max_bytes + 1)
    if value.startswith("@"):
        name = value[1:]
        try:
            with open(name, "rb") as handle:
                return handle.read(max_bytes + 1)
        except OSError as exc:
            raise PayloadError(
                f"cannot read the payload file {clean(name, 200)}: {exc.strerror or exc}"
            ) from None
    return value.encode("utf-8", "surrogatepass")
