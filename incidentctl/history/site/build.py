"""`site build`: the static site, or with `public` the public status page alone.

    OUT/index.html            the incidents, with filters and instant search
    OUT/incidents/<ID>.html   one page per incident (not restricted ones)
    OUT/stats.html            charts drawn as SVG at build time
    OUT/search-index.js       the words each incident is found by
    OUT/status/…              the public status page (below)
    OUT/assets/               site.css, site.js

    public status page (OUT/ with `public`, else OUT/status/):
    index.html, incidents/<ID>.html, history.html, status.json, feed.xml

A `public` build reads the same records but hands the templates only what
public.status_data keeps. Pages are written only when they changed (output.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ... import __version__
from ...incident.timeutil import format_ts, utcnow
from ...repo.maintenance import windows as maintenance_windows
from ...repo.records import records as all_records
from . import gitinfo, parallel, public, statuspage, templating
from .output import Output, digest

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from typing import Any

    from ...repo.base import RepoBase


@dataclass
class BuildResult:
    """What a build did, for the line (or JSON) the command prints."""

    out: str
    public: bool
    incidents: int  # incident pages in the site (public incidents for `public`)
    public_incidents: int
    rebuilt: int  # incident pages built this time (the rest were current)
    written: int  # files written
    kept: int  # files left as they were
    removed: int  # files of an earlier build no longer made
    seconds: float
    built_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "public": self.public,
            "incidents": self.incidents,
            "public_incidents": self.public_incidents,
            "rebuilt": self.rebuilt,
            "written": self.written,
            "kept": self.kept,
            "removed": self.removed,
            "seconds": round(self.seconds, 3),
            "built_at": self.built_at,
        }


def build_site(
    repo: RepoBase,
    out: str | Path,
    *,
    public_only: bool = False,
    base_url: str | None = None,
    title: str | None = None,
    now: datetime | None = None,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Build the site into `out`; see the module's docstring."""
    import gc

    # A build makes a few hundred thousand containers (records, caches, pages) and
    # no garbage cycles worth finding meanwhile: the cyclic collector's passes over
    # them cost a tenth of an incremental build. It runs again afterwards.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(
            repo, out, public_only=public_only, base_url=base_url, title=title, now=now,
            warn=warn, progress=progress,
        )  # fmt: skip
    finally:
        if enabled:
            gc.enable()


def _build(
    repo: RepoBase,
    out: str | Path,
    *,
    public_only: bool,
    base_url: str | None,
    title: str | None,
    now: datetime | None,
    warn: Callable[[str], None] | None,
    progress: Callable[[int, int], None] | None,
) -> BuildResult:
    started = time.perf_counter()
    now = (now or utcnow()).replace(microsecond=0)
    base_url = base_url.rstrip("/") + "/" if base_url else None
    title = title or ("Status" if public_only else "Incidents")
    repo_root = repo.git.top
    options = {"public": public_only, "base_url": base_url, "title": title}
    salt = digest(templating.version(repo_root), json.dumps(options, sort_keys=True))
    output = Output(Path(out), salt)
    # git is asked in a thread while the records load; joined before any fork.
    git = None if public_only else gitinfo.Prefetch(repo, output.head)
    records = all_records(repo, warn, timelines=True)
    windows = maintenance_windows(repo, warn)
    head = git.wait().head if git is not None else gitinfo.head(repo)
    site = {"title": title, "version": __version__, "public": public_only}
    for name, data in templating.assets().items():
        if not (public_only and name.endswith(".js")):
            output.write(f"assets/{name}", data)
    status_title = title if public_only else f"{title}: status"
    status_url = base_url if public_only or not base_url else f"{base_url}status/"
    figures = {"incidents": 0, "rebuilt": 0}
    folder, root = ("", "") if public_only else ("status/", "../")
    status_site = {**site, "title": status_title}

    def status_pages() -> tuple[int, dict[str, Any]]:
        status = public.status_data(
            records, windows, now=now, title=status_title, site_url=status_url
        )
        mark = output.checkpoint()
        count = statuspage.write_status(
            output, status, site=status_site, folder=folder, root=root, repo_root=repo_root
        )
        return count, output.changes_since(mark)

    if git is None:
        count, _ = status_pages()
        figures["incidents"] = count
    else:
        from .fullsite import write_full

        # The status page is made in a child process (where there is more than one
        # CPU) while this one makes the incident pages, index and stats.
        child = parallel.start(status_pages)
        try:
            figures = write_full(
                repo, output, records, site=site, now=now, git=git, warn=warn, progress=progress
            )
        except BaseException:
            if child is not None:
                child.stop()
            raise
        if child is None:
            count, _ = status_pages()
        else:
            count, changes = child.result()
            output.merge(changes)
    output.finish(head)
    return BuildResult(
        out=str(out),
        public=public_only,
        incidents=figures["incidents"],
        public_incidents=count,
        rebuilt=figures["rebuilt"],
        written=output.written,
        kept=output.kept,
        removed=output.removed,
        seconds=time.perf_counter() - started,
        built_at=format_ts(now),
    )
