"""`incidentctl init`: lay out an incident repository without overwriting anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput
from ..incident.storage import write_atomic

CONFIG_TEMPLATE = """\
# incidentctl settings. Every key is optional; the values shown are the defaults.
# Docs: the "Configuration" section of the incidentctl README.

# incidents_dir = "incidents"
# id_format = "INC-{date}-{rand}"      # {date}=YYYYMMDD, {time}=HHMM, {rand}=4 random chars
# default_severity = "SEV-3"           # used by `open` when no terminal can ask
# default_type = "outage"              # outage, security, performance, data, integration
# default_environment = "production"   # production, staging, development
# roles = ["commander", "deputy", "comms", "scribe", "ops_lead", "liaison"]
# push = false                         # true: every change runs `incidentctl sync` after it

# [severities.SEV-1]
# description = "Critical: full outage, data loss or security breach; all hands"
# response = "immediate"
# update_every = "30m"
# respond_within = "15m"               # the acknowledgement target `stats` measures
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


WORKFLOWS = (
    "postmortem-check.yml",
    "action-items.yml",
    "alert-intake.yml",
    "site-pages.yml",
    "comms-due.yml",
)
# `init --tracker`: the action-items workflow of each tracker, and its table for
# incidentctl.toml (commented out: the values are the team's own).
TRACKERS = ("github", "jira", "gitlab")
TRACKER_WORKFLOWS = {
    "github": "action-items.yml",
    "jira": "action-items-jira.yml",
    "gitlab": "action-items-gitlab.yml",
}
TRACKER_TABLES = {
    "github": "",
    "jira": """
# Action items as Jira tickets (`incidentctl issues sync --tracker jira`; README, "Jira").
# [trackers.jira]
# type = "jira"
# url = "https://your-site.atlassian.net"   # Data Center: your Jira's URL
# deployment = "cloud"                       # or "datacenter"
# project = "OPS"
# issue_type = "Task"
# email_env = "JIRA_EMAIL"                   # Cloud: the account's e-mail
# token_env = "JIRA_API_TOKEN"               # Cloud: an API token; Data Center: a PAT
# done_transition = "Done"
""",
    "gitlab": """
# Action items as GitLab issues (`incidentctl issues sync --tracker gitlab`; README, "GitLab").
# [trackers.gitlab]
# type = "gitlab"
# url = "https://gitlab.com"                 # or your self-managed GitLab
# project = "your-group/your-project"
# token_env = "GITLAB_TOKEN"                 # a token with the `api` scope
""",
}
INSTALL_MARK = "@INCIDENTCTL_INSTALL@"


def default_install() -> str:
    """What the workflows `pip install`: this very version of incidentctl."""
    from .. import __version__

    return f"incidentctl=={__version__}"


def workflow_text(name: str, install: str | None = None) -> str:
    """A packaged GitHub workflow with its install line filled in.

    The workflows are YAML full of `${{ }}` expressions, so they are not Jinja
    templates: one marker is replaced, nothing else.
    """
    from ..incident.render import packaged_templates

    text = (packaged_templates() / "workflows" / name).read_text(encoding="utf-8")
    return text.replace(INSTALL_MARK, install or default_install())


def planned_files(install: str | None = None, tracker: str = "github") -> list[Planned]:
    if tracker not in TRACKERS:
        raise InvalidInput(f"unknown tracker {tracker!r}; use one of: {', '.join(TRACKERS)}")
    names = [TRACKER_WORKFLOWS[tracker] if n == "action-items.yml" else n for n in WORKFLOWS]
    return [
        Planned("incidentctl.toml", CONFIG_TEMPLATE + TRACKER_TABLES[tracker]),
        Planned("incidents/.gitkeep", ""),
        *(Planned(f".github/workflows/{name}", workflow_text(name, install)) for name in names),
    ]


GITATTRIBUTES_LINE = "{incidents}/**/*.md merge=incidentctl"


def gitattributes_line(incidents_dir: str) -> str:
    """The .gitattributes line that maps incident files to the merge driver.

    A pattern holding a space is written in double quotes, as gitattributes(5)
    reads it (C-style); `incidents_dir` holds no glob or quoting characters (config).
    """
    pattern = f"{incidents_dir.rstrip('/')}/**/*.md"
    if any(char.isspace() for char in pattern):
        pattern = '"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return GITATTRIBUTES_LINE.replace("{incidents}/**/*.md", pattern)


def driver_command() -> str:
    """How git should run the merge driver: this installation's incidentctl."""
    import shlex
    import shutil
    import sys

    found = shutil.which("incidentctl")
    base = shlex.quote(found) if found else f"{shlex.quote(sys.executable)} -m incidentctl"
    return f"{base} merge-driver %O %A %B %P"


def register_merge_driver(root: Path, incidents_dir: str) -> list[str]:
    """Map incident files to the merge driver (.gitattributes) and define it (.git/config).

    The git config half lives in each clone, so every clone runs `incidentctl init`
    once; .gitattributes is committed and shared.
    """
    from .git import GitRepo

    git = GitRepo.discover(root)
    git.set_config("merge.incidentctl.name", "incidentctl: union timelines, merge action items")
    git.set_config("merge.incidentctl.driver", driver_command())
    changed = []
    attributes = root / ".gitattributes"
    line = gitattributes_line(incidents_dir)
    current = _read_text(attributes, root)
    if line not in current.replace("\r\n", "\n").split("\n"):  # lines as git reads them
        prefix = current if not current or current.endswith("\n") else current + "\n"
        write_atomic(attributes, prefix + line + "\n", root=root)
        changed.append(".gitattributes")
    return changed


def _read_text(path: Path, root: Path) -> str:
    """A file of the repository as text ("" when missing); a link is refused, not followed."""
    from ..incident.safefs import NotRegular, read_regular

    try:
        return read_regular(path, root).decode("utf-8")
    except FileNotFoundError:
        return ""
    except NotRegular as exc:
        raise InvalidInput(f"{path.name} {exc.reason}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path.name}: {exc}") from None


def init(
    path: Path, *, force: bool = False, install: str | None = None, tracker: str = "github"
) -> tuple[list[str], list[str], bool]:
    """Create what is missing, register the merge driver; return (created, kept, git init?)."""
    from ..incident.configfile import load as load_config
    from .git import init_repo, is_work_tree, no_work_tree

    path = path.resolve()
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"{path} is a file; give a folder")
    path.mkdir(parents=True, exist_ok=True)
    ran_git_init = False
    if not is_work_tree(path):
        refusal = no_work_tree(path)  # `git init` there would not make a work tree
        if refusal is not None:
            raise InvalidInput(refusal)
        init_repo(path)
        ran_git_init = True
    created, kept = [], []
    for item in planned_files(install, tracker):
        target = path / item.path
        if target.exists() and not force:
            kept.append(item.path)
            continue
        write_atomic(target, item.content, root=path)
        created.append(item.path)
    config = load_config(path)
    created += register_merge_driver(path, config.incidents_dir)
    return created, kept, ran_git_init
