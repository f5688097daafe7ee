"""Hostile text from files and commits never reaches a terminal raw; input refuses it."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from conftest import Repo, console_script, run_env
from github_standin import GitHubStandIn

from incidentctl.safetext import json_safe, safe

# The attacks, as the bytes a terminal would act on.
OSC_52 = "\x1b]52;c;cHduZWQ=\x07"  # writes the clipboard
OSC_TITLE = "\x1b]0;pwned\x07"  # sets the window title
OSC_8 = "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\"  # a hidden link
CLEAR = "\x1b[2J\x1b[H"  # clears the screen
HIDDEN = "\x1b[8mhidden\x1b[0m"  # invisible text
RLO = "\u202egnp.exe"  # shows as exe.png
CSI_C1 = "\x9b2J"  # the one-character CSI of C1

HOSTILE_TITLE = f"Title {OSC_52} {OSC_TITLE} {CLEAR} {RLO} {CSI_C1}"
HOSTILE_AUTHOR = f"Mallory {HIDDEN} {RLO}"
HOSTILE_TEXT = f"entry {OSC_52} {OSC_8} {CLEAR} {RLO} {CSI_C1} {HIDDEN}"
HOSTILE_SUBJECT = f"subject {OSC_TITLE} {RLO} {CSI_C1} {HIDDEN}"
GIT_AUTHOR = f"Eve {CLEAR}\u202e"

# What incidentctl itself may send to a terminal: SGR colour and weight (click.style).
OWN_SGR = re.compile(r"\x1b\[(?:(?:0|1|2|22|39|3[0-7]|9[0-7])(?:;|(?=m)))*m")
UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def yaml_quoted(text: str) -> str:
    """A YAML double-quoted scalar spelling every control character as an escape."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)  # U+202E stands raw: YAML allows it in a file
    return '"' + "".join(out) + '"'


@pytest.fixture
def hostile(repo: Repo) -> str:
    """An incident whose file was written by hand with hostile text, then a hostile commit.

    The title and an action item (front matter, as YAML escapes) and an entry's author and
    text (body, raw bytes) hold OSC 52, OSC 8, CSI 2J, U+202E and U+009B; a commit made with
    plain git has a hostile subject and author; a broken file has a hostile name.
    """
    ident = str(repo.open("Checkout errors")["id"])
    path = next((repo.path / "incidents").glob(f"*/{ident}-*.md"))
    text = path.read_text(encoding="utf-8")
    title = f"title: {yaml_quoted(HOSTILE_TITLE)}"
    text = re.sub(r"(?m)^title: .*$", lambda _: title, text, count=1)
    item = (
        f"action_items:\n- id: AI-1\n  title: {yaml_quoted(HOSTILE_TITLE)}\n"
        f"  owner: {yaml_quoted(HOSTILE_AUTHOR)}\n  due: 2030-01-01\n  status: open"
    )
    text = text.replace("action_items: []", item, 1)
    entry = f"- `2030-01-01T00:00:00Z` **{HOSTILE_AUTHOR}** _(note)_ {HOSTILE_TEXT}\n  {CLEAR}more"
    text = re.sub(r"(?m)^(## Timeline\n\n(?:- .*\n)+)", lambda m: m.group(1) + entry + "\n", text)
    assert HOSTILE_TEXT in text
    path.write_text(text, encoding="utf-8")
    (path.parent / f"INC-20260101-zzzz-{CLEAR}{RLO}.md").write_text("not an incident\n")
    repo.git("add", "-A")
    repo.git("-c", f"user.name={GIT_AUTHOR}", "commit", "-q", "-m", HOSTILE_SUBJECT)
    assert repo.json("show", ident)["title"] == HOSTILE_TITLE  # the file reads as intended
    return ident


