"""The HTTP side of every tracker (GitHub, Jira, GitLab): retries, rate limits, caps.

The token goes only into the authorization header of requests to the configured
API host (never through a redirect or a link to another host); it never appears in
a message, a log line or an exception.

Whatever the server says, a run ends: each request is retried at most
`Policy.retries` times, every retry waits at least `Policy.backoff` (also after
`Retry-After: 0`), no single wait is longer than `Policy.max_wait` (a longer rate
limit is an error saying so), all waits of a run add up to at most
`Policy.total_wait`, and each request has `Policy.timeout` seconds from connecting
to its last byte (a server that drips its answer is cut off).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..deadline import HTTPHandler, HTTPSHandler, Watch
from ..errors import IncidentctlError

_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')
# Printable ASCII without spaces: anything else would break (and echo) the header.
_TOKEN = re.compile(r"[\x21-\x7e]+")


class TrackerError(IncidentctlError):
    """A tracker refused a request, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        headers: dict[str, str] | None = None,
        stop: bool = False,
        created: Any = None,
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.headers = headers or {}
        self.stop = stop  # rate limited, or out of retries or waiting time: the run stops
        self.created = created  # a ticket made before the error (base.Ticket), if any


MAX_BODY = 32 * 1024 * 1024  # bytes of one answer (a page of 100 issues is well under 1 MiB)


@dataclass
class Policy:
    """How hard to try: every count and wait is capped (see the module docstring)."""

    retries: int = 3  # retries of one request: 5xx, network error, timeout, rate limit
    backoff: float = 1.0  # the least wait before a retry; doubles with each retry of a request
    max_wait: float = 300.0  # longest single wait; a longer Retry-After or reset is an error
    total_wait: float = 600.0  # all retry waits of one run together
    pace: float = 1.0  # seconds between ticket creations (rate limits; not a retry)
    timeout: float = 30.0  # one request, from connecting to its last byte
    sleep: Callable[[float], None] = field(default=time.sleep)
    waited: float = 0.0  # retry waits so far in this run

    def wait(self, seconds: float, reason: str) -> None:
        """Wait before a retry, or raise a stopping TrackerError if a cap forbids it."""
        if seconds > self.max_wait:
            raise TrackerError(
                f"{reason}; the server asks to wait {_secs(seconds)}, more than the longest wait "
                f"allowed ({_secs(self.max_wait)}, --max-wait); re-run later",
                stop=True,
            )
        if self.waited + seconds > self.total_wait:
            raise TrackerError(
                f"{reason}; gave up: this run already waited {_secs(self.waited)} for retries "
                f"and may wait {_secs(self.total_wait)} in all (--max-total-wait); re-run later",
                stop=True,
            )
        self.waited += seconds
        self.sleep(seconds)


def _secs(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.2g} s"


def _read(response: Any) -> bytes:
    """The whole answer, refusing one larger than MAX_BODY."""
    body: bytes = response.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise ValueError(f"an answer larger than {MAX_BODY // (1024 * 1024)} MiB")
    return body


def parse_links(header: str | None) -> dict[str, str]:
    return {rel: url for url, rel in _LINK.findall(header or "")}


