"""Incident files as untrusted input: links, FIFOs, devices, read-only and unwritable
files and folders, duplicate IDs, and the `incidents_dir` setting."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import Repo, console_script, git, run_env

from incidentctl.errors import ConfigError, WriteError
from incidentctl.incident.configfile import parse
from incidentctl.incident.storage import write_atomic
from incidentctl.repo.scaffold import gitattributes_line

MEMORY_LIMIT = 2 << 30  # a command reading /dev/zero would pass this in a second
IS_ROOT = os.geteuid() == 0


def run(repo: Repo, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed `incidentctl --repo R ARGS` under a memory limit and a time bound."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [console_script(), "--repo", str(repo.path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        env=run_env(),
        check=False,
    )


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single `Error: ` line of a failed command (exit 1, no traceback)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def snapshot(*roots: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry below these folders (but .git) as (mode, content or link target)."""
    out: dict[str, tuple[int, bytes | str]] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in dirs + files:
                path = Path(folder, name)
                st = path.lstat()
                if stat.S_ISLNK(st.st_mode):
                    out[str(path)] = (st.st_mode, os.readlink(path))
                elif stat.S_ISREG(st.st_mode):
                    out[str(path)] = (st.st_mode, path.read_bytes())
                else:
                    out[str(path)] = (st.st_mode, "")
    return out


@pytest.fixture
def base(repo: Repo) -> tuple[Repo, str, Path]:
    """A repository with one good incident: (repo, its ID, its year folder)."""
    data = repo.open("Checkout errors")
    path = repo.path / data["path"]
    return repo, data["id"], path.parent


OUTSIDE_TEXT = "---\nid: INC-20260101-zzzz\ntitle: SECRET-OUTSIDE\n---\n"


def _link_to(target: Callable[[Path, Path], str]) -> Callable[[Path, Path], None]:
    def make(path: Path, tmp: Path) -> None:
        os.symlink(target(path, tmp), path)

    return make


def _outside(path: Path, tmp: Path) -> str:
    secret = tmp / "outside.md"
    secret.write_text(OUTSIDE_TEXT)
    return str(secret)


def _inside(path: Path, tmp: Path) -> str:
    return next(p.name for p in path.parent.iterdir() if p.is_file())


def _folder(path: Path, tmp: Path) -> None:
    path.mkdir()
    (path / "notes.txt").write_text("hello\n")


