"""Sections are top-level headings only: text inside a timeline entry never counts."""

from __future__ import annotations

import json

from conftest import Repo

from incidentctl.incident.file import IncidentFile


def test_heading_in_a_log_text_is_not_a_section(repo: Repo) -> None:
    """A log text with `## Root Cause` satisfies neither the scanner nor `check`."""
    data = repo.open("Queue backlog", "--severity", "SEV-2")
    repo.ok("log", data["id"], "pasted notes:\n## Root Cause\nthe disk filled up")
    repo.ok("status", data["id"], "resolved")
    file = IncidentFile.read(repo.file(data["path"]))
    assert file.section_range("Root Cause") is None
    result = repo.run("check", "--format", "json")
    assert result.exit_code == 1
    rules = {(p["rule"], p["message"].split("'")[1]) for p in json.loads(result.stdout)["problems"]}
    assert ("postmortem-section", "## Root Cause") in rules


def test_top_level_heading_after_the_timeline_is_found(repo: Repo) -> None:
    """The heading a person adds after the timeline is a section for both readers."""
    data = repo.open("Queue backlog")
    path = repo.file(data["path"])
    path.write_text(path.read_text() + "\n## Root Cause\n\nThe disk filled up.\n")
    file = IncidentFile.read(path)
    assert file.section_range("Root Cause") is not None
    from incidentctl.incident.sections import find_section, sections

    found = find_section(sections(file), "Root Cause")
    assert found is not None and found.text == "The disk filled up."


def test_crlf_file_keeps_crlf_through_every_command(repo: Repo) -> None:
    """A file saved with CRLF endings gets CRLF on every line a command writes."""
    data = repo.open("Windows editor", "--severity", "SEV-2")
    path = repo.file(data["path"])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    repo.git("add", data["path"])
    repo.git("commit", "-q", "-m", "crlf")
    repo.ok("log", data["id"], "first\nsecond line")
    repo.ok("severity", data["id"], "1")
    repo.ok("assign", data["id"], "--role", "comms=Bob")
    repo.ok("status", data["id"], "resolved")
    repo.ok("postmortem", data["id"])
    repo.ok("action", "add", data["id"], "Add an alert", "--owner", "bob", "--due", "7d")
    raw = path.read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n") > 40


def test_close_refuses_an_action_item_without_owner(repo: Repo) -> None:
    """A SEV-4 (no post-mortem needed) still cannot close with an unowned action item."""
    data = repo.open("Typo on the status page", "--severity", "SEV-4")
    repo.ok("status", data["id"], "resolved")
    path = repo.file(data["path"])
    text = path.read_text().replace(
        "action_items: []", "action_items:\n- id: AI-1\n  title: Fix the typo\n  status: open"
    )
    path.write_text(text)
    repo.git("commit", "-qam", "hand-added item")
    before = repo.commits()
    result = repo.run("status", data["id"], "closed")
    assert result.exit_code == 1
    assert "every action item needs an owner and a due date" in result.output
    assert "AI-1 has no owner" in result.output
    assert repo.commits() == before and path.read_text() == text


def test_an_old_index_lock_is_called_stale(repo: Repo) -> None:
    """A .git/index.lock minutes old is named as stale, with the command to remove it."""
    import os
    import time

    ident = repo.open("Queue backlog")["id"]
    lock = repo.path / ".git" / "index.lock"
    lock.write_bytes(b"")
    old = time.time() - 600
    os.utime(lock, (old, old))
    result = repo.run("status", ident, "investigating")
    assert result.exit_code == 1
    assert "looks stale" in result.output and f"rm {lock}" in result.output
    assert lock.exists()  # never removed by incidentctl