def _origin(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.scheme, parsed.netloc


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """urllib copies every header, Authorization included, into a redirect: refuse a
    redirect to another host rather than hand it the token."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        if _origin(newurl) != _origin(req.full_url):
            raise TrackerError(
                f"refusing to follow a redirect to another host ({_origin(newurl)[1]})"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Client:
    """Requests to one tracker's API: JSON in and out, the token in one header, every
    retry and wait within the Policy. Subclasses name the service, set the headers
    and say what an error status means (`_http_error`)."""

    service = "the tracker"
    token_variable = "the token"  # noqa: S105 (the name of a variable, not a secret)

    def __init__(self, api_url: str, token: str, policy: Policy | None = None):
        parsed = urllib.parse.urlsplit(api_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise IncidentctlError(f"API URL {api_url!r} is not an http(s) URL; check the URL")
        self.api_url = api_url.rstrip("/")
        self._origin = (parsed.scheme, parsed.netloc)
        token = token.strip()
        if not _TOKEN.fullmatch(token):
            raise IncidentctlError(
                f"{self.token_variable} is not a token: it is empty or has spaces or "
                "control characters inside"
            )
        self._token = token
        self._handlers = (HTTPHandler(), HTTPSHandler())
        self._opener = urllib.request.build_opener(_SameOriginRedirects, *self._handlers)
        self.policy = policy or Policy()

    def headers(self) -> dict[str, str]:
        """The headers of every request, the credential included."""
        return {
            "Accept": "application/json",
            "User-Agent": f"incidentctl/{__version__}",
            "Authorization": f"Bearer {self._token}",
        }

    # -- transport -------------------------------------------------------------------

    def _request(
        self, method: str, url: str, payload: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, str]]:
        parsed = urllib.parse.urlsplit(url)
        if (parsed.scheme, parsed.netloc) != self._origin:
            # A link pointing elsewhere must not receive the token.
            raise TrackerError(f"refusing to follow a link to another host ({parsed.netloc})")
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        for name, value in self.headers().items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        timeout = self.policy.timeout
        watch = Watch()
        for handler in self._handlers:
            handler.watch = watch
        timer = threading.Timer(timeout, watch.expire)
        timer.daemon = True
        timer.start()
        try:
            with self._opener.open(request, timeout=timeout) as response:
                body = _read(response)
                headers = {k.lower(): v for k, v in response.headers.items()}
            if watch.expired or len(body) < int(headers.get("content-length") or 0):
                raise self._unreachable(method, url, watch, "the answer broke off")
        except urllib.error.HTTPError as exc:
            try:
                headers = {k.lower(): v for k, v in exc.headers.items()}
                error = self._http_error(method, exc.code, _read(exc), headers)
            except (OSError, http.client.HTTPException, ValueError):
                error = self._unreachable(method, url, watch, "the answer broke off")
            raise error from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise self._unreachable(method, url, watch, str(reason) or type(exc).__name__) from None
        finally:
            timer.cancel()
        if not body:
            return None, headers
        try:
            return json.loads(body), headers
        except ValueError:
            raise TrackerError(
                f"{method} {self._path(url)}: the answer from {parsed.netloc} is not JSON"
            ) from None

    def _unreachable(self, method: str, url: str, watch: Watch, reason: str) -> TrackerError:
        host = urllib.parse.urlsplit(url).netloc
        if watch.expired or "timed out" in reason:
            reason = f"no complete answer within {_secs(self.policy.timeout)}, --timeout"
        return TrackerError(
            f"{method} {self._path(url)}: cannot reach {host} ({reason})", retryable=True
        )

    def _path(self, url: str) -> str:
        return urllib.parse.urlsplit(url).path

    error_limit = 200  # characters of the server's words in an error

    def error_message(self, body: bytes) -> str:
        """The server's own words in an error answer (one line, bounded)."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        parts = self.error_parts(data) if isinstance(data, dict) else []
        return " ".join("; ".join(parts).split())[: self.error_limit] or "no message"

    def error_parts(self, data: dict[str, Any]) -> list[str]:
        """The messages of an error answer's JSON object (a subclass knows its shape)."""
        message = str(data.get("message", ""))
        return [message] if message else []

    def _http_error(
        self, method: str, status: int, body: bytes, headers: dict[str, str]
    ) -> TrackerError:
        message = self.error_message(body)
        if status == 401:
            return TrackerError(
                f"{self.service} rejected the token (401); check {self.token_variable}",
                status=status,
            )
        hint = self.hint(status, message, headers)
        return TrackerError(
            f"{self.service} answered {status} to {method}: {message}{hint}",
            status=status,
            retryable=status >= 500,
            headers=headers,
        )

    def hint(self, status: int, message: str, headers: dict[str, str]) -> str:
        """What to check after an error status (a subclass knows its service)."""
        return ""

    def _rate_limit_wait(self, error: TrackerError) -> float | None:
        """Seconds to wait for a rate limit, or None if the error is not one."""
        headers = error.headers
        if error.status not in (403, 429):
            return None
        if "retry-after" in headers:
            try:
                return max(0.0, float(headers["retry-after"]))
            except ValueError:
                return 60.0
        remaining = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining"))
        reset = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset"))
        if remaining == "0" and reset is not None:
            try:
                return max(0.0, float(reset) - time.time()) + 1.0
            except ValueError:
                return 60.0
        if error.status == 429 or "secondary rate limit" in str(error).lower():
            return 60.0  # the advice of GitHub (and Atlassian) when no header says
        return None

    def call(
        self, method: str, url: str, payload: dict[str, Any] | None = None, *, retry: bool = True
    ) -> tuple[Any, dict[str, str]]:
        """One request, at most `retries` more times: after a rate limit (it was not
        carried out), and after a 5xx, network error or timeout when `retry`."""
        policy = self.policy
        attempt = 0
        while True:
            try:
                return self._request(method, url, payload)
            except TrackerError as error:
                limited = self._rate_limit_wait(error)
                if limited is None and not (retry and error.retryable):
                    raise
                reason = str(error)
                if attempt >= policy.retries:
                    raise TrackerError(
                        f"{reason} (gave up after {attempt + 1} attempt"
                        f"{'s' if attempt else ''}, --retries {policy.retries})",
                        status=error.status,
                        retryable=error.retryable,
                        stop=limited is not None,
                    ) from None
                attempt += 1
                backoff = policy.backoff * 2 ** (attempt - 1)
                try:
                    policy.wait(max(limited or 0.0, backoff), reason)
                except TrackerError as stop:
                    stop.status = error.status
                    raise
