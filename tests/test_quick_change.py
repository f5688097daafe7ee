"""`status`, `severity`, `assign` and `action add` through the click-free fast path
(repo/quick.py, from the cache of front matters) write the same bytes, make the same
commits and print the same as the click commands, and load no click, model or YAML.

Each case runs the fast path on one copy of a repository and the click command on
another copy of the same repository, then compares everything they left.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import Repo, console_script, git

from incidentctl.fastpath import parse
from incidentctl.incident.file import IncidentFile
from incidentctl.incident.jsonview import front_matter_json
from incidentctl.incident.validation import validate
from incidentctl.repo.frontcache import FrontCache, blob_id

FAST = (
    "import os, sys; from incidentctl.fastpath import run; status = run(sys.argv[1:]); "
    "open(os.environ['LOADED'], 'w').write(' '.join(sorted(sys.modules))); "
    "sys.stdout.flush(); sys.exit(3 if status is None else status)"
)
CLICK = "import sys; from incidentctl.cli import cli; cli(sys.argv[1:], prog_name='incidentctl')"
# Never on the fast path (bench/README.md: each costs milliseconds of start-up).
HEAVY = {"click", "pydantic", "yaml", "jinja2", "frontmatter", "git", "markdown_it", "subprocess"}
HEAVY |= {"hashlib", "json", "typing", "pathlib", "contextlib", "tomllib", "tomli"}


@pytest.mark.parametrize(
    ("command", "argv", "handled"),
    [
        ("status", ["status", "abc", "resolved"], True),
        (
            "status",
            ["--repo", "/tmp", "status", "abc", "resolved", "-m", "why", "--at", "5m"],
            True,
        ),
        ("status", ["status", "abc", "resolved", "--message=why", "--json", "--no-commit"], True),
        ("status", ["status", "abc"], False),
        ("status", ["status", "abc", "resolved", "-h"], False),
        ("status", ["status", "abc", "resolved", "-mwhy"], False),
        ("status", ["status", "abc", "resolved", "--at"], False),
        ("severity", ["severity", "abc", "SEV-1", "-m", "x", "--push"], True),
        ("severity", ["severity", "abc", "1", "--reason", "x"], False),
        ("severity", ["severity", "abc", "1", "extra"], False),
        ("assign", ["assign", "abc", "-c", "Bob", "-r", "comms=Carol", "--role=scribe=Dan"], True),
        ("assign", ["assign", "abc"], True),  # the core says there is nothing to assign
        ("assign", ["assign", "abc", "-r", "comms"], False),  # not ROLE=NAME: click's error
        ("assign", ["assign", "abc", "-r", "=Bob"], False),
        ("assign", ["assign", "abc", "--", "-c"], False),
        ("action add", ["action", "add", "abc", "Title", "-o", "bob", "-d", "7d"], True),
        ("action add", ["action", "add", "abc", "T", "--owner=bob", "--due=7d", "--json"], True),
        ("action add", ["action", "add", "abc", "Title", "-o", "bob"], False),  # --due required
        ("action add", ["action", "add", "abc", "Title", "-d", "7d"], False),
        ("action add", ["action", "add", "abc", "-o", "bob", "-d", "7d"], False),
        ("action add", ["action", "done", "abc", "1"], False),
        ("action add", ["action", "--repo", "x", "add", "abc", "T", "-o", "b", "-d", "7d"], False),
    ],
)
def test_parse_takes_only_the_documented_forms(
    command: str, argv: list[str], handled: bool
) -> None:
    """Only the forms the click commands document are taken; the rest is click's."""
    assert (parse(argv, command) is not None) is handled


def test_a_bad_due_date_is_left_to_click(repo: Repo) -> None:
    """`--due` that click's callback refuses gets click's usage error, exit 2."""
    ident = repo.open("Checkout errors")["id"]
    done = _run([console_script(), "action", "add", ident, "T", "-o", "bob", "-d", "soon"], repo)
    assert done.returncode == 2 and "Invalid value for --due: 'soon'" in done.stderr


# -- the fast path against click, on copies of one repository ----------------------


def _run(argv: list[str], repo: Repo | Path, env: dict[str, str] | None = None) -> Completed:
    cwd = repo.path if isinstance(repo, Repo) else repo
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env)


Completed = subprocess.CompletedProcess[str]


