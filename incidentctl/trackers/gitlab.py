"""GitLab issues: the REST API v4 of one project (gitlab.com or self-managed).

Plain HTTP through the shared transport (http.Client) rather than python-gitlab: the
retries, rate limits, caps, same-origin rule and hidden token are then the same as
for every other tracker, and nothing more is installed.

The token goes in the `PRIVATE-TOKEN` header (personal, project or group access
token with the `api` scope). Issues are listed with keyset pagination, which GitLab
offers for project issues since 18.3 (`pagination=keyset`, `order_by=created_at`):
deep pages cost nothing and no offset limit applies. An older GitLab ignores the
parameter and pages by offset; either way the `Link` header's rel="next" is
followed (else `x-next-page`), and a GitLab refusing keyset (405) is asked again
page by page.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from ..errors import IncidentctlError
from .base import Draft, Ticket, body_key
from .http import Client, Policy, TrackerError, parse_links

DEFAULT_URL = "https://gitlab.com"
# GitLab's paths: letters, digits, `_`, `-` and `.`, not starting with `-` or `.`.
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
PROJECT_PATH = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})+")
PROJECT_ID = re.compile(r"[1-9][0-9]{0,18}")
_REF = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})+#[0-9]+")
_WEB = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
MAX_PAGES = 10_000  # 1,000,000 issues: a server that never ends its pages is stopped


def _flatten(value: Any, depth: int = 0) -> str:
    """GitLab's `message`/`error` (a string, a list, or a dict of lists) as one line."""
    if depth > 3 or value is None:
        return ""
    if isinstance(value, dict):
        parts = (f"{k} {_flatten(v, depth + 1)}".strip() for k, v in list(value.items())[:10])
        return "; ".join(p for p in parts if p)
    if isinstance(value, list):
        return "; ".join(p for p in (_flatten(v, depth + 1) for v in value[:10]) if p)
    return str(value)


