"""The ready-to-copy configurations in examples/ are valid and fit incidentctl.

Each file parses; Alertmanager's own `amtool check-config` accepts alertmanager.yml
(a missing amtool FAILS with the install hint, never skips); the Prometheus rules have
the shape Prometheus loads and severities incidentctl maps; the Grafana, PagerDuty and
Datadog files have the shapes their APIs take; and the Datadog payload is exactly the
template in tests/fixtures/alerts/, which renders into a payload incidentctl reads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from alertmanager import INSTALL_HINT

from incidentctl.alerts import formats
from incidentctl.alerts.config import DEFAULT_SEVERITY_MAP, AlertsConfig
from incidentctl.alerts.notice import FIRING, FORMATS, RESOLVED

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ALERTS = Path(__file__).resolve().parent / "fixtures" / "alerts"

EXPECTED = {
    "alertmanager.yml",
    "prometheus-rules.yml",
    "grafana-contact-point.yaml",
    "pagerduty-webhook-subscription.json",
    "datadog-webhook.json",
    "README.md",
}
CONFIG_FILES = sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".yml", ".yaml", ".json"))

AMTOOL_NAMES = ("amtool", "prometheus-amtool")
AMTOOL_ENV = "AMTOOL_BIN"

SEVERITY_WORD = re.compile(r"SEV-[1-4]")
DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")  # Prometheus' model.Duration
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
ENV_PLACEHOLDER = re.compile(r"\$(?:[A-Z_][A-Z0-9_]*|\{[A-Z_][A-Z0-9_]*\})")
DATADOG_VARIABLE = re.compile(r"\$[A-Z][A-Z0-9_]*(?:\[[^\]\"]+\])?")


# -- helpers ------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def load(name: str) -> Any:
    path = EXAMPLES / name
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text, object_pairs_hook=_json_no_duplicates)
    return yaml.load(text, Loader=_StrictLoader)


def _json_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"duplicate JSON keys: {duplicates}"
    return dict(pairs)


def find_amtool() -> str | None:
    """Like tests/alertmanager.py finds the alertmanager binary: $AMTOOL_BIN, PATH, /usr/bin."""
    override = os.environ.get(AMTOOL_ENV)
    if override:
        return override
    for name in AMTOOL_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for name in AMTOOL_NAMES:
        candidate = Path("/usr/bin") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def amtool() -> str:
    binary = find_amtool()
    if binary is None:
        pytest.fail(
            f"amtool not found (looked for ${AMTOOL_ENV}, {' / '.join(AMTOOL_NAMES)} on PATH "
            f"and in /usr/bin); it ships with Alertmanager: {INSTALL_HINT}",
            pytrace=False,
        )
    return binary


def run_amtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = amtool()
    try:
        return subprocess.run(
            [binary, *args], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        pytest.fail(f"cannot execute amtool {binary!r}: {exc}; {INSTALL_HINT}", pytrace=False)


def incidentctl_format(url: str) -> str:
    """The payload format a serve URL names (`/alerts/{format}`)."""
    path = urlsplit(url).path
    assert path.startswith("/alerts/"), url
    fmt = path[len("/alerts/") :]
    assert fmt in FORMATS, f"{url}: serve knows no format {fmt!r} ({', '.join(FORMATS)})"
    return fmt


# -- every file ---------------------------------------------------------------------------


def test_the_examples_are_all_there() -> None:
    present = {p.name for p in EXAMPLES.iterdir() if p.is_file()}
    assert present >= EXPECTED, f"missing: {sorted(EXPECTED - present)}"


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_each_example_parses(name: str) -> None:
    data = load(name)
    assert isinstance(data, dict) and data, name


@pytest.mark.parametrize("name", [n for n in CONFIG_FILES if n.endswith((".yml", ".yaml"))])
def test_each_yaml_example_is_commented(name: str) -> None:
    lines = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# "), f"{name} should open with a comment saying what it is"
    assert sum(1 for line in lines if line.lstrip().startswith("#")) >= 5


def test_the_readme_has_a_paragraph_per_file() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in CONFIG_FILES:
        assert f"**`{name}`**" in readme, f"examples/README.md does not describe {name}"


# -- Alertmanager -------------------------------------------------------------------------


def test_amtool_accepts_the_alertmanager_example() -> None:
    result = run_amtool("check-config", str(EXAMPLES / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_amtool_really_checks(tmp_path: Path) -> None:
    """The check above means something: the same file with one bad value is refused."""
    broken = tmp_path / "alertmanager.yml"
    text = (EXAMPLES / "alertmanager.yml").read_text(encoding="utf-8")
    assert "type: Bearer" in text
    broken.write_text(text.replace("group_wait: 30s", "group_wait: soon"), encoding="utf-8")
    result = run_amtool("check-config", str(broken))
    assert result.returncode != 0, result.stdout
    assert "soon" in result.stdout + result.stderr


def test_amtool_routes_every_alert_to_incidentctl() -> None:
    result = run_amtool(
        "config",
        "routes",
        "test",
        f"--config.file={EXAMPLES / 'alertmanager.yml'}",
        "alertname=HighHTTPErrorRate",
        "severity=critical",
        "service=checkout",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["incidentctl"], result.stdout


def test_alertmanager_example_settings() -> None:
    config = load("alertmanager.yml")
    route = config["route"]
    assert route["receiver"] == "incidentctl"
    group_by = route["group_by"]
    assert group_by and "..." not in group_by, "group_by decides what one incident is"
    assert "alertname" in group_by
    for key in ("group_wait", "group_interval", "repeat_interval"):
        assert DURATION.fullmatch(str(route[key])), (key, route[key])
    [receiver] = [r for r in config["receivers"] if r["name"] == "incidentctl"]
    [webhook] = receiver["webhook_configs"]
    assert webhook["url"] == "http://127.0.0.1:9095/alerts/alertmanager"
    assert incidentctl_format(webhook["url"]) == "alertmanager"
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 50
    assert webhook["http_config"] == {
        "authorization": {"type": "Bearer", "credentials_file": "/etc/incidentctl/serve-token"}
    }
    text = (EXAMPLES / "alertmanager.yml").read_text(encoding="utf-8")
    assert "group_by decides what ONE incident is" in text  # the de-duplication comment


# -- Prometheus rules ---------------------------------------------------------------------

RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
GROUP_KEYS = {"name", "interval", "rules", "limit", "query_offset"}


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("prometheus-rules.yml")["groups"] for rule in group["rules"]]


def test_prometheus_rules_have_the_structure_prometheus_loads() -> None:
    config = load("prometheus-rules.yml")
    assert set(config) == {"groups"}
    names = [group["name"] for group in config["groups"]]
    assert len(names) == len(set(names)), "group names must be unique"
    for group in config["groups"]:
        assert set(group) <= GROUP_KEYS, set(group) - GROUP_KEYS
        assert isinstance(group["rules"], list) and group["rules"]
        for rule in group["rules"]:
            where = f"{group['name']}/{rule.get('alert')}"
            assert set(rule) <= RULE_KEYS, (where, set(rule) - RULE_KEYS)
            assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), where
            assert METRIC_NAME.fullmatch(rule["alert"]), where
            assert isinstance(rule["expr"], str) and rule["expr"].strip(), where
            assert rule["expr"].count("(") == rule["expr"].count(")"), where
            assert DURATION.fullmatch(str(rule["for"])), where
            for mapping in ("labels", "annotations"):
                assert all(LABEL_NAME.fullmatch(k) for k in rule[mapping]), (where, mapping)
                assert all(isinstance(v, str) for v in rule[mapping].values()), (where, mapping)
                for value in rule[mapping].values():
                    assert value.count("{{") == value.count("}}"), (where, value)
            assert {"severity", "service"} <= set(rule["labels"]), where
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), where
            assert rule["annotations"]["runbook_url"].startswith("https://"), where


def test_prometheus_rules_cover_the_workflow_triggers() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    errors = by_name["HighHTTPErrorRate"]
    assert re.search(r"\)\s*>\s*0\.5\s*$", errors["expr"]), errors["expr"]  # above 50 %
    assert errors["for"] == "5m"  # for 5 minutes
    latency = by_name["SlowHTTPResponses"]
    assert "histogram_quantile(" in latency["expr"] and "_bucket[" in latency["expr"]
    assert re.search(r"\b0\.99\b", latency["expr"]), "p99"
    assert re.search(r"\)\s*>\s*30\s*$", latency["expr"]), "above 30 s"
    availability = by_name["LowAvailability"]
    assert re.search(r"\)\s*<\s*0\.95\s*$", availability["expr"]), "below 95 %"


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_each_rule_severity_maps_to_a_sev(rule: dict[str, Any]) -> None:
    word = rule["labels"]["severity"]
    # Known to the mapping itself, not caught by the fallback to default_severity.
    assert word.lower() in DEFAULT_SEVERITY_MAP, f"{rule['alert']}: {word!r} is not mapped"
    sev = AlertsConfig().severity(word)
    assert SEVERITY_WORD.fullmatch(sev)
    assert sev == {"critical": "SEV-1", "high": "SEV-2"}.get(word, sev)


def _render(template: str, labels: dict[str, str]) -> str:
    """Just enough of Prometheus' templating for these annotations."""
    text = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return re.sub(r"\{\{\s*\$value[^}]*\}\}", "97%", text)


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_a_group_of_each_rule_becomes_the_incident_the_comments_promise(
    rule: dict[str, Any],
) -> None:
    """Three instances of one rule, grouped by [alertname, service] as in alertmanager.yml,
    read by incidentctl: title = the shared summary, SEV from severity, service, runbook."""
    alerts = []
    for n in (1, 2, 3):
        series = {"service": "checkout", "env": "production", "instance": f"web-{n}:8080"}
        labels = {"alertname": rule["alert"], **series}
        labels.update({k: _render(v, series) for k, v in rule["labels"].items()})
        notes = {k: _render(v, labels) for k, v in rule["annotations"].items()}
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": notes,
                "startsAt": "2026-11-24T14:01:30.31Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.com/graph",
                "fingerprint": f"{n:016x}",
            }
        )
    common_labels = dict(set.intersection(*(set(a["labels"].items()) for a in alerts)))
    common_notes = dict(set.intersection(*(set(a["annotations"].items()) for a in alerts)))
    payload = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{rule["alert"]}", service="checkout"}}',
        "status": "firing",
        "receiver": "incidentctl",
        "groupLabels": {"alertname": rule["alert"], "service": "checkout"},
        "commonLabels": common_labels,
        "commonAnnotations": common_notes,
        "externalURL": "http://alertmanager.example.com",
        "truncatedAlerts": 0,
        "alerts": alerts,
    }
    notice = formats.read(json.dumps(payload), "alertmanager")
    assert notice.title == _render(rule["annotations"]["summary"], {"service": "checkout"})
    assert AlertsConfig().severity(notice.severity) == AlertsConfig().severity(
        rule["labels"]["severity"]
    )
    assert notice.services == ["checkout"]
    assert notice.environment == "production"
    assert notice.links["runbook"].startswith("https://runbooks.example.com/checkout/")
    assert len(notice.members) == 3


