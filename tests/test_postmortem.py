"""Post-mortems on real git: `postmortem`, `action`, `check` rules, closing, hostile text."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import Repo

from incidentctl.incident.rules import RULES
from incidentctl.incident.timeutil import utcnow

# -- helpers ---------------------------------------------------------------------------


def resolved(
    repo: Repo, severity: str = "SEV-2", title: str = "Checkout API down"
) -> tuple[str, Path]:
    """Open an incident through the CLI and resolve it; returns (ID, file)."""
    data = repo.open(title, "--severity", severity)
    repo.ok("status", data["id"], "resolved")
    return data["id"], repo.file(data["path"])


def write_todos(path: Path) -> None:
    """Replace every line holding a TODO placeholder with prose, as a person would."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out = []
    for number, line in enumerate(lines, 1):
        if "TODO" in line:
            bullet = "- " if line.lstrip().startswith("- ") else ""
            line = f"{bullet}Written by a person for line {number}: the pool was too small.\n"
        out.append(line)
    path.write_text("".join(out), encoding="utf-8")


def check_json(repo: Repo, *args: str) -> tuple[int, dict[str, Any]]:
    result = repo.run("check", "--format", "json", *args)
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    return result.exit_code, json.loads(result.stdout)


def rules_of(doc: dict[str, Any]) -> set[str]:
    return {p["rule"] for p in doc["problems"]}