def run_in_pty(
    args: list[str], cwd: Path, env: dict[str, str], stderr: int | None = None
) -> tuple[int, bytes]:
    """Run the console script with a pseudo-terminal as stdin, stdout and stderr.

    Returns its exit status and every byte the terminal received. `stderr`: a file
    descriptor to send stderr to instead of the terminal.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [console_script(), *args],
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave if stderr is None else stderr,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                proc.kill()
                raise AssertionError(f"{args} did not finish within 60 s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.wait(timeout=30), b"".join(chunks)


def unsafe_in(text: str) -> list[str]:
    """Characters a terminal could act on, other than the line ends a terminal writes."""
    allowed = "\r\n\u200c\u200d"  # and the joiners words and emoji need
    return sorted(
        {c for c in text if c not in allowed and unicodedata.category(c) in UNSAFE_CATEGORIES}
    )


def assert_terminal_safe(output: bytes, colour: bool) -> str:
    """No escape sequence but incidentctl's own colours, and no other unsafe character."""
    text = output.decode("utf-8", errors="surrogateescape")
    assert "Traceback" not in text, text
    plain = OWN_SGR.sub("", text) if colour else text
    assert unsafe_in(plain) == [], plain
    for raw in ("\x1b]", "\x1b[2J", "\x1b[8m", "\x9b", "\u202e", "\x07"):
        assert raw not in text
    return plain


# (command, what the terminal must show, in escaped form, proving the data was printed)
COMMANDS = {
    "show": (["show", "{id}"], ["\\x1b]52;c;", "\\u202egnp.exe", "\\x9b2J", "\\x1b[8mhidden"]),
    "list": (["list"], ["Title \\x1b]52;c;", "\\x1b[2J\\x1b[H", "INC-20260101-zzzz-\\x1b[2J"]),
    "timeline": (["timeline", "{id}"], ["Mallory \\x1b[8mhidden", "\\x1b]8;;https://evil"]),
    "history": (["history", "{id}"], ["Eve \\x1b[2J\\x1b[H\\u202e", "subject \\x1b]0;pwned\\x07"]),
    "check": (["check"], ["control-character", "INC-20260101-zzzz-\\x1b[2J\\x1b[H\\u202e"]),
    "check-github": (["check", "--format", "github"], ["::error file=", "\\x1b[2J"]),
    "action-list": (["action", "list"], ["Title \\x1b]52;c;", "Mallory \\x1b[8mhidden"]),
    "error-not-found": (["show", f"nope{RLO}{OSC_TITLE}"], ["Error: ", "nope\\u202egnp.exe"]),
    "error-usage": (["show", "{id}", f"extra{CLEAR}"], ["Error: ", "extra\\x1b[2J"]),
    "error-input": (["log", "{id}", f"text {RLO}"], ["Error: ", "U+202E"]),
    "error-git": (["status", "{id}", "investigating"], ["Error: ", "\\x1b]0;pwned\\x07"]),
    "error-git-log": (["log", "{id}", "x"], ["Error: ", "git commit failed", "\\u202egnp.exe"]),
}


