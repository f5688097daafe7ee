"""Line matchers of the incident file format, in plain string operations.

The `log` command cuts a file into lines, finds its timeline entries (headings:
blocks.py) and then writes one line; importing `re` (with `enum`, which it loads) costs it more than
all of that work. Each function here answers exactly what the regular expression
in its docstring would, which tests/test_lines.py checks against `re` on
generated lines.
"""

from __future__ import annotations

_DIGITS_COLON_DOT = frozenset("0123456789:.")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_MARKERS = ("<" * 7, ">" * 7, "|" * 7)


def split_lines(text: str) -> list[str]:
    r"""`text` cut after each `\n`, `\r\n` and lone `\r`, line endings kept.

    `[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z`: the lines CommonMark and git see.
    `str.splitlines()` also cuts at \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029, which
    a Markdown renderer shows inside a line: a file cut that way has headings and
    entries no reader of the file sees.
    """
    if "\r" not in text:
        out = text.split("\n")
        last = out.pop()
        out = [piece + "\n" for piece in out]
        if last:
            out.append(last)
        return out
    out = []
    pieces = text.split("\n")
    final = len(pieces) - 1
    for number, piece in enumerate(pieces):
        end = "\n" if number < final else ""
        parts = piece.split("\r")
        out.extend(part + "\r" for part in parts[:-1])
        tail = parts[-1]
        if not tail and end and len(parts) > 1:
            out[-1] += end  # \r\n ends one line
        elif tail or end:
            out.append(tail + end)
    return out


def is_conflict_marker(line: str) -> bool:
    r"""`^(<{7}|>{7}|\|{7})(?: |$)`: a merge conflict marker line (ending included)."""
    return line[:7] in _MARKERS and (line[7:8] == " " or line[7:] in ("", "\n"))


def entry(line: str) -> dict[str, str] | None:
    r"""A timeline entry's parts (at, author, kind, text), as this expression finds them.

    ``^- `(?P<at>\d{4}-\d\d-\d\dT[0-9:.]+Z)` \*\*(?P<author>[^*\n]*)\*\* ``
    ``_\((?P<kind>[a-z]+)\)_ ?(?P<text>.*)$`` (`line` has no line ending).
    """
    if not line.startswith("- `") or "\n" in line:
        return None
    end = line.find("`", 3)
    if end < 0:
        return None
    at = line[3:end]
    if not (
        len(at) >= 13
        and at[:4].isdecimal()
        and at[4] == "-"
        and at[5:7].isdecimal()
        and at[7] == "-"
        and at[8:10].isdecimal()
        and at[10] == "T"
        and at[-1] == "Z"
        and _DIGITS_COLON_DOT.issuperset(at[11:-1])
    ):
        return None
    if line[end : end + 4] != "` **":
        return None
    star = line.find("*", end + 4)
    if star < 0 or line[star : star + 5] != "** _(":
        return None
    author = line[end + 4 : star]
    start = pos = star + 5
    while pos < len(line) and line[pos] in _LOWER:
        pos += 1
    if pos == start or line[pos : pos + 2] != ")_":
        return None
    text = line[pos + 2 :]
    return {
        "at": at,
        "author": author,
        "kind": line[start:pos],
        "text": text[1:] if text[:1] == " " else text,
    }


def is_temp_name(name: str) -> bool:
    r"""`^\..+\.md\.[A-Za-z0-9_]+\.tmp\Z`: a temp file name of `write_atomic`."""
    if not name.endswith(".tmp") or "\n" in name:
        return False
    core = name[:-4]
    dot = core.rfind(".")
    token, head = core[dot + 1 :], core[:dot]
    return (
        dot >= 0
        and bool(token)
        and _WORD.issuperset(token)
        and head.startswith(".")
        and head.endswith(".md")
        and len(head) >= 5
    )
