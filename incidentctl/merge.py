"""A semantic three-way merge of incident files, for git's merge driver.

Timeline entries from both sides are kept (union, time order, exact duplicates
once); action items merge by ID; a front matter key changed on one side takes that
side, and one changed differently on both is a real conflict, left with markers.
The rest of the body goes through git's own line merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import IncidentctlError
from .incidentfile import MAX_FILE_BYTES, IncidentFile, _normalise, too_large
from .lines import entry as parse_entry
from .postmortem import ACTIONS
from .yamlio import dump_field

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


def _entry_key(group: list[str]) -> str:
    parts = parse_entry(group[0].rstrip("\r\n"))
    return parts["at"] if parts else ""


def _union_entries(*sides: list[list[str]]) -> list[list[str]]:
    seen: set[str] = set()
    out: list[list[str]] = []
    for side in sides:
        for group in side:
            text = "".join(group).replace("\r\n", "\n")
            if text not in seen:
                seen.add(text)
                out.append(group)
    return sorted(out, key=_entry_key)  # stable: ties keep ours-then-theirs order


def _merge_text(base: str, ours: str, theirs: str) -> tuple[str, bool]:
    from .gitrepo import merge_file

    return merge_file(base, ours, theirs)


_MISSING = object()


def _three_way(base: Any, ours: Any, theirs: Any) -> tuple[Any, bool]:
    """Merge one value; (value, clean)."""
    b, o, t = _normalise(base), _normalise(ours), _normalise(theirs)
    if o == t:
        return ours, True
    if o == b:
        return theirs, True
    if t == b:
        return ours, True
    return ours, False


def _merge_mapping(base: Any, ours: Any, theirs: Any) -> tuple[dict[str, Any], list[str]]:
    base = base if isinstance(base, dict) else {}
    ours = ours if isinstance(ours, dict) else {}
    theirs = theirs if isinstance(theirs, dict) else {}
    out: dict[str, Any] = {}
    conflicts = []
    for key in [*ours, *(k for k in theirs if k not in ours)]:
        value, clean = _three_way(
            base.get(key, _MISSING), ours.get(key, _MISSING), theirs.get(key, _MISSING)
        )
        if not clean:
            conflicts.append(str(key))
        if value is not _MISSING:
            out[key] = value
    return out, conflicts


def _merge_actions(base: Any, ours: Any, theirs: Any) -> tuple[list[Any], list[str]]:
    """Action items by ID; an ID added on both sides for different items is renumbered."""

    def by_id(items: Any) -> dict[str, dict[str, Any]]:
        return {str(i.get("id")): i for i in items or [] if isinstance(i, dict)}

    b, o, t = by_id(base), by_id(ours), by_id(theirs)
    out: list[Any] = []
    conflicts: list[str] = []
    renumber: list[dict[str, Any]] = []
    for key in [*o, *(k for k in t if k not in o)]:
        if key in o and key in t and key not in b and _normalise(o[key]) != _normalise(t[key]):
            out.append(o[key])
            renumber.append(t[key])  # both added this number: keep both items
            continue
        if key in b and (key not in o or key not in t):
            # removed on one side: keep it unless the other side left it untouched
            kept = o.get(key) if key in o else t.get(key)
            if kept is not None and _normalise(kept) != _normalise(b[key]):
                out.append(kept)
            continue
        merged, bad = _merge_mapping(b.get(key), o.get(key, t.get(key)), t.get(key, o.get(key)))
        conflicts.extend(f"action_items.{key}.{field}" for field in bad)
        out.append(merged)
    numbers = [
        int(str(i.get("id", "AI-0"))[3:] or 0)
        for i in out
        if str(i.get("id", "")).startswith("AI-")
    ]
    next_number = max(numbers, default=0) + 1
    for item in renumber:
        out.append({**item, "id": f"AI-{next_number}"})
        next_number += 1
    return out, conflicts


def merge_incident(base: str, ours: str, theirs: str, path: str = "<incident>") -> tuple[str, bool]:
    """Merge three versions of an incident file; (merged text, clean)."""
    try:
        b, o, t = (IncidentFile(text, path) for text in (base, ours, theirs))
    except IncidentctlError:
        return _merge_text(base, ours, theirs)
    result = IncidentFile(ours, path)
    conflicts: list[tuple[str, list[str], list[str]]] = []
    keys = [*o.data, *(k for k in t.data if k not in o.data)]
    for key in keys:
        bv, ov, tv = (f.data.get(key, _MISSING) for f in (b, o, t))
        value: Any
        if key == "action_items":
            value, bad = _merge_actions(bv if bv is not _MISSING else [], ov, tv)
            clean = not bad
        elif key == "roles" and all(isinstance(v, dict) or v is _MISSING for v in (bv, ov, tv)):
            value, bad = _merge_mapping(bv, ov, tv)
            clean = not bad
        else:
            value, clean = _three_way(bv, ov, tv)
        if not clean:
            conflicts.append((key, dump_field(key, ov), dump_field(key, tv)))
            continue
        if value is _MISSING:
            continue
        if ov is _MISSING or _normalise(value) != _normalise(ov):
            result.set_field(key, value)

    # The post-mortem's action-item table is rendered from the items merged above: the
    # line merge gets ours on every side (both sides adding a row would conflict), and
    # the table is rendered again from the merged items.
    table = o.region(ACTIONS)
    if table is not None:
        for side in (b, t):
            side.replace_region(ACTIONS, o.lines[table[0] : table[1]])
    body, body_clean = _merge_body(b, o, t)
    result.lines[result.body_start :] = body.splitlines(keepends=True)
    _refresh_tables(result)
    if conflicts:
        _mark_conflicts(result, conflicts)
        return result.text, False
    return result.text, body_clean


def _merge_body(b: IncidentFile, o: IncidentFile, t: IncidentFile) -> tuple[str, bool]:
    splits = [_split_body(f) for f in (b, o, t)]
    if any(s is None for s in splits):
        bodies = ["".join(f.lines[f.body_start :]) for f in (b, o, t)]
        return _merge_text(*bodies)
    sb, so, st = splits
    assert sb is not None and so is not None and st is not None
    texts = ["".join(s.before) + _SLOT + "".join(s.after) for s in (sb, so, st)]
    merged, clean = _merge_text(*texts)
    entries = _union_entries(so.entries, st.entries)
    if _SLOT not in merged:
        return merged, False
    return merged.replace(_SLOT, "".join("".join(g) for g in entries), 1), clean


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
    from .postmortem import refresh_actions

    if file.region(ACTIONS) is None:
        return  # no table (most merges, mid-incident): skip loading the model, ~0.3 s a run
    from pydantic import ValidationError

    from .model import Incident

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