def _device(path: Path, tmp: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # what /dev/zero is


HOSTILE = [
    pytest.param(_link_to(lambda p, t: "/dev/zero"), "symbolic link", True, id="link-dev-zero"),
    pytest.param(_link_to(_outside), "symbolic link", True, id="link-outside-repo"),
    pytest.param(_link_to(_inside), "symbolic link", True, id="link-inside-repo"),
    pytest.param(_link_to(lambda p, t: "nowhere.md"), "symbolic link", True, id="dangling-link"),
    pytest.param(lambda p, t: os.mkfifo(p), "FIFO", False, id="fifo"),
    pytest.param(_folder, "folder", True, id="folder-named-md"),
    pytest.param(
        _device,
        "device",
        False,
        id="device",
        marks=pytest.mark.skipif(not IS_ROOT, reason="mknod needs root"),
    ),
]
HOSTILE_ID = "INC-20261204-h0st"


@pytest.mark.parametrize(("make", "what", "committable"), HOSTILE)
def test_non_regular_incident_file_is_refused_everywhere(
    base: tuple[Repo, str, Path],
    tmp_path: Path,
    make: Callable[[Path, Path], None],
    what: str,
    committable: bool,
) -> None:
    """A link, FIFO, device or folder named like an incident is never opened: `check`
    reports it, lists skip it with a warning, addressing it is one error line."""
    repo, good_id, year = base
    hostile = year / f"{HOSTILE_ID}-bad.md"
    make(hostile, tmp_path)
    rel = hostile.relative_to(repo.path).as_posix()
    before = snapshot(repo.path, tmp_path / "outside.md")
    commits = repo.commits()

    checked = run(repo, "check")
    assert checked.returncode == 1, checked
    assert f"{rel}:1: file-type: is a {what}" in checked.stdout
    assert "Traceback" not in checked.stderr and "SECRET" not in checked.stdout
    assert f"{rel}:1: file-type" in run(repo, "check", str(hostile)).stdout

    for args in (["list"], ["action", "list"], ["list", "--json"]):
        listed = run(repo, *args)
        assert listed.returncode == 0, listed
        assert f"warning: skipped {rel}: is a {what}" in listed.stderr
        assert "SECRET" not in listed.stdout + listed.stderr
        assert (good_id in listed.stdout) == (args[0] == "list")

    for args in (
        ["show", "h0st"],
        ["timeline", HOSTILE_ID],
        ["history", "h0st"],
        ["log", "h0st", "an entry"],
        ["status", "h0st", "investigating"],
        ["assign", "h0st", "--commander", "bob"],
    ):
        error = one_error(run(repo, *args))
        assert error.startswith(f"Error: {rel}: is a {what}"), (args, error)
    assert snapshot(repo.path, tmp_path / "outside.md") == before
    assert repo.commits() == commits

    if committable:  # the pull-request check sees it in a commit, too
        repo.git("checkout", "--quiet", "-b", "pr")
        repo.git("add", "--", rel)
        repo.git("commit", "--quiet", "-m", "add it")
        pr = run(repo, "check", "--changed-since", "main")
        assert pr.returncode == 1, pr
        assert f"{rel}:1: file-type" in pr.stdout, pr.stdout


def test_link_committed_to_git_is_refused_where_the_work_tree_has_a_file(
    base: tuple[Repo, str, Path],
) -> None:
    """A symlink blob (mode 120000) is a problem for `check --changed-since` even when
    the checkout wrote it as a plain file (core.symlinks=false): git's mode decides."""
    repo, _, year = base
    link = year / f"{HOSTILE_ID}-evil.md"
    repo.git("checkout", "--quiet", "-b", "pr")
    os.symlink("/etc/passwd", link)
    rel = link.relative_to(repo.path).as_posix()
    repo.git("add", "--", rel)
    repo.git("commit", "--quiet", "-m", "a link")
    link.unlink()
    repo.git("config", "core.symlinks", "false")
    repo.git("checkout", "--", rel)
    assert link.is_file() and not link.is_symlink()  # git wrote the target as text

    for args in (["check", "--changed-since", "main"], ["check"], ["check", str(link)]):
        result = run(repo, *args)
        assert result.returncode == 1, result
        assert f"{rel}:1: file-type: is committed to git as a symbolic link" in result.stdout
        assert "front matter" not in result.stdout  # the text was not read as an incident


def test_year_folder_that_is_a_link_is_not_followed(
    base: tuple[Repo, str, Path], tmp_path: Path
) -> None:
    """incidents/2025 linking elsewhere: nothing in it is listed, read or written, and
    `check` and the pull-request check report the link."""
    repo, good_id, year = base
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stolen = (year / os.listdir(year)[0]).read_text().replace(good_id, "INC-20251204-zzzz")
    (elsewhere / "INC-20251204-zzzz-x.md").write_text(stolen)
    link = year.parent / "2025"
    os.symlink(elsewhere, link)
    before = snapshot(elsewhere)
    listed = run(repo, "list")
    assert "INC-20251204-zzzz" not in listed.stdout
    assert "warning: skipped incidents/2025: is a symbolic link" in listed.stderr
    assert "incidents/2025:1: file-type: is a symbolic link" in run(repo, "check").stdout
    assert "not follow links" in one_error(run(repo, "show", "zzzz"))
    repo.git("checkout", "--quiet", "-b", "pr")
    repo.git("add", "--", "incidents/2025")
    repo.git("commit", "--quiet", "-m", "a linked year")
    pr = run(repo, "check", "--changed-since", "main")
    assert "incidents/2025:1: file-type: is committed to git as a symbolic link" in pr.stdout
    assert snapshot(elsewhere) == before


@pytest.mark.parametrize("linked", ["incidents", "incidents/{year}"])
def test_open_never_writes_through_a_linked_folder(repo: Repo, tmp_path: Path, linked: str) -> None:
    """`incidents/` (or its year folder) linking outside: `open` refuses, writes nothing."""
    linked = linked.format(year=datetime.now(timezone.utc).year)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = repo.path / linked
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, target)
    commits = repo.commits()
    error = one_error(run(repo, "open", "Writes outside?", "--severity", "SEV-3"))
    assert f"{linked} is a symbolic link" in error
    assert list(outside.iterdir()) == []
    assert repo.commits() == commits
    if linked == "incidents":
        result = run(repo, "check")
        assert "incidents:1: file-type: is a symbolic link" in result.stdout, result


