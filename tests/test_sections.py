"""Sections are top-level headings only: text inside a timeline entry never counts."""

from __future__ import annotations

import json

from conftest import Repo

from incidentctl.incidentfile import IncidentFile


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
    from incidentctl.check import find_section, sections

    found = find_section(sections(file), "Root Cause")
    assert found is not None and found.text == "The disk filled up."
