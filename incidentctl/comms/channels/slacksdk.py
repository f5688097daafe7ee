"""slack-sdk's two clients, sending through this package's transport.

The clients are slack-sdk's own (payloads, headers, response parsing, `SlackApiError`);
only the step that opens the connection is replaced, because slack-sdk's follows
redirects (urllib copies `Authorization: Bearer xoxb-…` into a redirect to any host)
and its timeout bounds each read rather than the request. Its own retries are off (the
outbox decides, from each Delivery's `retry`), and its logger is a silent one: at debug
level slack-sdk logs the webhook URL, which is the webhook's credential.

Imported only when a Slack channel sends: slack-sdk takes about 0.1 s to import.
"""

from __future__ import annotations

import logging
import math
import ssl
import time
from typing import Any
from urllib.request import Request

from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

from .transport import send


def quiet_logger(name: str) -> logging.Logger:
    """A logger outside logging's tree that drops everything (no handler, no parent)."""
    logger = logging.Logger(f"incidentctl.comms.{name}")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    logger.setLevel(logging.CRITICAL + 1)
    return logger


class Webhook(WebhookClient):
    """An incoming webhook; every answer, error statuses included, comes back as one."""

    def __init__(self, url: str, *, timeout: float, ctx: ssl.SSLContext) -> None:
        super().__init__(
            url=url,
            timeout=max(1, math.ceil(timeout)),
            logger=quiet_logger("slack"),
            retry_handlers=[],
        )
        self.budget = timeout
        self.ctx = ctx

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        answer = send(req, timeout=self.budget, ctx=self.ctx)
        return WebhookResponse(
            url=url,
            status_code=answer.status,
            body=answer.body.decode("utf-8", "replace"),
            headers=dict(answer.headers),
        )


class Web(WebClient):
    """The Web API; all calls of one operation share one deadline (`time.monotonic()`)."""

    def __init__(self, token: str, base_url: str, *, ctx: ssl.SSLContext) -> None:
        super().__init__(
            token=token, base_url=base_url, logger=quiet_logger("slack-api"), retry_handlers=[]
        )
        self.ctx = ctx
        self.deadline = time.monotonic() + 10.0

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        answer = send(req, timeout=self.deadline - time.monotonic(), ctx=self.ctx)
        return {
            "status": answer.status,
            "headers": dict(answer.headers),
            "body": answer.body.decode("utf-8", "replace"),
        }