def test_write_atomic_refuses_a_link_at_the_target(tmp_path: Path) -> None:
    """The target of a write being a link (to a file outside) is refused, not written."""
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "outside.md"
    outside.write_text("keep me\n")
    os.symlink(outside, root / "x.md")
    with pytest.raises(WriteError, match="is a symbolic link"):
        write_atomic(root / "x.md", "new\n", root=root)
    assert outside.read_text() == "keep me\n"
    assert sorted(os.listdir(root)) == ["x.md"]  # no temp file left


# -- read-only files ------------------------------------------------------------------

CHANGING = [
    ["log", "{id}", "an entry"],
    ["status", "{id}", "investigating"],
    ["severity", "{id}", "SEV-2"],
    ["assign", "{id}", "--commander", "bob"],
    ["action", "add", "{id}", "Fix it", "--owner", "bob", "--due", "2030-01-01"],
    ["postmortem", "{id}"],
]


@pytest.mark.parametrize("args", CHANGING, ids=lambda a: a[0] if a[0] != "action" else "action")
def test_read_only_incident_file_is_refused(base: tuple[Repo, str, Path], args: list[str]) -> None:
    """A `chmod 444` file is not replaced by a changing command (root included): one
    line saying how to make it writable; the file, its mode and the history stay."""
    repo, ident, year = base
    path = next(year.iterdir())
    path.chmod(0o444)
    before, commits = path.read_bytes(), repo.commits()
    error = one_error(run(repo, *[a.replace("{id}", ident) for a in args]))
    assert "read-only (mode 0444)" in error and "chmod u+w" in error
    assert path.relative_to(repo.path).as_posix() in error
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert repo.commits() == commits
    assert sorted(os.listdir(year)) == [path.name]  # no temp file left


def test_edit_refuses_a_read_only_file_before_the_editor_opens(
    base: tuple[Repo, str, Path], tmp_path: Path
) -> None:
    """`edit` on a read-only file says so before any typing is wasted in the editor."""
    repo, ident, year = base
    path = next(year.iterdir())
    path.chmod(0o444)
    marker = tmp_path / "editor-ran"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\ntouch {marker}\necho more >> "$1"\n')
    editor.chmod(0o755)
    result = repo.run("edit", ident, env={"EDITOR": str(editor), "VISUAL": str(editor)})
    assert result.exit_code == 1 and "read-only (mode 0444)" in result.output
    assert not marker.exists()


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o755])
def test_a_write_keeps_the_file_mode(base: tuple[Repo, str, Path], mode: int) -> None:
    """A changing command keeps the file's permission bits."""
    repo, ident, year = base
    path = next(year.iterdir())
    path.chmod(mode)
    repo.ok("log", ident, "an entry")
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert "an entry" in path.read_text()


# -- folders that cannot be written ---------------------------------------------------------


@contextmanager
def unwritable(folder: Path) -> Iterator[str]:
    """Make `folder` really refuse new files, for root too; yields the expected reason.

    Not root: mode 0555 (EACCES). Root bypasses modes, so the folder is made
    immutable (`chattr +i`, EPERM). The probe proves the write really fails.
    """
    if not IS_ROOT:
        folder.chmod(0o555)
        reason, undo = "permission denied", lambda: folder.chmod(0o755)
    else:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(folder)], check=False).returncode:
            pytest.skip("running as root without `chattr +i` support: cannot make a folder fail")
        reason, undo = (
            "operation not permitted",
            lambda: subprocess.run([chattr, "-i", str(folder)], check=True),
        )
    try:
        with pytest.raises(OSError) as probe:
            (folder / ".probe").write_text("x")
        assert probe.value.errno in (errno.EACCES, errno.EPERM)
        yield reason
    finally:
        undo()


