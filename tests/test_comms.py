"""Stakeholders told by rules: the matrix, notices through the outbox with a channel down,
`notify --retry`, `run` commands, secrets kept out of everything, `due` and `board`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import comms_servers as cs
import pytest
from click.testing import CliRunner, Result
from conftest import Repo

from incidentctl.cli import cli
from incidentctl.comms import board, due, notify
from incidentctl.comms.settings import DEFAULT_GROUPS, load
from incidentctl.incident.configfile import parse
from incidentctl.repo.incidents import IncidentRepo

HOOK_SECRET = "CANARYhookSECRET0123456789abcdef"
PD_KEY = "CANARYpdKEY0123456789abcdefghijk"
ENV = {"OPS_SECRET": HOOK_SECRET, "PD_KEY": PD_KEY}


def configure(repo: Repo, toml: str) -> None:
    repo.file("incidentctl.toml").write_text(toml)
    repo.git("add", "incidentctl.toml")
    repo.git("commit", "-qm", "config")


def run(repo: Repo, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--repo", str(repo.path), *args], env={**ENV, **(env or {})}, catch_exceptions=True
    )


def ok(repo: Repo, *args: str) -> Result:
    result = run(repo, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture
def receiver() -> Any:
    with cs.SignedReceiver(HOOK_SECRET) as server:
        yield server


@pytest.fixture
def pager() -> Any:
    with cs.PagerDuty() as server:
        yield server


def wired(repo: Repo, receiver: Any, pager: Any, extra: str = "") -> None:
    configure(
        repo,
        f"""
[comms]
timeout = "3s"

[channels.ops]
type = "webhook"
url = "{receiver.hook_url}"
secret_env = "OPS_SECRET"

[channels.pager]
type = "pagerduty"
routing_key_env = "PD_KEY"
events_url = "{pager.url}"

