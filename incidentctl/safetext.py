"""Text that is safe to print: control, bidi and invisible characters made visible.

Titles, entries, file names and commit subjects come from files and commits anyone
with a pull request can write. Printed raw, an ESC starts a terminal escape sequence
(OSC 52 writes the clipboard, OSC 8 hides a link, CSI 2J clears the screen), U+009B is
a one-byte CSI, and a bidi override (U+202E) makes `gnp.exe` read as `exe.png`. Every
line incidentctl prints goes through `safe()`, JSON through `json_safe()`, and input
from the command line is refused when it holds any of them (README, Scripting).

Only string operations here, and `unicodedata` only once text holds a character
that is not printable: this module is on the `log` fast path (tests/test_fastpath.py).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Iterable

# Unicode categories a terminal may act on or a reader be fooled by: controls (Cc:
# C0, DEL, C1), format characters (Cf: bidi embeddings, overrides, isolates and marks,
# zero-width spaces, word joiners, tag characters), line and paragraph separators (Zl,
# Zp), and lone surrogates (Cs: undecodable bytes, which would also crash the output).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Format characters that are needed, not hiding anything: emoji sequences (ZWJ) and
# Persian, Indic and other scripts (ZWNJ, ZWJ) use them inside ordinary words.
JOINERS = frozenset("\u200c\u200d")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def is_unsafe(char: str) -> bool:
    """Whether one character may not be printed as it is."""
    if char.isprintable() or char in JOINERS:
        return False
    import unicodedata

    return unicodedata.category(char) in UNSAFE_CATEGORIES


def escape(char: str) -> str:
    """One character in Python's notation: `\\n`, `\\x1b`, `\\u202e`, `\\U000e0041`."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def safe(text: str, *, keep: str = "") -> str:
    """`text` with every unsafe character (tab and newline too) written as an escape.

    `keep` names characters to leave as they are (e.g. "\\n" for text printed over
    several lines on purpose). Backslashes stay as they are: the escapes are for a
    reader, and text that already spells `\\x1b` is harmless.
    """
    if text.isprintable():  # the usual case, checked in C
        return text
    return "".join(escape(c) if c not in keep and is_unsafe(c) else c for c in text)


def json_safe(document: str) -> str:
    """A JSON document with every unsafe character written as a `\\uXXXX` escape.

    json.dumps already escapes C0 controls, but not C1 controls, bidi controls or
    U+2028/U+2029. Outside strings JSON is ASCII, so each such character is inside a
    string, where `\\uXXXX` (a surrogate pair above U+FFFF) means that very character:
    the document stays valid and loses nothing; other non-ASCII text stays readable.
    """
    if document.isascii():
        return document
    # Look at each distinct character once (str.translate then works at C speed): a
    # listing of 10,000 incidents is millions of characters, a few of them not ASCII.
    table: dict[int, str] = {}
    for char in set(document):
        if char.isascii() or not is_unsafe(char):
            continue
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            table[ord(char)] = f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
        else:
            table[code] = f"\\u{code:04x}"
    return document.translate(table) if table else document


_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KINDS = {
    "Cc": "control character",
    "Cf": "invisible format character",
    "Zl": "line separator",
    "Zp": "paragraph separator",
    "Cs": "lone surrogate",
}


def describe(char: str) -> str:
    """`the bidi control character U+202E (RIGHT-TO-LEFT OVERRIDE)`, for messages."""
    import unicodedata

    kind = (
        "bidi control character"
        if char in _BIDI
        else _KINDS.get(unicodedata.category(char), "character")
    )
    name = unicodedata.name(char, "")
    if not name and char in _NAMED:
        name = escape(char)
    return f"the {kind} U+{ord(char):04X}" + (f" ({name})" if name else "")


def first_unsafe(text: str, allowed: str = "") -> str | None:
    """The first unsafe character of `text` that is not in `allowed`, if any."""
    if text.isprintable():
        return None
    for char in text:
        if char not in allowed and is_unsafe(char):
            return char
    return None


def first_unsafe_in(value: object) -> str | None:
    """The first unsafe character in a loaded value's strings (keys too), if any.

    Newlines and tabs are allowed: a YAML block scalar holds them. A value escaped in
    YAML (`"\\e[2J"`) holds characters that no line of the file shows.
    """
    if isinstance(value, str):
        return first_unsafe(value, "\t\n")
    if isinstance(value, dict):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = list(value)
    else:
        return None
    for item in items:
        char = first_unsafe_in(item)
        if char is not None:
            return char
    return None


def unsafe_lines(lines: Iterable[str]) -> list[tuple[int, str]]:
    """(1-based line, first unsafe character) of each line holding one.

    Tabs, the line's own ending (LF or CRLF) and a byte order mark opening the first
    line are not counted: they are ordinary in a text file.
    """
    found = []
    for number, line in enumerate(lines, 1):
        body = line.removesuffix("\n").removesuffix("\r")
        if number == 1:
            body = body.removeprefix("\ufeff")
        char = first_unsafe(body, "\t")
        if char is not None:
            found.append((number, char))
    return found


def clip(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters with `…`: a value quoted in a one-line message.

    A file may hold a 900 KB title or key; the message naming it stays one short line.
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"
