#!/usr/bin/env python3
"""Wall-time benchmark of incidentctl against plain git (Python standard library only).

Builds a throw-away git repository holding N realistic incident files (bench/generate.py:
three years of incidents with timelines, action items and post-mortems, one commit),
then times, as medians over interleaved runs, incidentctl commands against the
plain-git (or bare interpreter) command that does the same job:

  log          `incidentctl log ID TEXT`          vs  sh -c: append a line + `git commit --only`
  --version    `incidentctl --version`            vs  `python -c pass` (the same interpreter)
  list         `incidentctl list --json`          vs  `git grep -l "^status:" -- incidents`
  stats        `incidentctl stats --json`         vs  the same git grep
  show         `incidentctl show ID --json`       vs  `python -c pass` (and `git show HEAD:<file>`)
  open         `incidentctl open TITLE`           vs  `python -c pass`
  status       `incidentctl status ID S`          vs  `python -c pass`  (resolved <-> investigating)
  severity     `incidentctl severity ID SEV`      vs  `python -c pass`  (SEV-2 <-> SEV-3)
  assign       `incidentctl assign ID -c NAME`    vs  `python -c pass`  (two names in turn)
  action-add   `incidentctl action add ID T -o O -d 7d`  vs  `python -c pass`
  site         `incidentctl site build OUT` into an empty folder   (absolute target)
  site-incremental  the same OUT again after one `incidentctl log`  (absolute target)

Targets (from the issue): log <= 5x plain git; --version <= 4x, show <= 6x and the
changing commands <= 10x the bare interpreter; list <= 5x and stats <= 10x git grep;
site build <= 2 s per 1,000 incidents, an incremental rebuild <= 1 s. A command the
installed incidentctl does not have yet (`stats`, `site build`) is a "not available"
row. The exit status is 0 whether or not a target is met (this is a report); it is
non-zero only when the benchmark itself cannot run (e.g. a command fails).

    python bench/bench.py [--incidents 10000] [--runs 15] [--only list,show] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from generate import Generated, describe, generate

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

WARMUP = 2
SITE_WARMUP = 1  # a full site build on 10,000 incidents takes seconds
GIT_ENV_DROP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "INCIDENTCTL_REPO",
    "VISUAL",
    "EDITOR",
    "PYTHONSTARTUP",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)


class BenchError(Exception):
    """The benchmark cannot run (not: a target was missed)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- environment ----------------------------------------------------------------------


def isolated_env(tmp: Path, *, bytecode_cache: bool = True) -> dict[str, str]:
    """An environment that sees no user or system git config, hooks or signing.

    With `bytecode_cache`, Python may cache bytecode, in a folder of its own under
    `tmp` (PYTHONPYCACHEPREFIX), as an installed package would have it; nothing is
    written next to the sources. Without it, PYTHONDONTWRITEBYTECODE=1 is forced, so
    an editable install recompiles its modules on every run.
    """
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Bench Responder\n\temail = bench@example.com\n"
        "[commit]\n\tgpgSign = false\n[tag]\n\tgpgSign = false\n"
        "[init]\n\tdefaultBranch = main\n[core]\n\thooksPath = /dev/null\n"
        "[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in GIT_ENV_DROP}
    env.update(
        {
            "HOME": str(tmp),
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "NO_COLOR": "1",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
        }
    )
    if bytecode_cache:
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def interpreter_of(script: Path) -> str:
    """The Python a console script runs under (its shebang), else this one."""
    try:
        with script.open("rb") as handle:
            first = handle.readline().decode("utf-8", "replace").strip()
    except OSError:
        return sys.executable
    if first.startswith("#!") and "python" in first:
        parts = first[2:].split()
        if parts and Path(parts[0]).name == "env" and len(parts) > 1:
            found = shutil.which(parts[1])
            return found or sys.executable
        if parts:
            return parts[0]
    return sys.executable


def run(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(cmd),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd)} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


def tool_version(cmd: Sequence[str]) -> str:
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unknown"


# -- the repository -------------------------------------------------------------------