def fails(result: Result, *fragments: str) -> None:
    """A clean user error: exit 1, the fragments on stderr, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def head_files(repo: Repo) -> list[str]:
    return repo.git("show", "--name-only", "--format=", "HEAD").split()


def head_trailer(repo: Repo) -> str:
    return repo.git("log", "-1", "--format=%(trailers:key=Incident,valueonly)").strip()


REGION = re.compile(r"(<!-- incidentctl:([a-z-]+) -->\n).*?(<!-- /incidentctl:\2 -->)", re.S)


def outside_regions(text: str) -> str:
    """The text with the tool-owned regions emptied (their markers kept)."""
    return REGION.sub(lambda m: m.group(1) + m.group(3), text)


# -- the post-mortem flow ----------------------------------------------------------------


def test_sev2_flow_missing_then_placeholders_then_passes(repo: Repo) -> None:
    """A resolved SEV-2 fails without a post-mortem, fails on placeholders, passes once written."""
    ident, path = resolved(repo)
    code, doc = check_json(repo)
    assert code == 1
    assert "postmortem-section" in rules_of(doc)
    missing = {
        p["message"].split("'## ")[1].split("'")[0]
        for p in doc["problems"]
        if p["rule"] == "postmortem-section"
    }
    assert missing == {
        "Impact",
        "Root Cause",
        "Detection",
        "Resolution",
        "Action Items",
        "What Went Well",
        "What Went Wrong",
        "Lessons Learned",
    }

    repo.ok("postmortem", ident)
    code, doc = check_json(repo)
    assert code == 1
    assert rules_of(doc) == {"postmortem-placeholder"}

    write_todos(path)
    code, doc = check_json(repo)
    assert (code, doc["problems"]) == (0, []), doc
    assert doc["ok"] is True
    assert repo.run("check").exit_code == 0


@pytest.mark.parametrize(
    ("severity", "config", "expected_code"),
    [
        ("SEV-4", "", 0),
        ("SEV-3", "", 0),
        ("SEV-1", "", 1),
        ("SEV-2", "", 1),
        ("SEV-4", "[severities.SEV-4]\npostmortem = true\n", 1),
        ("SEV-2", "[severities.SEV-2]\npostmortem = false\n", 0),
    ],
    ids=[
        "sev4-default",
        "sev3-default",
        "sev1-default",
        "sev2-default",
        "sev4-required",
        "sev2-not-required",
    ],
)
def test_which_severities_need_a_postmortem(
    repo: Repo, severity: str, config: str, expected_code: int
) -> None:
    """By default SEV-1/2 need a post-mortem and SEV-3/4 do not; incidentctl.toml changes that."""
    if config:
        repo.file("incidentctl.toml").write_text(config, encoding="utf-8")
    resolved(repo, severity)
    code, doc = check_json(repo)
    assert code == expected_code, doc
    if expected_code:
        assert "postmortem-section" in rules_of(doc)
    else:
        assert doc["problems"] == []


def summary_written(repo: Repo, summary: str = "The checkout API failed for 30 minutes.") -> Path:
    """A resolved SEV-2 with no post-mortem whose Summary is written."""
    _, path = resolved(repo)
    text = path.read_text(encoding="utf-8")
    todo = next(line for line in text.splitlines() if "TODO" in line)
    path.write_text(text.replace(todo, summary), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("config", "summary", "expected"),
    [
        ("", "Written.", {("postmortem-section", "Impact")}),
        ('[postmortem]\nrequired_sections = ["Summary", "Timeline"]\n', "Written.", set()),
        (
            '[postmortem]\nrequired_sections = ["Summary", "Impact"]\n',
            "Written.",
            {("postmortem-section", "Impact")},
        ),
        ('[severities.SEV-2]\nsections = ["Summary"]\n', "Written.", set()),
        (
            '[postmortem]\nrequired_sections = ["Impact"]\n\n'
            '[severities.SEV-2]\nsections = ["Summary"]\n',
            "Written.",
            set(),
        ),
        (
            '[postmortem]\nrequired_sections = ["Impact"]\n\n'
            '[severities.SEV-1]\nsections = ["Summary"]\n',
            "Written.",
            {("postmortem-section", "Impact")},
        ),
        ('[postmortem]\nrequired_sections = ["Summary"]\n', "TBD by the team.", set()),
        (
            '[postmortem]\nrequired_sections = ["Summary"]\nplaceholder_pattern = "TBD"\n',
            "TBD by the team.",
            {("postmortem-placeholder", "Summary")},
        ),
        (
            '[postmortem]\nrequired_sections = ["Summary"]\nplaceholder_pattern = "TBD"\n',
            "TODO is a word this team uses for real text.",
            set(),
        ),
        (
            '[postmortem]\nrequired_sections = ["Summary"]\n',
            "TODO later.",
            {("postmortem-placeholder", "Summary")},
        ),
    ],
    ids=[
        "default-sections",
        "global-sections-met",
        "global-sections-missing",
        "severity-sections",
        "severity-sections-beat-global",
        "other-severity-sections-ignored",
        "tbd-not-a-default-placeholder",
        "placeholder-pattern-tbd",
        "placeholder-pattern-replaces-todo",
        "default-todo-placeholder",
    ],
)
def test_postmortem_rules_follow_config(
    repo: Repo, config: str, summary: str, expected: set[tuple[str, str]]
) -> None:
    """required_sections, per-severity sections and placeholder_pattern decide what fails."""
    if config:
        repo.file("incidentctl.toml").write_text(config, encoding="utf-8")
    summary_written(repo, summary)
    code, doc = check_json(repo)
    found = set()
    for p in doc["problems"]:
        name = re.search(r"'(?:## )?([A-Za-z ]+)'", p["message"])
        assert name, p
        found.add((p["rule"], name.group(1)))
    if ("postmortem-section", "Impact") in expected:
        assert ("postmortem-section", "Impact") in found  # with the other default sections
        assert {rule for rule, _ in found} == {"postmortem-section"}
    else:
        assert found == expected
    assert code == (1 if expected else 0)


# -- re-running postmortem -------------------------------------------------------------------


HUMAN_NOTES = (
    "\nA note a person added, with {{ braces }}, trailing spaces   \n"
    "and a line that says <!-- not a marker -->.\n"
)


def written_postmortem(repo: Repo) -> tuple[str, Path]:
    """A SEV-2 with a fully written post-mortem and an action item, committed."""
    ident, path = resolved(repo)
    repo.ok("postmortem", ident)
    repo.ok("action", "add", ident, "Alert on pool saturation", "--owner", "dan", "--due", "30d")
    write_todos(path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("## Resolution\n", "## Resolution\n" + HUMAN_NOTES)
    path.write_text(text, encoding="utf-8")
    repo.git("commit", "--quiet", "-am", "write the post-mortem")
    return ident, path


def test_rerun_with_nothing_missing_changes_nothing(repo: Repo) -> None:
    """`postmortem` on a complete post-mortem exits 0, writes no byte and makes no commit."""
    ident, path = written_postmortem(repo)
    before = path.read_bytes()
    commits = repo.commits()
    result = repo.run("postmortem", ident)
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.stderr
    assert path.read_bytes() == before
    assert repo.commits() == commits
    assert repo.git("status", "--porcelain") == ""
    assert repo.run("check").exit_code == 0


def test_rerun_keeps_human_text_and_only_adds_missing(repo: Repo) -> None:
    """Re-running adds a deleted section and refreshes regions; text outside them is untouched."""
    ident, path = written_postmortem(repo)
    text = path.read_text(encoding="utf-8")
    start = text.index("## Lessons Learned")
    text = text[:start].rstrip("\n") + "\n"  # the section (the last one) deleted by hand
    text = text.replace("| Severity | SEV-2", "| Severity | hand-garbled")  # inside a region
    path.write_text(text, encoding="utf-8")
    repo.git("commit", "--quiet", "-am", "edit by hand")
    before = outside_regions(text)
    commits = repo.commits()

    repo.ok("postmortem", ident)
    after_text = path.read_text(encoding="utf-8")
    after = outside_regions(after_text)
    assert after.startswith(before)
    added = after[len(before) :]
    assert added.lstrip("\n").startswith("## Lessons Learned\n")
    assert "TODO" in added
    assert HUMAN_NOTES in after_text
    assert "| Severity | SEV-2 (outage, production) |" in after_text  # the region refreshed
    assert repo.commits() == commits + 1
    assert head_files(repo) == [path.relative_to(repo.path).as_posix()]
    assert "Lessons Learned" in repo.git("log", "-1", "--format=%s")


@pytest.mark.parametrize(
    "wrapped",
    [
        "```\n## Root Cause\n\nIn a fence.\n```\n",
        "~~~markdown\n## Root Cause\n\nIn a fence.\n~~~\n",
        "    ## Root Cause\n\n    In an indented code block.\n",
        "<!--\n## Root Cause\n\nIn a comment.\n-->\n",
    ],
    ids=["backticks", "tildes", "indented", "html-comment"],
)
def test_heading_in_code_is_not_a_section(repo: Repo, wrapped: str) -> None:
    """A `## Root Cause` inside a code block (or comment) does not count; postmortem adds one."""
    ident, path = written_postmortem(repo)
    text = path.read_text(encoding="utf-8")
    start = text.index("## Root Cause")
    end = text.index("## Detection")
    text = text[:start] + text[end:]
    text = text.replace("## Resolution\n", "## Resolution\n\nThe old notes:\n\n" + wrapped)
    path.write_text(text, encoding="utf-8")

    code, doc = check_json(repo)
    assert code == 1
    assert [(p["rule"], "Root Cause" in p["message"]) for p in doc["problems"]] == [
        ("postmortem-section", True)
    ]
    repo.ok("postmortem", ident)
    after = path.read_text(encoding="utf-8")
    assert after.startswith(text)
    assert after[len(text) :].lstrip("\n").startswith("## Root Cause\n")


def test_real_heading_counts_as_the_section(repo: Repo) -> None:
    """The control case: the same heading outside code is the section, and check passes."""
    _, path = written_postmortem(repo)
    code, doc = check_json(repo)
    assert (code, doc["problems"]) == (0, [])
    assert "\n## Root Cause\n" in path.read_text(encoding="utf-8")


# -- closing --------------------------------------------------------------------------------


def test_close_refused_until_postmortem_passes(repo: Repo) -> None:
    """`status ID closed` on a SEV-2 fails (file and history unchanged) until check passes."""
    ident, path = resolved(repo)
    for step in ("none", "placeholders"):
        if step == "placeholders":
            repo.ok("postmortem", ident)
        before, commits = path.read_bytes(), repo.commits()
        fails(repo.run("status", ident, "closed"), "SEV-2", "post-mortem", "incidentctl check")
        assert path.read_bytes() == before, step
        assert repo.commits() == commits, step

    write_todos(path)
    repo.git("commit", "--quiet", "-am", "write the post-mortem")
    commits = repo.commits()
    repo.ok("status", ident, "closed")
    assert repo.commits() == commits + 1
    data = repo.json("show", ident)
    assert data["status"] == "closed"
    assert data["closed_at"]
    assert repo.run("check").exit_code == 0


def test_sev4_closes_without_postmortem(repo: Repo) -> None:
    """A SEV-4 needs no post-mortem, so closing it is allowed straight away."""
    ident, _ = resolved(repo, "SEV-4")
    repo.ok("status", ident, "closed")
    assert repo.json("show", ident)["status"] == "closed"


def test_hand_closed_without_postmortem_fails_check(repo: Repo) -> None:
    """A SEV-2 hand-edited to closed with a failing post-mortem is reported as closed-postmortem."""
    ident, path = resolved(repo)
    repo.ok("postmortem", ident)
    text = path.read_text(encoding="utf-8")
    text = text.replace("status: resolved\n", "status: closed\n")
    text = text.replace("closed_at: null\n", "closed_at: 2099-01-01T00:00:00Z\n")
    path.write_text(text, encoding="utf-8")
    code, doc = check_json(repo)
    assert code == 1
    assert rules_of(doc) == {"postmortem-placeholder", "closed-postmortem"}
    closed = [p for p in doc["problems"] if p["rule"] == "closed-postmortem"]
    assert len(closed) == 1
    assert path.read_text(encoding="utf-8").splitlines()[closed[0]["line"] - 1] == "status: closed"


# -- action items -------------------------------------------------------------------------------


def test_action_add_and_done_commit_and_refresh_the_table(repo: Repo) -> None:
    """AI-1, AI-2…: one commit each with the trailer, a timeline entry and a refreshed table."""
    ident, path = resolved(repo)
    repo.ok("postmortem", ident)
    rel = path.relative_to(repo.path).as_posix()
    titles = ["Alert on pool saturation", "Canary | deploys"]
    for number, title in enumerate(titles, 1):
        commits = repo.commits()
        data = repo.json(
            "action",
            "add",
            ident,
            title,
            "--owner",
            f"owner{number}",
            "--due",
            f"2030-01-0{number}",
        )
        assert data["action"] == f"AI-{number}"
        assert repo.commits() == commits + 1
        assert head_files(repo) == [rel]
        assert head_trailer(repo) == ident
        assert repo.git("log", "-1", "--format=%s").strip() == (
            f"incident({ident}): action AI-{number}: {title}"
        )
    shown = repo.json("show", ident)
    assert [
        (a["id"], a["title"], a["owner"], a["due"], a["status"]) for a in shown["action_items"]
    ] == [
        ("AI-1", titles[0], "owner1", "2030-01-01", "open"),
        ("AI-2", titles[1], "owner2", "2030-01-02", "open"),
    ]
    texts = [e["text"] for e in shown["timeline"] if e["kind"] == "action"]
    assert texts == [
        f"Action item AI-1 added: {titles[0]} (owner owner1, due 2030-01-01)",
        f"Action item AI-2 added: {titles[1]} (owner owner2, due 2030-01-02)",
    ]
    text = path.read_text(encoding="utf-8")
    assert "| AI-1 | Alert on pool saturation | owner1 | 2030-01-01 | open | - |" in text
    assert "| AI-2 | Canary \\| deploys | owner2 | 2030-01-02 | open | - |" in text
    assert "action add" not in text.split("## Action Items")[1].split("##")[0]  # TODO gone

    commits = repo.commits()
    repo.ok("action", "done", ident, "AI-1")
    assert repo.commits() == commits + 1
    assert head_files(repo) == [rel]
    assert head_trailer(repo) == ident
    text = path.read_text(encoding="utf-8")
    assert "| AI-1 | Alert on pool saturation | owner1 | 2030-01-01 | done | - |" in text
    assert repo.json("show", ident)["timeline"][-1]["text"] == (
        f"Action item AI-1 done: {titles[0]}"
    )
    repo.ok("action", "done", ident, "2")  # a bare number means AI-2
    assert [a["status"] for a in repo.json("show", ident)["action_items"]] == ["done", "done"]


def test_action_list_filters_across_incidents(repo: Repo) -> None:
    """`action list` spans incidents; --open drops done items, --overdue keeps late open ones."""
    first, _ = resolved(repo, title="First")
    second, _ = resolved(repo, title="Second")
    repo.ok("action", "add", first, "Late and open", "--owner", "a", "--due", "2020-01-01")
    repo.ok("action", "add", first, "Late but done", "--owner", "b", "--due", "2020-01-02")
    repo.ok("action", "done", first, "AI-2")
    repo.ok("action", "add", second, "Due later", "--owner", "c", "--due", "2099-01-01")

    def listed(*args: str) -> list[tuple[str, str, str, bool]]:
        rows = json.loads(repo.ok("action", "list", *args, "--json").stdout)
        return sorted((r["incident"], r["id"], r["status"], r["overdue"]) for r in rows)

    assert listed() == sorted(
        [
            (first, "AI-1", "open", True),
            (first, "AI-2", "done", False),
            (second, "AI-1", "open", False),
        ]
    )
    assert listed("--open") == sorted(
        [(first, "AI-1", "open", True), (second, "AI-1", "open", False)]
    )
    assert listed("--overdue") == [(first, "AI-1", "open", True)]
    assert listed(second) == [(second, "AI-1", "open", False)]
    row = json.loads(repo.ok("action", "list", "--overdue", "--json").stdout)[0]
    assert row["title"] == "Late and open"
    assert row["owner"] == "a"
    assert row["due"] == "2020-01-01"
    assert row["path"].startswith("incidents/")
    text = repo.ok("action", "list", "--overdue").stdout
    assert "Late and open" in text
    assert "OVERDUE" in text
    assert "Due later" not in text


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("AI-9", "no action item 'AI-9'"),
        ("AI-1", "AI-1 is already done"),
        ("nope", "no action item"),
    ],
    ids=["unknown", "already-done", "not-an-id"],
)
def test_action_done_errors(repo: Repo, target: str, message: str) -> None:
    """`action done` of an unknown item, or one already done, exits 1 and commits nothing."""
    ident, path = resolved(repo)
    repo.ok("action", "add", ident, "Fix it", "--owner", "a", "--due", "2030-01-01")
    repo.ok("action", "done", ident, "AI-1")
    before, commits = path.read_bytes(), repo.commits()
    fails(repo.run("action", "done", ident, target), message)
    assert path.read_bytes() == before
    assert repo.commits() == commits


@pytest.mark.parametrize(("delay", "days"), [("7d", 7), ("2w", 14)])
def test_action_due_as_a_delay(repo: Repo, delay: str, days: int) -> None:
    """`--due 7d` / `--due 2w` means that many days from today (UTC)."""
    ident, _ = resolved(repo)
    today = utcnow().date()
    repo.ok("action", "add", ident, "Fix it", "--owner", "a", "--due", delay)
    due = repo.json("show", ident)["action_items"][0]["due"]
    assert due in {(today + timedelta(days=days + n)).isoformat() for n in (0, 1)}


@pytest.mark.parametrize("due", ["tomorrow", "2030-13-01", "7x", "-1d", ""])
def test_action_bad_due_is_a_usage_error(repo: Repo, due: str) -> None:
    """A due date that is neither YYYY-MM-DD nor a delay is a usage error (exit 2), no commit."""
    ident, path = resolved(repo)
    before, commits = path.read_bytes(), repo.commits()
    result = repo.run("action", "add", ident, "Fix it", "--owner", "a", "--due", due)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--due" in result.stderr
    assert "Traceback" not in result.output
    assert path.read_bytes() == before
    assert repo.commits() == commits


# -- every check rule: a failing and a passing case ---------------------------------------------

PATH = "incidents/2026/INC-20260301-abcd-queue-backlog.md"

BASE = """\
---
id: INC-20260301-abcd
title: Queue backlog
status: monitoring
severity: SEV-3
opened_at: 2026-03-01T10:00:00Z
acknowledged_at: 2026-03-01T10:05:00Z
mitigated_at: 2026-03-01T10:30:00Z
action_items: []
---

