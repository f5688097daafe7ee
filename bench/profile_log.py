#!/usr/bin/env python3
"""Where the wall time of `incidentctl log` goes (Python standard library only).

Builds the same repository as bench.py, then runs `incidentctl log` repeatedly and
reports medians of:

  * the whole process, timed from outside, next to `python -c pass`;
  * inside the process: time in imports (by top-level import statement), waiting for
    git processes (each one, by command), in fsync, and the rest (Python work);
  * `-X importtime` self time grouped by package, for modules `python -c pass` does
    not already import.

    python bench/profile_log.py [--incidents 1000] [--runs 9] [--incidentctl PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import WARMUP, BenchError, build_repo, interpreter_of, isolated_env, log

# Runs incidentctl's console-script entry point in-process, with timers around
# imports, subprocess.run and os.fsync; writes what it saw as JSON to argv[1].
PROBE = r"""
import builtins, json, os, sys, time
T0 = time.perf_counter()
out_path = sys.argv[1]
sys.argv = ["incidentctl", *sys.argv[2:]]
imports, git, fsync, depth = [], [], [0.0], [0]
_import, _fsync, _exit = builtins.__import__, os.fsync, os._exit

def timed_import(name, globals=None, locals=None, fromlist=(), level=0):
    if depth[0]:
        return _import(name, globals, locals, fromlist, level)
    depth[0] += 1
    start = time.perf_counter()
    try:
        return _import(name, globals, locals, fromlist, level)
    finally:
        depth[0] -= 1
        if level and globals:
            pkg = globals.get("__package__") or ""
            base = pkg.rsplit(".", level - 1)[0] if level > 1 else pkg
            name = f"{base}.{name}" if name else base
        imports.append([name, (time.perf_counter() - start) * 1000])

def timed_fsync(fd):
    start = time.perf_counter()
    try:
        return _fsync(fd)
    finally:
        fsync[0] += (time.perf_counter() - start) * 1000

def report_and_exit(code):
    total = (time.perf_counter() - T0) * 1000
    with open(out_path, "w") as fh:
        json.dump({"total": total, "imports": imports, "git": git, "fsync": fsync[0],
                   "code": code}, fh)
    _exit(code)

builtins.__import__, os.fsync, os._exit = timed_import, timed_fsync, report_and_exit
# Time spent waiting for each git process (incidentctl.repo.proc: posix_spawn + pipes);
# a process started early and already done when asked costs ~0 here.
import incidentctl.repo.proc as proc
_communicate = proc.Process.communicate
def timed_communicate(self, *a, **k):
    start = time.perf_counter()
    try:
        return _communicate(self, *a, **k)
    finally:
        git.append([" ".join(self.args[:1] + self.args[3:5]), (time.perf_counter() - start) * 1000])
proc.Process.communicate = timed_communicate
from incidentctl.__main__ import main
try:
    main()
except SystemExit as exc:
    report_and_exit(exc.code or 0)
