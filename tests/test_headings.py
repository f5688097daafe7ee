"""Sections are the headings CommonMark finds, and command-line text cannot make one.

The scanners of incidentctl/blocks.py are held to markdown-it-py (the oracle) on
documents generated from lines that trip line scanners up; text given to `log`,
`status -m` and `open --summary` is checked through the CLI to stay inside its entry
or paragraph and to read back as it was given.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from incidentctl.incident.blocks import (
    escape_text,
    headings,
    parsed_headings,
    plain_headings,
    unescape_line,
)
from incidentctl.incident.file import IncidentFile
from incidentctl.incident.lines import split_lines
from incidentctl.incident.timeline import Entry, format_entry

MD = MarkdownIt("commonmark")
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def oracle(text: str) -> list[tuple[int, str, int, int]]:
    """Top-level headings as markdown-it finds them: (first line, title, level, last line)."""
    tokens = MD.parse(text)
    return [
        (token.map[0], tokens[pos + 1].content, int(token.tag[1:]), token.map[1] - 1)
        for pos, token in enumerate(tokens)
        if token.type == "heading_open" and token.level == 0 and token.map
    ]


# Lines that trip line scanners up: ATX headings of every level, with closing runs and
# odd whitespace; fences of both kinds, lengths and indents; HTML comments and blocks;
# indented code; setext underlines and rules; list items and block quotes holding
# headings; Unicode line separators that are not Markdown line endings.
TRICKY = [
    *(f"{'#' * n} Timeline" for n in range(1, 8)),
    "## Timeline ##",
    "## Timeline #####   ",
    "### Root Cause#",
    "## #",
    "#",
    "## ",
    "#hashtag",
    "#\tTabbed",
    "## \u00a0spaced\u3000",
    "## a\x00b",
    " ## one space",
    "  ## two spaces",
    "   ## three spaces",
    "    ## four spaces",
    "\t## tab",
    "```",
    "````",
    "```python",
    "```a`b",
    "~~~",
    "~~~~",
    "~~~ text",
    " ```",
    "   ~~~",
    "    ```",
    "\t```",
    "``",
    "<!--",
    "-->",
    "<!-- one line -->",
    "<!-- opened",
    "closed -->",
    "<!-->",
    "  <!--",
    "<!-- incidentctl:figures -->",
    "<div>",
    "</div>",
    "<pre>",
    "</pre>",
    "<span>inline</span>",
    "<?php",
    "?>",
    "",
    " ",
    "\t",
    "text",
    "more text",
    "    indented code",
    "===",
    "---",
    "  ---",
    "    ===",
    "- - -",
    "***",
    "-",
    "=",
    "- item",
    "  - nested",
    "- ## in a list item",
    "  ## in an item",
    "- ```",
    "- <!--",
    "* star",
    "1. one",
    "2) two",
    "> quote",
    "> ## quoted",
    ">",
    "> ```",
    "- `2025-06-01T10:00:00Z` **A** _(note)_ entry",
    "  continued",
    "  \\## escaped",
    "- [ ] task",
    "| a | b |",
    "| --- | --- |",
    "[ref]: https://example.com",
    "_TODO_",
    "\\## backslash",
    "note\u2028## Timeline",
    "\u2028",
    "\u2029## Timeline",
    "x\x85## Timeline",
    "x\x0b## Timeline",
    "\x0c",
    "x\x1c## Timeline",
]
ENDINGS = ["\n", "\n", "\n", "\r\n", "\r"]
noise = st.text(alphabet="#`~<!->= \t\u2028ax*1.", max_size=8)
line = st.sampled_from(TRICKY) | noise
document = st.builds(
    lambda pairs, tail: "".join(a + b for a, b in pairs) + tail,
    st.lists(st.tuples(line, st.sampled_from(ENDINGS)), max_size=16),
    st.sampled_from(["", "tail", "## last", "```"]),
)


@PROPERTY
@given(document)
def test_scanners_find_the_headings_markdown_it_finds(text: str) -> None:
    """Every scanner agrees with markdown-it on generated tricky documents."""
    lines = split_lines(text)
    assert "".join(lines) == text
    want = oracle(text)
    assert headings(lines) == want
    assert parsed_headings(lines) == want
    plain = plain_headings(lines)
    assert plain is None or plain == want


# Blocks the line scanner reads without the parser: each ends with a blank line, so a
# `---` or `===` opening one cannot underline the paragraph before it.
PLAIN_BLOCKS = [
    "## Timeline\n",
    "## Timeline ##\n",
    "# Title #\n",
    "###### six\n",
    "####### seven\n",
    "#x\n",
    "text\nmore\n",
    "---\n",
    "===\n",
    "***\n",
    "- `2025-06-01T10:00:00Z` **A** _(note)_ entry\n  \\## escaped\n  - nested\n",
    "- [x] done\n- [ ] open\n",
    "> ## quoted\n> more\n",
    "    ## indented code\n",
    "<!-- incidentctl:figures -->\n| a | b |\n| --- | --- |\n<!-- /incidentctl:figures -->\n",
    "<!--\n## Timeline\n\n- `2025-06-01T10:00:00Z` **M** _(note)_ fake\n-->\n",
    "<!-- a --> ## not a heading\n",
    "```\n## Timeline\n```\n",
    "````md\n```\n## Timeline\n````\n",
    "~~~\n## Timeline\n```\n~~~~ \n",
    "```\n## unclosed fence runs to the end\n",
    "<!--\n## unclosed comment runs to the end\n",
    "note\u2028## Timeline\n",
    "x\x85## Timeline\r\n",
    "- ```\n",
    "- <div>\n",
    "> ```\n",
]
plain_document = st.builds(
    lambda blocks, ending: "\n".join(blocks).replace("\n", ending),
    st.lists(st.sampled_from(PLAIN_BLOCKS), max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
)


@PROPERTY
@given(plain_document)
def test_the_fast_scanner_reads_what_incidentctl_writes(text: str) -> None:
    """On fences, comments and entries as incidentctl writes them the fast scanner decides,
    and finds what markdown-it finds."""
    lines = split_lines(text)
    assert plain_headings(lines) == oracle(text)


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("## Timeline\n", True),
        ("```\n## Timeline\n```\n", True),
        ("<!--\n## Timeline\n-->\n", True),
        ("  ## Timeline\n", False),  # in a list item or not: depends on what is above
        ("   ```\n## Timeline\n", False),
        ("<div>\n## Timeline\n", False),
        ("Timeline\n---\n", False),  # a setext heading
        ("\n---\n", True),  # a rule
    ],
)
def test_fast_scanner_gives_up_only_where_it_must(text: str, plain: bool) -> None:
    """The fast scanner hands a document to the parser exactly when context decides."""
    found = plain_headings(split_lines(text))
    assert (found is not None) is plain
    assert headings(split_lines(text)) == oracle(text)


# -- text from the command line ------------------------------------------------------------

PIECES = [
    *("#", "## x", "===", "---", "-", "- ", "* ", "+ ", "1. ", "1) ", "12\\", "\\"),
    *("> ", ">", "```", "~~~", "<!--", "-->", "<div>", "[a]: /u", "[^1]: n"),
    *("    ", "  ", "\t", " ", "x", "text", "`c`", "**b**", "1.5", "|a|", "\u00a0"),
]
text_line = st.lists(st.sampled_from(PIECES), max_size=5).map("".join)
AT = datetime(2025, 6, 1, 11, 0, tzinfo=timezone.utc)


@PROPERTY
@given(st.lists(text_line, min_size=1, max_size=8))
def test_entry_text_stays_in_its_entry(more: list[str]) -> None:
    """Any further lines of an entry's text make no heading, fence or HTML block, stay in
    its one list item, and read back as given."""
    assert [unescape_line(line) for line in escape_text(more)] == more
    text = "\n".join(["first", *(line.rstrip(" \t") for line in more)])
    written = format_entry(Entry(AT, "A", "note", text))
    body = "## Timeline\n\n" + "".join(written) + "\n## After\n"
    env: dict[str, Any] = {}
    tokens = MD.parse(body, env)
    assert [t.map[0] for t in tokens if t.type == "heading_open" and t.map] == [
        0,
        len(written) + 3,
    ]
    assert not [t.type for t in tokens if t.type in ("html_block", "fence")]
    assert not env.get("references")
    items = [t for t in tokens if t.type == "list_item_open" and t.level == 1]
    assert len(items) == 1
    file = IncidentFile(f"---\nid: X\n---\n{body}")
    assert [entry.text for entry in file.timeline()] == [text.rstrip("\n")]


@PROPERTY
@given(st.lists(text_line, min_size=1, max_size=8))
def test_summary_text_makes_no_heading(lines: list[str]) -> None:
    """Escaped summary lines, at the top level of the body, make no heading or block."""
    body = "## Summary\n\n" + "\n".join(escape_text(lines)) + "\n\n## Timeline\n"
    env: dict[str, Any] = {}
    tokens = MD.parse(body, env)
    assert oracle(body) == [
        (0, "Summary", 2, 0),
        (body.count("\n") - 1, "Timeline", 2, body.count("\n") - 1),
    ]
    assert not [t.type for t in tokens if t.type in ("html_block", "fence")]
    assert not env.get("references")


# -- through the CLI -------------------------------------------------------------------------

IDENT = "INC-20250601-ab12"
REL = f"incidents/2025/{IDENT}-checkout-failing.md"
FRONT = f"""---
id: {IDENT}
title: Checkout failing
status: triage
severity: SEV-3
type: outage
environment: production
services: [checkout]
commander: Alice Responder
roles: {{}}
opened_at: 2025-06-01T10:00:00Z
acknowledged_at: null
mitigated_at: null
resolved_at: null
closed_at: null
action_items: []
---
"""
OPENED = "- `2025-06-01T10:00:00Z` **Alice Responder** _(opened)_ Incident opened.\n"
FAKE = "- `2025-06-01T09:00:00Z` **Mallory** _(note)_ planted\n"
LATER = "- `2025-06-01T10:30:00Z` **Bob** _(note)_ later\n"
TIMELINE = f"## Timeline\n\n{OPENED}"
# A `## Timeline` that is not one, above the real one (`{T}`): a line scanner that
# takes it for the section writes entries into it and reads the planted one.
DECOYS = {
    "html comment": f"<!--\n## Timeline\n\n{FAKE}-->\n\n{{T}}",
    "comment opened in a line": f"<!-- draft\n## Timeline\n{FAKE}-->\n\n{{T}}",
    "backtick fence": f"```\n## Timeline\n{FAKE}```\n\n{{T}}",
    "longer tilde fence": f"~~~~\n## Timeline\n~~~\n{FAKE}~~~~\n\n{{T}}",
    "fence indented 3": f"   ```\n## Timeline\n{FAKE}   ```\n\n{{T}}",
    "unclosed fence in a list item": "- notes\n  ```\n  ## Timeline\n\n{T}",
    "indented code": f"    ## Timeline\n    {FAKE}\n{{T}}",
    "html block": f"<div>\n## Timeline\n{FAKE}</div>\n\n{{T}}",
    "block quote": f"> ## Timeline\n>\n> {FAKE}\n{{T}}",
    "U+2028": f"Pasted note\u2028## Timeline\n\n{FAKE}\n{{T}}",
    "NEL": f"Pasted note\x85## Timeline\n\n{FAKE}\n{{T}}",
    "form feed": f"Pasted note\x0c## Timeline\n\n{FAKE}\n{{T}}",
    "setext timeline": "Timeline\n--------\n\n" + OPENED,
    "comment between entries": f"## Timeline\n\n{OPENED}\n<!--\n## Hidden\n-->\n\n{LATER}",
    "CR line endings": "{T}",
}


def _place(repo: Repo, text: str, ending: str = "\n") -> None:
    path = repo.file(REL)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", ending).encode("utf-8"))
    repo.git("add", REL)
    repo.git("commit", "-q", "-m", "hand-written incident")


@pytest.mark.parametrize("name", list(DECOYS))
def test_log_writes_and_reads_the_real_timeline(repo: Repo, name: str) -> None:
    """A `## Timeline` that Markdown does not show as one never takes entries or gives any."""
    body = DECOYS[name].replace("{T}", TIMELINE)
    ending = "\r" if name == "CR line endings" else "\n"
    _place(repo, f"{FRONT}\n# Checkout failing\n\n{body}\n## Notes\n\nKeep.\n", ending)
    before = body_of(repo.file(REL))
    repo.ok("log", IDENT, "after the decoy")
    earlier = ["Incident opened.", "later"] if LATER in body else ["Incident opened."]
    assert [e["text"] for e in repo.json("timeline", IDENT)] == [*earlier, "after the decoy"]
    after = body_of(repo.file(REL))
    at = _line_of(before, LATER if LATER in body else OPENED)  # the entry goes after it
    moved = [
        (f + (f > at), title, level, last + (f > at)) for f, title, level, last in oracle(before)
    ]
    assert oracle(after) == moved
    added = split_lines(after)[at + 1]
    assert added.startswith("- `") and "after the decoy" in added and added.endswith(ending)


def body_of(path: Path) -> str:
    """The Markdown of an incident file: what follows its front matter."""
    file = IncidentFile(path.read_bytes().decode("utf-8"))
    return "".join(file.lines[file.body_start :])


def _line_of(text: str, line: str) -> int:
    """Index of the last occurrence of `line` (without its ending) among the text's lines."""
    lines = [ln.rstrip("\r\n") for ln in split_lines(text)]
    return len(lines) - 1 - lines[::-1].index(line.rstrip("\n"))


