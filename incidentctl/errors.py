"""The exceptions incidentctl raises for problems a user can fix."""

from __future__ import annotations


class IncidentctlError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits 1."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        rule: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.rule = rule  # the `check` rule this problem breaks, where it is one

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"


class NotFound(IncidentctlError):
    """No incident (or action item) matches what was asked for."""


class InvalidIncident(IncidentctlError):
    """An incident file, or a value for one, breaks the format."""


class InvalidInput(IncidentctlError):
    """A value given on the command line is not acceptable."""


class NothingToDo(InvalidInput):
    """The change asked for is already in place; nothing was written."""


class ConfigError(IncidentctlError):
    """incidentctl.toml is unreadable or holds an unknown key or a bad value."""


class GitError(IncidentctlError):
    """git refused or failed; the message carries git's own words."""


class WriteError(IncidentctlError):
    """A file could not be written (permissions, a full disk, a link in the way)."""


class EditConflict(IncidentctlError):
    """The file changed while `edit` had it open in the editor; nothing was written."""

    def __init__(self, message: str, *, path: str | None = None, current: str = ""):
        super().__init__(message, path=path)
        self.current = current  # the file as it is now, for a three-way merge
