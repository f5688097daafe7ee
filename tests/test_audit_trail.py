"""Each commit holds only what its subject says: changes found uncommitted in an incident
file (a hand edit, an entry left by a killed command) get a commit of their own, saying
so, before the command's commit; nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Repo, console_script, run_env

from incidentctl.cli import cli

HAND_LINE = "A hand-written note about the impact."


def _hand_edit(path: Path) -> None:
    text = path.read_text()
    assert "## Summary\n\n" in text
    path.write_text(text.replace("## Summary\n\n", f"## Summary\n\n{HAND_LINE}\n\n", 1))


def _added(repo: Repo, rev: str) -> list[str]:
    """The lines commit `rev` adds (its diff against its parent, `+` lines only)."""
    diff = repo.git("show", "--format=", "--unified=0", rev)
    return [
        line[1:]
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]


def _subjects(repo: Repo, count: int) -> list[str]:
    return repo.git("log", f"-{count}", "--format=%s").splitlines()


def _files_in(repo: Repo, rev: str) -> list[str]:
    return repo.git("show", "--name-only", "--format=", rev).split()


@pytest.fixture
def incident(repo: Repo, tmp_path: Path) -> tuple[str, Path, str]:
    """An open incident with AI-1, all committed; (id, file, editor script)."""
    data = repo.open()
    repo.ok("action", "add", data["id"], "Add an alert", "--owner", "Bob", "--due", "2030-01-01")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Edited in the editor.\\n" >> "$1"\n')
    editor.chmod(0o755)
    return data["id"], repo.file(data["path"]), str(editor)


COMMANDS = {
    "log": (["log", "{id}", "Rolled back the deploy"], "Rolled back the deploy"),
    "status": (["status", "{id}", "investigating"], "Status triage → investigating"),
    "severity": (["severity", "{id}", "SEV-1"], "Severity SEV-3 → SEV-1"),
    "assign": (["assign", "{id}", "--commander", "Bob"], "Assigned commander=Bob"),
    "action add": (
        ["action", "add", "{id}", "Fix it", "--owner", "Bob", "--due", "2030-01-01"],
        "Action item AI-2 added",
    ),
    "action done": (["action", "done", "{id}", "AI-1"], "Action item AI-1 done"),
    "postmortem": (["postmortem", "{id}"], "## Root Cause"),
    "edit": (["edit", "{id}"], "Edited in the editor."),
}
CASES = [(c, False) for c in COMMANDS] + [("log", True)]
CASE_IDS = [f"{c} (console script)" if fast else c for c, fast in CASES]


def _run(repo: Repo, args: list[str], editor: str, *, fast: bool = False) -> tuple[int, str, str]:
    if fast:
        done = subprocess.run(
            [console_script(), "--repo", str(repo.path), *args],
            capture_output=True,
            text=True,
            check=False,
            env=run_env(),
        )
        return done.returncode, done.stdout, done.stderr
    result = CliRunner().invoke(cli, ["--repo", str(repo.path), *args], env={"EDITOR": editor})
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("command", "fast"), CASES, ids=CASE_IDS)
def test_hand_edit_gets_its_own_commit_before_the_command(
    repo: Repo, incident: tuple[str, Path, str], command: str, fast: bool
) -> None:
    """A hand edit left uncommitted is committed first, under a subject that says so
    and with only the edit in it; the command's commit then holds only its change."""
    ident, path, editor = incident
    before = repo.commits()
    _hand_edit(path)
    args, mark = COMMANDS[command]
    code, out, err = _run(repo, [a.format(id=ident) for a in args], editor, fast=fast)
    assert code == 0, (out, err)
    assert repo.commits() == before + 2
    carried, own = repo.git("log", "-2", "--format=%s").splitlines()[::-1]
    assert carried == f"incident({ident}): uncommitted changes found before {command} (+2 -0 lines)"
    assert own.startswith(f"incident({ident}): ")
    assert _added(repo, "HEAD~1") == [HAND_LINE, ""]
    assert not any(HAND_LINE in line for line in _added(repo, "HEAD"))
    assert any(mark in line for line in _added(repo, "HEAD")), _added(repo, "HEAD")
    body = repo.git("log", "-1", "--format=%b", "HEAD~1")
    assert "a hand edit" in body and "Incident: " + ident in body
    assert (
        _files_in(repo, "HEAD~1") == _files_in(repo, "HEAD") == [str(path.relative_to(repo.path))]
    )
    text = path.read_text()
    assert HAND_LINE in text and mark in text
    assert repo.git("status", "--porcelain") == ""
    assert "held uncommitted changes (+2 -0 lines); committed them first" in out


def test_clean_file_makes_exactly_one_commit(repo: Repo, incident: tuple[str, Path, str]) -> None:
    """With nothing uncommitted, a command makes its one commit and reports no other."""
    ident, _, _ = incident
    before = repo.commits()
    data = json.loads(repo.ok("log", ident, "All quiet", "--json").stdout)
    assert repo.commits() == before + 1 and "carried" not in data