@dataclass
class BenchRepo:
    root: Path
    ids: list[str]
    paths: dict[str, str]  # id -> path relative to root
    made: list[Generated] = field(default_factory=list)  # what the generator wrote

    def pick(self, wanted: Callable[[Generated], bool], taken: set[str]) -> str:
        """An incident from the middle of the repository on that satisfies `wanted`
        (else any), not in `taken`; it is added to `taken`."""
        mid = len(self.made) // 2
        order = self.made[mid:] + self.made[:mid]
        for accept in (wanted, lambda g: True):
            for g in order:
                if g.id not in taken and accept(g):
                    taken.add(g.id)
                    return g.id
        raise BenchError("not enough incidents to pick from")


def build_repo(
    root: Path,
    n: int,
    incidentctl: str,
    env: dict[str, str],
    seed: int,
    *,
    check: bool = False,
) -> BenchRepo:
    """`incidentctl init`, N generated incidents (bench/generate.py), one commit each."""
    root.mkdir(parents=True)
    run([incidentctl, "init"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "--quiet", "-m", "Scaffold the incident repository"], root, env)
    try:
        made = generate(root, n, seed=seed, incidentctl=incidentctl, env=env)
    except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
        raise BenchError(f"generating the incidents failed: {exc}") from None
    for line in describe(made).splitlines():
        log(f"  {line}")

    # The files must be real incidents to incidentctl, or the figures mean nothing.
    listed = json.loads(run([incidentctl, "list", "--json"], root, env).stdout)
    rows = listed if isinstance(listed, list) else listed.get("incidents", [])
    if len(rows) != n:
        raise BenchError(f"incidentctl lists {len(rows)} incidents, expected {n}")
    if check:
        result = run([incidentctl, "check"], root, env, check=False)
        if result.returncode != 0:
            raise BenchError(
                f"incidentctl check fails on the generated repository:\n{result.stdout[-2000:]}"
            )
        log(f"  {result.stdout.strip().splitlines()[-1]}")
    return BenchRepo(root, [g.id for g in made], {g.id: g.path for g in made}, made)


# -- timing ---------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    command: str
    baseline: str | None  # None: an absolute target, no baseline command
    target: float | None  # maximum ratio, or None for information only
    limit_ms: float | None = None  # maximum median wall time (absolute target)
    available: bool = True  # False: the installed incidentctl has no such command
    note: str = ""
    error: str = ""  # the case could not be measured (a command failed): why
    tool_ms: list[float] = field(default_factory=list)
    base_ms: list[float] = field(default_factory=list)
    # CPU time (user + system) of the process and what it waited for: less sensitive
    # than wall time to other load on the machine, blind to I/O waits such as fsync.
    tool_cpu_ms: list[float] = field(default_factory=list)
    base_cpu_ms: list[float] = field(default_factory=list)
    # Further baselines, for information: label -> samples (wall ms).
    extra_ms: dict[str, list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def tool_median(self) -> float:
        return statistics.median(self.tool_ms)

    @property
    def base_median(self) -> float | None:
        return statistics.median(self.base_ms) if self.base_ms else None

    @property
    def ratio(self) -> float | None:
        base = self.base_median
        return self.tool_median / base if base else None

    @property
    def cpu_ratio(self) -> float | None:
        if not self.tool_cpu_ms or not self.base_cpu_ms:
            return None
        base = statistics.median(self.base_cpu_ms)
        return statistics.median(self.tool_cpu_ms) / base if base > 0 else None

    @property
    def passed(self) -> bool | None:
        if not self.available or self.error:
            return None
        if self.limit_ms is not None:
            return self.tool_median <= self.limit_ms
        if self.target is None or self.ratio is None:
            return None
        return self.ratio <= self.target

    def as_json(self) -> dict[str, Any]:
        def stats(samples: list[float]) -> dict[str, Any] | None:
            if not samples:
                return None
            return {
                "median_ms": round(statistics.median(samples), 3),
                "min_ms": round(min(samples), 3),
                "max_ms": round(max(samples), 3),
                "stdev_ms": round(statistics.stdev(samples), 3) if len(samples) > 1 else 0.0,
                "samples_ms": [round(s, 3) for s in samples],
            }

        def median(samples: list[float]) -> float | None:
            return round(statistics.median(samples), 3) if samples else None

        doc: dict[str, Any] = {
            "name": self.name,
            "command": self.command,
            "baseline": self.baseline,
            "available": self.available,
            "target_max_ratio": self.target,
            "target_max_ms": self.limit_ms,
        }
        if not self.available or self.error or not self.tool_ms:
            return {**doc, "note": self.note, "error": self.error, "pass": None}
        return {
            **doc,
            "incidentctl": stats(self.tool_ms),
            "baseline_timing": stats(self.base_ms),
            "ratio": round(self.ratio, 3) if self.ratio is not None else None,
            "cpu_median_ms": {
                "incidentctl": median(self.tool_cpu_ms),
                "baseline": median(self.base_cpu_ms),
            },
            "cpu_ratio": round(self.cpu_ratio, 3) if self.cpu_ratio is not None else None,
            "extra_baselines": {
                label: {**(stats(samples) or {}), "ratio": round(self.tool_median / m, 3)}
                for label, samples in self.extra_ms.items()
                if (m := statistics.median(samples))
            },
            "info": self.info,
            "note": self.note,
            "pass": self.passed,
        }


Runner = Callable[[int], Sequence[str]]  # iteration number -> argv
Hook = Callable[[int], None]  # iteration number -> None (not timed)


def children_cpu_ms() -> float | None:
    if resource is None:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000.0


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float | None]:
    """(wall ms, CPU ms) of one run; any failure stops the benchmark."""
    cpu0 = children_cpu_ms()
    start = time.perf_counter()
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    elapsed = (time.perf_counter() - start) * 1000.0
    cpu1 = children_cpu_ms()
    if result.returncode != 0:
        err = result.stderr.decode("utf-8", "replace").strip()
        raise BenchError(f"{' '.join(argv)} exited {result.returncode}: {err}")
    return elapsed, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)


