"""An incident's whole life through the CLI, against real git: commits, rules, errors."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import Repo

from incidentctl.cli import cli
from incidentctl.incident.timeutil import format_ts, utcnow
from incidentctl.repo.incidents import IncidentRepo

ALICE = "Alice Responder <alice@example.com>"


# -- helpers ---------------------------------------------------------------------------


def fails(result: Result, *fragments: str) -> str:
    """Assert a clean user error: exit 1, one message on stderr, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    return result.stderr


def head_files(repo: Repo) -> list[str]:
    return repo.git("show", "--name-only", "--format=", "HEAD").split()


def head_trailer(repo: Repo) -> str:
    return repo.git("log", "-1", "--format=%(trailers:key=Incident,valueonly)").strip()


def front_matter(repo: Repo, rel: str) -> dict[str, Any]:
    text = repo.file(rel).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text.split("---\n")[1])
    return data


def core(repo: Repo) -> IncidentRepo:
    """The facade on the same repository (for setting the clock, never to fake git)."""
    return IncidentRepo.open(repo.path)


def opened_earlier(repo: Repo, hours: int, title: str = "Old incident", **kwargs: Any) -> str:
    """Open an incident `hours` ago through the core (the CLI always opens 'now')."""
    change = core(repo).new(title, now=utcnow() - timedelta(hours=hours), **kwargs)
    return change.id


def handmade(repo: Repo, ident: str, title: str = "Hand-made", status: str = "triage") -> str:
    """Write and commit an incident file by hand; returns its path."""
    rel = f"incidents/2026/{ident}-hand-made.md"
    path = repo.file(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\nid: {ident}\ntitle: {title}\nstatus: {status}\nseverity: SEV-3\n"
        "opened_at: 2026-01-01T10:00:00Z\n---\n\n## Timeline\n\n"
        "- `2026-01-01T10:00:00Z` **Bob** _(opened)_ Opened by hand.\n",
        encoding="utf-8",
    )
    repo.git("add", rel)
    repo.git("commit", "--quiet", "-m", f"add {ident} by hand")
    return rel