# -- Grafana ------------------------------------------------------------------------------


def test_grafana_contact_point_provisioning() -> None:
    config = load("grafana-contact-point.yaml")
    assert config["apiVersion"] == 1
    [point] = config["contactPoints"]
    assert point["name"] == "incidentctl"
    assert isinstance(point["orgId"], int)
    [receiver] = point["receivers"]
    assert receiver["type"] == "webhook"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", receiver["uid"]), receiver["uid"]
    assert receiver["disableResolveMessage"] is False
    settings = receiver["settings"]
    assert incidentctl_format(settings["url"]) == "grafana"
    assert settings["httpMethod"] == "POST"
    assert settings["authorization_scheme"] == "Bearer"
    credentials = settings["authorization_credentials"]
    assert ENV_PLACEHOLDER.fullmatch(credentials), f"not an env var placeholder: {credentials}"
    assert "INCIDENTCTL_SERVE_TOKEN" in credentials  # serve's own variable name
    assert isinstance(settings.get("maxAlerts", 0), int)


# -- PagerDuty ----------------------------------------------------------------------------

# From PagerDuty's OpenAPI (PagerDuty/api-schema, reference/REST/openapiv3.json:
# POST /webhook_subscriptions, components.schemas.WebhookSubscription), cut to the
# fields one creates a subscription with; the https:// pattern is ours (serve sits behind
# a TLS proxy for a hosted sender).
PAGERDUTY_CREATE = {
    "type": "object",
    "required": ["webhook_subscription"],
    "additionalProperties": False,
    "properties": {
        "webhook_subscription": {
            "type": "object",
            "required": ["type", "delivery_method", "events", "filter"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["webhook_subscription"]},
                "active": {"type": "boolean"},
                "description": {"type": "string"},
                "delivery_method": {
                    "type": "object",
                    "required": ["type", "url"],
                    "additionalProperties": False,
                    "properties": {
                        "type": {"enum": ["http_delivery_method"]},
                        "url": {"type": "string", "pattern": "^https://"},
                        "custom_headers": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "value"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string"},
                                    "value": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {
                        "enum": [
                            "incident.acknowledged",
                            "incident.annotated",
                            "incident.delegated",
                            "incident.escalated",
                            "incident.priority_updated",
                            "incident.reassigned",
                            "incident.reopened",
                            "incident.resolved",
                            "incident.responder.added",
                            "incident.responder.replied",
                            "incident.status_update_published",
                            "incident.triggered",
                            "incident.unacknowledged",
                        ]
                    },
                },
                "filter": {
                    "type": "object",
                    "required": ["type"],
                    "additionalProperties": False,
                    "properties": {
                        "type": {
                            "enum": ["account_reference", "service_reference", "team_reference"]
                        },
                        "id": {"type": "string"},
                    },
                },
            },
        }
    },
}