[groups.oncall]
channels = ["ops", "pager"]
{extra}""",
    )


def heal(server: Any) -> None:
    """The stand-in answers normally again: its injected faults are used up."""
    for fault in server._faults:
        fault.times = fault.hits


def timeline(repo: Repo, ident: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = repo.json("show", ident)["timeline"]
    return entries


# -- the matrix as a table ----------------------------------------------------------------

SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")
TYPES = ("outage", "security", "performance", "data", "integration")
EXPECTED = {  # our workflows' matrix: who hears of what
    "executives": lambda sev, kind: sev in ("SEV-1", "SEV-2"),
    "engineering-leads": lambda sev, kind: sev in ("SEV-1", "SEV-2", "SEV-3"),
    "oncall": lambda sev, kind: True,
    "support": lambda sev, kind: sev in ("SEV-1", "SEV-2", "SEV-3"),
    "customers": lambda sev, kind: sev in ("SEV-1", "SEV-2"),
    "security": lambda sev, kind: kind == "security",
    "legal": lambda sev, kind: sev == "SEV-1" or kind == "security",
}


def matrix_settings() -> Any:
    channels = {
        name: {"type": "webhook", "url": "https://hooks.example.com/x"} for name in DEFAULT_GROUPS
    }
    config = parse({"channels": channels})
    return load(config)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_the_matrix_reaches_exactly_the_expected_groups(severity: str, kind: str) -> None:
    """For each severity and type, exactly the groups of the matrix are told."""
    data = {"id": "INC-1", "severity": severity, "type": kind, "visibility": "internal"}
    steps = notify.plan(matrix_settings(), data, "open")
    told = {s.target for s in steps if s.action == "notify"}
    assert told == {g for g, reaches in EXPECTED.items() if reaches(severity, kind)}
    customers = [s for s in steps if s.target == "customers"]
    assert all(s.skipped.startswith("the status page") for s in customers)
    paged = [s for s in steps if s.action == "page"]
    assert bool(paged) == (severity in ("SEV-1", "SEV-2"))


def test_rules_conditions_and_actions_are_checked_in_one_line() -> None:
    """A rule naming nothing known, or a literal secret in a channel, is a one-line error."""
    from incidentctl.errors import ConfigError

    bad = [
        ({"rules": [{"on": ["opened"], "do": [{"notify": "oncall"}]}]}, "`rules[0].on` has"),
        ({"rules": [{"on": ["open"], "do": [{"notify": "nobody"}]}]}, "neither a group nor"),
        ({"rules": [{"on": ["open"], "do": [{"run": "rollback"}]}]}, "[commands.rollback]"),
        (
            {"rules": [{"on": ["open"], "when": {"colour": "red"}, "do": [{"page": "x"}]}]},
            "not a condition",
        ),
        ({"groups": {"oncall": {"severities": ["SEV-9"]}}}, "`groups.oncall.severities`"),
        ({"comms": {"timeout": "soon"}}, "`comms.timeout`"),
    ]
    for table, message in bad:
        with pytest.raises(ConfigError) as caught:
            load(parse(table))
        assert message in caught.value.message
        assert "\n" not in caught.value.message


# -- notices end to end ---------------------------------------------------------------------


def test_open_and_resolve_tell_the_oncall_and_page_them(
    repo: Repo, receiver: Any, pager: Any
) -> None:
    """A SEV-1 opens: the webhook gets a signed notice, PagerDuty a trigger keyed by the
    incident's ID; resolving sends the final notice and resolves the page; every
    outcome is on the timeline."""
    wired(repo, receiver, pager)
    ident = json.loads(ok(repo, "open", "Checkout down", "-s", "SEV-1", "--json").stdout)["id"]
    assert [d["stage"] for d in receiver.documents][-1] == "initial"
    assert pager.alerts[ident] == "triggered"
    ok(repo, "status", ident, "investigating")
    assert pager.alerts[ident] == "acknowledged"
    ok(repo, "status", ident, "resolved")
    assert pager.alerts[ident] == "resolved"
    assert receiver.documents[-1]["stage"] == "resolved"
    comms = [e["text"] for e in timeline(repo, ident) if e["kind"] == "comms"]
    assert any("sent to oncall via ops" in t for t in comms)
    assert any("sent to oncall via pager" in t for t in comms)
    assert repo.git("status", "--porcelain") == ""


def test_the_fast_path_of_the_installed_command_notifies_too(
    repo: Repo, receiver: Any, pager: Any
) -> None:
    """`status`, `severity` and `assign` typed at a shell take the fast path (no click);
    with channels configured the rules still run after them, and --no-notify still
    opts out."""
    wired(repo, receiver, pager)
    ident = repo.json("open", "Checkout down", "-s", "SEV-2", "--no-notify")["id"]
    exe = [sys.executable, "-m", "incidentctl", "--repo", str(repo.path)]
    env = {**os.environ, **ENV}

    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*exe, *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    before = len(receiver.documents)
    shell("status", ident, "investigating", "--no-notify")
    assert len(receiver.documents) == before and ident not in pager.alerts
    shell("severity", ident, "SEV-1")
    assert len(receiver.documents) == before + 1
    assert receiver.documents[-1]["severity"] == "SEV-1"
    shell("status", ident, "monitoring")
    assert len(receiver.documents) == before + 2
    texts = [e["text"] for e in timeline(repo, ident) if e["kind"] == "comms"]
    assert sum("sent to oncall via ops" in t for t in texts) == 2
    assert repo.git("status", "--porcelain") == ""


def test_a_channel_that_is_down_never_fails_the_command_and_retry_delivers_once(
    repo: Repo, receiver: Any, pager: Any
) -> None:
    """The webhook hangs: `status` still succeeds within its bound, the notice waits in
    the outbox, and `notify --retry` delivers it exactly once."""
    wired(repo, receiver, pager)
    ident = repo.json("open", "API slow", "-s", "SEV-3", "--no-notify")["id"]
    receiver.hang(20, times=None)
    started = time.monotonic()
    result = ok(repo, "status", ident, "investigating")
    assert time.monotonic() - started < 8, "a channel down slowed the command past its bound"
    assert "notice not delivered: ops" in result.output
    heal(receiver)
    before = len(receiver.documents)
    retried = ok(repo, "notify", "--retry")
    assert "1 sent" in retried.output
    assert len(receiver.documents) == before + 1
    ok(repo, "notify", "--retry")
    assert len(receiver.documents) == before + 1  # delivered once
    entries = timeline(repo, ident)
    # The failure is a note (stakeholders heard nothing); the late delivery is comms.
    assert [e["kind"] for e in entries if "not sent yet" in e["text"]] == ["note"]
    assert [e["kind"] for e in entries if "sent via ops after" in e["text"]] == ["comms"]


def test_500s_and_refused_connections_are_retried_later(
    repo: Repo, receiver: Any, pager: Any, tmp_path: Path
) -> None:
    """A 500 and a closed port leave the notice pending; a 4xx fails it for good."""
    wired(repo, receiver, pager)
    ident = repo.json("open", "Queue backlog", "-s", "SEV-4", "--no-notify")["id"]
    receiver.fail(500, {"error": "boom"}, times=1)
    ok(repo, "notify", ident)
    from incidentctl.comms.outbox import Outbox

    outbox = Outbox(str(repo.path / ".git"))
    assert len(outbox.notices("pending")) == 1
    ok(repo, "notify", "--retry")
    assert outbox.notices("pending") == [] and len(outbox.notices("sent")) == 1
    receiver.fail(404, {"error": "gone"}, times=1)
    ok(repo, "notify", ident)
    assert len(outbox.notices("failed")) == 1


def test_slack_down_for_the_whole_incident_loses_nothing(repo: Repo, pager: Any) -> None:
    """Slack answers 503 from the incident's opening to its resolution: every command
    succeeds, and afterwards each notice is sent once, in order."""
    with cs.SlackWebhook() as slack:
        configure(
            repo,
            """
