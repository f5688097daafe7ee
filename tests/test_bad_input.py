"""Bad input gets one clear line and exit 1 (2 for usage); hostile text is stored as a literal."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import Repo, console_script, run_env

from incidentctl.cli import cli

MARKER = Path("/tmp/incidentctl-pwned")
TOUCH_DOLLAR = f"$(touch {MARKER})"
TOUCH_BACKTICK = f"`touch {MARKER}`"
LONG = "x" * 10_000
INCIDENT_PATH = re.compile(r"^incidents/\d{4}/INC-\d{8}-[0-9a-z]{4}-[a-z0-9-]+\.md$")


# -- helpers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """The incident every case starts from (SEV-3, triage, committed)."""

    id: str
    path: str  # relative, POSIX
    file: Path

    @property
    def rand(self) -> str:
        return self.id.rsplit("-", 1)[1]


def tree(root: Path) -> dict[str, str]:
    """Every file of the work tree (not .git/) with a hash of its content."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel == ".git" or rel.startswith(".git/") or path.is_dir():
            continue
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def commit_all(repo: Repo, message: str) -> None:
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "--no-verify", "-m", message)


def fill(args: tuple[str, ...], incident: Incident) -> list[str]:
    """Put the incident's ID (or its random suffix) in place of {id} / {rand}."""
    table = {"{id}": incident.id, "{rand}": incident.rand}
    return [table.get(arg, arg) for arg in args]


