"""What the fast path writes without PyYAML or Jinja2 is, to the byte, what they write.

plainyaml.field_lines against yamlio.dump_field (libyaml, and PyYAML's own emitter)
on generated strings, timestamps, dates, lists and mappings; the action-items table
against the shipped template rendered by Jinja2; and the structure check that keeps
line swaps away from front matters whose lines are not what they look like.
"""

from __future__ import annotations

import random
import string
from datetime import date, datetime, timezone
from typing import Any

import pytest
import yaml

from incidentctl.incident import actiontable
from incidentctl.incident.file import IncidentFile
from incidentctl.incident.plainyaml import _plain_lines, plain, simple_structure, swap
from incidentctl.incident.render import render
from incidentctl.incident.yamlio import dump_field, load_yaml

RUNS = 20_000
ODD = " :#-'\"?,[]{}&*!|>%@`.~<=/\\_+()\t\n\r\x85\u2028\u00e9\u00a0\ufeff\U0001f600\x7f\x00\ufffe"
WORDS = ["yes", "No", "TRUE", "off", "null", "Null", "NULL", "y", "n", "nO", "on", "~", ""]


def strings(seed: int) -> list[str]:
    """Mostly letters and spaces, some of every character YAML cares about."""
    rng = random.Random(seed)
    out = list(WORDS)
    for _ in range(RUNS):
        pool = ODD + string.ascii_letters + string.digits if rng.random() < 0.3 else " -ab"
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(0, 12))))
    return out


def _python_emitter(key: str, value: Any) -> list[str]:
    text = yaml.dump(
        {key: value},
        Dumper=yaml.SafeDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )
    return text.splitlines(keepends=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_plain_strings_are_written_as_yamlio_writes_them(seed: int) -> None:
    """Every string written without PyYAML is byte for byte what PyYAML writes (with
    libyaml and without), and a good share of names and titles are."""
    written = 0
    for text in strings(seed):
        lines = _plain_lines("k", text)
        if lines is None:
            continue
        written += 1
        assert lines == dump_field("k", text) == _python_emitter("k", text), text
        assert load_yaml(lines[0], path="x", first_line=1) == {"k": text}
    assert written > RUNS // 3
    assert plain("Bench Commander 1") and plain("José Ñúñez") and plain("https://x/y#3")
    assert not plain("yes") and not plain("a: b") and not plain("a #b") and not plain("1a")


def test_times_dates_and_null_are_written_as_yamlio_writes_them() -> None:
    """Timestamps (with fractions of a second and years below 1000), dates and null."""
    rng = random.Random(3)
    for _ in range(2000):
        micro = rng.choice([0, 0, 500000, 123456, 1])
        stamp = datetime(
            rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28), 3, 4, 5, micro
        ).replace(tzinfo=timezone.utc)
        assert _plain_lines("t", stamp) == dump_field("t", stamp)
        assert _plain_lines("d", stamp.date()) == dump_field("d", stamp.date())
    assert _plain_lines("t", None) == dump_field("t", None) == ["t: null\n"]


def test_lists_and_mappings_are_written_as_yamlio_writes_them() -> None:
    """Action items, roles and services, in block style, as incidentctl writes them."""
    rng = random.Random(4)

    def text() -> str:
        return "".join(rng.choice(string.ascii_letters + " -:#'") for _ in range(rng.randint(1, 9)))

    written = 0
    for _ in range(3000):
        items = []
        for number in range(rng.randint(0, 4)):
            item: dict[str, Any] = {"id": f"AI-{number + 1}", "title": text()}
            if rng.random() < 0.7:
                item["owner"] = text()
            if rng.random() < 0.7:
                item["due"] = date(2026, 1, rng.randint(1, 28))
            item["status"] = rng.choice(["open", "done"])
            if rng.random() < 0.3:
                item["issue"] = f"https://github.com/o/r/issues/{number}"
            items.append(item)
        roles = {text(): text() for _ in range(rng.randint(0, 3))}
        services = [text() for _ in range(rng.randint(0, 3))]
        for key, value in (("action_items", items), ("roles", roles), ("services", services)):
            lines = _plain_lines(key, value)
            if lines is not None:
                written += 1
                assert lines == dump_field(key, value), value
    assert written > 1000


