"""Jira tickets: one project of Jira Cloud (REST v3) or Jira Data Center (REST v2).

Jira has no hidden comment, so the marker is an issue property: `incidentctl` =
`{"key": "INCIDENT/AI-N"}`, set when the ticket is created. Nobody sees it in the
web UI, and no summary, description or comment can forge it. Tickets are listed by
JQL (`project = … AND labels = …`, every page, open and closed) with that property,
and a ticket is ours only if the property holds a key exactly. Done items are closed
by the workflow transition named `done_transition`.

Plain HTTP through the shared transport (http.Client: retries, Retry-After, caps,
same-origin redirects, the token only in its header) rather than the `jira`
library: four endpoints do not justify a dependency that brings its own retries,
session and auth handling, which would each have to be made to keep these promises.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from .base import KEY, PRIORITIES, Draft, Ticket
from .http import Client, Policy, TrackerError

PROPERTY = "incidentctl"
FIELDS = "summary,status,labels"
PAGE = 100
MAX_PAGES = 10_000  # a million tickets: a server paging for ever still ends the run
PROJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,254}")
ISSUE_KEY = r"[A-Za-z][A-Za-z0-9_]*-[0-9]+"
EMAIL = re.compile(r"[^\s:@]+@[^\s:@]+")
DEPLOYMENTS = ("cloud", "datacenter")
MAX_SUMMARY = 255


def jql_string(value: str) -> str:
    """A JQL string literal: double quotes, with `\\` and `"` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Jira(Client):
    """The REST API of one Jira site: Cloud (v3, Basic e-mail:API token) or Data
    Center (v2, a personal access token as Bearer)."""

    service = "Jira"

    def __init__(
        self,
        site: str,
        token: str,
        *,
        cloud: bool,
        email: str | None = None,
        credentials: str = "JIRA_API_TOKEN",
        project: str = "",
        policy: Policy | None = None,
    ):
        self.token_variable = credentials  # named in messages, never the value
        super().__init__(site, token, policy)
        self.site = self.api_url
        self.cloud = cloud
        self.version = "3" if cloud else "2"
        self.project = project
        self._basic: str | None = None
        if cloud:
            if email is None or not EMAIL.fullmatch(email):
                raise TrackerError("Jira Cloud needs the account's e-mail address with its token")
            pair = f"{email}:{self._token}".encode()
            self._basic = base64.b64encode(pair).decode("ascii")

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self._basic is not None:
            headers["Authorization"] = f"Basic {self._basic}"
        return headers

    def api(self, path: str, **query: str) -> str:
        url = f"{self.site}/rest/api/{self.version}{path}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    # -- errors --------------------------------------------------------------------------

    error_limit = 300

    def error_parts(self, data: dict[str, Any]) -> list[str]:
        """Jira's `errorMessages` and field `errors`."""
        parts: list[str] = []
        messages = data.get("errorMessages")
        if isinstance(messages, list):
            parts += [str(m) for m in messages]
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts += [f"{field}: {text}" for field, text in errors.items()]
        if not parts and data.get("message"):
            parts.append(str(data["message"]))
        return parts

    def _http_error(
        self, method: str, status: int, body: bytes, headers: dict[str, str]
    ) -> TrackerError:
        if status == 401:
            return TrackerError(
                f"Jira rejected the credentials (401); check {self.token_variable}",
                status=status,
            )
        return super()._http_error(method, status, body, headers)

    def hint(self, status: int, message: str, headers: dict[str, str]) -> str:
        if status == 403 and "captcha" in headers.get("x-authentication-denied-reason", "").lower():
            return " (Jira wants a CAPTCHA for this account: log in once in a browser)"
        if status == 403:
            return (
                " (the account needs the project permissions Browse projects, Create "
                f"issues and Transition issues in {self.project})"
            )
        if status == 404:
            return f" (check `url` and `project` ({self.project}), and that the account can see it)"
        return ""

    # -- issues --------------------------------------------------------------------------

    def search(self, jql: str, *, pages: int | None = None) -> Iterator[dict[str, Any]]:
        """Every issue the JQL finds, with FIELDS and our property, page by page:
        Cloud by `nextPageToken` (v3 search/jql), Data Center by `startAt` (v2)."""
        query = {"jql": jql, "fields": FIELDS, "properties": PROPERTY, "maxResults": str(PAGE)}
        tokens: set[str] = set()
        start = 0
        for page in range(MAX_PAGES):
            if pages is not None and page >= pages:
                return
            if self.cloud:
                url = self.api("/search/jql", **query)
            else:
                url = self.api("/search", **query, startAt=str(start))
            data, _ = self.call("GET", url)
            issues = data.get("issues") if isinstance(data, dict) else None
            if not isinstance(issues, list):
                raise TrackerError("Jira's search answer holds no list of issues")
            yield from (i for i in issues if isinstance(i, dict))
            if self.cloud:
                token = data.get("nextPageToken")
                if data.get("isLast") is True or not isinstance(token, str) or not token:
                    return
                if token in tokens:
                    raise TrackerError("Jira's search gave the same nextPageToken twice")
                tokens.add(token)
                query["nextPageToken"] = token
            else:
                start += len(issues)
                total = data.get("total")
                if not issues or not isinstance(total, int) or start >= total:
                    return
        raise TrackerError(f"Jira's search went on for more than {MAX_PAGES} pages")

    def create_issue(self, fields: dict[str, Any], key: str) -> dict[str, Any]:
        """POST one issue with our property; never retried blindly (a 502 may hide it)."""
        payload = {"fields": fields, "properties": [{"key": PROPERTY, "value": {"key": key}}]}
        data, _ = self.call("POST", self.api("/issue"), payload, retry=False)
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise TrackerError("Jira's answer to creating an issue holds no key")
        return data

    def get_issue(self, key: str) -> dict[str, Any] | None:
        """One issue with FIELDS and our property; None if Jira has none (404)."""
        try:
            data, _ = self.call(
                "GET",
                self.api(f"/issue/{urllib.parse.quote(key)}", fields=FIELDS, properties=PROPERTY),
            )
        except TrackerError as exc:
            if exc.status == 404:
                return None
            raise
        return data if isinstance(data, dict) else None

    def transitions(self, key: str) -> list[dict[str, Any]]:
        data, _ = self.call("GET", self.api(f"/issue/{urllib.parse.quote(key)}/transitions"))
        found = data.get("transitions") if isinstance(data, dict) else None
        return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []

    def transition(self, key: str, transition_id: str) -> None:
        url = self.api(f"/issue/{urllib.parse.quote(key)}/transitions")
        self.call("POST", url, {"transition": {"id": transition_id}})