def _base(repo: Repo) -> dict[str, str]:
    """Incidents in the states the cases need; the cache of front matters filled."""
    ids = {
        "triage": repo.open("Checkout errors", "--severity", "SEV-2", "--service", "pay")["id"],
        "resolved": repo.open("Search is slow", "--severity", "SEV-3")["id"],
        "postmortem": repo.open("Payments down", "--severity", "SEV-2")["id"],
    }
    repo.ok("status", ids["resolved"], "resolved", "-m", "fixed")
    repo.ok("status", ids["postmortem"], "monitoring")
    repo.ok("status", ids["postmortem"], "resolved")
    repo.ok("postmortem", ids["postmortem"])
    repo.ok("action", "add", ids["postmortem"], "Add an alert", "--owner", "bob", "--due", "7d")
    repo.ok("assign", ids["postmortem"], "-r", "comms=José Ñúñez")
    _fill_cache(repo)
    ids["opened"] = repo.json("show", ids["triage"])["opened_at"]
    return ids


def _fill_cache(repo: Repo) -> None:
    done = _run([console_script(), "list", "--json"], repo)
    assert done.returncode == 0, done.stderr


def _edit(repo: Repo, ident: str, change: Callable[[str], str], *, commit: bool) -> None:
    path = _path_of(repo.path, ident)
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    if commit:
        repo.git("commit", "--quiet", "-am", "by hand")
    _fill_cache(repo)


def _path_of(root: Path, ident: str) -> Path:
    return next((root / "incidents").glob(f"*/{ident}-*.md"))


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _normal(text: str, since: datetime) -> str:
    """SHAs out, and times of this run (the two sides' `now` differ) as NOW."""

    def stamp(match: re.Match[str]) -> str:
        when = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        return "NOW" if when >= since else match.group(0)

    return _STAMP.sub(stamp, re.sub(r"\b[0-9a-f]{10,40}\b", "SHA", text))


def _state(root: Path, since: datetime, before: int) -> dict[str, object]:
    """What a command left: every incident file, the commits it made, git status."""
    files = {
        str(p.relative_to(root)): _normal(p.read_text(encoding="utf-8"), since)
        for p in sorted((root / "incidents").glob("*/*.md"))
    }
    count = int(git(root, "rev-list", "--count", "HEAD"))
    commits = [
        _normal(git(root, "show", "--name-status", "--format=%an%n%B", f"HEAD~{n}"), since)
        for n in range(count - before)
    ]
    return {"files": files, "commits": commits, "status": git(root, "status", "--porcelain")}


def _both(
    repo: Repo, tmp_path: Path, argv: list[str]
) -> tuple[Completed, Completed, set[str], Path]:
    """argv through the fast path in one copy and through click in another; both
    results, the modules the fast one loaded, and the fast copy."""
    fast_root, slow_root = tmp_path / "fast", tmp_path / "slow"
    for root in (fast_root, slow_root):
        shutil.copytree(repo.path, root, symlinks=True)
    loaded = tmp_path / "loaded"
    env = {**os.environ, "LOADED": str(loaded)}
    fast = _run([sys.executable, "-c", FAST, *argv], fast_root, env)
    slow = _run([sys.executable, "-c", CLICK, *argv], slow_root)
    modules = set(loaded.read_text().split()) if loaded.exists() else set()
    return fast, slow, modules, fast_root


def _same_as_click(repo: Repo, tmp_path: Path, argv: list[str]) -> tuple[Completed, set[str]]:
    since = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
    before = repo.commits()
    fast, slow, modules, fast_root = _both(repo, tmp_path, argv)
    assert fast.returncode != 3, "the fast path did not take the command"
    assert "Traceback" not in fast.stderr + slow.stderr, fast.stderr + slow.stderr
    said = [
        (r.returncode, _normal(r.stdout, since), _normal(r.stderr, since).replace(str(root), "R"))
        for r, root in ((fast, fast_root), (slow, tmp_path / "slow"))
    ]
    assert said[0] == said[1]
    assert _state(fast_root, since, before) == _state(tmp_path / "slow", since, before)
    _cache_is_right(fast_root)
    return fast, modules


def _cache_is_right(root: Path) -> None:
    """Every entry the cache holds for a file now there is what validating it gives."""
    fronts = FrontCache(str(root / ".git"), "fm")
    for path in sorted((root / "incidents").glob("*/*.md")):
        raw = path.read_bytes()
        cached = fronts.get(blob_id(raw))
        if isinstance(cached, dict):  # (a file that does not validate: its error)
            file = IncidentFile(raw.decode("utf-8"), str(path))
            assert cached == front_matter_json(file, validate(file)), path


def _ids(argv: list[str], ids: dict[str, str]) -> list[str]:
    return [ids.get(a[1:-1], a) if a.startswith("{") else a for a in argv]


