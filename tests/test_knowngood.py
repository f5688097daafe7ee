"""The known-good cache lets `log` skip PyYAML without ever accepting a broken file."""

from __future__ import annotations

import subprocess

from conftest import Repo, log_in_fresh_process


def _log_in_fresh_process(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    return log_in_fresh_process(repo, *args, report="'yaml' in sys.modules, status")


def test_log_on_a_known_front_matter_does_not_import_yaml(repo: Repo) -> None:
    """After one command has parsed the file, the next `log` never imports PyYAML."""
    ident = repo.open("Queue backlog")["id"]
    result = _log_in_fresh_process(repo, ident, "first")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("False 0"), result.stdout
    known = (repo.path / ".git" / "incidentctl-known-good").read_text()
    assert ident in known


def test_a_hand_edit_is_parsed_again(repo: Repo) -> None:
    """A changed front matter misses the cache: a broken one is refused, a good one parsed."""
    data = repo.open("Queue backlog")
    path = repo.file(data["path"])
    good = path.read_text()
    path.write_text(good.replace("severity: SEV-3", "severity: SEV-3\nseverity: SEV-1"))
    result = _log_in_fresh_process(repo, data["id"], "refused")
    assert result.returncode == 1
    assert "duplicate key 'severity'" in result.stderr
    path.write_text(good.replace("services: []", "services: [api]"))
    result = _log_in_fresh_process(repo, data["id"], "parsed")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("True 0"), result.stdout
    assert repo.json("timeline", data["id"])[-1]["text"] == "parsed"


def test_backdating_before_the_opening_is_refused_from_the_cache(repo: Repo) -> None:
    """`opened_at` kept in the cache still guards `--at` when YAML is skipped."""
    ident = repo.open("Queue backlog")["id"]
    result = _log_in_fresh_process(repo, ident, "too early", "--at", "2001-01-01T00:00:00Z")
    assert result.returncode == 1
    assert "before the incident opened" in result.stderr
    assert result.stdout.strip().startswith("False"), result.stdout


def test_a_corrupt_cache_file_is_ignored(repo: Repo) -> None:
    """Garbage in the cache file costs a parse, never a wrong answer or an error."""
    ident = repo.open("Queue backlog")["id"]
    (repo.path / ".git" / "incidentctl-known-good").write_text("garbage\n\x00\nab cd ef\n")
    result = _log_in_fresh_process(repo, ident, "still fine")
    assert result.returncode == 0, result.stderr
    assert repo.json("timeline", ident)[-1]["text"] == "still fine"
