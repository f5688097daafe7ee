"""`incidentctl issues sync`: one GitHub issue per action item, exactly once.

Existing issues are found by listing every issue with our label (all pages, open
and closed) and reading the hidden marker in each body; never by search (it lags)
and never by title. A creation that fails with a 5xx may still have happened, so
before trying again the newest issues are listed to look for its marker.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import IncidentctlError
from .client import GitHub, GitHubError

if TYPE_CHECKING:
    from ..incident.model import ActionItem, Incident
    from ..repo.incidents import IncidentRepo

# The marker exactly as `marker()` writes it: trusted only as the body's last line.
MARKER = re.compile(r"<!-- incidentctl:([A-Za-z0-9._-]+)/(AI-[0-9]+) -->")
# Anything that looks like a marker, wherever it is: a body with two is not ours.
MARKER_LIKE = re.compile(r"<!--\s*incidentctl\s*:", re.IGNORECASE)
DEFAULT_LABEL = "incident-action-item"
RESULTS = ("created", "existing", "closed", "failed")


def marker(incident_id: str, action_id: str) -> str:
    return f"<!-- incidentctl:{incident_id}/{action_id} -->"


def body_key(body: str | None) -> str | None:
    """`INCIDENT/AI-N` if the body is one incidentctl wrote, else None.

    Ours ends with the marker as its last line, exactly, and holds no other
    marker-like text: a marker quoted elsewhere in a body (in a title pasted into
    it, or by whoever wrote the issue) makes no issue ours.
    """
    text = (body or "").replace("\r\n", "\n").rstrip(" \t\n")
    last = text.rsplit("\n", 1)[-1].strip(" \t")
    match = MARKER.fullmatch(last)
    if match is None or len(MARKER_LIKE.findall(text)) != 1:
        return None
    return f"{match.group(1)}/{match.group(2)}"


def inert(text: str) -> str:
    """Text for an issue body that cannot open or close an HTML comment (nor a tag)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert_title(text: str) -> str:
    """Text for an issue title (shown as plain text) without `<!--` or `-->` in it."""
    while "<!--" in text or "-->" in text:
        text = text.replace("<!--", "< !--").replace("-->", "-- >")
    return text


def _inert_fields(value: Any) -> Any:
    """Every string inside a dumped model, made inert for an issue body."""
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, dict):
        return {key: _inert_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_inert_fields(item) for item in value]
    return value


@dataclass
class Outcome:
    incident: str
    action: str
    result: str  # created, existing, closed, failed, or skipped (done, never opened)
    number: int | None = None
    url: str | None = None
    error: str | None = None
    stop: bool = False  # a dropped label or a long rate limit: the run must not go on

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "incident": self.incident,
            "action": self.action,
            "number": self.number,
            "url": self.url,
        }
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class SyncReport:
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.result == "failed" for o in self.outcomes)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dry_run": self.dry_run}
        for result in RESULTS:
            out[result] = [o.as_json() for o in self.outcomes if o.result == result]
        out["duplicates"] = self.duplicates
        out["linked"] = self.linked
        return out


def server_url(api_url: str) -> str:
    """The web address matching an API address (github.com or GitHub Enterprise)."""
    if os.environ.get("GITHUB_SERVER_URL"):
        return os.environ["GITHUB_SERVER_URL"].rstrip("/")
    parts = urllib.parse.urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"