[comms]
timeout = "3s"

[channels.slack]
type = "slack"
url_env = "SLACK_URL"

[groups.oncall]
channels = ["slack"]
""",
        )
        env = {"SLACK_URL": slack.webhook_url}
        slack.fail(503, "service_unavailable", times=None)

        def step(*args: str) -> Result:
            result = run(repo, *args, env=env)
            assert result.exit_code == 0, result.output
            return result

        opened = step("open", "Payments failing", "-s", "SEV-2", "--json")
        ident = json.loads(opened.stdout)["id"]
        for status in ("investigating", "identified", "monitoring", "resolved"):
            assert "notice not delivered: slack" in step("status", ident, status).output
        assert slack.messages == []
        heal(slack)
        step("notify", "--retry")
        step("notify", "--retry")
        firsts = [m["text"].split("\n", 1)[0] for m in slack.messages]
        words = [f.split(": ", 1)[0].split(" ")[-1] for f in firsts]
        assert words == ["opened", "update", "update", "update", "resolved"]
        assert all(ident in f for f in firsts)
        updates = [m["text"] for m in slack.messages[:4]]
        statuses = [t.split("Status: ", 1)[1].split("\n", 1)[0] for t in updates]
        assert statuses == ["triage", "investigating", "identified", "monitoring"]


def test_run_rules_get_the_incident_in_their_environment_as_text(
    repo: Repo, tmp_path: Path
) -> None:
    """A `run` action starts the configured command with the incident in environment
    variables; `$( )`, backticks and `;` in its title stay text."""
    script = tmp_path / "rollback.py"
    out = tmp_path / "env.json"
    seen_env = "{k: v for k, v in os.environ.items() if k.startswith('INCIDENT_')}"
    script.write_text(f"import json, os\njson.dump({seen_env}, open({str(out)!r}, 'w'))\n")
    configure(
        repo,
        f"""
[commands.rollback]
argv = [{json.dumps(sys.executable)}, {json.dumps(str(script))}]

