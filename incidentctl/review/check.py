"""`incidentctl check`: schema, consistency and post-mortem rules over incident files."""

from __future__ import annotations

import itertools
import os
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InvalidIncident
from ..incident.config import CONFIG_NAME
from ..incident.file import MAX_FILE_BYTES, IncidentFile
from ..incident.yamlio import MAX_DEPTH, MAX_NODES
from ..safetext import describe, first_unsafe_in, safe, unsafe_lines

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

    from ..incident.config import Config
    from ..incident.model import Incident
    from ..repo.incidents import IncidentRepo

ERROR = "error"
WARNING = "warning"

# Every rule `check` knows, with what it guards; the README lists the same table.
RULES = {
    "file-type": "an incident file is a regular file: no link, FIFO, device or folder named *.md",
    "file-size": f"the file is at most {MAX_FILE_BYTES // 1024 // 1024} MiB",
    "encoding": "the file is UTF-8 text",
    "conflict-marker": "no leftover merge conflict markers",
    "control-character": "no control, bidi or invisible format character in the text or a value",
    "front-matter": "the file starts with a closed `---` YAML front matter mapping",
    "yaml": "the front matter is valid YAML",
    "duplicate-key": "no key appears twice in the front matter",
    "yaml-plain": "the front matter is plain YAML: no anchors, aliases, merge keys (`<<`) or "
    f"tags, at most {MAX_DEPTH} levels deep and {MAX_NODES:,} values",
    "invalid-date": "every date and time (front matter and timeline) exists, also in UTC",
    "schema": "every field is known and has a valid value (see `incidentctl schema`)",
    "filename": "the file is named `<ID>-<slug>.md` after its `id`",
    "id-format": "the `id` matches `id_format` from incidentctl.toml",
    "id-unique": "no two incident files share an ID",
    "year-folder": "the file sits in the folder of the year it was opened (warning)",
    "timestamp-order": "started <= detected, opened <= acknowledged <= mitigated <= resolved "
    "<= closed",
    "status-timestamps": "the status agrees with the lifecycle timestamps",
    "timeline-order": "timeline entries are in time order (warning)",
    "action-item-owner": "every action item has an owner",
    "action-item-due": "every action item has a due date",
    "postmortem-section": "a required post-mortem section is present",
    "postmortem-empty": "a required post-mortem section has content",
    "postmortem-placeholder": "a required post-mortem section no longer holds placeholder text",
    "closed-postmortem": "an incident is closed only with a passing post-mortem",
}


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    rule: str
    message: str
    level: str = ERROR

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "rule": self.rule,
            "message": self.message,
            "level": self.level,
        }

    def text(self) -> str:
        """`path:line: rule: message` on one line, whatever characters the file held."""
        # A YAML key or a file name may hold a line break or an escape sequence; shown
        # as `\\n` or `\\x1b` (safetext.safe), it cannot forge another problem line, a
        # workflow command at the start of a log line, or act on the terminal.
        suffix = " (warning)" if self.level == WARNING else ""
        return safe(f"{self.path}:{self.line}: {self.rule}{suffix}: {self.message}")


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


@dataclass(frozen=True)
class Section:
    title: str
    level: int
    line: int  # 1-based line of the heading in the file
    text: str  # the section's prose: no headings, no HTML comments; code kept
    prose: str  # the same without code blocks (where placeholders are looked for)


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def sections(file: IncidentFile) -> list[Section]:
    """The body's sections, found by a Markdown parser: a heading in code is not one."""
    body_lines = file.lines[file.body_start :]
    tokens = _markdown().parse("".join(body_lines))
    heads: list[tuple[int, int, int, str]] = []  # (start, end, level, title)
    for index, token in enumerate(tokens):
        # Only top-level headings: one inside a list item (a timeline entry's text)
        # or a block quote is not a section.
        if token.type == "heading_open" and token.map and token.level == 0:
            title = tokens[index + 1].content.strip()
            if index == 0 and token.tag == "h1" and title == str(file.data.get("title")).strip():
                continue  # `# <incident title>`: an incident titled "Impact" has no Impact yet
            heads.append((token.map[0], token.map[1], int(token.tag[1:]), title))
    # Tokens by the line they start on, so each section looks at its own tokens only:
    # a file with thousands of headings costs thousands of steps, not millions.
    located = sorted(
        (token.map[0], index) for index, token in enumerate(tokens) if token.map is not None
    )
    firsts = [line for line, _ in located]
    out = []
    for pos, (start, end, level, title) in enumerate(heads):
        stop = len(body_lines)
        for later_start, _, later_level, _ in heads[pos + 1 :]:
            if later_level <= level:
                stop = later_start
                break
        text_parts: list[str] = []
        prose_parts: list[str] = []
        for _, index in located[bisect_left(firsts, end) : bisect_left(firsts, stop)]:
            token = tokens[index]
            if token.type in ("fence", "code_block"):
                text_parts.append(token.content)
            elif token.type in ("inline", "html_block") and not (
                index > 0 and tokens[index - 1].type == "heading_open"
            ):
                content = strip_comments(token.content)
                text_parts.append(content)
                prose_parts.append(content)
        out.append(
            Section(
                title=title,
                level=level,
                line=file.body_start + start + 1,
                text="\n".join(p for p in text_parts if p.strip()).strip(),
                prose="\n".join(prose_parts),
            )
        )
    return out