# Queue backlog

## Summary

Jobs waited in the queue for 30 minutes.

## Timeline

- `2026-03-01T10:00:00Z` **Bob** _(opened)_ Opened.
- `2026-03-01T10:05:00Z` **Bob** _(note)_ Looking at the consumers.
"""

POSTMORTEM = """
## Impact

About 2,000 users saw delayed emails.

## Root Cause

The consumer pool was scaled to zero by a bad autoscaling rule.

## Detection

The queue-depth alert fired after five minutes.

## Resolution

Scaled the consumers back up by hand and fixed the rule.

## Action Items

| ID | Action |
| --- | --- |
| AI-1 | Test autoscaling rules |

## What Went Well

- The alert fired quickly.

## What Went Wrong

- Nobody owned the autoscaling rule.

## Lessons Learned

- Autoscaling rules are code.
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


RESOLVED = edit(
    edit(BASE, "status: monitoring\nseverity: SEV-3\n", "status: resolved\nseverity: SEV-2\n"),
    "action_items: []\n",
    "resolved_at: 2026-03-01T11:00:00Z\naction_items: []\n",
)
WRITTEN = RESOLVED + POSTMORTEM
CLOSED = edit(
    edit(WRITTEN, "status: resolved\n", "status: closed\n"),
    "action_items: []\n",
    "closed_at: 2026-03-05T09:00:00Z\naction_items: []\n",
)
OTHER = "incidents/2026/INC-20260301-efgh-queue-backlog-again.md"
SAME_ID = "incidents/2026/INC-20260301-abcd-copy.md"
ITEM = (
    "action_items:\n- id: AI-1\n  title: Test autoscaling rules\n  owner: bob\n  due: 2026-04-01\n"
)