def test_the_action_items_table_is_what_jinja2_renders() -> None:
    """actiontable.table against the shipped template, pipes, blanks and gaps included."""
    assert actiontable.template_in_use("/nonexistent") == actiontable.SHIPPED
    rng = random.Random(5)

    def text() -> str:
        return "".join(rng.choice(string.ascii_letters + " |\t-") for _ in range(rng.randint(1, 9)))

    for _ in range(500):
        actions = [
            {
                "id": f"AI-{n + 1}",
                "title": text(),
                "owner": rng.choice([None, text()]),
                "due": rng.choice([None, "2026-01-02"]),
                "status": rng.choice(["open", "done"]),
                "issue": rng.choice([None, "https://x/1|2"]),
            }
            for n in range(rng.randint(0, 4))
        ]
        context = {"actions": actions, "incident": {"id": "INC-1"}, "figures": {}, "timeline": []}
        expected = render(actiontable.NAME, context, None)
        assert actiontable.table(actions, "INC-1") == expected


FRONT = """---
id: INC-1
title: Checkout errors
status: triage
services:
- pay
roles: {}
x-note: 'it''s fine' # a comment
action_items:
- id: AI-1
  title: Alert
  status: open
---
body
"""


@pytest.mark.parametrize(
    ("old", "new", "simple"),
    [
        ("", "", True),
        ("title: Checkout errors\n", 'title: "Checkout\nstatus: triage"\n', False),
        ("title: Checkout errors\n", "title: 'Checkout\nstatus: triage'\n", False),
        ("roles: {}\n", "roles: {a: b,\nstatus: x}\n", False),
        ("roles: {}\n", "roles: |\n  text\n", False),
        ("roles: {}\n", "roles: [a]\n", False),
        ("roles: {}\n", "'roles': {}\n", False),
        ("roles: {}\n", "? roles\n: {}\n", False),
        ("roles: {}\n", "roles: {}\n# a comment\n", True),
        ("roles: {}\n", 'roles: "a \\" b" # c\n', True),
        ("roles: {}\n", "roles:\n  a: 'b'\n", True),
        ("roles: {}\n", "roles:\tx\n", False),
        ("roles: {}\n", "roles: &a x\n", False),
        ("status: triage\n", "status: triage\nstray\n", False),
    ],
)
def test_structure_check(old: str, new: str, simple: bool) -> None:
    """Quoted text or flow collections running past their line, block scalars,
    anchors, tabs and stray lines at the margin make a front matter not simple."""
    text = FRONT.replace(old, new, 1)
    file = IncidentFile(text, "x.md", facts=("INC-1", None))  # (some are not valid YAML)
    assert simple_structure(file.lines[1 : file.fm_end]) is simple


def test_swap_changes_only_lines_written_as_incidentctl_writes_them() -> None:
    """A key's lines are swapped only when they are what incidentctl writes for the
    value held; the result is what set_field gives."""
    file = IncidentFile(FRONT, "x.md")
    assert swap(file, "status", "triage", "resolved")
    assert not swap(file, "status", "triage", "closed")  # the file no longer says triage
    assert not swap(file, "x-note", "it's fine", "other")  # a comment on the line
    assert not swap(file, "commander", None, "Bob")  # no such line
    items = [{"id": "AI-1", "title": "Alert", "status": "open"}]
    assert swap(
        file, "action_items", items, [*items, {"id": "AI-2", "title": "B", "status": "open"}]
    )
    assert swap(file, "roles", {}, {"comms": "Bob"})
    expected = IncidentFile(FRONT, "x.md")
    expected.set_field("status", "resolved")
    expected.set_field("action_items", [*items, {"id": "AI-2", "title": "B", "status": "open"}])
    expected.set_field("roles", {"comms": "Bob"})
    assert file.text == expected.text
