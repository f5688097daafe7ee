"""Markdown block structure of an incident body: the headings CommonMark finds.

Sections are the top-level headings a CommonMark renderer (GitHub, markdown-it)
shows: never one inside a code block, an HTML comment, a list item (a timeline
entry's text) or a block quote, and setext headings (`Title` over `=====`) too.
`headings()` asks markdown-it-py, except on a body that a plain line scanner provably
reads the same way (what incidentctl itself writes): `log` runs there, where
importing markdown-it (and `re`) would cost more than its whole edit.
tests/test_headings.py holds both to markdown-it on generated documents.

Text from the command line goes into the body through `escape_text()`: none of its
lines can then start a block (a heading, a fence, an HTML block, a setext underline),
so it stays inside its entry or paragraph; `unescape_line()` reads a line back as
it was given. Only string operations here: this module is on the `log` fast path.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# (first line index, title, level, last line index): a setext heading has two lines.
Heading = tuple[int, str, int, int]

# What markdown-it strips from a heading's title (its mdTrim: JavaScript's trim).
_TRIM = (
    "\t\n\x0b\x0c\r \xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
_PARSER: list[MarkdownIt] = []


def headings(lines: list[str], start: int = 0) -> list[Heading]:
    """The top-level headings of the Markdown in `lines[start:]`, as CommonMark finds them.

    `lines` are cut at \\n, \\r\\n and \\r only (`lines.split_lines`), as CommonMark
    cuts them; line indexes count from the start of `lines`.
    """
    found = plain_headings(lines, start)
    return found if found is not None else parsed_headings(lines, start)


def parsed_headings(lines: list[str], start: int = 0) -> list[Heading]:
    """`headings()` through markdown-it-py's block parser (imported on first use)."""
    if not _PARSER:
        from markdown_it import MarkdownIt

        _PARSER.append(MarkdownIt("commonmark"))
    tokens = _PARSER[0].parse("".join(lines[start:]))
    out = []
    for pos, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0 and token.map:
            first, end = token.map
            title = tokens[pos + 1].content
            out.append((start + first, title, int(token.tag[1:]), start + end - 1))
    return out


def plain_headings(lines: list[str], start: int = 0) -> list[Heading] | None:
    """`headings()` by a line scanner, or None when the text needs the real parser.

    The scanner takes a line starting with `#` at column 0 for the ATX heading it
    is (nothing can hold such a line but an open fence or HTML block: it ends every
    paragraph, list item and block quote), and follows fences and `<!--` comments
    opened at column 0 (always top-level blocks, so they end only at their closing
    line). It gives up (None) on anything whose meaning depends on the blocks
    around it: an indented `#`, fence or `<` (1-3 columns: in a list item or not),
    any other HTML block, and a `=` or `-` line that could underline a setext
    heading (one that does not follow a blank line or a block that has ended).
    """
    out: list[Heading] = []
    fence = ""  # the opening run of the column-0 fence we are in
    comment = False  # in a column-0 `<!--` HTML block
    boundary = True  # the previous line ended a block (or there is none)
    for index in range(start, len(lines)):
        line = lines[index]
        if line[-1:] == "\n":
            line = line[:-1]
        if line[-1:] == "\r":
            line = line[:-1]
        if fence:
            if _closes(line, fence):
                fence, boundary = "", True
            continue
        if comment:
            if "-->" in line:
                comment, boundary = False, True
            continue
        text = line.lstrip(" \t")
        if not text:
            boundary = True
            continue
        head = text[0]
        if len(text) == len(line):  # column 0
            if head == "#":
                found = atx_heading(line)
                if found is not None:
                    out.append((index, found[1], found[0], index))
                    boundary = True
                    continue
            elif head in "`~":
                run = len(line) - len(line.lstrip(head))
                if run >= 3 and not (head == "`" and "`" in line[run:]):
                    fence = line[:run]
                    continue
            elif head == "<":
                if not line.startswith("<!--"):
                    return None  # another kind of HTML block: where does it end?
                comment = "-->" not in line
                boundary = not comment
                continue
        elif (head in "#<" or text[:3] in ("```", "~~~")) and width(line) < 4:
            return None
        if head in "=-" and not text.rstrip(" \t").strip(head) and width(line) < 4:
            if not boundary:
                return None  # it may underline the paragraph above it
            boundary = head == "-" and len(text.rstrip(" \t")) >= 3  # a thematic break
            continue
        boundary = False
    return out


