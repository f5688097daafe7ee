"""A first incident through the CLI, against a real git repository."""

from __future__ import annotations

from conftest import Repo


def test_open_creates_and_commits_one_file(repo: Repo) -> None:
    """`open --json` prints the SPEC shape and makes exactly one commit with one file."""
    before = repo.commits()
    data = repo.open("API returning 500s", "--severity", "SEV-2")
    assert set(data) >= {"id", "path", "status", "severity", "commit"}
    assert data["severity"] == "SEV-2" and data["status"] == "triage"
    assert repo.commits() == before + 1
    files = repo.git("show", "--name-only", "--format=", "HEAD").split()
    assert files == [data["path"]]