def test_json_report_names_the_commit_of_the_found_changes(
    repo: Repo, incident: tuple[str, Path, str]
) -> None:
    """`--json` says which commit holds the changes found, and what they were."""
    ident, path, _ = incident
    _hand_edit(path)
    data = json.loads(repo.ok("status", ident, "identified", "--json").stdout)
    assert data["carried"] == {
        "commit": repo.git("rev-parse", "HEAD~1").strip(),
        "changes": "+2 -0 lines",
    }
    assert data["commit"] == repo.git("rev-parse", "HEAD").strip()


def test_file_opened_without_commit_is_committed_as_found(repo: Repo) -> None:
    """`open --no-commit` then `log`: the new file is committed on its own, saying it
    was found uncommitted, and the log commit adds only the entry."""
    data = repo.json("open", "Disk full", "--no-commit")
    before = repo.commits()
    repo.ok("log", data["id"], "Freed 20 GB")
    assert repo.commits() == before + 2
    carried = _subjects(repo, 2)[1]
    assert carried.startswith(f"incident({data['id']}): uncommitted file found before log (new")
    added = _added(repo, "HEAD")
    assert [line for line in added if line.strip()] == [
        next(line for line in added if "Freed 20 GB" in line)
    ]


def test_other_staged_and_modified_files_are_not_carried(
    repo: Repo, incident: tuple[str, Path, str]
) -> None:
    """Only the incident's own file is looked at: other work stays out of both commits."""
    ident, _, _ = incident
    (repo.path / "README.md").write_text("# ops, edited\n")
    (repo.path / "staged.txt").write_text("staged\n")
    repo.git("add", "staged.txt")
    before = repo.commits()
    repo.ok("log", ident, "Still investigating")
    assert repo.commits() == before + 1
    assert repo.git("status", "--porcelain").splitlines() == [" M README.md", "A  staged.txt"]


def test_rejected_command_commit_keeps_the_found_changes_committed_and_says_so(
    repo: Repo, incident: tuple[str, Path, str]
) -> None:
    """A hook that rejects the command's own commit: the error says the found changes
    were committed on their own, the file is as it was before the command, nothing lost."""
    ident, path, _ = incident
    hook = repo.path / ".git" / "hooks" / "commit-msg"
    hook.write_text(
        '#!/bin/sh\nif grep -q "log note" "$1"; then echo "no logs today" >&2; exit 1; fi\n'
    )
    hook.chmod(0o755)
    _hand_edit(path)
    handed = path.read_text()
    before = repo.commits()
    result = repo.run("log", ident, "Rejected entry")
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, line
    carried = repo.git("rev-parse", "HEAD").strip()
    assert "no logs today" in line and f"committed on their own, as {carried[:10]}" in line
    assert repo.commits() == before + 1
    assert "uncommitted changes found before log" in _subjects(repo, 1)[0]
    assert path.read_text() == handed
    assert repo.git("status", "--porcelain") == ""


def test_entry_left_by_a_killed_log_is_committed_on_its_own(
    repo: Repo, incident: tuple[str, Path, str]
) -> None:
    """A `log` killed (SIGKILL) after writing its entry, before its commit: the next
    `status` commits that entry under a subject saying it was found uncommitted, then
    its own change; the entry and the status change are both in the file."""
    ident, path, _ = incident
    hooks = repo.path / ".git" / "hooks"
    started, release, finished = (repo.path.parent / n for n in ("started", "release", "done"))
    (hooks / "pre-commit").write_text(
        f'#!/bin/sh\ntouch "{started}"\n'
        f'while [ ! -e "{release}" ]; do sleep 0.02; done\ntouch "{finished}"\nexit 1\n'
    )
    (hooks / "pre-commit").chmod(0o755)
    before = repo.commits()
    proc = subprocess.Popen(
        [console_script(), "--repo", str(repo.path), "log", ident, "Entry of a killed log"],
        env=run_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the hook never ran"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # killed mid-commit: the entry is written, not committed
    proc.wait()
    release.touch()  # the hook then fails the orphaned git commit, which cleans up
    while not finished.exists() or (repo.path / ".git" / "index.lock").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (hooks / "pre-commit").unlink()
    assert "Entry of a killed log" in path.read_text() and repo.commits() == before

    repo.ok("status", ident, "investigating")
    assert repo.commits() == before + 2
    carried, own = _subjects(repo, 2)[::-1]
    assert carried == f"incident({ident}): uncommitted changes found before status (+1 -0 lines)"
    assert own == f"incident({ident}): status triage -> investigating"
    assert [line for line in _added(repo, "HEAD~1")] == [
        next(line for line in _added(repo, "HEAD~1") if "Entry of a killed log" in line)
    ]
    assert not any("Entry of a killed log" in line for line in _added(repo, "HEAD"))
    text = path.read_text()
    assert "Entry of a killed log" in text and "status: investigating" in text
    assert repo.git("status", "--porcelain") == ""