def invoke_here(*args: str) -> Result:
    """Run the CLI without --repo, from the current working directory."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


# -- the lifecycle ---------------------------------------------------------------------


STEPS = [
    (("log", "{id}", "Error rate at 40% on /checkout", "--kind", "action"), "log action: "),
    (("severity", "{id}", "P0", "-m", "all EU customers"), "severity SEV-3 -> SEV-1"),
    (("assign", "{id}", "--commander", "Carol", "--role", "comms=Dan"), "assign "),
    (("status", "{id}", "investigating"), "status triage -> investigating"),
    (
        ("status", "{id}", "identified", "-m", "bad deploy 1234"),
        "status investigating -> identified",
    ),
    (("status", "{id}", "monitoring"), "status identified -> monitoring"),
    (("status", "{id}", "resolved", "-m", "back to baseline"), "status monitoring -> resolved"),
]


def test_full_lifecycle_one_commit_per_change(repo: Repo) -> None:
    """open -> log -> severity -> assign -> four statuses: one commit each, one file each."""
    before = repo.commits()
    opened = repo.open("Checkout failing")
    ident, rel = opened["id"], opened["path"]
    assert opened["commit"] == repo.git("rev-parse", "HEAD").strip()
    subjects = [repo.git("log", "-1", "--format=%s")]
    for args, subject in STEPS:
        count = repo.commits()
        repo.ok(*(a.format(id=ident) for a in args))
        assert repo.commits() == count + 1
        assert head_files(repo) == [rel]
        assert repo.git("log", "-1", "--format=%an <%ae>").strip() == ALICE
        assert repo.git("log", "-1", "--format=%cn <%ce>").strip() == ALICE
        assert head_trailer(repo) == ident
        last = repo.git("log", "-1", "--format=%s").strip()
        assert last.startswith(f"incident({ident}): {subject}"), last
        subjects.append(last)
    assert repo.commits() == before + 1 + len(STEPS)
    assert all(s.startswith(f"incident({ident}): ") for s in subjects)
    assert repo.git("status", "--porcelain") == ""

    data = front_matter(repo, rel)
    assert data["status"] == "resolved" and data["severity"] == "SEV-1"
    assert data["commander"] == "Carol" and data["roles"] == {"comms": "Dan"}
    stamps = [data[k] for k in ("opened_at", "acknowledged_at", "mitigated_at", "resolved_at")]
    assert all(isinstance(s, datetime) and s.tzinfo is not None for s in stamps), stamps
    assert stamps == sorted(stamps)
    assert data["closed_at"] is None

    shown = repo.json("show", ident)
    assert set(data) <= set(shown), set(data) - set(shown)
    assert shown["resolved_at"] == format_ts(data["resolved_at"])
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds == ["opened", "action", "severity", "role", *["status"] * 4]
    assert all(set(e) == {"at", "author", "kind", "text"} for e in shown["timeline"])
    assert {e["author"] for e in shown["timeline"]} == {"Alice Responder"}
    assert shown["timeline"][-1]["text"] == "Status monitoring → resolved: back to baseline"
    assert shown["timeline"] == repo.json("timeline", ident)


def test_user_staged_changes_survive_every_command(repo: Repo) -> None:
    """A staged edit and a staged new file stay staged, uncommitted, through every command."""
    repo.file("README.md").write_text("# ops\n\nWork in progress.\n")
    repo.file("notes.txt").write_text("draft\n")
    repo.git("add", "README.md", "notes.txt")
    staged_diff = repo.git("diff", "--cached")

    opened = repo.open("Checkout failing")
    ident, rel = opened["id"], opened["path"]
    commands = [["log", ident, "a note"]] + [[a.format(id=ident) for a in s] for s, _ in STEPS]
    for args in [[], *commands]:
        if args:
            repo.ok(*args)
        assert head_files(repo) == [rel]
        assert repo.git("diff", "--cached", "--name-only").split() == ["README.md", "notes.txt"]
        assert repo.git("diff", "--cached") == staged_diff
    touched = repo.git("log", "--format=", "--name-only", "HEAD~9..HEAD").split()
    assert set(touched) == {rel}
    assert repo.git("status", "--porcelain", "--", rel) == ""


def test_no_commit_writes_the_file_only(repo: Repo) -> None:
    """--no-commit writes the change to disk but makes no commit."""
    opened = repo.open("Checkout failing", "--no-commit")
    assert opened["commit"] is None
    assert repo.commits() == 1
    assert repo.file(opened["path"]).is_file()
    assert repo.git("status", "--porcelain", "--untracked-files=all").split() == [
        "??",
        opened["path"],
    ]
    repo.git("add", opened["path"])
    repo.git("commit", "--quiet", "-m", "by hand")
    before = repo.file(opened["path"]).read_text()
    for args in (["log", opened["id"], "quiet note"], ["status", opened["id"], "investigating"]):
        result = repo.ok(*args, "--no-commit")
        assert "not committed" in result.stdout
    assert repo.commits() == 2
    after = repo.file(opened["path"]).read_text()
    assert after != before and "quiet note" in after and "status: investigating" in after


def test_first_commit_after_no_commit_takes_the_new_file(repo: Repo) -> None:
    """An incident opened with --no-commit is committed, as found and saying so, by its
    next committed change, whose own commit follows."""
    opened = repo.open("Checkout failing", "--no-commit")
    assert repo.json("history", opened["id"]) == []
    repo.ok("log", opened["id"], "now it counts")
    assert head_files(repo) == [opened["path"]]
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""
    assert repo.git("show", "HEAD:" + opened["path"]) == repo.file(opened["path"]).read_text()
    own, found = (c["subject"] for c in repo.json("history", opened["id"]))
    assert own == f"incident({opened['id']}): log note: now it counts"
    assert found.startswith(f"incident({opened['id']}): uncommitted file found before log (new")


# -- status rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "move"),
    [
        (["resolved"], "status triage -> resolved"),
        (["investigating", "monitoring"], "status investigating -> monitoring"),
        (["resolved", "investigating"], "reopen resolved -> investigating"),
        (["resolved", "monitoring"], "reopen resolved -> monitoring"),
        (["cancelled"], "status triage -> cancelled"),
        (["resolved", "closed"], "status resolved -> closed"),
    ],
)
def test_allowed_status_moves(repo: Repo, path: list[str], move: str) -> None:
    """Forward skips, reopening a resolved incident, cancel and close are allowed."""
    ident = repo.open("Checkout failing")["id"]
    for status in path:
        repo.ok("status", ident, status)
    assert repo.git("log", "-1", "--format=%s").strip() == f"incident({ident}): {move}"
    shown = repo.json("show", ident)
    assert shown["status"] == path[-1]
    if path[-1] == "resolved":
        assert shown["resolved_at"] is not None and shown["acknowledged_at"] is not None
        assert shown["mitigated_at"] is not None
    if "reopen" in move:
        assert shown["resolved_at"] is None


@pytest.mark.parametrize(
    ("path", "target", "message"),
    [
        ([], "triage", "already triage"),
        (["identified"], "triage", "cannot move from identified back to triage"),
        (["monitoring"], "investigating", "cannot move from monitoring back to investigating"),
        (["resolved", "closed"], "investigating", "closed incident does not change status"),
        (["cancelled"], "investigating", "cancelled incident does not change status"),
        (["resolved"], "cancelled", "cannot be cancelled"),
        ([], "fixed", "unknown status 'fixed'"),
    ],
)
def test_refused_status_moves(repo: Repo, path: list[str], target: str, message: str) -> None:
    """Same status, backwards moves and anything after closed/cancelled exit 1, change nothing."""
    opened = repo.open("Checkout failing")
    for status in path:
        repo.ok("status", opened["id"], status)
    before, text = repo.commits(), repo.file(opened["path"]).read_bytes()
    fails(repo.run("status", opened["id"], target), message)
    assert repo.commits() == before
    assert repo.file(opened["path"]).read_bytes() == text


def test_close_needs_postmortem_for_sev2(repo: Repo) -> None:
    """Closing a SEV-2 with no written post-mortem is refused, pointing at `incidentctl check`."""
    ident = repo.open("Checkout failing", "--severity", "high")["id"]
    repo.ok("status", ident, "resolved")
    fails(repo.run("status", ident, "closed"), "SEV-2", "post-mortem", "incidentctl check")
    assert repo.json("show", ident)["status"] == "resolved"


# -- backdating --------------------------------------------------------------------------


def test_at_backdating_inserts_in_time_order(repo: Repo) -> None:
    """`log --at` puts the entry where its time belongs, not at the end."""
    ident = opened_earlier(repo, 3)
    now = utcnow()
    one_hour, two_hours = now - timedelta(hours=1), now - timedelta(hours=2)
    repo.ok("log", ident, "later", "--at", format_ts(one_hour))
    repo.ok(
        "log",
        ident,
        "earlier",
        "--at",
        two_hours.astimezone(timezone(timedelta(hours=2))).isoformat(),
    )
    repo.ok("log", ident, "just now")
    repo.ok("log", ident, "ninety minutes ago", "--at", "90m")
    entries = repo.json("timeline", ident)
    texts = [e["text"] for e in entries]
    assert texts == [
        "Incident opened: SEV-3 outage in production. Commander: Alice Responder.",
        "earlier",
        "ninety minutes ago",
        "later",
        "just now",
    ]
    assert entries[1]["at"] == format_ts(two_hours)  # the +02:00 input is stored in UTC
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("2026-11-26T10:00:00", "has no UTC offset"),
        ("2026-11-26 10:00", "add 'Z' for UTC"),
        ("2099-01-01T00:00:00Z", "is in the future"),
        ("yesterday-ish", "is not a time"),
        ("2000-01-01T00:00:00Z", "before the incident opened"),
    ],
)
@pytest.mark.parametrize("command", [["log", "{id}", "note"], ["status", "{id}", "investigating"]])
def test_at_refused(repo: Repo, command: list[str], at: str, message: str) -> None:
    """`--at` without offset, in the future, unparseable or before opening is refused."""
    if "before the incident" in message and command[0] == "status":
        message = "--at 2000-01-01T00:00:00Z"
    ident = opened_earlier(repo, 3)
    before = repo.commits()
    fails(repo.run(*(a.format(id=ident) for a in command), "--at", at), message)
    assert repo.commits() == before


# -- finding incidents by ID ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "found"),
    [
        ("INC-20260101-aa12", "INC-20260101-aa12"),
        ("inc-20260101-AA12", "INC-20260101-aa12"),
        ("a12", "INC-20260101-aa12"),
        ("b12", "INC-20260101-bb12"),
        ("bb12", "INC-20260101-bb12"),
    ],
)
def test_id_suffix_resolution(repo: Repo, ref: str, found: str) -> None:
    """A full ID (any case) or a unique suffix finds the incident, for reads and changes."""
    handmade(repo, "INC-20260101-aa12")
    handmade(repo, "INC-20260101-bb12")
    assert repo.json("show", ref)["id"] == found
    repo.ok("log", ref, "found it")
    assert head_trailer(repo) == found


@pytest.mark.parametrize(
    ("ref", "fragments"),
    [
        (
            "12",
            [
                "'12' matches 2 incidents",
                "INC-20260101-aa12",
                "INC-20260101-bb12",
                "give more of the ID",
            ],
        ),
        ("zz99", ["no incident matches 'zz99'", "incidentctl list"]),
        ("--all", ["no incident matches '--all'"]),
        ("../etc", ["not an incident ID"]),
    ],
)
@pytest.mark.parametrize("command", [["show"], ["log", "{ref}", "text"], ["history"]])
def test_id_resolution_errors(
    repo: Repo, command: list[str], ref: str, fragments: list[str]
) -> None:
    """Ambiguous, unknown and malformed IDs are clear errors with exit 1."""
    handmade(repo, "INC-20260101-aa12")
    handmade(repo, "INC-20260101-bb12")
    before = repo.commits()
    args = [a.format(ref=ref) for a in command] if len(command) > 1 else [*command, ref]
    fails(repo.run(args[0], "--", *args[1:]), *fragments)
    assert repo.commits() == before


# -- list, history, timeline ------------------------------------------------------------------


@pytest.fixture
def several(repo: Repo) -> dict[str, str]:
    """Four incidents: two active, one resolved, one opened 400 days ago (title -> ID)."""
    ids = {
        "critical": repo.open("Critical one", "--severity", "critical")["id"],
        "high": repo.open("High one", "--severity", "P1")["id"],
        "resolved": repo.open("Resolved one", "--severity", "sev3")["id"],
        "old": core(repo).new("Old one", severity="4", now=utcnow() - timedelta(days=400)).id,
    }
    repo.ok("status", ids["resolved"], "resolved")
    return ids


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"critical", "high", "resolved", "old"}),
        (["--status", "active"], {"critical", "high", "old"}),
        (["--status", "resolved"], {"resolved"}),
        (["--status", "Resolved", "--status", "triage"], {"critical", "high", "resolved", "old"}),
        (["--severity", "P1"], {"high"}),
        (["--severity", "high"], {"high"}),
        (["--severity", "SEV-2"], {"high"}),
        (["--severity", "critical", "--severity", "4"], {"critical", "old"}),
        (["--since", "{recent}"], {"critical", "high", "resolved"}),
        (["--since", "{recent}", "--status", "active", "--severity", "P0"], {"critical"}),
        (["--status", "closed"], set()),
    ],
)
def test_list_filters(
    repo: Repo, several: dict[str, str], args: list[str], expected: set[str]
) -> None:
    """--status (and 'active'), --severity with aliases and --since filter `list --json`."""
    recent = (utcnow() - timedelta(days=30)).date().isoformat()
    rows = repo.json("list", *(a.format(recent=recent) for a in args))
    assert {r["id"] for r in rows} == {several[name] for name in expected}


def test_list_json_shape_and_order(repo: Repo, several: dict[str, str]) -> None:
    """`list --json` rows carry the SPEC keys, newest first, resolved_at only when resolved."""
    rows = repo.json("list")
    assert all(
        set(r) >= {"id", "title", "status", "severity", "opened_at", "resolved_at", "path"}
        for r in rows
    )
    by_id = {r["id"]: r for r in rows}
    resolved = by_id[several["resolved"]]
    assert resolved["status"] == "resolved" and resolved["resolved_at"].endswith("Z")
    assert by_id[several["high"]]["resolved_at"] is None
    assert by_id[several["high"]]["severity"] == "SEV-2"
    assert rows[-1]["id"] == several["old"]
    assert [r["opened_at"] for r in rows] == sorted((r["opened_at"] for r in rows), reverse=True)
    for row in rows:
        assert repo.file(row["path"]).is_file()
        assert row["path"].startswith("incidents/") and row["path"].endswith(".md")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "done"], "unknown status 'done'"),
        (["--severity", "SEV-9"], "unknown severity 'SEV-9'"),
        (["--since", "26/11/2026"], "use YYYY-MM-DD"),
    ],
)
def test_list_bad_filters(repo: Repo, args: list[str], message: str) -> None:
    """A bad filter value is a clear error, exit 1."""
    fails(repo.run("list", *args), message)


def test_history_json_newest_first_with_authors(repo: Repo) -> None:
    """`history --json` lists the incident's commits, newest first, with who made each."""
    opened = repo.open("Checkout failing")
    ident = opened["id"]
    repo.ok("log", ident, "by alice")
    bob = {
        "GIT_AUTHOR_NAME": "Bob Oncall",
        "GIT_AUTHOR_EMAIL": "bob@example.com",
        "GIT_COMMITTER_NAME": "Bob Oncall",
        "GIT_COMMITTER_EMAIL": "bob@example.com",
    }
    result = repo.run("status", ident, "investigating", env=bob)
    assert result.exit_code == 0, result.output
    repo.file("README.md").write_text("# ops\nunrelated\n")
    repo.git("commit", "--quiet", "-am", "unrelated")
    commits = repo.json("history", ident)
    assert [c["author"] for c in commits] == ["Bob Oncall", "Alice Responder", "Alice Responder"]
    assert commits[0]["email"] == "bob@example.com"
    shas = repo.git("log", "--format=%H", "--", opened["path"])
    assert [c["commit"] for c in commits] == shas.split()
    assert commits[0]["subject"] == f"incident({ident}): status triage -> investigating"
    assert commits[-1]["subject"].startswith(f"incident({ident}): open SEV-3: ")
    assert all(c["at"].endswith("Z") for c in commits)
    assert repo.json("timeline", ident)[-1]["author"] == "Bob Oncall"


