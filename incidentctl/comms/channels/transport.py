"""One HTTP request for a channel: a time limit for the whole, TLS verified, no redirect.

- A socket timeout bounds each read, not the request: a server dripping one byte a
  second would hold a send for ever. A timer shuts the sockets down when the time given
  is up, so `timeout` bounds everything from connecting to the answer's last byte.
- No redirect is followed. urllib copies every header, `Authorization` included, into
  the redirected request, and a webhook that answers 3xx is misconfigured anyway: the
  send fails (not retried) and the message says to set the final URL.
- Answers are read up to 64 KiB; error messages name the host, never the path or query
  (where webhook URLs keep their token).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ... import __version__
from ...deadline import HTTPHandler, HTTPSHandler, Watch

MAX_ANSWER = 64 * 1024
USER_AGENT = f"incidentctl/{__version__}"


class Unreachable(Exception):
    """No HTTP answer: refused, timed out, cut off, TLS failure. One line, no secret."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


@dataclass(frozen=True)
class Answer:
    """An HTTP answer of any status."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def text(self, limit: int = 160) -> str:
        """The body as one short printable line (for a message; it may hold anything)."""
        words = " ".join(self.body[: limit * 4].decode("utf-8", "replace").split())
        printable = "".join(c for c in words if c.isprintable())
        return printable[:limit] + ("…" if len(printable) > limit else "")

    def retry_after(self) -> float | None:
        return seconds(self.headers.get("retry-after"))


def seconds(value: object) -> float | None:
    """A Retry-After (or `retry_after`) value in seconds, 0 to 3,600; None if not a number.

    HTTP dates are not used by the services here.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return min(max(number, 0.0), 3600.0) if number == number else None


def context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying TLS context; `ca_file` adds a private CA (a test's, a company's)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def send(request: urllib.request.Request, *, timeout: float, ctx: ssl.SSLContext) -> Answer:
    """Make `request`; any HTTP status is an Answer, no answer at all is Unreachable."""
    if request.type not in ("http", "https"):
        raise Unreachable(f"not an http(s) URL (scheme {request.type})", retry=False)
    if timeout <= 0:
        raise Unreachable("no time left to try", retry=True)
    where = _where(request.full_url)
    watch = Watch()
    handlers: list[Any] = [_NoRedirects, HTTPHandler(watch), HTTPSHandler(watch, ctx)]
    if urllib.parse.urlsplit(request.full_url).hostname in ("127.0.0.1", "::1", "localhost"):
        handlers.append(urllib.request.ProxyHandler({}))  # loopback never goes via a proxy
    opener = urllib.request.build_opener(*handlers)
    timer = threading.Timer(timeout, watch.expire)
    timer.daemon = True
    timer.start()
    try:
        try:
            with opener.open(request, timeout=timeout) as response:
                status, headers, body = response.status, response.headers, _read(response)
        except urllib.error.HTTPError as exc:
            status, headers = exc.code, exc.headers
            try:
                body = _read(exc)
            finally:
                exc.close()
        declared = headers.get("Content-Length") or ""
        short = declared.isdigit() and len(body) < min(int(declared), MAX_ANSWER)
        if watch.expired or short:
            raise Unreachable(_late(where, timeout))
        return Answer(status, {k.lower(): v for k, v in headers.items()}, body)
    except urllib.error.URLError as exc:
        raise _unreachable(exc.reason, where, timeout, watch) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _unreachable(exc, where, timeout, watch) from None
    finally:
        timer.cancel()


def post_json(
    url: str,
    body: bytes,
    *,
    timeout: float,
    ctx: ssl.SSLContext,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """POST a JSON body to `url`."""
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 -- checked
    request.add_header("Content-Type", "application/json; charset=utf-8")
    request.add_header("User-Agent", USER_AGENT)
    request.add_header("Connection", "close")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    return send(request, timeout=timeout, ctx=ctx)


def _read(response: Any) -> bytes:
    body: bytes = response.read(MAX_ANSWER)
    return body


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    return f"{host}:{port}" if port else host


def _late(where: str, timeout: float) -> str:
    return f"no complete answer from {where} within {timeout:g} s"


def _unreachable(reason: object, where: str, timeout: float, watch: Watch) -> Unreachable:
    if watch.expired or isinstance(reason, (TimeoutError, socket.timeout)):
        return Unreachable(_late(where, timeout))
    if isinstance(reason, ssl.SSLCertVerificationError):
        why = reason.verify_message or "not trusted"
        return Unreachable(
            f"the TLS certificate of {where} is not accepted ({why}); "
            "set ca_file if it uses a private CA",
            retry=False,
        )
    if isinstance(reason, ssl.SSLError):
        return Unreachable(f"TLS with {where} failed ({reason.reason or 'handshake'})")
    if isinstance(reason, ConnectionRefusedError):
        return Unreachable(f"{where} refused the connection")
    if isinstance(reason, socket.gaierror):
        return Unreachable(f"cannot resolve {where.rsplit(':', 1)[0]}")
    if isinstance(reason, (http.client.RemoteDisconnected, ConnectionResetError, EOFError)):
        return Unreachable(f"{where} closed the connection without an answer")
    if isinstance(reason, OSError) and reason.strerror:
        return Unreachable(f"cannot reach {where} ({reason.strerror})")
    return Unreachable(f"cannot reach {where} ({type(reason).__name__})")
