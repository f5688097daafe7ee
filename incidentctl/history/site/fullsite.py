"""The full (internal) site: one page per incident, the index with its search, stats.

An incident's page is built again only when its key changed: the file's bytes (blob
id), its history (the newest commit that changed it) or the templates. Which files
may have a new history is told by the commits since the last build's HEAD, so an
incremental build runs git once or twice, not once per incident; the summaries the
index and search need are kept in the manifest with each page.
"""

from __future__ import annotations

import functools
import os
import re

from ...incident.storage import decode, read_limited
from . import charts, gitinfo, markup, pages, parallel, templating
from .cache import SiteCache
from .output import digest

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from typing import Any

    from ...repo.base import RepoBase
    from ...repo.records import IncidentRecord
    from .output import Output

    Progress = Callable[[int, int], None]

SUMMARY_KEPT = 2000  # characters of an incident's summary the search finds it by
CHUNK_MIN, CHUNK_MAX = 100, 500  # incident pages per job


def write_full(
    repo: RepoBase,
    output: Output,
    records: list[IncidentRecord],
    *,
    site: dict[str, Any],
    now: datetime,
    git: gitinfo.Prefetch,
    warn: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write the incident pages, the index, the search index and the stats page."""
    repo_root = repo.git.top
    visible, restricted = _visible(records, warn)
    blobs = gitinfo.blob_ids(repo, [r.path for r in visible], git.index)
    cache = SiteCache(repo.git.gitdir, digest(output.salt, repo.config.placeholder_pattern))
    touched = git.touched.paths if git.touched is not None else None
    found: dict[str, tuple[str, str]] = {}  # ID -> its row in the index, its search words
    todo: list[IncidentRecord] = []
    for record in visible:
        name = pages.page_name(record.data["id"])
        prev = output.previous(name)
        if (
            prev is not None
            and touched is not None
            and record.path not in touched
            and prev.get("path") == record.path
            and prev.get("blob") == blobs[record.path]
            and (cached := cache.row(blobs[record.path])) is not None
        ):
            key = output.incident_key(record.path, blobs[record.path], str(prev.get("hist")))
            if output.is_current(name, key):
                output.keep(name, key, prev)
                cache.keep_history(record.path)
                found[record.data["id"]] = cached
                continue
        todo.append(record)
    histories = _histories(repo, output, cache, todo, git.touched)
    _stats(output, records, repo, site, now)
    common = {"site": site, "section": "incidents", "root": "../"}
    placeholder = re.compile(repo.config.placeholder_pattern)
    ids = {pages.page_name(r.data["id"]): r.data["id"] for r in todo}
    done = 0

    def render(chunk: list[IncidentRecord]) -> tuple[dict[str, Any], int]:
        mark = output.checkpoint()
        for record in chunk:
            blob = blobs[record.path]
            cached = cache.row(blob)
            _incident(output, record, blob, histories, common, placeholder, cached, warn, repo_root)
        return output.changes_since(mark), len(chunk)

    def rendered(result: tuple[dict[str, Any], int], forked: bool) -> None:
        nonlocal done
        changes, count = result
        if forked:
            output.merge(changes)
        for name, source in changes["sources"]:
            row, words = source.pop("row"), source.pop("words")  # to the cache, not the manifest
            cache.put_row(source["blob"], row, words)
            found[ids[name]] = (row, words)
        done += count
        if progress is not None:
            progress(done, len(todo))

    jobs = [functools.partial(render, chunk) for chunk in _chunks(todo, parallel.workers())]
    parallel.run_all(jobs, rendered)
    listed = [r for r in visible if r.data["id"] in found]
    listed.sort(key=lambda r: (r.data["opened_at"], r.data["id"]), reverse=True)
    index = {
        "site": site,
        "section": "incidents",
        "root": "",
        "rows_html": markup.trusted("".join(found[r.data["id"]][0] for r in listed)),
        "count": len(listed),
        "filters": pages.filters(listed),
        "restricted": restricted,
    }
    output.write("index.html", templating.render("index.html.j2", index, repo_root))
    words = {r.data["id"]: found[r.data["id"]][1] for r in listed}
    output.write("search-index.js", pages.search_index_js(words))
    cache.save()
    return {"incidents": len(listed), "rebuilt": len(todo), "restricted": restricted}


def _histories(
    repo: RepoBase,
    output: Output,
    cache: SiteCache,
    todo: list[IncidentRecord],
    since: gitinfo.Since | None,
) -> dict[str, list[gitinfo.Change]]:
    """The histories of the files whose pages are built: the one at the last build
    (cache) with the commits since put before it, else from git."""
    known: dict[str, list[gitinfo.Change]] = {}
    for record in todo:
        prev = output.previous(pages.page_name(record.data["id"]))
        if prev is not None and prev.get("path") == record.path:
            older = cache.history(record.path, str(prev.get("hist")))
            if older is not None:
                known[record.path] = older
    found = gitinfo.histories(repo, [r.path for r in todo], since=since, known=known)
    for path, changes in found.items():
        cache.put_history(path, changes)
    return found


def _visible(
    records: list[IncidentRecord], warn: Callable[[str], None] | None
) -> tuple[list[IncidentRecord], int]:
    """The incidents the site shows (one per ID), and how many restricted it leaves out."""
    visible: list[IncidentRecord] = []
    seen: set[str] = set()
    restricted = 0
    for record in records:
        ident = record.data["id"]
        if not pages.shown(record):
            restricted += 1
        elif ident.lower() in seen:
            if warn:
                warn(f"skipped {record.path}: another file has the ID {ident}")
        else:
            seen.add(ident.lower())
            visible.append(record)
    return visible, restricted


def _stats(
    output: Output, records: list[IncidentRecord], repo: RepoBase, site: Any, now: datetime
) -> None:
    """stats.html, made again only when what it shows may have changed."""
    datas = [r.data for r in records]
    key = charts.inputs_key(datas, repo.config, now)
    if output.is_current("stats.html", key):
        output.keep("stats.html", key)
        return
    stats = charts.stats_page(datas, repo.config, now)
    context = {"site": site, "section": "stats", "root": "", "stats": stats}
    output.write("stats.html", templating.render("stats.html.j2", context, repo.git.top), key)


def _incident(
    output: Output,
    record: IncidentRecord,
    blob: str,
    histories: dict[str, list[gitinfo.Change]],
    common: dict[str, Any],
    placeholder: re.Pattern[str],
    cached: tuple[str, str] | None,
    warn: Callable[[str], None] | None,
    repo_root: str,
) -> dict[str, Any] | None:
    """Write one incident's page (unless it is current); its source for the manifest:
    where it came from, its row in the index and the words the search finds it by
    (the summary counts only once it is more than the template's placeholder)."""
    name = pages.page_name(record.data["id"])
    history = histories.get(record.path, [])
    hist = history[0].sha if history else ""
    key = output.incident_key(record.path, blob, hist)
    source: dict[str, Any] = {"path": record.path, "blob": blob, "hist": hist}
    if cached is not None and output.is_current(name, key):  # e.g. back on a branch
        source.update(row=cached[0], words=cached[1])
        output.keep(name, key, source)
        return source
    try:
        raw = read_limited(os.path.join(repo_root, record.path), record.path, root=repo_root)
        text = decode(raw, record.path)
    except Exception as exc:  # changed or gone since it was listed: no page this time
        if warn:
            warn(f"skipped {record.path}: {exc}")
        return None
    body = markup.split_body(text, record.data["title"])
    context = {**common, **pages.incident_page(record, body, history)}
    summary = markup.plain(body.summary)[:SUMMARY_KEPT]
    if placeholder.search(summary):
        summary = ""
    source.update(words=pages.search_words(record, summary), row=pages.row_html(record, summary))
    output.write(name, templating.render("incident.html.j2", context, repo_root), key, source)
    return source


def _chunks(todo: list[IncidentRecord], workers: int) -> list[list[IncidentRecord]]:
    """The pages in chunks: a few per worker (so the progress bar moves and a slow
    chunk does not hold the others up), none too small to be worth a process."""
    size = CHUNK_MAX // 2
    if workers > 1:
        size = max(CHUNK_MIN, min(CHUNK_MAX, len(todo) // (workers * 6) + 1))
    return [todo[i : i + size] for i in range(0, len(todo), size)]
