"""Line matchers of the incident file format, in plain string operations.

The `log` command reads a file's headings, fences and timeline entries and then
writes one line; importing `re` (with `enum`, which it loads) costs it more than
all of that work. Each function here answers exactly what the regular expression
in its docstring would, which tests/test_lines.py checks against `re` on
generated lines.
"""

from __future__ import annotations

_DIGITS_COLON_DOT = frozenset("0123456789:.")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_MARKERS = ("<" * 7, ">" * 7, "|" * 7)


def is_conflict_marker(line: str) -> bool:
    r"""`^(<{7}|>{7}|\|{7})(?: |$)`: a merge conflict marker line (ending included)."""
    return line[:7] in _MARKERS and (line[7:8] == " " or line[7:] in ("", "\n"))


def fence(line: str) -> str | None:
    r"""`^ {0,3}(`{3,}|~{3,})`: the run of backticks or tildes opening a code fence."""
    text = line.lstrip(" ")
    if len(line) - len(text) > 3 or text[:1] not in ("`", "~"):
        return None
    run = len(text) - len(text.lstrip(text[0]))
    return text[:run] if run >= 3 else None


def heading(line: str) -> tuple[int, str] | None:
    r"""An ATX heading as (level, title), as this expression finds it.

    `^ ?(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$` with the title group stripped
    (`line` has no line ending).
    """
    text = line[1:] if line[:1] == " " else line
    rest = text.lstrip("#")
    level = len(text) - len(rest)
    if not 1 <= level <= 6 or "\n" in rest:
        return None
    if not rest.strip(" \t"):
        return level, ""
    if rest[0] not in " \t":
        return None
    title = rest.strip(" \t")
    closing = len(title) - len(title.rstrip("#"))  # an optional closing run of #
    if 0 < closing < len(title) and title[-closing - 1] in " \t":
        title = title[:-closing]
    return level, title.strip()


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
