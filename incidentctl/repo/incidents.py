"""The incident repository: finding, creating and changing incidents, one commit each."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone

from ..errors import (
    EditConflict,
    IncidentctlError,
    InvalidIncident,
    InvalidInput,
    NotFound,
    NothingToDo,
)
from ..incident.blocks import escape_text
from ..incident.config import Config
from ..incident.config import load as load_config
from ..incident.file import (
    MAX_FILE_BYTES,
    Entry,
    IncidentFile,
    encoded_size,
    ensure_writable,
    format_entry,
    remove_stale_temps,
    too_large,
    write_atomic,
)
from ..incident.knowngood import KnownGood
from ..incident.timeutil import format_ts, utcnow
from ..incident.validation import (
    clean_text,
    refuse_hidden_characters,
    validate,
    validation_error,
)
from ..record import Record
from .git import GitRepo, Shelf

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any

    from ..incident.model import Incident, Severity, Status
    from .proc import Process
    from .rows import ActionRow, Commit, Summary, SyncResult

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


def _item_data(item: Any) -> dict[str, Any]:
    """An action item as it is written in the front matter (unset keys left out)."""
    data: dict[str, Any] = item.model_dump(mode="python", exclude_none=True)
    data["status"] = item.status.value
    return data


def slugify(title: str, max_len: int = 48) -> str:
    """A file-name-safe slug: ASCII letters, digits and dashes only."""
    import re
    import unicodedata

    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "incident"


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class IncidentRepo:
    """The incidents of one git repository (the facade the CLI talks to)."""

    def __init__(self, git: GitRepo, config: Config):
        self.git = git
        self.config = config
        self.push_after = False  # sync after each commit (--push, or `push` in config)
        self.known = KnownGood(git.gitdir)

    @classmethod
    def open(
        cls, start: str | os.PathLike[str] | None = None, *, identity: Process | None = None
    ) -> IncidentRepo:
        """The incidents of the repository around `start` (default: the working folder).

        `identity`: a `git var GIT_AUTHOR_IDENT` started early (see GitRepo.discover).
        """
        git = GitRepo.discover(start or os.getcwd(), identity=identity)
        try:
            return cls(git, load_config(git.top, cache_dir=git.gitdir))
        except BaseException:
            git.close()
            raise

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

    def _filename_regex(self) -> re.Pattern[str]:
        import re

        return re.compile(rf"^({self.config.id_regex()})(?:-[^/]*)?\.md$")

    def _names(self, containing: str = "") -> list[tuple[str, str, str, str | None]]:
        """(id, year folder, file name, problem) of every incident file, as plain strings.

        `problem` is None for a regular file, else why the entry is no incident file
        (a link, FIFO, device or folder: safefs); nothing found is followed.
        `containing`: only file names holding this text (lower case), which spares the
        ID matcher the other files when `log` looks for one incident among thousands.
        """
        found, _ = self._scan(containing)
        return found

    def _scan(
        self, containing: str = ""
    ) -> tuple[list[tuple[str, str, str, str | None]], list[tuple[str, str]]]:
        """`_names`, and (path, problem) of the links among the year folders."""
        top = self._checked_top()
        id_of = self.config.id_matcher()
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
            try:
                listing = list(os.scandir(os.path.join(top, folder)))
            except OSError as exc:
                odd.append((folder, f"cannot be read: {exc.strerror}"))
                continue
            for entry in listing:
                name = entry.name
                if containing and containing not in name.lower():
                    continue
                if name.endswith(".md") and (ident := id_of(name)) is not None:
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
        return [(i, base / folder / name) for i, folder, name, bad in self._names() if not bad]

    def unusable(self) -> list[tuple[str, str]]:
        """(path, why) of entries that look like incidents but are no regular files."""
        found, odd = self._scan()
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
        names, odd = self._scan(containing=wanted)
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
        import secrets

        used = {t.lower() for t in taken}
        for _ in range(1000):
            rand = "".join(secrets.choice(_RAND_ALPHABET) for _ in range(4))
            ident = self.config.id_format.format(
                date=now.strftime("%Y%m%d"), time=now.strftime("%H%M"), rand=rand
            )
            if ident.lower() not in used:
                return ident
        raise InvalidInput(
            "could not find a free incident ID; widen `id_format`"
        )  # pragma: no cover

    def new(
        self,
        title: str,
        *,
        severity: str | None = None,
        type: str | None = None,
        environment: str | None = None,
        services: Iterable[str] = (),
        commander: str | None = None,
        summary: str | None = None,
        detected_at: datetime | None = None,
        started_at: datetime | None = None,
        source: dict[str, Any] | None = None,
        opened_at: datetime | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Create an incident file (and commit it): the front matter, summary, timeline.

        `opened_at` backfills an incident declared after the fact (default: now).
        """
        from ..incident.model import Environment, Incident, IncidentType, Status, parse_severity
        from ..incident.render import compose, render

        now = now or utcnow()
        if opened_at is not None:
            if opened_at > now:
                raise InvalidInput(f"--at {format_ts(opened_at)} is in the future")
            now = opened_at
        title = clean_text(title, "title", max_len=200, one_line=True)
        sev = parse_severity(severity or self.config.default_severity)
        try:
            kind = IncidentType(type or self.config.default_type)
        except ValueError:
            raise InvalidInput(
                f"unknown type {type!r}; use one of: {', '.join(t.value for t in IncidentType)}"
            ) from None
        try:
            env = Environment(environment or self.config.default_environment)
        except ValueError:
            raise InvalidInput(
                f"unknown environment {environment!r}; use one of: "
                f"{', '.join(e.value for e in Environment)}"
            ) from None
        service_list = [clean_text(s, "service", max_len=100, one_line=True) for s in services]
        summary_text = clean_text(summary, "summary") if summary else None
        author = self._author()
        if commander:
            commander = clean_text(commander, "commander", max_len=200, one_line=True)
        else:
            commander = self.config.oncall.current(now) or author
        for label, value in (("detected at", detected_at), ("started at", started_at)):
            if value is not None and value > now:
                raise InvalidInput(f"{label} {format_ts(value)} is in the future")

        with self.git.lock():
            if commit:
                self.git.refuse_commit()  # before anything is written
            ident = self.new_id(now, (i for i, _ in self.files()))
            year = now.strftime("%Y")
            path = self.incidents_dir / year / f"{ident}-{slugify(title)}.md"
            metadata: dict[str, Any] = {
                "id": ident,
                "title": title,
                "status": Status.TRIAGE.value,
                "severity": sev.value,
                "type": kind.value,
                "environment": env.value,
                "services": service_list,
                "commander": commander,
                "roles": {},
                "visibility": "internal",
                "detected_at": detected_at,
                "started_at": started_at,
                "opened_at": now,
                "acknowledged_at": None,
                "mitigated_at": None,
                "resolved_at": None,
                "closed_at": None,
                "action_items": [],
            }
            if source is not None:
                metadata["source"] = source
            incident = Incident.model_validate(metadata)
            opened = Entry(now, author, "opened", _opened_text(incident))
            policy = self.config.severities[sev.value]
            body = render(
                "incident.md.j2",
                {
                    "incident": incident.model_dump(mode="json"),
                    # The summary's lines cannot start a heading or block (blocks.py).
                    "summary": "\n".join(escape_text(summary_text.split("\n")))
                    if summary_text
                    else None,
                    "timeline": [line.rstrip("\n") for line in format_entry(opened)],
                    "policy": {
                        "description": policy.description,
                        "response": policy.response,
                        "update_every": policy.update_every,
                    },
                },
                self.root,
            )
            text = compose(metadata, body)
            file = IncidentFile(text, self.rel(path))  # re-read: what we write must parse
            validate(file)
            remove_stale_temps(path.parent, self.git.top)  # left by a command killed mid-write
            write_atomic(path, text, root=self.git.top, shown=self.rel(path))
            self.known.remember(file.front_matter_text, file.id, file.opened_at)
            sha = None
            if commit:
                try:
                    sha = self.git.commit_only(
                        path,
                        f"incident({ident}): open {sev.value}: {one_line(title, 50)}",
                        {"Incident": ident},
                    )
                except BaseException:
                    path.unlink(missing_ok=True)
                    raise
        return Change(
            ident,
            self.rel(path),
            sha,
            "open",
            {
                "status": incident.status.value,
                "severity": sev.value,
                "commander": commander,
                **self._pushed(sha),
            },
        )

    def refuse_commit(self) -> None:
        """Raise when a commit now would be lost: a rebase, merge, ... stopped, or a
        detached HEAD (`GitRepo.unsafe_to_commit`); `edit` asks before the editor opens."""
        self.git.refuse_commit()

    def _author(self) -> str:
        name, _ = self.git.identity()
        return name

    # -- changing -----------------------------------------------------------------

    def _change(
        self,
        ref: str,
        mutate: Callable[[IncidentFile], str],
        *,
        commit: bool,
        validate_model: bool = True,
        command: str = "",
    ) -> Change:
        """Lock, read, mutate, check, write atomically, commit; restore on failure.

        `command` names the command in the commit that carries changes found
        uncommitted in the file (`_commit_found`).
        """
        with self.git.lock():
            if commit:
                self.git.refuse_commit()  # before anything is written
            ident, path, file = self.read(ref)
            original = file.text
            if validate_model:
                validate(file)
            subject = mutate(file)
            if validate_model:
                validate(file)
            if encoded_size(file.text) > MAX_FILE_BYTES:
                raise too_large(file.path, would=True)
            if commit:  # a file that cannot be written gets no commit of what it holds
                ensure_writable(path, root=self.git.top, shown=file.path)
            found = self._commit_found(ident, path, command) if commit else {}
            # Left by a command killed mid-write.
            remove_stale_temps(os.path.dirname(path), self.git.top)
            write_atomic(path, file.text, root=self.git.top, shown=file.path)
            self.known.remember(file.front_matter_text, file.id, file.opened_at)
            sha = None
            if commit:
                try:
                    sha = self.git.commit_only(
                        path, f"incident({ident}): {subject}", {"Incident": ident}
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
        return Change(ident, self.rel(path), sha, subject, {**found, **self._pushed(sha)})

    def _commit_found(self, ident: str, path: str, command: str) -> dict[str, Any]:
        """Commit, on its own and saying so, what the file held that no commit records.

        A hand edit, or an entry written by a command killed before its commit, would
        otherwise ride along in the next command's commit under that command's subject
        (see README, "Git behaviour"). Returns {"carried": {"commit", "changes"}} for
        the report, or {} when the file is as HEAD has it.
        """
        command = command or "a change"
        changes = self.git.uncommitted(path)
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

    def append(
        self,
        ref: str,
        text: str,
        *,
        kind: str = "note",
        at: datetime | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Add a timeline entry (in time order)."""
        text = clean_text(text, "the entry text")
        now = now or utcnow()
        at = at or now
        if at > now:
            raise InvalidInput(f"--at {format_ts(at)} is in the future")
        author = self._author()

        def mutate(file: IncidentFile) -> str:
            opened = file.opened_at
            if opened is not None and at < opened:
                raise InvalidInput(
                    f"--at {format_ts(at)} is before the incident opened ({format_ts(opened)})"
                )
            file.add_entry(Entry(at, author, kind, text))
            return f"log {kind}: {one_line(text, 50)}"

        # A note never touches the front matter, so a schema slip elsewhere in the
        # file (`check` reports it) must not stop a responder from logging mid-outage.
        return self._change(ref, mutate, commit=commit, command="log", validate_model=False)

    def transition(
        self,
        ref: str,
        status: str,
        *,
        message: str | None = None,
        at: datetime | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Move to another status, stamping its lifecycle timestamp and the timeline."""
        from ..incident.model import (
            STATUS_TIMESTAMP,
            TIMESTAMP_ORDER,
            Status,
            check_transition,
            parse_status,
        )

        new = parse_status(status)
        note = clean_text(message, "the message") if message else None
        now = now or utcnow()
        when = at or now
        if when > now:
            raise InvalidInput(f"--at {format_ts(when)} is in the future")
        author = self._author()

        def mutate(file: IncidentFile) -> str:
            incident = validate(file)
            old = incident.status
            move = check_transition(old, new)
            if new == Status.CLOSED:
                self._require_postmortem(file, incident)
            stamps: dict[str, Any] = {}
            if move == "reopen":
                stamps["resolved_at"] = None
            elif move == "forward":
                # Reaching a later status implies the earlier milestones happened.
                target = STATUS_TIMESTAMP.get(new)
                if target:
                    upto = TIMESTAMP_ORDER.index(target)
                    for key in TIMESTAMP_ORDER[1 : upto + 1]:
                        if getattr(incident, key) is None:
                            stamps[key] = when
            previous = [
                getattr(incident, key)
                for key in TIMESTAMP_ORDER
                if getattr(incident, key) is not None and key not in stamps
            ]
            latest = max(previous) if previous else None
            if stamps and latest is not None and when < latest:
                raise InvalidInput(
                    f"--at {format_ts(when)} is before an earlier milestone ({format_ts(latest)})"
                )
            file.set_field("status", new.value)
            for key, value in stamps.items():
                file.set_field(key, value)
            text = f"Status {old.value} → {new.value}" + (f": {note}" if note else "")
            file.add_entry(Entry(when, author, "status", text))
            verb = "reopen" if move == "reopen" else "status"
            return f"{verb} {old.value} -> {new.value}"

        return self._change(ref, mutate, commit=commit, command="status")

    def _require_postmortem(self, file: IncidentFile, incident: Incident) -> None:
        """Closing needs a passing post-mortem when the severity asks for one, and every
        action item with an owner and a due date."""
        from ..incident.model import Status
        from ..incident.rules import action_item_problems, postmortem_problems

        # Judge it as the resolved incident it still is; `closed` adds no rule of its own.
        as_resolved = incident.model_copy(update={"status": Status.RESOLVED})
        problems = postmortem_problems(self.config, file, as_resolved)
        problems += action_item_problems(file, incident)
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            needs = (
                f"{incident.severity.value} needs a passing post-mortem"
                if first.rule.startswith("postmortem")
                else "every action item needs an owner and a due date"
            )
            raise InvalidInput(
                f"{needs} before it is closed: line {first.line}: {first.message}{more}; "
                f"see `incidentctl check {first.path}`"
            )

    def set_severity(
        self,
        ref: str,
        severity: str,
        *,
        reason: str | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Escalate or downgrade."""
        from ..incident.model import parse_severity

        new = parse_severity(severity)
        note = clean_text(reason, "the reason") if reason else None
        now = now or utcnow()
        author = self._author()

        def mutate(file: IncidentFile) -> str:
            incident = validate(file)
            old = incident.severity
            if old == new:
                raise InvalidInput(f"the incident is already {new.value}")
            verb = "escalated" if new.level < old.level else "downgraded"
            file.set_field("severity", new.value)
            text = f"Severity {old.value} → {new.value} ({verb})" + (f": {note}" if note else "")
            file.add_entry(Entry(now, author, "severity", text))
            return f"severity {old.value} -> {new.value}"

        return self._change(ref, mutate, commit=commit, command="severity")

    def assign(
        self,
        ref: str,
        *,
        commander: str | None = None,
        roles: dict[str, str] | None = None,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Set the Incident Commander and other roles."""
        roles = dict(roles or {})
        if "commander" in roles:
            commander = commander or roles.pop("commander")
            roles.pop("commander", None)
        for role in roles:
            if role not in self.config.roles:
                raise InvalidInput(
                    f"unknown role {role!r}; use one of: {', '.join(self.config.roles)} "
                    "(or add it to `roles` in incidentctl.toml)"
                )
        cleaned = {
            role: clean_text(name, f"the {role}", max_len=200, one_line=True)
            for role, name in roles.items()
        }
        if commander is not None:
            commander = clean_text(commander, "the commander", max_len=200, one_line=True)
        if commander is None and not cleaned:
            raise InvalidInput("nothing to assign; give --commander NAME or --role ROLE=NAME")
        now = now or utcnow()
        author = self._author()

        def mutate(file: IncidentFile) -> str:
            incident = validate(file)
            changes = []
            if commander is not None and commander != incident.commander:
                file.set_field("commander", commander)
                changes.append(f"commander={commander}")
            merged = dict(incident.roles)
            for role, name in cleaned.items():
                if merged.get(role) != name:
                    merged[role] = name
                    changes.append(f"{role}={name}")
            if merged != incident.roles:
                file.set_field("roles", merged)
            if not changes:
                raise InvalidInput("those roles are already assigned; nothing changed")
            file.add_entry(Entry(now, author, "role", "Assigned " + ", ".join(changes)))
            return "assign " + one_line(", ".join(changes), 60)

        return self._change(ref, mutate, commit=commit, command="assign")

    def edit_start(self, ref: str) -> EditStart:
        """What `edit` opens: the file's text and its blob at HEAD, to compare at save."""
        _, path, file = self.read(ref)
        return EditStart(file.text, self.git.blob_at_head(path))

    def save_edit(self, ident: str, text: str) -> str:
        """Keep edited text that was not written, in the git folder; return its path.

        Never in the incidents folder (it would be taken for an incident) and never
        through a link; a new file each time, readable by its owner only.
        """
        folder = os.path.join(self.git.git_dir, "incidentctl", "edits")
        os.makedirs(folder, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        target = os.path.join(folder, f"{ident}-{stamp}.md")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        return target

    def replace(
        self, ref: str, text: str, *, commit: bool = True, started: EditStart | None = None
    ) -> Change:
        """Replace the whole file with edited text (from `edit`), checked first.

        With `started` (from `edit_start`), refuse with EditConflict when the file or
        its commit at HEAD changed since: a `log`, `status`, `sync` or hand commit made
        while the editor was open is never overwritten.
        """
        _, path = self.resolve(ref)

        def mutate(file: IncidentFile) -> str:
            if started is not None and (
                file.text != started.text or self.git.blob_at_head(path) != started.blob
            ):
                raise EditConflict(
                    "changed while the editor was open (another command or a git "
                    "operation wrote it); your edit was not written",
                    path=file.path,
                    current=file.text,
                )
            edited = IncidentFile(text, file.path)
            refuse_hidden_characters(edited)
            validate(edited)
            if edited.id != file.id:
                raise InvalidIncident(
                    f"`id` changed from {file.id} to {edited.id}; an incident keeps its ID",
                    path=file.path,
                    line=edited.key_line("id"),
                )
            file.lines, file.fm_end, file.data = edited.lines, edited.fm_end, edited.data
            return "edit"

        return self._change(ref, mutate, commit=commit, command="edit", validate_model=False)

    # -- many clones ------------------------------------------------------------------

    def sync(
        self,
        *,
        attempts: int = 10,
        sleep: Callable[[float], None] | None = None,
        now: datetime | None = None,
    ) -> SyncResult:
        """Fetch, rebase local commits onto the remote branch, push; retry when beaten.

        Never force-pushes. A conflict the merge driver cannot settle aborts the rebase,
        so the repository is left as it was, and the error says what to do. Uncommitted
        changes are put aside before a rebase and back after it; a sync that cannot put
        them back cleanly (the remote changed the same lines) stops before pushing and
        returns the clone, commits and uncommitted changes, to exactly where it was.
        """
        with self.git.lock():
            unsafe = self.git.unsafe_to_commit()
            if unsafe is not None:
                reason, remedy = unsafe
                raise InvalidInput(f"not syncing: {reason}; {remedy}, then sync")
            left = self.git.shelved_by(SHELF_MESSAGE)
            if left:
                raise InvalidInput(
                    f"an earlier sync was interrupted and your uncommitted changes are still in "
                    f"`git stash list` ({left}); put them back with `git stash pop --index {left}`,"
                    " then run `incidentctl sync`"
                )
            remote, branch = self.git.upstream()
            shelf: list[Shelf] = []
            try:
                result = self._sync(remote, branch, attempts, sleep, now, shelf)
            except BaseException:
                if shelf and not self.git.unshelve(shelf[0], at_base=True):
                    raise IncidentctlError(  # pragma: no cover (a stash made here applies here)
                        f"sync stopped, and your uncommitted changes are in `git stash list` "
                        f"({shelf[0].sha[:10]}); run `git reset --hard {shelf[0].base[:10]}` "
                        "and `git stash pop --index`"
                    ) from None
                raise
            if shelf and not self.git.unshelve(shelf[0]):
                raise IncidentctlError(  # pragma: no cover (shelf_conflicts said it goes back)
                    f"pushed to {remote}/{branch}, but your uncommitted changes did not go back "
                    f"cleanly; they are in `git stash list` ({shelf[0].sha[:10]}): run "
                    "`git stash pop --index` and resolve what it reports"
                )
            return result

    def _sync(
        self,
        remote: str,
        branch: str,
        attempts: int,
        sleep: Callable[[float], None] | None,
        now: datetime | None,
        shelf: list[Shelf],
    ) -> SyncResult:
        """The fetch-rebase-push loop of `sync`; `shelf` receives what it put aside."""
        import random
        import time

        from .rows import SyncResult

        pause = sleep or time.sleep
        tracking = f"refs/remotes/{remote}/{branch}"
        renumbered: list[tuple[str, str]] = []
        pulled = 0
        shelved = False
        for attempt in range(1, attempts + 1):
            if self.git.fetch(remote, branch):
                ahead, behind = self.git.counts(tracking)
                if behind:
                    if not shelved:
                        shelved = True
                        put = self.git.shelve(SHELF_MESSAGE)
                        shelf.extend([put] if put else [])
                    self.git.rebase(tracking)
                    pulled += behind
                renumbered += self._renumber_collisions(tracking, remote, now)
                if shelf:
                    conflicts = self.git.shelf_conflicts(shelf[0])
                    if conflicts:
                        raise InvalidInput(_shelf_conflict_message(conflicts, remote, branch))
                ahead, _ = self.git.counts(tracking)
                if ahead == 0:
                    return SyncResult(remote, branch, 0, attempt, pulled, renumbered)
            else:
                ahead = int(self.git.run("rev-list", "--count", "HEAD").strip())
            if self.git.push(remote, branch):
                return SyncResult(remote, branch, ahead, attempt, pulled, renumbered)
            # Someone pushed first: back off with jitter so racing clones spread out.
            pause(random.uniform(0.05, 0.25) * 2 ** min(attempt, 5))
        raise InvalidInput(
            f"{remote}/{branch} kept changing during {attempts} attempts; "
            "your commits are safe here: run `incidentctl sync` again"
        )

    def _pushed(self, sha: str | None) -> dict[str, Any]:
        """Sync after a commit when asked to; {"pushed": "origin/main"} when it did."""
        if sha is None or not self.push_after:
            return {}
        try:
            result = self.sync()
        except IncidentctlError as exc:
            raise IncidentctlError(
                f"committed {sha[:10]} here, but sync failed: {exc.message}"
            ) from None
        return {"pushed": f"{result.remote}/{result.branch}"}

    def _renumber_collisions(
        self, tracking: str, remote: str, now: datetime | None
    ) -> list[tuple[str, str]]:
        """Give a new ID to a local, unpushed incident whose ID the remote already has."""
        pattern = self._filename_regex()
        added = {
            (self.root / rel).resolve()
            for rel in self.git.added_since(tracking, self.config.incidents_dir)
        }
        if not added:
            return []
        by_id: dict[str, list[Path]] = {}
        for ident, path in self.files():
            by_id.setdefault(ident.lower(), []).append(path.resolve())
        done = []
        taken = set(by_id)
        for paths in list(by_id.values()):
            local = [p for p in paths if p in added]
            if len(paths) < 2 or not local or len(local) == len(paths):
                continue
            for path in local:
                old_id = pattern.match(path.name).group(1)  # type: ignore[union-attr]
                file = IncidentFile.read(path, self.rel(path), root=self.git.top)
                opened = file.data.get("opened_at")
                when = opened if isinstance(opened, datetime) and opened.tzinfo else now
                new_id = self.new_id(when or utcnow(), taken)
                taken.add(new_id.lower())
                target = path.with_name(path.name.replace(old_id, new_id, 1))
                file.set_field("id", new_id)
                _rename_mentions(file, old_id, new_id)
                write_atomic(target, file.text, root=self.git.top, shown=self.rel(target))
                path.unlink()
                self.git.commit_only(
                    [path, target],
                    f"incident({new_id}): renumber from {old_id} (the ID is taken on {remote})",
                    {"Incident": new_id},
                )
                done.append((old_id, new_id))
        return done

    # -- post-mortem and action items ------------------------------------------------

    def postmortem(self, ref: str, *, commit: bool = True) -> Change:
        """Add the post-mortem sections the incident lacks, prefilled from it."""
        from ..incident.postmortem import add_sections

        added: list[str] = []

        def mutate(file: IncidentFile) -> str:
            incident = validate(file)
            before = file.text
            added.extend(add_sections(file, incident, self.root))
            if file.text == before:
                raise NothingToDo("the post-mortem sections are all there; nothing changed")
            what = ", ".join(added) if added else "refresh figures and action items"
            return "postmortem: " + one_line(what, 60)

        change = self._change(ref, mutate, commit=commit, command="postmortem")
        return Change(
            change.id, change.path, change.commit, change.subject, {**change.extra, "added": added}
        )

    def add_action(
        self,
        ref: str,
        title: str,
        *,
        owner: str,
        due: date,
        now: datetime | None = None,
        commit: bool = True,
    ) -> Change:
        """Add an action item (AI-N, the next free number) and note it in the timeline."""
        from ..incident.model import ActionItem

        title = clean_text(title, "the action item title", max_len=200, one_line=True)
        owner = clean_text(owner, "the owner", max_len=200, one_line=True)
        now = now or utcnow()
        author = self._author()
        new_id: list[str] = []

        def mutate(file: IncidentFile) -> str:
            incident = validate(file)
            numbers = [int(item.id[3:]) for item in incident.action_items]
            item = ActionItem(
                id=f"AI-{max(numbers, default=0) + 1}", title=title, owner=owner, due=due
            )
            new_id.append(item.id)
            items = [*incident.action_items, item]
            file.set_field("action_items", [_item_data(i) for i in items])
            text = f"Action item {item.id} added: {title} (owner {owner}, due {due.isoformat()})"
            file.add_entry(Entry(now, author, "action", text))
            self._refresh_actions(file)
            return f"action {item.id}: {one_line(title, 50)}"

        change = self._change(ref, mutate, commit=commit, command="action add")
        return Change(
            change.id,
            change.path,
            change.commit,
            change.subject,
            {**change.extra, "action": new_id[0]},
        )

    def complete_action(
        self, ref: str, action_id: str, *, now: datetime | None = None, commit: bool = True
    ) -> Change:
        """Mark an action item done."""
        wanted = action_id.strip().upper()
        if wanted.isdigit():
            wanted = f"AI-{wanted}"
        now = now or utcnow()
        author = self._author()

        def mutate(file: IncidentFile) -> str:
            from ..incident.model import ActionStatus

            incident = validate(file)
            items = list(incident.action_items)
            index = next((n for n, it in enumerate(items) if it.id == wanted), None)
            if index is None:
                known = ", ".join(i.id for i in items) or "none"
                raise NotFound(f"{incident.id} has no action item {action_id!r} (it has: {known})")
            item = items[index]
            if item.status == ActionStatus.DONE:
                raise NothingToDo(f"{wanted} is already done")
            items[index] = item.model_copy(update={"status": ActionStatus.DONE})
            file.set_field("action_items", [_item_data(i) for i in items])
            file.add_entry(Entry(now, author, "action", f"Action item {wanted} done: {item.title}"))
            self._refresh_actions(file)
            return f"action {wanted} done"

        return self._change(ref, mutate, commit=commit, command="action done")

    def link_issues(self, ref: str, links: dict[str, str], *, commit: bool = True) -> Change:
        """Record GitHub issue URLs in action items (`issues sync --write-back`)."""

        def mutate(file: IncidentFile) -> str:
            incident = validate(file)
            items = [
                item.model_copy(update={"issue": links[item.id]}) if item.id in links else item
                for item in incident.action_items
            ]
            file.set_field("action_items", [_item_data(i) for i in items])
            self._refresh_actions(file)
            return f"link action items to issues ({', '.join(sorted(links))})"

        return self._change(ref, mutate, commit=commit, command="issues sync --write-back")

    def _refresh_actions(self, file: IncidentFile) -> None:
        from ..incident.postmortem import refresh_actions

        refresh_actions(file, validate(file), self.root)

    def actions(
        self,
        ref: str | None = None,
        *,
        open_only: bool = False,
        overdue: bool = False,
        today: date | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> list[ActionRow]:
        """Action items of one incident, or of all, filtered."""
        from ..incident.model import ActionStatus
        from .rows import ActionRow

        today = today or utcnow().date()
        if ref is not None:
            _, incident = self.get(ref)
            incidents = [(incident, self.resolve(ref)[1])]
        else:
            incidents = self.valid_incidents(warn)
        rows = []
        for incident, path in incidents:
            for item in incident.action_items:
                is_open = item.status == ActionStatus.OPEN
                late = is_open and item.due is not None and item.due < today
                if (open_only and not is_open) or (overdue and not late):
                    continue
                rows.append(
                    ActionRow(
                        incident.id,
                        self.rel(path),
                        item.id,
                        item.title,
                        item.owner,
                        item.due,
                        item.status.value,
                        item.issue,
                        late,
                    )
                )
        return rows

    # -- reading many -------------------------------------------------------------------

    def valid_incidents(
        self, warn: Callable[[str], None] | None = None
    ) -> list[tuple[Incident, Path]]:
        """Every incident that parses and validates; the others are reported to `warn`."""
        from pydantic import ValidationError

        from ..incident.model import Incident

        out = []
        if warn:
            for rel, why in self.unusable():
                warn(f"skipped {rel}: {why}")
        for _, path in self.files():
            rel = self.rel(path)
            try:
                file = IncidentFile.read(path, rel, root=self.git.top)
                out.append((Incident.model_validate(file.data), path))
            except InvalidIncident as exc:
                if warn:
                    warn(f"skipped {exc}")
            except ValidationError as exc:
                if warn:
                    warn(f"skipped {validation_error(exc, file)}")
        return out

    def summaries(
        self,
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
        for incident, path in self.valid_incidents(warn):
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
                    self.rel(path),
                    incident.commander,
                )
            )
        rows.sort(key=lambda r: r.opened_at, reverse=True)
        return rows

    def history(self, ref: str) -> tuple[str, list[Commit]]:
        ident, path = self.resolve(ref)
        return ident, self.git.history(path)


def _rename_mentions(file: IncidentFile, old_id: str, new_id: str) -> None:
    """The body's mentions of a renumbered incident's old ID (its timeline, the post-mortem's
    tables, a path to its file) name the new one: the file only ever spoke of itself."""
    import re

    mention = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(old_id)}(?![A-Za-z0-9_])")
    for index in range(file.body_start, len(file.lines)):
        file.lines[index] = mention.sub(new_id, file.lines[index])


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


SHELF_MESSAGE = "incidentctl sync: your uncommitted changes, put aside during the sync"


def _shelf_conflict_message(files: list[str], remote: str, branch: str) -> str:
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return (
        f"sync stopped: your uncommitted change to {shown} conflicts with what "
        f"{remote}/{branch} changed; nothing was changed here (your commits and uncommitted "
        "changes are as they were). To go on: `git stash`, `incidentctl sync`, "
        "`git stash pop`, then resolve the conflict markers it leaves and `git stash drop`; "
        "or commit the change first and run `incidentctl sync`"
    )


class EditStart(Record):
    """The file as `edit` opened it: its text, and its object ID at HEAD (or None)."""

    __slots__ = ("blob", "text")

    def __init__(self, text: str, blob: str | None):
        self.text, self.blob = text, blob


def _opened_text(incident: Incident) -> str:
    parts = [f"Incident opened: {incident.severity.value} {incident.type.value}"]
    parts.append(f" in {incident.environment.value}")
    if incident.services:
        parts.append(f" ({', '.join(incident.services)})")
    parts.append(f". Commander: {incident.commander}.")
    return "".join(parts)
