"""The `run` action: a configured command started with the incident in its environment."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from ..repo.incidents import IncidentRepo
from .settings import Settings


def run_command(
    repo: IncidentRepo, settings: Settings, name: str, data: dict[str, Any], event: str
) -> str:
    """Run a configured command with the incident in its environment (never in a shell)."""
    command = settings.commands[name]
    env = {
        **os.environ,
        "INCIDENT_ID": data["id"],
        "INCIDENT_TITLE": data["title"],
        "INCIDENT_SEVERITY": data["severity"],
        "INCIDENT_STATUS": data["status"],
        "INCIDENT_TYPE": data["type"],
        "INCIDENT_ENVIRONMENT": data["environment"],
        "INCIDENT_SERVICES": ",".join(data.get("services") or ()),
        "INCIDENT_COMMANDER": data.get("commander") or "",
        "INCIDENT_EVENT": event,
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            list(command.argv),
            cwd=repo.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=command.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"Ran {name}: stopped after {command.timeout:g} s"
    except OSError as exc:
        return f"Ran {name}: could not start ({exc.strerror})"
    took = time.monotonic() - started
    return f"Ran {name}: exit {done.returncode} after {took:.1f} s"
