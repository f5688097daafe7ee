"""Working as a team on real git: a bare origin, real clones, real parallel processes.

Every command here runs the installed `incidentctl` console script as its own OS
process (the merge driver too, as git runs it), except where a test says otherwise.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, console_script, git

from incidentctl.incident.file import IncidentFile
from incidentctl.incident.validation import validate
from incidentctl.repo.merge import merge_incident

# This venv's console script (CI's .venv, or a local one), else the first on PATH.
MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)


# -- helpers ---------------------------------------------------------------------------------------


def cli(
    repo: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `incidentctl` console script on `repo` as a child process."""
    result = subprocess.run(
        [console_script(), "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    if check:
        assert result.returncode == 0, (
            f"incidentctl {' '.join(args)} exited {result.returncode}: "
            f"{result.stderr.strip()} {result.stdout.strip()}"
        )
    return result


def cli_json(repo: Path, *args: str) -> Any:
    return json.loads(cli(repo, *args, "--json").stdout)


def run_git(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """git that may fail; the caller looks at the result."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def fsck(path: Path) -> None:
    result = run_git(path, "fsck", "--full", "--no-progress")
    bad = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.split(" ", 1)[0] in ("error:", "missing", "broken", "fatal:", "bad")
    ]
    assert result.returncode == 0 and not bad, f"git fsck: {result.stdout}{result.stderr}"


@dataclass
class Team:
    """A bare origin holding one open incident, and a way to make more clones of it."""

    tmp: Path
    origin: Path
    ident: str
    rel: str  # the incident file, relative to a clone's root
    clones: list[Path] = field(default_factory=list)

    def clone(self, name: str) -> Path:
        """A fresh clone of origin with the merge driver registered (`incidentctl init`)."""
        path = self.tmp / name
        git(self.tmp, "clone", "--quiet", str(self.origin), str(path))
        result = subprocess.run(
            [console_script(), "init", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert git(path, "status", "--porcelain") == "", "init changed a clone's files"
        assert "merge-driver" in git(path, "config", "--get", "merge.incidentctl.driver")
        self.clones.append(path)
        return path

    def origin_text(self, rel: str | None = None) -> str:
        return git(self.origin, "show", f"main:{rel or self.rel}")

    def origin_head(self) -> str:
        return git(self.origin, "rev-parse", "main").strip()


def make_team(tmp_path: Path, origin: Path, title: str = "Checkout failing") -> Team:
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(origin), str(seed))
    subprocess.run(
        [console_script(), "init", str(seed)], capture_output=True, text=True, check=True
    )
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "Set up the incident repository")
    opened = cli_json(seed, "open", title, "--severity", "SEV-3")
    git(seed, "push", "--quiet", "-u", "origin", "main")
    return Team(tmp_path, origin, opened["id"], opened["path"])


@pytest.fixture
def team(tmp_path: Path, origin: Path) -> Team:
    return make_team(tmp_path, origin)


def timeline(text: str) -> list[Any]:
    return IncidentFile(text).timeline()


def texts(text: str) -> list[str]:
    return [entry.text for entry in timeline(text)]


def assert_time_order(text: str) -> None:
    stamps = [entry.at for entry in timeline(text)]
    assert stamps == sorted(stamps), "timeline entries are out of time order"


def snapshot(path: Path) -> dict[str, Any]:
    """HEAD, the commits, `git status` and every work-tree file's bytes."""
    files = {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in path.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }
    return {
        "head": git(path, "rev-parse", "HEAD"),
        "log": git(path, "log", "--format=%H %P %s"),
        "status": git(path, "status", "--porcelain=v1", "-uall"),
        "index": git(path, "ls-files", "--stage"),
        "files": files,
    }


# -- 1. five clones, one incident ------------------------------------------------------------------

CLONES = 5
PER_CLONE = 20
SYNC_EVERY = 4
# Five clones racing on two cores: a sync may be beaten more than the default 6 times.
# The numbers printed say how many syncs needed more than 6 attempts.
SYNC_ATTEMPTS = 20


def test_five_clones_append_and_sync_in_parallel_and_origin_keeps_every_entry(team: Team) -> None:
    """5 clones x 20 entries, parallel interleaved syncs: origin keeps all 100 once, in order."""
    clones = [team.clone(f"clone{k}") for k in range(1, CLONES + 1)]

    def work(k: int, path: Path) -> tuple[list[subprocess.CompletedProcess[str]], list[Any]]:
        runs, syncs = [], []
        for i in range(1, PER_CLONE + 1):
            runs.append(cli(path, "log", team.ident, f"clone{k} entry {i:02d}", check=False))
            if i % SYNC_EVERY == 0 or i == PER_CLONE:
                result = cli(path, "sync", "--json", "--attempts", str(SYNC_ATTEMPTS), check=False)
                runs.append(result)
                if result.returncode == 0:
                    syncs.append(json.loads(result.stdout))
        return runs, syncs

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLONES) as pool:
        done = list(pool.map(work, range(1, CLONES + 1), clones))
    for path in clones:  # a final sync of each: all up to date with origin
        final = json.loads(cli(path, "sync", "--json").stdout)
        assert final["pushed"] == 0, final
    elapsed = time.monotonic() - started

    runs = [r for clone_runs, _ in done for r in clone_runs]
    syncs = [s for _, clone_syncs in done for s in clone_syncs]
    failed = [(r.args, r.returncode, r.stderr.strip()) for r in runs if r.returncode != 0]
    attempts = [s["attempts"] for s in syncs]
    text = team.origin_text()
    written = [
        f"clone{k} entry {i:02d}" for k in range(1, CLONES + 1) for i in range(1, PER_CLONE + 1)
    ]
    kept = texts(text)
    counts = Counter(kept)
    numbers = (
        f"processes={len(runs)} failed={len(failed)} written={len(written)} "
        f"kept={sum(counts[w] for w in written)} "
        f"distinct_kept={len([w for w in written if counts[w]])} "
        f"timeline={len(kept)} syncs={len(syncs)} attempts={sum(attempts)} "
        f"retries={sum(a - 1 for a in attempts)} max_attempts={max(attempts, default=0)} "
        f"over_default_6={sum(a > 6 for a in attempts)} "
        f"pulled={sum(s['pulled'] for s in syncs)} pushed={sum(s['pushed'] for s in syncs)} "
        f"seconds={elapsed:.1f}"
    )
    print(f"\n[five clones] {numbers}")

    assert not failed, f"{numbers}; failed: {failed[:3]}"
    assert [w for w in written if counts[w] != 1] == [], numbers
    assert len(kept) == len(written) + 1, numbers  # the 100 and the opening entry
    assert timeline(text)[0].kind == "opened"
    assert_time_order(text)
    for k in range(1, CLONES + 1):  # each clone's own entries keep their order
        own = [t for t in kept if t.startswith(f"clone{k} ")]
        assert own == sorted(own), f"clone{k}'s entries are out of order"
    assert not MARKER.search(text), "conflict markers reached origin"
    for path in clones:  # every clone ends with exactly origin's file
        assert (path / team.rel).read_text(encoding="utf-8") == text
        assert git(path, "status", "--porcelain") == ""

    fresh = team.clone("fresh")
    checked = cli(fresh, "check", check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    fsck(team.origin)
    # one commit per entry, none lost or doubled by the rebases
    subjects = git(team.origin, "log", "--format=%s", "main").splitlines()
    assert sum(1 for s in subjects if ": log note: clone" in s) == len(written), numbers


# -- 2. fields changed on two clones ---------------------------------------------------------------


def test_different_fields_changed_on_two_clones_are_both_kept(team: Team) -> None:
    """status on one clone and severity on another: after both sync, origin has both."""
    a, b = team.clone("a"), team.clone("b")
    cli(a, "status", team.ident, "investigating")
    cli(b, "severity", team.ident, "1")
    cli(a, "sync")
    result = cli_json(b, "sync")
    assert result["pulled"] == 1 and result["pushed"] == 1

    text = team.origin_text()
    data = IncidentFile(text).data
    assert data["status"] == "investigating"
    assert data["severity"] == "SEV-1"
    assert data["acknowledged_at"] is not None  # stamped by the status change
    kept = texts(text)
    assert "Status triage → investigating" in kept
    assert any(t.startswith("Severity SEV-3 → SEV-1") for t in kept)
    assert not MARKER.search(text)
    assert_time_order(text)
    validate(IncidentFile(text))


def conflict_setup(
    team: Team, command: tuple[str, ...], mine: tuple[str, ...]
) -> tuple[Path, Path]:
    a, b = team.clone("a"), team.clone("b")
    cli(a, *command)
    cli(b, *mine)
    cli(a, "sync")
    return a, b


def test_same_field_changed_differently_stops_sync_and_leaves_everything_as_it_was(
    team: Team,
) -> None:
    """Both set severity differently: the second sync exits 1, says how, and changes nothing."""
    _, b = conflict_setup(
        team, ("severity", team.ident, "2"), ("severity", team.ident, "1", "-m", "all hands")
    )
    origin_before = team.origin_head()
    before = snapshot(b)
    mine = git(b, "rev-parse", "HEAD").strip()

    result = cli(b, "sync", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr
    assert team.rel in message, message
    assert "git pull --rebase" in message and "git rebase --continue" in message, message
    assert "nothing was changed here" in message, message
    assert "Traceback" not in message

    assert snapshot(b) == before, "the failed sync changed the clone"
    assert team.origin_head() == origin_before, "the failed sync changed origin"
    assert git(b, "log", "-1", "--format=%H").strip() == mine  # the local commit is still there
    assert not (b / ".git" / "rebase-merge").exists() and not (b / ".git" / "rebase-apply").exists()

    # Resolving by hand, as the message says: markers around the one field only.
    pulled = run_git(b, "pull", "--rebase")
    assert pulled.returncode != 0
    text = (b / team.rel).read_text(encoding="utf-8")
    assert MARKER.findall(text) and len(MARKER.findall(text)) == 3, text
    block = text[text.index("<<<<<<<") : text.index(">>>>>>>")].splitlines()
    assert block == ["<<<<<<< ours", "severity: SEV-2", "=======", "severity: SEV-1"], block
    body = text[text.index(">>>>>>>") :]
    assert body.count("Severity SEV-3 → SEV-2 (escalated)") == 1, "their entry is merged in"
    assert body.count("Severity SEV-3 → SEV-1 (escalated): all hands") == 1, "ours is merged in"

    shown = cli(b, "show", team.ident, check=False)
    assert shown.returncode == 1
    assert "conflict marker" in shown.stderr and team.rel in shown.stderr, shown.stderr

    resolved = re.sub(r"<<<<<<< ours\n.*?>>>>>>> theirs\n", "severity: SEV-1\n", text, flags=re.S)
    (b / team.rel).write_text(resolved, encoding="utf-8")
    git(b, "add", team.rel)
    assert run_git(b, "rebase", "--continue", env={"GIT_EDITOR": "true"}).returncode == 0
    assert cli_json(b, "show", team.ident)["severity"] == "SEV-1"
    assert cli_json(b, "sync")["pushed"] == 1
    final = team.origin_text()
    assert IncidentFile(final).data["severity"] == "SEV-1"
    assert sum(t.startswith("Severity SEV-3 → ") for t in texts(final)) == 2
    assert not MARKER.search(final)
    assert_time_order(final)


def test_commander_assigned_differently_on_two_clones_is_a_reported_conflict(team: Team) -> None:
    """Both assign a different commander: sync exits 1, the clone and origin are untouched."""
    _, b = conflict_setup(
        team,
        ("assign", team.ident, "--commander", "Dana"),
        ("assign", team.ident, "--commander", "Eve", "--role", "comms=Frank"),
    )
    origin_before = team.origin_head()
    before = snapshot(b)
    result = cli(b, "sync", check=False)
    assert result.returncode == 1 and team.rel in result.stderr, result.stderr
    assert snapshot(b) == before
    assert team.origin_head() == origin_before

    assert run_git(b, "pull", "--rebase").returncode != 0
    text = (b / team.rel).read_text(encoding="utf-8")
    block = text[text.index("<<<<<<<") : text.index(">>>>>>>")].splitlines()
    assert block == ["<<<<<<< ours", "commander: Dana", "=======", "commander: Eve"], block
    assert len(MARKER.findall(text)) == 3, "markers anywhere but around `commander`"
    assert "roles:\n  comms: Frank\n" in text  # the role only one side set is merged in
    assert "Assigned commander=Dana" in text and "Assigned commander=Eve, comms=Frank" in text


def test_action_items_added_on_two_clones_after_the_postmortem_both_sync(team: Team) -> None:
    """Each clone adds an action item to a post-mortem: both sync; items and table agree."""
    a = team.clone("a")
    cli(a, "postmortem", team.ident)
    cli(a, "sync")
    b = team.clone("b")
    cli(a, "action", "add", team.ident, "Cap retries", "--owner", "erin", "--due", "2027-01-05")
    cli(b, "action", "add", team.ident, "Shard the queue", "--owner", "fred", "--due", "2027-01-06")
    cli(a, "sync")
    result = cli_json(b, "sync")
    assert (result["pulled"], result["pushed"]) == (1, 1)

    text = team.origin_text()
    items = [(i["id"], i["title"]) for i in IncidentFile(text).data["action_items"]]
    assert items == [("AI-1", "Cap retries"), ("AI-2", "Shard the queue")]
    rows = re.findall(r"^\| (AI-\d+) \| ([^|]+?) \|", text, re.M)
    assert rows == items
    assert not MARKER.search(text)
    assert cli(b, "check", check=False).returncode == 0


# -- 3. IDs across clones --------------------------------------------------------------------------


def test_two_clones_opening_at_the_same_moment_get_two_incidents(team: Team) -> None:
    """Two `open`s started together on two clones: two distinct IDs and files in origin."""
    a, b = team.clone("a"), team.clone("b")
    procs = [
        subprocess.Popen(
            [console_script(), "--repo", str(p), "open", "Payments down", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in (a, b)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    opened = [json.loads(out) for out, _ in outs]
    cli(a, "sync")
    cli(b, "sync")
    ids = {o["id"] for o in opened}
    assert len(ids) == 2
    tree = git(team.origin, "ls-tree", "-r", "--name-only", "main", "incidents").split()
    assert {o["path"] for o in opened} <= set(tree)
    fresh = team.clone("fresh")
    listed = {row["id"] for row in cli_json(fresh, "list")}
    assert ids | {team.ident} == listed


def test_a_forced_id_collision_is_renumbered_on_sync(team: Team) -> None:
    """The same ID on two clones (different titles): sync renumbers the unpushed one."""
    a, b = team.clone("a"), team.clone("b")
    first = cli_json(a, "open", "Disk full on db-1")
    taken = first["id"]
    second = cli_json(b, "open", "Queue backlog", "--no-commit")
    made = b / second["path"]
    forged = made.with_name(made.name.replace(second["id"], taken))
    forged.write_text(
        made.read_text(encoding="utf-8").replace(f"id: {second['id']}", f"id: {taken}"),
        encoding="utf-8",
    )
    made.unlink()
    git(b, "add", str(forged.relative_to(b)))
    git(
        b,
        "commit",
        "--quiet",
        "-m",
        f"incident({taken}): open SEV-3: Queue backlog\n\nIncident: {taken}",
    )
    assert cli_json(b, "show", taken)["title"] == "Queue backlog"  # the collision is real here

    cli(a, "sync")
    result = cli_json(b, "sync")
    assert len(result["renumbered"]) == 1, result
    new = result["renumbered"][0]["to"]
    assert result["renumbered"][0]["from"] == taken and new != taken
    assert re.fullmatch(r"INC-\d{8}-[0-9a-z]{4}", new), new

    tree = git(team.origin, "ls-tree", "-r", "--name-only", "main", "incidents").split()
    renamed = forged.with_name(forged.name.replace(taken, new)).relative_to(b).as_posix()
    assert first["path"] in tree and renamed in tree
    assert forged.relative_to(b).as_posix() not in tree
    assert not forged.exists() and (b / renamed).exists()
    ids = {IncidentFile(team.origin_text(p)).id for p in tree if p.endswith(".md")}
    assert ids == {team.ident, taken, new}
    assert IncidentFile(team.origin_text(renamed)).data["title"] == "Queue backlog"
    assert IncidentFile(team.origin_text(first["path"])).data["title"] == "Disk full on db-1"

    trailer = git(team.origin, "log", "--format=%H", f"--grep=^Incident: {new}$", "main").split()
    assert len(trailer) == 1
    changes = git(team.origin, "show", "-M", "--name-status", "--format=%s", trailer[0])
    assert f"renumber from {taken}" in changes
    assert re.search(
        rf"^R\d+\t{re.escape(forged.relative_to(b).as_posix())}\t{re.escape(renamed)}$",
        changes,
        re.M,
    ), changes
    fresh = team.clone("fresh")
    assert cli(fresh, "check", check=False).returncode == 0


# -- 4. many processes on one clone ----------------------------------------------------------------


def test_sixteen_parallel_log_processes_on_one_clone_all_land(team: Team) -> None:
    """16 `log` processes started at once: all exit 0, 16 entries, 16 commits, fsck clean."""
    path = team.clone("solo")
    before = int(git(path, "rev-list", "--count", "HEAD"))
    procs = [
        subprocess.Popen(
            [console_script(), "--repo", str(path), "log", team.ident, f"parallel {n:02d}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(16)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * 16, [err for _, err in outs if err]
    text = (path / team.rel).read_text(encoding="utf-8")
    counts = Counter(texts(text))
    assert [counts[f"parallel {n:02d}"] for n in range(16)] == [1] * 16
    assert len(timeline(text)) == 17
    assert_time_order(text)
    assert int(git(path, "rev-list", "--count", "HEAD")) == before + 16
    for sha in git(path, "rev-list", "HEAD~16..HEAD").split():
        assert git(path, "show", "--name-only", "--format=", sha).split() == [team.rel]
    assert git(path, "status", "--porcelain") == ""
    assert not (path / ".git" / "index.lock").exists()
    fsck(path)


# -- 5. kill -9 ------------------------------------------------------------------------------------


def wait_group_gone(pgid: int, timeout: float = 20.0) -> None:
    """Wait until no live process is left in a process group (orphaned git children too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                alive = True
                break
        if not alive:
            return
        time.sleep(0.01)
    raise AssertionError(f"process group {pgid} still running after {timeout} s")


def test_kill_9_at_random_points_never_breaks_the_file_or_the_repository(team: Team) -> None:
    """50 SIGKILLs during log/status: the file parses, no temp files, fsck clean, next log works."""
    path = team.clone("victim")
    incident = path / team.rel
    folder = incident.parent
    here = Repo(path)  # the follow-up command runs in-process (the real CLI, real git)
    seed = os.environ.get("INCIDENTCTL_KILL_SEED") or str(random.randrange(10**6))
    rng = random.Random(seed)

    # Whole, unkilled commands: the longest run of each is the span to kill inside.
    spans: dict[str, float] = {"log": 0.0, "status": 0.0}
    for kind, args in [
        ("log", ["log", team.ident, "calibration"]),
        ("status", ["status", team.ident, "resolved"]),
        ("log", ["log", team.ident, "calibration"]),
        ("status", ["status", team.ident, "investigating"]),
    ]:
        start = time.monotonic()
        cli(path, *args)
        spans[kind] = max(spans[kind], time.monotonic() - start)

    outcomes: Counter[str] = Counter()
    landed: dict[str, str] = {}  # victim text -> outcome
    for n in range(50):
        head = git(path, "rev-parse", "HEAD").strip()
        committed_text = git(path, "show", f"HEAD:{team.rel}")
        kind = "log" if n % 2 == 0 else "status"
        span = spans[kind]
        if kind == "log":
            label = f"victim {n:02d}"
            args = ["log", team.ident, label]
        else:
            status = IncidentFile(incident.read_text(encoding="utf-8")).data["status"]
            label = f"status {n:02d}"
            args = ["status", team.ident, "investigating" if status == "resolved" else "resolved"]
        proc = subprocess.Popen(
            [console_script(), "--repo", str(path), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        # Half the kills anywhere in the command, half in its tail (read, write, commit).
        late = n % 4 >= 2
        time.sleep(rng.uniform(0.5 * span, 1.2 * span) if late else rng.uniform(0, span))
        proc.send_signal(signal.SIGKILL)  # the command only, as `kill -9 PID` does
        _, err = proc.communicate()
        wait_group_gone(proc.pid)  # a git it started finishes on its own
        temps = sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))
        if proc.returncode == 0:
            outcome = "finished"
        elif git(path, "rev-parse", "HEAD").strip() != head:
            outcome = "after commit"
        elif incident.read_text(encoding="utf-8") != committed_text:
            outcome = "after write, before commit"
        elif temps:
            outcome = "mid-write (temp file left)"
        else:
            outcome = "before write"
        assert proc.returncode in (0, -signal.SIGKILL), err
        outcomes[f"{kind}: {outcome}"] += 1
        landed[label] = outcome

        text = incident.read_text(encoding="utf-8")
        validate(IncidentFile(text, team.rel))  # old or new, never half-written
        assert not MARKER.search(text)
        assert not (path / ".git" / "index.lock").exists(), f"kill {n} left .git/index.lock"
        fsck(path)
        shown = here.run("show", team.ident, "--json")
        assert shown.exit_code == 0, shown.output
        after = here.run("log", team.ident, f"after kill {n:02d}")
        assert after.exit_code == 0, (n, outcome, after.output)
        # A killed command cannot tidy up after itself; the next one (holding the lock) does.
        leftovers = sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))
        assert leftovers == [], f"kill {n} ({outcome}) left {leftovers} past the next command"

    shown_spans = {k: round(v, 2) for k, v in spans.items()}
    print(f"\n[kill -9] seed={seed} spans={shown_spans} outcomes={dict(outcomes)}")
    final = cli(path, "log", team.ident, "after all kills")  # a real process, too
    assert final.returncode == 0
    text = incident.read_text(encoding="utf-8")
    counts = Counter(texts(text))
    assert [n for n in range(50) if counts[f"after kill {n:02d}"] != 1] == []
    for label, outcome in landed.items():
        if label.startswith("victim"):  # a killed log is there once, or not at all
            expected = 0 if outcome in ("before write", "mid-write (temp file left)") else 1
            assert counts[label] == expected, (label, outcome, counts[label])
    assert git(path, "status", "--porcelain") == ""
    assert_time_order(text)
    assert cli(path, "check", check=False).returncode == 0
    fsck(path)


def test_a_stale_git_index_lock_fails_the_next_command_cleanly(team: Team) -> None:
    """A git killed mid-commit leaves .git/index.lock: log waits, exits 1, says what to do."""
    path = team.clone("a")
    before = (path / team.rel).read_bytes()
    (path / ".git" / "index.lock").write_bytes(b"")  # what a SIGKILLed `git commit` leaves
    start = time.monotonic()
    result = cli(path, "log", team.ident, "blocked by the lock", check=False)
    waited = time.monotonic() - start
    assert result.returncode == 1
    assert ".git/index.lock" in result.stderr and "remove the lock" in result.stderr
    assert waited < 60, waited
    assert (path / team.rel).read_bytes() == before  # the entry was taken back out
    (path / ".git" / "index.lock").unlink()
    assert git(path, "status", "--porcelain") == ""
    cli(path, "log", team.ident, "after the lock is gone")


def test_the_next_command_removes_temp_files_a_killed_write_left(team: Team) -> None:
    """Temp files of a killed write are swept by the next change; other files are not."""
    here = Repo(team.clone("a"))
    folder = here.path / Path(team.rel).parent
    name = Path(team.rel).name
    stale = [folder / f".{name}.k3x_9q2a.tmp", folder / ".INC-20261126-zzzz-other.md.abcdefgh.tmp"]
    kept = [folder / "notes.tmp", folder / f"{name}.tmp", folder / ".hidden.txt.abcdefgh.tmp"]
    for path in (*stale, *kept):
        path.write_text("half a file", encoding="utf-8")
    result = here.run("log", team.ident, "after a crash")
    assert result.exit_code == 0, result.output
    assert [p.exists() for p in stale] == [False, False]
    assert [p.exists() for p in kept] == [True, True, True]


# -- 6. plain git pull with the driver -------------------------------------------------------------


def test_plain_git_pull_merges_concurrent_timelines_with_the_driver(team: Team) -> None:
    """git pull (a merge) and git pull --rebase keep both clones' entries, no markers."""
    a, b = team.clone("a"), team.clone("b")
    cli(a, "log", team.ident, "from a: rolled back deploy 812")
    cli(b, "log", team.ident, "from b: paged the database on-call")
    cli(a, "sync")

    merged = run_git(b, "pull", "--no-rebase", "--no-edit")
    assert merged.returncode == 0, merged.stderr + merged.stdout
    parents = git(b, "log", "-1", "--format=%P").split()
    assert len(parents) == 2, "git pull made no merge commit"
    text = (b / team.rel).read_text(encoding="utf-8")
    kept = texts(text)
    assert kept.count("from a: rolled back deploy 812") == 1
    assert kept.count("from b: paged the database on-call") == 1
    assert not MARKER.search(text)
    assert_time_order(text)
    validate(IncidentFile(text))
    assert git(b, "status", "--porcelain") == ""
    cli(b, "sync")

    cli(a, "log", team.ident, "from a: error rate falling")
    cli(b, "log", team.ident, "from b: customers notified", "--kind", "comms")
    cli(b, "sync")
    rebased = run_git(a, "pull", "--rebase")
    assert rebased.returncode == 0, rebased.stderr + rebased.stdout
    assert len(git(a, "log", "-1", "--format=%P").split()) == 1
    text = (a / team.rel).read_text(encoding="utf-8")
    kept = texts(text)
    for wanted in (
        "from a: rolled back deploy 812",
        "from b: paged the database on-call",
        "from a: error rate falling",
        "from b: customers notified",
    ):
        assert kept.count(wanted) == 1, wanted
    assert not MARKER.search(text)
    assert_time_order(text)
    assert git(a, "status", "--porcelain") == ""
    assert cli(a, "check", check=False).returncode == 0


# -- 7. merge_incident on hand-made texts ----------------------------------------------------------

BASE = """\
---
id: INC-20261126-ab12
title: Checkout failing
status: investigating
severity: SEV-2
type: outage
environment: production
services:
- checkout
commander: Alice
roles:
  comms: Bob
visibility: internal
detected_at: null
started_at: null
opened_at: 2026-11-26T10:00:00Z
acknowledged_at: 2026-11-26T10:05:00Z
mitigated_at: null
resolved_at: null
closed_at: null
action_items:
- id: AI-1
  title: Add a saturation alert
  owner: bob
  due: 2026-12-10
  status: open
- id: AI-2
  title: Load-test checkout
  owner: carol
  due: 2026-12-20
  status: open
---

# Checkout failing

## Summary

Checkout returns 500s for a third of requests.

## Timeline

- `2026-11-26T10:00:00Z` **Alice** _(opened)_ Incident opened.
- `2026-11-26T10:05:00Z` **Alice** _(status)_ Status triage → investigating

## Notes

Nothing yet.
"""


def with_entry(text: str, line: str) -> str:
    """Insert a timeline entry line after the last one (hand-made, in time order)."""
    anchor = "- `2026-11-26T10:05:00Z` **Alice** _(status)_ Status triage → investigating\n"
    return text.replace(anchor, anchor + line + "\n")


def merged(ours: str, theirs: str, base: str = BASE) -> tuple[str, bool, IncidentFile | None]:
    text, clean = merge_incident(base, ours, theirs, "incidents/2026/x.md")
    return text, clean, IncidentFile(text) if clean else None


def test_merge_unions_timelines_in_time_order_with_exact_duplicates_once() -> None:
    """Both sides' entries kept, in time order; an entry both sides wrote appears once."""
    shared = "- `2026-11-26T10:20:00Z` **Bob** _(note)_ Rolled back deploy 812"
    ours = with_entry(with_entry(BASE, shared), "- `2026-11-26T10:10:00Z` **Alice** _(note)_ ours")
    theirs = with_entry(
        with_entry(BASE, "- `2026-11-26T10:30:00Z` **Carol** _(note)_ theirs\n  second line"),
        shared,
    )
    text, clean, file = merged(ours, theirs)
    assert clean and file is not None
    assert [e.text for e in file.timeline()] == [
        "Incident opened.",
        "Status triage → investigating",
        "ours",
        "Rolled back deploy 812",
        "theirs\nsecond line",
    ]
    assert text.count("Rolled back deploy 812") == 1
    assert text.endswith("## Notes\n\nNothing yet.\n")
    validate(file)


def test_merge_action_items_by_id() -> None:
    """One side marks AI-1 done, the other changes AI-2's owner: both changes kept."""
    ours = BASE.replace("  due: 2026-12-10\n  status: open", "  due: 2026-12-10\n  status: done")
    theirs = BASE.replace("  owner: carol", "  owner: dave")
    _, clean, file = merged(ours, theirs)
    assert clean and file is not None
    items = {i["id"]: i for i in file.data["action_items"]}
    assert items["AI-1"]["status"] == "done" and items["AI-1"]["owner"] == "bob"
    assert items["AI-2"]["owner"] == "dave" and items["AI-2"]["status"] == "open"
    assert list(items) == ["AI-1", "AI-2"]


def test_merge_renumbers_an_action_item_id_added_on_both_sides() -> None:
    """Both add AI-3 for different work: ours keeps AI-3, theirs becomes AI-4."""
    tail = "  due: 2026-12-20\n  status: open\n---"

    def add(text: str, title: str) -> str:
        item = f"- id: AI-3\n  title: {title}\n  owner: erin\n  due: 2027-01-05\n  status: open\n"
        return text.replace(tail, tail[:-3] + item + "---")

    _, clean, file = merged(add(BASE, "Cap retries"), add(BASE, "Shard the queue"))
    assert clean and file is not None
    items = {i["id"]: i["title"] for i in file.data["action_items"]}
    assert items == {
        "AI-1": "Add a saturation alert",
        "AI-2": "Load-test checkout",
        "AI-3": "Cap retries",
        "AI-4": "Shard the queue",
    }
    validate(file)


def table(*rows: tuple[str, str, str, str, str]) -> str:
    """A post-mortem Action Items section with the tool-owned table, as `postmortem` writes it."""
    lines = [
        f"| {i} | {title} | {owner} | {due} | {status} | - |\n"
        for i, title, owner, due, status in rows
    ]
    return (
        "\n## Action Items\n\n<!-- incidentctl:action-items -->\n"
        "| ID | Action | Owner | Due | Status | Issue |\n| --- | --- | --- | --- | --- | --- |\n"
        + "".join(lines)
        + "<!-- /incidentctl:action-items -->\n"
    )


ROWS = (
    ("AI-1", "Add a saturation alert", "bob", "2026-12-10", "open"),
    ("AI-2", "Load-test checkout", "carol", "2026-12-20", "open"),
)


def test_merge_renders_the_post_mortem_table_from_the_merged_action_items() -> None:
    """Both add AI-3 after the post-mortem: no table conflict; the rows follow the merged items."""
    tail = "  due: 2026-12-20\n  status: open\n---"

    def add(title: str) -> str:
        item = f"- id: AI-3\n  title: {title}\n  owner: erin\n  due: 2027-01-05\n  status: open\n"
        front = BASE.replace(tail, tail[:-3] + item + "---")
        return front + table(*ROWS, ("AI-3", title, "erin", "2027-01-05", "open"))

    text, clean, file = merged(add("Cap retries"), add("Shard the queue"), BASE + table(*ROWS))
    assert clean and file is not None, text
    assert [i["id"] for i in file.data["action_items"]] == ["AI-1", "AI-2", "AI-3", "AI-4"]
    assert text.endswith(
        table(
            *ROWS,
            ("AI-3", "Cap retries", "erin", "2027-01-05", "open"),
            ("AI-4", "Shard the queue", "erin", "2027-01-05", "open"),
        )
    )
    assert not MARKER.search(text)


def test_merge_roles_per_key() -> None:
    """Roles merge key by key; the same role set differently on both sides conflicts."""
    ours = BASE.replace("  comms: Bob\n", "  comms: Bob\n  scribe: Sam\n")
    theirs = BASE.replace("  comms: Bob\n", "  comms: Bob\n  deputy: Dee\n")
    _, clean, file = merged(ours, theirs)
    assert clean and file is not None
    assert file.data["roles"] == {"comms": "Bob", "scribe": "Sam", "deputy": "Dee"}

    text, clean, _ = merged(
        BASE.replace("comms: Bob", "comms: Zoe"), BASE.replace("comms: Bob", "comms: Yan")
    )
    assert not clean
    assert (
        "<<<<<<< ours\nroles:\n  comms: Zoe\n=======\nroles:\n  comms: Yan\n>>>>>>> theirs\n"
        in text
    )


def test_merge_body_text_outside_the_timeline() -> None:
    """A summary edited on one side is taken; edited differently on both, it is marked."""
    edited = BASE.replace("for a third of requests.", "for all EU requests.")
    text, clean, file = merged(
        edited, with_entry(BASE, "- `2026-11-26T10:40:00Z` **Bob** _(note)_ theirs")
    )
    assert clean and file is not None
    assert "Checkout returns 500s for all EU requests." in text
    assert [e.text for e in file.timeline()][-1] == "theirs"

    other = BASE.replace("for a third of requests.", "for mobile users only.")
    text, clean, _ = merged(edited, other)
    assert not clean
    assert "<<<<<<< ours\nCheckout returns 500s for all EU requests.\n=======\n" in text
    assert "Checkout returns 500s for mobile users only.\n>>>>>>> theirs\n" in text
    assert text.count("Incident opened.") == 1


def test_merge_same_field_differently_is_a_conflict_and_one_side_changes_are_taken() -> None:
    """status on one side and severity on the other merge; severity on both conflicts."""
    _, clean, file = merged(
        BASE.replace("status: investigating", "status: identified"),
        BASE.replace("severity: SEV-2", "severity: SEV-1"),
    )
    assert clean and file is not None
    assert (file.data["status"], file.data["severity"]) == ("identified", "SEV-1")

    text, clean, _ = merged(
        BASE.replace("severity: SEV-2", "severity: SEV-1"),
        BASE.replace("severity: SEV-2", "severity: SEV-3"),
    )
    assert not clean
    assert "<<<<<<< ours\nseverity: SEV-1\n=======\nseverity: SEV-3\n>>>>>>> theirs\n" in text
    assert len(MARKER.findall(text)) == 3


def test_merge_falls_back_to_a_line_merge_when_a_side_does_not_parse(tmp_path: Path) -> None:
    """An unparseable side: the result is exactly git merge-file's 3-way line merge."""
    broken = BASE.replace("title: Checkout failing", "title: [Checkout failing")
    theirs = with_entry(BASE, "- `2026-11-26T10:40:00Z` **Bob** _(note)_ theirs")
    for name, content in (("ours", broken), ("base", BASE), ("theirs", theirs)):
        (tmp_path / name).write_text(content, encoding="utf-8")
    expected = subprocess.run(
        [
            "git",
            "merge-file",
            "-p",
            "-L",
            "ours",
            "-L",
            "base",
            "-L",
            "theirs",
            "ours",
            "base",
            "theirs",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    text, clean = merge_incident(BASE, broken, theirs)
    assert (text, clean) == (expected.stdout, expected.returncode == 0)
    assert clean and "title: [Checkout failing" in text and "_(note)_ theirs" in text

    text, clean = merge_incident(
        BASE, broken, BASE.replace("title: Checkout failing", "title: Other")
    )
    assert not clean and "<<<<<<< ours" in text


# -- 8. --push -------------------------------------------------------------------------------------


def test_push_flag_config_and_no_push(team: Team) -> None:
    """--push pushes; `push = true` pushes without it; --no-push overrides the config."""
    a = team.clone("a")
    result = cli(a, "log", team.ident, "pushed by flag", "--push")
    assert "pushed to origin/main" in result.stdout
    assert team.origin_head() == git(a, "rev-parse", "HEAD").strip()
    assert "pushed by flag" in texts(team.origin_text())

    config = a / "incidentctl.toml"
    config.write_text(config.read_text(encoding="utf-8") + "push = true\n", encoding="utf-8")
    git(a, "commit", "--quiet", "-am", "Push every change")
    change = cli_json(a, "log", team.ident, "pushed by config")
    assert change["pushed"] == "origin/main"
    assert team.origin_head() == git(a, "rev-parse", "HEAD").strip()

    change = cli_json(a, "log", team.ident, "kept local", "--no-push")
    assert "pushed" not in change
    assert team.origin_head() == git(a, "rev-parse", "HEAD~1").strip()
    assert "kept local" not in texts(team.origin_text())
    assert git(a, "rev-list", "--count", "origin/main..HEAD").strip() == "1"


def test_push_without_a_remote_fails_but_keeps_the_commit(repo: Repo) -> None:
    """--push with no remote: exit 1, saying the change was committed here."""
    opened = cli_json(repo.path, "open", "No remote here")
    before = repo.commits()
    result = cli(repo.path, "log", opened["id"], "cannot push this", "--push", check=False)
    assert result.returncode == 1
    assert re.search(r"committed [0-9a-f]{10} here, but sync failed", result.stderr), result.stderr
    assert "git remote add origin" in result.stderr
    assert repo.commits() == before + 1
    assert "cannot push this" in texts((repo.path / opened["path"]).read_text(encoding="utf-8"))
    assert repo.git("status", "--porcelain") == ""


# -- 9. sync refusing ------------------------------------------------------------------------------


def test_sync_without_a_remote_says_how_to_add_one(repo: Repo) -> None:
    """sync in a clone with no remote: exit 1 and the command to add one."""
    result = cli(repo.path, "sync", check=False)
    assert result.returncode == 1
    assert "no remote to sync with" in result.stderr
    assert (
        "git remote add origin URL" in result.stderr and "git push -u origin main" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_sync_during_an_unfinished_rebase_refuses(team: Team) -> None:
    """sync while a rebase is stopped: exit 1, the rebase is left for the user to finish."""
    a = team.clone("a")
    cli(a, "log", team.ident, "before the rebase")
    stopped = run_git(
        a, "rebase", "-i", "HEAD~1", env={"GIT_SEQUENCE_EDITOR": "sed -i 1s/^pick/edit/"}
    )
    assert stopped.returncode == 0, stopped.stderr
    assert (a / ".git" / "rebase-merge").is_dir()
    origin_before = team.origin_head()
    before = snapshot(a)
    result = cli(a, "sync", check=False)
    assert result.returncode == 1
    assert "not syncing: a rebase is in progress" in result.stderr
    assert "`git rebase --continue` or `git rebase --abort`), then sync" in result.stderr
    assert snapshot(a) == before and (a / ".git" / "rebase-merge").is_dir()
    assert team.origin_head() == origin_before