@pytest.mark.parametrize("colour", [True, False], ids=["colour", "no-colour"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_terminal_receives_no_escape_sequence_from_the_data(
    repo: Repo, hostile: str, name: str, colour: bool
) -> None:
    """Through a real pseudo-terminal, each command shows the hostile text escaped."""
    args, shown = COMMANDS[name]
    hook = repo.path / ".git" / "hooks" / "pre-commit"  # git's stderr, quoted in the error
    hook.write_text(f"#!/bin/sh\nprintf '%s\\n' '{OSC_TITLE} {RLO} {CLEAR}' >&2\nexit 1\n")
    hook.chmod(0o755)
    env = run_env()
    env.pop("GITHUB_STEP_SUMMARY", None)
    if colour:
        env.pop("NO_COLOR", None)
    status, output = run_in_pty([a.replace("{id}", hostile) for a in args], repo.path, env)
    plain = assert_terminal_safe(output, colour)
    if not colour:
        assert "\x1b" not in plain
    for fragment in shown:
        assert fragment in plain, (fragment, plain)
    readers = ("show", "list", "timeline", "history", "action-list")
    assert status == (0 if name in readers else 2 if name == "error-usage" else 1)
    if name.startswith("error"):  # one line, naming what is wrong
        assert len([line for line in plain.splitlines() if line.startswith("Error:")]) == 1


def test_issues_sync_messages_are_escaped(repo: Repo, hostile: str, github: GitHubStandIn) -> None:
    """A server's error text and the progress lines reach the terminal escaped."""
    repo.ok("action", "add", hostile, "Add an alert", "-o", "bob", "-d", "7d")
    github.fail("POST", r"/issues$", 422, body={"message": f"Validation {OSC_52}{RLO}"})
    env = {**run_env(), **github.env()}
    env.pop("NO_COLOR", None)
    status, output = run_in_pty(["issues", "sync", "--pace", "0"], repo.path, env)
    plain = assert_terminal_safe(output, colour=True)
    assert status == 1
    assert "Validation \\x1b]52;c;cHduZWQ=\\x07\\u202egnp.exe" in plain, plain
    assert "listing tickets labelled" in plain


def test_pipes_get_the_same_escaping_without_colour(repo: Repo, hostile: str) -> None:
    """Into a pipe, stdout and stderr hold no ESC at all and no unsafe character."""
    for args in (["show", hostile], ["list"], ["history", hostile], ["check"]):
        result = subprocess.run(
            [console_script(), *args], cwd=repo.path, env=run_env(), capture_output=True
        )
        for stream in (result.stdout, result.stderr):
            text = stream.decode("utf-8")
            assert unsafe_in(text) == [], (args, text)
            assert "\x1b" not in text
        assert b"\\u202egnp.exe" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["show", "{id}", "--json"],
        ["timeline", "{id}", "--json"],
        ["history", "{id}", "--json"],
        ["list", "--json"],
        ["action", "list", "--json"],
        ["check", "--format", "json"],
    ],
)
def test_json_escapes_every_unsafe_character_and_loses_nothing(
    repo: Repo, hostile: str, args: list[str], tmp_path: Path
) -> None:
    """--json is valid JSON with each unsafe character as \\uXXXX, decoding to the original."""
    argv = [a.replace("{id}", hostile) for a in args]
    with (tmp_path / "stderr").open("w+b") as err:  # warnings about the broken file
        status, output = run_in_pty(argv, repo.path, run_env(), stderr=err.fileno())
        err.seek(0)
        assert unsafe_in(err.read().decode("utf-8")) == []
    text = output.decode("utf-8").replace("\r\n", "\n")
    assert unsafe_in(text) == []
    assert status in (0, 1) and "Traceback" not in text
    data = json.loads(text)
    flat = json.dumps(data, ensure_ascii=False)
    wanted = {
        "show": HOSTILE_TITLE,
        "timeline": HOSTILE_TEXT,
        "history": HOSTILE_SUBJECT,
        "list": HOSTILE_TITLE,
        "action": HOSTILE_AUTHOR,
        "check": f"INC-20260101-zzzz-{CLEAR}{RLO}.md",
    }[args[0]]
    assert json.dumps(wanted, ensure_ascii=False)[1:-1] in flat  # the very text, decoded


