"""`incidentctl init`: lay out an incident repository without overwriting anything."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError, InvalidInput
from .incidentfile import write_atomic

CONFIG_TEMPLATE = """\
# incidentctl settings. Every key is optional; the values shown are the defaults.
# Docs: the "Configuration" section of the incidentctl README.

# incidents_dir = "incidents"
# id_format = "INC-{date}-{rand}"      # {date}=YYYYMMDD, {time}=HHMM, {rand}=4 random chars
# default_severity = "SEV-3"           # used by `open` when no terminal can ask
# default_type = "outage"              # outage, security, performance, data, integration
# default_environment = "production"   # production, staging, development
# roles = ["commander", "deputy", "comms", "scribe", "ops_lead", "liaison"]

# [severities.SEV-1]
# description = "Critical: full outage, data loss or security breach; all hands"
# response = "immediate"
# update_every = "30m"
# postmortem = true                    # a post-mortem is required before closing

# [severities.SEV-2]
# response = "< 15 min to 1 h"
# update_every = "2h"
# postmortem = true

# [postmortem]
# required_sections = ["Summary", "Impact", "Timeline", "Root Cause", "Detection",
#   "Resolution", "Action Items", "What Went Well", "What Went Wrong", "Lessons Learned"]

# [oncall]
# rotation = ["alice", "bob", "carol"]  # `open` makes the person on call the commander
# start = 2026-01-05T09:00:00Z          # when rotation[0]'s first shift began
# shift = "1w"
"""


@dataclass(frozen=True)
class Planned:
    path: str
    content: str


WORKFLOWS = ("postmortem-check.yml", "action-items.yml")
INSTALL_MARK = "@INCIDENTCTL_INSTALL@"


def default_install() -> str:
    """What the workflows `pip install`: this very version of incidentctl."""
    from . import __version__

    return f"incidentctl=={__version__}"


def workflow_text(name: str, install: str | None = None) -> str:
    """A packaged GitHub workflow with its install line filled in.

    The workflows are YAML full of `${{ }}` expressions, so they are not Jinja
    templates: one marker is replaced, nothing else.
    """
    from .render import packaged_templates

    text = (packaged_templates() / "workflows" / name).read_text(encoding="utf-8")
    return text.replace(INSTALL_MARK, install or default_install())


def planned_files(install: str | None = None) -> list[Planned]:
    return [
        Planned("incidentctl.toml", CONFIG_TEMPLATE),
        Planned("incidents/.gitkeep", ""),
        *(Planned(f".github/workflows/{name}", workflow_text(name, install)) for name in WORKFLOWS),
    ]


def init(
    path: Path, *, force: bool = False, install: str | None = None
) -> tuple[list[str], list[str], bool]:
    """Create what is missing; return (created, kept, ran_git_init)."""
    path = path.resolve()
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"{path} is a file; give a folder")
    path.mkdir(parents=True, exist_ok=True)
    ran_git_init = False
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],
        cwd=path,
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.returncode != 0:
        done = subprocess.run(
            ["git", "init", "--quiet"], cwd=path, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise GitError(f"git init failed: {done.stderr.strip()}")
        ran_git_init = True
    created, kept = [], []
    for item in planned_files(install):
        target = path / item.path
        if target.exists() and not force:
            kept.append(item.path)
            continue
        write_atomic(target, item.content)
        created.append(item.path)
    return created, kept, ran_git_init