def test_pagerduty_webhook_subscription_body() -> None:
    body = load("pagerduty-webhook-subscription.json")
    jsonschema.validate(body, PAGERDUTY_CREATE)
    subscription = body["webhook_subscription"]
    method = subscription["delivery_method"]
    assert incidentctl_format(method["url"]) == "pagerduty"
    headers = {h["name"]: h["value"] for h in method["custom_headers"]}
    assert headers["Authorization"].startswith("Bearer ")
    assert len(headers["Authorization"].split()) == 2
    assert set(subscription["events"]) >= {
        "incident.triggered",
        "incident.acknowledged",
        "incident.resolved",
        "incident.reopened",
        "incident.escalated",
    }
    filt = subscription["filter"]
    assert filt["type"] in ("service_reference", "account_reference")
    if filt["type"] == "service_reference":
        assert filt.get("id"), "a service_reference filter names the service"


# -- Datadog ------------------------------------------------------------------------------

TEMPLATE = ALERTS / "datadog-template.json"


def datadog_example() -> dict[str, Any]:
    config: dict[str, Any] = load("datadog-webhook.json")
    return config


def test_datadog_webhook_settings() -> None:
    config = datadog_example()
    assert set(config) <= {"name", "url", "payload", "custom_headers", "encode_as"}
    assert re.fullmatch(r"[A-Za-z0-9_-]+", config["name"]), config["name"]
    assert incidentctl_format(config["url"]) == "datadog"
    assert config["url"].startswith("https://")
    assert config["encode_as"] == "json"
    # Datadog's API takes the headers as a JSON *string*.
    headers = json.loads(config["custom_headers"])
    assert DATADOG_VARIABLE.fullmatch(headers["Authorization"].removeprefix("Bearer "))


