"""A small GitHub REST client for issues: pagination, rate limits, retries.

The token goes only into the Authorization header of requests to the configured
API host; it never appears in a message, a log line or an exception.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .errors import IncidentctlError

API_VERSION = "2022-11-28"
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')
SLUG = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# Printable ASCII without spaces: anything else would break (and echo) the header.
_TOKEN = re.compile(r"[\x21-\x7e]+")


class GitHubError(IncidentctlError):
    """GitHub refused a request, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        headers: dict[str, str] | None = None,
        rate_limited: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.headers = headers or {}
        self.rate_limited = rate_limited  # limited for longer than we wait: stop, re-run later


@dataclass
class Policy:
    """How hard to try: retries for 5xx, how long to wait on rate limits, pacing."""

    retries: int = 3
    backoff: float = 1.0  # first 5xx retry waits this long, then doubles
    max_wait: float = 300.0  # longest rate-limit wait before giving up
    pace: float = 1.0  # seconds between issue creations (secondary rate limits)
    timeout: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep)


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
            raise GitHubError(
                f"refusing to follow a redirect to another host ({_origin(newurl)[1]})"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class GitHub:
    """Issues of one repository through the REST API."""

    def __init__(self, api_url: str, slug: str, token: str, policy: Policy | None = None):
        if not SLUG.fullmatch(slug) or any(part in (".", "..") for part in slug.split("/")):
            raise IncidentctlError(
                f"repository {slug!r} is not OWNER/NAME; set --repo-slug or GITHUB_REPOSITORY"
            )
        parsed = urllib.parse.urlsplit(api_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise IncidentctlError(f"API URL {api_url!r} is not an http(s) URL; check --api-url")
        self.api_url = api_url.rstrip("/")
        self._origin = (parsed.scheme, parsed.netloc)
        self.slug = slug
        token = token.strip()
        if not _TOKEN.fullmatch(token):
            raise IncidentctlError(
                "GITHUB_TOKEN (or GH_TOKEN) is not a token: it is empty or has spaces or "
                "control characters inside"
            )
        self._token = token
        self._opener = urllib.request.build_opener(_SameOriginRedirects)
        self.policy = policy or Policy()

    # -- transport -------------------------------------------------------------------

    def _request(
        self, method: str, url: str, payload: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, str]]:
        parsed = urllib.parse.urlsplit(url)
        if (parsed.scheme, parsed.netloc) != self._origin:
            # A Link header pointing elsewhere must not receive the token.
            raise GitHubError(f"refusing to follow a link to another host ({parsed.netloc})")
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", f"incidentctl/{__version__}")
        request.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self.policy.timeout) as response:
                body = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            headers = {k.lower(): v for k, v in exc.headers.items()}
            raise self._http_error(method, exc.code, exc.read(), headers) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(
                f"{method} {self._path(url)}: cannot reach {parsed.netloc} ({reason})",
                retryable=True,
            ) from None
        return (json.loads(body) if body else None), headers

    def _path(self, url: str) -> str:
        return urllib.parse.urlsplit(url).path

    def _http_error(
        self, method: str, status: int, body: bytes, headers: dict[str, str]
    ) -> GitHubError:
        try:
            message = str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            message = ""
        message = " ".join(message.split())[:200] or "no message"
        if status == 401:
            return GitHubError(
                "GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN",
                status=status,
            )
        hint = ""
        if (
            status == 403
            and headers.get("x-ratelimit-remaining") != "0"
            and ("retry-after" not in headers and "rate limit" not in message.lower())
        ):
            hint = " (the token may lack `issues: write` on this repository)"
        elif status == 404:
            hint = " (check --repo-slug, and that the token can see the repository)"
        return GitHubError(
            f"GitHub answered {status} to {method}: {message}{hint}",
            status=status,
            retryable=status >= 500,
            headers=headers,
        )

    def _rate_limit_wait(self, error: GitHubError) -> float | None:
        """Seconds to wait for a primary or secondary rate limit, or None if not one."""
        headers = error.headers
        if error.status not in (403, 429):
            return None
        if "retry-after" in headers:
            try:
                return max(0.0, float(headers["retry-after"]))
            except ValueError:
                return 60.0
        if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            try:
                return max(0.0, float(headers["x-ratelimit-reset"]) - time.time()) + 1.0
            except ValueError:
                return 60.0
        if error.status == 429 or "secondary rate limit" in str(error).lower():
            return 60.0  # GitHub's advice when it gives no header
        return None

    def call(
        self, method: str, url: str, payload: dict[str, Any] | None = None, *, retry: bool = True
    ) -> tuple[Any, dict[str, str]]:
        """One request, honouring rate limits; 5xx retried with backoff when `retry`."""
        delay = self.policy.backoff
        attempt = 0
        while True:
            try:
                return self._request(method, url, payload)
            except GitHubError as error:
                wait = self._rate_limit_wait(error)
                if wait is not None:
                    if wait > self.policy.max_wait:
                        raise GitHubError(
                            f"{error} (rate limited for {int(wait)} s; re-run later)",
                            status=error.status,
                            rate_limited=True,
                        ) from None
                    self.policy.sleep(wait)
                    continue
                attempt += 1
                if not (retry and error.retryable) or attempt > self.policy.retries:
                    raise
                self.policy.sleep(delay)
                delay *= 2

    # -- issues --------------------------------------------------------------------------

    def repo_url(self, path: str) -> str:
        return f"{self.api_url}/repos/{self.slug}{path}"

    def list_issues(
        self, label: str, *, newest_first: bool = False, pages: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every issue (not pull request) with the label, open or closed, all pages."""
        query = {"labels": label, "state": "all", "per_page": "100"}
        if newest_first:
            query.update(sort="created", direction="desc")
        url: str | None = self.repo_url("/issues?" + urllib.parse.urlencode(query))
        seen = 0
        while url:
            items, headers = self.call("GET", url)
            if not isinstance(items, list):
                raise GitHubError("GitHub's issue list was not a JSON array")
            for item in items:
                if "pull_request" not in item:
                    yield item
            seen += 1
            if pages is not None and seen >= pages:
                return
            url = parse_links(headers.get("link")).get("next")

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        """POST one issue; never retried blindly (a 502 may hide a created issue)."""
        item, _ = self.call(
            "POST",
            self.repo_url("/issues"),
            {"title": title, "body": body, "labels": labels},
            retry=False,
        )
        if not isinstance(item, dict):
            raise GitHubError("GitHub's answer to creating an issue was not an object")
        return item

    def get_issue(self, number: int) -> dict[str, Any] | None:
        """One issue by number; None if GitHub has none (404)."""
        try:
            item, _ = self.call("GET", self.repo_url(f"/issues/{number}"))
        except GitHubError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return item if isinstance(item, dict) else None

    def close_issue(self, number: int) -> dict[str, Any]:
        item, _ = self.call(
            "PATCH",
            self.repo_url(f"/issues/{number}"),
            {"state": "closed", "state_reason": "completed"},
        )
        if not isinstance(item, dict):
            raise GitHubError("GitHub's answer to closing an issue was not an object")
        return item
