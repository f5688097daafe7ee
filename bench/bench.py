#!/usr/bin/env python3
"""Wall-time benchmark of incidentctl against plain git (Python standard library only).

Builds a throw-away git repository holding N real incident files, then times, as
medians over interleaved runs, incidentctl commands against the plain-git (or bare
interpreter) command that does the same job:

  log        `incidentctl log ID TEXT`        vs  sh -c: append a line + `git commit --only`
  --version  `incidentctl --version`          vs  `python -c pass` (the same interpreter)
  list       `incidentctl list --json`        vs  `git grep -l "^status:" -- incidents`
  show       `incidentctl show ID --json`     vs  `git show HEAD:<file>`

Targets (from the issue): log <= 5x plain git; --version <= 4x the bare interpreter.
`list` and `show` are reported for information. The exit status is 0 whether or not a
target is met (this is a report); it is non-zero only when the benchmark itself cannot
run (e.g. a command fails).

    python bench/bench.py [--incidents 1000] [--runs 15] [--incidentctl PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

WARMUP = 2
# What incidentctl itself draws random ID characters from (Crockford base 32); every
# one of them is in the [0-9a-z]{4} the ID format accepts.
RAND_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TEMPLATE_TITLE = "Bench template incident"
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


def build_repo(root: Path, n: int, incidentctl: str, env: dict[str, str], seed: int) -> BenchRepo:
    """`incidentctl init`, one real `incidentctl open`, N-1 copies of it, one commit."""
    root.mkdir(parents=True)
    run([incidentctl, "init"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "--quiet", "-m", "Scaffold the incident repository"], root, env)

    opened = run(
        [incidentctl, "open", TEMPLATE_TITLE, "--severity", "SEV-3", "--service", "api", "--json"],
        root,
        env,
    )
    info = json.loads(opened.stdout)
    template_id: str = info["id"]
    template_path = root / info["path"]
    text = template_path.read_text(encoding="utf-8")
    stamp_match = re.search(r"^opened_at: (\S+)$", text, re.MULTILINE)
    if not stamp_match or not re.fullmatch(r"INC-\d{8}-[0-9a-z]{4}", template_id):
        raise BenchError(f"unexpected incident format from `incidentctl open`: {template_path}")
    template_stamp = stamp_match.group(1)
    opened_at = datetime.strptime(template_stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    rng = random.Random(seed)
    ids = [template_id]
    paths = {template_id: info["path"]}
    taken = {template_id.lower()}
    # Spread the copies over the three years before the template, so IDs, years
    # (folders) and opening times vary as in a real repository.
    for k in range(1, n):
        when = opened_at - timedelta(seconds=rng.randrange(3600, 3 * 365 * 86400))
        while True:
            rand = "".join(rng.choice(RAND_ALPHABET) for _ in range(4))
            ident = f"INC-{when:%Y%m%d}-{rand}"
            if ident.lower() not in taken:
                taken.add(ident.lower())
                break
        title = f"Bench incident {k:04d}"
        rel = f"incidents/{when:%Y}/{ident}-bench-incident-{k:04d}.md"
        body = (
            text.replace(template_id, ident)
            .replace(TEMPLATE_TITLE, title)
            .replace(template_stamp, f"{when:%Y-%m-%dT%H:%M:%SZ}")
        )
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        ids.append(ident)
        paths[ident] = rel
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "--quiet", "-m", f"Add {n - 1} generated incidents"], root, env)

    # The copies must be real incidents to incidentctl, or the figures mean nothing.
    listed = json.loads(run([incidentctl, "list", "--json"], root, env).stdout)
    rows = listed if isinstance(listed, list) else listed.get("incidents", [])
    if len(rows) != n:
        raise BenchError(f"incidentctl lists {len(rows)} incidents, expected {n}")
    return BenchRepo(root, ids, paths)


# -- timing ---------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    command: str
    baseline: str
    target: float | None  # maximum ratio, or None for information only
    tool_ms: list[float] = field(default_factory=list)
    base_ms: list[float] = field(default_factory=list)
    # CPU time (user + system) of the process and what it waited for: less sensitive
    # than wall time to other load on the machine, blind to I/O waits such as fsync.
    tool_cpu_ms: list[float] = field(default_factory=list)
    base_cpu_ms: list[float] = field(default_factory=list)

    @property
    def tool_median(self) -> float:
        return statistics.median(self.tool_ms)

    @property
    def base_median(self) -> float:
        return statistics.median(self.base_ms)

    @property
    def ratio(self) -> float:
        return self.tool_median / self.base_median

    @property
    def cpu_ratio(self) -> float | None:
        if not self.tool_cpu_ms or not self.base_cpu_ms:
            return None
        base = statistics.median(self.base_cpu_ms)
        return statistics.median(self.tool_cpu_ms) / base if base > 0 else None

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target

    def as_json(self) -> dict[str, Any]:
        def stats(samples: list[float]) -> dict[str, Any]:
            return {
                "median_ms": round(statistics.median(samples), 3),
                "min_ms": round(min(samples), 3),
                "max_ms": round(max(samples), 3),
                "stdev_ms": round(statistics.stdev(samples), 3) if len(samples) > 1 else 0.0,
                "samples_ms": [round(s, 3) for s in samples],
            }

        return {
            "name": self.name,
            "command": self.command,
            "baseline": self.baseline,
            "incidentctl": stats(self.tool_ms),
            "baseline_timing": stats(self.base_ms),
            "ratio": round(self.ratio, 3),
            "cpu_median_ms": {
                "incidentctl": round(statistics.median(self.tool_cpu_ms), 3)
                if self.tool_cpu_ms
                else None,
                "baseline": round(statistics.median(self.base_cpu_ms), 3)
                if self.base_cpu_ms
                else None,
            },
            "cpu_ratio": round(self.cpu_ratio, 3) if self.cpu_ratio is not None else None,
            "target_max_ratio": self.target,
            "pass": self.passed,
        }


Runner = Callable[[int], Sequence[str]]  # iteration number -> argv


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
    case: Case, tool: Runner, base: Runner, cwd: Path, env: dict[str, str], runs: int
) -> Case:
    """Interleave the two commands, alternating which goes first, to cancel drift."""
    for i in range(WARMUP + runs):
        pair = [("tool", tool(i)), ("base", base(i))]
        if i % 2:
            pair.reverse()
        for side, argv in pair:
            ms, cpu = timed(argv, cwd, env)
            if i >= WARMUP:
                (case.tool_ms if side == "tool" else case.base_ms).append(ms)
                if cpu is not None:
                    (case.tool_cpu_ms if side == "tool" else case.base_cpu_ms).append(cpu)
    log(
        f"  {case.name:<10} {case.tool_median:8.1f} ms vs {case.base_median:8.1f} ms "
        f"= {case.ratio:5.2f}x (CPU {case.cpu_ratio or 0:5.2f}x)"
    )
    return case


PLAIN_LOG = 'printf "%s\\n" "$2" >> "$1" && git commit --only --quiet -m "$3" -- "$1"'


def run_cases(
    repo: BenchRepo, incidentctl: str, python: str, env: dict[str, str], runs: int
) -> list[Case]:
    root = repo.root
    # Three different incidents from the middle of the repository, one per role.
    mid = len(repo.ids) // 2
    log_id, plain_id, show_id = repo.ids[mid], repo.ids[mid + 1], repo.ids[mid + 2]
    plain_path = repo.paths[plain_id]
    show_path = repo.paths[show_id]
    cases = []

    def tool_log(i: int) -> list[str]:
        return [incidentctl, "log", log_id, f"Bench note {i}: checked the dashboards"]

    def plain_log(i: int) -> list[str]:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"- `{stamp}` **Bench Responder** _(note)_ Bench note {i}: checked the dashboards"
        msg = f"incident({plain_id}): log note: Bench note {i}"
        return ["sh", "-c", PLAIN_LOG, "sh", plain_path, line, msg]

    cases.append(
        measure(
            Case("log", 'incidentctl log ID "text"', "sh -c 'append; git commit --only'", 5.0),
            tool_log,
            plain_log,
            root,
            env,
            runs,
        )
    )
    cases.append(
        measure(
            Case("--version", "incidentctl --version", f"{python} -c pass", 4.0),
            lambda i: [incidentctl, "--version"],
            lambda i: [python, "-c", "pass"],
            root,
            env,
            runs,
        )
    )
    cases.append(
        measure(
            Case(
                "list",
                f"incidentctl list --json ({len(repo.ids)} incidents)",
                'git grep -l "^status:" -- incidents',
                None,
            ),
            lambda i: [incidentctl, "list", "--json"],
            lambda i: ["git", "grep", "-l", "^status:", "--", "incidents"],
            root,
            env,
            runs,
        )
    )
    cases.append(
        measure(
            Case("show", "incidentctl show ID --json", "git show HEAD:<file>", None),
            lambda i: [incidentctl, "show", show_id, "--json"],
            lambda i: ["git", "show", f"HEAD:{show_path}"],
            root,
            env,
            runs,
        )
    )
    # The log runs must really have committed, one commit each.
    expected = 1 + WARMUP + runs  # the commit that added it, then one per log run
    for path in (repo.paths[log_id], plain_path):
        count = int(run(["git", "rev-list", "--count", "HEAD", "--", path], root, env).stdout)
        if count != expected:
            raise BenchError(f"{path}: {count} commits, expected {expected}")
    status = run(["git", "status", "--porcelain"], root, env).stdout.strip()
    if status:
        raise BenchError(f"the work tree is not clean after the runs:\n{status}")
    return cases


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
        rows.append(
            (
                c.command,
                f"{c.tool_median:.1f}",
                c.baseline,
                f"{c.base_median:.1f}",
                f"{c.ratio:.2f}x",
                f"<= {c.target:g}x" if c.target is not None else "info",
                {True: "PASS", False: "FAIL", None: "-"}[c.passed],
                f"{c.cpu_ratio:.2f}x" if c.cpu_ratio is not None else "-",
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
    parser.add_argument("--seed", type=int, default=20261126, help="seed for generated IDs")
    parser.add_argument("--keep", action="store_true", help="keep the repository; print its path")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.incidents < 10 or args.runs < 2:
        parser.error("need --incidents >= 10 and --runs >= 2")

    found = shutil.which(args.incidentctl)
    if not found:
        parser.error(f"{args.incidentctl}: not found; pass --incidentctl PATH")
    incidentctl = str(Path(found).absolute())
    python = args.python or interpreter_of(Path(incidentctl))

    tmp = Path(tempfile.mkdtemp(prefix="incidentctl-bench-"))
    try:
        env = isolated_env(tmp, bytecode_cache=not args.no_bytecode_cache)
        before = machine()
        version = run([incidentctl, "--version"], tmp, env).stdout.strip()
        log(f"{version} ({incidentctl}), baseline interpreter {python}")
        log(f"building a repository with {args.incidents} incidents in {tmp} ...")
        t0 = time.perf_counter()
        repo = build_repo(tmp / "repo", args.incidents, incidentctl, env, args.seed)
        log(f"  built in {time.perf_counter() - t0:.1f} s")
        log(f"timing: {args.runs} runs each (after {WARMUP} warm-ups), interleaved")
        cases = run_cases(repo, incidentctl, python, env, args.runs)
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
            "bytecode_cache": not args.no_bytecode_cache,
            "machine_before": before,
            "machine_after": after,
            "results": [c.as_json() for c in cases],
            "targets_missed": [c.name for c in missed],
        }
        print(json.dumps(doc, indent=2))
    else:
        pyc = "off (recompiled each run)" if args.no_bytecode_cache else "cached"
        print(
            f"{version}: {args.incidents} incidents, median of {args.runs} runs "
            f"({WARMUP} warm-ups), bytecode {pyc}"
        )
        load = (
            f"load average {before.get('loadavg')} -> {after.get('loadavg')}, {before['cpus']} CPUs"
        )
        print(f"{before['git']}; {load}")
        print()
        print(table(cases))
        print("(targets apply to the wall-time ratio; the CPU-time ratio is for information)")
        print()
        if missed:
            for c in missed:
                print(
                    f"TARGET MISSED: {c.name} is {c.ratio:.2f}x its baseline "
                    f"(target <= {c.target:g}x)"
                )
        else:
            print("All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
