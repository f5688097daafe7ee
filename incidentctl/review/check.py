"""`incidentctl check`: the rules (incident/rules.py) run over a repository's files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InvalidIncident
from ..incident.config import CONFIG_NAME
from ..incident.file import IncidentFile
from ..incident.rules import (
    ERROR,
    Problem,
    action_item_problems,
    character_problems,
    identity_problems,
    postmortem_problems,
    schema_problems,
    timeline_problems,
    timestamp_problems,
)
from ..safetext import safe

if TYPE_CHECKING:
    from ..repo.incidents import IncidentRepo


@dataclass(frozen=True)
class PolicySource:
    """Where the rules (`incidentctl.toml`) of a check came from."""

    ref: str | None  # the revision read, or None: the work tree's file
    commit: str | None  # the commit `ref` named
    edited: bool  # the change under review edits incidentctl.toml

    def text(self) -> str:
        if self.ref is None:
            return f"policy: {CONFIG_NAME} of the work tree"
        return safe(f"policy: {CONFIG_NAME} as of {self.ref} ({(self.commit or '')[:12]})")

    def notice(self) -> str | None:
        if not self.edited:
            return None
        if self.ref is None:
            return (
                f"this change edits {CONFIG_NAME}, and it was checked against its own edited "
                "rules (--policy-from-worktree)"
            )
        return safe(
            f"this change edits {CONFIG_NAME}; it was checked against the rules of {self.ref}, "
            "and its new rules apply only once it is merged"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "from": "worktree" if self.ref is None else "ref",
            "ref": self.ref,
            "commit": self.commit,
            "edited": self.edited,
        }


@dataclass(frozen=True)
class Report:
    problems: list[Problem]
    checked: list[str]
    policy: PolicySource | None = None  # set by --changed-since

    @property
    def ok(self) -> bool:
        return not any(p.level == ERROR for p in self.problems)

    @property
    def notices(self) -> list[str]:
        notice = self.policy.notice() if self.policy else None
        return [notice] if notice else []

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "problems": [p.as_json() for p in self.problems],
            "checked": self.checked,
        }
        if self.policy is not None:  # --changed-since: which rules applied, and why
            out["policy"] = self.policy.as_json()
            out["notices"] = self.notices
        return out


def file_problems(
    repo: IncidentRepo, path: Path, ids: dict[str, list[str]]
) -> tuple[list[Problem], IncidentFile | None]:
    """Every problem of one file; `ids` maps each ID to the files that carry it."""
    from pydantic import ValidationError

    from ..incident.model import Incident

    rel = _rel(repo, path)
    try:
        file = IncidentFile.read(path, rel, root=_root_of(repo, path))
    except InvalidIncident as exc:
        return [Problem(rel, exc.line or 1, exc.rule or "front-matter", exc.message)], None
    hidden = character_problems(file)
    try:
        incident = Incident.model_validate(file.data)
    except ValidationError as exc:
        return hidden + schema_problems(file, exc), file
    problems: list[Problem] = hidden
    problems += identity_problems(repo.config, path, file, incident, ids)
    problems += timestamp_problems(file, incident)
    problems += timeline_problems(file)
    problems += action_item_problems(file, incident)
    problems += postmortem_problems(repo.config, file, incident)
    return problems, file


def _rel(repo: IncidentRepo, path: Path) -> str:
    from .filescan import rel_to

    return rel_to(repo.root, path)  # lexical: a link is never resolved


def _root_of(repo: IncidentRepo, path: Path) -> Path | None:
    """The repository root when `path` is inside it (read with no link followed)."""
    return repo.root if Path(os.path.abspath(path)).is_relative_to(repo.root) else None


def run(
    repo: IncidentRepo,
    paths: Iterable[Path] = (),
    *,
    changed_since: str | None = None,
    policy_from_worktree: bool = False,
) -> Report:
    """Check the given files (default: every incident file).

    With `changed_since`, only files changed since the merge base with that revision
    are checked, against the `incidentctl.toml` of that revision (unless
    `policy_from_worktree`): the change under review cannot relax its own check.
    No link is followed: a link, FIFO, device or folder named `*.md`, and a link
    committed to git, is a `file-type` problem (filescan).
    """
    from . import filescan

    targets = list(paths)
    source: PolicySource | None = None
    rules = repo
    changed: set[str] | None = None
    if changed_since is not None:
        paths_changed = repo.git.changed_since(changed_since, deleted=True)
        edited = CONFIG_NAME in paths_changed
        if policy_from_worktree:
            source = PolicySource(None, None, edited)
        else:
            rules, commit = policy_at(repo, changed_since)
            source = PolicySource(changed_since, commit, edited)
        changed = set(paths_changed)
    # Files in the incidents folder of either policy: moving `incidents_dir` away
    # does not take a changed file out of the check.
    folders = list(dict.fromkeys([rules.config.incidents_dir, repo.config.incidents_dir]))
    whole = filescan.Found()
    for folder in folders:
        whole.add(filescan.incident_folder(repo.root, folder))
    linked = {
        rel: filescan.GIT_NOT_FILES[mode]
        for rel, mode in repo.git.modes(folders).items()
        if mode in filescan.GIT_NOT_FILES
    }
    everything = [p for p in whole.files if _rel(repo, p) not in linked]
    found = filescan.targets(repo.root, targets, folders) if targets else whole
    names = set(found.refused) | {_rel(repo, p) for p in found.files}
    refused = {**found.refused, **{r: why for r, why in linked.items() if r in names}}
    selected = [p for p in found.files if _rel(repo, p) not in linked]
    if changed is not None:
        tops = [f.rstrip("/") + "/" for f in folders]
        selected = [p for p in selected if _changed(_rel(repo, p), changed, tops)]
        refused = {r: why for r, why in refused.items() if _changed(r, changed, tops, below=True)}
    ids = _id_index(repo, everything + selected)
    problems = [Problem(rel, 1, "file-type", why) for rel, why in refused.items()]
    checked = sorted(refused)
    for path in dict.fromkeys(selected):
        found_here, _ = file_problems(rules, path, ids)
        problems.extend(found_here)
        checked.append(_rel(repo, path))
    return Report(sorted(problems), checked, source)


def _changed(rel: str, changed: set[str], tops: list[str], *, below: bool = False) -> bool:
    """Whether a path is one the change touched, inside an incidents folder.

    `below`: a refused folder or link counts when anything under it changed (a year
    folder replaced by a link shows in git as the link plus its old files removed).
    """
    if not any(f"{rel}/".startswith(top) for top in tops):
        return False
    if rel in changed:
        return True
    return below and any(c.startswith(rel + "/") for c in changed)


def policy_at(repo: IncidentRepo, ref: str) -> tuple[IncidentRepo, str]:
    """The repository seen with the `incidentctl.toml` of `ref` (defaults if it has none)."""
    from ..incident.config import Config
    from ..incident.configfile import from_bytes

    commit, raw = repo.git.file_at(ref, CONFIG_NAME)
    try:
        config = Config() if raw is None else from_bytes(raw)
    except ConfigError as exc:
        raise ConfigError(
            f"the policy of {ref} is not valid ({exc.message}); fix it there, "
            "or check with --policy-from-worktree"
        ) from None
    return type(repo)(repo.git, config), commit


def _id_index(repo: IncidentRepo, paths: Iterable[Path]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for path in dict.fromkeys(paths):
        try:
            file = IncidentFile.read(path, _rel(repo, path), root=_root_of(repo, path))
        except InvalidIncident:
            continue
        index.setdefault(file.id.lower(), []).append(file.path)
    return index