def test_history_follows_a_renamed_file(repo: Repo) -> None:
    """`history` keeps the commits from before the file was renamed (a new slug)."""
    opened = repo.open("Checkout failing")
    repo.ok("log", opened["id"], "before the rename")
    renamed = opened["path"].replace("checkout-failing", "payments-down")
    repo.git("mv", opened["path"], renamed)
    repo.git("commit", "--quiet", "-m", "rename")
    repo.ok("log", opened["id"], "after the rename")
    assert head_files(repo) == [renamed]
    commits = repo.json("history", opened["id"])
    assert [c["subject"].split(": ", 1)[-1] for c in commits] == [
        "log note: after the rename",
        "rename",
        "log note: before the rename",
        "open SEV-3: Checkout failing",
    ]
    text = repo.ok("history", opened["id"]).stdout
    assert text.count("Alice Responder") == 4


def _subjects(repo: Repo, ident: str) -> list[str]:
    return [c["subject"].split(": ", 1)[-1] for c in repo.json("history", ident)]


@pytest.mark.parametrize("edit_the_original", [False, True])
def test_history_of_a_copied_incident_is_its_own(repo: Repo, edit_the_original: bool) -> None:
    """An incident made by copying a similar one's text lists only its own commits, and
    the original none of the copy's (also when the copy's commit edits the original)."""
    first = repo.open("Checkout failing")
    repo.ok("log", first["id"], "first incident's note")
    original = repo.file(first["path"]).read_text(encoding="utf-8")
    second = repo.open("Checkout failing again")
    path = repo.file(second["path"])
    path.write_text(original.replace(first["id"], second["id"]), encoding="utf-8")
    if edit_the_original:
        repo.file(first["path"]).write_text(original + "\nSee also the copy.\n", encoding="utf-8")
    repo.git("commit", "--quiet", "-am", "copied from the first")
    repo.ok("log", second["id"], "second incident's note")
    assert _subjects(repo, second["id"]) == [
        "log note: second incident's note",
        "copied from the first",
        "open SEV-3: Checkout failing again",
    ]
    assert _subjects(repo, first["id"]) == [
        *(["copied from the first"] if edit_the_original else []),
        "log note: first incident's note",
        "open SEV-3: Checkout failing",
    ]