def with_item(text: str, drop: str) -> str:
    return edit(text, "action_items: []\n", ITEM.replace(drop, ""))


# (rule, files that break it, rules expected, files that pass it)
class Link(str):
    """A file content meaning: make the file a symbolic link to this."""


RULE_CASES: list[tuple[str, dict[str, str | bytes], set[str], dict[str, str | bytes]]] = [
    ("file-type", {PATH: Link("/dev/zero")}, {"file-type"}, {PATH: BASE}),
    (
        "file-size",
        {PATH: BASE + "x" * (1024 * 1024 - len(BASE)) + "\n"},
        {"file-size"},
        {PATH: BASE + "x" * (1024 * 1024 - len(BASE) - 1) + "\n"},
    ),
    (
        "encoding",
        {PATH: BASE.replace("Queue backlog", "Queue \xff backlog").encode("latin-1")},
        {"encoding"},
        {PATH: BASE.replace("Queue backlog", "Queue \xff backlog").encode("utf-8")},
    ),
    (
        "conflict-marker",
        {PATH: edit(BASE, "## Summary\n", "<<<<<<< HEAD\n## Summary\n=======\n>>>>>>> fix\n")},
        {"conflict-marker"},
        {PATH: edit(BASE, "## Summary\n", "## Summary\n\nA diff <<<<<<< in prose.\n")},
    ),
    (
        "control-character",
        {PATH: edit(BASE, "## Summary\n", "## Summary\n\nSee report\u202egnp.exe today.\n")},
        {"control-character"},
        {PATH: edit(BASE, "## Summary\n", "## Summary\n\nPaged 👩\u200d💻 at the café.\n")},
    ),
    (
        "front-matter",
        {PATH: BASE.replace("---\n", "", 1)},
        {"front-matter"},
        {PATH: BASE + "\n---\n\nA thematic break in the body.\n"},
    ),
    (
        "yaml",
        {PATH: edit(BASE, "title: Queue backlog", "title: [Queue backlog")},
        {"yaml"},
        {PATH: edit(BASE, "title: Queue backlog", 'title: "[Queue] backlog"')},
    ),
    (
        "duplicate-key",
        {PATH: edit(BASE, "severity: SEV-3\n", "severity: SEV-3\nseverity: SEV-1\n")},
        {"duplicate-key"},
        {PATH: edit(BASE, "severity: SEV-3\n", "severity: SEV-3\nx-severity: SEV-1\n")},
    ),
    (
        "yaml-plain",
        {PATH: edit(BASE, "severity: SEV-3\n", "severity: &s SEV-3\nx-severity: *s\n")},
        {"yaml-plain"},
        {PATH: edit(BASE, "severity: SEV-3\n", "severity: SEV-3\nx-severity: SEV-3\n")},
    ),
    (
        "invalid-date",
        {
            PATH: edit(BASE, "mitigated_at: 2026-03-01T10:30", "mitigated_at: 2026-02-29T10:30"),
            OTHER: edit(
                BASE.replace("INC-20260301-abcd", "INC-20260301-efgh"),
                "`2026-03-01T10:05:00Z` **Bob** _(note)_",
                "`2026-03-01T10:65:00Z` **Bob** _(note)_",
            ),
        },
        {"invalid-date"},
        {PATH: edit(BASE, "mitigated_at: 2026-03-01T10:30", "mitigated_at: 2026-03-01T10:31")},
    ),
    (
        "schema",
        {PATH: edit(BASE, "severity: SEV-3", "severity: SEV-9")},
        {"schema"},
        {PATH: edit(BASE, "severity: SEV-3", "severity: SEV-4")},
    ),
    (
        "filename",
        {PATH.replace("abcd", "zzzz"): BASE},
        {"filename"},
        {"incidents/2026/INC-20260301-abcd.md": BASE},
    ),
    (
        "id-format",
        {"incidents/2026/incident-42-queue.md": BASE.replace("INC-20260301-abcd", "incident-42")},
        {"id-format"},
        {PATH: BASE},
    ),
    (
        "id-unique",
        {PATH: BASE, SAME_ID: BASE},
        {"id-unique"},
        {PATH: BASE, OTHER: BASE.replace("INC-20260301-abcd", "INC-20260301-efgh")},
    ),
    (
        "year-folder",
        {PATH.replace("2026", "2025", 1): BASE},
        {"year-folder"},
        {PATH: BASE},
    ),
    (
        "timestamp-order",
        {PATH: edit(BASE, "mitigated_at: 2026-03-01T10:30", "mitigated_at: 2026-03-01T10:01")},
        {"timestamp-order"},
        {PATH: edit(BASE, "mitigated_at: 2026-03-01T10:30", "mitigated_at: 2026-03-01T10:05")},
    ),
    (
        "status-timestamps",
        {PATH: edit(BASE, "status: monitoring", "status: resolved")},
        {"status-timestamps"},
        {
            PATH: edit(
                edit(BASE, "status: monitoring", "status: resolved"),
                "action_items: []",
                "resolved_at: 2026-03-01T11:00:00Z\naction_items: []",
            )
        },
    ),
    (
        "timeline-order",
        {
            PATH: edit(
                BASE,
                "`2026-03-01T10:05:00Z` **Bob** _(note)_",
                "`2026-03-01T09:55:00Z` **Bob** _(note)_",
            )
        },
        {"timeline-order"},
        {
            PATH: edit(
                BASE,
                "`2026-03-01T10:05:00Z` **Bob** _(note)_",
                "`2026-03-01T10:00:00Z` **Bob** _(note)_",
            )
        },
    ),
    (
        "action-item-owner",
        {PATH: with_item(BASE, "  owner: bob\n")},
        {"action-item-owner"},
        {PATH: with_item(BASE, "")},
    ),
    (
        "action-item-due",
        {PATH: with_item(BASE, "  due: 2026-04-01\n")},
        {"action-item-due"},
        {PATH: with_item(BASE, "")},
    ),
    ("postmortem-section", {PATH: RESOLVED}, {"postmortem-section"}, {PATH: WRITTEN}),
    (
        "postmortem-empty",
        {PATH: edit(WRITTEN, "About 2,000 users saw delayed emails.\n", "<!-- fill in -->\n")},
        {"postmortem-empty"},
        {
            PATH: edit(
                WRITTEN,
                "About 2,000 users saw delayed emails.\n",
                "<!-- fill in -->\nAbout 2,000 users.\n",
            )
        },
    ),
    (
        "postmortem-placeholder",
        {PATH: edit(WRITTEN, "- Autoscaling rules are code.", "- _TODO_")},
        {"postmortem-placeholder"},
        {
            PATH: edit(
                WRITTEN,
                "- Autoscaling rules are code.",
                "- Autoscaling rules are code; the TODOS list is gone.\n\n```\nTODO\n```",
            )
        },
    ),
    (
        "closed-postmortem",
        {PATH: edit(CLOSED, "- Autoscaling rules are code.", "- _TODO_")},
        {"postmortem-placeholder", "closed-postmortem"},
        {PATH: CLOSED},
    ),
]
WARNINGS = {"year-folder", "timeline-order"}


