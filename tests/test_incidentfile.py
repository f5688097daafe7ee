"""The incident file layer: byte-identical round trips, surgical edits, strict parsing."""

from __future__ import annotations

import difflib
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import Result
from conftest import Repo

from incidentctl.errors import InvalidIncident
from incidentctl.incident.file import IncidentFile
from incidentctl.incident.timeline import Entry
from incidentctl.incident.timeutil import format_ts

IDENT = "INC-20250601-ab12"
REL = f"incidents/2025/{IDENT}-checkout-failing.md"
FENCE = "```"

# A file as a person leaves it after editing by hand: comments on key lines and on
# their own lines, keys in their own order, a custom x- key, extra paragraphs, a
# horizontal rule and a fenced block that looks like a timeline.
HAND_EDITED = f"""\
---
# Owned by the payments on-call; keep this comment.
id: {IDENT}
title: Checkout failing  # wording agreed with support
severity: SEV-3  # raised by bob at 10:05
status: triage
x-team: payments
type: outage
environment: production
services:
  - checkout  # the main one
  - payments
# who runs it
commander: Alice Responder
roles: {{}}
opened_at: 2025-06-01T10:00:00Z
acknowledged_at: null
mitigated_at: null
resolved_at: null
closed_at: null
action_items: []
---

# Checkout failing

A paragraph written by hand, before any section.

## Summary

Checkout returns 502 for EU users.

Another hand-written paragraph, with *emphasis*.

---

{FENCE}text
## Timeline
- `2025-06-01T09:00:00Z` **Mallory** _(note)_ not a real entry
{FENCE}

## Timeline

- `2025-06-01T10:00:00Z` **Alice Responder** _(opened)_ Incident opened.

## Notes by hand

Keep this section.
"""

HAND_LINES = [
    "# Owned by the payments on-call; keep this comment.",
    "title: Checkout failing  # wording agreed with support",
    "x-team: payments",
    "  - checkout  # the main one",
    "# who runs it",
    "A paragraph written by hand, before any section.",
    "Another hand-written paragraph, with *emphasis*.",
    "- `2025-06-01T09:00:00Z` **Mallory** _(note)_ not a real entry",
    "## Notes by hand",
    "Keep this section.",
]

ENTRY_LINE = r"- `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ` \*\*Alice Responder\*\* "