@pytest.mark.parametrize(
    "args",
    [
        ["open", "Another one", "--severity", "SEV-3"],
        ["log", "{id}", "an entry"],
        ["log", "{id}", "an entry", "--no-commit"],
        ["status", "{id}", "investigating"],
        ["action", "add", "{id}", "Fix it", "--owner", "bob", "--due", "2030-01-01"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_unwritable_incidents_folder_is_one_line(
    base: tuple[Repo, str, Path], args: list[str]
) -> None:
    """A folder that refuses writes gives one line naming the file and the reason, no
    traceback, and changes nothing."""
    repo, ident, year = base
    before, commits = snapshot(repo.path), repo.commits()
    with unwritable(year) as reason:
        error = one_error(run(repo, *[a.replace("{id}", ident) for a in args]))
    assert f"Error: {year.relative_to(repo.path).as_posix()}/INC-" in error
    assert f"cannot write: {reason}" in error
    assert snapshot(repo.path) == before
    assert repo.commits() == commits


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda d: (None, d / ("x" * 300)), "too long", id="ENAMETOOLONG"),
        pytest.param(
            lambda d: ((d / "file").write_text(""), d / "file" / "x.md"),
            "is a regular file; it must be a folder",
            id="ENOTDIR",
        ),
        pytest.param(
            lambda d: ((d / "x.md").mkdir(), d / "x.md"), "is a folder", id="folder-in-the-way"
        ),
    ],
)
def test_write_errors_are_one_line(
    tmp_path: Path, make: Callable[[Path], tuple[object, Path]], expected: str
) -> None:
    """Each kind of OSError from a write is a WriteError naming the file and what to do."""
    _, target = make(tmp_path)
    with pytest.raises(WriteError) as caught:
        write_atomic(target, "text\n", root=tmp_path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(os.path.relpath(target, tmp_path))


# -- duplicate IDs --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["other-slug", "other-year"])
def test_duplicate_full_id_is_an_error_naming_both_files(
    base: tuple[Repo, str, Path], where: str
) -> None:
    """Two files carrying one ID: the full ID and a suffix both name the two paths and
    what to do (never pick one silently); `check` reports both files."""
    repo, ident, year = base
    path = next(year.iterdir())
    folder = year if where == "other-slug" else year.parent / "2025"
    folder.mkdir(exist_ok=True)
    copy = folder / f"{ident}-a-copy.md"
    shutil.copy(path, copy)
    rels = sorted(p.relative_to(repo.path).as_posix() for p in (path, copy))
    commits = repo.commits()
    for args in (["show", ident], ["show", ident[-4:]], ["log", ident, "x"], ["history", ident]):
        error = one_error(run(repo, *args))
        assert f"{ident} is the ID of 2 files" in error, error
        assert all(rel in error for rel in rels) and "remove the copy" in error
    assert repo.commits() == commits
    checked = run(repo, "check")
    for rel in rels:
        assert f"{rel}:" in checked.stdout and "id-unique" in checked.stdout


def test_suffix_matching_two_incidents_still_asks_for_more(base: tuple[Repo, str, Path]) -> None:
    """Two different IDs ending alike: the message lists each ID once."""
    repo, ident, year = base
    text = next(year.iterdir()).read_text()
    other = ident[:-4] + ("9" if ident[-4] != "9" else "8") + ident[-3:]
    (year / f"{other}-x.md").write_text(text.replace(ident, other))
    error = one_error(run(repo, "show", ident[-3:]))
    assert f"matches 2 incidents ({ident}, {other})" in error or f"({other}, {ident})" in error


# -- incidents_dir ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("/srv/incidents", "relative"),
        ("~/incidents", "relative"),
        ("../incidents", "no `..`"),
        ("ops/../../incidents", "no `..`"),
        (".", "not its root"),
        ("./", "not its root"),
        (".git", "inside .git"),
        (".git/incidents", "inside .git"),
        ("ops/.GIT/x", "inside .git"),
        ("incidents*", "`*`"),
        ("inc[1]", "`[`"),
        ('a"b', '`"`'),
        ("a\\b", "`\\`"),
        ("-incidents", "leading `-`"),
        ("!incidents", "leading `!`"),
        ("#incidents", "leading `#`"),
        ("incidents\n", "control characters"),
        (" incidents", "end in spaces"),
        ("ops /incidents", "spaces around"),
    ],
)
def test_bad_incidents_dir_is_refused(value: str, why: str) -> None:
    """`incidents_dir` must name a plain folder below the root, outside .git."""
    with pytest.raises(ConfigError) as caught:
        parse({"incidents_dir": value})
    assert "incidents_dir" in str(caught.value) and why in str(caught.value)


