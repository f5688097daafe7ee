"""The cache of front matters in .git/incidentctl/records is never wrong, only missing:
after a hand edit, a branch switch, a pull, a rebase, a deleted or corrupted cache,
`list` (and `show --json` on its fast path) say exactly what the files say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Repo, console_script, git

from incidentctl.cli import cli

CACHE = Path(".git") / "incidentctl" / "records"


def listed(repo: Repo) -> list[dict[str, Any]]:
    """`list --json` as a user runs it (a new process each time)."""
    done = subprocess.run(
        [console_script(), "--repo", str(repo.path), "list", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in rows}


def truth(repo: Repo) -> dict[str, dict[str, Any]]:
    """What the files say, with no cache at all."""
    cache = repo.path / CACHE
    saved = {p.name: p.read_bytes() for p in cache.glob("*")} if cache.exists() else {}
    for path in cache.glob("*"):
        path.unlink()
    rows = by_id(listed(repo))
    for name, data in saved.items():  # put the cache back: the test goes on with it
        (cache / name).write_bytes(data)
    return rows


def set_title(repo: Repo, rel: str, title: str) -> None:
    path = repo.file(rel)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(
        "".join(f"title: {title}\n" if line.startswith("title: ") else line for line in lines),
        encoding="utf-8",
    )


@pytest.fixture
def three(repo: Repo) -> list[dict[str, Any]]:
    made = [repo.open(f"Incident {n}", "--severity", f"SEV-{n}") for n in (1, 2, 3)]
    assert len(listed(repo)) == 3  # fills the cache
    assert any((repo.path / CACHE).glob("fm-*"))
    return made


def test_a_hand_edit_is_seen_at_once(repo: Repo, three: list[dict[str, Any]]) -> None:
    """An uncommitted edit changes the bytes, so the cache entry: the new title shows."""
    set_title(repo, three[0]["path"], "Edited by hand")
    assert by_id(listed(repo))[three[0]["id"]]["title"] == "Edited by hand"
    repo.git("commit", "-qam", "hand edit")
    assert by_id(listed(repo))[three[0]["id"]]["title"] == "Edited by hand"
    assert by_id(listed(repo)) == truth(repo)


def test_an_edit_that_breaks_the_file_is_a_warning_not_a_stale_row(
    repo: Repo, three: list[dict[str, Any]]
) -> None:
    """A file made invalid drops out of the list with a warning, and comes back."""
    path = repo.file(three[1]["path"])
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("severity: SEV-2", "severity: SEV-9"), encoding="utf-8")
    result = subprocess.run(
        [console_script(), "--repo", str(repo.path), "list", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert three[1]["id"] not in result.stdout
    assert "skipped" in result.stderr and "severity" in result.stderr
    path.write_text(good, encoding="utf-8")
    assert three[1]["id"] in by_id(listed(repo))


def test_branch_switch_pull_and_rebase(
    repo: Repo, three: list[dict[str, Any]], origin: Path
) -> None:
    """Whatever git does to the work tree, the list follows it."""
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "-u", "origin", "main")
    repo.git("checkout", "-q", "-b", "other")
    set_title(repo, three[2]["path"], "Title on the other branch")
    repo.git("commit", "-qam", "other title")
    assert by_id(listed(repo))[three[2]["id"]]["title"] == "Title on the other branch"
    repo.git("checkout", "-q", "main")
    assert by_id(listed(repo))[three[2]["id"]]["title"] == "Incident 3"

    # A teammate changes a title and pushes; we pull.
    mate = repo.path.parent / "mate"
    git(repo.path.parent, "clone", "-q", str(origin), str(mate))
    set_title(Repo(mate), three[0]["path"], "Title from a teammate")
    git(mate, "commit", "-qam", "teammate")
    git(mate, "push", "-q", "origin", "main")
    repo.git("pull", "-q", "--no-rebase", "origin", "main")
    assert by_id(listed(repo))[three[0]["id"]]["title"] == "Title from a teammate"

    # Rebase the other branch onto main: both changes.
    repo.git("checkout", "-q", "other")
    repo.git("rebase", "-q", "main")
    rows = by_id(listed(repo))
    assert rows[three[0]["id"]]["title"] == "Title from a teammate"
    assert rows[three[2]["id"]]["title"] == "Title on the other branch"
    assert rows == truth(repo)


def test_new_untracked_and_deleted_files(repo: Repo, three: list[dict[str, Any]]) -> None:
    """A --no-commit incident (untracked) is listed; a deleted file is gone."""
    fresh = repo.json("open", "Not committed yet", "--no-commit")
    assert fresh["id"] in by_id(listed(repo))
    repo.file(three[0]["path"]).unlink()
    assert three[0]["id"] not in by_id(listed(repo))
    assert by_id(listed(repo)) == truth(repo)


@pytest.mark.parametrize("damage", ["delete", "empty", "garbage", "other-version", "folder"])
def test_a_deleted_or_corrupt_cache_is_rebuilt(
    repo: Repo, three: list[dict[str, Any]], damage: str
) -> None:
    """Whatever happened to the cache, the list is right and the cache is rebuilt."""
    expected = by_id(listed(repo))
    cache = repo.path / CACHE
    for shard in cache.glob("fm-*"):
        if damage == "delete":
            shard.unlink()
        elif damage == "empty":
            shard.write_bytes(b"")
        elif damage == "garbage":
            shard.write_bytes(b"\x00\xff not marshal at all")
        elif damage == "other-version":
            import marshal

            shard.write_bytes(marshal.dumps(((0, "0.0.0"), {"x": {"id": "INC-fake"}})))
    if damage == "folder":
        for shard in cache.glob("*"):
            shard.unlink()
        cache.rmdir()
        cache.write_text("a file where the folder was")
    assert by_id(listed(repo)) == expected
    if damage != "folder":
        assert len(list(cache.glob("fm-*"))) >= 1


def test_a_wrong_entry_planted_under_a_real_id_is_not_trusted_for_new_bytes(
    repo: Repo, three: list[dict[str, Any]]
) -> None:
    """Entries are keyed by the bytes' blob id: changing the file leaves a planted entry
    for the old bytes unused."""
    import marshal

    cache = repo.path / CACHE
    for shard in cache.glob("fm-*"):
        key, entries = marshal.loads(shard.read_bytes())
        entries = {blob: {**value, "title": "PLANTED"} for blob, value in entries.items()}
        shard.write_bytes(marshal.dumps((key, entries)))
    for made in three:
        set_title(repo, made["path"], f"Fresh {made['id']}")
    rows = by_id(listed(repo))
    assert all(row["title"] == f"Fresh {ident}" for ident, row in rows.items())


def test_show_json_fast_path_prints_what_the_click_command_prints(
    repo: Repo, three: list[dict[str, Any]]
) -> None:
    """`show ID --json` from the console script (fast path, cache) and from click (model)
    print the same document, custom `x-` keys, alert sources and hand edits included."""
    alert = Path(__file__).resolve().parent / "fixtures" / "alerts" / "alertmanager-firing-3.json"
    made = repo.json("open", "--alert-payload", f"@{alert}")
    path = repo.file(three[0]["path"])
    path.write_text(
        path.read_text(encoding="utf-8").replace("type: outage", "type: outage\nx-team: pay"),
        encoding="utf-8",
    )
    for ident in [made["id"], *(m["id"] for m in three)]:
        for _ in range(2):  # a miss, then a hit
            fast = subprocess.run(
                [console_script(), "--repo", str(repo.path), "show", ident, "--json"],
                capture_output=True,
                text=True,
                check=False,
            )
            assert fast.returncode == 0, fast.stderr
            slow = CliRunner().invoke(cli, ["--repo", str(repo.path), "show", ident, "--json"])
            assert slow.exit_code == 0, slow.output
            assert fast.stdout == slow.stdout
    assert json.loads(fast.stdout)["id"] == three[2]["id"]
    broken = subprocess.run(
        [console_script(), "--repo", str(repo.path), "show", "nope", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode == 1 and broken.stderr.startswith("Error: no incident matches")


def test_show_json_from_the_cache_loads_no_yaml_model_or_click(
    repo: Repo, three: list[dict[str, Any]]
) -> None:
    """Once the file's bytes are cached, `show --json` needs no YAML, pydantic or click."""
    code = (
        "import sys; from incidentctl.fastpath import run; status = run(sys.argv[1:]); "
        "heavy = [m for m in ('yaml', 'pydantic', 'click', 'jinja2', 'git') if m in sys.modules]; "
        "sys.stderr.write(repr(heavy)); sys.exit(status)"
    )
    args = ["--repo", str(repo.path), "show", three[1]["id"], "--json"]
    import sys

    for expected_heavy in (None, "[]"):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        if expected_heavy is not None:
            assert done.stderr == expected_heavy