def test_history_follows_every_rename_of_the_file(repo: Repo) -> None:
    """A rename that also edits the file, then a move to another folder, are both
    followed; a copy of the file made on the way is not mistaken for it."""
    opened = repo.open("Checkout failing")
    ident = opened["id"]
    repo.ok("log", ident, "first note")
    renamed = opened["path"].replace("checkout-failing", "payments-down")
    repo.git("mv", opened["path"], renamed)
    text = repo.file(renamed).read_text(encoding="utf-8")
    repo.file(renamed).write_text(text.replace("Checkout failing", "Payments down"))
    repo.git("commit", "--quiet", "-am", "retitle and rename")
    repo.ok("log", ident, "second note")
    moved = "incidents/archive/" + renamed.rsplit("/", 1)[1]
    repo.file(moved).parent.mkdir(parents=True)
    repo.git("mv", renamed, moved)
    repo.git("commit", "--quiet", "-m", "archive")
    copy = repo.file("incidents/archive/copy.md")
    copy.write_text(repo.file(moved).read_text(encoding="utf-8"), encoding="utf-8")
    repo.git("add", "incidents/archive/copy.md")
    repo.git("commit", "--quiet", "-m", "a copy")
    repo.ok("log", ident, "third note")
    assert _subjects(repo, ident) == [
        "log note: third note",
        "archive",
        "log note: second note",
        "retitle and rename",
        "log note: first note",
        "open SEV-3: Checkout failing",
    ]