FAST_CASES = [
    ["status", "{triage}", "investigating", "-m", "Looking at deploy 1234"],
    ["status", "{triage}", "resolved"],  # stamps acknowledged, mitigated, resolved
    ["status", "{resolved}", "investigating", "--json"],  # a reopen
    ["status", "{triage}", "cancelled", "-m", "a false alarm"],
    ["status", "{triage}", "monitoring", "--at", "{opened}"],
    ["status", "{triage}", "identified", "--no-commit"],
    ["status", "{resolved}", "monitoring"],
    ["status", "{triage}", "triage"],
    ["status", "{triage}", "investigating", "--at", "2001-01-01T00:00:00Z"],
    ["status", "{resolved}", "triage", "--at", "2001-01-01T00:00:00Z"],
    ["status", "{triage}", "bogus"],
    ["status", "nope", "resolved"],
    ["status", "{triage}", "investigating", "--push"],  # no remote: sync fails after
    ["severity", "{triage}", "critical", "-m", "Every EU card payment fails"],
    ["severity", "{triage}", "4", "--json"],
    ["severity", "{triage}", "SEV-2"],
    ["severity", "{triage}", "SEV-9"],
    ["assign", "{triage}", "-c", "Bob Builder"],
    ["assign", "{triage}", "-r", "comms=Bob", "-r", "scribe=Carol", "--json"],
    ["assign", "{triage}", "-c", "Alice Responder"],  # already the commander
    ["assign", "{triage}", "-r", "chef=Bob"],
    ["assign", "{triage}"],
    ["assign", "{postmortem}", "-r", "comms=Dan", "-c", "Erin"],
    ["action", "add", "{postmortem}", "Alert on 5xx above 2%", "-o", "team-payments", "-d", "7d"],
    ["action", "add", "{triage}", "Canary deploys", "--owner", "Bob", "--due", "2030-12-15"],
    ["action", "add", "{resolved}", "T", "-o", "bob", "-d", "1d", "--json", "--no-commit"],
]


@pytest.mark.parametrize("args", FAST_CASES, ids=lambda a: " ".join(a)[:60])
def test_fast_path_does_what_click_does(repo: Repo, tmp_path: Path, args: list[str]) -> None:
    """Same output, files, commits (subjects, trailers) and cache, without the model."""
    ids = _base(repo)
    _, modules = _same_as_click(repo, tmp_path, _ids(args, ids))
    allowed = {"json"} if "--json" in args else set()
    if "--push" in args:  # `sync` after the commit: its own imports
        allowed |= HEAVY - {"click", "pydantic", "yaml", "jinja2"}
    assert sorted(modules & (HEAVY - allowed)) == []


@pytest.mark.parametrize(
    "args",
    [
        ["assign", "{triage}", "-c", "José Ñúñez: on call"],  # written quoted, by PyYAML
        ["action", "add", "{postmortem}", "Rate: 'high' | low", "-o", "#sre", "-d", "7d"],
    ],
)
def test_values_that_need_quotes_are_written_by_yamlio(
    repo: Repo, tmp_path: Path, args: list[str]
) -> None:
    """A name or title YAML must quote is written by PyYAML, still without the model."""
    ids = _base(repo)
    _, modules = _same_as_click(repo, tmp_path, _ids(args, ids))
    assert "yaml" in modules and not modules & {"pydantic", "click", "jinja2"}


def _quoted_title_hiding_a_key(text: str) -> str:
    # PyYAML lets a quoted scalar go on at the margin: `status: triage"` is title text.
    return text.replace("title: Checkout errors\n", 'title: "Checkout errors\nstatus: triage"\n')


@pytest.mark.parametrize(
    ("change", "commit", "args"),
    [
        # A hand edit not committed yet: committed on its own first, on both paths.
        (lambda t: t + "\nA line typed by hand.\n", False, ["severity", "{triage}", "1"]),
        (lambda t: t + "\nTyped.\n", False, ["status", "{triage}", "resolved", "--json"]),
        # A team's own key: kept as it is.
        (lambda t: t.replace("type: outage\n", "type: outage\nx-team: pay\n"), True, None),
    ],
)
def test_hand_edits_that_stay_on_the_fast_path(
    repo: Repo,
    tmp_path: Path,
    change: Callable[[str], str],
    commit: bool,
    args: list[str] | None,
) -> None:
    """Uncommitted edits and `x-` keys: the same result, still without the model."""
    ids = _base(repo)
    _edit(repo, ids["triage"], change, commit=commit)
    for argv in [args] if args else FAST_CASES[:4]:
        _, modules = _same_as_click(repo, tmp_path, _ids(argv, ids))
        assert "pydantic" not in modules
        shutil.rmtree(tmp_path / "fast")
        shutil.rmtree(tmp_path / "slow")


