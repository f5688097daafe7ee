"""The alert-intake workflow (repository_dispatch): its file, and its steps run in a
simulated Actions job against a bare origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from actions_sim import all_steps, check_pinned_and_inert, load, run_steps
from click.testing import CliRunner
from conftest import Repo, git

from incidentctl.cli import cli
from incidentctl.repo import scaffold

ROOT = Path(__file__).resolve().parent.parent
NAME = "alert-intake.yml"
OURS = ROOT / ".github" / "workflows" / NAME
FIXTURES = ROOT / "tests" / "fixtures" / "alerts"
TOKEN = "ghs_faketoken_never_written_anywhere_123"


def test_trigger_permissions_and_pins() -> None:
    """repository_dispatch `alert` only, no permission by default, contents: write for
    the one job, pinned actions, no expression pasted into a script."""
    doc = load(OURS.read_text(encoding="utf-8"))
    assert doc["on"] == {"repository_dispatch": {"types": ["alert"]}}
    assert doc["permissions"] == {}
    [job] = doc["jobs"].values()
    assert job["permissions"] == {"contents": "write"}
    check_pinned_and_inert(all_steps(doc), runs=2)
    assert doc["concurrency"]["cancel-in-progress"] is False


def test_packaged_workflow_is_ours_but_for_the_install() -> None:
    """`init` installs the same workflow this repository runs, pinned to this version."""
    assert scaffold.workflow_text(NAME, ".") == OURS.read_text(encoding="utf-8")
    assert NAME in scaffold.WORKFLOWS


def _dispatch(origin: Path, tmp: Path, run: str, client_payload: dict[str, Any]) -> list[Any]:
    workspace = tmp / run / "ws"
    workspace.parent.mkdir(parents=True)
    git(workspace.parent, "clone", "--quiet", str(origin), str(workspace))
    wrapped = client_payload.get("payload")
    context = {
        "toJSON(github.event.client_payload.payload)": json.dumps(wrapped)
        if wrapped is not None
        else "null",
        "toJSON(github.event.client_payload)": json.dumps(client_payload),
        "github.event.client_payload.format": str(client_payload.get("format") or ""),
        "github.token": TOKEN,
    }
    runner_temp = tmp / run / "temp"
    runner_temp.mkdir()
    env = {
        "GITHUB_EVENT_NAME": "repository_dispatch",
        "GITHUB_REPOSITORY": "acme/incidents",
        "RUNNER_TEMP": str(runner_temp),
    }
    ran = run_steps(workspace / ".github" / "workflows" / NAME, workspace, env, context)
    config = (workspace / ".git" / "config").read_text()
    assert TOKEN not in config
    return ran


def _origin_front(origin: Path, tmp: Path) -> list[dict[str, Any]]:
    check = tmp / "check"
    if check.exists():
        git(check, "pull", "--quiet")
    else:
        git(tmp, "clone", "--quiet", str(origin), str(check))
    out = []
    for path in sorted((check / "incidents").rglob("INC-*.md")):
        out.append(yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1]))
    return out


def test_dispatched_alerts_open_then_fold_into_one_incident(tmp_path: Path, origin: Path) -> None:
    """Two dispatches of the same Alertmanager group: one incident pushed to origin, the
    second folded into it; a plain payload sent unwrapped opens its own."""
    seed = tmp_path / "seed"
    assert CliRunner().invoke(cli, ["init", str(seed)]).exit_code == 0
    user = Repo(seed)
    user.git("add", "-A")
    user.git("commit", "--quiet", "-m", "incidentctl init")
    user.git("remote", "add", "origin", str(origin))
    user.git("push", "--quiet", "origin", "main")
    alert = json.loads((FIXTURES / "alertmanager-firing-3.json").read_text())

    for run in ("run-1", "run-2"):
        ran = _dispatch(origin, tmp_path, run, {"format": "alertmanager", "payload": alert})
        assert [r.code for r in ran] == [0, 0], [(r.name, r.stdout, r.stderr) for r in ran]
    [incident] = _origin_front(origin, tmp_path)
    assert incident["source"]["format"] == "alertmanager"
    assert incident["source"]["received"] == 2
    assert incident["severity"] == "SEV-1"

    plain = json.loads((FIXTURES / "plain.json").read_text())
    ran = _dispatch(origin, tmp_path, "run-3", plain)
    assert [r.code for r in ran] == [0, 0], [(r.name, r.stdout, r.stderr) for r in ran]
    assert sorted(i["source"]["format"] for i in _origin_front(origin, tmp_path)) == [
        "alertmanager",
        "plain",
    ]
    log = git(tmp_path / "check", "log", "--format=%an|%s")
    assert "github-actions[bot]|incident(" in log


def test_hostile_dispatch_runs_nothing_and_fails_cleanly(tmp_path: Path, origin: Path) -> None:
    """Shell text in the payload is data; a bad `format` is refused; nothing is pushed."""
    seed = tmp_path / "seed"
    assert CliRunner().invoke(cli, ["init", str(seed)]).exit_code == 0
    user = Repo(seed)
    user.git("add", "-A")
    user.git("commit", "--quiet", "-m", "incidentctl init")
    user.git("remote", "add", "origin", str(origin))
    user.git("push", "--quiet", "origin", "main")
    marker = tmp_path / "pwned"
    evil = {
        "source": f"$(touch {marker})",
        "spec_id": f"'; touch {marker}; '",
        "metric": f"`touch {marker}`",
        "value": 1,
    }
    ran = _dispatch(origin, tmp_path, "evil", evil)
    assert [r.code for r in ran] == [0, 0], [(r.name, r.stdout, r.stderr) for r in ran]
    assert not marker.exists()
    ran = _dispatch(origin, tmp_path, "bad-format", {"format": "--repo=/tmp", "payload": evil})
    assert ran[-1].code == 2 and "Invalid value for '--source'" in ran[-1].stderr
    assert not marker.exists()
    assert len(_origin_front(origin, tmp_path)) == 1
