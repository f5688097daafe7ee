"""`edit` while something else changes the incident: nothing either side wrote is lost.

The editor here is a real child process. While it "has the file open" it runs another
command on the same incident (a `log`, a `status`, a hand commit, a `sync` pulling a
teammate's change), then saves its own edit. `edit` must refuse to write over the
other change, keep it committed, and keep the responder's edited text in
`.git/incidentctl/edits/`, saying where.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import console_script, git
from github_standin import GitHubStandIn
from test_team import Team, cli, make_team, texts

EDIT_LINE = "A careful sentence typed in the editor."

# The editor: on its first run, run the command given in RACE_COMMAND (a JSON argv)
# as if from another terminal, then append our line to the file it was given. On a
# second run (the merge `edit` re-opens), record what it was shown and save it as is.
EDITOR = """
import json, os, pathlib, subprocess, sys
p = pathlib.Path(sys.argv[1])
runs = pathlib.Path(os.environ["EDITOR_RUNS"])
n = len(runs.read_text().splitlines()) if runs.exists() else 0
runs.write_text("run\\n" * (n + 1))
text = p.read_text()
if n == 0:
    done = subprocess.run(json.loads(os.environ["RACE_COMMAND"]), capture_output=True, text=True)
    pathlib.Path(os.environ["EDITOR_RUNS"] + ".race").write_text(
        str(done.returncode) + "\\n" + done.stdout + done.stderr
    )
    p.write_text(text + "\\n" + os.environ["EDIT_LINE"] + "\\n")
else:
    pathlib.Path(os.environ["EDITOR_RUNS"] + ".shown").write_text(text)
    p.write_text(text)