class GitLab(Client):
    """Issues of one project through the REST API v4."""

    service = "GitLab"

    def __init__(
        self,
        url: str,
        project: str,
        token: str,
        policy: Policy | None = None,
        *,
        token_variable: str = "GITLAB_TOKEN",  # noqa: S107 (a variable's name)
        table: str = "[trackers.gitlab]",
    ):
        self.token_variable = token_variable
        self.table = table
        if not (PROJECT_ID.fullmatch(project) or PROJECT_PATH.fullmatch(project)):
            raise IncidentctlError(
                f"{table}: `project` {project!r} must be a path (group/project, "
                "group/subgroup/project) or a numeric project ID"
            )
        self.web_url = url.rstrip("/")
        super().__init__(f"{self.web_url}/api/v4", token, policy)
        self.project = project
        self.project_api = f"{self.api_url}/projects/{urllib.parse.quote(project, safe='')}"

    def headers(self) -> dict[str, str]:
        headers = {k: v for k, v in super().headers().items() if k != "Authorization"}
        headers["PRIVATE-TOKEN"] = self._token
        return headers

    def error_parts(self, data: dict[str, Any]) -> list[str]:
        """GitLab's `message`, `error`, `error_description` (strings, lists or objects)."""
        parts: list[str] = []
        for key in ("message", "error", "error_description"):
            text = _flatten(data.get(key))
            if text and text not in parts:
                parts.append(text)
        return parts

    def hint(self, status: int, message: str, headers: dict[str, str]) -> str:
        if status == 403 and "retry-after" not in headers:
            return (
                f" (the token, {self.token_variable}, needs the `api` scope and at least "
                "the Reporter role on the project)"
            )
        if status == 404:
            return (
                f" (check `url` and `project` in {self.table}, and that the token can see "
                f"project {self.project})"
            )
        return ""

    # -- issues --------------------------------------------------------------------------

    def list_issues(
        self, label: str, *, newest_first: bool = False, pages: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every issue with the label, opened or closed, all pages (oldest first)."""
        query = {
            "labels": label,
            "state": "all",
            "per_page": "100",
            "order_by": "created_at",
            "sort": "desc" if newest_first else "asc",
            "pagination": "keyset",
        }
        url: str | None = f"{self.project_api}/issues?{urllib.parse.urlencode(query)}"
        seen: set[str] = set()
        while url:
            try:
                items, headers = self.call("GET", url)
            except TrackerError as exc:
                if exc.status != 405 or seen or "pagination" not in query:
                    raise
                del query["pagination"]  # a GitLab that refuses keyset: pages by number
                url = f"{self.project_api}/issues?{urllib.parse.urlencode(query)}"
                continue
            if not isinstance(items, list):
                raise TrackerError("GitLab's issue list was not a JSON array")
            yield from (item for item in items if isinstance(item, dict))
            seen.add(url)
            if pages is not None and len(seen) >= pages:
                return
            url = self._next(url, headers)
            if url is not None and (url in seen or len(seen) >= MAX_PAGES):
                raise TrackerError("GitLab's pages of issues do not end (a page came again)")

    @staticmethod
    def _next(url: str, headers: dict[str, str]) -> str | None:
        link = parse_links(headers.get("link")).get("next")
        if link:
            return link
        page = (headers.get("x-next-page") or "").strip()
        if not page.isdigit():
            return None
        parts = urllib.parse.urlsplit(url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "page"]
        return urllib.parse.urlunsplit(
            parts._replace(query=urllib.parse.urlencode([*query, ("page", page)]))
        )

    def create_issue(self, title: str, description: str, labels: list[str]) -> dict[str, Any]:
        """POST one issue; never retried blindly (a 502 may hide a created issue)."""
        item, _ = self.call(
            "POST",
            f"{self.project_api}/issues",
            {"title": title, "description": description, "labels": ",".join(labels)},
            retry=False,
        )
        if not isinstance(item, dict):
            raise TrackerError("GitLab's answer to creating an issue was not an object")
        return item

    def get_issue(self, iid: int) -> dict[str, Any] | None:
        """One issue by iid; None if the project has none (404)."""
        try:
            item, _ = self.call("GET", f"{self.project_api}/issues/{iid}")
        except TrackerError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return item if isinstance(item, dict) else None

    def close_issue(self, iid: int) -> dict[str, Any]:
        item, _ = self.call("PUT", f"{self.project_api}/issues/{iid}", {"state_event": "close"})
        if not isinstance(item, dict):
            raise TrackerError("GitLab's answer to closing an issue was not an object")
        return item


class GitLabTracker:
    """GitLab issues as a tracker for the sync (base.Tracker)."""

    kind = "gitlab"

    def __init__(
        self,
        client: GitLab,
        label: str,
        name: str = "gitlab",
        *,
        extra_labels: tuple[str, ...] = (),
        incidents_url: str | None = None,
    ):
        self.client = client
        self.label = label
        self.name = name
        self.policy = client.policy
        self.extra_labels = extra_labels
        self.incidents_url = incidents_url.rstrip("/") if incidents_url else None

    def where(self) -> str:
        host = urllib.parse.urlsplit(self.client.web_url).netloc
        return f"GitLab {self.client.project}" + ("" if host == "gitlab.com" else f" on {host}")

    def incident_url(self, rel: str) -> str | None:
        if not self.incidents_url:
            return None
        return f"{self.incidents_url}/{urllib.parse.quote(rel)}"

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        iid = issue.get("iid")
        number = iid if isinstance(iid, int) and not isinstance(iid, bool) else None
        references = issue.get("references")
        full = references.get("full") if isinstance(references, dict) else None
        if PROJECT_PATH.fullmatch(self.client.project):
            ref = f"{self.client.project}#{number}"
        elif isinstance(full, str) and _REF.fullmatch(full):
            ref = full
        else:
            ref = f"#{number}"
        return Ticket(
            ref=ref,
            url=str(issue.get("web_url") or ""),
            open=issue.get("state") == "opened",
            key=body_key(issue.get("description")),
            number=number,
            raw=issue,
        )

    def list_ours(self) -> Iterator[Ticket]:
        return (self._ticket(i) for i in self.client.list_issues(self.label))

    def recent(self) -> Iterator[Ticket]:
        issues = self.client.list_issues(self.label, newest_first=True, pages=1)
        return (self._ticket(i) for i in issues)

    def recorded(self, url: str) -> Ticket | None:
        """`<url>/<project path>/-/issues/<iid>` (or `/-/work_items/<iid>`) of this project."""
        pattern = rf"{re.escape(self.client.web_url)}/(.+)/-/(?:issues|work_items)/([0-9]+)"
        match = re.fullmatch(pattern, url)
        if match is None:
            return None
        by_path = PROJECT_PATH.fullmatch(self.client.project) is not None
        if by_path and match.group(1).lower() != self.client.project.lower():
            return None
        issue = self.client.get_issue(int(match.group(2)))
        if issue is None or (not by_path and issue.get("web_url") != url):
            return None
        return self._ticket(issue)

    def create(self, draft: Draft) -> Ticket:
        labels: list[str] = []
        for name in (*draft.labels, self.label, draft.severity.lower(), *self.extra_labels):
            if name.lower() not in {known.lower() for known in labels}:
                labels.append(name)
        issue = self.client.create_issue(draft.title, draft.body, labels)
        ticket = self._ticket(issue)
        names = {
            str(lbl.get("name") if isinstance(lbl, dict) else lbl).lower()
            for lbl in issue.get("labels") or []
        }
        if self.label.lower() not in names:
            raise TrackerError(
                f"GitLab dropped the label {self.label!r} from {ticket.ref} (a token with "
                "the Guest role cannot set labels; it needs Reporter or more); without it "
                "the next run cannot find the issue, so the sync stopped",
                stop=True,
                created=ticket,
            )
        return ticket

    def close(self, ticket: Ticket) -> None:
        if ticket.number is None:
            raise TrackerError(f"GitLab issue {ticket.ref} has no iid")
        self.client.close_issue(ticket.number)


def _incidents_default() -> str | None:
    """Where the incident files are on the web: this GitLab CI project, or GitHub's."""
    env = os.environ
    project_url = (env.get("CI_PROJECT_URL") or "").rstrip("/")
    if _WEB.fullmatch(project_url):
        return f"{project_url}/-/blob/HEAD"
    server = (env.get("GITHUB_SERVER_URL") or "").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY") or ""
    if _WEB.fullmatch(server) and re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        return f"{server}/{repository}/blob/HEAD"
    return None


def from_table(name: str, table: Any, policy: Policy, label: str) -> GitLabTracker:
    """A `[trackers.NAME] type = "gitlab"` table: url (else $CI_SERVER_URL, else
    gitlab.com), project (a path or a numeric ID; else $CI_PROJECT_PATH), token_env or
    token_file (else GITLAB_TOKEN), labels (extra), incidents_url (web links to the
    incident files; else from $CI_PROJECT_URL or GitHub's variables)."""
    url = table.url("url", os.environ.get("CI_SERVER_URL") or DEFAULT_URL)
    url = url.removesuffix("/api/v4")
    project = table.text("project", os.environ.get("CI_PROJECT_PATH"), required=True)
    project = project.strip("/")
    if not (PROJECT_ID.fullmatch(project) or PROJECT_PATH.fullmatch(project)):
        raise table.error(
            f"`project` must be a path (group/project, group/subgroup/project) or a "
            f"numeric ID, got {project!r}"
        )
    extra = table.words("labels")
    for one in (label, *extra):
        if "," in one or not one.strip():
            raise table.error(f"label {one!r}: a GitLab label name cannot be empty or hold a comma")
    incidents = table.url("incidents_url") if table.text("incidents_url") else None
    token = table.secret("token", default_env="GITLAB_TOKEN", what="GitLab token")
    if table.text("token_file"):
        variable = "token_file"
    else:
        variable = table.text("token_env") or "GITLAB_TOKEN"
    client = GitLab(
        url, project, token, policy, token_variable=variable, table=f"[trackers.{name}]"
    )
    return GitLabTracker(
        client,
        label,
        name,
        extra_labels=tuple(e.strip() for e in extra),
        incidents_url=incidents or _incidents_default(),
    )