def measure(
    case: Case,
    tool: Runner,
    base: Runner | None,
    cwd: Path,
    env: dict[str, str],
    runs: int,
    *,
    extra: dict[str, Runner] | None = None,
    before: Hook | None = None,
    after: Hook | None = None,
    warmup: int = WARMUP,
) -> Case:
    """Interleave the commands, rotating which goes first, to cancel drift.

    `before` and `after` run (untimed) around each incidentctl run: to prepare it
    (the change an incremental build then picks up) and to check what it did.
    """
    sides: list[tuple[str, Runner]] = [("tool", tool)]
    if base is not None:
        sides.append(("base", base))
    sides += list((extra or {}).items())
    for i in range(warmup + runs):
        k = i % len(sides)
        for side, runner in sides[k:] + sides[:k]:
            if side == "tool" and before is not None:
                before(i)
            ms, cpu = timed(runner(i), cwd, env)
            if side == "tool" and after is not None:
                after(i)
            if i < warmup:
                continue
            if side == "tool":
                case.tool_ms.append(ms)
                if cpu is not None:
                    case.tool_cpu_ms.append(cpu)
            elif side == "base":
                case.base_ms.append(ms)
                if cpu is not None:
                    case.base_cpu_ms.append(cpu)
            else:
                case.extra_ms.setdefault(side, []).append(ms)
    if case.base_median:
        log(
            f"  {case.name:<16} {case.tool_median:8.1f} ms vs {case.base_median:8.1f} ms "
            f"= {case.ratio:5.2f}x (CPU {case.cpu_ratio or 0:5.2f}x)"
        )
    else:
        log(f"  {case.name:<16} {case.tool_median:8.1f} ms (target <= {case.limit_ms:g} ms)")
    return case


PLAIN_LOG = 'printf "%s\\n" "$2" >> "$1" && git commit --only --quiet -m "$3" -- "$1"'
# Every case, in the order they run; --only takes these names.
CASES = (
    "log",
    "--version",
    "list",
    "stats",
    "show",
    "open",
    "status",
    "severity",
    "assign",
    "action-add",
    "site",
    "site-incremental",
)


def has_command(incidentctl: str, words: Sequence[str], cwd: Path, env: dict[str, str]) -> str:
    """The `--help` text of `incidentctl WORDS`, or "" when there is no such command."""
    result = run([incidentctl, *words, "--help"], cwd, env, check=False)
    return result.stdout if result.returncode == 0 else ""