[[rules]]
on = ["open"]
when = {{ severity = "SEV-1" }}
do = [{{ run = "rollback" }}]
""",
    )
    marker = tmp_path / "pwned"
    title = f"Down $(touch {marker.name}) `rm -rf /x`; touch {marker.name}"
    ident = repo.json("open", title, "-s", "SEV-1", "--service", "api")["id"]
    seen = json.loads(out.read_text())
    assert seen["INCIDENT_ID"] == ident and seen["INCIDENT_TITLE"] == title
    assert seen["INCIDENT_SERVICES"] == "api" and seen["INCIDENT_EVENT"] == "open"
    assert not marker.exists() and not (repo.path / marker.name).exists()
    assert any(e["text"].startswith("Ran rollback: exit 0") for e in timeline(repo, ident))


def test_secrets_never_appear_anywhere(repo: Repo, receiver: Any, pager: Any) -> None:
    """The routing key and the HMAC secret are in no output, file, commit or dry run."""
    wired(repo, receiver, pager)
    outputs = [
        run(repo, "open", "Login broken", "-s", "SEV-1").output,
        run(repo, "notify", repo.json("list")[0]["id"], "--dry-run").output,
        run(repo, "comms", "plan", repo.json("list")[0]["id"], "--json").output,
    ]
    receiver.fail(401, {"error": "nope"}, times=1)
    outputs.append(run(repo, "notify", repo.json("list")[0]["id"]).output)
    history = repo.git("log", "-p", "--all")
    files = "".join(p.read_text() for p in (repo.path / "incidents").rglob("*.md"))
    outbox = "".join(p.read_text() for p in (repo.path / ".git" / "incidentctl").rglob("*.json"))
    for text in [*outputs, history, files, outbox]:
        assert HOOK_SECRET not in text and PD_KEY not in text
        assert "CANARY" not in text


def test_restricted_incidents_go_only_through_secure_channels(
    repo: Repo, receiver: Any, pager: Any
) -> None:
    """visibility: restricted (the default of a security incident): the channel not
    marked secure gets nothing, from `open` on; the secure pager is used."""
    wired(repo, receiver, pager)
    text = (
        repo.file("incidentctl.toml")
        .read_text()
        .replace('routing_key_env = "PD_KEY"', 'routing_key_env = "PD_KEY"\nsecure = true')
    )
    configure(repo, text)
    before = len(receiver.documents)
    opened = ok(repo, "open", "Key leaked", "-s", "SEV-1", "--type", "security", "--json")
    ident = json.loads(opened.stdout)["id"]
    assert repo.json("show", ident)["visibility"] == "restricted"
    assert len(receiver.documents) == before
    assert pager.alerts[ident] == "triggered"
    plan = json.loads(ok(repo, "comms", "plan", ident, "--json").stdout)
    ops = [s for s in plan if s["channel"] == "ops"]
    assert ops and all("restricted" in (s["skipped"] or "") for s in ops)
    ok(repo, "notify", ident)
    assert len(receiver.documents) == before
    assert pager.events[-1]["dedup_key"] == ident
    outage = json.loads(ok(repo, "open", "Site down", "-s", "SEV-1", "--json").stdout)["id"]
    assert repo.json("show", outage)["visibility"] == "internal"
    assert len(receiver.documents) == before + 1


def test_dry_run_shows_every_notice_of_a_sev1(repo: Repo, receiver: Any, pager: Any) -> None:
    """`notify ID --dry-run` prints each notice as it would be sent; nothing is sent."""
    wired(repo, receiver, pager)
    ident = repo.json("open", "Everything down", "-s", "SEV-1", "--no-notify")["id"]
    result = ok(repo, "notify", ident, "--dry-run")
    assert "tell oncall via ops (update)" in result.output
    assert "page oncall via pager (acknowledge)" in result.output
    assert '"stage": "update"' in result.output
    assert receiver.documents == [] and pager.events == []
    assert "***" in result.output  # secrets masked in the previews


def test_no_notify_tells_no_one(repo: Repo, receiver: Any, pager: Any) -> None:
    wired(repo, receiver, pager)
    ident = repo.json("open", "Quiet", "-s", "SEV-1", "--no-notify")["id"]
    ok(repo, "status", ident, "investigating", "--no-notify")
    assert receiver.documents == [] and pager.events == []


# -- due, with a frozen now ----------------------------------------------------------------------


T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)  # a Friday


def test_due_at_every_cadence_boundary(repo: Repo) -> None:
    """An update is due exactly `update_every` after the last update (or opening); a
    post-mortem 5 business days after resolution; an action item the day after its due
    date; a regulator notice 72 h after detection."""
    handle = IncidentRepo.open(repo.path)
    sev1 = handle.new("Checkout down", severity="SEV-1", now=T0, opened_at=T0).id
    settings = load(handle.config)

    def whats(at: datetime) -> set[tuple[str, str]]:
        return {(d.id, d.what) for d in due.overdue(handle, settings, now=at)}

    assert (sev1, "update") not in whats(T0 + timedelta(minutes=29, seconds=59))
    assert (sev1, "update") in whats(T0 + timedelta(minutes=30))
    handle.append(
        sev1,
        "Customers told",
        kind="comms",
        at=T0 + timedelta(minutes=20),
        now=T0 + timedelta(minutes=21),
    )
    assert (sev1, "update") not in whats(T0 + timedelta(minutes=49))
    assert (sev1, "update") in whats(T0 + timedelta(minutes=50))

    handle.add_action(sev1, "Add a canary", owner="bob", due=T0.date(), now=T0)
    assert (sev1, "action") not in whats(T0 + timedelta(hours=14, minutes=59))
    assert (sev1, "action") in whats(T0 + timedelta(hours=15))  # the next day, UTC

    handle.transition(sev1, "resolved", at=T0 + timedelta(hours=1), now=T0 + timedelta(hours=1))
    friday_next = T0 + timedelta(days=7, hours=1)  # 5 business days after Friday 10:00
    assert (sev1, "postmortem") not in whats(friday_next - timedelta(seconds=1))
    assert (sev1, "postmortem") in whats(friday_next)
    assert (sev1, "update") not in whats(friday_next)  # resolved: no more updates

    private = handle.new(
        "Customer data exposed", severity="SEV-2", detected_at=T0, now=T0, opened_at=T0
    ).id
    path = repo.file(handle.rel(handle.resolve(private)[1]))
    path.write_text(
        path.read_text().replace(
            "visibility: internal", "visibility: internal\npersonal_data: true"
        )
    )
    assert (private, "regulator") not in whats(T0 + timedelta(hours=71, minutes=59))
    assert (private, "regulator") in whats(T0 + timedelta(hours=72))
    handle.git.close()


def test_due_command_exits_1_when_anything_is_overdue(repo: Repo) -> None:
    handle = IncidentRepo.open(repo.path)
    handle.new("Old", severity="SEV-1", opened_at=T0, now=T0)
    handle.git.close()
    result = run(repo, "due", "--json")
    assert result.exit_code == 1
    [item] = json.loads(result.stdout)
    assert item["what"] == "update" and set(item) >= {"id", "what", "due_at", "overdue_by"}


# -- board --------------------------------------------------------------------------------------


def test_board_renders_to_a_fixed_width_terminal(repo: Repo) -> None:
    """The war-room screen, at 80 columns, frozen at one moment."""
    handle = IncidentRepo.open(repo.path)
    now = T0 + timedelta(minutes=43)
    a = handle.new(
        "Checkout API returning 500s for EU cards",
        severity="SEV-1",
        commander="Alice Responder",
        now=T0,
        opened_at=T0,
    ).id
    b = handle.new(
        "Search slow",
        severity="SEV-3",
        commander="Bob",
        now=T0 + timedelta(minutes=30),
        opened_at=T0 + timedelta(minutes=30),
    ).id
    handle.add_action(a, "Add a canary", owner="carol", due=T0.date(), now=T0)
    rows = board.rows(handle.config, handle.records(timelines=True), now)
    text = board.render(rows, now, width=80)
    handle.git.close()
    expected = f"""\