def place(repo: Repo, text: str | bytes, rel: str = REL) -> Path:
    """Write an incident file by hand and commit it, as a teammate's push would."""
    path = repo.file(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    repo.git("add", rel)
    repo.git("commit", "--quiet", "-m", "hand-written incident")
    return path


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines between two texts."""
    old, new = before.splitlines(), after.splitlines()
    removed: list[str] = []
    added: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed.extend(old[i1:i2])
            added.extend(new[j1:j2])
    return removed, added


def fails(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based number of the nth line that starts with `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(needle)]
    return hits[nth - 1]


# -- byte-identical round trips ------------------------------------------------------------

MINIMAL = f"""\
---
id: {IDENT}
status: triage
title: Minimal
severity: SEV-4
opened_at: 2025-06-01T10:00:00Z
---
---
Body starting with a rule.
"""

ROUND_TRIPS = {
    "hand edited": HAND_EDITED,
    "no trailing newline": HAND_EDITED.rstrip("\n"),
    "blank lines at the end": HAND_EDITED + "\n\n",
    "crlf": HAND_EDITED.replace("\n", "\r\n"),
    "rule right after the front matter": MINIMAL,
    "front matter closed with ...": MINIMAL.replace("---\n---\n", "---\n...\n", 1),
    "unicode and tabs": MINIMAL + "Café ☕\tété — “quoted”\n",
    "timeline only in a fence": MINIMAL + f"{FENCE}md\n## Timeline\n{FENCE}\n",
    "byte order mark": "\ufeff" + HAND_EDITED,
    "byte order mark and crlf": "\ufeff" + HAND_EDITED.replace("\n", "\r\n"),
}


@pytest.mark.parametrize("text", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_load_save_is_byte_identical(tmp_path: Path, text: str) -> None:
    """Reading and saving a file with no change writes back exactly the same bytes."""
    path = tmp_path / "incident.md"
    raw = text.encode("utf-8")
    path.write_bytes(raw)
    file = IncidentFile.read(path)
    assert file.text == text
    assert file.id == IDENT
    file.save(path)
    assert path.read_bytes() == raw


def test_setting_a_field_back_is_byte_identical() -> None:
    """Changing a field and changing it back restores the original text, comment and all."""
    file = IncidentFile(HAND_EDITED)
    file.set_field("severity", "SEV-1")
    assert "severity: SEV-1  # raised by bob at 10:05\n" in file.text
    file.set_field("severity", "SEV-3")
    file.set_field("resolved_at", datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc))
    file.set_field("resolved_at", None)
    assert file.text == HAND_EDITED


def test_fenced_timeline_is_not_the_timeline() -> None:
    """A `## Timeline` inside a code fence is text; the real section holds the entries."""
    file = IncidentFile(HAND_EDITED)
    entries = file.timeline()
    assert [(e.author, e.kind, e.text) for e in entries] == [
        ("Alice Responder", "opened", "Incident opened.")
    ]
    file.add_entry(Entry(datetime(2025, 6, 1, 9, 30, tzinfo=timezone.utc), "Bob", "note", "early"))
    removed, added = changed_lines(HAND_EDITED, file.text)
    assert removed == []
    assert added == ["- `2025-06-01T09:30:00Z` **Bob** _(note)_ early"]
    lines = file.text.splitlines()
    assert lines.index(added[0]) == lines.index("## Timeline", lines.index(FENCE)) + 2


# -- hand edits survive every command ----------------------------------------------------------

EDITS = [
    (["log", IDENT, "hand edits survive"], [], [ENTRY_LINE + r"_\(note\)_ hand edits survive"]),
    (
        ["severity", IDENT, "P1", "-m", "EU down"],
        ["severity: SEV-3  # raised by bob at 10:05"],
        [
            re.escape("severity: SEV-2  # raised by bob at 10:05"),
            ENTRY_LINE + re.escape("_(severity)_ Severity SEV-3 → SEV-2 (escalated): EU down"),
        ],
    ),
    (
        ["assign", IDENT, "--commander", "Bob", "--role", "comms=Carol"],
        ["commander: Alice Responder", "roles: {}"],
        [
            "commander: Bob",
            "roles:",
            "  comms: Carol",
            ENTRY_LINE + re.escape("_(role)_ Assigned commander=Bob, comms=Carol"),
        ],
    ),
    (
        ["status", IDENT, "investigating"],
        ["status: triage", "acknowledged_at: null"],
        [
            "status: investigating",
            r"acknowledged_at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
            ENTRY_LINE + re.escape("_(status)_ Status triage → investigating"),
        ],
    ),
]


@pytest.mark.parametrize(("args", "removed", "added"), EDITS, ids=[args[0] for args, _, _ in EDITS])
def test_a_command_changes_only_its_lines(
    repo: Repo, args: list[str], removed: list[str], added: list[str]
) -> None:
    """Each command removes and adds exactly the lines of what it changed, nothing else."""
    path = place(repo, HAND_EDITED)
    repo.ok(*args)
    after = path.read_text(encoding="utf-8")
    got_removed, got_added = changed_lines(HAND_EDITED, after)
    assert got_removed == removed
    assert len(got_added) == len(added), got_added
    for line, pattern in zip(got_added, added, strict=True):
        assert re.fullmatch(pattern, line), (pattern, line)
    numstat = repo.git("diff", "--numstat", "HEAD~1", "HEAD").split()
    assert numstat == [str(len(added)), str(len(removed)), REL]
    lines = after.splitlines()
    entry = got_added[-1]  # the timeline entry goes right after the last real entry
    assert lines[lines.index(entry) - 1].startswith("- `2025-06-01T10:00:00Z` **Alice")


def test_hand_edits_survive_every_command(repo: Repo) -> None:
    """Comments, custom keys, key order and hand-written text outlive a whole incident."""
    path = place(repo, HAND_EDITED)
    for args in (
        ["log", IDENT, "first note"],
        ["severity", IDENT, "critical"],
        ["assign", IDENT, "-c", "Bob", "-r", "scribe=Dan"],
        ["status", IDENT, "investigating"],
        ["status", IDENT, "monitoring", "-m", "rolled back"],
        ["log", IDENT, "second note", "--kind", "decision"],
        ["status", IDENT, "resolved"],
        ["severity", IDENT, "low"],
    ):
        repo.ok(*args)
        text = path.read_text(encoding="utf-8")
        for line in HAND_LINES:
            assert line in text.splitlines(), (args, line)
    lines = path.read_text(encoding="utf-8").splitlines()
    keys = [m.group(1) for line in lines if (m := re.match(r"^([a-z_-]+):", line))]
    assert keys == [
        "id", "title", "severity", "status", "x-team", "type", "environment", "services",
        "commander", "roles", "opened_at", "acknowledged_at", "mitigated_at", "resolved_at",
        "closed_at", "action_items",
    ]  # fmt: skip
    assert "severity: SEV-4  # raised by bob at 10:05" in lines
    assert "status: resolved" in lines
    shown = repo.json("show", IDENT)
    assert shown["commander"] == "Bob" and shown["roles"] == {"scribe": "Dan"}
    assert [e["kind"] for e in shown["timeline"]] == [
        "opened", "note", "severity", "role", "status", "status", "decision", "status", "severity",
    ]  # fmt: skip
    assert repo.git("status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("x-team: payments", "payments"),
        ("x_runbook: [https://runbooks/checkout, https://runbooks/db]",
         ["https://runbooks/checkout", "https://runbooks/db"]),
        ("x-reviewed: 2025-06-02", "2025-06-02"),
        ("x-paged-at: 2025-06-01T10:01:00+02:00", "2025-06-01T08:01:00Z"),
    ],
)  # fmt: skip
def test_show_json_includes_custom_keys(repo: Repo, line: str, value: object) -> None:
    """`show --json` prints every front matter field, the team's own x- keys included."""
    place(repo, HAND_EDITED.replace("x-team: payments", line))
    shown = repo.json("show", IDENT)
    assert shown[line.split(":")[0]] == value
    assert shown["title"] == "Checkout failing" and shown["opened_at"] == "2025-06-01T10:00:00Z"


def test_missing_timestamp_key_is_added_before_the_closing_line(repo: Repo) -> None:
    """A status that stamps a key the file lacks adds one line at the end of the front matter."""
    text = HAND_EDITED.replace("mitigated_at: null\n", "")
    path = place(repo, text)
    repo.ok("status", IDENT, "monitoring")
    after = path.read_text(encoding="utf-8")
    removed, added = changed_lines(text, after)
    assert removed == ["status: triage", "acknowledged_at: null"]
    assert added[0] == "status: monitoring"
    assert re.fullmatch(r"acknowledged_at: \S+Z", added[1])
    assert re.fullmatch(r"mitigated_at: \S+Z", added[2])
    lines = after.splitlines()
    assert lines[lines.index(added[2]) + 1] == "---"
    assert len(added) == 4


# -- what YAML 1.1 and merges do to a file -----------------------------------------------------

TITLE = "title: Checkout failing  # wording agreed with support\n"
HAZARDS = [
    ("title-bool", TITLE, "title: no\n", ["`title`", "False"], "title:"),
    ("service-bool", "  - payments\n", "  - off\n", ["`services.1`", "False"], "services:"),
    (
        "naive-timestamp",
        "opened_at: 2025-06-01T10:00:00Z\n",
        "opened_at: 2025-06-01T10:00:00\n",
        ["`opened_at`", "has no UTC offset", "2026-11-26T14:05:00Z"],
        "opened_at:",
    ),
    (
        "duplicate-key",
        "x-team: payments\n",
        "x-team: payments\nstatus: resolved\n",
        ["duplicate key 'status'", "keep only one"],
        ("status:", 2),
    ),
    (
        "invalid-yaml",
        "type: outage\n",
        "type: outage: really\n",
        ["invalid YAML", "mapping values are not allowed"],
        "type:",
    ),
    # Plain YAML only: no anchor, alias, merge key or tag, refused before any expansion.
    (
        "alias-bomb",
        "x-team: payments\n",
        "x-team: payments\nx-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(
            f"x-{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + "x-bomb: *i\n",
        ["the anchor `&a`", "no YAML anchors or aliases"],
        "x-a:",
    ),
    (
        "alias",
        "x-team: payments\n",
        "x-team: payments\nx-again: *team\n",
        ["the alias `*team`", "write the value out in full"],
        "x-again:",
    ),
    (
        "merge-key",
        "x-team: payments\n",
        "x-team: payments\nx-more:\n  <<: {a: 1}\n",
        ["`<<` (a YAML merge key)", "no merge keys"],
        "  <<:",
    ),
    (
        "python-tag",
        "x-team: payments\n",
        "x-team: !!python/object/apply:os.system [touch /tmp/pwned]\n",
        ["the tag `!!python/object/apply:os.system`", "no YAML tags"],
        "x-team:",
    ),
    ("str-tag", "x-team: payments\n", "x-team: !!str payments\n", ["the tag `!!str`"], "x-team:"),
    ("local-tag", "x-team: payments\n", "x-team: !team payments\n", ["the tag `!team`"], "x-team:"),
    (
        "deep-nesting",
        "x-team: payments\n",
        "x-team: " + "[" * 40 + "]" * 40 + "\n",
        ["nests deeper than 32 levels"],
        "x-team:",
    ),
    (
        "many-values",
        "x-team: payments\n",
        "x-team: [" + "1, " * 10_001 + "1]\n",
        ["more than 10000 values"],
        "x-team:",
    ),
    # Dates and times that cannot exist: one problem at their line, never a traceback.
    (
        "february-30",
        "opened_at: 2025-06-01T10:00:00Z\n",
        "opened_at: 2025-02-30T10:00:00Z\n",
        ["2025-02-30T10:00:00Z is not a real date or time", "day is out of range"],
        "opened_at:",
    ),
    (
        "hour-24",
        "opened_at: 2025-06-01T10:00:00Z\n",
        "opened_at: 2025-06-01T24:00:00Z\n",
        ["hour must be in 0..23"],
        "opened_at:",
    ),
    (
        "year-1-ahead-of-utc",
        "opened_at: 2025-06-01T10:00:00Z\n",
        "opened_at: 0001-01-01T00:30:00+01:00\n",
        ["0001-01-01T00:30:00+01:00 is not a real date or time (out of range in UTC)"],
        "opened_at:",
    ),
    (
        "year-9999-behind-utc",
        "opened_at: 2025-06-01T10:00:00Z\n",
        "opened_at: 9999-12-31T23:30:00-01:00\n",
        ["out of range in UTC"],
        "opened_at:",
    ),
    (
        "quoted-year-1-ahead-of-utc",
        "opened_at: 2025-06-01T10:00:00Z\n",
        "opened_at: '0001-01-01T00:30:00+01:00'\n",
        ["`opened_at`", "out of range in UTC"],
        "opened_at:",
    ),
    (
        "due-february-30",
        "action_items: []\n",
        "action_items:\n- id: AI-1\n  title: Fix it\n  due: 2025-02-30\n",
        ["2025-02-30 is not a real date or time"],
        "  due:",
    ),
    (
        "timeline-entry-time",
        "- `2025-06-01T10:00:00Z` **Alice Responder** _(opened)_",
        "- `2025-06-01T10:00:00Z` **Alice Responder** _(opened)_ Opened.\n"
        "- `2025-06-31T10:00:00Z` **Bob** _(note)_",
        ["the timeline entry's time 2025-06-31T10:00:00Z is not a real time"],
        "- `2025-06-31",
    ),
    (
        "conflict-markers",
        "Checkout returns 502 for EU users.\n",
        "<<<<<<< HEAD\nCheckout returns 502 for EU users.\n=======\nCheckout 502s.\n"
        ">>>>>>> origin/main\n",
        ["leftover merge conflict marker", "resolve the conflict"],
        "<<<<<<<",
    ),
]


# What `log` refuses too (it tolerates schema slips, not a file it cannot read).
UNPARSEABLE = {
    "duplicate-key",
    "invalid-yaml",
    "conflict-markers",
    "alias-bomb",
    "merge-key",
    "python-tag",
    "february-30",
    "year-1-ahead-of-utc",
    "timeline-entry-time",
}


def hazard_text(old: str, new: str) -> str:
    assert old in HAND_EDITED
    return HAND_EDITED.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "fragments", "where"),
    [h[1:] for h in HAZARDS],
    ids=[h[0] for h in HAZARDS],
)
@pytest.mark.parametrize("command", [["show", IDENT, "--json"], ["status", IDENT, "investigating"]])
def test_yaml_hazards_are_refused_with_a_line(
    repo: Repo,
    command: list[str],
    old: str,
    new: str,
    fragments: list[str],
    where: str | tuple[str, int],
) -> None:
    """YAML 1.1 surprises, YAML beyond plain mappings, impossible dates, duplicates, bad
    YAML and conflict markers: each refused at its line, the file left as it was."""
    text = hazard_text(old, new)
    path = place(repo, text)
    needle, nth = where if isinstance(where, tuple) else (where, 1)
    before = repo.commits()
    result = repo.run(*command)
    fails(result, f"{REL}:{line_of(text, needle, nth)}: ", *fragments)
    assert result.stdout == ""
    assert path.read_text(encoding="utf-8") == text
    assert repo.commits() == before


