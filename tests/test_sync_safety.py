"""`sync` against a real bare origin: refused pushes, and the user's uncommitted work.

A push the server refuses for good stops at once with the server's reason; a push
that only lost a race is retried. Whatever the user had uncommitted (edits, staged
changes, untracked files) is there after a sync exactly as before, or the sync stops
with everything as it was and says what to do.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import git
from test_team import Team, cli, cli_json, make_team, texts

# A hook that counts the pushes it sees, prints a reason (with a terminal escape a
# hostile server might send) and refuses.
REFUSING_HOOK = """#!/bin/sh
echo x >> "{count}"
echo "GH006: Protected branch update failed for refs/heads/main." >&2
printf 'rule \\033]0;owned\\007 needs a pull request\\n' >&2
exit 1
"""


@pytest.fixture
def team(tmp_path: Path, origin: Path) -> Team:
    return make_team(tmp_path, origin)


def _hook(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _pushes(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def _unpushed(clone: Path) -> int:
    return int(git(clone, "rev-list", "--count", "origin/main..HEAD").strip())


@pytest.mark.parametrize("hook", ["pre-receive", "update"])
@pytest.mark.parametrize("command", ["sync", "log --push"])
def test_a_push_the_server_refuses_stops_after_one_attempt_with_its_reason(
    team: Team, tmp_path: Path, hook: str, command: str
) -> None:
    """A refusing server hook: exit 1 after ONE push, its reason shown escaped, commits kept."""
    a = team.clone("a")
    cli(a, "log", team.ident, "first, unpushed")
    count = tmp_path / "pushes"
    _hook(team.origin / "hooks" / hook, REFUSING_HOOK.format(count=count))
    origin_before = team.origin_head()

    if command == "sync":
        result = cli(a, "sync", check=False)
    else:
        result = cli(a, "log", team.ident, "second, unpushed", "--push", check=False)

    assert result.returncode == 1, result.stdout + result.stderr
    assert _pushes(count) == 1, "a refused push was retried"
    message = result.stderr
    assert message.count("\n") == 1 and "Traceback" not in message, message
    assert "origin refused the push to main" in message, message
    assert "[remote rejected]" in message and "hook declined" in message, message
    assert "GH006: Protected branch update failed" in message, message
    assert "rule \\x1b]0;owned\\x07 needs a pull request" in message, message
    assert "\x1b" not in result.stdout + message
    assert "kept here" in message and "incidentctl sync" in message, message
    if command != "sync":
        assert "committed" in message and "here, but sync failed" in message, message
    assert team.origin_head() == origin_before
    assert _unpushed(a) == (1 if command == "sync" else 2)
    kept = texts((a / team.rel).read_text(encoding="utf-8"))
    assert "first, unpushed" in kept
    assert command == "sync" or "second, unpushed" in kept
    assert git(a, "status", "--porcelain") == ""


def test_a_push_to_a_checked_out_branch_of_a_non_bare_origin_is_refused_once(
    tmp_path: Path, origin: Path
) -> None:
    """receive.denyCurrentBranch (a server policy, not a race): exit 1 at once, git's reason."""
    team = make_team(tmp_path, origin)
    server = tmp_path / "server"
    git(tmp_path, "clone", "--quiet", str(team.origin), str(server))
    a = tmp_path / "a"
    git(tmp_path, "clone", "--quiet", str(server), str(a))
    cli(a, "init", str(a))
    cli(a, "log", team.ident, "to a non-bare origin")
    result = cli(a, "sync", "--attempts", "3", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "branch is currently checked out" in result.stderr, result.stderr
    assert "kept here" in result.stderr
    assert _unpushed(a) == 1


def test_a_remote_that_moved_between_fetch_and_push_is_retried_and_succeeds(team: Team) -> None:
    """Another clone pushes right after our fetch: the push is rejected, retried, and lands."""
    a, b = team.clone("a"), team.clone("b")
    cli(a, "log", team.ident, "from a, first")
    cli(a, "sync")
    cli(a, "log", team.ident, "from a, pushed during b's sync")
    cli(b, "log", team.ident, "from b")
    # When b's fetch moves its view of origin (the first time only), a pushes: b's
    # push then meets a branch it has not seen ("fetch first").
    marker = b / ".git" / "moved-once"
    _hook(
        b / ".git" / "hooks" / "reference-transaction",
        f"""#!/bin/sh
[ "$1" = committed ] || exit 0
grep -q ' refs/remotes/origin/main$' || exit 0
[ -e "{marker}" ] && exit 0
touch "{marker}"
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX
git -C "{a}" push --quiet origin HEAD:refs/heads/main
""",
    )
    result = cli_json(b, "sync")
    assert marker.exists(), "the race was not staged"
    assert result["attempts"] == 2, result
    assert result["pushed"] == 1 and result["pulled"] == 2, result
    kept = texts(team.origin_text())
    for text in ("from a, first", "from a, pushed during b's sync", "from b"):
        assert kept.count(text) == 1, (text, kept)
    assert _unpushed(b) == 0
    assert os.path.getsize(b / team.rel) > 0


# -- the user's uncommitted work ---------------------------------------------------------------

CHECKED = "- [x] Incident Commander named"
UNCHECKED = "- [ ] Incident Commander named"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _stashes(clone: Path) -> str:
    return git(clone, "stash", "list")


def _state(clone: Path) -> dict[str, object]:
    """HEAD, status, index and every work-tree file, byte for byte (no .git)."""
    files = {
        p.relative_to(clone).as_posix(): p.read_bytes()
        for p in clone.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(clone).parts
    }
    return {
        "head": git(clone, "rev-parse", "HEAD"),
        "status": git(clone, "status", "--porcelain=v1", "-uall"),
        "index": git(clone, "ls-files", "--stage"),
        "files": files,
    }


def _edit_severity(team: Team, clone: Path) -> None:
    _replace(clone / team.rel, "severity: SEV-3", "severity: SEV-2")


def _stage_severity(team: Team, clone: Path) -> None:
    _edit_severity(team, clone)
    git(clone, "add", team.rel)


def _stage_severity_and_edit_more(team: Team, clone: Path) -> None:
    _stage_severity(team, clone)
    _replace(clone / team.rel, UNCHECKED, CHECKED)


def _untracked_in_the_way(team: Team, clone: Path) -> None:
    (clone / "runbook.md").write_text("my own notes, never committed\n")


# What the user leaves uncommitted when the remote has changed the severity: each of
# these meets the remote's change in the same line, so the sync must stop.
CONFLICTING = {
    "unstaged edit of the same field": _edit_severity,
    "staged edit of the same field": _stage_severity,
    "staged and unstaged edits, one conflicting": _stage_severity_and_edit_more,
    "untracked file where the remote adds one": _untracked_in_the_way,
}


@pytest.mark.parametrize("local_commit", [True, False], ids=["with-commit", "no-commit"])
@pytest.mark.parametrize("dirty", list(CONFLICTING), ids=list(CONFLICTING))
def test_uncommitted_work_that_conflicts_with_the_remote_stops_sync_and_changes_nothing(
    team: Team, dirty: str, local_commit: bool
) -> None:
    """A conflicting uncommitted change: exit 1, the exact steps, the clone byte-identical."""
    a, b = team.clone("a"), team.clone("b")
    cli(a, "severity", team.ident, "1")
    (a / "runbook.md").write_text("the team's runbook\n")
    git(a, "add", "runbook.md")
    git(a, "commit", "--quiet", "-m", "Add the runbook")
    cli(a, "sync")
    if local_commit:
        cli(b, "log", team.ident, "b's entry")
    CONFLICTING[dirty](team, b)
    before = _state(b)
    origin_before = team.origin_head()

    result = cli(b, "sync", check=False)

    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr
    assert message.count("\n") == 1 and "Traceback" not in message, message
    assert "Pulled" not in result.stdout and "Pushed" not in result.stdout
    if dirty.startswith("untracked"):
        assert "runbook.md" in message, message
    else:
        assert f"your uncommitted change to {team.rel} conflicts with what origin/main" in message
        assert "nothing was changed here" in message, message
        assert "`git stash`, `incidentctl sync`, `git stash pop`" in message, message
    assert _state(b) == before, "the failed sync changed the clone"
    assert _stashes(b) == "", "a stash was left behind"
    assert team.origin_head() == origin_before
    assert not (b / ".git" / "rebase-merge").exists()


def test_the_recovery_steps_of_a_conflicting_sync_work_as_written(team: Team) -> None:
    """Following the message (stash, sync, pop): both changes meet in markers around one field."""
    a, b = team.clone("a"), team.clone("b")
    cli(a, "severity", team.ident, "1")
    cli(a, "sync")
    cli(b, "log", team.ident, "b's entry")
    _edit_severity(team, b)
    assert cli(b, "sync", check=False).returncode == 1
    git(b, "stash")
    assert cli_json(b, "sync")["pushed"] == 1
    popped = subprocess_git(b, "stash", "pop")
    assert popped.returncode != 0  # git says: conflict, the stash is kept
    text = (b / team.rel).read_text(encoding="utf-8")
    assert "<<<<<<<" in text and "severity: SEV-2" in text and "severity: SEV-1" in text
    assert "b's entry" in texts(team.origin_text())


def subprocess_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _check_a_box(team: Team, clone: Path) -> None:
    _replace(clone / team.rel, UNCHECKED, CHECKED)


def _stage_a_box(team: Team, clone: Path) -> None:
    _check_a_box(team, clone)
    git(clone, "add", team.rel)


def _stage_one_edit_another(team: Team, clone: Path) -> None:
    _stage_a_box(team, clone)
    config = clone / "incidentctl.toml"
    config.write_text(config.read_text() + "# hand edit, not staged\n")


def _untracked(team: Team, clone: Path) -> None:
    (clone / "notes.txt").write_text("scratch notes\n")
    (clone / "incidents" / "draft.txt").write_text("a draft\n")


def _staged_new_file(team: Team, clone: Path) -> None:
    (clone / "new.md").write_text("staged, new\n")
    git(clone, "add", "new.md")
    (clone / "new.md").write_text("staged, new, then edited\n")


def _deleted(team: Team, clone: Path) -> None:
    git(clone, "rm", "--quiet", "--cached", "incidentctl.toml")  # staged removal, file kept
    next((clone / ".github" / "workflows").glob("*.yml")).unlink()  # unstaged removal


# Uncommitted work that does not meet the remote's change: kept exactly, exit 0.
CLEAN = {
    "unstaged edit of another line": _check_a_box,
    "staged edit of another line": _stage_a_box,
    "staged edit and an unstaged edit of another file": _stage_one_edit_another,
    "untracked files": _untracked,
    "a staged new file, edited again": _staged_new_file,
    "deleted tracked files, staged and not": _deleted,
}


@pytest.mark.parametrize("local_commit", [True, False], ids=["with-commit", "no-commit"])
@pytest.mark.parametrize("dirty", list(CLEAN), ids=list(CLEAN))
def test_uncommitted_work_that_merges_is_kept_exactly_and_sync_exits_0(
    team: Team, dirty: str, local_commit: bool
) -> None:
    """Non-conflicting uncommitted work: exit 0, the same status, the same content, no stash."""
    a, b = team.clone("a"), team.clone("b")
    cli(a, "severity", team.ident, "1")
    cli(a, "log", team.ident, "a's entry")
    cli(a, "sync")
    if local_commit:
        cli(b, "log", team.ident, "b's entry")
    CLEAN[dirty](team, b)
    before = _state(b)
    staged_before = git(b, "diff", "--cached", "--name-status")

    result = cli(b, "sync", check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pulled 2 commit(s)" in result.stdout, result.stdout
    assert _stashes(b) == "", "a stash was left behind"
    after = _state(b)
    assert after["status"] == before["status"], "the uncommitted changes are not the same"
    assert git(b, "diff", "--cached", "--name-status") == staged_before
    files = after["files"]
    assert isinstance(files, dict)
    assert not any(b"<<<<<<<" in data for data in files.values()), "conflict markers left"
    text = (b / team.rel).read_text(encoding="utf-8")
    assert "severity: SEV-1" in text and "a's entry" in texts(text), "the remote change is missing"
    assert (not local_commit) or "b's entry" in texts(team.origin_text())
    before_files = before["files"]
    assert isinstance(before_files, dict)
    for rel, data in before_files.items():  # every other file exactly as the user left it
        if rel != team.rel:
            assert files.get(rel) == data, rel
    assert set(files) == set(before_files)
    if dirty in ("unstaged edit of another line", "staged edit of another line"):
        assert CHECKED in text
        assert (CHECKED in git(b, "show", f":{team.rel}")) == dirty.startswith("staged")
        assert CHECKED not in git(b, "show", f"HEAD:{team.rel}")
    if dirty == "staged edit and an unstaged edit of another file":
        assert CHECKED in git(b, "show", f":{team.rel}")
        assert "severity: SEV-1" in git(b, "show", f":{team.rel}")


def test_changes_left_in_the_stash_by_an_interrupted_sync_are_pointed_out(team: Team) -> None:
    """A sync killed while it held the changes aside: the next sync says how to get them back."""
    from incidentctl.repo.syncing import SHELF_MESSAGE

    b = team.clone("b")
    _check_a_box(team, b)
    sha = git(b, "stash", "create").strip()
    git(b, "stash", "store", "-m", SHELF_MESSAGE, sha)  # what a killed sync leaves
    git(b, "reset", "--hard", "--quiet")
    result = cli(b, "sync", check=False)
    assert result.returncode == 1
    assert "`git stash pop --index stash@{0}`" in result.stderr, result.stderr
    git(b, "stash", "pop", "--index", "stash@{0}")
    assert CHECKED in (b / team.rel).read_text(encoding="utf-8")
    assert cli(b, "sync").returncode == 0
