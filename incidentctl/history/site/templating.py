"""The site's Jinja2 environment: sandboxed, every value HTML-escaped, and a version.

Incident text is data, never template source. Unlike the Markdown templates
(incident/render.py, which escape only `.html`/`.xml` names), every site template is
autoescaped, whatever its name, and every string printed first has its control, bidi
and invisible characters written as `\\u202e`-style escapes (safetext), so a title
cannot reorder or hide what a page shows. Only values the site made itself
(rendered Markdown, SVG charts) are passed as Markup.

A repository's `templates/site/NAME` overrides the packaged template of that name, as
for the other templates. The version (a hash of every template and asset in use, and
of incidentctl's version) is part of each page's key in the build manifest: change a
template and every page is built again.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

from ...errors import ConfigError
from ...incident.render import TEMPLATES_DIR, packaged_templates
from ...incident.timeutil import format_duration
from ...safetext import safe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from jinja2.sandbox import ImmutableSandboxedEnvironment

SITE = "site"  # templates/site/*.html.j2
ASSETS = Path(__file__).resolve().parent / "assets"
FORMAT = 1  # of the pages and the manifest; bump to rebuild every page


def _finalize(value: Any) -> Any:
    """Every printed string with unsafe characters made visible (Markup passes as is)."""
    from markupsafe import Markup

    if isinstance(value, str) and not isinstance(value, Markup):
        return value if value.isprintable() else safe(value, keep="\n")
    return "" if value is None else value


def when(value: str | None, form: str = "minute") -> str:
    """An RFC 3339 `…Z` time as `2026-10-14 14:09 UTC` (or the date alone)."""
    if not value:
        return ""
    if form == "date":
        return value[:10]
    return f"{value[:10]} {value[11:16]} UTC"


def duration(seconds: float | None) -> str:
    from datetime import timedelta

    if seconds is None or seconds < 0:
        return ""
    return format_duration(timedelta(seconds=int(seconds)))


@cache
def environment(repo_root: str | None) -> ImmutableSandboxedEnvironment:
    from jinja2 import ChoiceLoader, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    bytecode = None
    if repo_root is not None and os.path.isdir(os.path.join(repo_root, ".git")):
        # Compiled templates, kept per clone (checked against each template's source
        # by Jinja): an incremental build need not compile them again.
        folder = os.path.join(repo_root, ".git", "incidentctl", "site-templates")
        try:
            os.makedirs(folder, exist_ok=True)
            bytecode = FileSystemBytecodeCache(folder)
        except OSError:
            bytecode = None
    loaders = []
    if repo_root is not None and os.path.isdir(os.path.join(repo_root, TEMPLATES_DIR, SITE)):
        loaders.append(FileSystemLoader(os.path.join(repo_root, TEMPLATES_DIR)))
    loaders.append(FileSystemLoader(packaged_templates()))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
        bytecode_cache=bytecode,
    )
    env.filters["when"] = when
    env.filters["duration"] = duration
    return env


def render(name: str, context: dict[str, Any], repo_root: str | None) -> str:
    """Render `site/NAME` with plain data; a broken template is one ConfigError."""
    from jinja2 import TemplateError

    try:
        template = environment(repo_root).get_template(f"{SITE}/{name}")
        return template.render(**context)
    except TemplateError as exc:
        raise ConfigError(f"template {TEMPLATES_DIR}/{SITE}/{name} failed: {exc}") from None


def version(repo_root: str | None) -> str:
    """A hash of what the pages are made with: templates in use, assets, versions."""
    from ... import __version__

    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    packaged = packaged_templates() / SITE
    names = sorted(p.name for p in packaged.glob("*.j2"))
    override = Path(repo_root, TEMPLATES_DIR, SITE) if repo_root else None
    if override is not None and override.is_dir():
        names = sorted(set(names) | {p.name for p in override.glob("*.j2")})
    for name in names:
        source = override / name if override is not None and (override / name).is_file() else None
        data = (source or packaged / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    for asset in sorted(ASSETS.iterdir()):
        data = asset.read_bytes()
        digest.update(f"{asset.name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()[:20]


def assets() -> dict[str, bytes]:
    """The static files every site holds: {name: bytes}."""
    return {p.name: p.read_bytes() for p in sorted(ASSETS.iterdir()) if p.is_file()}