@pytest.mark.parametrize(
    ("old", "new", "fragments", "where"),
    [h[1:] for h in HAZARDS if h[0] in UNPARSEABLE],
    ids=[h[0] for h in HAZARDS if h[0] in UNPARSEABLE],
)
def test_log_refuses_an_unparseable_file(
    repo: Repo, old: str, new: str, fragments: list[str], where: str | tuple[str, int]
) -> None:
    """`log` (which tolerates schema slips) still refuses a file it cannot parse."""
    text = hazard_text(old, new)
    path = place(repo, text)
    needle, nth = where if isinstance(where, tuple) else (where, 1)
    fails(repo.run("log", IDENT, "x"), f"{REL}:{line_of(text, needle, nth)}: ", *fragments)
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("command", [["show", IDENT], ["log", IDENT, "x"], ["list"]])
def test_non_utf8_is_refused_naming_the_file(repo: Repo, command: list[str]) -> None:
    """A file that is not UTF-8 is refused (or skipped by `list`), naming file and line."""
    raw = HAND_EDITED.encode("utf-8").replace(b"Another hand-written", b"Another hand\xe9written")
    path = place(repo, raw)
    line = line_of(HAND_EDITED, "Another hand-written")
    result = repo.run(*command)
    if command == ["list"]:
        assert result.exit_code == 0
        assert f"warning: skipped {REL}:{line}: not UTF-8 text (byte 0xe9)" in result.stderr
    else:
        fails(result, f"{REL}:{line}: not UTF-8 text (byte 0xe9)", "save the file as UTF-8")
    assert path.read_bytes() == raw