def test_check_reports_hidden_characters_with_file_and_line(repo: Repo, hostile: str) -> None:
    """`check` flags the YAML-escaped title and the raw body lines as control-character."""
    result = subprocess.run(
        [console_script(), "check", "--format", "json"],
        cwd=repo.path,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    found = [p for p in problems if p["rule"] == "control-character"]
    path = next((repo.path / "incidents").glob(f"*/{hostile}-*.md"))
    lines = path.read_text(encoding="utf-8").splitlines()
    keys = ("title:", "action_items:")  # values with YAML escapes: no raw byte on the line
    expected = {n for n, line in enumerate(lines, 1) if line.startswith(keys)}
    expected |= {n for n, line in enumerate(lines, 1) if "\x1b" in line or "\u202e" in line}
    assert {p["line"] for p in found} == expected
    assert all(p["path"] == path.relative_to(repo.path).as_posix() for p in found)
    assert any("U+202E (RIGHT-TO-LEFT OVERRIDE)" in p["message"] for p in found)
    assert any("the value of `action_items` holds the control" in p["message"] for p in found)


def test_check_github_output_and_summary_are_escaped(
    repo: Repo, hostile: str, tmp_path: Path
) -> None:
    """Annotations, the fenced log and the step summary carry no unsafe character."""
    summary = tmp_path / "summary.md"
    env = {**run_env(), "GITHUB_STEP_SUMMARY": str(summary)}
    result = subprocess.run(
        [console_script(), "check", "--format", "github"],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "::error file=" in result.stdout
    written = summary.read_text(encoding="utf-8")
    assert "control-character" in written
    for text in (result.stdout, result.stderr, written):
        assert unsafe_in(text) == []


# -- input ------------------------------------------------------------------------------

FORBIDDEN = {
    "rlo": "\u202e",
    "lri": "\u2066",
    "lrm": "\u200e",
    "arabic-mark": "\u061c",
    "zero-width-space": "\u200b",
    "tag-letter": "\U000e0041",
    "bom": "\ufeff",
    "esc": "\x1b",
    "c1-csi": "\x9b",
}

FIELDS = {
    "open-title": (["open", "gnp{c}exe"], "title"),
    "open-summary": (["open", "t", "--summary", "a{c}b"], "summary"),
    "open-service": (["open", "t", "--service", "api{c}"], "service"),
    "open-commander": (["open", "t", "--commander", "bob{c}"], "commander"),
    "log-text": (["log", "{id}", "a{c}b"], "the entry text"),
    "status-message": (["status", "{id}", "investigating", "-m", "a{c}b"], "the message"),
    "severity-reason": (["severity", "{id}", "SEV-1", "-m", "a{c}b"], "the reason"),
    "assign-commander": (["assign", "{id}", "--commander", "bob{c}"], "the commander"),
    "assign-role": (["assign", "{id}", "--role", "comms=bob{c}"], "the comms"),
    "action-title": (["action", "add", "{id}", "a{c}b", "-o", "bob", "-d", "7d"], "title"),
    "action-owner": (["action", "add", "{id}", "fix", "-o", "bob{c}", "-d", "7d"], "the owner"),
}


@pytest.mark.parametrize("field", list(FIELDS))
def test_input_refuses_bidi_and_invisible_characters(repo: Repo, field: str) -> None:
    """Every text field refuses each bidi, format and control character: one line, no change."""
    ident = str(repo.open("Checkout errors")["id"])
    args, what = FIELDS[field]
    commits = repo.commits()
    for name, char in FORBIDDEN.items():
        argv = [a.replace("{id}", ident).replace("{c}", char) for a in args]
        result = repo.run(*argv)
        assert result.exit_code == 1, (name, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (name, lines)
        assert what in lines[0] and f"U+{ord(char):04X}" in lines[0], (name, lines)
        assert unsafe_in(lines[0]) == []
    assert repo.commits() == commits
    assert repo.git("status", "--porcelain") == ""


def test_fast_path_log_refuses_bidi_with_the_same_line(repo: Repo) -> None:
    """`log` without click refuses U+202E with the message the click command gives."""
    ident = str(repo.open("Checkout errors")["id"])
    result = subprocess.run(
        [console_script(), "log", ident, f"see {RLO}"],
        cwd=repo.path,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr == repo.run("log", ident, f"see {RLO}").stderr
    assert result.stderr == (
        "Error: the entry text contains the bidi control character U+202E "
        "(RIGHT-TO-LEFT OVERRIDE); remove it\n"
    )


@pytest.mark.parametrize(
    "title",
    [
        "👩\u200d💻 on-call paged",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "café naïve “quoted” — ok",
        "tab\tinside",
    ],
    ids=["emoji-zwj", "persian-zwnj", "typography", "tab"],
)
def test_ordinary_text_is_accepted_and_printed_as_is(repo: Repo, title: str) -> None:
    """Joiners that words and emoji need, and ordinary non-ASCII, pass and print unchanged."""
    summary = f"about {title}"
    ident = str(repo.open("x", "--summary", summary)["id"])
    repo.ok("log", ident, title)
    timeline = repo.ok("timeline", ident).stdout
    assert safe(title) in timeline
    assert (title in timeline) is ("\t" not in title)  # a tab inside a field shows as \t
    assert repo.json("timeline", ident)[-1]["text"] == title


def test_git_author_name_is_cleaned_before_it_reaches_the_file(repo: Repo) -> None:
    """A user.name holding ESC and U+202E is written without them; `check` stays clean."""
    ident = str(repo.open("Checkout errors")["id"])
    repo.git("config", "user.name", f"Mallory{CLEAR}{RLO}")
    result = subprocess.run(
        [console_script(), "log", ident, "a note"],
        cwd=repo.path,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    author = repo.json("timeline", ident)[-1]["author"]
    assert unsafe_in(author) == [] and author.startswith("Mallory") and "gnp.exe" in author
    assert repo.ok("check").stdout == ""


def test_edit_refuses_a_hidden_character(repo: Repo, tmp_path: Path) -> None:
    """An editor save adding U+202E is refused with file and line; the file is unchanged."""
    ident = str(repo.open("Checkout errors")["id"])
    path = next((repo.path / "incidents").glob(f"*/{ident}-*.md"))
    before, commits = path.read_bytes(), repo.commits()
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text() + 'see \\u202egnp.exe\\n')\n"
    )
    result = repo.run("edit", ident, env={"EDITOR": f"{sys.executable} {script}"})
    assert result.exit_code == 1
    line = len(before.decode().splitlines()) + 1
    assert f"{path.name}:{line}: the line holds the bidi control character U+202E" in result.stderr
    assert path.read_bytes() == before and repo.commits() == commits


# -- the helper itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text", "plain text"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("\x1b]52;c;eA==\x07", "\\x1b]52;c;eA==\\x07"),
        ("\x9b31m", "\\x9b31m"),
        ("\x7f\x00", "\\x7f\\x00"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
        ("a\u2066b\u2069", "a\\u2066b\\u2069"),
        ("one\ntwo\tthree\r", "one\\ntwo\\tthree\\r"),
        ("a\u2028b\u2029", "a\\u2028b\\u2029"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("bad \udcff", "bad \\udcff"),
        ("👩\u200d💻 café\u00a0x", "👩\u200d💻 café\u00a0x"),
    ],
)
def test_safe_escapes_exactly_the_unsafe_characters(text: str, shown: str) -> None:
    """safe(): controls, bidi, format characters, separators and surrogates as escapes."""
    assert safe(text) == shown
    assert unsafe_in(safe(text)) == []


def test_safe_keeps_what_it_is_told_to_keep() -> None:
    """keep= leaves the named characters, escaping the rest."""
    assert safe("a\nb\x1b", keep="\n") == "a\nb\\x1b"


def test_json_safe_is_valid_lossless_and_free_of_unsafe_characters() -> None:
    """json_safe(): \\uXXXX escapes (surrogate pairs above U+FFFF) that decode to the original."""
    value = {"k\u202e": ["\x9b", "\u2028", "\U000e0041", "é", "\x1b", "lone \udcff"]}
    document = json_safe(json.dumps(value, ensure_ascii=False))
    assert unsafe_in(document) == []
    assert "é" in document  # other non-ASCII stays readable
    assert json.loads(document) == value
