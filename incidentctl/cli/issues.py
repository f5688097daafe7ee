"""`incidentctl issues sync`: GitHub issues for action items."""

from __future__ import annotations

import os

import click

from ..safetext import safe
from .common import State, emit_json, handle_errors, json_option, style, warn


@click.group("issues", context_settings={"help_option_names": ["-h", "--help"]})
def issues() -> None:
    """GitHub issues for action items (run from CI after a post-mortem merges)."""


@issues.command("sync")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--repo-slug", metavar="OWNER/NAME", help="[default: $GITHUB_REPOSITORY]")
@click.option("--api-url", metavar="URL", help="[default: $GITHUB_API_URL or api.github.com]")
@click.option(
    "--label",
    default="incident-action-item",
    show_default=True,
    help="The label that marks (and finds) these issues.",
)
@click.option(
    "--write-back",
    is_flag=True,
    help="Record each issue URL in its action item and commit (needs contents: write).",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds between creations (GitHub's secondary rate limits).",
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
    dry_run: bool,
    repo_slug: str | None,
    api_url: str | None,
    label: str,
    write_back: bool,
    pace: float,
    retries: int,
    min_backoff: float,
    max_wait: float,
    max_total_wait: float,
    timeout: float,
    as_json: bool,
) -> None:
    """Open one GitHub issue per open action item, close issues of done ones.

    Safe to re-run at any time, also after a failure halfway: issues are found by a
    hidden marker and the label, so none is ever opened twice. Needs GITHUB_TOKEN (or
    GH_TOKEN) with `issues: write`. Exit 1 if any item failed. Retries and waits are
    capped (--retries, --min-backoff, --max-wait, --max-total-wait, --timeout): the run
    ends whatever the server answers.
    """
    from ..errors import IncidentctlError
    from ..trackers.github import GitHub, GitHubTracker
    from ..trackers.http import Policy
    from ..trackers.sync import sync as run_sync

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
    policy = Policy(
        retries=retries,
        backoff=min_backoff,
        max_wait=max_wait,
        total_wait=max_total_wait,
        pace=pace,
        timeout=timeout,
    )
    github = GitHubTracker(GitHub(api, slug, token, policy), label)
    quiet = as_json
    report = run_sync(
        state.repo(),
        github,
        dry_run=dry_run,
        write_back=write_back,
        progress=None if quiet else (lambda line: click.echo(safe(line), err=True)),
        warn=warn,
    )
    if as_json:
        emit_json(report.as_json())
    else:
        verb = "would be " if dry_run else ""
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
        click.echo(
            f"{counts['created']} {verb}created, {counts['existing']} existing, "
            f"{counts['closed']} {verb}closed, {counts['failed']} failed"
            + (f"; linked {len(report.linked)} incident(s)" if report.linked else "")
        )
        for dup in report.duplicates:
            warn(f"issue #{dup['number']} duplicates {dup['key']}")
    if report.failed:
        raise SystemExit(1)


COMMANDS = [issues]