def test_list_skips_a_broken_file_and_shows_the_rest(repo: Repo) -> None:
    """One broken file does not hide the others from `list`; it is named on stderr."""
    place(repo, hazard_text(TITLE, "title: yes\n"))
    good = repo.open("Search slow")
    result = repo.run("list", "--json")
    assert result.exit_code == 0
    assert [r["id"] for r in json.loads(result.stdout)] == [good["id"]]
    assert f"skipped {REL}:{line_of(HAND_EDITED, 'title:')}: `title`" in result.stderr


def test_byte_order_mark_is_accepted_and_kept(repo: Repo) -> None:
    """A file opening with a UTF-8 BOM is read, checked and changed; the BOM stays."""
    path = place(repo, "\ufeff" + HAND_EDITED)
    assert repo.json("show", IDENT)["title"] == "Checkout failing"
    repo.ok("log", IDENT, "Still failing")
    repo.ok("status", IDENT, "investigating")
    repo.ok("check")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf---\n")
    assert data.count(b"\xef\xbb\xbf") == 1
    removed, added = changed_lines(HAND_EDITED, data.decode("utf-8").removeprefix("\ufeff"))
    assert [line.split(":")[0] for line in removed] == ["status", "acknowledged_at"]
    assert len(added) == 4  # the two keys, and two entries


