"""The output folder and its build manifest: write only what changed, remove what went.

The manifest, `OUT/.incidentctl-site.json`, maps each page the last build wrote to
its key: for an incident page, a hash of the template version, the build's options,
the file's path, its blob id and the newest commit of its history; for every other
page, a hash of its bytes. A page whose key is unchanged and whose file is still there
is not written again; a page the last build wrote and this one does not (an incident
deleted, made restricted, or a `--public` build after a full one) is removed.

OUT must be new, empty, or a folder an earlier build wrote (it has the manifest):
a build never writes over files it did not make.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ...errors import IncidentctlError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

MANIFEST = ".incidentctl-site.json"
FORMAT = 1


def digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        hasher.update(b"%d\0" % len(data))
        hasher.update(data)
    return hasher.hexdigest()[:32]


class Output:
    """OUT, what the last build wrote there, and what this build writes."""

    def __init__(self, out: Path, salt: str):
        self.out = out
        self.salt = salt
        self.old: dict[str, Any] = {}
        self.pages: dict[str, str] = {}  # page -> key, this build
        self.sources: dict[str, dict[str, Any]] = {}  # incident page -> its inputs
        self.written = 0
        self.kept = 0
        self.removed = 0
        self._folders: set[str] = set()
        self._listed: dict[str, set[str]] = {}
        self._open()

    def _open(self) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise IncidentctlError(f"{self.out} is not a folder; give a folder for the site")
        manifest = self.out / MANIFEST
        if manifest.is_file() and not manifest.is_symlink():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if (
                isinstance(data, dict)
                and data.get("format") == FORMAT
                and isinstance(data.get("pages"), dict)
                and isinstance(data.get("sources"), dict)
            ):
                self.old = data
            else:  # ours (it has the manifest), but what it holds is unknown: start afresh
                self._clear()
            return
        if self.out.is_dir() and any(self.out.iterdir()):
            raise IncidentctlError(
                f"{self.out} is not empty and holds no site built by incidentctl "
                f"(no {MANIFEST}); give a new or empty folder"
            )

    def _clear(self) -> None:
        """Remove everything in OUT (a folder an earlier build made)."""
        import shutil

        for entry in os.scandir(self.out):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)

    @property
    def head(self) -> str | None:
        """HEAD at the last build, when its pages were built with the same templates."""
        head = self.old.get("head")
        return head if isinstance(head, str) and self.old.get("salt") == self.salt else None

    def previous(self, page: str) -> dict[str, Any] | None:
        """What the last build knew of an incident page's sources (same templates)."""
        if self.old.get("salt") != self.salt:
            return None
        found = (self.old.get("sources") or {}).get(page)
        return found if isinstance(found, dict) else None

    def incident_key(self, path: str, blob: str, hist: str) -> str:
        """An incident page's key (the salt is checked once, in is_current)."""
        text = f"{path}\0{blob}\0{hist}".encode("utf-8", "surrogatepass")
        return hashlib.sha1(text, usedforsecurity=False).hexdigest()[:32]

    def is_current(self, page: str, key: str) -> bool:
        """The last build wrote this page with this key, with the same templates and
        options, and it is still there."""
        if self.old.get("salt") != self.salt:
            return False
        old = self.old.get("pages") or {}
        return old.get(page) == key and self._exists(page)

    def _exists(self, page: str) -> bool:
        """Whether OUT holds the page, a regular file (one listing per folder)."""
        folder, _, name = page.rpartition("/")
        names = self._listed.get(folder)
        if names is None:
            try:
                with os.scandir(os.path.join(self.out, folder)) as entries:
                    names = {e.name for e in entries if e.is_file(follow_symlinks=False)}
            except OSError:
                names = set()
            self._listed[folder] = names
        return name in names

    def keep(self, page: str, key: str, source: dict[str, Any] | None = None) -> None:
        self.pages[page] = key
        if source is not None:
            self.sources[page] = source
        self.kept += 1

    def checkpoint(self) -> tuple[int, int, int, int]:
        """Where this build stands, for changes_since (pages are only ever added)."""
        return len(self.pages), len(self.sources), self.written, self.kept

    def changes_since(self, mark: tuple[int, int, int, int]) -> dict[str, Any]:
        """What was recorded after `mark`: what a child process hands back to merge."""
        return {
            "pages": list(self.pages.items())[mark[0] :],
            "sources": list(self.sources.items())[mark[1] :],
            "written": self.written - mark[2],
            "kept": self.kept - mark[3],
        }

    def merge(self, changes: dict[str, Any]) -> None:
        """Take what a child process wrote (changes_since there) into this build."""
        self.pages.update(changes["pages"])
        self.sources.update(changes["sources"])
        self.written += changes["written"]
        self.kept += changes["kept"]

    def write(
        self, page: str, content: str | bytes, key: str = "", source: dict[str, Any] | None = None
    ) -> None:
        """Write a page unless the last build wrote the same (key: its content's hash
        unless given)."""
        data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        key = key or digest(self.salt, data)
        if source is not None:
            self.sources[page] = source
        if self.is_current(page, key):
            self.pages[page] = key
            self.kept += 1
            return
        target = self._target(page)
        folder = os.path.dirname(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        tmp = f"{target}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        self.pages[page] = key
        self.written += 1

    def _target(self, page: str) -> str:
        target = os.path.normpath(os.path.join(self.out, page))
        if os.path.commonpath([target, os.path.normpath(self.out)]) != os.path.normpath(self.out):
            raise IncidentctlError(f"refusing to write {page!r} outside {self.out}")
        return target

    def finish(self, head: str | None) -> None:
        """Remove the pages this build no longer makes; save the manifest."""
        for page in sorted(set(self.old.get("pages") or {}) - set(self.pages)):
            if not isinstance(page, str):
                continue
            try:
                target = self._target(page)
                if os.path.islink(target) or os.path.isfile(target):
                    os.unlink(target)
                    self.removed += 1
            except (OSError, IncidentctlError):
                continue
            self._prune(os.path.dirname(target))
        manifest = {
            "format": FORMAT,
            "salt": self.salt,
            "head": head,
            "pages": self.pages,
            "sources": self.sources,
        }
        os.makedirs(self.out, exist_ok=True)
        tmp = self.out / f"{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(manifest, separators=(",", ":")) + "\n", encoding="utf-8")
        os.replace(tmp, self.out / MANIFEST)

    def _prune(self, folder: str) -> None:
        """Remove folders emptied by removals, up to OUT."""
        top = os.path.normpath(self.out)
        while os.path.normpath(folder) != top and folder.startswith(top):
            try:
                os.rmdir(folder)
            except OSError:
                return
            folder = os.path.dirname(folder)