INCIDENTS  2 active · 1 update overdue                         2026-11-20 09:43Z
ID                SEV   STATUS        OPEN     NEXT UPDATE     ACTIONS
{a} SEV-1 triage        43m      overdue 13m     1 open
  Checkout API returning 500s for EU cards · Alice Responder
{b} SEV-3 triage        13m      in 23h 47m      -
  Search slow · Bob
"""
    assert text == expected
    assert all(len(line) <= 80 for line in text.splitlines())


def test_board_watch_redraws_in_a_plain_terminal_until_ctrl_c(repo: Repo) -> None:
    """`board --watch` in an 80x24 VT100 pseudo-terminal (as over ssh): it clears and
    redraws, a change made meanwhile shows on the next screen, Ctrl-C ends it with 0."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    from conftest import console_script

    first = repo.json("open", "Search slow", "-s", "SEV-3")["id"]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "vt100", "NO_COLOR": "1", "COLUMNS": "80", "LINES": "24"}
    proc = subprocess.Popen(
        [console_script(), "--repo", str(repo.path), "board", "--watch", "--interval", "1"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""

    def read_until(check: Any, timeout: float = 30) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while not check(seen):
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"the board did not show it in {timeout} s: {seen[-2000:]!r}"
            seen += os.read(master, 65536)

    try:
        read_until(lambda out: first.encode() in out)
        second = repo.json("open", "Checkout down", "-s", "SEV-1")["id"]
        read_until(lambda out: second.encode() in out.rsplit(b"\x1b[2J", 1)[-1])
        assert seen.count(b"\x1b[H\x1b[2J") >= 2
        last = seen.rsplit(b"\x1b[2J", 1)[-1].decode()
        assert "2 active" in last
        assert all(len(line) <= 80 for line in last.replace("\r", "").splitlines())
        assert "\x1b[3" not in last  # NO_COLOR: no colour
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"Traceback" not in seen


def test_notices_say_each_thing_once_and_never_the_placeholder(
    repo: Repo, receiver: Any, pager: Any
) -> None:
    """The heading and fields come from the channel; the text adds only the summary (not
    while it is still the TODO placeholder) and, on resolution, the post-mortem line."""
    wired(repo, receiver, pager)
    bare = json.loads(ok(repo, "open", "Queue stuck", "-s", "SEV-3", "--json").stdout)["id"]
    [first] = [d for d in receiver.documents if d["incident_id"] == bare]
    assert first["text"] == "" and first["fields"]["Status"] == "triage"
    told = ok(repo, "open", "Cart empty", "-s", "SEV-2", "--summary", "Carts lose items.", "--json")
    ident = json.loads(told.stdout)["id"]
    [initial] = [d for d in receiver.documents if d["incident_id"] == ident]
    assert initial["text"] == "Carts lose items."
    ok(repo, "status", ident, "resolved", "-m", "Cache flushed")
    final = receiver.documents[-1]
    assert final["stage"] == "resolved"
    assert final["text"].count("Cache flushed") == 1 and "A post-mortem follows." in final["text"]
    assert "Status:" not in final["text"]
