"""`sync` against a real bare origin: refused pushes, and the user's uncommitted work.

A push the server refuses for good stops at once with the server's reason; a push
that only lost a race is retried. Whatever the user had uncommitted (edits, staged
changes, untracked files) is there after a sync exactly as before, or the sync stops
with everything as it was and says what to do.
"""

from __future__ import annotations

import os
import stat
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
