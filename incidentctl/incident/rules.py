"""The rules `check` applies to one incident file: pure functions over the parsed file,
its model and the policy (incidentctl.toml). Closing an incident uses them too."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ..errors import InvalidIncident
from ..safetext import describe, first_unsafe_in, safe, unsafe_lines
from .sections import find_section, sections
from .storage import MAX_FILE_BYTES
from .yamlio import MAX_DEPTH, MAX_NODES

if TYPE_CHECKING:
    from .config import Config
    from .file import IncidentFile
    from .model import Incident


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


def schema_problems(file: IncidentFile, exc: Any) -> list[Problem]:
    from .validation import describe_validation_error

    out = []
    for error in exc.errors():
        message, key = describe_validation_error(error)
        out.append(Problem(file.path, file.key_line(key) or 2, "schema", message))
    return out


def identity_problems(
    config: Config,
    path: PurePath,
    file: IncidentFile,
    incident: Incident,
    ids: dict[str, list[str]],
) -> list[Problem]:
    """The ID against id_format, the file name and the other files (`ids`: each ID to the
    files that carry it), and the year folder against the opening date."""
    out = []
    line = file.key_line("id") or 2
    ident = incident.id
    if not re.fullmatch(config.id_regex(), ident):
        out.append(
            Problem(
                file.path,
                line,
                "id-format",
                f"ID {ident!r} does not match id_format {config.id_format!r}",
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


def timestamp_problems(file: IncidentFile, incident: Incident) -> list[Problem]:
    from .model import TIMESTAMP_ORDER, Status
    from .timeutil import format_ts

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


def timeline_problems(file: IncidentFile) -> list[Problem]:
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
