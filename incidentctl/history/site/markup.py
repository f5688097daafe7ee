"""An incident's body as HTML: CommonMark with raw HTML off and only harmless links.

The body is cut where CommonMark puts its top-level headings (blocks.headings, what
`check` and GitHub see): the `# title` heading, `## Summary` and `## Timeline` come
out (the page shows them from the front matter and the timeline's entries); the rest
(checklist, post-mortem) is rendered by markdown-it-py in CommonMark mode, plus
GitHub's tables and strikethrough, which the post-mortem's tables need. Raw HTML is
text (`html: False`), a paragraph that is only an HTML comment (the tool's
`<!-- incidentctl:… -->` markers) is dropped, links and images take only http(s),
mailto and relative targets (never `javascript:`, `data:`, `vbscript:`, `file:`),
and control, bidi and invisible characters show as `\\u202e`-style escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ...incident.blocks import headings
from ...incident.lines import split_lines
from ...safetext import safe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from markupsafe import Markup

TASKS = {"[ ] ": "☐ ", "[x] ": "☑ ", "[X] ": "☑ "}
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"


@dataclass(frozen=True)
class Body:
    """The parts of an incident's body the page shows, as Markdown."""

    summary: str  # the text under `## Summary`
    rest: str  # everything else but the title heading and the timeline


def split_body(text: str, title: str) -> Body:
    """Cut the file's body (after the front matter) into the summary and the rest."""
    lines = split_lines(text)
    start = _body_start(lines)
    heads = headings(lines, start)
    drop: list[tuple[int, int]] = []  # [first, end) line ranges left out of `rest`
    summary: list[str] = []
    seen: set[str] = set()
    for pos, (first, name, level, last) in enumerate(heads):
        key = name.strip().lower()
        if pos == 0 and level == 1 and name.strip() == title.strip():
            drop.append((first, last + 1))
        elif level == 2 and key in ("summary", "timeline") and key not in seen:
            seen.add(key)
            end = next((h[0] for h in heads[pos + 1 :] if h[2] <= 2), len(lines))
            drop.append((first, end))
            if key == "summary":
                summary = lines[last + 1 : end]
    kept: list[str] = []
    cursor = start
    for first, end in sorted(drop):
        kept.extend(lines[cursor:first])
        cursor = max(cursor, end)
    kept.extend(lines[cursor:])
    return Body("".join(summary).strip(), "".join(kept).strip() + "\n")


def _body_start(lines: list[str]) -> int:
    """The line after the front matter's closing `---` (as IncidentFile finds it)."""
    if not lines or lines[0].removeprefix("\ufeff").rstrip("\r\n").rstrip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            return index + 1
    return len(lines)


def render(markdown: str) -> str:
    """Markdown as HTML, safe to put in a page (see the module's docstring)."""
    if not markdown.strip():
        return ""
    md = _markdown()
    source = visible(_unmarked(markdown), keep="\n\r\t")
    tokens = _tasks(_without_comments(md.parse(source)))
    for token in tokens:  # the page's title is its one h1: `# Post-mortem` becomes h2
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1:]) + 1, 6)}"
    html: str = md.renderer.render(tokens, md.options, {})
    return html


def visible(text: str, keep: str = "\n") -> str:
    """safetext.safe (unsafe characters as escapes), quick for text that has none but
    the `keep` ones: safe() looks at each character of text holding a newline."""
    probe = text
    for char in keep:
        probe = probe.replace(char, "")
    return text if probe.isprintable() else safe(text, keep=keep)


def _unmarked(markdown: str) -> str:
    """The tool's `<!-- incidentctl:NAME -->` marker lines made blank: as raw HTML is
    off, one right after a table would be read as the table's last row."""
    if "<!-- " not in markdown:
        return markdown
    lines = split_lines(markdown)
    for index, line in enumerate(lines):
        text = line.strip()
        if text.startswith(("<!-- incidentctl:", "<!-- /incidentctl:")) and text.endswith("-->"):
            lines[index] = line[len(line.rstrip("\r\n")) :]
    return "".join(lines)


def _tasks(tokens: list[Token]) -> list[Token]:
    """A list item starting `[ ]` or `[x]` (a checklist, as GitHub shows it) as ☐ / ☑."""
    for index, token in enumerate(tokens):
        if token.type != "inline" or index < 2 or tokens[index - 2].type != "list_item_open":
            continue
        children = token.children or []
        first = children[0] if children else None
        if first is not None and first.type == "text" and first.content[:4] in TASKS:
            first.content = TASKS[first.content[:4]] + first.content[4:]
    return tokens


def trusted(html: str) -> Markup:
    """HTML made by this site (render() here, history/svg.py), whose text is escaped
    already, marked so that the templates print it as it is."""
    from markupsafe import Markup

    return Markup(html)  # noqa: S704 (made from escaped text only)


def plain(markdown: str, limit: int = 0) -> str:
    """Markdown as one line of text (for the index and the search), cut at `limit`."""
    text = " ".join(markdown.split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def is_safe_url(url: str) -> bool:
    """A link target a reader may follow: http(s), mailto, or relative (no scheme).

    markdown-it hands it over normalised (percent-encoded), so a tab or newline inside
    `java\\tscript:` is `%09` here and makes the scheme unknown, hence refused."""
    candidate = url.strip()
    cut = min((candidate.find(c) for c in "/?#" if c in candidate), default=len(candidate))
    scheme, colon, _ = candidate[:cut].partition(":")
    if not colon:
        return True  # relative: a path, a fragment, `//host/…` (the page's scheme)
    return scheme.lower() in SAFE_SCHEMES


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = is_safe_url  # type: ignore[method-assign]

    def link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", LINK_REL)
        result: str = self.renderToken(tokens, idx, options, env)
        return result

    md.add_render_rule("link_open", link_open)
    return md


def _without_comments(tokens: list[Token]) -> list[Token]:
    """Drop paragraphs that are only an HTML comment (raw HTML is off, so they would
    show as text): the tool's `<!-- incidentctl:… -->` markers, a hand-written note."""
    out: list[Token] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if (
            token.type == "paragraph_open"
            and index + 2 < len(tokens)
            and tokens[index + 2].type == "paragraph_close"
            and _only_comment(tokens[index + 1].content)
        ):
            index += 3
            continue
        out.append(token)
        index += 1
    return out


def _only_comment(text: str) -> bool:
    text = text.strip()
    return text.startswith("<!--") and text.endswith("-->") and "-->" not in text[4:-3]
