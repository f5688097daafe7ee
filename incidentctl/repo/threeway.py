"""Three-way merges against the base: single values, mappings, timeline entries (a union
in time order) and action items (renumbered when both sides took a number)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..incident.file import normalise
from ..incident.lines import entry as parse_entry


@dataclass
class _Entry:
    """One timeline entry: its lines as written, who/when/what kind, and its text."""

    lines: list[str]
    key: tuple[str, str, str]  # (at, author, kind): entries carry no ID
    text: str  # the whole entry, line endings and trailing blanks evened out

    @classmethod
    def of(cls, group: list[str]) -> _Entry:
        parts = parse_entry(group[0].rstrip("\r\n")) or {"at": "", "author": "", "kind": ""}
        lines = [line if line.endswith("\n") else line + "\n" for line in group]
        text = "\n".join(line.rstrip() for line in group).rstrip()
        return cls(lines, (parts["at"], parts["author"], parts["kind"]), text)


def _pair(base: list[_Entry], side: list[_Entry]) -> dict[int, int]:
    """Which side entry each base entry became (base index -> side index).

    Entries are told apart by (at, author, kind) and their place among the entries
    sharing it: first a base entry pairs with an identical side entry (unchanged);
    then the k-th left-over base entry of a key pairs with the k-th left-over side
    entry of that key (an edit). A base entry left unpaired was deleted on that side,
    and a side entry left unpaired was added there.
    """
    by_key: dict[tuple[str, str, str], list[int]] = {}
    for n, entry in enumerate(side):
        by_key.setdefault(entry.key, []).append(n)
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for i, entry in enumerate(base):
        for n in by_key.get(entry.key, ()):
            if n not in used and side[n].text == entry.text:
                pairs[i] = n
                used.add(n)
                break
    for i, entry in enumerate(base):
        if i in pairs:
            continue
        for n in by_key.get(entry.key, ()):
            if n not in used:
                pairs[i] = n
                used.add(n)
                break
    return pairs


def _conflict(ours: _Entry | None, theirs: _Entry | None) -> list[str]:
    return [
        "<<<<<<< ours\n",
        *(ours.lines if ours else []),
        "=======\n",
        *(theirs.lines if theirs else []),
        ">>>>>>> theirs\n",
    ]


def _when(at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None


def merge_entries(
    base: list[list[str]],
    ours: list[list[str]],
    theirs: list[list[str]],
    renamed: tuple[dict[str, str], dict[str, str]] = ({}, {}),
) -> tuple[list[list[str]], bool]:
    """Three-way merge of timeline entries; (entries, clean).

    Additions from both sides are a union in time order (an entry both added, once);
    a deletion or an edit on one side, with the other side unchanged, is taken; an
    entry changed differently on both sides, or deleted on one and edited on the
    other, is a conflict between markers. `renamed`: per side, action item IDs that
    the merge gave new numbers, rewritten in the text that side wrote.
    """
    b, o, t = ([_Entry.of(g) for g in side] for side in (base, ours, theirs))
    to_ours, to_theirs = _pair(b, o), _pair(b, t)
    base_of_ours = {n: i for i, n in to_ours.items()}
    base_of_theirs = {n: i for i, n in to_theirs.items()}
    clean = True
    kept: list[tuple[list[str], str]] = []  # in ours' order, with each one's time
    for n, mine in enumerate(o):
        i = base_of_ours.get(n)
        if i is None:
            kept.append((_renamed(mine, renamed[0]), mine.key[0]))
            continue
        old = b[i]
        other = t[to_theirs[i]] if i in to_theirs else None
        if other is None:
            if mine.text != old.text:  # deleted there, edited here
                kept.append((_conflict(mine, None), mine.key[0]))
                clean = False
            continue
        if mine.text != old.text and other.text not in (old.text, mine.text):
            kept.append((_conflict(mine, other), mine.key[0]))
            clean = False
        elif other.text != old.text:
            kept.append((_renamed(other, renamed[1]), other.key[0]))
        elif mine.text != old.text:
            kept.append((_renamed(mine, renamed[0]), mine.key[0]))
        else:
            kept.append((mine.lines, mine.key[0]))
    added: list[tuple[list[str], str]] = []
    for i, old in enumerate(b):
        other = t[to_theirs[i]] if i in to_theirs else None
        if i not in to_ours and other is not None and other.text != old.text:
            added.append((_conflict(None, other), other.key[0]))  # deleted here, edited there
            clean = False
    also = Counter(o[n].text for n in range(len(o)) if n not in base_of_ours)
    for m, theirs_entry in enumerate(t):
        if m in base_of_theirs:
            continue
        if also[theirs_entry.text]:
            also[theirs_entry.text] -= 1  # both sides added this very entry
            continue
        added.append((_renamed(theirs_entry, renamed[1]), theirs_entry.key[0]))
    return _insert_by_time(kept, added), clean


def _insert_by_time(
    kept: list[tuple[list[str], str]], added: list[tuple[list[str], str]]
) -> list[list[str]]:
    """`kept` in its order, each of `added` after the last kept entry not later than it."""
    import bisect

    timed = sorted(
        (when, index) for index, (_, at) in enumerate(kept) if (when := _when(at)) is not None
    )
    times = [when for when, _ in timed]
    last: list[int] = []  # last[k]: the latest position among the first k+1 by time
    for _, index in timed:
        last.append(max(index, last[-1]) if last else index)
    slots: dict[int, list[list[str]]] = {}
    latest = datetime.max.replace(tzinfo=timezone.utc)
    for lines, at in sorted(added, key=lambda pair: _when(pair[1]) or latest):
        when = _when(at)
        if when is None:
            where = len(kept) - 1
        else:
            k = bisect.bisect_right(times, when)
            where = last[k - 1] if k else -1
        slots.setdefault(where, []).append(lines)
    out = list(slots.get(-1, []))
    for index, (lines, _) in enumerate(kept):
        out.append(lines)
        out.extend(slots.get(index, []))
    return out


def _renamed(entry: _Entry, renamed: dict[str, str]) -> list[str]:
    """An entry's lines with the action item IDs in its text renumbered (see merge_actions)."""
    if not renamed:
        return entry.lines
    import re

    def swap(match: re.Match[str]) -> str:
        return renamed.get(match.group(0), match.group(0))

    pattern = re.compile(r"(?<![\w-])AI-[0-9]+(?![\w-])")
    first = entry.lines[0]
    text = parse_entry(first.rstrip("\r\n"))
    head = len(first.rstrip("\r\n")) - len(text["text"]) if text else 0
    lines = [first[:head] + pattern.sub(swap, first[head:])]
    lines.extend(pattern.sub(swap, line) for line in entry.lines[1:])
    return lines