def test_a_change_cannot_grow_a_file_past_the_limit(repo: Repo) -> None:
    """A file just under 1 MiB is read, but a `log` that would pass the limit is refused."""
    from incidentctl.incident.storage import MAX_FILE_BYTES

    padding = "x" * (MAX_FILE_BYTES - len(HAND_EDITED.encode()) - 2) + "\n"
    path = place(repo, HAND_EDITED + padding)
    assert len(path.read_bytes()) == MAX_FILE_BYTES - 1
    before = repo.commits()
    fails(repo.run("log", IDENT, "one more line"), f"{REL}: the change would make the file")
    assert path.read_text(encoding="utf-8") == HAND_EDITED + padding
    assert repo.commits() == before


def test_utf16_file_says_save_as_utf8(repo: Repo) -> None:
    """A UTF-16 file (BOM FF FE) is refused with a message that names the encoding."""
    place(repo, HAND_EDITED.encode("utf-16"))
    fails(repo.run("show", IDENT), f"{REL}:1: the file is UTF-16 text; save it as UTF-8")


SKIPPED = ["alias-bomb", "python-tag", "february-30", "year-1-ahead-of-utc", "due-february-30"]


@pytest.mark.parametrize("command", [["list", "--json"], ["action", "list", "--json"]])
@pytest.mark.parametrize("name", SKIPPED)
def test_many_incident_commands_skip_an_impossible_file(
    repo: Repo, command: list[str], name: str
) -> None:
    """`list` and `action list` skip a file they cannot load, with a warning at its line."""
    old, new, fragments, where = next(h[1:] for h in HAZARDS if h[0] == name)
    text = hazard_text(old, new)
    place(repo, text)
    good = repo.open("Search slow")
    repo.ok("action", "add", good["id"], "Add an index", "--owner", "bob", "--due", "7d")
    result = repo.run(*command)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    rows = json.loads(result.stdout)
    ids = {row.get("incident", row.get("id")) for row in rows}
    assert ids == {good["id"]}, rows
    warning = f"warning: skipped {REL}:{line_of(text, str(where))}: "
    assert warning in result.stderr, result.stderr
    assert all(fragment in result.stderr for fragment in fragments), result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\n---\n", "does not start with front matter"),
        ("---\nid: x\n", "the front matter is not closed"),
        ("---\n- a\n- b\n---\n", "must be a YAML mapping"),
        ("---\ntitle: no id\n---\n", "has no `id`"),
        ("---\nid: a\nid: b\n---\n", "duplicate key 'id'"),
    ],
)
def test_malformed_files_raise_invalid_incident(text: str, message: str) -> None:
    """The parser refuses malformed files with an InvalidIncident naming file and line."""
    with pytest.raises(InvalidIncident) as caught:
        IncidentFile(text, "incidents/x.md")
    assert message in caught.value.message
    assert str(caught.value).startswith("incidents/x.md:")
    assert caught.value.line is not None