def atx_heading(line: str) -> tuple[int, str] | None:
    """A line (no line ending) starting at column 0 as an ATX heading: (level, title)."""
    rest = line.lstrip("#")
    level = len(line) - len(rest)
    if not 1 <= level <= 6 or (rest and rest[0] not in " \t"):
        return None
    body = rest.rstrip(" \t")
    bare = body.rstrip("#")  # an optional closing run of #, after a space
    if len(bare) < len(body) and bare and bare[-1] in " \t":
        body = bare
    return level, body.strip(_TRIM).replace("\x00", "\ufffd")


def width(line: str) -> int:
    """Columns of the line's leading spaces and tabs (tab stops every 4 columns)."""
    column = 0
    for char in line:
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
        else:
            break
    return column


def _closes(line: str, fence: str) -> bool:
    """Whether the line closes a column-0 fence opened by the run `fence`."""
    text = line.lstrip(" \t")
    if not text.startswith(fence) or width(line) >= 4:
        return False
    return not text.lstrip(fence[0]).strip(" \t")


# -- text from the command line ---------------------------------------------------------

_ESCAPED = frozenset("#=-+*`~<>[\\")  # what may follow an escaping backslash
_DIGITS = "0123456789"


def escape_text(lines: list[str]) -> list[str]:
    """Lines of plain text with a backslash where one would start a Markdown block.

    A heading (`#`), a setext underline (`===`, `---`), a fence, an HTML block
    (`<`), a block quote and a list item that holds one of these, or a link
    definition (`[x]: …`), become plain text that renders as typed. A list item
    or quote holding plain text stays one, and a line indented four columns past
    every such item is code or continued text already. Every line that starts
    with a backslash is escaped too, so `unescape_line` can tell them apart.
    """
    out = []
    safe_from = 4  # the column from which a line can start no block
    for line in lines:
        text = line.lstrip(" ")
        indent = len(line) - len(text)
        if not text.strip(" \t") or (
            indent >= safe_from and text[0] != "\\" and not _digits_then_backslash(text)
        ):
            out.append(line)
            continue
        tabbed = text[0] == "\t"
        if tabbed:
            text = text.lstrip(" \t")
            indent = len(line) - len(text)
        escape, content = _block_start(text)
        # Tab stops depend on the prefix the line is written after: a list item or
        # quote behind a tab is escaped rather than measured.
        if not escape and not (tabbed and content):
            if content:
                safe_from = max(safe_from, indent + content + 4)
            out.append(line)
            continue
        digits = len(text) - len(text.lstrip(_DIGITS))
        at = indent + digits  # before `.` or `)` of `1.`, else before the first character
        out.append(line[:at] + "\\" + line[at:])
    return out


def unescape_line(line: str) -> str:
    """A line of text as given, from a line written by `escape_text`."""
    text = line.lstrip(" \t")
    at = len(line) - len(text)
    digits = len(text) - len(text.lstrip(_DIGITS))
    if digits:
        if text[digits : digits + 1] == "\\" and text[digits + 1 : digits + 2] in (".", ")", "\\"):
            at += digits
        else:
            return line
    elif not (text[:1] == "\\" and text[1:2] in _ESCAPED):
        return line
    return line[:at] + line[at + 1 :]


def _digits_then_backslash(text: str) -> bool:
    digits = len(text) - len(text.lstrip(_DIGITS))
    return digits > 0 and text[digits : digits + 1] == "\\"


def _block_start(text: str) -> tuple[bool, int]:
    """(whether `text` must be escaped, the column of its text in the list items or
    quotes it opens, 0 if it opens none); `text` starts with no space or tab."""
    offset = 0
    while True:
        head = text[offset : offset + 1]
        if not head:
            return True, 0  # an empty list item or quote
        if head in "#=<\\":
            return True, 0
        if head in "`~":
            return text.startswith(head * 3, offset), offset
        if head == "[":
            return "]:" in text, offset  # a link or footnote definition vanishes
        if head in "-+*>":
            marker = 1
            if head == "-" and not text[offset:].rstrip(" \t").strip("-"):
                return True, 0  # a setext underline or a rule
        elif head in _DIGITS:
            marker = len(text) - offset - len(text[offset:].lstrip(_DIGITS))
            after = text[offset + marker : offset + marker + 1]
            if after == "\\":
                return True, 0
            if after not in (".", ")"):
                return False, offset
            marker += 1
        else:
            return False, offset
        after = text[offset + marker : offset + marker + 1]
        if after in ("", "\t"):
            return True, 0
        if after != " ":
            return head == ">", offset  # `>x` is a quote; `-x`, `*x*`, `1.5` are text
        offset += marker + 1
        if text[offset : offset + 1] in ("", " ", "\t"):
            return True, 0