def test_datadog_payload_is_exactly_the_fixture_template() -> None:
    payload = datadog_example()["payload"]
    template = TEMPLATE.read_text(encoding="utf-8")
    assert payload == template.rstrip("\n")
    assert json.loads(payload) == json.loads(template)


def _variables(template: Any, rendered: Any, path: str = "") -> dict[str, str]:
    """$VARIABLE -> its value, from a template and one payload Datadog rendered from it."""
    if isinstance(template, dict):
        assert isinstance(rendered, dict) and set(rendered) == set(template), path
        out: dict[str, str] = {}
        for key in template:
            for name, value in _variables(template[key], rendered[key], f"{path}.{key}").items():
                assert out.get(name, value) == value, f"{name} has two values"
                out[name] = value
        return out
    assert isinstance(template, str) and isinstance(rendered, str), path
    if not DATADOG_VARIABLE.search(template):  # a constant: "source": "datadog"
        assert rendered == template, path
        return {}
    assert DATADOG_VARIABLE.fullmatch(template), (path, template)  # one variable per value
    return {template: rendered}


def render_datadog(payload_text: str, values: dict[str, str]) -> str:
    """What Datadog does: text substitution of each $VARIABLE (JSON-escaped in a JSON body)."""

    def value(match: re.Match[str]) -> str:
        assert match.group(0) in values, f"no value for {match.group(0)}"
        return json.dumps(values[match.group(0)], ensure_ascii=False)[1:-1]

    return DATADOG_VARIABLE.sub(value, payload_text)


@pytest.mark.parametrize(
    ("fixture", "status"),
    [("datadog-triggered.json", FIRING), ("datadog-recovered.json", RESOLVED)],
)
def test_the_rendered_template_is_read_as_datadog(fixture: str, status: str) -> None:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    expected = json.loads((ALERTS / fixture).read_text(encoding="utf-8"))
    values = _variables(template, expected)
    rendered = render_datadog(datadog_example()["payload"], values)
    assert json.loads(rendered) == expected  # pure substitution, valid JSON after it

    assert formats.detect(json.loads(rendered)) == "datadog"
    notice = formats.read(rendered.encode("utf-8"))  # the format told from the shape
    assert notice.format == "datadog"
    assert notice.status == status
    assert notice.key == expected["alert_cycle_key"]
    assert notice.title == "Checkout p99 latency above 2s"
    assert notice.services == ["checkout"]
    assert AlertsConfig().severity(notice.severity) == "SEV-2"  # P2
    assert formats.read(rendered.encode("utf-8"), "datadog").key == notice.key


def test_a_missing_amtool_fails_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "find_amtool", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="scripts/ensure-alertmanager"):
        run_amtool("--version")


def test_a_broken_amtool_fails_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AMTOOL_ENV, str(tmp_path / "no-such-amtool"))
    with pytest.raises(pytest.fail.Exception, match="scripts/ensure-alertmanager"):
        run_amtool("--version")