def property_key(issue: dict[str, Any]) -> str | None:
    """The action item an issue is for: its `incidentctl` property's key, exactly."""
    properties = issue.get("properties")
    value = properties.get(PROPERTY) if isinstance(properties, dict) else None
    key = value.get("key") if isinstance(value, dict) else None
    return key if isinstance(key, str) and KEY.fullmatch(key) else None


class JiraTracker:
    """One Jira project as a tracker for the sync (base.Tracker)."""

    kind = "jira"

    def __init__(
        self,
        client: Jira,
        label: str,
        name: str = "jira",
        *,
        issue_type: str = "Task",
        labels: tuple[str, ...] = (),
        priorities: dict[str, str] | None = None,
        done_transition: str = "Done",
        incidents_url: str | None = None,
    ):
        self.client = client
        self.project = client.project
        self.label = label
        self.name = name
        self.policy = client.policy
        self.issue_type = issue_type
        self.labels = labels
        self.priorities = PRIORITIES if priorities is None else priorities
        self.done_transition = done_transition
        self.incidents_url = incidents_url
        self._checked = False  # the first creation's property and label were read back

    def where(self) -> str:
        return f"Jira {self.project}"

    def incident_url(self, rel: str) -> str | None:
        if self.incidents_url is None:
            return None
        return f"{self.incidents_url}/{urllib.parse.quote(rel)}"

    def browse(self, key: str) -> str:
        return f"{self.client.site}/browse/{key}"

    def _jql(self, order: str) -> str:
        return (
            f"project = {jql_string(self.project)} AND labels = {jql_string(self.label)} "
            f"ORDER BY created {order}"
        )

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        ref = str(issue.get("key") or "")
        fields = issue.get("fields")
        status = fields.get("status") if isinstance(fields, dict) else None
        category = status.get("statusCategory") if isinstance(status, dict) else None
        done = isinstance(category, dict) and category.get("key") == "done"
        return Ticket(
            ref=ref, url=self.browse(ref), open=not done, key=property_key(issue), raw=issue
        )

    def list_ours(self) -> Iterator[Ticket]:
        return (self._ticket(i) for i in self.client.search(self._jql("ASC")))

    def recent(self) -> Iterator[Ticket]:
        return (self._ticket(i) for i in self.client.search(self._jql("DESC"), pages=1))

    def recorded(self, url: str) -> Ticket | None:
        match = re.fullmatch(rf"{re.escape(self.client.site)}/browse/({ISSUE_KEY})", url)
        if match is None:
            return None
        issue = self.client.get_issue(match.group(1))
        return None if issue is None else self._ticket(issue)

    def fields(self, draft: Draft) -> dict[str, Any]:
        """The fields of the ticket for a draft (the description in the deployment's format)."""
        from . import jiradoc

        summary = " ".join(draft.title.split())
        if len(summary) > MAX_SUMMARY:
            summary = summary[: MAX_SUMMARY - 1] + "…"
        labels = list(dict.fromkeys([self.label, draft.severity.lower(), *self.labels]))
        fields: dict[str, Any] = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": summary,
            "description": jiradoc.adf(draft.text)
            if self.client.cloud
            else jiradoc.wiki(draft.text),
            "labels": labels,
        }
        priority = self.priorities.get(draft.severity)
        if priority:
            fields["priority"] = {"name": priority}
        return fields

    def create(self, draft: Draft) -> Ticket:
        answer = self.client.create_issue(self.fields(draft), draft.key)
        ref = str(answer["key"])
        ticket = Ticket(ref=ref, url=self.browse(ref), open=True, key=draft.key, raw=answer)
        if not self._checked:
            self._check(ticket)
        return ticket

    def _check(self, ticket: Ticket) -> None:
        """Read the first new ticket back: without its property or label the next run
        could not find it, so the run stops rather than make more of them."""
        try:
            issue = self.client.get_issue(ticket.ref)
        except TrackerError:
            return  # it exists; the next creation reads back instead
        if issue is None:
            return
        fields = issue.get("fields")
        labels = fields.get("labels") if isinstance(fields, dict) else None
        missing = []
        if property_key(issue) != ticket.key:
            missing.append(f"the issue property {PROPERTY!r}")
        if not isinstance(labels, list) or self.label not in labels:
            missing.append(f"the label {self.label!r}")
        if missing:
            raise TrackerError(
                f"Jira did not keep {' and '.join(missing)} on {ticket.ref}; without it the "
                "next run cannot find the ticket, so the sync stopped",
                stop=True,
                created=ticket,
            )
        self._checked = True

    def close(self, ticket: Ticket) -> None:
        wanted = self.done_transition.casefold()
        offered = self.client.transitions(ticket.ref)
        for transition in offered:
            target = transition.get("to")
            names = {
                transition.get("name"),
                target.get("name") if isinstance(target, dict) else None,
            }
            if wanted in {str(n).casefold() for n in names if n}:
                self.client.transition(ticket.ref, str(transition.get("id")))
                return
        available = ", ".join(repr(str(t.get("name"))) for t in offered) or "none"
        raise TrackerError(
            f"Jira offers no transition {self.done_transition!r} for {ticket.ref} "
            f"(available: {available}); set done_transition"
        )