report_and_exit(0)
"""

IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def importtime(
    python: str, argv: Sequence[str], cwd: Path, env: dict[str, str]
) -> list[tuple[str, int]]:
    """(module, self microseconds) from `-X importtime`, in import order."""
    result = subprocess.run(
        [python, "-X", "importtime", *argv], cwd=cwd, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BenchError(f"importtime run failed: {result.stderr[-500:]}")
    rows = []
    for line in result.stderr.splitlines():
        m = IMPORTTIME.match(line)
        if m:
            rows.append((m.group(4), int(m.group(1))))
    return rows


def group_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "incidentctl" else parts[0]


def profile(args: argparse.Namespace) -> dict[str, Any]:
    found = shutil.which(args.incidentctl)
    if not found:
        raise BenchError(f"{args.incidentctl}: not found; pass --incidentctl PATH")
    incidentctl = str(Path(found).absolute())
    python = args.python or interpreter_of(Path(incidentctl))
    tmp = Path(tempfile.mkdtemp(prefix="incidentctl-profile-"))
    try:
        env = isolated_env(tmp, bytecode_cache=not args.no_bytecode_cache)
        log(f"building a repository with {args.incidents} incidents ...")
        repo = build_repo(tmp / "repo", args.incidents, incidentctl, env, args.seed)
        root, ident = repo.root, repo.ids[len(repo.ids) // 2]
        probe_out = tmp / "probe.json"

        wall, bare, totals, fsyncs = [], [], [], []
        import_ms: dict[str, list[float]] = defaultdict(list)
        git_ms: dict[str, list[float]] = defaultdict(list)
        git_counts = []
        log(f"probing: {args.runs} runs (after {WARMUP} warm-ups)")
        for i in range(WARMUP + args.runs):
            argv = ["log", ident, f"Profile note {i}"]
            start = time.perf_counter()
            subprocess.run(
                [python, "-c", PROBE, str(probe_out), *argv],
                cwd=root,
                env=env,
                check=True,
                capture_output=True,
            )
            elapsed = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            subprocess.run([python, "-c", "pass"], cwd=root, env=env, check=True)
            bare_elapsed = (time.perf_counter() - start) * 1000
            data = json.loads(probe_out.read_text())
            if data["code"] != 0:
                raise BenchError(f"incidentctl log exited {data['code']}")
            if i < WARMUP:
                continue
            wall.append(elapsed)
            bare.append(bare_elapsed)
            totals.append(data["total"])
            fsyncs.append(data["fsync"])
            per_run: dict[str, float] = defaultdict(float)
            for name, ms in data["imports"]:
                per_run[name] += ms
            for name, ms in per_run.items():
                import_ms[name].append(ms)
            per_git: dict[str, float] = defaultdict(float)
            for name, ms in data["git"]:
                per_git[name] += ms
            for name, ms in per_git.items():
                git_ms[name].append(ms)
            git_counts.append(len(data["git"]))

        # -X importtime, minus what the bare interpreter imports anyway.
        startup = {m for m, _ in importtime(python, ["-c", "pass"], root, env)}
        groups: dict[str, list[float]] = defaultdict(list)
        totals_it = []
        for i in range(args.runs):
            seen: dict[str, float] = defaultdict(float)
            rows = importtime(
                python,
                [
                    "-c",
                    "from incidentctl.__main__ import main; import sys; "
                    "sys.argv[:] = ['incidentctl', *sys.argv[1:]]; main()",
                    "log",
                    ident,
                    f"Importtime note {i}",
                ],
                root,
                env,
            )
            for module, us in rows:
                if module not in startup:
                    seen[group_of(module)] += us / 1000
            for name, ms in seen.items():
                groups[name].append(ms)
            totals_it.append(sum(seen.values()))
    finally:
        if args.keep:
            log(f"repository kept: {tmp / 'repo'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    imports_total = [
        sum(import_ms[n][k] for n in import_ms if len(import_ms[n]) > k) for k in range(len(wall))
    ]
    git_total = [sum(git_ms[n][k] for n in git_ms if len(git_ms[n]) > k) for k in range(len(wall))]
    return {
        "incidentctl": incidentctl,
        "python": python,
        "incidents": args.incidents,
        "runs": args.runs,
        "bytecode_cache": not args.no_bytecode_cache,
        "wall_ms": median(wall),
        "bare_python_ms": median(bare),
        "in_process_ms": median(totals),
        "imports_ms": median(imports_total),
        "git_ms": median(git_total),
        "git_processes": median(git_counts),
        "fsync_ms": median(fsyncs),
        "top_imports_ms": dict(
            sorted(
                ((n, round(median(v), 2)) for n, v in import_ms.items() if median(v) >= 0.5),
                key=lambda kv: -kv[1],
            )
        ),
        "git_calls_ms": {n: round(median(v), 2) for n, v in git_ms.items()},
        "importtime_total_ms": median(totals_it),
        "importtime_by_package_ms": dict(
            sorted(
                ((n, round(median(v), 2)) for n, v in groups.items() if median(v) >= 0.5),
                key=lambda kv: -kv[1],
            )
        ),
    }


def report(d: dict[str, Any]) -> str:
    other = d["in_process_ms"] - d["imports_ms"] - d["git_ms"] - d["fsync_ms"]
    outside = d["wall_ms"] - d["in_process_ms"]
    lines = [
        f"incidentctl log, {d['incidents']} incidents, median of {d['runs']} runs, "
        f"bytecode {'cached' if d['bytecode_cache'] else 'off'}",
        "",
        f"  wall time (from outside)          {d['wall_ms']:7.1f} ms",
        f"    interpreter start + exit        {outside:7.1f} ms   "
        f"(bare `python -c pass`: {d['bare_python_ms']:.1f} ms)",
        f"    imports                         {d['imports_ms']:7.1f} ms",
        f"    waiting for git ({d['git_processes']:g} processes)  {d['git_ms']:7.1f} ms",
        f"    fsync                           {d['fsync_ms']:7.1f} ms",
        f"    other Python                    {other:7.1f} ms",
        "",
        "  top-level import statements (ms, includes what they import):",
    ]
    lines += [f"    {ms:7.1f}  {name}" for name, ms in d["top_imports_ms"].items()]
    lines += ["", "  waiting for git (ms):"]
    lines += [
        f"    {ms:7.1f}  git {name.split(' ', 1)[1]}" for name, ms in d["git_calls_ms"].items()
    ]
    lines += [
        "",
        f"  -X importtime self time by package, beyond `python -c pass` "
        f"(total {d['importtime_total_ms']:.1f} ms; importtime itself adds overhead):",
    ]
    lines += [f"    {ms:7.1f}  {name}" for name, ms in d["importtime_by_package_ms"].items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--incidentctl", default=shutil.which("incidentctl") or "incidentctl")
    parser.add_argument("--python", help="interpreter (default: the script's shebang)")
    parser.add_argument("--no-bytecode-cache", action="store_true")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--keep", action="store_true", help="keep the repository")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.incidents < 10 or args.runs < 1:
        parser.error("need --incidents >= 10 and --runs >= 1")
    try:
        data = profile(args)
    except (BenchError, subprocess.CalledProcessError) as exc:
        log(f"profile: error: {exc}")
        return 2
    print(json.dumps(data, indent=2) if args.json else report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
