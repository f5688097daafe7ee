"""`webhook`: the message as signed JSON, POSTed to any receiver.

```toml
[channels.status-bot]
type = "webhook"
url = "https://bot.example.com/incidentctl"   # or url_env / url_file if it holds a token
secret_env = "STATUS_BOT_SECRET"              # or secret_file; at least 16 characters
```

The body (UTF-8 JSON): `{"version": 1, "incident_id", "stage", "title", "severity",
"status", "text", "fields": {name: value, …}, "url", "dedup_key"}`. Text is as the
incident has it, less control and bidi characters: escape it for wherever you show it.

Each request carries:

    X-Incidentctl-Timestamp: <Unix time in seconds>
    X-Incidentctl-Signature: v1=<hex HMAC-SHA256, keyed with the secret, of "<timestamp>.<body>">
    X-Incidentctl-Event: <stage>
    X-Incidentctl-Delivery: <32 hex digits, the same for every retry of one message>

To verify, take the raw body bytes as received (before any JSON parsing):

    expected = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, "sha256").hexdigest()
    ok = hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp)) <= 300

and refuse a timestamp more than 5 minutes away (a replayed request). Answer 2xx to
accept; 408, 429 and 5xx are retried, other statuses are not, redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from . import text as t
from .config import Table
from .model import Channel, Delivery, Message, Secret, masked_url, request_preview, retryable
from .transport import Unreachable, context, post_json

MIN_SECRET = 16


def document(message: Message) -> dict[str, Any]:
    return {
        "version": 1,
        "incident_id": t.clean(message.incident_id),
        "stage": message.stage,
        "title": t.clean(message.title),
        "severity": message.severity,
        "status": t.clean(message.status),
        "text": t.clean(message.text, lines=True),
        "fields": dict(t.fields(message, limit=100)),
        "url": t.safe_link(message.url),
        "dedup_key": t.clean(message.key),
    }


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: `v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>`."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


class SignedWebhook(Channel):
    """POSTs the message as JSON with an HMAC-SHA256 signature."""

    type = "webhook"

    def __init__(
        self,
        name: str,
        url: str | Secret,
        secret: Secret,
        *,
        ca_file: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name, [secret] + ([url] if isinstance(url, Secret) else []))
        self._target = url
        self._secret = secret
        self._ctx = context(ca_file)
        self.clock = clock

    @classmethod
    def from_table(cls, table: Table) -> SignedWebhook:
        url: str | Secret | None
        if table.has("url"):
            if table.has("url_env") or table.has("url_file"):
                raise table.error("set url, or url_env or url_file, not two of them")
            url = table.url("url")
        else:
            url = table.secret_url("url")
        secret = table.secret("secret", what="signing secret")
        assert url is not None and secret is not None
        if len(secret.reveal()) < MIN_SECRET:
            raise table.error(
                f"the signing secret must be at least {MIN_SECRET} characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        ca_file = table.path("ca_file")
        table.finish()
        return cls(table.name, url, secret, ca_file=ca_file)

    def _request(self, message: Message, timestamp: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(document(message), ensure_ascii=False, separators=(",", ":"))
        raw = body.encode("utf-8")
        headers = {
            "X-Incidentctl-Timestamp": timestamp,
            "X-Incidentctl-Signature": sign(self._secret.reveal().encode(), timestamp, raw),
            "X-Incidentctl-Event": message.stage,
            "X-Incidentctl-Delivery": hashlib.sha256(raw).hexdigest()[:32],
        }
        return raw, headers

    def _url(self) -> str:
        target = self._target
        return target.reveal() if isinstance(target, Secret) else target

    def preview(self, message: Message) -> str:
        timestamp = str(int(self.clock()))
        _, headers = self._request(message, timestamp)
        headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        headers["X-Incidentctl-Signature"] = "v1=***"
        shown = masked_url(self._url()) if isinstance(self._target, Secret) else self._url()
        text = request_preview("POST", shown, headers, document(message))
        return self._safe_preview(text)

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        body, headers = self._request(message, str(int(self.clock())))
        try:
            answer = post_json(self._url(), body, timeout=timeout, ctx=self._ctx, headers=headers)
        except Unreachable as exc:
            return self._failed(exc.reason, retry=exc.retry)
        if 200 <= answer.status < 300:
            return self._done(f"delivered ({answer.status})", status=answer.status)
        if 300 <= answer.status < 400:
            why = "a redirect, not followed; set the receiver's final URL"
        elif answer.status in (401, 403):
            why = "the receiver refused the signature; check secret_env/secret_file on both sides"
        else:
            why = answer.text(120) or "no message"
        return self._failed(
            f"the receiver answered {answer.status}: {why}",
            retry=retryable(answer.status),
            status=answer.status,
            retry_after=answer.retry_after(),
        )