def _existing(issues: Any) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Issues by marker key; a key on several issues keeps the oldest, others reported."""
    found: dict[str, dict[str, Any]] = {}
    duplicates = []
    for issue in issues:
        key = body_key(issue.get("body"))
        if key is None:
            continue
        kept = found.get(key)
        if kept is None or issue["number"] < kept["number"]:
            if kept is not None:
                duplicates.append({"key": key, "number": kept["number"]})
            found[key] = issue
        else:
            duplicates.append({"key": key, "number": issue["number"]})
    return found, duplicates


def _recorded(
    github: GitHub,
    incidents: list[tuple[Incident, Any]],
    existing: dict[str, dict[str, Any]],
    label: str,
    say: Callable[[str], None],
) -> None:
    """Issues the listing missed but an action item records (`issue:`), checked by marker.

    Someone may have removed our label from an issue; the URL written back by
    `--write-back` (or by hand) still finds it, so it is not opened a second time.
    """
    pattern = re.compile(
        rf"^{re.escape(server_url(github.api_url))}/{re.escape(github.slug)}"
        r"/issues/([0-9]+)$"
    )
    for incident, _ in incidents:
        for item in incident.action_items:
            key = f"{incident.id}/{item.id}"
            match = pattern.match(item.issue or "")
            if key in existing or match is None:
                continue
            issue = github.get_issue(int(match.group(1)))
            if issue and "pull_request" not in issue and body_key(issue.get("body")) == key:
                existing[key] = issue
                say(f"found {key} by its recorded URL (#{issue['number']}, without {label!r})")


def sync(
    repo: IncidentRepo,
    github: GitHub,
    *,
    label: str = DEFAULT_LABEL,
    dry_run: bool = False,
    write_back: bool = False,
    progress: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> SyncReport:
    """Reconcile every action item of the repository with GitHub issues."""
    from ..incident.render import render

    say = progress or (lambda _: None)
    report = SyncReport(dry_run)
    incidents = repo.valid_incidents(warn)
    say(f"listing issues labelled {label!r} in {github.slug}")
    existing, report.duplicates = _existing(github.list_issues(label))
    _recorded(github, incidents, existing, label, say)
    web = server_url(github.api_url)
    created_any = False

    for incident, path in incidents:
        for item in incident.action_items:
            key = f"{incident.id}/{item.id}"
            issue = existing.get(key)
            done = item.status.value == "done"
            if issue is not None:
                outcome = Outcome(
                    incident.id, item.id, "existing", issue["number"], issue.get("html_url")
                )
                if done and issue.get("state") == "open":
                    outcome.result = "closed"
                    if not dry_run:
                        try:
                            github.close_issue(issue["number"])
                        except GitHubError as exc:
                            outcome.result, outcome.error = "failed", str(exc)
                            outcome.stop = exc.stop
                report.outcomes.append(outcome)
                if outcome.stop:
                    break
                continue
            if done:
                report.outcomes.append(Outcome(incident.id, item.id, "skipped"))
                continue
            if dry_run:
                report.outcomes.append(Outcome(incident.id, item.id, "created"))
                continue
            if created_any and github.policy.pace:
                github.policy.sleep(github.policy.pace)
            created_any = True
            rel = repo.rel(path)
            body = render(
                "issue.md.j2",
                {
                    # Every field is inert: a title holding `<!-- incidentctl:… -->`
                    # must not put a second marker into the body.
                    "incident": _inert_fields(incident.model_dump(mode="json")),
                    "item": _inert_fields(item.model_dump(mode="json")),
                    "incident_url": f"{web}/{github.slug}/blob/HEAD/{urllib.parse.quote(rel)}",
                    "marker": marker(incident.id, item.id),
                },
                repo.root,
            )
            outcome = _create(github, incident, item, body, label)
            if outcome.result != "failed":  # failures are listed, with their error, at the end
                say(
                    f"{outcome.result}: {key}" + (f" (#{outcome.number})" if outcome.number else "")
                )
            report.outcomes.append(outcome)
            if outcome.stop:
                break  # every further issue would be invisible or rate limited too
        if report.outcomes and report.outcomes[-1].stop:
            break  # ... in every incident, not only this one

    if write_back and not dry_run:
        report.linked = _write_back(repo, report, incidents)
    return report


def _create(github: GitHub, incident: Incident, item: ActionItem, body: str, label: str) -> Outcome:
    """Create one issue; after a 5xx, look for it before trying again."""
    key = f"{incident.id}/{item.id}"
    title = inert_title(f"[{incident.id}] {item.title}")
    labels = [label, incident.severity.value.lower()]
    delay = github.policy.backoff
    last = "not attempted"
    for attempt in range(github.policy.retries + 1):
        if attempt:
            try:
                github.policy.wait(delay, last)
            except GitHubError as exc:
                return Outcome(incident.id, item.id, "failed", error=str(exc), stop=True)
            delay *= 2
            try:
                recent = github.list_issues(label, newest_first=True, pages=1)
                for issue in recent:
                    if body_key(issue.get("body")) == key:
                        return Outcome(
                            incident.id, item.id, "created", issue["number"], issue.get("html_url")
                        )
            except GitHubError as exc:
                last = str(exc)
                if exc.stop:
                    return Outcome(incident.id, item.id, "failed", error=last, stop=True)
                continue
        try:
            issue = github.create_issue(title, body, labels)
        except GitHubError as exc:
            last = str(exc)
            if exc.stop:
                return Outcome(incident.id, item.id, "failed", error=last, stop=True)
            if not exc.retryable:
                break
            continue
        names = {
            lbl.get("name") if isinstance(lbl, dict) else lbl for lbl in issue.get("labels", [])
        }
        outcome = Outcome(
            incident.id, item.id, "created", issue.get("number"), issue.get("html_url")
        )
        if label not in names:
            outcome.result, outcome.stop = "failed", True
            outcome.error = (
                f"GitHub dropped the label {label!r} from #{issue.get('number')} (the token may "
                "lack permission to label issues); without it the next run cannot find the "
                "issue, so the sync stopped"
            )
        return outcome
    return Outcome(incident.id, item.id, "failed", error=last)


def _write_back(
    repo: IncidentRepo, report: SyncReport, incidents: list[tuple[Incident, Any]]
) -> list[str]:
    """Record issue URLs in the action items that lack them: one commit per incident."""
    urls: dict[str, dict[str, str]] = {}
    known = {(i.id, a.id): a.issue for i, _ in incidents for a in i.action_items}
    for outcome in report.outcomes:
        if outcome.url and known.get((outcome.incident, outcome.action)) != outcome.url:
            urls.setdefault(outcome.incident, {})[outcome.action] = outcome.url
    linked = []
    for incident_id, links in urls.items():
        try:
            repo.link_issues(incident_id, links)
        except IncidentctlError as exc:
            raise IncidentctlError(
                f"issues were synced but writing their URLs failed: {exc}"
            ) from None
        linked.append(incident_id)
    return linked
