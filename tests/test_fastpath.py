"""`log` through the click-free fast path behaves exactly like the click command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo, console_script, log_in_fresh_process

from incidentctl.fastpath import parse


@pytest.mark.parametrize(
    ("argv", "handled"),
    [
        (["log", "abc", "text"], True),
        (["--repo", "/tmp", "log", "abc", "text"], True),
        (["--repo=/tmp", "log", "abc", "text", "--kind", "decision"], True),
        (["log", "abc", "text", "--at", "-5m", "-k", "comms", "--no-commit", "--json"], True),
        (["log", "abc", "text", "--at=2026-11-26T10:00:00Z", "--push"], True),
        (["log", "abc", "text", "--no-push"], True),
        (["log", "-h"], False),
        (["log", "abc", "--help"], False),
        (["log", "abc"], False),
        (["log", "abc", "text", "extra"], False),
        (["log", "abc", "--", "-text"], False),
        (["log", "abc", "text", "--kind", "bogus"], False),
        (["log", "abc", "text", "--at"], False),
        (["log", "abc", "text", "--frobnicate"], False),
        (["--version", "log", "abc", "text"], False),
        (["show", "abc"], False),
        ([], False),
    ],
)
def test_parse_takes_only_the_documented_form(argv: list[str], handled: bool) -> None:
    """Only `[--repo P] log ID TEXT [options]` is taken; anything else is left to click."""
    assert (parse(argv) is not None) is handled


def _click(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from incidentctl.cli import cli; cli(sys.argv[1:], prog_name='incidentctl')"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _fast(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _same(text: str) -> str:
    return re.sub(r"\b[0-9a-f]{10,40}\b", "SHA", text)


@pytest.mark.parametrize(
    "args",
    [
        ["log", "{id}", "Rolled back deploy 1234"],
        ["log", "{id}", "a decision", "--kind", "decision"],
        ["log", "{id}", "json please", "--json"],
        ["log", "{id}", "not committed", "--no-commit"],
        ["log", "{id}", "relative time", "--at", "0m"],
        ["log", "nope", "text"],
        ["log", "{id}", "naive", "--at", "2026-11-26T10:00:00"],
        ["log", "{id}", "future", "--at", "2999-01-01T00:00:00Z"],
        ["log", "{id}", "   "],
        ["log", "{id}", "pushed", "--push"],
    ],
)
def test_fast_path_and_click_say_the_same(repo: Repo, args: list[str]) -> None:
    """Same exit status, stdout and stderr (commit SHAs aside) from both paths."""
    ident = repo.open("Checkout errors")["id"]
    argv = [a.replace("{id}", ident) for a in args]
    fast = _fast(argv, repo.path)
    slow = _click(argv, repo.path)
    assert (fast.returncode, _same(fast.stdout), _same(fast.stderr)) == (
        slow.returncode,
        _same(slow.stdout),
        _same(slow.stderr),
    )
    assert "Traceback" not in fast.stderr


def test_fast_path_commits_one_entry(repo: Repo) -> None:
    """The fast path makes the same one commit, with the trailer, as every change."""
    ident = repo.open("Checkout errors")["id"]
    before = repo.commits()
    result = _fast(["log", ident[-4:], "via the fast path", "--kind", "action"], repo.path)
    assert result.returncode == 0, result.stderr
    assert repo.commits() == before + 1
    assert repo.git("log", "-1", "--format=%(trailers:key=Incident,valueonly)").strip() == ident
    entries = repo.json("timeline", ident)
    assert entries[-1]["text"] == "via the fast path" and entries[-1]["kind"] == "action"


def test_log_in_a_linked_worktree_and_a_subfolder(repo: Repo, tmp_path: Path) -> None:
    """Repository discovery without git handles the plain case; git handles worktrees."""
    ident = repo.open("Checkout errors")["id"]
    (repo.path / "incidents" / "notes").mkdir()
    sub = _fast(["log", ident, "from a subfolder"], repo.path / "incidents" / "notes")
    assert sub.returncode == 0, sub.stderr
    tree = tmp_path / "tree"
    repo.git("worktree", "add", "-q", "-b", "side", str(tree))
    result = _fast(["log", ident, "from a worktree"], tree)
    assert result.returncode == 0, result.stderr
    log = subprocess.run(
        ["git", "log", "-1", "--format=%s", "side"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert log.stdout.strip() == f"incident({ident}): log note: from a worktree"
    texts = [e["text"] for e in repo.json("timeline", ident)]
    assert "from a subfolder" in texts and "from a worktree" not in texts


# What `log` must not load: each costs milliseconds of start-up (bench/README.md).
# PyYAML is skipped only for a front matter already known good (test_knowngood.py).
HEAVY = (
    "re",
    "enum",
    "pathlib",
    "click",
    "pydantic",
    "yaml",
    "jinja2",
    "git",
    "json",
    "typing",
    "subprocess",
    "hashlib",
    "contextlib",
    "tomllib",
    "tomli",
)


def test_log_loads_none_of_the_heavy_modules(repo: Repo) -> None:
    """A regression guard for start-up cost, counted in modules rather than timed."""
    ident = repo.open("Checkout errors")["id"]
    _fast(["log", ident, "parse the front matter once"], repo.path)
    result = log_in_fresh_process(repo, ident, "a note", report="' '.join(sorted(sys.modules))")
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "incidentctl.repo.incidents" in loaded  # the probe did run the command
    assert sorted(loaded.intersection(HEAVY)) == []
    assert repo.json("timeline", ident)[-1]["text"] == "a note"


def test_console_script_output_survives_the_fast_exit(repo: Repo) -> None:
    """The fast path leaves with os._exit: what it printed must be flushed first."""
    ident = repo.open("Checkout errors")["id"]
    script = console_script()
    piped = subprocess.run(
        [script, "log", ident, "into a pipe", "--json"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert '"change": "log note: into a pipe"' in piped.stdout
    failed = subprocess.run(
        [script, "log", "no-such-id", "text"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1
    assert failed.stderr == "Error: no incident matches 'no-such-id'; see `incidentctl list`\n"


def test_log_on_files_incidentctl_writes_needs_no_markdown_parser(repo: Repo) -> None:
    """Hostile entry texts, a summary and the post-mortem sections keep `log` on the
    line scanner: markdown-it (and `re`) load only for text a person wrote by hand."""
    summary = "what happened\n## Timeline\n```\n<!--"
    ident = repo.open("Checkout errors", "--severity", "SEV-2", "--summary", summary)["id"]
    for text in ("notes\n## Root Cause\n```\n<!--", "setext\n---\n===", "  ## x\n\t> ## y"):
        repo.ok("log", ident, text)
    repo.ok("status", ident, "resolved", "-m", "fixed\n- ## by a rollback")
    repo.ok("postmortem", ident)
    repo.ok("action", "add", ident, "Add an alert", "--owner", "bob", "--due", "7d")
    _fast(["log", ident, "parse the front matter once"], repo.path)
    result = log_in_fresh_process(repo, ident, "a note", report="' '.join(sorted(sys.modules))")
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "incidentctl.incident.blocks" in loaded
    assert sorted(loaded.intersection({*HEAVY, "markdown_it"})) == []
    assert repo.json("timeline", ident)[-1]["text"] == "a note"


def test_open_loads_none_of_the_heavy_modules(repo: Repo) -> None:
    """`open TITLE` takes a fast path too (repo/quickopen.py): besides these, no
    Jinja2 template, no `secrets` (OpenSSL) for the ID, no `unicodedata` for an
    ASCII title's file name. tests/test_quick_open.py checks what it writes."""
    code = (
        "import sys; from incidentctl.fastpath import run; status = run(sys.argv[1:]); "
        "print(' '.join(sorted(sys.modules))); sys.exit(status)"
    )
    argv = ["--repo", str(repo.path), "open", "Checkout errors", "-s", "2", "--service", "pay"]
    result = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.splitlines()[-1].split())
    assert "incidentctl.repo.quickopen" in loaded  # the probe did run the command
    assert sorted(loaded.intersection({*HEAVY, "secrets", "unicodedata"})) == []
    assert repo.json("show", result.stdout.split()[1])["services"] == ["pay"]
