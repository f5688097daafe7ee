"""`pagerduty`: PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/).

```toml
[channels.pager]
type = "pagerduty"
routing_key_env = "PAGERDUTY_ROUTING_KEY"   # or routing_key_file: the integration key (32)
events_url = "https://events.pagerduty.com" # optional: a test's server
component = "checkout"                      # optional: payload.component
group = "payments"                          # optional: payload.group
```

`POST <events_url>/v2/enqueue`. The stage picks `event_action`: `resolved` resolves,
`acknowledge` acknowledges, every other stage triggers (a trigger while the alert is
open only adds to it; after a resolve it opens a new alert). `dedup_key` is the
incident's key, so all events of one incident reach one alert. PagerDuty answers 202;
400 is not retried (its `errors` are reported); 429 and 5xx are retried here with
backoff for as long as the timeout allows, then reported as worth retrying.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from . import text as t
from .config import Table
from .model import Channel, Delivery, Message, Secret, request_preview, retryable
from .transport import Answer, Unreachable, context, post_json

DEFAULT_EVENTS = "https://events.pagerduty.com"
ACTIONS = {
    "initial": "trigger",
    "update": "trigger",
    "page": "trigger",
    "war-room": "trigger",
    "acknowledge": "acknowledge",
    "resolved": "resolve",
}
SEVERITY = {"SEV-1": "critical", "SEV-2": "error", "SEV-3": "warning", "SEV-4": "info"}
SUMMARY, DEDUP_KEY, DETAILS_TEXT = 1024, 255, 10_000
_KEY = re.compile(r"[A-Za-z0-9]{32}")


def dedup_key(message: Message) -> str:
    """The incident's key; a SHA-256 in hex when longer than PagerDuty's 255."""
    key = t.clean(message.key)
    return key if len(key) <= DEDUP_KEY else hashlib.sha256(key.encode()).hexdigest()


def event(
    message: Message,
    routing_key: str,
    *,
    component: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    action = ACTIONS[message.stage]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(message),
    }
    if action != "trigger":
        return body
    details: dict[str, str] = {name: t.clip(value, 2000) for name, value in t.fields(message)}
    details.setdefault("Status", t.clean(message.status))
    details["Stage"] = message.stage
    if summary := t.clip(t.clean(message.text, lines=True), DETAILS_TEXT):
        details["Summary"] = summary
    payload: dict[str, Any] = {
        "summary": t.clip(t.subject(message), SUMMARY),
        "source": "incidentctl",
        "severity": SEVERITY[message.severity],
        "custom_details": details,
    }
    if component:
        payload["component"] = component
    if group:
        payload["group"] = group
    body |= {"payload": payload, "client": "incidentctl"}
    if link := t.safe_link(message.url):
        body["client_url"] = link
        body["links"] = [{"href": link, "text": t.clean(message.incident_id)}]
    return body


class PagerDuty(Channel):
    """Triggers, acknowledges and resolves one PagerDuty alert per incident."""

    type = "pagerduty"

    def __init__(
        self,
        name: str,
        routing_key: Secret,
        *,
        events_url: str = DEFAULT_EVENTS,
        component: str | None = None,
        group: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        super().__init__(name, [routing_key])
        self._key = routing_key
        self.endpoint = events_url.rstrip("/") + "/v2/enqueue"
        self.component, self.group = component, group
        self._ctx = context(ca_file)
        self.backoff = 0.5  # the first wait before a retry; doubles each time
        self.sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_table(cls, table: Table) -> PagerDuty:
        key = table.secret("routing_key", what="routing key")
        assert key is not None
        if not _KEY.fullmatch(key.reveal()):
            raise table.error(f"{key.source}: a routing key is 32 letters and digits")
        events_url = table.url("events_url", DEFAULT_EVENTS) or DEFAULT_EVENTS
        component = table.text("component", limit=255)
        group = table.text("group", limit=255)
        ca_file = table.path("ca_file")
        table.finish()
        return cls(
            table.name,
            key,
            events_url=events_url,
            component=component,
            group=group,
            ca_file=ca_file,
        )

    def _event(self, message: Message, key: str) -> dict[str, Any]:
        return event(message, key, component=self.component, group=self.group)

    def preview(self, message: Message) -> str:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        body = self._event(message, "***")
        return self._safe_preview(request_preview("POST", self.endpoint, headers, body))

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        body = json.dumps(self._event(message, self._key.reveal())).encode("utf-8")
        deadline = time.monotonic() + timeout
        tries = 0
        while True:
            tries += 1
            result = self._once(body, deadline - time.monotonic(), message)
            if result.ok or not result.retry:
                return result
            wait = result.retry_after
            wait = self.backoff * 2 ** (tries - 1) if wait is None else max(wait, 0.05)
            if time.monotonic() + wait + 0.1 >= deadline:
                if tries == 1:
                    return result
                return self._failed(
                    f"{result.detail} (after {tries} tries)",
                    retry=True,
                    status=result.status,
                    retry_after=result.retry_after,
                )
            self.sleep(wait)

    def _once(self, body: bytes, timeout: float, message: Message) -> Delivery:
        try:
            answer = post_json(self.endpoint, body, timeout=timeout, ctx=self._ctx)
        except Unreachable as exc:
            return self._failed(exc.reason, retry=exc.retry)
        data = _json(answer)
        if answer.status == 202:
            key = str(data.get("dedup_key") or dedup_key(message))
            action = ACTIONS[message.stage]
            return self._done(
                f"PagerDuty accepted the {action} event",
                status=202,
                external_id=t.clip(t.clean(key), DEDUP_KEY),
            )
        if answer.status == 400:
            errors = data.get("errors")
            said = (
                [t.clip(t.clean(str(e)), 160) for e in errors[:3]]
                if isinstance(errors, list)
                else []
            )
            why = "; ".join(said) or t.clip(t.clean(str(data.get("message", ""))), 160)
            return self._failed(
                f"PagerDuty refused the event (400): {why or 'no reason given'}",
                retry=False,
                status=400,
            )
        if answer.status == 429:
            why = "rate limited (about 120 events a minute per routing key)"
        elif 300 <= answer.status < 400:
            why = "a redirect, not followed; set events_url to the final URL"
        elif answer.status >= 500:
            why = "PagerDuty failed on its side"
        else:
            why = t.clip(t.clean(str(data.get("message", ""))), 160) or "no reason given"
        return self._failed(
            f"PagerDuty answered {answer.status}: {why}",
            retry=retryable(answer.status),
            status=answer.status,
            retry_after=answer.retry_after(),
        )


def _json(answer: Answer) -> dict[str, Any]:
    try:
        data = json.loads(answer.body) if answer.body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