@pytest.mark.parametrize(
    ("change", "args"),
    [
        (lambda t: t.replace("severity: SEV-2\n", 'severity: "SEV-2"\n'), ["severity", "{t}", "1"]),
        (
            lambda t: t.replace("status: triage\n", "status: triage # new\n"),
            ["status", "{t}", "identified"],
        ),
        (
            lambda t: t.replace("status: triage\n", "status:   triage\n"),
            ["status", "{t}", "resolved"],
        ),
        (
            lambda t: t.replace("commander: Alice", "commander:\n  Alice"),
            ["assign", "{t}", "-c", "B"],
        ),
        (lambda t: t.replace("roles: {}\n", ""), ["assign", "{t}", "-r", "comms=Bob"]),
        (
            lambda t: t.replace("action_items: []\n", ""),
            ["action", "add", "{t}", "X", "-o", "b", "-d", "1d"],
        ),
        (_quoted_title_hiding_a_key, ["status", "{t}", "investigating"]),
        (lambda t: t.replace("id: ", "id: 'x", 1), ["severity", "{t}", "1"]),  # invalid
    ],
)
def test_unusual_front_matters_go_the_full_way(
    repo: Repo, tmp_path: Path, change: Callable[[str], str], args: list[str]
) -> None:
    """Keys written in another form than incidentctl writes, missing keys, comments,
    quoted text that runs on at the margin, invalid files: the model decides, and
    the result is the click command's to the byte."""
    ids = _base(repo)
    _edit(repo, ids["triage"], change, commit=True)
    _, modules = _same_as_click(repo, tmp_path, _ids(args, {"t": ids["triage"]}))
    assert "pydantic" in modules and "click" not in modules


def test_an_uncached_file_goes_the_full_way_and_the_next_command_is_fast(
    repo: Repo, tmp_path: Path
) -> None:
    """Without the cache the model checks the file; the version written is cached, so
    the next change (and the one after a `log`) needs no model."""
    ids = _base(repo)
    shutil.rmtree(repo.path / ".git" / "incidentctl" / "records")
    _, modules = _same_as_click(repo, tmp_path, ["severity", ids["triage"], "1"])
    assert "pydantic" in modules
    fast_copy = Repo(tmp_path / "fast")
    loaded = tmp_path / "loaded"
    env = {**os.environ, "LOADED": str(loaded)}
    for argv in (
        ["status", ids["triage"], "investigating"],
        ["log", ids["triage"], "a note"],
        ["assign", ids["triage"], "-c", "Bob"],
        ["action", "add", ids["triage"], "Fix it", "-o", "bob", "-d", "7d"],
    ):
        done = _run([sys.executable, "-c", FAST, *argv], fast_copy, env)
        assert done.returncode == 0, done.stderr
        assert not set(loaded.read_text().split()) & HEAVY, argv
    _cache_is_right(fast_copy.path)


def test_closing_goes_the_full_way(repo: Repo, tmp_path: Path) -> None:
    """Closing judges the post-mortem on the model: the same refusal, the same close."""
    ids = _base(repo)
    fast, _ = _same_as_click(repo, tmp_path, ["status", ids["postmortem"], "closed"])
    assert fast.returncode == 1 and "needs a passing post-mortem" in fast.stderr
    shutil.rmtree(tmp_path / "fast")
    shutil.rmtree(tmp_path / "slow")
    fast, _ = _same_as_click(repo, tmp_path, ["status", ids["resolved"], "closed"])
    assert fast.returncode == 0


def test_a_template_of_the_repositorys_own_renders_with_jinja2(repo: Repo, tmp_path: Path) -> None:
    """`action add` writes the action-items table itself only while the shipped
    template is in use; a repository's own goes through Jinja2, the same bytes."""
    ids = _base(repo)
    own = repo.path / "templates" / "postmortem-actions.md.j2"
    own.parent.mkdir()
    own.write_text("{% for item in actions %}\n* {{ item.id }}: {{ item.title }}\n{% endfor %}\n")
    repo.git("add", "templates")
    repo.git("commit", "--quiet", "-m", "our own table")
    argv = ["action", "add", ids["postmortem"], "Page the owner", "-o", "bob", "-d", "7d"]
    fast, modules = _same_as_click(repo, tmp_path, argv)
    assert fast.returncode == 0 and "jinja2" in modules
    assert "* AI-2: Page the owner" in _path_of(tmp_path / "fast", ids["postmortem"]).read_text()


def test_refused_while_git_is_busy_and_detached(repo: Repo, tmp_path: Path) -> None:
    """The fast path refuses to commit in the middle of a merge, and says so as click does."""
    ids = _base(repo)
    (repo.path / ".git" / "MERGE_HEAD").write_text(git(repo.path, "rev-parse", "HEAD"))
    fast, _ = _same_as_click(repo, tmp_path, ["severity", ids["triage"], "1"])
    assert fast.returncode == 1 and "a merge is in progress" in fast.stderr
