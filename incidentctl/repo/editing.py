"""`edit`: the whole file replaced by edited text, never over a change made meanwhile."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ..errors import EditConflict, InvalidIncident
from ..incident.file import IncidentFile
from ..incident.validation import refuse_hidden_characters, validate
from ..record import Record
from .base import Change, RepoBase


def edit_start(repo: RepoBase, ref: str) -> EditStart:
    """What `edit` opens: the file's text and its blob at HEAD, to compare at save."""
    _, path, file = repo.read(ref)
    return EditStart(file.text, repo.git.blob_at_head(path))


def save_edit(repo: RepoBase, ident: str, text: str) -> str:
    """Keep edited text that was not written, in the git folder; return its path.

    Never in the incidents folder (it would be taken for an incident) and never
    through a link; a new file each time, readable by its owner only.
    """
    folder = os.path.join(repo.git.git_dir, "incidentctl", "edits")
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = os.path.join(folder, f"{ident}-{stamp}.md")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    return target


def replace(
    repo: RepoBase, ref: str, text: str, *, commit: bool = True, started: EditStart | None = None
) -> Change:
    """Replace the whole file with edited text (from `edit`), checked first.

    With `started` (from `edit_start`), refuse with EditConflict when the file or
    its commit at HEAD changed since: a `log`, `status`, `sync` or hand commit made
    while the editor was open is never overwritten.
    """
    _, path = repo.resolve(ref)

    def mutate(file: IncidentFile) -> str:
        if started is not None and (
            file.text != started.text or repo.git.blob_at_head(path) != started.blob
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

    return repo.change(ref, mutate, commit=commit, command="edit", validate_model=False)


class EditStart(Record):
    """The file as `edit` opened it: its text, and its object ID at HEAD (or None)."""

    __slots__ = ("blob", "text")

    def __init__(self, text: str, blob: str | None):
        self.text, self.blob = text, blob
