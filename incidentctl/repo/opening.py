"""What a new incident is made of, for `open` both ways (lifecycle.new, and
quickopen.py without Jinja2, the model or PyYAML): its arguments checked, its first
timeline entry, its summary as Markdown, its file name and commit subject.

Strings only here: neither `re` nor `enum` is imported on `open`'s fast path.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..incident.blocks import escape_text
from ..incident.validation import clean_text
from ..record import Record
from .base import RepoBase, one_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime
    from typing import Any

_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def slugify(title: str, max_len: int = 48) -> str:
    """A file-name-safe slug: ASCII letters, digits and dashes only.

    Each run of other characters becomes one dash (`re.sub(r"[^a-z0-9]+", "-", …)`,
    without importing `re`); accents go (NFKD), other letters too.
    """
    if not title.isascii():
        import unicodedata

        title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = "".join(c if c in _SLUG_CHARS else " " for c in title.lower()).split()
    slug = "-".join(words)
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "incident"


class Opening(Record):
    """What `open` was given, checked: the values a new incident is made of."""

    __slots__ = (  # noqa: RUF023 (field order)
        "title",
        "severity",
        "type",
        "environment",
        "services",
        "summary",
        "author",
        "commander",
    )

    def __init__(
        self,
        title: str,
        severity: str,  # SEV-1..SEV-4
        type: str,
        environment: str,
        services: list[str],
        summary: str | None,
        author: str,
        commander: str,
    ):
        self.title = title
        self.severity = severity
        self.type = type
        self.environment = environment
        self.services = services
        self.summary = summary
        self.author = author
        self.commander = commander


def opening(
    repo: RepoBase,
    title: str,
    *,
    severity: str | None,
    type: str | None,
    environment: str | None,
    services: Iterable[str],
    commander: str | None,
    summary: str | None,
    now: datetime,
) -> Opening:
    """`new`'s arguments checked, in its order (the first problem is the one told);
    the commander defaults to who is on call at `now`, else the author."""
    from ..incident.config import ENVIRONMENTS, TYPES, severity_name

    title = clean_text(title, "title", max_len=200, one_line=True)
    sev = severity_name(severity or repo.config.default_severity)
    kind = type or repo.config.default_type
    if kind not in TYPES:
        raise InvalidInput(f"unknown type {type!r}; use one of: {', '.join(TYPES)}")
    env = environment or repo.config.default_environment
    if env not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {environment!r}; use one of: {', '.join(ENVIRONMENTS)}"
        )
    service_list = [clean_text(s, "service", max_len=100, one_line=True) for s in services]
    summary_text = clean_text(summary, "summary") if summary else None
    author = repo.author()
    if commander:
        commander = clean_text(commander, "commander", max_len=200, one_line=True)
    else:
        commander = repo.config.oncall.current(now) or author
    return Opening(title, sev, kind, env, service_list, summary_text, author, commander)


def opened_text(
    severity: str, kind: str, environment: str, services: list[str], commander: str
) -> str:
    """The first timeline entry: `Incident opened: SEV-2 outage in production (api).
    Commander: Alice.`"""
    parts = [f"Incident opened: {severity} {kind}", f" in {environment}"]
    if services:
        parts.append(f" ({', '.join(services)})")
    parts.append(f". Commander: {commander}.")
    return "".join(parts)


def summary_markdown(summary: str | None) -> str | None:
    """The summary as the template gets it: no line of it can start a heading or a
    block (blocks.py)."""
    return "\n".join(escape_text(summary.split("\n"))) if summary else None


def open_subject(severity: str, title: str) -> str:
    """The commit subject of `open` after `incident(ID): `."""
    return f"open {severity}: {one_line(title, 50)}"


def remember_front(repo: RepoBase, text: str, front: dict[str, Any]) -> None:
    """Put a new file's front matter (as `show --json` prints it) in the cache of
    front matters (frontcache.py)."""
    from .frontcache import remember

    remember(repo.git.gitdir, None, text.encode("utf-8", errors="surrogateescape"), front)
