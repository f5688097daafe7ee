"""The sections of an incident file, as a CommonMark renderer (markdown-it) finds them."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

    from .file import IncidentFile


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
