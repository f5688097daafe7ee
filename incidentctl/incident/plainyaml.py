"""Front matter lines written without PyYAML, and one key's lines swapped in place.

A command that changes a field of a front matter already known valid (the cache of
front matters, repo/records.py) need not parse YAML: it replaces the lines of that
key, exactly as `IncidentFile.set_field` would, when they are exactly what
incidentctl writes for the value the cache holds. `field_lines` writes plain
values (words, SEV-N, timestamps, dates, null, names that need no quotes, and lists
and mappings of them) byte for byte as yamlio's dumper does, and anything else
with that dumper. tests/test_plainyaml.py checks both against PyYAML.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from .timeutil import format_ts

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from .file import IncidentFile

# Plain words PyYAML's resolver reads as a boolean or null (YAML 1.1): quoted.
_WORDS = frozenset(
    (
        *("yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE"),
        *("false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"),
        *("null", "Null", "NULL"),
    )
)
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
TIMESTAMP_KEYS = frozenset(
    (
        "detected_at",
        "started_at",
        "opened_at",
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
    )
)


def plain(text: str) -> bool:
    """Whether yamlio's dumper writes this string as a plain scalar, as it is.

    A subset of PyYAML's rule (emitter.analyze_scalar and the resolver): a letter
    first (no indicator, digit or space), no `: `, ` #` or final `:` or space, no
    boolean or null word, and only the characters it writes unescaped. Strings
    outside the subset are written by PyYAML itself.
    """
    if not text or text[0] not in _LETTERS or len(text) > 1000 or text in _WORDS:
        return False
    if text[-1] in " :" or ": " in text or " #" in text:
        return False
    if text.isascii():
        return text.isprintable()
    for char in text:
        if " " <= char <= "~":
            continue
        # libyaml (yamlio's dumper) escapes the rest, characters past U+FFFF too.
        if char in "\ufeff\u2028\u2029" or not (
            "\xa0" <= char <= "\ud7ff" or "\ue000" <= char <= "\ufffd"
        ):
            return False
    return True


def _scalar(value: object) -> str | None:
    """A value as yamlio writes it on one line, if it is one written plain."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value if plain(value) else None
    if isinstance(value, datetime):
        return format_ts(value) if value.tzinfo is not None else None
    if isinstance(value, date):
        return value.isoformat()
    return None  # numbers, booleans, ...: PyYAML knows them


def _plain_lines(key: str, value: object) -> list[str] | None:
    if isinstance(value, list):
        if not value:
            return [f"{key}: []\n"]
        out = [f"{key}:\n"]
        for item in value:
            if isinstance(item, dict):
                if not item:
                    return None
                lead = "- "
                for name, inner in item.items():
                    text = _scalar(inner)
                    if text is None or not isinstance(name, str) or not _plain_key(name):
                        return None
                    out.append(f"{lead}{name}: {text}\n")
                    lead = "  "
            else:
                text = _scalar(item)
                if text is None:
                    return None
                out.append(f"- {text}\n")
        return out
    if isinstance(value, dict):
        if not value:
            return [f"{key}: {{}}\n"]
        out = [f"{key}:\n"]
        for name, inner in value.items():
            text = _scalar(inner)
            if text is None or not isinstance(name, str) or not _plain_key(name):
                return None
            out.append(f"  {name}: {text}\n")
        return out
    text = _scalar(value)
    return None if text is None else [f"{key}: {text}\n"]


def _plain_key(name: str) -> bool:
    return len(name) < 128 and plain(name)  # PyYAML's simple keys are under 128


def field_lines(key: str, value: Any) -> list[str]:
    """The YAML lines for one top-level key: `yamlio.dump_field`, without PyYAML when
    every value in it is written plain."""
    lines = _plain_lines(key, value)
    if lines is not None:
        return lines
    from .yamlio import dump_field

    return dump_field(key, value)


def python_value(key: str, value: Any) -> Any:
    """A front matter value as `show --json` prints it, as the changing commands hand
    it to `set_field`: timestamps as datetimes, action items as `_item_data` makes them."""
    if key in TIMESTAMP_KEYS and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    if key == "action_items" and isinstance(value, list):
        return [item_data(item) for item in value]
    return value


