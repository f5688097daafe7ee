"""Running git: one process per call, its errors as GitError; where the repository is."""

from __future__ import annotations

import os

from ...errors import GitError
from ..proc import Completed
from ..proc import run as run_process

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    StrPath = str | os.PathLike[str]


def run_git(
    args: Sequence[str],
    cwd: StrPath,
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Completed:
    try:
        # `-C` is where the process starts, as subprocess's cwd would be (posix_spawn
        # has no working-folder setting before Python 3.13).
        result = run_process(["git", "-C", os.fspath(cwd), *args], input=stdin, env=env)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git") from None
    if check and result.returncode != 0:
        raise GitError(git_message(args, result.stderr or result.stdout))
    return result


def git_message(args: Sequence[str], output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    text = "; ".join(lines[-3:]) if lines else "no output"
    return f"git {args[0]} failed: {text}"


def index_locked(output: str) -> bool:
    return "index.lock" in output and ("File exists" in output or "Unable to create" in output)


HEX = frozenset("0123456789abcdef")


_GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_COMMON_DIR")


def _plain_repo(start: str) -> tuple[str, str] | None:
    """The common case without a process: a folder holding a `.git` folder.

    Anything unusual (git's environment variables, a `.git` file of a worktree or
    submodule) returns None, and git itself is asked.
    """
    if any(name in os.environ for name in _GIT_ENV):
        return None
    candidate = os.path.realpath(start)
    while True:
        dot_git = os.path.join(candidate, ".git")
        if os.path.isdir(dot_git) and os.path.isfile(os.path.join(dot_git, "HEAD")):
            return candidate, dot_git
        if os.path.lexists(dot_git):
            return None
        parent = os.path.dirname(candidate)
        if parent == candidate:
            return None
        candidate = parent


def find_root(start: StrPath) -> tuple[str, str]:
    """The work tree root and the git directory around `start`, as absolute paths."""
    folder = os.fspath(start)
    if not os.path.exists(folder):
        raise GitError(f"{folder}: no such folder; check --repo")
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder) or "."
    plain = _plain_repo(folder)
    if plain is not None:
        return plain
    result = run_git(
        ["rev-parse", "--show-toplevel", "--absolute-git-dir"],
        folder,
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    lines = result.stdout.rstrip("\n").split("\n")  # a path may hold U+2028 or \x85
    if result.returncode != 0 or len(lines) != 2:
        raise GitError(
            no_work_tree(folder)
            or f"not inside a git work tree ({os.fspath(start)}); "
            "run `git init` or pass `--repo PATH`"
        )
    return lines[0], lines[1]


def no_work_tree(folder: StrPath) -> str | None:
    """What to say when `folder` is a bare repository (git has no work tree there); None
    when it is not one (a work tree, or no repository at all)."""
    result = run_git(
        ["rev-parse", "--is-bare-repository"],
        folder,
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    if result.returncode != 0 or result.stdout.strip() != "true":
        return None
    where = os.fspath(folder)
    return (
        f"{where} is a bare git repository (no work tree, so no incident files to "
        f"change); clone it (`git clone {where}`) and run incidentctl in the clone"
    )


def is_work_tree(path: Path) -> bool:
    result = run_git(["rev-parse", "--is-inside-work-tree"], path, check=False)
    return result.returncode == 0 and result.stdout.strip() == "true"


def init_repo(path: Path) -> None:
    run_git(["init", "--quiet"], path)


def merge_file(base: str, ours: str, theirs: str) -> tuple[str, bool]:
    """git merge-file on three texts: (result with conflict markers if any, clean)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="incidentctl-merge-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
            paths.append(str(path))
        import subprocess

        result = subprocess.run(
            ["git", "merge-file", "-p", "-L", "ours", "-L", "base", "-L", "theirs", "--", *paths],
            capture_output=True,
            check=False,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise GitError(f"git merge-file failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode("utf-8", errors="surrogateescape"), result.returncode == 0
