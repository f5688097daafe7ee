"""Hostile incident files, through every command that reads files, under memory and time bounds.

An incident file can arrive from anyone who can open a pull request. Each case below
is one such file, put in a repository next to one healthy incident. Every command
that reads incident files then runs on it in a child process with its address space
limited (RLIMIT_AS) and each command timed, and must: finish, raise no traceback,
exit 0 or 1, say what is wrong in one short line when it exits 1, leave every file
but its own target as it was (and its target too when it fails), and keep the
healthy incident usable. The merge driver runs under the same bounds through a real
`git merge` of the hostile file.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Repo, git, run_env

from incidentctl.cli import cli

MEMORY_LIMIT = 1024 * 1024 * 1024  # bytes of address space for each child process
COMMAND_SECONDS = 20  # each command; a case as a whole gets a multiple of it
MESSAGE_MAX = 500  # the longest line an error or warning may be
HOSTILE_ID = "INC-20261204-h0st"
HOSTILE = f"incidents/2026/{HOSTILE_ID}-hostile.md"
MARKER = Path("/tmp/incidentctl-hostile-corpus-pwned")

# -- the hostile files ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile file: how to make it from a healthy one, and what `check` says."""

    make: Callable[[str], bytes]  # healthy text with the hostile ID -> the file's bytes
    rule: str | None  # the rule `check` reports for it; None: the file passes


def edit(old: str, new: str) -> Callable[[str], bytes]:
    def make(text: str) -> bytes:
        assert old in text, old
        return text.replace(old, new, 1).encode("utf-8")

    return make


def raw(make: Callable[[str], str | bytes]) -> Callable[[str], bytes]:
    def wrapped(text: str) -> bytes:
        out = make(text)
        return out.encode("utf-8") if isinstance(out, str) else out

    return wrapped