MISSING = object()


def three_way(base: Any, ours: Any, theirs: Any) -> tuple[Any, bool]:
    """Merge one value; (value, clean)."""
    b, o, t = normalise(base), normalise(ours), normalise(theirs)
    if o == t:
        return ours, True
    if o == b:
        return theirs, True
    if t == b:
        return ours, True
    return ours, False


def merge_mapping(base: Any, ours: Any, theirs: Any) -> tuple[dict[str, Any], list[str]]:
    base = base if isinstance(base, dict) else {}
    ours = ours if isinstance(ours, dict) else {}
    theirs = theirs if isinstance(theirs, dict) else {}
    out: dict[str, Any] = {}
    conflicts = []
    for key in [*ours, *(k for k in theirs if k not in ours)]:
        value, clean = three_way(
            base.get(key, MISSING), ours.get(key, MISSING), theirs.get(key, MISSING)
        )
        if not clean:
            conflicts.append(str(key))
        if value is not MISSING:
            out[key] = value
    return out, conflicts


@dataclass
class Actions:
    """Merged action items, the conflicts found, and the IDs each side's items now have."""

    items: list[Any]
    conflicts: list[str]
    renamed: tuple[dict[str, str], dict[str, str]]  # per side (ours, theirs): old ID -> new


def _pair_items(base: list[dict[str, Any]], side: list[dict[str, Any]]) -> dict[int, int]:
    """Which side item each base item became (base index -> side index).

    By ID, except that an item a merge renumbered (exactly a base item's content under
    an ID that base does not have, while that base ID holds other content or nothing)
    pairs with the base item it was: a later commit replayed onto it in a rebase
    then changes the right item, not the one that took over its old number.
    """

    def content(item: dict[str, Any]) -> Any:
        return normalise({k: v for k, v in item.items() if k != "id"})

    base_ids = {str(item.get("id")) for item in base}
    by_id: dict[str, list[int]] = {}
    for n, item in enumerate(side):
        by_id.setdefault(str(item.get("id")), []).append(n)
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for i, item in enumerate(base):
        same = by_id.get(str(item.get("id")), [])
        if any(content(side[n]) == content(item) for n in same):
            continue
        for n, other in enumerate(side):
            new_id = str(other.get("id")) not in base_ids
            if n not in used and new_id and content(other) == content(item):
                pairs[i] = n
                used.add(n)
                break
    for i, item in enumerate(base):
        if i in pairs:
            continue
        for n in by_id.get(str(item.get("id")), []):
            if n not in used:
                pairs[i] = n
                used.add(n)
                break
    return pairs


