"""The files `check` looks at, found without following a link.

Only regular files inside the repository are incident files. A link (to `/dev/zero`,
to a file outside the repository, or a year folder pointing elsewhere), a FIFO, a
device, or a folder named `*.md` is refused with the reason, never opened; a link
committed to git (mode 120000) is refused even where the work tree holds a plain
file for it (`core.symlinks=false`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..incident.safefs import not_regular, symlink_on_the_way

# git's modes for what is no regular file: a link, a submodule.
GIT_NOT_FILES = {
    "120000": "is committed to git as a symbolic link (mode 120000); incidentctl reads only "
    "regular files: commit the file itself instead of a link",
    "160000": "is committed to git as a submodule (mode 160000), not a file; remove it",
}


@dataclass
class Found:
    """Regular Markdown files (absolute), and entries refused: {path: why}."""

    files: list[Path] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def add(self, other: Found) -> None:
        self.files.extend(p for p in other.files if p not in self.files)
        for rel, why in other.refused.items():
            self.refused.setdefault(rel, why)


def rel_to(root: Path, path: str | os.PathLike[str]) -> str:
    """`path` relative to `root` with `/`, else as given (outside the repository)."""
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return os.fspath(path)


def incident_folder(root: Path, incidents_dir: str) -> Found:
    """Every `*/*.md` of the incidents folder: the year folders' Markdown files."""
    found = Found()
    problem = symlink_on_the_way(root, incidents_dir)
    if problem is not None:
        found.refused[rel_to(root, problem.path)] = problem.reason
        return found
    base = root / incidents_dir
    try:
        years = sorted(os.scandir(base), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for year in years:
        if year.name.startswith("."):
            continue
        if year.is_symlink():
            found.refused[rel_to(root, year.path)] = _why(year.path, folder=True)
        elif year.is_dir(follow_symlinks=False):
            _markdown_in(root, Path(year.path), found)
    return found


def _markdown_in(root: Path, folder: Path, found: Found) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        found.refused[rel_to(root, folder)] = f"cannot be read: {exc.strerror}"
        return
    for entry in entries:
        if not entry.name.endswith(".md"):
            continue
        if entry.is_file(follow_symlinks=False):
            found.files.append(Path(entry.path))
        else:
            found.refused[rel_to(root, entry.path)] = _why(entry.path)


def _why(path: str, *, folder: bool = False) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    return not_regular(path, mode, folder=folder).reason


def targets(root: Path, paths: Iterable[Path], folders: Iterable[str]) -> Found:
    """The files named on the command line; a folder stands for its `*.md` files.

    Nothing is followed: a link named is refused, a linked folder met inside an
    incidents folder is refused, and one met elsewhere is left alone.
    """
    from ..errors import IncidentctlError

    inside = [root / f for f in folders]
    found = Found()
    for given in paths:
        path = Path(os.path.abspath(given))
        rel = rel_to(root, path)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            raise IncidentctlError(f"{given}: no such file or folder") from None
        parent = rel_to(root, path.parent)
        if parent != os.fspath(path.parent) and (bad := symlink_on_the_way(root, parent)):
            found.refused[rel] = f"{rel_to(root, bad.path)} {bad.reason}"
        elif stat.S_ISDIR(mode) and path.name.endswith(".md"):
            found.refused[rel] = not_regular(rel, mode).reason
        elif stat.S_ISDIR(mode):
            _walk(root, path, inside, found)
        elif stat.S_ISREG(mode):
            found.files.append(path)
        else:
            found.refused[rel] = not_regular(rel, mode).reason
    return found


def _walk(root: Path, top: Path, inside: list[Path], found: Found) -> None:
    for folder, dirs, files in os.walk(top, followlinks=False):
        here = Path(folder)
        for name in sorted(dirs):
            path = here / name
            if name.endswith(".md"):  # a folder named *.md, or a link to a folder
                found.refused[rel_to(root, path)] = _why(os.fspath(path))
            elif path.is_symlink() and any(path.is_relative_to(f) for f in inside):
                found.refused[rel_to(root, path)] = _why(os.fspath(path), folder=True)
        for name in sorted(files):
            if name.endswith(".md"):
                path = here / name
                if path.is_symlink() or not path.is_file():
                    found.refused[rel_to(root, path)] = _why(os.fspath(path))
                else:
                    found.files.append(path)
        dirs[:] = sorted(d for d in dirs if not d.endswith(".md"))