def from_table(name: str, table: Any, policy: Policy, label: str) -> JiraTracker:
    """A `[trackers.NAME] type = "jira"` table (README, "Jira")."""
    site = table.url("url")
    host = urllib.parse.urlsplit(site).hostname or ""
    default = "cloud" if host.endswith(".atlassian.net") else "datacenter"
    deployment = table.text("deployment", default)
    if deployment not in DEPLOYMENTS:
        raise table.error('`deployment` must be "cloud" or "datacenter"')
    cloud = deployment == "cloud"
    project = table.text("project", required=True) or ""
    if not PROJECT.fullmatch(project):
        raise table.error(f"`project` must be a Jira project key such as OPS, got {project!r}")
    extra = table.words("labels")
    for each in (label, *extra):
        if any(c.isspace() for c in each) or len(each) > 255:
            raise table.error(f"the label {each!r} has spaces or is too long for Jira")
    priorities = table.mapping("priorities")
    unknown = sorted(set(priorities) - set(PRIORITIES))
    if unknown:
        raise table.error(f"`priorities` maps SEV-1..SEV-4 to Jira priorities, not {unknown[0]!r}")
    incidents_url = None
    if table.text("incidents_url") is not None:
        incidents_url = table.url("incidents_url")
    elif os.environ.get("GITHUB_SERVER_URL") and os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ["GITHUB_SERVER_URL"].rstrip("/")
        incidents_url = f"{server}/{os.environ['GITHUB_REPOSITORY']}/blob/HEAD"
    token_env, token_file = table.text("token_env"), table.text("token_file")
    token_name = f"token_file {token_file}" if token_file else None
    email: str | None = None
    email_name = ""
    if cloud:
        email = table.text("email")
        if email is None:
            email_env = table.text("email_env")
            email_file = table.text("email_file")
            email = table.secret("email", default_env="JIRA_EMAIL", what="Jira account e-mail")
            email_name = f"email_file {email_file}" if email_file else (email_env or "JIRA_EMAIL")
        elif table.text("email_env") or table.text("email_file"):
            raise table.error("set email, email_env or email_file, not two")
        else:
            email_name = f"the `email` of [trackers.{name}]"
        if not EMAIL.fullmatch(email):
            raise table.error("`email` must be the Jira account's e-mail address")
        token = table.secret("token", default_env="JIRA_API_TOKEN", what="Jira API token")
        credentials = f"{email_name} and {token_name or token_env or 'JIRA_API_TOKEN'}"
    else:
        for key in ("email", "email_env", "email_file"):
            if table.text(key) is not None:
                raise table.error(
                    f"`{key}` is for Jira Cloud; Data Center takes a personal access token "
                    "(token_env)"
                )
        token = table.secret("token", default_env="JIRA_TOKEN", what="Jira personal access token")
        credentials = token_name or token_env or "JIRA_TOKEN"
    client = Jira(
        site,
        token,
        cloud=cloud,
        email=email,
        credentials=credentials,
        project=project,
        policy=policy,
    )
    return JiraTracker(
        client,
        label,
        name,
        issue_type=table.text("issue_type", "Task") or "Task",
        labels=extra,
        priorities={**PRIORITIES, **priorities},
        done_transition=table.text("done_transition", "Done") or "Done",
        incidents_url=incidents_url,
    )