"""


@pytest.fixture
def team(tmp_path: Path, origin: Path) -> Team:
    return make_team(tmp_path, origin)


def _edit_env(
    tmp_path: Path, clone: Path, race: list[str], extra: dict[str, str] | None = None
) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    return {
        **os.environ,
        **(extra or {}),
        "EDITOR": f"{sys.executable} {script}",
        "RACE_COMMAND": json.dumps(race),
        "EDITOR_RUNS": str(tmp_path / "editor-runs"),
        "EDIT_LINE": EDIT_LINE,
    }


def _kept_edits(clone: Path) -> list[Path]:
    return sorted((clone / ".git" / "incidentctl" / "edits").glob("*.md"))


def _race_result(tmp_path: Path) -> str:
    return (tmp_path / "editor-runs.race").read_text()


def _ic(clone: Path, *args: str) -> list[str]:
    return [console_script(), "--repo", str(clone), *args]


def _hand_commit(clone: Path, rel: str) -> list[str]:
    """A shell that appends a line to the file by hand and commits it with git."""
    script = (
        'printf "\\nA line added by hand.\\n" >> "$1" && git -C "$2" commit --quiet -am "hand edit"'
    )
    return ["sh", "-c", script, "sh", str(clone / rel), str(clone)]


def _second_edit(clone: Path, ident: str) -> list[str]:
    """A second `edit` of the same incident, from another terminal, with its own editor."""
    script = 'printf "A line typed in the second editor.\\n" >> "$1"'
    editor = f"sh -c '{script}' sh"
    return ["env", f"EDITOR={editor}", f"VISUAL={editor}", *_ic(clone, "edit", ident)]


RACES = {
    "log": (lambda c, t: _ic(c, "log", t.ident, "Rolled back"), "Rolled back"),
    "status": (lambda c, t: _ic(c, "status", t.ident, "investigating"), "status: investigating"),
    "severity": (lambda c, t: _ic(c, "severity", t.ident, "SEV-2"), "severity: SEV-2"),
    "assign": (lambda c, t: _ic(c, "assign", t.ident, "-c", "bob"), "bob"),
    "action add": (
        lambda c, t: _ic(c, "action", "add", t.ident, "Add a canary", "-o", "bob", "-d", "7d"),
        "Add a canary",
    ),
    "action done": (lambda c, t: _ic(c, "action", "done", t.ident, "AI-1"), "status: done"),
    "postmortem": (lambda c, t: _ic(c, "postmortem", t.ident), "## Lessons Learned"),
    "hand commit": (lambda c, t: _hand_commit(c, t.rel), "A line added by hand."),
    "edit": (lambda c, t: _second_edit(c, t.ident), "A line typed in the second editor."),
    "issues sync --write-back": (
        lambda c, t: _ic(c, "issues", "sync", "--pace", "0", "--write-back"),
        "issue: http",
    ),
}


@pytest.mark.parametrize("name", list(RACES))
def test_a_change_made_while_the_editor_is_open_is_kept_and_so_is_the_edit(
    team: Team, tmp_path: Path, name: str
) -> None:
    """The other command's commit stays; edit exits 1 and keeps the edited text aside."""
    a = team.clone("a")
    if name in ("action done", "issues sync --write-back"):
        cli(a, "action", "add", team.ident, "Pin the driver", "-o", "carol", "-d", "3d")
    if name == "postmortem":
        cli(a, "status", team.ident, "resolved")
    race, mark = RACES[name]
    before = int(git(a, "rev-list", "--count", "HEAD").strip())

    with GitHubStandIn() as github:
        result = subprocess.run(
            _ic(a, "edit", team.ident),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=_edit_env(tmp_path, a, race(a, team), {**github.env(), "GH_TOKEN": ""}),
            timeout=120,
        )

    assert _race_result(tmp_path).startswith("0\n"), _race_result(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "changed while the editor was open" in result.stderr
    assert "Traceback" not in result.stderr
    # The other change: committed, and the file is exactly what it wrote.
    assert int(git(a, "rev-list", "--count", "HEAD").strip()) == before + 1
    assert git(a, "status", "--porcelain") == ""
    now = (a / team.rel).read_text()
    assert mark in now
    assert EDIT_LINE not in now
    # The edit: kept, in full, where the message says.
    kept = _kept_edits(a)
    assert len(kept) == 1
    assert str(kept[0]) in result.stderr
    assert kept[0].read_text().rstrip().endswith(EDIT_LINE)
    assert oct(kept[0].stat().st_mode & 0o777) == oct(0o600)


def test_a_sync_pulling_a_teammates_change_while_the_editor_is_open(
    team: Team, tmp_path: Path
) -> None:
    """A teammate's pushed update, pulled by `sync` mid-edit, is kept; so is the edit."""
    a, b = team.clone("a"), team.clone("b")
    cli(b, "log", team.ident, "Bob found the bad config", "--push")

    result = subprocess.run(
        _ic(a, "edit", team.ident),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_edit_env(tmp_path, a, _ic(a, "sync")),
        timeout=120,
    )

    assert _race_result(tmp_path).startswith("0\n"), _race_result(tmp_path)
    assert result.returncode == 1, result.stderr
    text = (a / team.rel).read_text()
    assert "Bob found the bad config" in texts(text)
    assert EDIT_LINE not in text
    assert git(a, "status", "--porcelain") == ""
    assert team.origin_text() == text
    [kept] = _kept_edits(a)
    assert kept.read_text().rstrip().endswith(EDIT_LINE)


def test_an_undisturbed_edit_commits_and_keeps_nothing_aside(team: Team, tmp_path: Path) -> None:
    """The check never gets in the way: no other change, one commit, no file kept."""
    a = team.clone("a")
    before = int(git(a, "rev-list", "--count", "HEAD").strip())
    result = subprocess.run(
        _ic(a, "edit", team.ident),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_edit_env(tmp_path, a, ["true"]),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(git(a, "rev-list", "--count", "HEAD").strip()) == before + 1
    assert (a / team.rel).read_text().rstrip().endswith(EDIT_LINE)
    assert _kept_edits(a) == []


def test_an_invalid_save_without_a_terminal_is_kept_too(team: Team, tmp_path: Path) -> None:
    """Rejected text (bad YAML) is not thrown away: it is kept aside like a raced edit."""
    a = team.clone("a")
    script = tmp_path / "bad.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('severity: SEV-3', 'severity: [SEV-3') + 'mine\\n')\n"
    )
    original = (a / team.rel).read_text()
    result = subprocess.run(
        _ic(a, "edit", team.ident),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "EDITOR": f"{sys.executable} {script}"},
        timeout=120,
    )
    assert result.returncode == 1
    assert (a / team.rel).read_text() == original
    [kept] = _kept_edits(a)
    assert "severity: [SEV-3" in kept.read_text() and kept.read_text().endswith("mine\n")
    assert str(kept) in result.stderr


def _run_in_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal as its standard input and output."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=10), out.decode("utf-8", "replace")


def test_in_a_terminal_a_clean_merge_reopens_the_editor_and_commits_both(
    team: Team, tmp_path: Path
) -> None:
    """With a terminal, an edit that merges cleanly is shown merged, then committed."""
    a = team.clone("a")
    before = int(git(a, "rev-list", "--count", "HEAD").strip())
    env = _edit_env(tmp_path, a, _ic(a, "log", team.ident, "Rolled back the deploy"))
    code, out = _run_in_terminal(_ic(a, "edit", team.ident), env)

    assert code == 0, out
    assert "merges cleanly" in out
    shown = (tmp_path / "editor-runs.shown").read_text()
    assert "Rolled back the deploy" in shown and EDIT_LINE in shown
    text = (a / team.rel).read_text()
    assert "Rolled back the deploy" in texts(text) and EDIT_LINE in text
    assert int(git(a, "rev-list", "--count", "HEAD").strip()) == before + 2
    assert git(a, "status", "--porcelain") == ""
    # The first attempt is still kept aside (the merge might not be what was meant).
    assert len(_kept_edits(a)) == 1