def site_argv(help_text: str, out: Path) -> list[str]:
    """`site build`'s arguments for the output folder: OUT, unless its help shows
    only an option for it."""
    usage = next((ln for ln in help_text.splitlines() if "Usage:" in ln), "")
    if "OUT" not in usage.split("[OPTIONS]")[-1].upper():
        for option in ("--out", "--output", "-o"):
            if f"{option} " in help_text or f"{option}," in help_text:
                return [option, str(out)]
    return [str(out)]


class Commits:
    """Checks that each run of a changing command made exactly one commit, and that
    the work tree is clean after a case (untimed: runs between the timed commands)."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env
        self.last = self.count()

    def count(self) -> int:
        return int(run(["git", "rev-list", "--count", "HEAD"], self.root, self.env).stdout)

    def one_more(self, i: int) -> None:
        now = self.count()
        if now != self.last + 1:
            raise BenchError(f"run {i} made {now - self.last} commits, expected exactly 1")
        self.last = now

    def clean(self, case: str) -> None:
        status = run(["git", "status", "--porcelain"], self.root, self.env).stdout.strip()
        if status:
            raise BenchError(f"the work tree is not clean after {case}:\n{status}")


def run_cases(
    repo: BenchRepo,
    incidentctl: str,
    python: str,
    env: dict[str, str],
    runs: int,
    *,
    only: Sequence[str] = CASES,
    site_runs: int = 5,
    tmp: Path | None = None,
) -> list[Case]:
    root = repo.root
    n = len(repo.ids)
    tmp = tmp or root.parent
    bare = [python, "-c", "pass"]
    # Distinct incidents, each chosen for what its command does in real life.
    taken: set[str] = set()
    mid = len(repo.ids) // 2
    log_id, plain_id = repo.ids[mid], repo.ids[mid + 1]
    taken.update((log_id, plain_id))
    show_id = repo.pick(lambda g: g.postmortem and g.status == "closed", taken)
    status_id = repo.pick(lambda g: g.status == "resolved" and g.severity == "SEV-3", taken)
    active = ("triage", "investigating", "identified", "monitoring")
    severity_id = repo.pick(lambda g: g.status in active and g.severity == "SEV-3", taken)
    assign_id = repo.pick(lambda g: g.status in active, taken)
    action_id = repo.pick(lambda g: g.postmortem and g.status == "resolved", taken)
    site_log_id = repo.pick(lambda g: g.status in ("resolved", "closed"), taken)
    plain_path, show_path = repo.paths[plain_id], repo.paths[show_id]
    grep = ["git", "grep", "-l", "^status:", "--", "incidents"]
    commits = Commits(root, env)
    cases: list[Case] = []

    def changing(case: Case, tool: Runner, base: Runner, **kw: Any) -> None:
        commits.last = commits.count()
        cases.append(measure(case, tool, base, root, env, runs, after=commits.one_more, **kw))
        commits.clean(case.name)

    def vs_bare(name: str, command: str, target: float) -> Case:
        return Case(name, command, f"{python} -c pass", target)

    def one_case(name: str) -> None:  # one branch per case
        if name == "log":

            def plain_log(i: int) -> list[str]:
                stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                line = f"- `{stamp}` **Bench Responder** _(note)_ Bench note {i}: dashboards"
                msg = f"incident({plain_id}): log note: Bench note {i}"
                return ["sh", "-c", PLAIN_LOG, "sh", plain_path, line, msg]

            before = commits.count()
            cases.append(
                measure(
                    Case(
                        "log",
                        'incidentctl log ID "text"',
                        "sh -c 'append; git commit --only'",
                        5.0,
                    ),
                    lambda i: [incidentctl, "log", log_id, f"Bench note {i}: checked dashboards"],
                    plain_log,
                    root,
                    env,
                    runs,
                )
            )
            # Both sides must really have committed, one commit each per run.
            made = commits.count() - before
            if made != 2 * (WARMUP + runs):
                raise BenchError(f"log: {made} commits, expected {2 * (WARMUP + runs)}")
            commits.clean("log")
        elif name == "--version":
            cases.append(
                measure(
                    vs_bare("--version", "incidentctl --version", 4.0),
                    lambda i: [incidentctl, "--version"],
                    lambda i: bare,
                    root,
                    env,
                    runs,
                )
            )
        elif name in ("list", "stats"):
            case = Case(
                name,
                f"incidentctl {name} --json ({n} incidents)",
                'git grep -l "^status:" -- incidents',
                5.0 if name == "list" else 10.0,
            )
            if name == "stats" and not has_command(incidentctl, ["stats"], root, env):
                case.available, case.note = False, "`incidentctl stats` does not exist yet"
                log(f"  {name:<16} not available")
                cases.append(case)
                return
            cases.append(
                measure(
                    case,
                    lambda i, w=name: [incidentctl, w, "--json"],
                    lambda i: grep,
                    root,
                    env,
                    runs,
                )
            )
        elif name == "show":
            cases.append(
                measure(
                    vs_bare("show", "incidentctl show ID --json", 6.0),
                    lambda i: [incidentctl, "show", show_id, "--json"],
                    lambda i: bare,
                    root,
                    env,
                    runs,
                    extra={"git show HEAD:<file>": lambda i: ["git", "show", f"HEAD:{show_path}"]},
                )
            )
        elif name == "open":
            changing(
                vs_bare("open", "incidentctl open TITLE", 10.0),
                lambda i: [incidentctl, "open", f"Bench opened incident {i}"],
                lambda i: bare,
            )
        elif name == "status":
            # resolved -> investigating is a reopen, investigating -> resolved a move on.
            changing(
                vs_bare("status", "incidentctl status ID investigating|resolved", 10.0),
                lambda i: [
                    incidentctl,
                    "status",
                    status_id,
                    "resolved" if i % 2 else "investigating",
                ],
                lambda i: bare,
            )
        elif name == "severity":
            changing(
                vs_bare("severity", "incidentctl severity ID SEV-2|SEV-3", 10.0),
                lambda i: [incidentctl, "severity", severity_id, "SEV-3" if i % 2 else "SEV-2"],
                lambda i: bare,
            )
        elif name == "assign":
            changing(
                vs_bare("assign", "incidentctl assign ID -c NAME", 10.0),
                lambda i: [incidentctl, "assign", assign_id, "-c", f"Bench Commander {i % 2}"],
                lambda i: bare,
            )
        elif name == "action-add":
            changing(
                vs_bare("action-add", "incidentctl action add ID T -o O -d 7d", 10.0),
                lambda i: [
                    incidentctl,
                    "action",
                    "add",
                    action_id,
                    f"Bench follow-up {i}",
                    "-o",
                    "team-sre",
                    "-d",
                    "7d",
                ],
                lambda i: bare,
            )
        elif name in ("site", "site-incremental"):
            cases.append(
                site_case(name, incidentctl, root, env, tmp, n, site_runs, site_log_id, commits)
            )

    for name in only:
        try:
            one_case(name)
        except BenchError as exc:
            # One failing command (say, one still being written) must not throw away
            # the figures of the others; the run still exits 2 (see main).
            log(f"  {name:<16} ERROR: {exc}")
            limit = {"site": 2.0 * n, "site-incremental": 1000.0}.get(name)
            ratio = {"log": 5.0, "--version": 4.0, "list": 5.0, "show": 6.0}.get(name, 10.0)
            failed = Case(name, f"incidentctl {name}", None, None if limit else ratio, limit)
            failed.error = str(exc)
            cases.append(failed)
            commits.last = commits.count()
    return cases


def site_case(
    name: str,
    incidentctl: str,
    root: Path,
    env: dict[str, str],
    tmp: Path,
    n: int,
    runs: int,
    log_id: str,
    commits: Commits,
) -> Case:
    """`site build`: into an empty folder each run (full), or into one folder after
    one `incidentctl log` each run (incremental); absolute targets."""
    full = name == "site"
    case = Case(
        name,
        f"incidentctl site build OUT ({n} incidents)"
        if full
        else "incidentctl site build OUT, after one `log`",
        None,
        None,
        limit_ms=2.0 * n if full else 1000.0,  # 2 s per 1,000 incidents; 1 s
    )
    help_text = has_command(incidentctl, ["site", "build"], root, env)
    if not help_text:
        case.available, case.note = False, "`incidentctl site build` does not exist yet"
        log(f"  {name:<16} not available")
        return case
    if full:
        outs = [tmp / f"site-full-{i}" for i in range(SITE_WARMUP + runs)]

        def tool(i: int) -> list[str]:
            return [incidentctl, "site", "build", *site_argv(help_text, outs[i])]

        def after(i: int) -> None:
            files = sum(len(f) for _, _, f in os.walk(outs[i]))
            if not files:
                raise BenchError(f"site build wrote nothing into {outs[i]}")
            case.info["files"] = files
            shutil.rmtree(outs[i], ignore_errors=True)

        measure(case, tool, None, root, env, runs, after=after, warmup=SITE_WARMUP)
    else:
        out = tmp / "site-incremental"
        argv = [incidentctl, "site", "build", *site_argv(help_text, out)]
        run(argv, root, env)  # the full build the incremental ones start from

        def before(i: int) -> None:
            run([incidentctl, "log", log_id, f"Bench site note {i}"], root, env)

        measure(case, lambda i: argv, None, root, env, runs, before=before, warmup=SITE_WARMUP)
        commits.last = commits.count()
        commits.clean(name)
    case.info["ms_per_1000_incidents"] = round(case.tool_median * 1000 / n, 1)
    return case


# -- report ---------------------------------------------------------------------------


def table(cases: list[Case]) -> str:
    header = (
        "command",
        "median ms",
        "baseline",
        "baseline ms",
        "ratio",
        "target",
        "result",
        "cpu ratio",
    )
    rows = [header]
    for c in cases:
        if c.error:
            rows.append((c.command, "-", c.baseline or "-", "-", "-", target(c), "ERROR", "-"))
            continue
        if not c.available:
            rows.append(
                (c.command, "-", c.baseline or "-", "-", "-", target(c), "not available", "-")
            )
            continue
        rows.append(
            (
                c.command,
                f"{c.tool_median:.1f}",
                c.baseline or "-",
                f"{c.base_median:.1f}" if c.base_median else "-",
                f"{c.ratio:.2f}x" if c.ratio is not None else "-",
                target(c),
                {True: "PASS", False: "FAIL", None: "-"}[c.passed],
                f"{c.cpu_ratio:.2f}x" if c.cpu_ratio is not None else "-",
            )
        )
        for label, samples in c.extra_ms.items():
            base = statistics.median(samples)
            rows.append(
                (
                    "  (same)",
                    "",
                    label,
                    f"{base:.1f}",
                    f"{c.tool_median / base:.2f}x",
                    "info",
                    "-",
                    "-",
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {1, 3, 4, 7}
    lines = []
    for n, r in enumerate(rows):
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def target(c: Case) -> str:
    if c.limit_ms is not None:
        return f"<= {c.limit_ms:g} ms"
    return f"<= {c.target:g}x" if c.target is not None else "info"


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "bench_python": platform.python_version(),
        "git": tool_version(["git", "--version"]),
    }
    if hasattr(os, "getloadavg"):
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--incidents", type=int, default=10000, help="incident files (default 10000)"
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (default 15)")
    parser.add_argument(
        "--site-runs",
        type=int,
        default=5,
        help=f"timed runs of each site build case, after {SITE_WARMUP} warm-up (default 5)",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated cases to run (default all): {','.join(CASES)}",
    )
    parser.add_argument(
        "--incidentctl",
        default=shutil.which("incidentctl") or "incidentctl",
        help="the incidentctl executable (default: the one on PATH)",
    )
    parser.add_argument(
        "--python", help="the baseline interpreter (default: the incidentctl script's shebang)"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run with PYTHONDONTWRITEBYTECODE=1 (sources recompiled each run)",
    )
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the generator")
    parser.add_argument(
        "--check-repo",
        action="store_true",
        help="run `incidentctl check` on the generated repository first (stops if it fails)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the repository; print its path")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.incidents < 10 or args.runs < 2 or args.site_runs < 1:
        parser.error("need --incidents >= 10, --runs >= 2 and --site-runs >= 1")
    only = list(CASES)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        wanted = ["--version" if w == "version" else w for w in wanted]
        unknown = [w for w in wanted if w not in CASES]
        if unknown:
            parser.error(f"unknown case {', '.join(unknown)}; choose from {', '.join(CASES)}")
        only = [c for c in CASES if c in wanted]

    found = shutil.which(args.incidentctl)
    if not found:
        parser.error(f"{args.incidentctl}: not found; pass --incidentctl PATH")
    incidentctl = str(Path(found).absolute())
    python = args.python or interpreter_of(Path(incidentctl))
    python = str(Path(shutil.which(python) or python).absolute())  # runs start in the repo

    tmp = Path(tempfile.mkdtemp(prefix="incidentctl-bench-"))
    try:
        env = isolated_env(tmp, bytecode_cache=not args.no_bytecode_cache)
        before = machine()
        version = run([incidentctl, "--version"], tmp, env).stdout.strip()
        log(f"{version} ({incidentctl}), baseline interpreter {python}")
        log(f"generating a repository with {args.incidents} incidents in {tmp} ...")
        t0 = time.perf_counter()
        repo = build_repo(
            tmp / "repo", args.incidents, incidentctl, env, args.seed, check=args.check_repo
        )
        log(f"  built in {time.perf_counter() - t0:.1f} s")
        log(
            f"timing: {args.runs} runs each (after {WARMUP} warm-ups), interleaved; "
            f"site build {args.site_runs} runs (after {SITE_WARMUP})"
        )
        cases = run_cases(
            repo, incidentctl, python, env, args.runs, only=only, site_runs=args.site_runs, tmp=tmp
        )
        after = machine()
    except BenchError as exc:
        log(f"bench: error: {exc}")
        return 2
    finally:
        if args.keep:
            log(f"repository kept: {tmp / 'repo'} (git config: {tmp / 'gitconfig'})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    missed = [c for c in cases if c.passed is False]
    if args.json:
        doc = {
            "incidentctl": incidentctl,
            "version": version,
            "python": python,
            "python_version": tool_version(
                [python, "-c", "import sys; print(sys.version.split()[0])"]
            ),
            "incidents": args.incidents,
            "runs": args.runs,
            "warmup": WARMUP,
            "site_runs": args.site_runs,
            "site_warmup": SITE_WARMUP,
            "seed": args.seed,
            "bytecode_cache": not args.no_bytecode_cache,
            "machine_before": before,
            "machine_after": after,
            "results": [c.as_json() for c in cases],
            "targets_missed": [c.name for c in missed],
            "not_available": [c.name for c in cases if not c.available],
            "errors": {c.name: c.error for c in cases if c.error},
        }
        print(json.dumps(doc, indent=2))
    else:
        pyc = "off (recompiled each run)" if args.no_bytecode_cache else "cached"
        print(
            f"{version}: {args.incidents} incidents, median of {args.runs} runs "
            f"({WARMUP} warm-ups; site build {args.site_runs} after {SITE_WARMUP}), "
            f"bytecode {pyc}"
        )
        load = (
            f"load average {before.get('loadavg')} -> {after.get('loadavg')}, {before['cpus']} CPUs"
        )
        print(f"{before['git']}; {load}")
        print()
        print(table(cases))
        print("(targets apply to the wall-time ratio; the CPU-time ratio is for information)")
        print()
        for c in cases:
            if not c.available:
                print(f"NOT AVAILABLE: {c.name}: {c.note}")
            if c.error:
                last = c.error.strip().splitlines()[-1]
                print(f"ERROR: {c.name} could not be measured: {last} (full text on stderr)")
        for c in missed:
            if c.limit_ms is not None:
                print(
                    f"TARGET MISSED: {c.name} takes {c.tool_median:.0f} ms "
                    f"(target <= {c.limit_ms:g} ms)"
                )
            else:
                print(
                    f"TARGET MISSED: {c.name} is {c.ratio:.2f}x its baseline "
                    f"(target <= {c.target:g}x)"
                )
        if not missed and not any(c.error for c in cases):
            print(
                "All targets met"
                + (" (of the cases available)." if any(not c.available for c in cases) else ".")
            )
    # A case that could not run leaves the benchmark incomplete: exit 2, as for any
    # failure to run (the other cases' figures are still printed above).
    return 2 if any(c.error for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
