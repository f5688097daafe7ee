"""Changing commands refuse to commit when the commit would be lost: a stopped rebase,
merge, cherry-pick, revert, `git am` or bisect, or a detached HEAD; `--no-commit` still
writes the file. Real git puts the repository in each state."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Repo, console_script, git, run_env

from incidentctl.cli import cli
from incidentctl.errors import GitError
from incidentctl.repo.incidents import IncidentRepo

# -- a repository to put into each state -------------------------------------------------


def _write_commit(path: Path, name: str, text: str, message: str) -> str:
    (path / name).write_text(text)
    git(path, "add", name)
    git(path, "commit", "--quiet", "-m", message)
    return git(path, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """main: notes one -> two -> three, an open incident with AI-1; `other`: notes "other".

    Every state below starts from a copy of it (building it costs a dozen commits).
    """
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("state-home")
        config = home / ".gitconfig"
        config.write_text(
            "[user]\n\tname = Alice Responder\n\temail = alice@example.com\n"
            "[commit]\n\tgpgSign = false\n[init]\n\tdefaultBranch = main\n"
            "[advice]\n\tdetachedHead = false\n"
        )
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for name in (
            "GIT_AUTHOR_NAME",
            "GIT_AUTHOR_EMAIL",
            "GIT_COMMITTER_NAME",
            "GIT_COMMITTER_EMAIL",
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "INCIDENTCTL_REPO",
            "VISUAL",
            "EDITOR",
        ):
            mp.delenv(name, raising=False)
        path = tmp_path_factory.mktemp("state-template") / "work"
        path.mkdir()
        git(path, "init", "--quiet")
        _write_commit(path, "README.md", "# ops\n", "initial")
        _write_commit(path, "notes.txt", "one\n", "notes one")
        git(path, "switch", "--quiet", "-c", "other")
        other = _write_commit(path, "notes.txt", "other\n", "notes other")
        git(path, "switch", "--quiet", "main")
        two = _write_commit(path, "notes.txt", "two\n", "notes two")
        _write_commit(path, "notes.txt", "three\n", "notes three")
        repo = Repo(path)
        ident = repo.open("Checkout API returning 500s")["id"]
        repo.ok("action", "add", ident, "Add an alert", "--owner", "Bob", "--due", "2030-01-01")
        editor = path.parent / "editor.sh"
        editor.write_text('#!/bin/sh\nprintf "Edited by hand.\\n" >> "$1"\n')
        editor.chmod(0o755)
        yield path, {"id": ident, "other": other, "two": two, "editor": str(editor)}


def _rebase(repo: Repo, facts: dict[str, str], backend: str) -> None:
    repo.git("switch", "--quiet", "other")
    repo.git("rebase", backend, "main", check=False)
    marker = "rebase-merge" if backend == "--merge" else "rebase-apply"
    assert (repo.path / ".git" / marker).is_dir()


def _am(repo: Repo, facts: dict[str, str]) -> None:
    patch = repo.git("format-patch", "-1", "--stdout", facts["other"])
    subprocess.run(["git", "am", "-3"], cwd=repo.path, input=patch, text=True, check=False)
    assert (repo.path / ".git" / "rebase-apply" / "applying").exists()


STATES: dict[str, tuple[Callable[[Repo, dict[str, str]], None], str]] = {
    "rebase (merge backend)": (lambda r, f: _rebase(r, f, "--merge"), "rebase"),
    "rebase (apply backend)": (lambda r, f: _rebase(r, f, "--apply"), "rebase"),
    "git am": (_am, "git am"),
    "merge": (lambda r, f: r.git("merge", "--quiet", "other", check=False), "merge"),
    "cherry-pick": (lambda r, f: r.git("cherry-pick", f["other"], check=False), "cherry-pick"),
    "revert": (lambda r, f: r.git("revert", "--no-edit", f["two"], check=False), "revert"),
    "bisect": (lambda r, f: r.git("bisect", "start"), "bisect"),
    "detached HEAD": (lambda r, f: r.git("checkout", "--quiet", "--detach"), "detached"),
}


@pytest.fixture(params=list(STATES))
def stuck(
    request: pytest.FixtureRequest, template: tuple[Path, dict[str, str]], tmp_path: Path
) -> tuple[Repo, dict[str, str], str]:
    """A copy of the template, put into one state by real git; (repo, facts, word)."""
    source, facts = template
    path = tmp_path / "work"
    shutil.copytree(source, path, symlinks=True)
    repo = Repo(path)
    enter, word = STATES[request.param]
    enter(repo, facts)
    return repo, facts, word


def _snapshot(repo: Repo) -> tuple[str, str, dict[str, bytes]]:
    """Every ref and HEAD, and the bytes of every incident file."""
    refs = repo.git("for-each-ref", "--format=%(refname) %(objectname)")
    head = repo.git("rev-parse", "HEAD").strip()
    files = {str(p): p.read_bytes() for p in sorted((repo.path / "incidents").rglob("*.md"))}
    return head, refs, files


# -- the changing commands ----------------------------------------------------------------

COMMANDS: dict[str, list[str]] = {
    "open": ["open", "A second outage", "--severity", "SEV-3"],
    "log": ["log", "{id}", "Rolled back the deploy"],
    "status": ["status", "{id}", "investigating"],
    "severity": ["severity", "{id}", "SEV-1"],
    "assign": ["assign", "{id}", "--commander", "Bob"],
    "action add": ["action", "add", "{id}", "Fix it", "--owner", "Bob", "--due", "2030-01-01"],
    "action done": ["action", "done", "{id}", "AI-1"],
    "edit": ["edit", "{id}"],
    "postmortem": ["postmortem", "{id}"],
}


def _invoke(
    repo: Repo, facts: dict[str, str], command: str, *extra: str, fast: bool = False
) -> tuple[int, str, str]:
    """Run one command: (exit code, stdout, stderr). `fast`: `log` via the console script."""
    args = [a.format(**facts) for a in COMMANDS[command]] + list(extra)
    if fast:
        done = subprocess.run(
            [console_script(), "--repo", str(repo.path), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**run_env(), "EDITOR": facts["editor"]},
        )
        return done.returncode, done.stdout, done.stderr
    result = CliRunner().invoke(
        cli, ["--repo", str(repo.path), *args], env={"EDITOR": facts["editor"]}
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


CASES = [(c, False) for c in COMMANDS] + [("log", True)]
CASE_IDS = [f"{c} (console script)" if fast else c for c, fast in CASES]


@pytest.mark.parametrize(("command", "fast"), CASES, ids=CASE_IDS)
def test_changing_command_refuses_to_commit(
    stuck: tuple[Repo, dict[str, str], str], command: str, fast: bool
) -> None:
    """In each state each changing command exits 1 with one line naming the state and
    the way out, and makes no commit and no change to any incident file."""
    repo, facts, word = stuck
    before = _snapshot(repo)
    code, out, err = _invoke(repo, facts, command, fast=fast)
    assert code == 1, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: not committing: "), lines[0]
    assert word in lines[0] and "--no-commit" in lines[0], lines[0]
    assert _snapshot(repo) == before


@pytest.mark.parametrize(("command", "fast"), CASES, ids=CASE_IDS)
def test_no_commit_still_writes_the_file(
    stuck: tuple[Repo, dict[str, str], str], command: str, fast: bool
) -> None:
    """With --no-commit each changing command writes its file in every state, no commit."""
    repo, facts, _ = stuck
    head, refs, files = _snapshot(repo)
    code, out, err = _invoke(repo, facts, command, "--no-commit", fast=fast)
    assert code == 0, (code, out, err)
    after_head, after_refs, after_files = _snapshot(repo)
    assert (after_head, after_refs) == (head, refs)
    assert after_files != files


def test_a_state_in_one_linked_worktree_blocks_only_that_worktree(repo: Repo) -> None:
    """The state files are read from the work tree's own git folder (a linked worktree
    has its own under .git/worktrees/): a rebase stopped there refuses commits there,
    while the main work tree, on its branch, commits as usual."""
    ident = repo.open()["id"]
    (repo.path / "notes.txt").write_text("one\n")
    repo.git("add", "notes.txt")
    repo.git("commit", "--quiet", "-m", "notes one")
    linked = repo.path.parent / "linked"
    repo.git("worktree", "add", "--quiet", "-b", "side", str(linked))
    (linked / "notes.txt").write_text("side\n")
    git(linked, "commit", "--quiet", "-am", "notes side")
    (repo.path / "notes.txt").write_text("main\n")
    repo.git("commit", "--quiet", "-am", "notes main")
    git(linked, "rebase", "main", check=False)
    assert (repo.path / ".git" / "worktrees" / "linked" / "rebase-merge").is_dir()
    in_linked = Repo(linked)
    before = in_linked.git("rev-parse", "HEAD")
    for args in (["log", ident, "From the linked worktree"], ["status", ident, "identified"]):
        done = subprocess.run(
            [console_script(), *args], cwd=linked, capture_output=True, text=True, check=False
        )
        assert done.returncode == 1, done
        assert "rebase" in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert in_linked.git("rev-parse", "HEAD") == before
    done = subprocess.run(
        [console_script(), "log", ident, "From the main worktree"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "log note: From the main worktree" in repo.git("log", "-1", "--format=%s")


def test_sync_refuses(stuck: tuple[Repo, dict[str, str], str], origin: Path) -> None:
    """`sync` in each state exits 1 with one line naming it, and pushes nothing."""
    repo, _, word = stuck
    repo.git("remote", "add", "origin", str(origin))
    before = _snapshot(repo)
    result = CliRunner().invoke(cli, ["--repo", str(repo.path), "sync"])
    assert result.exit_code == 1, (result.output, result.exception)
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("Error: not syncing: "), line
    assert word in line, line
    assert _snapshot(repo) == before
    assert git(origin, "for-each-ref") == ""


def test_core_refuses_every_committing_call(stuck: tuple[Repo, dict[str, str], str]) -> None:
    """The guard sits in the core, so a path the CLI table misses (issue links written
    back by `issues sync --write-back`) is refused as well, and nothing is written."""
    repo, facts, word = stuck
    before = _snapshot(repo)
    incidents = IncidentRepo.open(repo.path)
    try:
        with pytest.raises(GitError, match=word):
            incidents.link_issues(facts["id"], {"AI-1": "https://github.com/acme/ops/issues/1"})
        with pytest.raises(GitError, match=word):
            incidents.git.commit_only(repo.path / "notes.txt", "anything", {})
    finally:
        incidents.git.close()
    assert _snapshot(repo) == before


def test_json_output_is_not_printed_when_refused(stuck: tuple[Repo, dict[str, str], str]) -> None:
    """A refused `log --json` prints nothing on stdout, so a script does not read a
    commit that was never made."""
    repo, facts, _ = stuck
    code, out, err = _invoke(repo, facts, "log", "--json", fast=True)
    assert (code, out) == (1, ""), (out, err)


# -- no work tree at all ------------------------------------------------------------------


def _tree(path: Path) -> list[tuple[str, int]]:
    """Every file under `path` with its size: what a command could have changed."""
    return sorted((str(p.relative_to(path)), p.stat().st_size) for p in path.rglob("*"))


NO_WORK_TREE = [
    ["open", "Disk full"],
    ["log", "abcd", "text"],
    ["list"],
    ["show", "abcd"],
    ["sync"],
    ["init"],
]


@pytest.mark.parametrize("args", NO_WORK_TREE, ids=[" ".join(a) for a in NO_WORK_TREE])
@pytest.mark.parametrize("how", ["--repo", "cwd"])
def test_bare_repository_says_clone_it(
    origin: Path, args: list[str], how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a bare repository (given by --repo or as the working folder) every command,
    `log` through the console script included, says it is bare and to clone it, not
    `git init`; nothing in it changes."""
    before = _tree(origin)
    if args[0] == "init":
        argv = ["init", str(origin)] if how == "--repo" else ["init"]
    else:
        argv = ["--repo", str(origin), *args] if how == "--repo" else args
    done = subprocess.run(
        [console_script(), *argv],
        cwd=origin if how == "cwd" else origin.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "bare git repository" in lines[0] and "git clone" in lines[0], lines[0]
    assert "git init" not in lines[0], lines[0]
    assert _tree(origin) == before