# Further lines that would start a block: each must stay text of its entry.
HOSTILE_TEXTS = [
    "pasted notes:\n## Root Cause\nthe disk filled up",
    "setext one\n===",
    "setext two\n---",
    "a fence\n```\n## Timeline\n```",
    "a tilde fence\n~~~~",
    "hidden:\n<!--\n## Timeline",
    "html:\n<div>\n\n## Timeline",
    "quoted\n> ## Timeline",
    "listed\n- ## Timeline\n  ## Timeline",
    "numbered\n1. ## Timeline\n2) ---",
    "tabbed\n\t## Timeline\n\t- ## Timeline",
    "a backslash\n\\## stays\n\\x and 1\\. too",
    "paragraphs\n\n## Timeline\n\n    # a shell comment in code",
    "a link\n[x]: https://example.com",
    "kept as a list:\n- deploy 1234\n- flag `checkout_v2`\n  1. sub step",
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_log_text_cannot_make_a_heading(repo: Repo, text: str) -> None:
    """`log` and `status -m` texts stay inside their entries and read back as given."""
    data = repo.open("Queue backlog")
    path = repo.file(data["path"])
    heads = [h[1:3] for h in oracle(body_of(path))]
    repo.ok("log", data["id"], text)
    repo.ok("status", data["id"], "investigating", "-m", text)
    repo.ok("log", data["id"], "after")
    written = body_of(path)
    env: dict[str, Any] = {}
    tokens = MD.parse(written, env)
    assert [h[1:3] for h in oracle(written)] == heads
    # and no heading at any depth: not in the list item, not in a quote in it
    assert sum(t.type == "heading_open" for t in tokens) == len(heads)
    assert not [t.type for t in tokens if t.type in ("html_block", "fence")]
    assert not env.get("references")
    texts = [e["text"] for e in repo.json("timeline", data["id"])]
    assert texts[1:] == [text, f"Status triage → investigating: {text}", "after"]
    assert repo.json("show", data["id"])["timeline"] == repo.json("timeline", data["id"])


def test_summary_cannot_make_a_heading(repo: Repo) -> None:
    """A `--summary` holding a `## Timeline`, a fence and a comment stays summary text."""
    summary = f"what happened\n## Timeline\n{FAKE}```\n<!--"
    data = repo.open("Queue backlog", "--summary", summary)
    repo.ok("log", data["id"], "first note")
    path = repo.file(data["path"])
    titles = [h[1] for h in oracle(body_of(path))]
    assert titles[:3] == ["Queue backlog", "Summary", "Timeline"]
    assert titles.count("Timeline") == 1
    texts = [e["text"] for e in repo.json("timeline", data["id"])]
    assert texts[1:] == ["first note"]
    from incidentctl.incident.sections import find_section, sections

    found = find_section(sections(IncidentFile.read(path)), "Summary")
    assert found is not None and "## Timeline" in found.text and "planted" in found.text
    assert json.loads(repo.run("check", "--format", "json").stdout)["ok"]
