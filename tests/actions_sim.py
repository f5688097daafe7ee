"""A small stand-in for a GitHub Actions runner: it runs a workflow's `run:` steps.

Each step runs as the runner runs it (`bash --noprofile --norc -eo pipefail`), in the
checked-out workspace, with the GITHUB_* variables a test gives and the step's own
`env:`. Only the `${{ }}` expressions a test lists are evaluated; any other one fails
the test, so a workflow that pastes event data into a script cannot pass. A `pip
install` step resolves against what is installed (dry run, no index): it proves the
requirement is satisfiable without touching the venv or the network.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml


@dataclass
class StepRun:
    name: str
    code: int
    stdout: str
    stderr: str


def load(text: str) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load(text)
    if True in doc:  # YAML 1.1 reads the key `on` as true
        doc["on"] = doc.pop(True)
    return doc


def all_steps(doc: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def check_pinned_and_inert(steps: list[dict[str, Any]], runs: int) -> None:
    """Every action pinned to a 40-hex SHA; `runs` run: steps, none with a `${{`."""
    uses = [str(s["uses"]) for s in steps if "uses" in s]
    assert uses, "no action to check"
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
    scripts = [str(s["run"]) for s in steps if "run" in s]
    assert len(scripts) == runs
    for script in scripts:
        assert "${{ github.event" not in script
        assert "${{" not in script, script  # untrusted values come in through env:


def expand(value: str, context: dict[str, str]) -> str:
    """Evaluate the expressions in `context`; any other expression fails the test."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in context:
            pytest.fail(
                f"the workflow uses an expression this simulation refuses: {match.group(1)}"
            )
        return context[match.group(1)]

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", one, value)


def run_steps(
    workflow: Path,
    workspace: Path,
    env: dict[str, str],
    context: dict[str, str],
) -> list[StepRun]:
    """Run every `run:` step in order; stop after the first that fails, as GitHub does."""
    doc = load(workflow.read_text(encoding="utf-8"))
    base = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    base.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        GITHUB_ACTIONS="true",
        CI="true",
        GITHUB_WORKSPACE=str(workspace),
        **env,
    )
    results = []
    for number, step in enumerate(all_steps(doc)):
        if "run" not in step:
            continue
        step_env = dict(base)
        step_env.update({k: expand(str(v), context) for k, v in (step.get("env") or {}).items()})
        if "pip install" in step["run"]:
            step_env.update(PIP_DRY_RUN="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        script = workspace.parent / f"step-{number}.sh"
        script.write_text(expand(step["run"], context), encoding="utf-8")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        results.append(
            StepRun(step.get("name", f"step {number}"), done.returncode, done.stdout, done.stderr)
        )
        if done.returncode != 0:
            break
    return results
