"""incidentctl.lines answers exactly what the regular expressions it replaces answer.

Each matcher is run next to its expression (the oracle, kept here) on hand-picked
edge cases and on many generated lines built from the characters that matter.
"""

from __future__ import annotations

import random
import re

import pytest

from incidentctl.incident import lines
from incidentctl.incident.config import Config, split_format

CONFLICT = re.compile(r"^(<{7}|>{7}|\|{7})(?: |$)")
ENTRY = re.compile(
    r"^- `(?P<at>\d{4}-\d\d-\d\dT[0-9:.]+Z)` \*\*(?P<author>[^*\n]*)\*\* "
    r"_\((?P<kind>[a-z]+)\)_ ?(?P<text>.*)$"
)
# \Z, not $: a name ending in a newline is not a temp file of ours (the one place the
# matcher is stricter than the expression incidentctl used before).
TEMP = re.compile(r"^\..+\.md\.[A-Za-z0-9_]+\.tmp\Z")

RUNS = 20_000


def generated(alphabet: list[str], seed: int, longest: int = 14) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randint(0, longest))) for _ in range(RUNS)]


def entry_like(seed: int) -> list[str]:
    """Entry lines with one part mangled at random: most near misses, some hits."""
    rng = random.Random(seed)
    parts = [
        ["- `", "-`", "- ``", "* `", ""],
        [
            "2026-11-26T14:05:00Z",
            "2026-11-26T14:05Z",
            "٢٠٢٦-11-26T1Z",
            "2026-11-26T:Z",
            "2026-11-26TZ",
            "2026-1-26T14Z",
            "2026-11-26T14:05:00",
            "2026-11-26T1.5Z",
            "x",
        ],
        ["` **", "`**", "` *", "``**"],
        ["Alice", "", "A*B", "Ünï cödé", "a`b", " "],
        ["** _(", "**_(", "* _(", "** (", "*** _("],
        ["note", "", "Note", "a1", "status", "é"],
        [")_", ")", ") _", "))_"],
        [" text", "", "text", "  two", " ", " **x** _(y)_"],
    ]
    return [assembled(rng, parts) for _ in range(RUNS)]


def assembled(rng: random.Random, parts: list[list[str]]) -> str:
    """One string of parts, each its first (well-formed) option four times in five."""
    return "".join(
        options[0] if rng.random() < 0.8 else rng.choice(options[1:]) for options in parts
    )


def test_conflict_markers_match_the_expression() -> None:
    cases = [
        "<<<<<<< HEAD\n",
        "<<<<<<<\n",
        "<<<<<<<",
        ">>>>>>> b",
        "|||||||",
        "=======\n",
        "<<<<<<<<\n",
        "<<<<<<<\r\n",
        "<<<<<<<x",
        " <<<<<<< a",
        "<<<<<<<\n\n",
    ]
    rng = random.Random(1)
    cases += [
        assembled(
            rng,
            [
                ["<" * 7, ">" * 7, "|" * 7, "<" * 6, "=" * 7, " " + "<" * 7],
                ["", "<", ">", "|"],
                [" ours", "", "\n", "\r\n", "x", "\n\n", " "],
            ],
        )
        for _ in range(RUNS)
    ]
    for line in cases:
        assert lines.is_conflict_marker(line) == bool(CONFLICT.match(line)), repr(line)


LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@pytest.mark.parametrize(
    "text",
    ["", "a", "a\n", "a\r\nb", "a\rb\r", "\r\r\n\n", "a\u2028b\x85c\x0bd\x0ce\x1cf\u2029\n"],
)
def test_split_lines_by_hand(text: str) -> None:
    """Lines end at LF, CRLF and CR only: U+2028, NEL, VT, FF and FS stay inside."""
    assert lines.split_lines(text) == LINES.findall(text)
    assert "".join(lines.split_lines(text)) == text


def test_split_lines_match_the_expression() -> None:
    """split_lines cuts generated texts exactly where the expression does."""
    alphabet = ["a", "\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1e", " "]
    for text in generated(alphabet, 4, 12):
        assert lines.split_lines(text) == LINES.findall(text), repr(text)


