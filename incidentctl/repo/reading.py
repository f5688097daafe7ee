"""Reading many incidents: every valid one, summaries for `list`, one file's history."""

from __future__ import annotations

from datetime import date, datetime, timezone

from ..errors import InvalidIncident
from ..incident.file import IncidentFile
from ..incident.validation import validation_error
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
    """Every incident that parses and validates; the others are reported to `warn`."""
    from pydantic import ValidationError

    from ..incident.model import Incident

    out = []
    if warn:
        for rel, why in repo.unusable():
            warn(f"skipped {rel}: {why}")
    for _, path in repo.files():
        rel = repo.rel(path)
        try:
            file = IncidentFile.read(path, rel, root=repo.git.top)
            out.append((Incident.model_validate(file.data), path))
        except InvalidIncident as exc:
            if warn:
                warn(f"skipped {exc}")
        except ValidationError as exc:
            if warn:
                warn(f"skipped {validation_error(exc, file)}")
    return out


def summaries(
    repo: RepoBase,
    *,
    statuses: Iterable[Status] = (),
    severities: Iterable[Severity] = (),
    since: date | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Summary]:
    """Incidents matching the filters, newest first; invalid files are reported."""
    from .rows import Summary

    wanted_status = set(statuses)
    wanted_severity = set(severities)
    start = datetime(since.year, since.month, since.day, tzinfo=timezone.utc) if since else None
    rows: list[Summary] = []
    for incident, path in valid_incidents(repo, warn):
        if wanted_status and incident.status not in wanted_status:
            continue
        if wanted_severity and incident.severity not in wanted_severity:
            continue
        if start and incident.opened_at < start:
            continue
        rows.append(
            Summary(
                incident.id,
                incident.title,
                incident.status.value,
                incident.severity.value,
                incident.opened_at,
                incident.resolved_at,
                repo.rel(path),
                incident.commander,
            )
        )
    rows.sort(key=lambda r: r.opened_at, reverse=True)
    return rows


def history(repo: RepoBase, ref: str) -> tuple[str, list[Commit]]:
    ident, path = repo.resolve(ref)
    return ident, repo.git.history(path)