# -- the timeline ------------------------------------------------------------------------------

TEXTS = [
    "one line",
    "first line\nsecond line",
    "para one\n\npara two",
    "Rolled back:\n- deploy 1234\n- flag checkout_v2",
    "code follows:\n\n    kubectl rollout undo deploy/api\n\nafter the code",
    "looks like an entry:\n- `2025-06-01T10:00:00Z` **X** _(note)_ but is not",
    "three\n\n\nblank lines",
]


@pytest.mark.parametrize("text", TEXTS)
def test_multiline_entries_round_trip_in_the_file(text: str) -> None:
    """An entry's text reads back the same, also after entries are added around it."""
    file = IncidentFile(HAND_EDITED)
    at = datetime(2025, 6, 1, 11, 0, tzinfo=timezone.utc)
    file.add_entry(Entry(at, "Bob", "note", text))
    file.add_entry(Entry(at + timedelta(minutes=5), "Carol", "action", "after"))
    file.add_entry(Entry(at - timedelta(minutes=5), "Dan", "comms", "before"))
    file.add_entry(Entry(at, "Erin", "note", "same time, later"))
    again = IncidentFile(file.text)
    got = [(e.author, e.text) for e in again.timeline()]
    assert got == [
        ("Alice Responder", "Incident opened."),
        ("Dan", "before"),
        ("Bob", text),
        ("Erin", "same time, later"),
        ("Carol", "after"),
    ]


def test_multiline_log_round_trips_through_the_cli(repo: Repo) -> None:
    """`log` with newlines, then more entries (one backdated): `timeline --json` keeps all."""
    place(repo, HAND_EDITED)
    for text in TEXTS:
        repo.ok("log", IDENT, text)
    backdated = datetime(2025, 6, 1, 10, 30, tzinfo=timezone.utc)
    repo.ok("log", IDENT, "backdated\n\nwith a paragraph", "--at", format_ts(backdated))
    repo.ok("status", IDENT, "investigating")
    entries = repo.json("timeline", IDENT)
    assert [e["text"] for e in entries] == [
        "Incident opened.",
        "backdated\n\nwith a paragraph",
        *TEXTS,
        "Status triage → investigating",
    ]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    shown = repo.json("show", IDENT)
    assert shown["timeline"] == entries


def test_log_on_a_file_without_trailing_newline(repo: Repo) -> None:
    """Appending after a last line with no newline starts a new line; nothing is glued."""
    text = HAND_EDITED[: HAND_EDITED.index("## Notes by hand")].rstrip("\n")
    path = place(repo, text)
    repo.ok("log", IDENT, "appended at the end")
    after = path.read_text(encoding="utf-8")
    assert after.startswith(text + "\n")  # the old last line, now ended, then the entry
    removed, added = changed_lines(text, after)
    assert removed == []
    assert len(added) == 1
    assert re.fullmatch(ENTRY_LINE + r"_\(note\)_ appended at the end", added[0])
    assert not after.endswith("\n")  # the file's own choice is kept
    assert [e["text"] for e in repo.json("timeline", IDENT)] == [
        "Incident opened.",
        "appended at the end",
    ]
