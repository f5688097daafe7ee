"""`incidentctl issues sync`: tickets for action items (GitHub, Jira, GitLab)."""

from __future__ import annotations

import os
from typing import Any

import click

from ..safetext import safe
from .common import State, emit_json, handle_errors, json_option, style, warn


@click.group("issues", context_settings={"help_option_names": ["-h", "--help"]})
def issues() -> None:
    """Tickets for action items: GitHub, Jira, GitLab (run from CI after a post-mortem merges)."""


@issues.command("sync")
@click.option(
    "--tracker",
    metavar="NAME|TYPE",
    help="One tracker of [trackers.NAME], or a type (github, jira, gitlab). "
    "[default: every configured tracker; with none, GitHub from the environment]",
)
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--repo-slug", metavar="OWNER/NAME", help="[default: $GITHUB_REPOSITORY]")
@click.option("--api-url", metavar="URL", help="[default: $GITHUB_API_URL or api.github.com]")
@click.option(
    "--label",
    help="The label that marks (and finds) these tickets.  "
    "[default: the tracker's `label`, else incident-action-item]",
)
@click.option(
    "--write-back",
    is_flag=True,
    help="Record each ticket's URL and key in its action item and commit (needs contents: write).",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds between creations (the trackers' rate limits).",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Retries of one request after a 5xx, a network error, a timeout or a rate limit.",
)
@click.option(
    "--min-backoff",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Seconds before the first retry of a request, even after Retry-After: 0 "
    "(doubles with each retry).",
)
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Longest single wait; a longer Retry-After or rate-limit reset stops the run.",
)
@click.option(
    "--max-total-wait",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds all retry waits of the run may add up to.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds one request may take, from connecting to the last byte.",
)
@json_option
@click.pass_obj
@handle_errors
def sync(
    state: State,
    tracker: str | None,
    dry_run: bool,
    repo_slug: str | None,
    api_url: str | None,
    label: str | None,
    write_back: bool,
    pace: float,
    retries: int,
    min_backoff: float,
    max_wait: float,
    max_total_wait: float,
    timeout: float,
    as_json: bool,
) -> None:
    """Open one ticket per open action item, close the tickets of done ones.

    Safe to re-run at any time, also after a failure halfway: tickets are found by a
    hidden marker and the label, so none is ever opened twice. The trackers are
    [trackers.NAME] tables of incidentctl.toml (see the README); with none, GitHub
    issues of $GITHUB_REPOSITORY with GITHUB_TOKEN (or GH_TOKEN). Exit 1 if any item
    failed. Retries and waits are capped (--retries, --min-backoff, --max-wait,
    --max-total-wait, --timeout): the run ends whatever the server answers.
    """
    from ..trackers.http import Policy
    from ..trackers.sync import SyncReport
    from ..trackers.sync import sync as run_sync

    repo = state.repo()
    policy = Policy(
        retries=retries,
        backoff=min_backoff,
        max_wait=max_wait,
        total_wait=max_total_wait,
        pace=pace,
        timeout=timeout,
    )
    chosen = _trackers(repo, tracker, policy, label, repo_slug, api_url)
    progress = None if as_json else (lambda line: click.echo(safe(line), err=True))
    reports: list[SyncReport] = []
    if len(chosen) == 1 and chosen[0][1] is None:
        reports.append(
            run_sync(
                repo,
                chosen[0][0],
                dry_run=dry_run,
                write_back=write_back,
                progress=progress,
                warn=warn,
            )
        )
    else:
        every = repo.valid_incidents(warn)
        for one, takes in chosen:
            incidents = [(i, p) for i, p in every if takes is None or takes(i.services)]
            reports.append(
                run_sync(
                    repo,
                    one,
                    dry_run=dry_run,
                    write_back=write_back,
                    progress=progress,
                    warn=warn,
                    incidents=incidents,
                )
            )
            if write_back and reports[-1].linked:
                every = repo.valid_incidents(warn)  # what the write-back committed
    _report(reports, dry_run, as_json)
    if any(r.failed for r in reports):
        raise SystemExit(1)


def _trackers(
    repo: Any,
    wanted: str | None,
    policy: Any,
    label: str | None,
    repo_slug: str | None,
    api_url: str | None,
) -> list[tuple[Any, Any]]:
    """The trackers to sync, each with its filter of incidents (None: all)."""
    from ..errors import IncidentctlError
    from ..trackers.config import TYPES, build, configured

    listed = configured(repo.config.section("trackers"))
    if wanted is not None:
        named = [c for c in listed if c.name == wanted] or [c for c in listed if c.type == wanted]
        if not named and wanted != "github":
            known = ", ".join(c.name for c in listed) or "none configured"
            raise IncidentctlError(
                f"no tracker {wanted!r} in incidentctl.toml (trackers: {known}; types: "
                f"{', '.join(TYPES)}); add a [trackers.NAME] table, see the README"
            )
        listed = named
    if not listed:
        return [(_github_from_environment(policy, label, repo_slug, api_url), None)]
    if repo_slug or api_url:
        raise IncidentctlError(
            "--repo-slug and --api-url are for GitHub from the environment; "
            "a configured tracker takes `repo` and `api_url` in incidentctl.toml"
        )
    return [(build(c, os.environ, policy, label=label), c.takes) for c in listed]


def _github_from_environment(
    policy: Any, label: str | None, repo_slug: str | None, api_url: str | None
) -> Any:
    from ..errors import IncidentctlError
    from ..trackers.base import DEFAULT_LABEL
    from ..trackers.github import GitHub, GitHubTracker

    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise IncidentctlError(
            "no token: set GITHUB_TOKEN (or GH_TOKEN) to a token with issues: write"
        )
    slug = repo_slug or os.environ.get("GITHUB_REPOSITORY")
    if not slug:
        raise IncidentctlError(
            "which repository? pass --repo-slug OWNER/NAME or set GITHUB_REPOSITORY"
        )
    api = api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    return GitHubTracker(GitHub(api, slug, token, policy), label or DEFAULT_LABEL)


def _report(reports: list[Any], dry_run: bool, as_json: bool) -> None:
    if as_json:
        if len(reports) == 1:
            emit_json(reports[0].as_json())
            return
        merged: dict[str, Any] = {"dry_run": dry_run, "trackers": [r.tracker for r in reports]}
        for report in reports:
            for key, value in report.as_json().items():
                if isinstance(value, list):
                    for entry in value:
                        if isinstance(entry, dict):
                            entry.setdefault("tracker", report.tracker)
                    merged.setdefault(key, []).extend(value)
        emit_json(merged)
        return
    verb = "would be " if dry_run else ""
    for report in reports:
        counts = {
            r: sum(o.result == r for o in report.outcomes)
            for r in ("created", "existing", "closed", "failed")
        }
        for o in report.outcomes:
            if o.result == "failed":
                click.echo(
                    f"{style('failed', fg='red')}: {safe(f'{o.incident}/{o.action}: {o.error}')}",
                    err=True,
                )
        where = f"{safe(report.tracker)}: " if len(reports) > 1 else ""
        click.echo(
            f"{where}{counts['created']} {verb}created, {counts['existing']} existing, "
            f"{counts['closed']} {verb}closed, {counts['failed']} failed"
            + (f"; linked {len(report.linked)} incident(s)" if report.linked else "")
        )
        for dup in report.duplicates:
            what = f"issue #{dup['number']}" if dup.get("number") else f"ticket {dup['ticket']}"
            warn(f"{what} duplicates {dup['key']}")


COMMANDS = [issues]