def write_files(repo: Repo, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        target = repo.file(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            target.symlink_to(content)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def test_rule_table_covers_every_rule() -> None:
    """The table below has a case for each rule `check` knows, and no unknown rule."""
    assert [case[0] for case in RULE_CASES] == list(RULES)


@pytest.mark.parametrize(
    ("rule", "bad", "expected", "good"), RULE_CASES, ids=[case[0] for case in RULE_CASES]
)
def test_rule_fails(
    repo: Repo,
    rule: str,
    bad: dict[str, str | bytes],
    expected: set[str],
    good: dict[str, str | bytes],
) -> None:
    """The breaking files are reported under the rule (warnings still exit 0)."""
    write_files(repo, bad)
    code, doc = check_json(repo)
    assert rules_of(doc) == expected, doc
    levels = {p["level"] for p in doc["problems"] if p["rule"] == rule}
    assert levels == ({"warning"} if rule in WARNINGS else {"error"})
    assert code == (0 if rule in WARNINGS else 1)
    assert doc["ok"] is (rule in WARNINGS)
    for problem in doc["problems"]:
        assert problem["path"] in bad
        assert problem["line"] >= 1
    text = repo.run("check")
    assert f": {rule}" in text.stdout
    if rule in WARNINGS:
        assert f": {rule} (warning): " in text.stdout


@pytest.mark.parametrize(
    ("rule", "bad", "expected", "good"), RULE_CASES, ids=[case[0] for case in RULE_CASES]
)
def test_rule_passes(
    repo: Repo,
    rule: str,
    bad: dict[str, str | bytes],
    expected: set[str],
    good: dict[str, str | bytes],
) -> None:
    """The neighbouring files that respect the rule pass with no problem at all."""
    write_files(repo, good)
    code, doc = check_json(repo)
    assert (code, doc["problems"]) == (0, []), doc
    assert sorted(doc["checked"]) == sorted(good)


# -- hostile incident text ----------------------------------------------------------------------

JINJA_EXPR = "{{ 7*7 }}"
JINJA_LOOP = "{% for x in range(3) %}x{% endfor %}"
HOSTILE = f"A {JINJA_EXPR} B {JINJA_LOOP} C ::error::pwned <script>alert(1)</script> D | E"
OUR_COMMANDS = re.compile(r"^::(error file=|warning file=|notice )")


def assert_no_foreign_commands(output: str) -> None:
    """Only our own workflow commands start a line; the log is fenced by one token."""
    lines = output.splitlines()
    stops = [m.group(1) for line in lines if (m := re.fullmatch(r"::stop-commands::(\w+)", line))]
    assert len(stops) == 1, output
    token = stops[0]
    assert len(token) >= 16
    assert lines.count(f"::{token}::") == 1
    assert lines.index(f"::{token}::") > lines.index(f"::stop-commands::{token}")
    for line in lines:
        assert not line.startswith("::error::pwned"), line
        if line.startswith("::") and line not in (f"::stop-commands::{token}", f"::{token}::"):
            assert OUR_COMMANDS.match(line), line


def test_hostile_text_is_inert(repo: Repo, tmp_path: Path) -> None:
    """Template code, workflow commands, HTML and pipes in incident text stay literal data."""
    summary = f"TODO <script>alert(1)</script> ::error::pwned | {JINJA_EXPR}"
    data = repo.open(HOSTILE, "--severity", "2", "--summary", summary)
    ident, path = data["id"], repo.file(data["path"])
    repo.ok("log", ident, f"::error::pwned\n{JINJA_LOOP} and {JINJA_EXPR}")
    repo.ok(
        "action",
        "add",
        ident,
        f"Fix | {JINJA_EXPR} ::error::pwned",
        "--owner",
        "a|b",
        "--due",
        "2030-01-01",
    )
    repo.ok("status", ident, "resolved")
    repo.ok("postmortem", ident)

    text = path.read_text(encoding="utf-8")
    assert "A 49 B" not in text
    assert "B xxx C" not in text
    assert text.count(JINJA_EXPR) >= 6
    assert text.count(JINJA_LOOP) >= 3
    assert f"# {HOSTILE}\n" in text  # the heading, verbatim
    escaped = HOSTILE.replace("|", "\\|")
    assert f"| Incident | {ident}: {escaped} |" in text
    assert f"| AI-1 | Fix \\| {JINJA_EXPR} ::error::pwned | a\\|b | 2030-01-01 | open | - |" in text
    assert "<script>alert(1)</script>" in text  # Markdown is not HTML-escaped, it is data
    assert repo.json("show", ident)["title"] == HOSTILE

    summary_file = tmp_path / "summary.md"
    result = repo.run("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary_file)})
    assert result.exit_code == 1, result.output
    assert "::error file=" in result.stdout
    assert "::error::pwned" in result.stdout  # it is there, but never at a line start
    assert_no_foreign_commands(result.stdout)
    report = summary_file.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in report
    assert "<script>" not in report
    assert "::error::pwned" in report


def test_hostile_front_matter_key_is_inert(repo: Repo, tmp_path: Path) -> None:
    """A hand-edited key holding a newline and `::error::` cannot start a line in the log."""
    text = edit(BASE, "title: Queue backlog\n", 'title: Queue backlog\n"a\\n::error::pwned": 1\n')
    write_files(repo, {PATH: text})
    result = repo.run("check", "--format", "github")
    assert result.exit_code == 1
    assert "::error::pwned" in result.stdout
    assert_no_foreign_commands(result.stdout)
    plain = repo.run("check")
    assert len([line for line in plain.stdout.splitlines() if line.startswith(PATH)]) == 1
    assert not any(line.startswith("::") for line in plain.stdout.splitlines())


@pytest.mark.parametrize(
    ("summary", "log"),
    [
        (None, "Pasted from the runbook:\n<!-- incidentctl:action-items -->"),
        (None, "<!-- incidentctl:figures -->\nthen\n<!-- /incidentctl:figures -->"),
        ("From the alert:\n<!-- incidentctl:action-items -->", "A note."),
        ("From the alert:\n<!-- incidentctl:figures -->\n<!-- /incidentctl:figures -->", "A note."),
    ],
    ids=["log-start-marker", "log-marker-pair", "summary-start-marker", "summary-marker-pair"],
)
def test_marker_text_cannot_capture_a_region(repo: Repo, summary: str | None, log: str) -> None:
    """Region markers typed into a log entry or summary never make a refresh eat other text."""
    args = ["--summary", summary] if summary else []
    data = repo.open("API down", "--severity", "2", *args)
    ident, path = data["id"], repo.file(data["path"])
    repo.ok("log", ident, log)
    repo.ok("status", ident, "resolved")
    repo.ok("postmortem", ident)
    repo.ok("action", "add", ident, "Add an alert", "--owner", "dan", "--due", "2030-01-01")
    repo.ok("postmortem", ident)  # nothing missing: at most a refresh

    text = path.read_text(encoding="utf-8")
    kinds = [e["kind"] for e in repo.json("show", ident)["timeline"]]
    assert kinds == ["opened", "note", "status", "action"]
    for heading in [
        "## Checklist (outage)",
        "# Post-mortem",
        "## Impact",
        "## Root Cause",
        "## Action Items",
        "## What Went Well",
        "## Lessons Learned",
    ]:
        assert text.count(f"\n{heading}\n") == 1, heading
    row = "| AI-1 | Add an alert | dan | 2030-01-01 | open | - |"
    assert text.count(row) == 1
    assert text.index("\n## Action Items\n") < text.index(row) < text.index("\n## What Went Well\n")
    assert text.count("| Severity | SEV-2 (outage, production) |") == 1
    assert text.index("\n# Post-mortem\n") < text.index("| Severity | SEV-2")
    for line in (summary or "").splitlines() + log.splitlines():
        assert line in text, line


@pytest.mark.parametrize("title", ["Root Cause", "impact", "Post-mortem", "Lessons learned"])
def test_title_named_like_a_section_is_not_that_section(repo: Repo, title: str) -> None:
    """An incident titled like a section still gets, and is checked for, that real section."""
    ident, path = resolved(repo, title=title)
    repo.ok("postmortem", ident)
    text = path.read_text(encoding="utf-8")
    assert text.count("\n# Post-mortem\n") == 1 + (title == "Post-mortem")  # + the title
    assert text.count("<!-- incidentctl:figures -->") == 1
    for heading in ("## Root Cause", "## Impact", "## Lessons Learned"):
        assert text.count(f"\n{heading}\n") == 1, heading
    code, doc = check_json(repo)
    assert code == 1
    placeholders = {p["message"].split("'")[1] for p in doc["problems"]}
    if title != "Post-mortem":
        assert title.lower() in {name.lower() for name in placeholders}
    repo.ok("action", "add", ident, "Add an alert", "--owner", "dan", "--due", "2030-01-01")
    write_todos(path)
    assert check_json(repo) == (
        0,
        {"ok": True, "problems": [], "checked": [path.relative_to(repo.path).as_posix()]},
    )
    commits = repo.commits()
    repo.ok("postmortem", ident)
    assert repo.commits() == commits
