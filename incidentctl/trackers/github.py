"""GitHub issues: the REST API of one repository (github.com or GitHub Enterprise)."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from ..errors import IncidentctlError
from .base import Draft, Ticket, body_key
from .http import Client, Policy, TrackerError, parse_links

API_VERSION = "2022-11-28"
SLUG = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
GitHubError = TrackerError  # the name callers knew


def server_url(api_url: str) -> str:
    """The web address matching an API address (github.com or GitHub Enterprise)."""
    if os.environ.get("GITHUB_SERVER_URL"):
        return os.environ["GITHUB_SERVER_URL"].rstrip("/")
    parts = urllib.parse.urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"


class GitHub(Client):
    """Issues of one repository through the REST API."""

    service = "GitHub"
    token_variable = "GITHUB_TOKEN (or GH_TOKEN)"  # noqa: S105 (a variable's name)

    def __init__(self, api_url: str, slug: str, token: str, policy: Policy | None = None):
        if not SLUG.fullmatch(slug) or any(part in (".", "..") for part in slug.split("/")):
            raise IncidentctlError(
                f"repository {slug!r} is not OWNER/NAME; set --repo-slug or GITHUB_REPOSITORY"
            )
        if urllib.parse.urlsplit(api_url).scheme not in ("https", "http"):
            raise IncidentctlError(f"API URL {api_url!r} is not an http(s) URL; check --api-url")
        super().__init__(api_url, token, policy)
        self.slug = slug

    def headers(self) -> dict[str, str]:
        return {
            **super().headers(),
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }

    def _http_error(
        self, method: str, status: int, body: bytes, headers: dict[str, str]
    ) -> TrackerError:
        if status == 401:
            return TrackerError(
                "GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN",
                status=status,
            )
        return super()._http_error(method, status, body, headers)

    def hint(self, status: int, message: str, headers: dict[str, str]) -> str:
        if (
            status == 403
            and headers.get("x-ratelimit-remaining") != "0"
            and ("retry-after" not in headers and "rate limit" not in message.lower())
        ):
            return " (the token may lack `issues: write` on this repository)"
        if status == 404:
            return " (check --repo-slug, and that the token can see the repository)"
        return ""

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
                raise TrackerError("GitHub's issue list was not a JSON array")
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
            raise TrackerError("GitHub's answer to creating an issue was not an object")
        return item

    def get_issue(self, number: int) -> dict[str, Any] | None:
        """One issue by number; None if GitHub has none (404)."""
        try:
            item, _ = self.call("GET", self.repo_url(f"/issues/{number}"))
        except TrackerError as exc:
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
            raise TrackerError("GitHub's answer to closing an issue was not an object")
        return item


class GitHubTracker:
    """GitHub issues as a tracker for the sync (base.Tracker)."""

    kind = "github"

    def __init__(self, client: GitHub, label: str, name: str = "github"):
        self.client = client
        self.label = label
        self.name = name
        self.policy = client.policy
        self.web = server_url(client.api_url)

    def where(self) -> str:
        return f"GitHub {self.client.slug}"

    def incident_url(self, rel: str) -> str | None:
        return f"{self.web}/{self.client.slug}/blob/HEAD/{urllib.parse.quote(rel)}"

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        number = issue.get("number")
        return Ticket(
            ref=f"#{number}",
            url=str(issue.get("html_url") or ""),
            open=issue.get("state") == "open",
            key=body_key(issue.get("body")),
            number=number if isinstance(number, int) else None,
            raw=issue,
        )

    def list_ours(self) -> Iterator[Ticket]:
        return (self._ticket(i) for i in self.client.list_issues(self.label))

    def recent(self) -> Iterator[Ticket]:
        issues = self.client.list_issues(self.label, newest_first=True, pages=1)
        return (self._ticket(i) for i in issues)

    def recorded(self, url: str) -> Ticket | None:
        pattern = re.compile(
            rf"^{re.escape(self.web)}/{re.escape(self.client.slug)}/issues/([0-9]+)$"
        )
        match = pattern.match(url)
        if match is None:
            return None
        issue = self.client.get_issue(int(match.group(1)))
        if issue is None or "pull_request" in issue:
            return None
        return self._ticket(issue)

    def create(self, draft: Draft) -> Ticket:
        labels = [self.label, draft.severity.lower()]
        issue = self.client.create_issue(draft.title, draft.body, labels)
        ticket = self._ticket(issue)
        names = {
            lbl.get("name") if isinstance(lbl, dict) else lbl for lbl in issue.get("labels", [])
        }
        if self.label not in names:
            raise TrackerError(
                f"GitHub dropped the label {self.label!r} from #{issue.get('number')} (the "
                "token may lack permission to label issues); without it the next run cannot "
                "find the issue, so the sync stopped",
                stop=True,
                created=ticket,
            )
        return ticket

    def close(self, ticket: Ticket) -> None:
        if ticket.number is None:
            raise TrackerError(f"GitHub issue {ticket.ref} has no number")
        self.client.close_issue(ticket.number)


def from_table(name: str, table: Any, policy: Policy, label: str) -> GitHubTracker:
    """A `[trackers.NAME] type = "github"` table: repo (OWNER/NAME, else
    $GITHUB_REPOSITORY), api_url (else $GITHUB_API_URL or api.github.com), token_env or
    token_file (else GITHUB_TOKEN, then GH_TOKEN)."""
    slug = table.text("repo", os.environ.get("GITHUB_REPOSITORY"), required=True)
    api = table.url("api_url", os.environ.get("GITHUB_API_URL") or "https://api.github.com")
    default_env = "GITHUB_TOKEN" if os.environ.get("GITHUB_TOKEN") else "GH_TOKEN"
    token = table.secret("token", default_env=default_env, what="GitHub token")
    return GitHubTracker(GitHub(api, slug, token, policy), label, name)
