"""What every change to an incident repository stands on: finding incident files, and the
one way to change one (lock, read, change, check, write atomically, commit)."""

from __future__ import annotations

import os
from datetime import datetime

from ..errors import IncidentctlError, InvalidIncident, InvalidInput, NotFound
from ..incident.config import Config
from ..incident.file import IncidentFile
from ..incident.knowngood import KnownGood
from ..incident.storage import (
    MAX_FILE_BYTES,
    encoded_size,
    ensure_writable,
    remove_stale_temps,
    too_large,
    write_atomic,
)
from ..incident.validation import validate
from ..record import Record
from .git import GitRepo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any

    from ..incident.model import Incident
    from .proc import Process

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_RAND_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford: no i, l, o, u
SUBJECT_MAX = 72


class Change(Record):
    """What a changing command did."""

    __slots__ = ("id", "path", "commit", "subject", "extra")  # noqa: RUF023 (field order)

    def __init__(
        self,
        id: str,
        path: str,  # relative to the repository root, POSIX separators
        commit: str | None,
        subject: str,
        extra: dict[str, Any],  # command-specific facts for the report and --json
    ):
        self.id = id
        self.path = path
        self.commit = commit
        self.subject = subject
        self.extra = extra


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class RepoBase:
    """The incident files of one git repository; `IncidentRepo` (incidents.py) adds the
    changes and reports built on it."""

    def __init__(self, git: GitRepo, config: Config):
        self.git = git
        self.config = config
        self.push_after = False  # sync after each commit (--push, or `push` in config)
        self.known = KnownGood(git.gitdir)

    @property
    def root(self) -> Path:
        return self.git.root

    @property
    def incidents_dir(self) -> Path:
        return self.root / self.config.incidents_dir

    @property
    def incidents_top(self) -> str:
        """`incidents_dir` as a string (what the `log` path works with)."""
        return os.path.join(self.git.top, self.config.incidents_dir)

    def rel(self, path: str | os.PathLike[str]) -> str:
        """A path inside the repository, relative to its root, with `/`."""
        rel = os.path.relpath(path, self.git.top)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise ValueError(f"{os.fspath(path)} is not inside {self.git.top}")
        return rel.replace(os.sep, "/")

    # -- finding ------------------------------------------------------------------

    def filename_regex(self) -> re.Pattern[str]:
        import re

        return re.compile(rf"^({self.config.id_regex()})(?:-[^/]*)?\.md$")

    def names(self, containing: str = "") -> list[tuple[str, str, str, str | None]]:
        """(id, year folder, file name, problem) of every incident file, as plain strings.

        `problem` is None for a regular file, else why the entry is no incident file
        (a link, FIFO, device or folder: safefs); nothing found is followed.
        `containing`: only file names holding this text (lower case), which spares the
        ID matcher the other files when `log` looks for one incident among thousands.
        """
        found, _ = self.scan(containing)
        return found

    def scan(
        self, containing: str = "", *, many: bool = False
    ) -> tuple[list[tuple[str, str, str, str | None]], list[tuple[str, str]]]:
        """`names`, and (path, problem) of the links among the year folders. `many`:
        every name will be matched (a compiled pattern pays off; `log` wants none)."""
        from ..incident.safefs import entry_problem

        top = self._checked_top()
        id_of = self.config.id_matcher_re() if many else self.config.id_matcher()
        found = []
        odd: list[tuple[str, str]] = []
        try:
            entries = list(os.scandir(top))
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        except OSError as exc:
            raise IncidentctlError(
                f"cannot read the incidents folder {self.config.incidents_dir}: {exc.strerror}"
            ) from None
        folders = []
        for entry in entries:
            if entry.name[:1] == ".":
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.name)
            elif entry.is_symlink():
                odd.append((entry.name, _problem(entry, folder=True)))
        # os.scandir and strings: no Path object per file on the hot path (`log`).
        for folder in folders:
            where = os.path.join(top, folder)
            try:  # a few names of thousands (`containing`): no DirEntry for each
                listing: list[Any] = (
                    [n for n in os.listdir(where) if containing in n.lower()]
                    if containing
                    else list(os.scandir(where))
                )
            except OSError as exc:
                odd.append((folder, f"cannot be read: {exc.strerror}"))
                continue
            for entry in listing:
                name = entry if containing else entry.name
                if name.endswith(".md") and (ident := id_of(name)) is not None:
                    if containing:
                        problem = entry_problem(os.path.join(where, name))
                    else:
                        problem = None if entry.is_file(follow_symlinks=False) else _problem(entry)
                    found.append((ident, folder, name, problem))
        prefix = self.config.incidents_dir.rstrip("/") + "/"
        return sorted(found), [(prefix + name, why) for name, why in sorted(odd)]

    def _checked_top(self) -> str:
        """`incidents_top`, once no part of `incidents_dir` is found to be a link."""
        from ..errors import ConfigError
        from ..incident.safefs import symlink_on_the_way

        problem = symlink_on_the_way(self.git.top, self.config.incidents_dir)
        if problem is not None:
            where = self.rel(problem.path)
            of = "" if where == self.config.incidents_dir else f" ({self.config.incidents_dir})"
            raise ConfigError(f"the incidents folder{of}: {where} {problem.reason}")
        return self.incidents_top

    def files(self) -> list[tuple[str, Path]]:
        """(id, path) of every incident file, by file name, sorted by ID.

        Only regular files: the other entries are in `unusable()`.
        """
        base = self.incidents_dir
        return [(i, base / folder / name) for i, folder, name, bad in self.names() if not bad]

    def unusable(self) -> list[tuple[str, str]]:
        """(path, why) of entries that look like incidents but are no regular files."""
        found, odd = self.scan()
        top = self.config.incidents_dir.rstrip("/")
        bad = [(f"{top}/{folder}/{name}", why) for _, folder, name, why in found if why]
        return sorted(bad + odd)

    def resolve(self, ref: str) -> tuple[str, Path]:
        """The incident whose ID is `ref` or ends with it (case-insensitive)."""
        from pathlib import Path

        ident, path = self._locate(ref)
        return ident, Path(path)

    def _locate(self, ref: str) -> tuple[str, str]:
        """`resolve` with the path as a string (what `log` needs)."""
        wanted = ref.strip().lower()
        if not wanted or not _ID_CHARS.issuperset(wanted):
            raise NotFound(f"{ref!r} is not an incident ID; see `incidentctl list`")
        names, odd = self.scan(containing=wanted)
        exact = [n for n in names if n[0].lower() == wanted]
        matches = exact or [n for n in names if n[0].lower().endswith(wanted)]
        if not matches:
            unread = f" ({odd[0][0]} {odd[0][1]})" if odd else ""
            raise NotFound(f"no incident matches {ref!r}; see `incidentctl list`{unread}")
        distinct = list(dict.fromkeys(n[0] for n in matches))
        if len(distinct) > 1:
            shown = ", ".join(distinct[:5])
            more = f" and {len(distinct) - 5} more" if len(distinct) > 5 else ""
            raise NotFound(
                f"{ref!r} matches {len(distinct)} incidents ({shown}{more}); give more of the ID"
            )
        top = self.config.incidents_dir.rstrip("/")
        if len(matches) > 1:
            paths = ", ".join(f"{top}/{folder}/{name}" for _, folder, name, _ in matches)
            raise InvalidIncident(
                f"{distinct[0]} is the ID of {len(matches)} files ({paths}); an ID names one "
                "incident: remove the copy, or give one a new ID (its file name and `id`), "
                "then run the command again",
                rule="id-unique",
            )
        ident, folder, name, problem = matches[0]
        if problem is not None:
            raise InvalidIncident(problem, path=f"{top}/{folder}/{name}", rule="file-type")
        return ident, os.path.join(self.incidents_top, folder, name)

    def read(self, ref: str) -> tuple[str, str, IncidentFile]:
        ident, path = self._locate(ref)
        file = IncidentFile.read(path, self.rel(path), known=self.known, root=self.git.top)
        if file.id != ident:
            raise InvalidIncident(
                f"the file name says {ident} but `id` is {file.id!r}; make them agree",
                path=self.rel(path),
                line=file.key_line("id"),
            )
        return ident, path, file

    def ensure_writable(self, ref: str) -> None:
        """Refuse now, not after the editor closes, a file no command could change."""
        _, path = self._locate(ref)
        ensure_writable(path, root=self.git.top, shown=self.rel(path))

    def get(self, ref: str) -> tuple[IncidentFile, Incident]:
        _, _, file = self.read(ref)
        return file, validate(file)

    # -- creating -----------------------------------------------------------------

    def new_id(self, now: datetime, taken: Iterable[str] = ()) -> str:
        used = {t.lower() for t in taken}
        for _ in range(1000):
            # 32 letters: a byte's low 5 bits pick one uniformly (no `secrets`, OpenSSL).
            rand = "".join(_RAND_ALPHABET[byte & 31] for byte in os.urandom(4))
            ident = self.config.id_format.format(
                date=now.strftime("%Y%m%d"), time=now.strftime("%H%M"), rand=rand
            )
            if ident.lower() not in used:
                return ident
        raise InvalidInput(
            "could not find a free incident ID; widen `id_format`"
        )  # pragma: no cover

    def refuse_commit(self) -> None:
        """Raise when a commit now would be lost: a rebase, merge, ... stopped, or a
        detached HEAD (`GitRepo.unsafe_to_commit`); `edit` asks before the editor opens."""
        self.git.refuse_commit()

    def author(self) -> str:
        name, _ = self.git.identity()
        return name

    # -- changing -----------------------------------------------------------------

    def pushed(self, change: Change) -> Change:
        """What happens after a commit: nothing here; IncidentRepo syncs when asked to."""
        return change

    def change(
        self,
        ref: str,
        mutate: Callable[[IncidentFile], str],
        *,
        commit: bool,
        validate_model: bool = True,
        command: str = "",
        trailers: dict[str, str] | None = None,
    ) -> Change:
        """Lock, read, mutate, check, write atomically, commit; restore on failure.

        `command` names the command in the commit that carries changes found
        uncommitted in the file (`_commit_found`); `trailers` go on the commit after
        `Incident:`.
        """
        with self.git.lock():
            if commit:
                self.git.refuse_commit()  # before anything is written
            ident, path, file = self.read(ref)
            original = file.text
            front_matter = file.front_matter_text
            if validate_model:
                validate(file)
            subject = mutate(file)
            front: dict[str, Any] | bool | None = None
            if validate_model:
                front = _front_json(file, validate(file))
            elif file.front_matter_text != front_matter:
                front = False  # changed and not validated: nothing to cache
            sha, found = self.save_change(
                ident,
                path,
                file,
                original,
                subject,
                commit=commit,
                command=command,
                trailers=trailers,
                front=front,
            )
        return self.pushed(Change(ident, self.rel(path), sha, subject, found))

    def save_change(
        self,
        ident: str,
        path: str,
        file: IncidentFile,
        original: str,
        subject: str,
        *,
        commit: bool,
        command: str,
        trailers: dict[str, str] | None,
        front: dict[str, Any] | bool | None,
        started: Process | None = None,
    ) -> tuple[str | None, dict[str, Any]]:
        """The rest of `change` once the file is changed in memory (the lock held):
        check its size, commit on its own what it held uncommitted, write it
        atomically, commit it, and put the old text back if that commit fails.

        `front`: the new front matter as `show --json` prints it, for the cache of
        front matters (frontcache.py); None when the front matter did not change
        (what the cache holds for the old bytes goes on), False when it changed
        unchecked. `started`: `git status` begun early (`start_uncommitted`).
        Returns the commit's SHA (None with `commit` false) and the report's extra.
        """
        from .frontcache import remember

        try:
            if encoded_size(file.text) > MAX_FILE_BYTES:
                raise too_large(file.path, would=True)
            if commit:  # a file that cannot be written gets no commit of what it holds
                ensure_writable(path, root=self.git.top, shown=file.path)
            found = self._commit_found(ident, path, command, started) if commit else {}
        finally:
            if started is not None:
                started.kill()  # (reaped already when its answer was read)
        # Left by a command killed mid-write.
        remove_stale_temps(os.path.dirname(path), self.git.top)
        text = file.text
        write_atomic(path, text, root=self.git.top, shown=file.path)
        self.known.remember(file.front_matter_text, file.id, file.opened_at)
        if front is None or isinstance(front, dict):
            old = original.encode("utf-8", errors="surrogateescape") if front is None else None
            remember(self.git.gitdir, old, text.encode("utf-8", errors="surrogateescape"), front)
        sha = None
        if commit:
            try:
                sha = self.git.commit_only(
                    path,
                    f"incident({ident}): {subject}",
                    {"Incident": ident, **(trailers or {})},
                )
            except IncidentctlError as exc:
                # Nothing half-done: the old file stays.
                write_atomic(path, original, root=self.git.top, shown=file.path)
                if found:
                    exc.message += (
                        f" (the changes found uncommitted in the file before it are "
                        f"committed on their own, as {found['carried']['commit'][:10]})"
                    )
                raise
            except BaseException:
                write_atomic(path, original, root=self.git.top, shown=file.path)
                raise
        return sha, found

    def _commit_found(
        self, ident: str, path: str, command: str, started: Process | None = None
    ) -> dict[str, Any]:
        """Commit, on its own and saying so, what the file held that no commit records.

        A hand edit, or an entry written by a command killed before its commit, would
        otherwise ride along in the next command's commit under that command's subject
        (see README, "Git behaviour"). Returns {"carried": {"commit", "changes"}} for
        the report, or {} when the file is as HEAD has it.
        """
        command = command or "a change"
        changes = self.git.uncommitted(path, started=started)
        if changes is None:
            return {}
        what = "file" if changes.startswith("new file") else "changes"
        rel = self.rel(path)
        sha = self.git.commit_only(
            path,
            f"incident({ident}): uncommitted {what} found before {command} ({changes})",
            {"Incident": ident},
            body=_wrap(
                f"`incidentctl {command}` found {rel} changed since its last commit "
                f"({changes}): a hand edit, or an entry written by a command that "
                "stopped before committing. This commit holds those changes as they were "
                f"found, so that the commit of `{command}` that follows holds only its own."
            ),
        )
        return {"carried": {"commit": sha, "changes": changes}}

    # -- many clones ------------------------------------------------------------------

    # -- post-mortem and action items ------------------------------------------------

    # -- reading many -------------------------------------------------------------------


def _front_json(file: IncidentFile, incident: Incident) -> dict[str, Any]:
    from ..incident.jsonview import front_matter_json

    return front_matter_json(file, incident)


def _wrap(text: str, width: int = 72) -> str:
    """`text` broken at spaces into lines of at most `width` (a commit message body)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _problem(entry: os.DirEntry[str], *, folder: bool = False) -> str:
    """Why a directory entry is no incident file (or, with `folder`, no year folder)."""
    from ..incident.safefs import not_regular

    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    return not_regular(entry.path, mode, folder=folder).reason