def item_data(item: dict[str, Any]) -> dict[str, Any]:
    """An action item (as JSON) as it is written: id, title, owner, due, status, issue, ticket,
    the unset ones left out (repo/actions.py, `_item_data`)."""
    out = {"id": item["id"], "title": item["title"]}
    if item.get("owner") is not None:
        out["owner"] = item["owner"]
    if item.get("due") is not None:
        out["due"] = date.fromisoformat(item["due"])
    out["status"] = item["status"]
    if item.get("issue") is not None:
        out["issue"] = item["issue"]
    if item.get("ticket") is not None:
        out["ticket"] = item["ticket"]
    return out


def swap(file: IncidentFile, key: str, old: Any, new: Any) -> bool:
    """Write `new` over the lines of `key`, as `set_field(key, new)` would, if those
    lines are exactly what incidentctl writes for `old`; False (nothing changed) if not.

    Call it only on a front matter whose values the caller knows (validated, cached)
    and that `simple_structure` accepts: then the first line naming `key` is the key,
    and lines equal to what `old` gives hold no comment and nothing else.
    """
    block = file._key_block(key)
    if block is None:
        return False
    start, end = block
    before = field_lines(key, old)
    if end - start != len(before):
        return False
    for line, want in zip(file.lines[start:end], before, strict=True):
        if _content(line) != want[:-1]:
            return False
    after = field_lines(key, new)
    file.lines[start:end] = file._native(after)
    file.fm_end += len(after) - (end - start)
    return True


def _content(line: str) -> str:
    """A line without its ending (`\\n`, `\\r\\n` or `\\r`: lines.split_lines)."""
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(("\n", "\r")) else line


def simple_structure(lines: list[str]) -> bool:
    """Whether no value of this front matter spans lines but as block lists, block
    mappings and indented plain text: no quoted scalar or flow collection left open
    at a line's end, no block scalar, no tab, no line at the margin but keys,
    `- ` items and comments.

    PyYAML lets a quoted scalar go on at the margin (`title: "a` then `status: x"`):
    in such a file a line that looks like a key is not one, and no line may be
    swapped by its looks.
    """
    for raw in lines:
        line = _content(raw)
        if "\t" in line:
            return False
        body = line.lstrip(" ")
        while body[:2] == "- " or body == "-":
            body = body[2:].lstrip(" ")
        if not body or body[0] == "#":
            continue
        colon = body.find(": ")
        if colon < 0 and body.endswith(":"):
            colon = len(body) - 1
        if colon > 0 and body[0] not in "'\"[]{}?:,&*!|>%@`#":
            value = body[colon + 1 :].lstrip(" ")
        elif line[:1] not in (" ", "-"):
            return False  # at the margin, neither a key nor an item
        else:
            value = body
        if not _one_line_value(value):
            return False
    return True


def _one_line_value(value: str) -> bool:
    """A value that ends on its line: empty, plain, quoted and closed, `[]` or `{}`."""
    if not value or value[0] == "#":
        return True
    first = value[0]
    if first in "'\"":
        end = _closing_quote(value)
        if end is None:
            return False
        rest = value[end + 1 :]
        return not rest.strip(" ") or (rest[0] == " " and rest.lstrip(" ")[0] == "#")
    if first in "[{":
        rest = value[2:]
        return value[:2] in ("[]", "{}") and (
            not rest.strip(" ") or (rest[0] == " " and rest.lstrip(" ")[0] == "#")
        )
    if first == "-":
        return value[1:2] not in ("", " ")
    return first not in "]},?:|>&*!%@`"


def _closing_quote(value: str) -> int | None:
    """Where the quoted scalar that opens `value` closes, or None (it goes on)."""
    quote = value[0]
    index = 1
    while index < len(value):
        char = value[index]
        if quote == "'" and char == "'":
            if value[index + 1 : index + 2] == "'":
                index += 2
                continue
            return index
        if quote == '"':
            if char == "\\":
                index += 2
                continue
            if char == '"':
                return index
        index += 1
    return None