@pytest.mark.parametrize(
    ("value", "stored"),
    [("incidents", "incidents"), ("ops/incidents/", "ops/incidents"), ("./a//b", "a/b")],
)
def test_incidents_dir_is_normalised(value: str, stored: str) -> None:
    """Equivalent spellings of one folder are stored as one."""
    assert parse({"incidents_dir": value}).incidents_dir == stored


def test_incidents_dir_below_a_linked_folder_is_refused(repo: Repo, tmp_path: Path) -> None:
    """`ops/incidents` where `ops` links outside: commands refuse, nothing is written."""
    (repo.path / "incidentctl.toml").write_text('incidents_dir = "ops/incidents"\n')
    outside = tmp_path / "outside"
    (outside / "incidents").mkdir(parents=True)
    os.symlink(outside, repo.path / "ops")
    for args in (["open", "x", "--severity", "SEV-3"], ["list"], ["show", "abcd"]):
        error = one_error(run(repo, *args))
        assert "ops is a symbolic link" in error and "(ops/incidents)" in error, error
    assert list((outside / "incidents").iterdir()) == []
    assert "ops:1: file-type: is a symbolic link" in run(repo, "check").stdout


@pytest.mark.parametrize("folder", ["incident files", "ops/on call", "plain"])
def test_gitattributes_names_a_folder_with_spaces(repo: Repo, folder: str) -> None:
    """`init` writes a .gitattributes line git reads as meant (quoted when it has spaces),
    so the merge driver applies to incident files in that folder and nowhere else."""
    (repo.path / "incidentctl.toml").write_text(f'incidents_dir = "{folder}"\n')
    repo.ok("init", str(repo.path))
    line = gitattributes_line(folder)
    assert line in (repo.path / ".gitattributes").read_text().splitlines()
    assert line.startswith('"') == (" " in folder)
    inside = f"{folder}/2026/INC-20261204-abcd-x.md"
    out = git(repo.path, "check-attr", "merge", "--", inside, "elsewhere/2026/x.md")
    assert out.splitlines() == [
        f"{inside}: merge: incidentctl",
        "elsewhere/2026/x.md: merge: unspecified",
    ]
    ident = repo.open("In a folder with spaces")["id"]
    assert ident in repo.ok("list").stdout


def test_read_only_file_with_a_hand_edit_gets_no_commit(base: tuple[Repo, str, Path]) -> None:
    """A refused write commits nothing, not even the hand edit found in the file."""
    repo, ident, year = base
    path = next(year.iterdir())
    path.write_text(path.read_text() + "\nA hand-written note.\n")
    path.chmod(0o444)
    commits = repo.commits()
    assert "read-only (mode 0444)" in one_error(run(repo, "log", ident, "an entry"))
    assert repo.commits() == commits
    assert "A hand-written note." in path.read_text() and "an entry" not in path.read_text()


def test_full_disk_is_one_line_and_changes_nothing(base: tuple[Repo, str, Path]) -> None:
    """ENOSPC, for real: the repository copied onto a tiny tmpfs (in a private mount
    namespace) that is then filled; `log` says the disk is full and writes nothing."""
    unshare = shutil.which("unshare")
    if not IS_ROOT or unshare is None:
        pytest.skip("needs root and unshare(1) to mount a small tmpfs")
    repo, ident, year = base
    rel = next(year.iterdir()).relative_to(repo.path).as_posix()
    script = f"""
set -u
err=$(mktemp)
mnt=$(mktemp -d)
mount -t tmpfs -o size=4m tmpfs "$mnt" || exit 99
cp -a "{repo.path}" "$mnt/work"
cd "$mnt/work"
before=$(sha256sum "{rel}")
dd if=/dev/zero of="$mnt/fill" bs=4k >/dev/null 2>&1
"{console_script()}" log {ident} "an entry" 2>"$err" >/dev/null
echo "rc=$?"
cat "$err"
rm -f "$err"
[ "$(sha256sum "{rel}")" = "$before" ] && echo same-file
ls -a "$(dirname "{rel}")" | grep -c '\\.tmp$' || true
git status --porcelain
cd / && umount "$mnt" && rmdir "$mnt"
"""
    result = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=run_env(),
        check=False,
    )
    if result.returncode == 99:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    lines = result.stdout.splitlines()
    assert lines[0] == "rc=1", result
    assert lines[1].startswith(f"Error: {rel}: cannot write: no space left on the device")
    assert lines[2:] == ["same-file", "0"], result.stdout  # no temp file, git status clean
