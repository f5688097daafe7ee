"""`edit` through a real editor process, and shell completion of commands and IDs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo, console_script


def _editor(tmp_path: Path, body: str) -> str:
    """An executable 'editor' that rewrites the file it is given with a Python snippet."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\ntext = p.read_text()\n" + body
    )
    return f"{sys.executable} {script}"


@pytest.mark.parametrize(
    ("body", "code", "commits", "message"),
    [
        ("p.write_text(text + '\\nA note added in the editor.\\n')", 0, 1, "Edited"),
        ("p.write_text(text.replace('severity: SEV-3', 'severity: [SEV-3'))", 1, 0, "invalid YAML"),
        ("p.write_text(text.replace('status: triage', 'status: bogus'))", 1, 0, "`status`"),
        ("p.write_text(text.replace('id: INC-', 'id: OTHER-'))", 1, 0, "keeps its ID"),
        ("pass", 0, 0, "No change"),
    ],
)
def test_edit_validates_then_commits(
    repo: Repo, tmp_path: Path, body: str, code: int, commits: int, message: str
) -> None:
    """A valid save is committed; an invalid one (no terminal) is discarded, file intact."""
    data = repo.open("Queue backlog")
    path = repo.file(data["path"])
    before_text, before = path.read_text(), repo.commits()
    result = repo.run("edit", data["id"], env={"EDITOR": _editor(tmp_path, body)})
    assert result.exit_code == code, result.output
    assert message in result.output
    assert repo.commits() == before + commits
    if commits:
        assert path.read_text().endswith("A note added in the editor.\n")
        assert repo.git("log", "-1", "--format=%s").strip() == f"incident({data['id']}): edit"
    else:
        assert path.read_text() == before_text


def test_completion_scripts_and_id_completion(repo: Repo) -> None:
    """`completion bash` prints a script; completing `show ` offers the incident IDs."""
    script = repo.ok("completion", "bash").stdout
    assert "_INCIDENTCTL_COMPLETE" in script and "complete " in script
    ident = repo.open("Queue backlog")["id"]
    env = {
        **os.environ,
        "_INCIDENTCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": f"incidentctl show {ident[-3:]}",
        "COMP_CWORD": "2",
    }
    result = subprocess.run(
        [console_script()],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"plain,{ident}" in result.stdout.splitlines()
    env["COMP_WORDS"], env["COMP_CWORD"] = "incidentctl sta", "1"
    result = subprocess.run(
        [console_script()],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "plain,status" in result.stdout.splitlines()
