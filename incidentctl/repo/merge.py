"""A semantic three-way merge of incident files, for git's merge driver.

Timeline entries and action items merge three-way against the base: what both
sides added is kept (entries in time order, an entry both added once); a deletion
or an edit on one side, with the other side unchanged, is taken; an entry or item
changed differently on both sides (or deleted on one, changed on the other) is a
conflict, left with markers. A front matter key changed on one side takes that
side. The rest of the body goes through git's own line merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IncidentctlError
from ..incident.file import IncidentFile, normalise
from ..incident.lines import entry as parse_entry
from ..incident.lines import split_lines
from ..incident.postmortem import ACTIONS
from ..incident.storage import MAX_FILE_BYTES, too_large
from ..incident.yamlio import dump_field
from .threeway import MISSING, merge_actions, merge_entries, merge_mapping, three_way

# Where the merged timeline goes back in; a line no person writes (not a NUL, which
# would make git merge-file treat the text as binary).
_SLOT = "<!-- incidentctl:timeline-slot 5f0c2a9e7d41 -->\n"


@dataclass
class Split:
    """An incident body with its timeline entries lifted out."""

    before: list[str]
    entries: list[list[str]]  # each entry: its first line and continuation lines
    after: list[str]


def _split_body(file: IncidentFile) -> Split | None:
    lines = file.lines[file.body_start :]
    found = file.section_range("Timeline")
    if found is None:
        return None
    start, end = found[0] - file.body_start, found[1] - file.body_start
    groups: list[list[str]] = []
    first: int | None = None
    last = start + 1
    index = start + 1
    while index < end:
        if parse_entry(lines[index].rstrip("\r\n")):
            if first is None:
                first = index
            group = [lines[index]]
            index += 1
            while index < end:
                if lines[index].startswith("  ") and lines[index].strip():
                    group.append(lines[index])
                    index += 1
                    continue
                # blank lines inside an entry belong to it when more of it follows
                look = index
                while look < end and not lines[look].strip():
                    look += 1
                if index < look < end and lines[look].startswith("  "):
                    group.extend(lines[index:look])
                    index = look
                    continue
                break
            groups.append(group)
            last = index
            continue
        if groups and lines[index].strip():
            break  # prose after the entries stays with the body
        index += 1
    if first is None:
        return Split(lines[: start + 1], [], lines[start + 1 :])
    return Split(lines[:first], groups, lines[last:])


def _merge_text(base: str, ours: str, theirs: str) -> tuple[str, bool]:
    from .git import merge_file

    return merge_file(base, ours, theirs)


def merge_incident(base: str, ours: str, theirs: str, path: str = "<incident>") -> tuple[str, bool]:
    """Merge three versions of an incident file; (merged text, clean)."""
    try:
        b, o, t = (IncidentFile(text, path) for text in (base, ours, theirs))
    except IncidentctlError:
        return _merge_text(base, ours, theirs)
    result = IncidentFile(ours, path)
    conflicts: list[tuple[str, list[str], list[str]]] = []
    renamed: tuple[dict[str, str], dict[str, str]] = ({}, {})
    keys = [*o.data, *(k for k in t.data if k not in o.data)]
    for key in keys:
        bv, ov, tv = (f.data.get(key, MISSING) for f in (b, o, t))
        value: Any
        if key == "action_items" and all(
            isinstance(v, list) and all(isinstance(i, dict) for i in v)
            for v in (bv if bv is not MISSING else [], ov, tv)
        ):
            actions = merge_actions(bv if bv is not MISSING else [], ov, tv)
            value, clean, renamed = actions.items, not actions.conflicts, actions.renamed
        elif key == "roles" and all(isinstance(v, dict) or v is MISSING for v in (bv, ov, tv)):
            value, bad = merge_mapping(bv, ov, tv)
            clean = not bad
        else:
            value, clean = three_way(bv, ov, tv)
        if not clean:
            conflicts.append((key, dump_field(key, ov), dump_field(key, tv)))
            continue
        if value is MISSING:
            continue
        if ov is MISSING or normalise(value) != normalise(ov):
            result.set_field(key, value)

    # The post-mortem's action-item table is rendered from the items merged above: the
    # line merge gets ours on every side (both sides adding a row would conflict), and
    # the table is rendered again from the merged items.
    table = o.region(ACTIONS)
    if table is not None:
        for side in (b, t):
            side.replace_region(ACTIONS, o.lines[table[0] : table[1]])
    body, body_clean = _merge_body(b, o, t, renamed)
    result.lines[result.body_start :] = split_lines(body)
    if normalise(result.data.get("action_items")) != normalise(o.data.get("action_items")):
        _refresh_tables(result)  # else ours' table, which every side was given, is right
    if conflicts:
        _mark_conflicts(result, conflicts)
        return result.text, False
    return result.text, body_clean


def _merge_body(
    b: IncidentFile,
    o: IncidentFile,
    t: IncidentFile,
    renamed: tuple[dict[str, str], dict[str, str]] = ({}, {}),
) -> tuple[str, bool]:
    splits = [_split_body(f) for f in (b, o, t)]
    if any(s is None for s in splits):
        bodies = ["".join(f.lines[f.body_start :]) for f in (b, o, t)]
        return _merge_text(*bodies)
    sb, so, st = splits
    assert sb is not None and so is not None and st is not None
    texts = ["".join(s.before) + _SLOT + "".join(s.after) for s in (sb, so, st)]
    merged, clean = _merge_text(*texts)
    entries, entries_clean = merge_entries(sb.entries, so.entries, st.entries, renamed)
    if _SLOT not in merged:
        return merged, False
    return merged.replace(_SLOT, "".join("".join(g) for g in entries)), clean and entries_clean


def _mark_conflicts(file: IncidentFile, conflicts: list[tuple[str, list[str], list[str]]]) -> None:
    """Put git-style markers around each conflicting key, so nothing is silently picked."""
    for key, ours, theirs in conflicts:
        block = file._key_block(key)
        lines = ["<<<<<<< ours\n", *ours, "=======\n", *theirs, ">>>>>>> theirs\n"]
        if block is None:
            file.lines[file.fm_end : file.fm_end] = lines
            file.fm_end += len(lines)
        else:
            start, end = block
            file.lines[start:end] = lines
            file.fm_end += len(lines) - (end - start)


def _refresh_tables(file: IncidentFile) -> None:
    """Re-render the post-mortem's action-item table from the merged items."""
    from ..incident.postmortem import refresh_actions

    if file.region(ACTIONS) is None:
        return  # no table (most merges, mid-incident): skip loading the model, ~0.3 s a run
    from pydantic import ValidationError

    from ..incident.model import Incident

    try:
        incident = Incident.model_validate(file.data)
    except ValidationError:
        return
    try:
        refresh_actions(file, incident, Path.cwd())
    except IncidentctlError:
        return


def run_driver(base: Path, ours: Path, theirs: Path, name: str) -> int:
    """git merge driver entry: write the result over `ours`; exit 0 clean, 1 conflict.

    A side larger than an incident file may be (MAX_FILE_BYTES) is not read past the
    limit: `ours` stays as it is and git reports a conflict, to be merged by hand.
    """
    sides = []
    for side in (base, ours, theirs):
        with open(side, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise too_large(name)
        sides.append(data.decode("utf-8", errors="surrogateescape"))
    base_text, ours_text, theirs_text = sides
    merged, clean = merge_incident(base_text, ours_text, theirs_text, path=name)
    ours.write_bytes(merged.encode("utf-8", errors="surrogateescape"))
    return 0 if clean else 1
