"""`site build`: the static site and the public status page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidInput
from ..safetext import safe
from .common import CONTEXT, State, emit_json, handle_errors, json_option, warn

if TYPE_CHECKING:
    from ..history.site.build import BuildResult


@click.group("site", context_settings=CONTEXT)
def site() -> None:
    """The static HTML site of the incidents, and the public status page."""


@site.command("build")
@click.argument("out", metavar="OUT", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--public",
    "public_only",
    is_flag=True,
    help="Build only the public status page: public incidents and their public updates.",
)
@click.option(
    "--base-url",
    metavar="URL",
    help="Where the site will be served (https://…): absolute links in feed.xml and status.json.",
)
@click.option("--title", help="The site's name.  [default: Incidents, or Status with --public]")
@json_option
@click.pass_obj
@handle_errors
def build(
    state: State,
    out: Path,
    public_only: bool,
    base_url: str | None,
    title: str | None,
    as_json: bool,
) -> None:
    """Build the static site into OUT (a new or empty folder, or an earlier build).

    \b
    Without --public: every incident but restricted ones (index with filters and
    search, one page each, stats) and the status page under OUT/status/. With
    --public: the status page alone. Only changed pages are written again.
    """
    from ..history.site.build import build_site

    if base_url is not None and not base_url.startswith(("https://", "http://")):
        raise InvalidInput(
            f"--base-url {base_url!r} is not an http(s) URL; e.g. https://status.example.com/"
        )
    bar: list[Any] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            if total < 200 or not sys.stderr.isatty():
                return
            bar.append(click.progressbar(length=total, label="Building pages", file=sys.stderr))
            bar[0].__enter__()
        bar[0].update(done - bar[0].pos)

    try:
        result = build_site(
            state.repo(),
            out,
            public_only=public_only,
            base_url=base_url,
            title=title,
            warn=warn,
            progress=progress,
        )
    finally:
        if bar:
            bar[0].__exit__(None, None, None)
    if as_json:
        emit_json(result.as_json())
    else:
        click.echo(_report(result))


def _report(result: BuildResult) -> str:
    what = (
        f"{result.public_incidents} public incident(s)"
        if result.public
        else f"{result.incidents} incident(s) ({result.rebuilt} built), "
        f"{result.public_incidents} public"
    )
    kind = "status page" if result.public else "site"
    return (
        f"Built the {kind} in {safe(result.out)}: {what}; {result.written} file(s) written, "
        f"{result.kept} unchanged, {result.removed} removed ({result.seconds:.2f} s)"
    )


COMMANDS: list[click.Command] = [site]