def test_timeline_json(repo: Repo) -> None:
    """`timeline --json` is a list of {at, author, kind, text}, oldest first."""
    ident = opened_earlier(repo, 2)
    repo.ok("log", ident, "Paged the DB team", "--kind", "comms")
    repo.ok("log", ident, "Decided to fail over", "--kind", "decision", "--at", "1h")
    entries = repo.json("timeline", ident)
    assert [(e["kind"], e["text"]) for e in entries][1:] == [
        ("decision", "Decided to fail over"),
        ("comms", "Paged the DB team"),
    ]
    assert all(set(e) == {"at", "author", "kind", "text"} for e in entries)
    assert all(e["author"] == "Alice Responder" for e in entries)
    text = repo.ok("timeline", ident).stdout
    assert text.index("Decided to fail over") < text.index("Paged the DB team")


# -- where the repository is -------------------------------------------------------------------


def test_commands_work_from_a_subfolder(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --repo, the git repository around the working directory is used."""
    sub = repo.path / "docs" / "runbooks"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    result = invoke_here("open", "From a subfolder", "--json")
    assert result.exit_code == 0, result.output
    opened = json.loads(result.stdout)
    assert opened["path"].startswith("incidents/")
    assert repo.file(opened["path"]).is_file()
    assert not (sub / "incidents").exists()
    assert invoke_here("log", opened["id"][-4:], "still here").exit_code == 0
    rows = json.loads(invoke_here("list", "--json").stdout)
    assert [r["id"] for r in rows] == [opened["id"]]
    assert head_files(repo) == [opened["path"]]


@pytest.mark.parametrize("args", [["list"], ["open", "Anything"], ["show", "abcd"]])
def test_outside_a_git_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """Outside any git repository a command fails, saying to run `git init` or pass --repo."""
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(plain)
    fails(invoke_here(*args), "git init", "--repo")
    fails(invoke_here("--repo", str(plain), *args), "git init", "--repo")
    assert list(plain.iterdir()) == []


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "fragments"),
    [
        ('colour = "red"\n', ["unknown key `colour`"]),
        ('default_severity = "SEV-9"\n', ["`default_severity`", "SEV-1..SEV-4"]),
        ('id_format = "INC-{date}"\n', ["`id_format`", "{rand}"]),
        ('id_format = "INC-{date}-{rand}-{user}"\n', ["`id_format`", "{user}"]),
        ('default_type = "meltdown"\n', ["`default_type`", "meltdown"]),
        ('roles = ["Tech Lead"]\n', ["`roles`", "Tech Lead"]),
        ('[oncall]\nrotation = ["bob"]\nshift = "fortnight"\n', ["`oncall.shift`"]),
        ('[oncall]\nrotation = ["bob"]\npager = "x"\n', ["unknown key `oncall.pager`"]),
        ('[severities.SEV-1]\nupdate_every = "30m"\nsla = 1\n', ["`severities.SEV-1.sla`"]),
        ("default_severity = \n", ["incidentctl.toml is not valid TOML"]),
    ],
)
@pytest.mark.parametrize("command", [["list"], ["open", "Anything"]])
def test_bad_config_is_refused_by_key(
    repo: Repo, toml: str, fragments: list[str], command: list[str]
) -> None:
    """A bad incidentctl.toml exits 1 with a message naming the offending key."""
    repo.file("incidentctl.toml").write_text(toml)
    fails(repo.run(*command), "incidentctl.toml", *fragments)
    assert not repo.file("incidents").exists()


def test_config_defaults_and_id_format(repo: Repo) -> None:
    """Configured default severity, type and id_format shape what `open` creates."""
    repo.file("incidentctl.toml").write_text(
        'default_severity = "P1"\ndefault_type = "security"\nid_format = "SEC-{rand}-{date}"\n'
    )
    opened = repo.open("Leaked token")
    assert opened["severity"] == "SEV-2"
    assert opened["id"].startswith("SEC-") and opened["id"].endswith(utcnow().strftime("%Y%m%d"))
    shown = repo.json("show", opened["id"][-8:].lower())
    assert shown["type"] == "security"
    assert head_trailer(repo) == opened["id"]


def test_oncall_rotation_picks_the_commander(repo: Repo) -> None:
    """Without --commander, the on-call of the current shift commands; --commander wins."""
    start = utcnow() - timedelta(days=10)  # 1.4 weekly shifts ago: the second person is on
    repo.file("incidentctl.toml").write_text(
        f'[oncall]\nrotation = ["Bob", "Carol", "Dan"]\nstart = {format_ts(start)}\nshift = "1w"\n'
    )
    opened = repo.open("Checkout failing")
    assert opened["commander"] == "Carol"
    assert repo.json("show", opened["id"])["commander"] == "Carol"
    explicit = repo.open("Search slow", "--commander", "Erin")
    assert explicit["commander"] == "Erin"


def test_no_rotation_means_you_command(repo: Repo) -> None:
    """With no on-call rotation configured, the person opening the incident commands it."""
    assert repo.open("Checkout failing")["commander"] == "Alice Responder"


def test_custom_roles(repo: Repo) -> None:
    """Roles listed in incidentctl.toml can be assigned; others are refused by name."""
    repo.file("incidentctl.toml").write_text('roles = ["commander", "tech_lead", "comms"]\n')
    opened = repo.open("Checkout failing")
    repo.ok("assign", opened["id"], "--role", "tech_lead=Dana", "--role", "Comms=Eve")
    assert front_matter(repo, opened["path"])["roles"] == {"tech_lead": "Dana", "comms": "Eve"}
    before = repo.commits()
    fails(
        repo.run("assign", opened["id"], "--role", "scribe=Frank"),
        "unknown role 'scribe'",
        "tech_lead",
    )
    fails(repo.run("assign", opened["id"], "--role", "tech_lead=Dana"), "already assigned")
    assert repo.commits() == before


# -- hooks ---------------------------------------------------------------------------------------


def write_hook(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_failing_hook_restores_the_file(repo: Repo) -> None:
    """A pre-commit hook that fails: exit 1, the file is as before, no commit, index as before."""
    opened = repo.open("Checkout failing")
    path = repo.file(opened["path"])
    repo.file("notes.txt").write_text("draft\n")
    repo.git("add", "notes.txt")
    write_hook(repo.path / ".git" / "hooks" / "pre-commit", "echo 'policy says no' >&2\nexit 1\n")
    before, text = repo.commits(), path.read_bytes()
    for args in (
        ["log", opened["id"], "blocked"],
        ["status", opened["id"], "resolved"],
        ["severity", opened["id"], "1"],
        ["assign", opened["id"], "-c", "Bob"],
    ):
        fails(repo.run(*args), "git commit failed", "policy says no")
        assert path.read_bytes() == text
        assert repo.commits() == before
        assert repo.git("status", "--porcelain", "--", opened["path"]) == ""
        assert repo.git("diff", "--cached", "--name-only").split() == ["notes.txt"]


def test_failing_hook_on_open_leaves_nothing(repo: Repo) -> None:
    """When the hook refuses `open`, no incident file or index entry is left behind."""
    write_hook(repo.path / ".git" / "hooks" / "pre-commit", "exit 1\n")
    fails(repo.run("open", "Checkout failing"), "git commit failed")
    assert repo.commits() == 1
    assert list(repo.path.glob("incidents/*/*.md")) == []
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""


def test_core_hooks_path_hooks_run(repo: Repo, tmp_path: Path) -> None:
    """Hooks from core.hooksPath run on incidentctl's commits and see its message."""
    hooks = tmp_path / "shared-hooks"
    marker = tmp_path / "marker"
    write_hook(hooks / "pre-commit", f'echo pre-commit >> "{marker}"\n')
    write_hook(hooks / "commit-msg", f'cat "$1" >> "{marker}"\n')
    repo.git("config", "core.hooksPath", str(hooks))
    opened = repo.open("Checkout failing")
    repo.ok("log", opened["id"], "hooked")
    lines = marker.read_text().splitlines()
    assert lines.count("pre-commit") == 2
    assert lines.count(f"Incident: {opened['id']}") == 2
    assert f"incident({opened['id']}): log note: hooked" in lines
