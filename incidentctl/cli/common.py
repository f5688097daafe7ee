"""What the command modules share: state, error handling, output, common options."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import IncidentctlError
from ..output import change_report, colour_enabled, to_json
from ..output import commit_note as commit_note  # for the command modules
from ..safetext import safe

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from ..repo.incidents import IncidentRepo

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class State:
    """What the group passes down: where the repository is, opened on first use."""

    def __init__(self, repo_path: Path | None):
        self.repo_path = repo_path
        self.push: bool | None = None  # --push / --no-push of the running command
        self.no_notify = False  # --no-notify of the running command
        self._repo: IncidentRepo | None = None

    def repo(self) -> IncidentRepo:
        if self._repo is None:
            from ..repo.incidents import IncidentRepo

            self._repo = IncidentRepo.open(self.repo_path)
            self._repo.push_after = self._repo.config.push if self.push is None else self.push
        return self._repo


def handle_errors(func: F) -> F:
    """Turn a user-facing error into one line on stderr and exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except IncidentctlError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def style(text: str, **kwargs: Any) -> str:
    """click.style, unless NO_COLOR is set or stdout is not a terminal; escaped either way."""
    text = safe(text)
    return click.style(text, **kwargs) if colour_enabled() else text


def warn(message: str) -> None:
    """`warning: …` on stderr, escaped like everything printed (safetext.safe)."""
    click.echo(f"warning: {safe(message)}", err=True)


def _escape_message(exc: click.ClickException) -> None:
    # click types `message` as Final, but its own show() reads the attribute.
    exc.message = safe(exc.message)  # type: ignore[misc]


class Group(click.Group):
    """The command group; every error message click prints passes through `safe()`.

    Errors quote file names, IDs, user text and git's stderr. Catching them here, where
    each subcommand is parsed and invoked, covers incidentctl's own errors and click's
    usage errors alike, while click still prints them and picks the exit status.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:
            _escape_message(exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            _escape_message(exc)
            raise


def emit_json(data: Any) -> None:
    click.echo(to_json(data))


def complete_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion for incident IDs (by file name: cheap, no parsing)."""
    from click.shell_completion import CompletionItem

    try:
        from ..repo.incidents import IncidentRepo

        repo_opt = ctx.find_root().params.get("repo")
        repo = IncidentRepo.open(Path(repo_opt) if repo_opt else None)
        ids = [ident for ident, _ in repo.files()]
    except Exception:  # completion must never break the shell
        return []
    # IDs hold only letters, digits, '.', '_' and '-' (id_format is checked): safe to offer.
    return [CompletionItem(i) for i in ids if incomplete.lower() in i.lower()]


def id_argument(func: F) -> F:
    return click.argument("incident_id", metavar="ID", shell_complete=complete_ids)(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)


def no_commit_option(func: F) -> F:
    """--no-commit, --push/--no-push (sync after the commit; config `push`) and
    --no-notify (skip the notification rules: comms)."""

    @wraps(func)
    def wrapper(
        *args: Any, push: bool | None = None, no_notify: bool = False, **kwargs: Any
    ) -> Any:
        state = click.get_current_context().ensure_object(State)
        state.push, state.no_notify = push, no_notify
        return func(*args, **kwargs)

    wrapper = click.option(
        "--no-notify", is_flag=True, help="Tell no one: skip the notification rules."
    )(wrapper)
    wrapper = click.option(
        "--push/--no-push",
        default=None,
        help="Run `incidentctl sync` after the commit.  [default: `push` in incidentctl.toml]",
    )(wrapper)
    return click.option(  # type: ignore[return-value]
        "--no-commit", is_flag=True, help="Write the file only; make no git commit."
    )(wrapper)


def report_change(change: Any, as_json: bool = False) -> None:
    """The one line (or JSON document) a changing command prints; then what the
    notification rules do for it (comms), unless --no-notify."""
    click.echo(change_report(change, as_json))
    notify_after(change)


def notify_after(change: Any) -> None:
    from .notices import after_change, events_of

    state = click.get_current_context().find_object(State)
    if state is not None and state._repo is not None:
        after_change(state._repo, change, events_of(change.subject), state.no_notify)