def merge_actions(
    base: list[dict[str, Any]], ours: list[dict[str, Any]], theirs: list[dict[str, Any]]
) -> Actions:
    """Action items three-way, each paired with its base item (see _pair_items).

    An item changed on one side takes that change, field by field; the same field set
    differently on both sides, or an item deleted on one side and changed on the
    other, is a conflict; an item deleted on one side and untouched on the other is
    deleted. Items added on both sides are all kept; one that takes an ID the
    merged items already use gets the next free number.
    """

    b, o, t = base, ours, theirs
    to_ours, to_theirs = _pair_items(b, o), _pair_items(b, t)
    base_of_ours = {n: i for i, n in to_ours.items()}
    conflicts: list[str] = []
    # Each kept item in ours' order, then theirs' additions: (item, its ID in ours,
    # its ID in theirs); None where that side does not have it.
    slots: list[tuple[dict[str, Any], str | None, str | None]] = []
    for n, mine in enumerate(o):
        i = base_of_ours.get(n)
        if i is None:
            slots.append((mine, str(mine.get("id")), None))
            continue
        old = b[i]
        if i not in to_theirs:
            if normalise(mine) != normalise(old):
                conflicts.append(f"action_items.{old.get('id')}: deleted and changed")
                slots.append((mine, str(mine.get("id")), None))
            continue
        other = t[to_theirs[i]]
        value, bad = merge_mapping(old, mine, other)
        conflicts.extend(f"action_items.{old.get('id')}.{field}" for field in bad)
        slots.append((value, str(mine.get("id")), str(other.get("id"))))
    for i, old in enumerate(b):
        if i not in to_ours and i in to_theirs and normalise(t[to_theirs[i]]) != normalise(old):
            conflicts.append(f"action_items.{old.get('id')}: deleted and changed")
    ours_added = [normalise(o[n]) for n in range(len(o)) if n not in base_of_ours]
    theirs_paired = set(to_theirs.values())
    for m, other in enumerate(t):
        if m in theirs_paired:
            continue
        if normalise(other) in ours_added:
            ours_added.remove(normalise(other))  # both sides added this very item
            continue
        slots.append((other, None, str(other.get("id"))))

    # An added item keeps its ID unless a kept item or an earlier addition has it.
    paired = {str(item.get("id")) for item, mine_id, other_id in slots if mine_id and other_id}
    used: set[str] = set()
    placed: list[tuple[dict[str, Any], str | None, str | None]] = []
    clash: list[tuple[dict[str, Any], str | None, str | None]] = []
    for slot in slots:
        item, mine_id, other_id = slot
        ident = str(item.get("id"))
        if not (mine_id and other_id) and (ident in used or ident in paired):
            clash.append(slot)
            continue
        used.add(ident)
        placed.append(slot)
    numbers = [int(i[3:]) for i in used | paired if i.startswith("AI-") and i[3:].isdecimal()]
    next_number = max(numbers, default=0) + 1
    for item, mine_id, other_id in clash:
        placed.append(({**item, "id": f"AI-{next_number}"}, mine_id, other_id))
        next_number += 1
    renamed: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for item, mine_id, other_id in placed:
        for side, old_id in ((0, mine_id), (1, other_id)):
            if old_id is not None and old_id != str(item.get("id")):
                renamed[side][old_id] = str(item.get("id"))
    out: list[Any] = [item for item, _, _ in placed]
    return Actions(out, conflicts, renamed)
