"""Jinja2 rendering of the packaged (or repository-overridden) templates.

Incident text is data handed to a template, never template source: the environment
is sandboxed and immutable, undefined names are errors, and Markdown is not escaped
while HTML is (FIELD-NOTES.md, Jinja2).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES_DIR = "templates"


def packaged_templates() -> Path:
    """The default templates: inside an installed package, or the checkout's templates/."""
    package = Path(__file__).resolve().parent.parent  # incidentctl/
    shipped = package / TEMPLATES_DIR
    if shipped.is_dir():
        return shipped
    return package.parent / TEMPLATES_DIR  # a source checkout or an editable install


@cache
def environment(repo_root: Path | None) -> ImmutableSandboxedEnvironment:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, select_autoescape
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    searchpath = []
    if repo_root is not None and (repo_root / TEMPLATES_DIR).is_dir():
        searchpath.append(FileSystemLoader(repo_root / TEMPLATES_DIR))
    searchpath.append(FileSystemLoader(packaged_templates()))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(searchpath),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=select_autoescape(["html", "xml"], default=False),
    )
    env.filters["cell"] = markdown_cell
    return env


def markdown_cell(value: object) -> str:
    """Text that stays inside one Markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def render(name: str, context: dict[str, Any], repo_root: Path | None = None) -> str:
    """Render a template by name with plain data (dicts, lists, strings)."""
    from jinja2 import TemplateError

    try:
        return environment(repo_root).get_template(name).render(**context)
    except TemplateError as exc:
        where = f"{TEMPLATES_DIR}/{name}"
        raise ConfigError(f"template {where} failed: {exc}") from None


def compose(metadata: dict[str, Any], body: str) -> str:
    """A new incident file: front matter and body, written with python-frontmatter."""
    import frontmatter

    from .yamlio import dump_front_matter, load_yaml

    class _Handler(frontmatter.default_handlers.YAMLHandler):
        def export(self, metadata: dict[str, Any], **kwargs: object) -> str:
            return dump_front_matter(metadata).rstrip("\n")

        def load(self, fm: str, **kwargs: object) -> Any:
            return load_yaml(fm, path="<new incident>", first_line=2)

    post = frontmatter.Post(body.strip("\n"), handler=_Handler(), **metadata)
    return str(frontmatter.dumps(post)) + "\n"
