"""Reading many incidents: every valid one, summaries for `list`, one file's history."""

from __future__ import annotations

from datetime import date

from .base import RepoBase

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from ..incident.model import Incident, Severity, Status
    from .rows import Commit, Summary


def valid_incidents(
    repo: RepoBase, warn: Callable[[str], None] | None = None
) -> list[tuple[Incident, Path]]:
    """Every incident that parses and validates, as models; the others go to `warn`."""
    from pathlib import Path

    from ..incident.model import Incident
    from .records import records

    root = Path(repo.git.top)
    return [(Incident.model_validate(r.data), root / r.path) for r in records(repo, warn)]


def summaries(
    repo: RepoBase,
    *,
    statuses: Iterable[Status] = (),
    severities: Iterable[Severity] = (),
    since: date | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Summary]:
    """Incidents matching the filters, newest first; invalid files are reported.

    Read from the cache of front matters (records.py): no YAML, no model."""
    from .records import records
    from .rows import Summary

    wanted_status = {s.value for s in statuses}
    wanted_severity = {s.value for s in severities}
    # The cache keeps times as `format_ts` writes them, which sort as text.
    start = f"{since.isoformat()}T00:00:00Z" if since else None
    rows: list[Summary] = []
    for record in records(repo, warn):
        data = record.data
        if wanted_status and data["status"] not in wanted_status:
            continue
        if wanted_severity and data["severity"] not in wanted_severity:
            continue
        opened = data["opened_at"]
        if start and opened[:19] < start[:19]:
            continue
        rows.append(
            Summary(
                data["id"],
                data["title"],
                data["status"],
                data["severity"],
                opened,
                data.get("resolved_at"),
                record.path,
                data.get("commander"),
            )
        )
    rows.sort(key=lambda r: (r.opened_at[:19], r.opened_at), reverse=True)
    return rows


def history(repo: RepoBase, ref: str) -> tuple[str, list[Commit]]:
    ident, path = repo.resolve(ref)
    return ident, repo.git.history(path)
