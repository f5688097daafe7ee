"""The reminders workflow (comms-due.yml): its file, and its steps run in a simulated
Actions job, twice, against a bare origin and a Slack webhook stand-in."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import comms_servers as cs
import yaml
from actions_sim import all_steps, check_pinned_and_inert, load, run_steps
from click.testing import CliRunner
from conftest import Repo, git, tool

from incidentctl.cli import cli
from incidentctl.incident.timeutil import format_ts, utcnow
from incidentctl.repo import scaffold

NAME = "comms-due.yml"
TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "workflows" / NAME
INSTALL_MARK = "@INCIDENTCTL_INSTALL@"
TOKEN = "ghs_faketoken_never_written_anywhere_456"
CONFIG = """
[channels.incidents]
type = "slack"
url_env = "SLACK_WEBHOOK_URL"

[groups.oncall]
channels = ["incidents"]
"""


def test_schedule_permissions_pins_and_lint() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    doc = load(text)
    assert doc["on"]["schedule"] == [{"cron": "*/15 * * * *"}]
    assert doc["permissions"] == {}
    [job] = doc["jobs"].values()
    assert job["permissions"] == {"contents": "write"}
    assert doc["concurrency"]["cancel-in-progress"] is False
    check_pinned_and_inert(all_steps(doc), runs=2)
    assert NAME in scaffold.WORKFLOWS
    assert "no substitute for `incidentctl serve`" in text
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    for argv in (
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(TEMPLATE)],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(TEMPLATE)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_two_scheduled_runs_remind_once_and_push(tmp_path: Path, origin: Path) -> None:
    """An incident overdue for its update: the first run sends one reminder through
    Slack and pushes its record; the second, in a fresh clone, sends nothing more."""
    seed = tmp_path / "seed"
    assert CliRunner().invoke(cli, ["init", str(seed)]).exit_code == 0
    user = Repo(seed)
    (seed / "incidentctl.toml").write_text(CONFIG, encoding="utf-8")
    user.git("add", "-A")
    user.git("commit", "--quiet", "-m", "incidentctl init")
    user.git("remote", "add", "origin", str(origin))
    at = format_ts(utcnow() - timedelta(hours=3))
    ident = user.json("open", "Search down", "-s", "SEV-2", "--at", at, "--no-notify")["id"]
    user.git("push", "--quiet", "origin", "main")
    with cs.SlackWebhook() as slack:
        for run in ("run-1", "run-2"):
            workspace = tmp_path / run / "ws"
            workspace.parent.mkdir(parents=True)
            git(workspace.parent, "clone", "--quiet", str(origin), str(workspace))
            (workspace / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
            text = TEMPLATE.read_text(encoding="utf-8").replace(
                "@INCIDENTCTL_INSTALL@", "incidentctl"
            )
            (workspace / ".github" / "workflows" / NAME).write_text(text, encoding="utf-8")
            temp = tmp_path / run / "temp"
            temp.mkdir()
            context = {
                "secrets.SLACK_WEBHOOK_URL": slack.webhook_url,
                "secrets.SLACK_BOT_TOKEN": "",
                "secrets.SMTP_PASSWORD": "",
                "secrets.PAGERDUTY_ROUTING_KEY": "",
                "github.token": TOKEN,
            }
            env = {"GITHUB_EVENT_NAME": "schedule", "RUNNER_TEMP": str(temp)}
            ran = run_steps(workspace / ".github" / "workflows" / NAME, workspace, env, context)
            assert [r.code for r in ran] == [0, 0], [(r.name, r.stdout, r.stderr) for r in ran]
            assert TOKEN not in (workspace / ".git" / "config").read_text()
        assert len(slack.messages) == 1
        assert ident in str(slack.messages[0])
    check = tmp_path / "check"
    git(tmp_path, "clone", "--quiet", str(origin), str(check))
    [path] = (check / "incidents").rglob(f"{ident}-*.md")
    text = path.read_text(encoding="utf-8")
    assert text.count("Rules for update-due fired") == 1
    assert "Notice (update) sent to oncall via incidents" in text
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["id"] == ident
    log = git(check, "log", "--format=%an|%s")
    assert "github-actions[bot]|incident(" in log