def strip_comments(text: str) -> str:
    """`re.sub(r"<!--.*?-->", "", text, flags=re.S)` in linear time.

    The expression tries every `<!--` against the rest of the text: 100,000 of them
    with no `-->` cost billions of steps. Here an unclosed one ends the search.
    """
    parts = []
    pos = 0
    while (start := text.find("<!--", pos)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        parts.append(text[pos:start])
        pos = end + 3
    parts.append(text[pos:])
    return "".join(parts)


def find_section(found: list[Section], title: str) -> Section | None:
    wanted = _norm(title)
    for section in found:
        if _norm(section.title) == wanted:
            return section
    return None


def _norm(title: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", title.lower()).split())


def postmortem_problems(config: Config, file: IncidentFile, incident: Incident) -> list[Problem]:
    """Post-mortem rules for one incident (empty when its severity needs none)."""
    policy = config.severities[incident.severity.value]
    if not policy.postmortem or incident.status.value not in ("resolved", "closed"):
        return []
    problems = []
    found = sections(file)
    placeholder = re.compile(config.placeholder_pattern)
    needed = policy.sections if policy.sections is not None else config.required_sections
    for name in needed:
        section = find_section(found, name)
        if section is None:
            problems.append(
                Problem(
                    file.path,
                    len(file.lines) or 1,
                    "postmortem-section",
                    f"{incident.severity.value} post-mortem needs a '## {name}' section; "
                    f"run `incidentctl postmortem {incident.id}` to add the missing ones",
                )
            )
        elif not section.text:
            problems.append(
                Problem(
                    file.path,
                    section.line,
                    "postmortem-empty",
                    f"section '{section.title}' is empty; write it",
                )
            )
        elif match := placeholder.search(section.prose):
            start = section.prose.rfind("\n", 0, match.start()) + 1
            end = section.prose.find("\n", match.end())
            snippet = " ".join(section.prose[start : end if end >= 0 else None].split())
            if len(snippet) > 60:
                snippet = snippet[:59] + "…"
            problems.append(
                Problem(
                    file.path,
                    section.line,
                    "postmortem-placeholder",
                    f"section '{section.title}' still holds placeholder text "
                    f"({snippet!r}); replace it",
                )
            )
    if problems and incident.status.value == "closed":
        problems.append(
            Problem(
                file.path,
                file.key_line("status") or 2,
                "closed-postmortem",
                f"closed without a passing post-mortem ({incident.severity.value} needs one)",
            )
        )
    return problems


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
        return hidden + _schema_problems(file, exc), file
    problems: list[Problem] = hidden
    problems += _identity(repo, path, file, incident, ids)
    problems += _timestamps(file, incident)
    problems += _timeline(file)
    problems += action_item_problems(file, incident)
    problems += postmortem_problems(repo.config, file, incident)
    return problems, file


def character_problems(file: IncidentFile) -> list[Problem]:
    """Control, bidi and invisible format characters, in the lines and in the values.

    They can reorder what a reviewer reads (U+202E shows `gnp.exe` as `exe.png`), hide
    text, or act on a terminal; a YAML escape such as `"\\e"` puts one in a value that
    no line shows, so the loaded values are looked at too (safetext).
    """
    why = "remove it: it can hide or reorder text, or act on a terminal"
    out = [
        Problem(file.path, line, "control-character", f"the line holds {describe(char)}; {why}")
        for line, char in unsafe_lines(file.lines)
    ]
    seen = {p.line for p in out}
    for key, value in file.data.items():
        char = first_unsafe_in([key, value])
        line = file.key_line(str(key)) or 2
        if char is not None and line not in seen:
            what = f"{_holder(key)} holds {describe(char)}"
            out.append(Problem(file.path, line, "control-character", f"{what}; {why}"))
    return out


def _holder(key: object) -> str:
    return f"the key `{key}`" if first_unsafe_in(key) else f"the value of `{key}`"


def _rel(repo: IncidentRepo, path: Path) -> str:
    from .filescan import rel_to

    return rel_to(repo.root, path)  # lexical: a link is never resolved


def _root_of(repo: IncidentRepo, path: Path) -> Path | None:
    """The repository root when `path` is inside it (read with no link followed)."""
    return repo.root if Path(os.path.abspath(path)).is_relative_to(repo.root) else None


def _schema_problems(file: IncidentFile, exc: Any) -> list[Problem]:
    from ..repo.incidents import describe_validation_error

    out = []
    for error in exc.errors():
        message, key = describe_validation_error(error)
        out.append(Problem(file.path, file.key_line(key) or 2, "schema", message))
    return out


def _identity(
    repo: IncidentRepo,
    path: Path,
    file: IncidentFile,
    incident: Incident,
    ids: dict[str, list[str]],
) -> list[Problem]:
    out = []
    line = file.key_line("id") or 2
    ident = incident.id
    if not re.fullmatch(repo.config.id_regex(), ident):
        out.append(
            Problem(
                file.path,
                line,
                "id-format",
                f"ID {ident!r} does not match id_format {repo.config.id_format!r}",
            )
        )
    name = path.name
    if name != f"{ident}.md" and not name.startswith(f"{ident}-"):
        out.append(
            Problem(
                file.path,
                line,
                "filename",
                f"the file name should start with the ID: {ident}-<slug>.md",
            )
        )
    others = [p for p in ids.get(ident.lower(), []) if p != file.path]
    if others:
        out.append(
            Problem(
                file.path,
                line,
                "id-unique",
                f"ID {ident} is also used by {', '.join(sorted(others))}",
            )
        )
    year = path.parent.name
    if re.fullmatch(r"\d{4}", year) and year != f"{incident.opened_at.year:04d}":
        out.append(
            Problem(
                file.path,
                file.key_line("opened_at") or line,
                "year-folder",
                f"opened in {incident.opened_at.year} but filed under {year}/",
                WARNING,
            )
        )
    return out


def _timestamps(file: IncidentFile, incident: Incident) -> list[Problem]:
    from ..incident.model import TIMESTAMP_ORDER, Status
    from ..incident.timeutil import format_ts

    out = []
    chain = [(k, getattr(incident, k)) for k in TIMESTAMP_ORDER if getattr(incident, k)]
    if incident.started_at and incident.detected_at:
        chain.insert(0, ("started_at", incident.started_at))
        chain.insert(1, ("detected_at", incident.detected_at))
    for (a, at_a), (b, at_b) in itertools.pairwise(chain):
        if at_b < at_a:
            out.append(
                Problem(
                    file.path,
                    file.key_line(b) or 2,
                    "timestamp-order",
                    f"{b} ({format_ts(at_b)}) is before {a} ({format_ts(at_a)})",
                )
            )
    status = incident.status
    line = file.key_line("status") or 2
    needs = {
        Status.MONITORING: ["mitigated_at"],
        Status.RESOLVED: ["resolved_at"],
        Status.CLOSED: ["resolved_at", "closed_at"],
    }.get(status, [])
    for key in needs:
        if getattr(incident, key) is None:
            out.append(
                Problem(
                    file.path,
                    line,
                    "status-timestamps",
                    f"status is {status.value} but {key} is not set",
                )
            )
    forbidden = []
    if incident.active:
        forbidden = ["resolved_at", "closed_at"]
    elif status == Status.RESOLVED:
        forbidden = ["closed_at"]
    for key in forbidden:
        if getattr(incident, key) is not None:
            out.append(
                Problem(
                    file.path,
                    file.key_line(key) or line,
                    "status-timestamps",
                    f"status is {status.value} but {key} is set",
                )
            )
    return out


def _timeline(file: IncidentFile) -> list[Problem]:
    try:
        entries = file.timeline()
    except InvalidIncident as exc:  # an entry's time that cannot exist
        return [Problem(file.path, exc.line or 1, exc.rule or "timeline", exc.message)]
    for before, after in itertools.pairwise(entries):
        if after.at < before.at:
            return [
                Problem(
                    file.path,
                    after.line,
                    "timeline-order",
                    "timeline entry is earlier than the one before it",
                    WARNING,
                )
            ]
    return []


def action_item_line(file: IncidentFile, item_id: str) -> int:
    start = file.key_line("action_items") or 2
    pattern = re.compile(rf"^\s*-?\s*id:\s*['\"]?{re.escape(item_id)}['\"]?\s*$")
    for index in range(start, file.fm_end):
        if pattern.match(file.lines[index].rstrip("\r\n")):
            return index + 1
    return start


def action_item_problems(file: IncidentFile, incident: Incident) -> list[Problem]:
    out = []
    seen: set[str] = set()
    for item in incident.action_items:
        line = action_item_line(file, item.id)
        if item.id in seen:
            out.append(Problem(file.path, line, "schema", f"action item ID {item.id} is repeated"))
        seen.add(item.id)
        if not item.owner:
            out.append(
                Problem(
                    file.path,
                    line,
                    "action-item-owner",
                    f"{item.id} has no owner; add `owner:`",
                )
            )
        if not item.due:
            out.append(
                Problem(
                    file.path,
                    line,
                    "action-item-due",
                    f"{item.id} has no due date; add `due: YYYY-MM-DD`",
                )
            )
    return out


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
    from ..incident.config import Config, from_bytes

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