def alias_bomb(levels: int = 9) -> str:
    lines = ["x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    names = "abcdefghijklmnop"
    for prev, name in itertools.pairwise(names[:levels]):
        lines.append(f"x-{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + f"\nx-bomb: *{names[levels - 1]}\n"


ENTRY = "- `2026-12-04T00:{:02d}:00Z` **Bob** _(note)_ note {}\n"
OPENED = "action_items: []\n"  # a line every healthy file has, to put things after
RESOLVED_SEV2 = "severity: SEV-3\n"  # see `postmortem_bait`

CASES: dict[str, Case] = {
    # YAML that costs more than its text: refused before anything expands.
    "alias-bomb": Case(edit(OPENED, OPENED + alias_bomb()), "yaml-plain"),
    "alias-bomb-in-action-items": Case(
        edit(OPENED, "action_items: *i\n" + alias_bomb().replace("x-bomb: *i\n", "")),
        "yaml-plain",
    ),
    "anchor-only": Case(edit("status: triage", "status: &s triage"), "yaml-plain"),
    "merge-key": Case(edit(OPENED, OPENED + "x-m:\n  <<: {a: 1}\n"), "yaml-plain"),
    "python-tag": Case(
        edit(OPENED, OPENED + f"x-p: !!python/object/apply:os.system ['touch {MARKER}']\n"),
        "yaml-plain",
    ),
    "str-tag": Case(edit("status: triage", "status: !!str triage"), "yaml-plain"),
    "local-tag": Case(edit("status: triage", "status: !status triage"), "yaml-plain"),
    "complex-key": Case(edit(OPENED, OPENED + "? [a, b]\n: c\n"), "yaml-plain"),
    "deep-flow-nesting": Case(edit(OPENED, OPENED + "x-d: " + "[" * 100_000 + "\n"), "yaml"),
    "deep-block-nesting": Case(
        edit(OPENED, OPENED + "".join(f"{'  ' * n}x{n}:\n" for n in range(300))), "yaml-plain"
    ),
    "many-values": Case(edit(OPENED, OPENED + "x-v: [" + "1," * 200_000 + "1]\n"), "yaml-plain"),
    "huge-integer": Case(edit(OPENED, OPENED + "x-n: " + "7" * 5000 + "\n"), "yaml"),
    # Size: the file, one line of it, one value in it.
    "oversized": Case(raw(lambda t: t + ("padding " * 16 + "\n") * 20_000), "file-size"),
    "oversized-binary": Case(raw(lambda t: b"\x00\xff" * (2 * 1024 * 1024)), "file-size"),
    "huge-single-line": Case(raw(lambda t: t + "y" * 900_000 + "\n"), None),
    "huge-title": Case(raw(lambda t: t.replace("title: ", "title: " + "T" * 900_000, 1)), "schema"),
    "huge-duplicate-key": Case(
        raw(lambda t: t.replace(OPENED, OPENED + ("x-" + "k" * 1000 + ": 1\n") * 2, 1)),
        "duplicate-key",
    ),
    "many-timeline-entries": Case(
        raw(
            lambda t: t.replace(
                "\n## Checklist",
                "".join(ENTRY.format(m % 60, m) for m in range(15_000)) + "\n## Checklist",
                1,
            )
        ),
        None,
    ),
    # Dates and times that cannot exist.
    "february-30": Case(raw(lambda t: _set_opened(t, "2026-02-30T10:00:00Z")), "invalid-date"),
    "hour-24": Case(raw(lambda t: _set_opened(t, "2026-12-04T24:00:00Z")), "invalid-date"),
    "year-1-ahead-of-utc": Case(
        raw(lambda t: _set_opened(t, "0001-01-01T00:30:00+01:00")), "invalid-date"
    ),
    "year-9999-behind-utc": Case(
        raw(lambda t: _set_opened(t, "9999-12-31T23:30:00-01:00")), "invalid-date"
    ),
    "quoted-year-1-ahead-of-utc": Case(
        raw(lambda t: _set_opened(t, "'0001-01-01T00:30:00+01:00'")), "schema"
    ),
    "five-digit-year": Case(raw(lambda t: _set_opened(t, "99999-01-01T00:00:00Z")), "schema"),
    "due-february-30": Case(
        edit(OPENED, "action_items:\n- id: AI-1\n  title: Fix\n  owner: bob\n  due: 2026-02-30\n"),
        "invalid-date",
    ),
    "timeline-entry-february-30": Case(
        raw(lambda t: in_timeline(t, "- `2026-02-30T10:00:00Z` **Bob** _(note)_ impossible\n")),
        "invalid-date",
    ),
    "timeline-entry-garbage-time": Case(
        raw(lambda t: in_timeline(t, "- `2026-12-04T::::.Z` **Bob** _(note)_ garbage\n")),
        "invalid-date",
    ),
    # Encodings and characters.
    "byte-order-mark": Case(raw(lambda t: "\ufeff" + t), None),
    "utf-16": Case(raw(lambda t: t.encode("utf-16")), "encoding"),
    "latin-1": Case(
        raw(lambda t: t.replace("healthy", "h\xe9althy").encode("latin-1")), "encoding"
    ),
    "binary": Case(raw(lambda t: bytes(range(256)) * 64), "encoding"),
    "nul-bytes": Case(
        raw(lambda t: t.replace("## Summary", "## Sum\x00mary")), "control-character"
    ),
    "escape-sequences": Case(
        edit("title: healthy one\n", 'title: "\\e]0;owned\\a\\e[2Jhealthy\\u202egnp.exe"\n'),
        "control-character",
    ),
    "line-separators": Case(raw(lambda t: t.replace("\n", "\u2028", 5)), "front-matter"),
    "lone-carriage-returns": Case(raw(lambda t: t.replace("\n", "\r")), None),
    # Structure.
    "conflict-markers": Case(
        edit(
            "status: triage\n", "<<<<<<< ours\nstatus: triage\n=======\nstatus: closed\n>>>>>>> x\n"
        ),
        "conflict-marker",
    ),
    "front-matter-not-closed": Case(raw(lambda t: t.replace("\n---\n", "\n", 1)), "front-matter"),
    "no-front-matter": Case(raw(lambda t: "# Just a heading\n"), "front-matter"),
    "empty-file": Case(raw(lambda t: b""), "front-matter"),
    "front-matter-a-list": Case(raw(lambda t: "---\n- a\n- b\n---\n"), "front-matter"),
    "multiple-documents": Case(edit(OPENED, OPENED + "---\nid: other\n"), None),
    "id-mismatch": Case(edit(f"id: {HOSTILE_ID}", "id: INC-20261204-zzzz"), "filename"),
    "many-comment-openers": Case(raw(lambda t: _postmortem_bait(t, "<!-- " * 100_000)), None),
    "many-headings": Case(raw(lambda t: _postmortem_bait(t, "## h\n\n" * 20_000)), None),
    "many-fences": Case(raw(lambda t: t + "```\n" * 50_000), None),
}

# The rules that make a file unreadable: `list` and the like skip it with a warning.
UNLOADABLE = {
    "file-size",
    "encoding",
    "conflict-marker",
    "front-matter",
    "yaml",
    "duplicate-key",
    "yaml-plain",
    "invalid-date",
    "schema",
}


# Symlinks and other non-regular files where an incident file is expected: each
# `setup(root)` makes the entry (HOSTILE unless said otherwise); more cases go here.
def _outside(root: Path) -> Path:
    """A valid incident file outside the repository (what a link would expose)."""
    target = root.parent / "outside" / f"{HOSTILE_ID}-outside.md"
    target.parent.mkdir(exist_ok=True)
    healthy = next((root / "incidents" / "2026").glob("*.md"))
    ident = healthy.name[: len(HOSTILE_ID)]
    target.write_text(healthy.read_text(encoding="utf-8").replace(ident, HOSTILE_ID))
    return target


def _link_year_folder(root: Path) -> None:
    target = _outside(root).parent
    (root / "incidents" / "2027").symlink_to(target, target_is_directory=True)


def _folder_named_md(root: Path) -> None:
    (root / HOSTILE).mkdir()
    (root / HOSTILE / "inside.txt").write_text("a folder, not a file\n")


SYMLINK_CASES: dict[str, Callable[[Path], None]] = {
    "link-to-dev-zero": lambda root: (root / HOSTILE).symlink_to("/dev/zero"),
    "link-to-dev-urandom": lambda root: (root / HOSTILE).symlink_to("/dev/urandom"),
    "link-outside-the-repository": lambda root: (root / HOSTILE).symlink_to(_outside(root)),
    "link-to-the-healthy-incident": lambda root: (root / HOSTILE).symlink_to(
        next((root / "incidents" / "2026").glob("*.md")).name
    ),
    "dangling-link": lambda root: (root / HOSTILE).symlink_to("no-such-file.md"),
    "link-loop": lambda root: (root / HOSTILE).symlink_to(HOSTILE.rsplit("/", 1)[1]),
    "linked-year-folder": _link_year_folder,
    "folder-named-md": _folder_named_md,
    "fifo": lambda root: os.mkfifo(root / HOSTILE),
}


def in_timeline(text: str, lines: str) -> str:
    """`text` with `lines` as the last timeline entries."""
    return text.replace("\n## Checklist", lines + "\n## Checklist", 1)


def _set_opened(text: str, value: str) -> str:
    start = text.index("opened_at: ")
    end = text.index("\n", start)
    return text[:start] + f"opened_at: {value}" + text[end:]


def _postmortem_bait(text: str, filler: str) -> str:
    """A resolved SEV-2, so `check` parses its post-mortem sections, with `filler` in one."""
    text = text.replace("status: triage", "status: resolved", 1).replace(
        "severity: SEV-3", "severity: SEV-2", 1
    )
    text = text.replace("resolved_at: null", "resolved_at: 2026-12-04T23:00:00Z", 1)
    return text + "\n## Impact\n\n" + filler + "\n"


# -- running commands in a bounded child -----------------------------------------------

# The child: runs each command in-process (one Python start-up for all), records its
# exit status, output, any exception and which files changed; restores a target a
# command was allowed to change, so the next command sees the committed file.
CHILD = textwrap.dedent(
    """
    import hashlib, json, os, signal, stat, sys, time, traceback
    from click.testing import CliRunner
    from incidentctl.cli import cli

    class Hang(BaseException):
        pass

    def alarm(signum, frame):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    job = json.loads(sys.stdin.read())
    root = job["repo"]

    def snapshot():
        out = {}
        for folder, dirs, files in os.walk(root):
            if folder == root:
                dirs[:] = [d for d in dirs if d != ".git"]
            for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                path = os.path.join(folder, name)
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode):
                    with open(path, "rb") as handle:
                        out[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
                elif stat.S_ISLNK(info.st_mode):
                    out[os.path.relpath(path, root)] = "link:" + os.readlink(path)
                else:
                    out[os.path.relpath(path, root)] = "mode:%o" % info.st_mode
        return out

    for args, target in job["commands"]:
        before = snapshot()
        saved = None
        if target is not None:
            with open(os.path.join(root, target), "rb") as handle:
                saved = handle.read()
        started = time.monotonic()
        signal.alarm(job["seconds"])
        try:
            result = CliRunner().invoke(cli, ["--repo", root, *args], catch_exceptions=True)
            code, out, err, exc = result.exit_code, result.stdout, result.stderr, result.exception
            tb = None
            if exc is not None and not isinstance(exc, SystemExit):
                tb = "".join(traceback.format_exception(exc))
        except Hang:
            code, out, err, tb = None, "", "", "no answer in %s s" % job["seconds"]
        finally:
            signal.alarm(0)
        after = snapshot()
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if saved is not None and target in changed:
            with open(os.path.join(root, target), "wb") as handle:
                handle.write(saved)
        print(json.dumps({
            "args": args,
            "code": code,
            "stdout": out[-4000:],
            "stderr": err,
            "traceback": tb,
            "changed": changed,
            "seconds": round(time.monotonic() - started, 2),
        }), flush=True)
    """
)


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_bounded(
    argv: list[str], *, cwd: Path, input: str = "", timeout: float = COMMAND_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run a process with at most MEMORY_LIMIT of address space and `timeout` seconds."""
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            preexec_fn=limit_memory,
            env=run_env(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        seen = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        what = "the commands" if argv[:2] == [sys.executable, "-c"] else " ".join(argv)
        pytest.fail(f"{what} did not finish in {timeout} s; done so far:\n{seen}")


def commands(healthy: str) -> list[tuple[list[str], str | None]]:
    """Every command that reads incident files; (argv, the file it may change)."""
    h, g = HOSTILE_ID, healthy
    return [
        (["check"], None),
        (["check", "--format", "json"], None),
        (["check", "--format", "github"], None),
        (["check", HOSTILE], None),
        (["check", "--changed-since", "HEAD~1"], None),
        (["list"], None),
        (["list", "--json"], None),
        (["action", "list"], None),
        (["action", "list", "--json"], None),
        (["show", h], None),
        (["show", h, "--json"], None),
        (["timeline", h], None),
        (["timeline", h, "--json"], None),
        (["history", h], None),
        (["log", h, "a note", "--no-commit"], HOSTILE),
        (["status", h, "investigating", "--no-commit"], HOSTILE),
        (["assign", h, "--commander", "Bob", "--no-commit"], HOSTILE),
        (["action", "add", h, "Fix it", "--owner", "bob", "--due", "7d", "--no-commit"], HOSTILE),
        (["postmortem", h, "--no-commit"], HOSTILE),
        # The healthy incident next to it is not held hostage.
        (["show", g, "--json"], None),
        (["log", g, "still fine", "--no-commit"], None),  # its path is filled in below
    ]


# -- the repository each case runs in ------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """An incident repository with one healthy incident: (path, its ID, its path)."""
    root = tmp_path_factory.mktemp("template") / "work"
    home = tmp_path_factory.mktemp("template-home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Alice Responder\n\temail = alice@example.com\n"
        "[commit]\n\tgpgSign = false\n[init]\n\tdefaultBranch = main\n"
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        env.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        root.mkdir()
        git(root, "init", "--quiet")
        runner = CliRunner()
        assert runner.invoke(cli, ["init", str(root)]).exit_code == 0
        git(root, "add", "-A")
        git(root, "commit", "--quiet", "-m", "init")
        result = runner.invoke(cli, ["--repo", str(root), "open", "healthy one", "--json"])
        assert result.exit_code == 0, result.output
        opened = json.loads(result.stdout)
    return root, opened["id"], opened["path"]


def tree(root: Path) -> dict[str, bytes]:
    """Every file of the work tree outside .git, by content (symlinks by target)."""
    out: dict[str, bytes] = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d != ".git"]
        for name in files + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                out[rel] = b"link:" + os.readlink(path).encode()
            elif stat.S_ISREG(mode):
                out[rel] = path.read_bytes()
            else:  # a FIFO would block a read
                out[rel] = b"mode:%o" % mode
    return out


def setup_case(tmp_path: Path, template: tuple[Path, str, str], content: bytes) -> Repo:
    import shutil

    src, _, _ = template
    root = tmp_path / "work"
    shutil.copytree(src, root, symlinks=True)
    target = root / HOSTILE
    target.write_bytes(content)
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "--no-verify", "-m", "a hostile incident file")
    return Repo(root)


def assert_sane(report: dict[str, object], allowed: str | None) -> None:
    """No hang, no traceback, exit 0 or 1, short message lines; only `allowed` changed."""
    what = " ".join(str(a) for a in report["args"])  # type: ignore[attr-defined]
    assert report["traceback"] is None, f"`{what}` failed:\n{report['traceback']}"
    code = report["code"]
    assert code in (0, 1), f"`{what}` exited {code}: {report['stderr']}"
    stderr = str(report["stderr"])
    assert "Traceback" not in stderr, f"`{what}`: {stderr}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    for line in lines:
        assert len(line) <= MESSAGE_MAX, f"`{what}` printed a {len(line)}-character line"
    if code == 1 and report["args"][0] != "check":  # type: ignore[index]
        errors = [line for line in lines if line.startswith("Error: ")]
        assert len(errors) == 1 and len(errors[0]) > 20, f"`{what}`: {stderr!r}"
        assert all(line.startswith(("Error: ", "warning: ")) for line in lines), stderr
    changed = set(report["changed"])  # type: ignore[call-overload]
    may = {allowed} if allowed is not None and code == 0 else set()
    assert changed <= may, f"`{what}` (exit {code}) changed {sorted(changed - may)}"


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file_through_every_command(
    tmp_path: Path, template: tuple[Path, str, str], name: str
) -> None:
    """Every file-reading command, then a real `git merge`, survive this file within bounds."""
    case = CASES[name]
    _, healthy, healthy_path = template
    src = template[0] / healthy_path
    text = src.read_text(encoding="utf-8").replace(healthy, HOSTILE_ID)
    repo = setup_case(tmp_path, template, case.make(text))
    head, files = repo.git("rev-parse", "HEAD"), tree(repo.path)
    status = repo.git("status", "--porcelain", "--untracked-files=all", "--ignored")

    jobs = commands(healthy)
    jobs[-1] = (jobs[-1][0], healthy_path)
    job = {"repo": str(repo.path), "commands": jobs, "seconds": COMMAND_SECONDS}
    done = run_bounded(
        [sys.executable, "-c", CHILD],
        cwd=repo.path,
        input=json.dumps(job),
        timeout=COMMAND_SECONDS * 4,
    )
    assert done.returncode == 0, f"the child died ({done.returncode}): {done.stderr[-3000:]}"
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["args"] for r in reports] == [args for args, _ in jobs]
    by_args = {" ".join(r["args"]): r for r in reports}
    for report, (_, allowed) in zip(reports, jobs, strict=True):
        assert_sane(report, allowed)

    # The repository is as it was: same commit, same status, the same bytes everywhere.
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.git("status", "--porcelain", "--untracked-files=all", "--ignored") == status
    assert tree(repo.path) == files
    assert not MARKER.exists(), "a YAML tag ran code"

    # What each kind of command makes of it.
    listed = json.loads(by_args["list --json"]["stdout"])
    assert healthy in [row["id"] for row in listed], "the healthy incident left `list`"
    assert by_args["list --json"]["code"] == 0
    assert by_args["action list --json"]["code"] == 0
    assert by_args[f"show {healthy} --json"]["code"] == 0
    assert by_args[f"log {healthy} still fine --no-commit"]["code"] == 0
    checked = json.loads(by_args["check --format json"]["stdout"])
    rules = {p["rule"] for p in checked["problems"] if p["path"] == HOSTILE}
    others = [p for p in checked["problems"] if p["path"] != HOSTILE]
    assert not others, others
    if case.rule is None:
        assert not rules & {"yaml", "yaml-plain", "file-size", "invalid-date"}, checked
    else:
        assert case.rule in rules, checked
        assert by_args["check"]["code"] == 1
        assert all(p["line"] >= 1 for p in checked["problems"])
        # `list` either shows the file or says on stderr that it skipped it; a file whose
        # front matter cannot be loaded is skipped (a bad timeline entry does not stop it).
        warned = [ln for ln in by_args["list"]["stderr"].splitlines() if HOSTILE in ln]
        shown = HOSTILE in [row["path"] for row in listed]
        assert shown != bool(warned), (shown, warned)
        if warned:
            assert warned[0].startswith(f"warning: skipped {HOSTILE}:"), warned
        if case.rule in UNLOADABLE and not name.startswith("timeline-entry"):
            assert warned, f"`list` should skip {name} with a warning"

    merge_both_sides(repo, files)


def merge_both_sides(repo: Repo, files: dict[str, bytes]) -> None:
    """Both branches change the hostile file; git runs the merge driver on it, bounded."""
    repo.git("checkout", "--quiet", "-b", "side")
    with (repo.path / HOSTILE).open("ab") as handle:
        handle.write(b"\nside line\n")
    repo.git("commit", "--quiet", "--no-verify", "-am", "side")
    repo.git("checkout", "--quiet", "main")
    with (repo.path / HOSTILE).open("ab") as handle:
        handle.write(b"\nmain line\n")
    repo.git("commit", "--quiet", "--no-verify", "-am", "main")
    merged = run_bounded(["git", "merge", "--no-edit", "side"], cwd=repo.path)
    output = merged.stdout + merged.stderr
    assert "Traceback" not in output, output
    assert merged.returncode in (0, 1), output
    if merged.returncode == 1:
        assert "CONFLICT" in output, output
    after = tree(repo.path)
    for rel, content in files.items():
        if rel != HOSTILE:
            assert after.get(rel) == content, f"the merge changed {rel}"


@pytest.mark.parametrize("name", list(SYMLINK_CASES))
def test_non_regular_file_through_every_command(
    tmp_path: Path, template: tuple[Path, str, str], name: str
) -> None:
    """A symlink or other non-regular incident file: the same bounds as a hostile file."""
    _, healthy, healthy_path = template
    repo = setup_case(tmp_path, template, b"")
    (repo.path / HOSTILE).unlink()
    SYMLINK_CASES[name](repo.path)
    repo.git("add", "-A", check=name != "fifo")  # git stores no FIFO: it stays untracked
    repo.git("commit", "--quiet", "--no-verify", "--allow-empty", "-m", "a hostile entry")
    head, files = repo.git("rev-parse", "HEAD"), tree(repo.path)
    # No command may change the entry, so none is named as a target (the child would
    # read it to restore it); the healthy incident's `log` may change its own file.
    jobs = [(args, None) for args, _ in commands(healthy)]
    jobs[-1] = (jobs[-1][0], healthy_path)
    job = {"repo": str(repo.path), "commands": jobs, "seconds": COMMAND_SECONDS}
    done = run_bounded(
        [sys.executable, "-c", CHILD],
        cwd=repo.path,
        input=json.dumps(job),
        timeout=COMMAND_SECONDS * 4,
    )
    assert done.returncode == 0, f"the child died ({done.returncode}): {done.stderr[-3000:]}"
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["args"] for r in reports] == [args for args, _ in jobs]
    for report, (_, allowed) in zip(reports, jobs, strict=True):
        assert_sane(report, allowed)
    assert repo.git("rev-parse", "HEAD") == head
    assert tree(repo.path) == files
    by_args = {" ".join(r["args"]): r for r in reports}
    listed = json.loads(by_args["list --json"]["stdout"])
    assert [row["id"] for row in listed] == [healthy], "only the healthy incident is listed"
    assert by_args[f"log {healthy} still fine --no-commit"]["code"] == 0
    checked = json.loads(by_args["check --format json"]["stdout"])
    assert "file-type" in {p["rule"] for p in checked["problems"]}, checked
    assert by_args[f"show {HOSTILE_ID}"]["code"] == 1


def test_oversized_policy_at_ref_is_refused_unread(repo: Repo) -> None:
    """`check --changed-since REF` does not read a 2 MiB incidentctl.toml from git."""
    repo.ok("init", str(repo.path))
    (repo.path / "incidentctl.toml").write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "a huge policy")
    (repo.path / "incidentctl.toml").write_text("")
    result = repo.run("check", "--changed-since", "HEAD")
    assert result.exit_code == 1, result.output
    assert "incidentctl.toml at HEAD is larger than 1 MiB" in result.stderr