def assert_one_error_line(stderr: str, code: int) -> str:
    """Exactly one `Error: ...` line; for usage errors (2) click's usage hint may precede it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    if code == 1:
        assert lines == errors, f"exit 1 must print one line only, got:\n{stderr}"
    else:
        others = [line for line in lines if line not in errors]
        assert all(line.startswith(("Usage: ", "Try ")) for line in others), stderr
    assert len(errors[0]) > len("Error: ") + 10, "the message says nothing useful"
    return errors[0]


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)


def line_of(file: Path, prefix: str) -> int:
    """1-based number of the first line starting with `prefix`."""
    for number, line in enumerate(file.read_bytes().split(b"\n"), 1):
        if line.startswith(prefix.encode()):
            return number
    raise AssertionError(f"{prefix!r} not in {file}")


@pytest.fixture(autouse=True)
def no_marker() -> Iterator[None]:
    """Nothing a test passes as text may run: the marker file must never appear."""
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), f"user text was executed: {MARKER} exists"


@pytest.fixture
def incident(repo: Repo) -> Incident:
    data = repo.open("API returning 500s")
    return Incident(data["id"], data["path"], repo.file(data["path"]))


# -- setups: bring the incident into a state, return the `path:line:` the error must name --

Setup = Callable[[Repo, Incident], "str | None"]


def closed(repo: Repo, incident: Incident) -> None:
    repo.ok("status", incident.id, "closed")


def identified(repo: Repo, incident: Incident) -> None:
    repo.ok("status", incident.id, "identified")


def hand_edit(old: str, new: str, at: str) -> Callable[[Repo, Incident], str]:
    """Replace text in the file by hand and commit it; the error must name line `at...`."""

    def setup(repo: Repo, incident: Incident) -> str:
        text = incident.file.read_text(encoding="utf-8")
        assert text.count(old) == 1, old
        incident.file.write_text(text.replace(old, new), encoding="utf-8")
        commit_all(repo, "hand edit")
        return f"{incident.path}:{line_of(incident.file, at)}:"

    return setup


bad_yaml = hand_edit("severity: SEV-3\n", "severity: SEV-3: high\n", at="severity:")
duplicate_status = hand_edit(
    "type: outage\n", "type: outage\nstatus: investigating\n", at="status: investigating"
)
duplicate_severity = hand_edit(
    "environment: production\n", "environment: production\nseverity: SEV-1\n", at="severity: SEV-1"
)
conflict = hand_edit(
    "## Summary\n",
    "<<<<<<< HEAD\n## Summary\n=======\n## Overview\n>>>>>>> theirs\n",
    at="<<<<<<<",
)


def not_utf8(repo: Repo, incident: Incident) -> str:
    data = incident.file.read_bytes()
    assert data.count(b"## Summary\n") == 1
    incident.file.write_bytes(data.replace(b"## Summary\n", b"## Summ\xe9ry (latin-1)\n"))
    commit_all(repo, "a latin-1 edit")
    return f"{incident.path}:{line_of(incident.file, '## Summ')}:"


def twin(repo: Repo, incident: Incident) -> None:
    """A second incident whose ID ends with the same random suffix."""
    other_id = f"INC-20000101-{incident.rand}"
    other = repo.file(f"incidents/2000/{other_id}-older-twin.md")
    other.parent.mkdir(parents=True)
    other.write_text(incident.file.read_text().replace(incident.id, other_id))
    commit_all(repo, "an older incident")


# -- the table of errors ------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]  # fragments of the error line (case-insensitive)
    setup: Setup | None = None


BAD: dict[str, Bad] = {
    "open-unknown-severity": Bad(("open", "X", "--severity", "SEV-9"), 1, ("severity", "SEV-9")),
    "severity-banana": Bad(("severity", "{id}", "banana"), 1, ("unknown severity", "banana")),
    "closed-to-investigating": Bad(
        ("status", "{id}", "investigating"), 1, ("closed",), setup=closed
    ),
    "same-status": Bad(("status", "{id}", "triage"), 1, ("already triage",)),
    "backwards-status": Bad(
        ("status", "{id}", "investigating"), 1, ("identified", "investigating"), setup=identified
    ),
    "unknown-status": Bad(("status", "{id}", "paused"), 1, ("unknown status", "paused")),
    "naive-timestamp": Bad(
        ("log", "{id}", "x", "--at", "2026-11-26T10:00:00"), 1, ("offset", "Z", "--at")
    ),
    "naive-timestamp-status": Bad(
        ("status", "{id}", "investigating", "--at", "2026-11-26T10:00:00"), 1, ("offset",)
    ),
    # Every time and duration option: out of range is one line, never an OverflowError.
    "log-at-999999999d": Bad(("log", "{id}", "x", "--at", "999999999d"), 1, ("--at", "100 years")),
    "log-at-huge-number": Bad(("log", "{id}", "x", "--at", "9" * 5000 + "m"), 1, ("--at",)),
    "log-at-year-1-ahead-of-utc": Bad(
        ("log", "{id}", "x", "--at", "0001-01-01T00:30:00+01:00"), 1, ("--at", "out of range")
    ),
    "log-at-hour-24": Bad(("log", "{id}", "x", "--at", "2026-11-26T24:00:00Z"), 1, ("hour",)),
    "log-at-february-30": Bad(("log", "{id}", "x", "--at", "2026-02-30T10:00:00Z"), 1, ("day",)),
    "status-at-999999999d": Bad(
        ("status", "{id}", "investigating", "--at", "999999999d"), 1, ("--at", "100 years")
    ),
    "open-at-999999999d": Bad(("open", "X", "--at", "999999999d"), 1, ("--at", "100 years")),
    "open-detected-at-year-9999-behind-utc": Bad(
        ("open", "X", "--detected-at", "9999-12-31T23:30:00-01:00"), 1, ("--detected-at", "range")
    ),
    "open-started-at-999999999h": Bad(
        ("open", "X", "--started-at", "999999999h"), 1, ("--started-at", "100 years")
    ),
    "action-due-999999999w": Bad(
        ("action", "add", "{id}", "T", "--owner", "bob", "--due", "999999999w"),
        1,
        ("--due", "100 years"),
    ),
    "action-due-february-30": Bad(
        ("action", "add", "{id}", "T", "--owner", "bob", "--due", "2026-02-30"), 2, ("--due",)
    ),
    "list-since-february-30": Bad(("list", "--since", "2026-02-30"), 1, ("--since",)),
    "invalid-yaml-log": Bad(("log", "{id}", "x"), 1, ("invalid YAML",), setup=bad_yaml),
    "invalid-yaml-show": Bad(("show", "{id}"), 1, ("invalid YAML",), setup=bad_yaml),
    "invalid-yaml-status": Bad(
        ("status", "{id}", "investigating"), 1, ("invalid YAML",), setup=bad_yaml
    ),
    "duplicate-key-log": Bad(
        ("log", "{id}", "x"), 1, ("duplicate key", "status"), setup=duplicate_status
    ),
    "duplicate-key-severity": Bad(
        ("severity", "{id}", "SEV-1"), 1, ("duplicate key", "severity"), setup=duplicate_severity
    ),
    "conflict-markers-log": Bad(("log", "{id}", "x"), 1, ("conflict",), setup=conflict),
    "conflict-markers-show": Bad(("show", "{id}"), 1, ("conflict",), setup=conflict),
    "not-utf8-file-log": Bad(("log", "{id}", "x"), 1, ("UTF-8",), setup=not_utf8),
    "not-utf8-file-show": Bad(("show", "{id}"), 1, ("UTF-8",), setup=not_utf8),
    "unknown-id": Bad(("show", "INC-19990101-zzzz"), 1, ("no incident", "INC-19990101-zzzz")),
    "unknown-suffix-log": Bad(("log", "no-such-id", "x"), 1, ("no incident", "no-such-id")),
    "id-with-slashes": Bad(("show", "../../etc/passwd"), 1, ("not an incident ID",)),
    "ambiguous-suffix": Bad(("show", "{rand}"), 1, ("2 incidents", "more of the ID"), setup=twin),
    "unknown-role": Bad(("assign", "{id}", "--role", "boss=Bob"), 1, ("unknown role", "boss")),
    "role-without-equals": Bad(("assign", "{id}", "--role", "comms"), 2, ("--role", "ROLE=NAME")),
    "title-too-long": Bad(("open", LONG), 1, ("title", "10000", "200")),
    "title-with-newline": Bad(("open", "first line\nsecond line"), 1, ("title", "single line")),
    "title-empty": Bad(("open", "   "), 1, ("title", "empty")),
    "title-nul": Bad(("open", "a\x00b"), 1, ("title", "control")),
    "title-line-separator": Bad(("open", "one\u2028two"), 1, ("title",)),
    "title-surrogates": Bad(("open", "bad \udcff\udcfe"), 1, ("title", "UTF-8")),
    "log-surrogates": Bad(("log", "{id}", "bad \udcff"), 1, ("UTF-8",)),
    "log-line-separator": Bad(("log", "{id}", "one\u2028two"), 1, ("entry",)),
    "log-next-line": Bad(("log", "{id}", "one\x85two"), 1, ("entry",)),
    "title-leading-dash-without-double-dash": Bad(("open", "-rf --force"), 2, ("option",)),
    "title-upload-pack-without-double-dash": Bad(
        ("open", "--upload-pack=x"), 2, ("--upload-pack",)
    ),
    "log-upload-pack-without-double-dash": Bad(
        ("log", "{id}", "--upload-pack=x"), 2, ("--upload-pack",)
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_clear_line_and_changes_nothing(
    repo: Repo, incident: Incident, name: str
) -> None:
    """Each bad input: exit 1 (2 for usage), one error line, no traceback, no commit, no file."""
    case = BAD[name]
    where = case.setup(repo, incident) if case.setup else None
    commits, files = repo.commits(), tree(repo.path)
    status = repo.git("status", "--porcelain", "--untracked-files=all")

    result = repo.run(*fill(case.args, incident))

    assert result.exit_code == case.code, (result.output, result.exception)
    assert_no_traceback(result)
    line = assert_one_error_line(result.stderr, case.code)
    for fragment in case.says:
        assert fragment.lower() in line.lower(), f"{fragment!r} not in {line!r}"
    if where is not None:
        assert where in line, f"the message should name {where!r}: {line!r}"
    assert result.stdout == ""
    assert repo.commits() == commits
    assert tree(repo.path) == files, "a file was created or changed"
    assert repo.git("status", "--porcelain", "--untracked-files=all") == status


# -- the table of hostile text that must be stored as a literal ---------------------------


TITLES = {
    "path-traversal": "../../etc/passwd",
    "jinja-expression": "{{ 7*7 }}",
    "jinja-raw-block": "{% raw %}x",
    "jinja-comment": "{# hidden #} shown",
    "shell-dollar": TOUCH_DOLLAR,
    "shell-backtick": TOUCH_BACKTICK,
    "leading-dash": "-rf --force",
    "git-option": "--upload-pack=x",
    "yaml-like": "key: value # not a comment",
    "markdown-like": "**bold** _(note)_ `code`",
    "at-200-chars": "t" * 200,
}

TEXTS = {
    "jinja-expression": "{{ 7*7 }}",
    "jinja-raw-block": "{% raw %}x",
    "shell-dollar": TOUCH_DOLLAR,
    "shell-backtick": TOUCH_BACKTICK,
    "leading-dash": "-rf --force",
    "git-option": "--upload-pack=x",
    "git-revision": "HEAD~1..@{upstream}",
    "10000-chars": LONG,
    "multi-line": "first\n  indented\n- not an entry",
}


def without_ids_and_times(text: str, ident: str) -> str:
    """The file minus what is random or clock-made (an ID or time may contain '49')."""
    text = text.replace(ident, "")
    return re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "", text)


def assert_only_incident_changed(repo: Repo, before: dict[str, str], commits: int) -> str:
    """One commit, holding one file under incidents/<year>/, and nothing else touched."""
    after = tree(repo.path)
    changed = sorted(p for p in after.keys() | before.keys() if after.get(p) != before.get(p))
    assert len(changed) == 1, changed
    rel = changed[0]
    assert INCIDENT_PATH.match(rel), rel
    assert (repo.path / rel).resolve().is_relative_to((repo.path / "incidents").resolve())
    assert repo.commits() == commits + 1
    assert repo.git("show", "--name-only", "--format=", "HEAD").split() == [rel]
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""
    return rel


@pytest.mark.parametrize("title", list(TITLES.values()), ids=list(TITLES))
def test_hostile_title_is_stored_verbatim(repo: Repo, title: str) -> None:
    """`open -- TITLE` keeps the title as a literal, in incidents/<year>/, running nothing."""
    before, commits = tree(repo.path), repo.commits()

    result = repo.run("open", "--", title)

    assert result.exit_code == 0, (result.output, result.exception)
    rel = assert_only_incident_changed(repo, before, commits)
    ident = "-".join(Path(rel).name.split("-")[:3])
    shown = repo.json("show", ident)
    assert shown["title"] == title
    text = repo.file(rel).read_text(encoding="utf-8")
    assert f"\n# {title}\n" in text
    assert "49" not in without_ids_and_times(text, ident)
    assert repo.json("list")[0]["title"] == title


@pytest.mark.parametrize("text", list(TEXTS.values()), ids=list(TEXTS))
def test_hostile_log_text_is_stored_verbatim(repo: Repo, incident: Incident, text: str) -> None:
    """`log ID -- TEXT` keeps the text as a literal timeline entry, running nothing."""
    before, commits = tree(repo.path), repo.commits()

    result = repo.run("log", incident.id, "--", text)

    assert result.exit_code == 0, (result.output, result.exception)
    assert assert_only_incident_changed(repo, before, commits) == incident.path
    entries = repo.json("timeline", incident.id)
    assert entries[-1]["text"] == text
    content = incident.file.read_text(encoding="utf-8")
    assert text.split("\n")[0] in content
    assert "49" not in without_ids_and_times(content, incident.id)
    subject = repo.git("log", "-1", "--format=%s")
    assert subject.startswith(f"incident({incident.id}): log note: ")


def test_multi_line_text_with_blank_lines_survives_later_entries(
    repo: Repo, incident: Incident
) -> None:
    """A text with blank lines keeps all its lines when later entries are appended after it."""
    text = "Findings:\n\n- cache miss storm\n\nNext: warm the cache"
    repo.ok("log", incident.id, text)
    repo.ok("log", incident.id, "later entry")
    repo.ok("log", incident.id, "another")
    texts = [e["text"] for e in repo.json("timeline", incident.id)]
    assert texts[-3:] == [text, "later entry", "another"]


def test_unclosed_fence_in_a_log_text_hides_no_section(repo: Repo, incident: Incident) -> None:
    """A pasted, unclosed ``` in a log text does not hide the sections that follow it."""
    from incidentctl.incident.file import IncidentFile

    repo.ok("log", incident.id, "pasted output:\n```\nTraceback (most recent call last):")
    file = IncidentFile.read(incident.file)
    assert file.section_range("Checklist (outage)") is not None


