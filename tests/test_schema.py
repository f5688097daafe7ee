"""The committed JSON Schema matches `incidentctl schema`, and real incident files satisfy it."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from conftest import Repo

from incidentctl.cli import cli
from incidentctl.incident.timeutil import format_ts

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "incident.schema.json"
REGENERATE = "regenerate it with: incidentctl schema > schema/incident.schema.json"


def cli_schema_text() -> str:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def committed_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def as_json_value(value: Any) -> Any:
    """YAML front matter as JSON sees it: timestamps and dates become strings."""
    if isinstance(value, dict):
        return {str(k): as_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json_value(v) for v in value]
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    _, fm, _ = text.split("---\n", 2)
    data: dict[str, Any] = as_json_value(yaml.safe_load(fm))
    return data


def test_committed_schema_is_current() -> None:
    """schema/incident.schema.json is byte-for-byte what `incidentctl schema` prints."""
    assert SCHEMA_FILE.is_file(), f"{SCHEMA_FILE} is missing; {REGENERATE}"
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == cli_schema_text(), f"the committed schema is out of date; {REGENERATE}"


def test_schema_output_is_json_dumps_indent_2() -> None:
    """`incidentctl schema` prints model.schema() as json.dumps(indent=2) plus a newline."""
    from incidentctl.incident.model import schema

    assert cli_schema_text() == json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def test_schema_requires_the_core_fields() -> None:
    """id, title, status, severity and opened_at are required by the committed schema."""
    required = set(committed_schema().get("required", []))
    assert required >= {"id", "title", "status", "severity", "opened_at"}


def test_opened_incident_validates_against_committed_schema(repo: Repo) -> None:
    """The front matter `open` writes is valid under the committed JSON Schema."""
    schema = committed_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    data = repo.open(
        "Checkout failing", "--severity", "SEV-2", "--service", "api", "--service", "web"
    )
    repo.ok("log", data["id"], "Rolled back", "--kind", "action")
    repo.ok("status", data["id"], "monitoring", "-m", "errors back to baseline")
    repo.ok("assign", data["id"], "--role", "comms=Bob")
    fm = front_matter(repo.file(data["path"]))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(fm)]
    assert errors == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"severity": "SEV-9"}, "unknown severity"),
        ({"status": "paused"}, "unknown status"),
        ({"id": None}, "missing id"),
        ({"typo_key": 1}, "unknown key"),
    ],
)
def test_schema_refuses_invalid_front_matter(repo: Repo, change: dict[str, Any], why: str) -> None:
    """The committed schema is not vacuous: it refuses what the tool refuses."""
    schema = committed_schema()
    fm = front_matter(repo.file(repo.open()["path"]))
    for key, value in change.items():
        if value is None:
            fm.pop(key)
        else:
            fm[key] = value
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not validator.is_valid(fm), why


def test_schema_allows_custom_x_keys(repo: Repo) -> None:
    """Teams' own `x-` keys are allowed by the schema, as by the model."""
    schema = committed_schema()
    fm = front_matter(repo.file(repo.open()["path"]))
    fm["x-team"] = "payments"
    jsonschema.validate(fm, schema)