def _entry_oracle(line: str) -> dict[str, str] | None:
    match = ENTRY.match(line)
    return match.groupdict() if match else None


def test_entries_match_the_expression() -> None:
    cases = [
        "- `2026-11-26T14:05:00Z` **Alice** _(note)_ API is back",
        "- `2026-11-26T14:05:00.5Z` **** _(status)_",
        "- `2026-11-26T14:05:00Z` **Al*ce** _(note)_ x",
        "- `2026-11-26T14:05:00Z` **Alice** _(note)_x",
        "- `2026-11-26T14:05:00Z` **Alice** _(note)_  two spaces",
    ]
    generated_lines = entry_like(4)
    assert sum(bool(ENTRY.match(line)) for line in generated_lines) > RUNS // 10
    for line in cases + generated_lines:
        assert lines.entry(line) == _entry_oracle(line), repr(line)


def test_temp_names_match_the_expression() -> None:
    cases = [
        ".INC-1-x.md.4a7ffd989ed3.tmp",
        "INC-1.md.abc.tmp",
        "..md.x.tmp",
        ".a.md..tmp",
        ".a.md.x-y.tmp",
        ".a.md.x.tmp.tmp",
        ".a.md.é.tmp",
        ".x.md.md.a.tmp",
        ".tmp",
    ]
    rng = random.Random(5)
    cases += [
        assembled(
            rng,
            [
                [".", "", ".."],
                ["INC-1-a", "", ".", "é", "\n"],
                [".md.", ".md", "md.", ".md.."],
                ["4a7f_Z9", "", "x-y", "é", "."],
                [".tmp", "tmp", ".tmp\n", ".tmpx", ".TMP"],
            ],
        )
        for _ in range(RUNS)
    ]
    cases += generated([".", "m", "d", "t", "p", "a", "_", "-", "é"], 5, 16)
    for name in cases:
        assert lines.is_temp_name(name) == bool(TEMP.match(name)), repr(name)


@pytest.mark.parametrize(
    "id_format",
    [
        "INC-{date}-{rand}",
        "{date}{rand}",
        "OPS.{date}.{time}.{rand}",
        "x{rand}-{date}",
    ],
)
def test_file_name_ids_match_the_expression(id_format: str) -> None:
    config = Config(id_format=id_format)
    oracle = re.compile(rf"^({config.id_regex()})(?:-[^/]*)?\.md\Z")
    match = config.id_matcher()
    rng = random.Random(id_format)
    samples = []
    for _ in range(RUNS // 4):
        ident = id_format.format(
            date=assembled(rng, [["20261126", "2026112", "202611261", "2026-1126", "٢٠٢٦١١٢٦"]]),
            time=assembled(rng, [["1405", "140", "14:5", "\uff11\uff14\uff10\uff15"]]),
            rand=assembled(rng, [["7zjt", "7ZJT", "7zj", "7zj!", "7zjtt"]]),
        )
        samples.append(
            ident
            + assembled(
                rng, [["-api-down.md", ".md", "-.md", "-a/b.md", ".MD", "md", "-x.md.tmp", ""]]
            )
        )
    for name in samples:
        found = oracle.match(name)
        assert match(name) == (found.group(1) if found else None), (id_format, name)
    assert sum(match(name) is not None for name in samples) > len(samples) // 10


@pytest.mark.parametrize(
    "fmt", ["INC-{date}-{rand}", "{a{b}", "a}b{c}", "a{b", "{}", "{x}{y}z", "}{", ""]
)
def test_format_placeholders_split_as_the_expression_does(fmt: str) -> None:
    expected, pos = [], 0
    for found in re.finditer(r"\{([^{}]*)\}", fmt):
        expected.append((fmt[pos : found.start()], found.group(1)))
        pos = found.end()
    expected.append((fmt[pos:], None))
    assert split_format(fmt) == expected