def test_title_and_text_with_options_are_never_options_to_git(repo: Repo) -> None:
    """A title like `--upload-pack=x` ends up in the commit subject, not in git's argv."""
    data = json.loads(repo.ok("open", "--json", "--", f"--upload-pack=touch {MARKER}").stdout)
    subject = repo.git("log", "-1", "--format=%s").strip()
    assert subject == f"incident({data['id']}): open SEV-3: --upload-pack=touch {MARKER}"


# -- outside a git repository ------------------------------------------------------------


def test_outside_a_git_repository_says_git_init_or_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No repository: one line that suggests `git init` or `--repo`, nothing created."""
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(plain)
    for args in (["open", "X"], ["list"], ["--repo", str(plain), "show", "abcd"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, (args, result.output, result.exception)
        assert_no_traceback(result)
        line = assert_one_error_line(result.stderr, 1)
        assert "git init" in line and "--repo" in line, line
    assert list(plain.iterdir()) == []


def test_repo_that_does_not_exist(tmp_path: Path) -> None:
    """--repo naming a missing folder is one line that names --repo."""
    result = CliRunner().invoke(cli, ["--repo", str(tmp_path / "missing"), "list"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert_no_traceback(result)
    assert "--repo" in assert_one_error_line(result.stderr, 1)
    assert not (tmp_path / "missing").exists()


# -- through the real console script -----------------------------------------------------


def run_script(
    args: list[str | bytes], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [console_script(), *args], cwd=cwd, capture_output=True, env=env or run_env(), check=False
    )


def assert_clean_failure(result: subprocess.CompletedProcess[bytes], code: int) -> str:
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == code, (stdout, stderr)
    assert "Traceback" not in stdout + stderr, stderr
    assert stdout == ""
    return assert_one_error_line(stderr, code)


SCRIPT_CASES = [
    "open-unknown-severity",
    "naive-timestamp",
    "invalid-yaml-log",
    "duplicate-key-log",
    "conflict-markers-show",
    "not-utf8-file-log",
    "unknown-id",
    "ambiguous-suffix",
    "title-too-long",
    "role-without-equals",
    "title-leading-dash-without-double-dash",
]


@pytest.mark.parametrize("name", SCRIPT_CASES)
def test_console_script_prints_one_line_without_traceback(
    repo: Repo, incident: Incident, name: str
) -> None:
    """The installed `incidentctl` (not CliRunner): same exit code, one line on stderr."""
    case = BAD[name]
    where = case.setup(repo, incident) if case.setup else None
    commits, files = repo.commits(), tree(repo.path)

    result = run_script(["--repo", str(repo.path), *fill(case.args, incident)], repo.path)

    line = assert_clean_failure(result, case.code)
    for fragment in case.says:
        assert fragment.lower() in line.lower(), f"{fragment!r} not in {line!r}"
    if where is not None:
        assert where in line
    assert repo.commits() == commits
    assert tree(repo.path) == files


@pytest.mark.parametrize(
    "args",
    [
        [b"open", b"\xff\xfe"],
        [b"open", b"API \xff\xfe down", b"--severity", b"SEV-2"],
        [b"open", b"X", b"--severity", b"\xff"],
        [b"log", b"{id}", b"\xff\xfe"],
        [b"status", b"{id}", b"resolved", b"-m", b"\xc3\x28"],
        [b"show", b"\xff"],
    ],
    ids=["title", "title-middle", "severity", "log-text", "status-message", "id"],
)
def test_non_utf8_argv_is_one_clear_line(repo: Repo, incident: Incident, args: list[bytes]) -> None:
    """Raw non-UTF-8 bytes in argv (surrogate-escaped by Python): exit 1, one line, no commit."""
    argv: list[str | bytes] = [incident.id.encode() if a == b"{id}" else a for a in args]
    commits, files = repo.commits(), tree(repo.path)

    result = run_script(["--repo", str(repo.path), *argv], repo.path)

    assert_clean_failure(result, 1)
    assert repo.commits() == commits
    assert tree(repo.path) == files


def test_console_script_outside_a_git_repository(tmp_path: Path) -> None:
    """The installed script in a plain folder: one line naming `git init` and `--repo`."""
    plain = tmp_path / "plain"
    plain.mkdir()
    env = {**run_env(), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    line = assert_clean_failure(run_script(["open", "X"], plain, env), 1)
    assert "git init" in line and "--repo" in line
    assert list(plain.iterdir()) == []


def test_console_script_stores_hostile_title_literally(repo: Repo) -> None:
    """Through a real process too, `$(...)` in a title is text: stored, never run."""
    result = run_script(["open", "--json", "--", TOUCH_DOLLAR], repo.path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert repo.json("show", data["id"])["title"] == TOUCH_DOLLAR
