#!/usr/bin/env python3
"""Throughput benchmark of `incidentctl serve`, the alert webhook receiver (stdlib only).

Method. In a throw-away git repository (`incidentctl init`, one commit; git sees only a
temporary config: no signing, no hooks, no auto-gc) it starts
`incidentctl serve --port 0 --token-file F`, reads the port from the server's start
line on stderr ("listening on http://HOST:PORT/..."), waits for GET /healthz, then
sends N Alertmanager webhook (version 4) bodies from C client threads, each with one
keep-alive connection (http.client), as POST /alerts/alertmanager with the bearer
token. Bodies are compact JSON in Alertmanager's own shape and escaping, modelled on
tests/fixtures/alerts/alertmanager-firing-3.json (labels, annotations, generatorURL,
real FNV-1a fingerprints, notification_reason, routeLabels, groupKey, endsAt).

The mix (defaults: --alerts 1000, --groups 100, --repeat-share 0.5; `--json` prints
it as "mix"):

  * G groups, each its own groupKey (alertname x cluster), so one incident each;
    group g holds 3 - g % 3 alerts with distinct fingerprints (34 groups of 3, 33 of
    2, 33 of 1). A group is sent by one client only, in order, as Alertmanager
    serialises the notifications of a group: client k owns the groups g % C == k and
    sends them round robin (every group's first firing goes out first).
  * 100 first firings ("first notification"), one per group; a group of 2 or 3
    first fires with all but its last alert.
  * 500 repeats, round(N x share): the group's previous alerts and states again
    ("repeat interval elapsed"), 5 per group.
  * 10 all resolved: the last notification of the groups g % 10 == 9, status
    "resolved".
  * 390 changes, the rest, spread over the 67 groups of 2 or 3 alerts (5 or 6 each):
    the missing alert joins (67 "new alerts added"), then the group flaps, one alert
    resolving while the others fire (189 "some alerts resolved") and firing again
    (134 "new alerts added"). A resolved alert is listed once, then dropped, as
    Alertmanager does.
  Repeats and changes are shuffled (seeded) between a group's first firing and its
  end: a group sends 6 or 7 bodies (1 alert) or 11 to 13 (2 or 3 alerts), of 1.4
  to 3.1 kB (compact JSON).

Measured: accepted/s (202 answers over the wall time from the start of sending to
the last 202), p50/p99 time to the 202 per request (send to body read), and the
drain: time from the last 202 until GET /metrics shows incidentctl_spool_depth 0
and incidentctl_alerts_applied_total N (polled every 50 ms, bounded by
--drain-timeout). Also commits, batches, server CPU time (its own and its waited-for
git processes, from /proc) and the machine (CPUs, load average, git and Python).

Checks (any failure: exit 2): every POST answered 202; the sum of `source.received`
over all incident files is N, and per group it is what was sent (front matter read
with PyYAML by incidentctl's own interpreter: this script itself needs nothing beyond
the standard library); one incident per group; the metrics agree; `git status` is
clean; SIGTERM stops the server with exit 0 and an empty spool. Targets (a report,
exit 0 whether met or not): at least 500 accepted/s, and everything committed within
10 s of the last 202. The client threads share the machine with the server: their
CPU time is reported too.

    python bench/alerts.py [--incidentctl PATH] [--alerts 1000] [--clients 8]
                           [--repeat-share 0.5] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TARGET_RATE = 500.0  # accepted/s, at least
TARGET_DRAIN = 10.0  # seconds from the last 202 until all is committed, at most
POLL = 0.05  # seconds between two GET /metrics while draining
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0
RESOLVED_EVERY = 10  # group g ends "all resolved" when g % 10 == 9
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: Alertmanager's "not ended"
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
    "INCIDENTCTL_SERVE_TOKEN",
    "INCIDENTCTL_PAGERDUTY_SECRET",
    "VISUAL",
    "EDITOR",
    "PYTHONSTARTUP",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)
LISTENING = re.compile(r"listening on http://(\[[^\]]+\]|[^:/\s]+):(\d+)/")

# What a group is about: alertname, route severity, summary, description, PromQL.
RULES = (
    ("HighErrorRate", "critical", "High 5xx error rate on {svc} ({v:.1f}%)",
     "{v:.1f}% of requests to {job} failed with HTTP 5xx over the last 5 minutes "
     "(threshold > 5% for 2m).",
     'sum by (job) (rate(http_requests_total{{code=~"5..",job="{job}"}}[5m])) / '
     'sum by (job) (rate(http_requests_total{{job="{job}"}}[5m])) > 0.05'),
    ("HighLatencyP99", "warning", "p99 latency of {svc} is {v:.0f} ms",
     "The 99th percentile of {job} request latency has been {v:.0f} ms for 10 minutes "
     "(SLO < 300 ms).",
     "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
     '{{job="{job}"}}[5m]))) > 0.3'),
    ("KubePodCrashLooping", "warning", "A pod of {svc} is crash looping",
     "Pod {job}-7d9f8b6c5-x2kq4 is restarting {v:.0f} times / 10 minutes.",
     'max_over_time(kube_pod_container_status_waiting_reason{{reason="CrashLoopBackOff",'
     'container="{job}"}}[5m]) >= 1'),
    ("KubeDeploymentReplicasMismatch", "warning", "{svc} runs fewer replicas than wanted",
     "Deployment {job} has not matched the expected number of replicas for 15 minutes "
     "({v:.0f}% available).",
     'kube_deployment_spec_replicas{{deployment="{job}"}} != '
     'kube_deployment_status_replicas_available{{deployment="{job}"}}'),
    ("SLOBurnRateFast", "critical", "{svc} is burning its error budget {v:.1f}x too fast",
     "The 1h burn rate of the {job} availability SLO is {v:.1f} (page above 14.4).",
     'slo:sli_error:ratio_rate1h{{job="{job}"}} > (14.4 * (1 - 0.999))'),
    ("NodeFilesystemAlmostFull", "warning", "Disk of {svc} nodes {v:.0f}% full",
     "Filesystem /var/lib/{job} has {v:.0f}% used and fills within 24 hours.",
     'predict_linear(node_filesystem_avail_bytes{{job="{job}"}}[6h], 24*3600) < 0'),
    ("PostgresReplicationLag", "critical", "Replication lag of {svc} DB is {v:.0f} s",
     "The replica of {job}-db is {v:.0f} seconds behind its primary.",
     'pg_replication_lag_seconds{{job="{job}-db"}} > 30'),
    ("KafkaConsumerLag", "warning", "{svc} consumers are {v:.0f}k messages behind",
     "Consumer group {job} lags {v:.0f}k messages on its topics.",
     'sum by (group) (kafka_consumergroup_lag{{group="{job}"}}) > 10000'),
    ("CertificateExpiringSoon", "warning", "TLS certificate of {svc} expires in {v:.0f} d",
     "The certificate served by {job} expires in {v:.0f} days.",
     'probe_ssl_earliest_cert_expiry{{job="{job}"}} - time() < 14 * 86400'),
    ("TargetDown", "critical", "{v:.0f}% of the {svc} targets are down",
     "{v:.0f}% of the {job} scrape targets have been unreachable for 5 minutes.",
     '100 * (1 - avg by (job) (up{{job="{job}"}})) > 10'),
)  # fmt: skip
SERVICES = (
    ("cart", "commerce"),
    ("checkout", "commerce"),
    ("payments", "commerce"),
    ("search", "discovery"),
    ("catalog", "discovery"),
    ("accounts", "identity"),
    ("auth", "identity"),
    ("shipping", "fulfilment"),
    ("inventory", "fulfilment"),
    ("notifications", "platform"),
)
CLUSTERS = ("prod-eu-1", "prod-eu-2", "prod-us-1", "prod-us-2", "prod-ap-1")
EXTERNAL_URL = "https://alertmanager.prod.example.com"
KINDS = ("first", "repeat", "join", "resolve_one", "refire", "resolved")
KIND_TEXT = {
    "first": "first firings",
    "repeat": "repeats",
    "join": "new alerts joining",
    "resolve_one": "one alert resolved (group still firing)",
    "refire": "resolved alert firing again",
    "resolved": "all resolved",
}


class BenchError(Exception):
    """The benchmark cannot run (not: a target was missed)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- environment ----------------------------------------------------------------------


def isolated_env(tmp: Path) -> dict[str, str]:
    """An environment that sees no user or system git config, hooks or signing; Python
    may cache bytecode in a folder of its own under `tmp`."""
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
            "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
        }
    )
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
            return shutil.which(parts[1]) or sys.executable
        if parts:
            return parts[0]
    return sys.executable


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        list(cmd),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd)} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result.stdout


def tool_version(cmd: Sequence[str]) -> str:
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unknown"


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


def cpu_seconds(pid: int) -> dict[str, float] | None:
    """CPU time of a process (user, system) and of the children it waited for (Linux)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(x) / tick for x in fields[11:15])
    return {"self": utime + stime, "children": cutime + cstime}


# -- the payloads ---------------------------------------------------------------------


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over the sorted labels (prometheus/common
    `labelSetToFingerprint`), checked against the fixtures."""
    value = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def go_time(moment: datetime) -> str:
    """RFC 3339 as Go writes it: fraction with trailing zeros trimmed, `Z`."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def go_json(document: dict[str, Any]) -> bytes:
    """Compact JSON with Go's encoding/json HTML escaping, as Alertmanager posts it."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").encode()


@dataclass
class Member:
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    fingerprint: str
    starts_at: datetime


@dataclass
class Group:
    number: int
    key: str
    group_labels: dict[str, str]
    members: list[Member]
    plan: list[str] = field(default_factory=list)  # the kinds, in sending order
    bodies: list[bytes] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """incidentctl's key for it (`Notice.ref`): `alert-` + 20 hex of SHA-256."""
        digest = hashlib.sha256(f"alertmanager\n{self.key}".encode()).hexdigest()
        return f"alert-{digest[:20]}"


def make_group(g: int, size: int, rng: random.Random, base: datetime) -> Group:
    name, severity, summary, description, expr = RULES[g % len(RULES)]
    slot = g // len(RULES)
    cluster = CLUSTERS[slot % len(CLUSTERS)]
    if slot >= len(CLUSTERS):
        cluster += f"-{slot // len(CLUSTERS) + 1}"
    members = []
    for j in range(size):
        svc, team = SERVICES[(g * 3 + j * 7) % len(SERVICES)]
        job = f"{svc}-api"
        labels = {
            "alertname": name,
            "cluster": cluster,
            "env": "production",
            "job": job,
            "service": svc,
            "severity": severity,
            "team": team,
        }
        value = rng.uniform(6, 95)
        promql = expr.format(job=job)
        query = (
            promql.replace("%", "%25")
            .replace(" ", "+")
            .replace("(", "%28")
            .replace(")", "%29")
            .replace('"', "%22")
            .replace("{", "%7B")
            .replace("}", "%7D")
            .replace("=", "%3D")
            .replace(",", "%2C")
            .replace("[", "%5B")
            .replace("]", "%5D")
        )
        members.append(
            Member(
                labels=labels,
                annotations={
                    "description": description.format(v=value, job=job, svc=svc),
                    "runbook_url": f"https://runbooks.example.com/alerts/{name}",
                    "summary": summary.format(v=value, job=job, svc=svc),
                },
                generator_url=(
                    f"http://prometheus-k8s-0.monitoring.svc:9090/graph?g0.expr={query}&g0.tab=1"
                ),
                fingerprint=fingerprint(labels),
                starts_at=base + timedelta(seconds=rng.randrange(0, 600), milliseconds=310),
            )
        )
    key = f'{{}}/{{severity="{severity}"}}:{{alertname="{name}", cluster="{cluster}"}}'
    return Group(g, key, {"alertname": name, "cluster": cluster}, members)


def common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    return {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps[1:])}


def body(
    group: Group, listed: list[tuple[int, str]], reason: str, now: datetime, ended: datetime
) -> bytes:
    """One webhook body: `listed` is (member, "firing" | "resolved")."""
    alerts = []
    for index, status in sorted(listed, key=lambda x: group.members[x[0]].labels["job"]):
        member = group.members[index]
        alerts.append(
            {
                "status": status,
                "labels": member.labels,
                "annotations": member.annotations,
                "startsAt": go_time(member.starts_at),
                "endsAt": go_time(ended) if status == "resolved" else ZERO_TIME,
                "generatorURL": member.generator_url,
                "fingerprint": member.fingerprint,
            }
        )
    return go_json(
        {
            "receiver": "incidentctl",
            "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
            "alerts": alerts,
            "notification_reason": reason,
            "groupLabels": group.group_labels,
            "commonLabels": common([a["labels"] for a in alerts]),
            "commonAnnotations": common([a["annotations"] for a in alerts]),
            "routeLabels": {},
            "externalURL": EXTERNAL_URL,
            "version": "4",
            "groupKey": group.key,
            "truncatedAlerts": 0,
        }
    )


def spread(total: int, slots: int) -> list[int]:
    return [total // slots + (1 if i < total % slots else 0) for i in range(slots)]


def build_groups(n: int, groups: int, share: float, seed: int) -> list[Group]:
    """The groups with their bodies, in sending order per group (see the docstring)."""
    rng = random.Random(seed)
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=6)
    sizes = [3 - g % 3 for g in range(groups)]
    repeats = round(n * share)
    ending = [g % RESOLVED_EVERY == RESOLVED_EVERY - 1 for g in range(groups)]
    changes = n - groups - repeats - sum(ending)
    if changes < 0:  # fewer "all resolved" endings first
        for g in reversed(range(groups)):
            if changes >= 0:
                break
            if ending[g]:
                ending[g] = False
                changes += 1
    if changes < 0:
        raise BenchError(
            f"--repeat-share {share} leaves no room: {n} payloads, {groups} first firings "
            f"and {repeats} repeats"
        )
    multi = [g for g in range(groups) if sizes[g] > 1]
    change_of = dict.fromkeys(range(groups), 0)
    for g, count in zip(multi, spread(changes, len(multi)), strict=True):
        change_of[g] = count
    repeat_of = spread(repeats, groups)
    out = []
    for g in range(groups):
        group = make_group(g, sizes[g], rng, base)
        middle = ["change"] * change_of[g] + ["repeat"] * repeat_of[g]
        rng.shuffle(middle)
        firing = list(range(max(1, sizes[g] - 1)))
        seen = set(firing)
        now = base + timedelta(minutes=10 + rng.randrange(0, 30))
        group.plan.append("first")
        group.bodies.append(
            body(group, [(i, "firing") for i in firing], "first notification", now, now)
        )
        turn = 0
        for step in middle:
            now += timedelta(minutes=rng.randrange(2, 6), milliseconds=rng.randrange(0, 1000))
            if step == "repeat":
                listed = [(i, "firing") for i in firing]
                kind, reason = "repeat", "repeat interval elapsed"
            elif missing := [i for i in range(sizes[g]) if i not in firing]:
                index = missing[0]
                kind = "refire" if index in seen else "join"
                if kind == "refire":
                    group.members[index].starts_at = now - timedelta(seconds=45)
                seen.add(index)
                firing.append(index)
                listed = [(i, "firing") for i in firing]
                reason = "new alerts added"
            else:  # all firing: one resolves, the others fire on
                index = firing[turn % len(firing)]
                turn += 1
                listed = [(i, "resolved" if i == index else "firing") for i in firing]
                firing.remove(index)
                kind, reason = "resolve_one", "some alerts resolved"
            group.plan.append(kind)
            group.bodies.append(body(group, listed, reason, now, now - timedelta(seconds=30)))
        if ending[g]:
            now += timedelta(minutes=5)
            listed = [(i, "resolved") for i in firing]
            group.plan.append("resolved")
            group.bodies.append(body(group, listed, "all alerts resolved", now, now))
        out.append(group)
    if sum(len(gr.bodies) for gr in out) != n:
        raise BenchError("internal error: the plan does not add up to --alerts")
    return out


def client_plans(groups: list[Group], clients: int) -> list[list[tuple[int, bytes]]]:
    """Client k sends the groups g % clients == k, round robin, each group in order."""
    plans = []
    for k in range(clients):
        own = [gr for gr in groups if gr.number % clients == k]
        plan = []
        for step in range(max((len(gr.bodies) for gr in own), default=0)):
            plan.extend((gr.number, gr.bodies[step]) for gr in own if step < len(gr.bodies))
        plans.append(plan)
    return plans


# -- the server -----------------------------------------------------------------------


class Server:
    def __init__(self, incidentctl: str, repo: Path, env: dict[str, str], tmp: Path):
        self.token = secrets.token_urlsafe(32)
        token_file = tmp / "token"
        token_file.write_text(self.token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        self.log_path = tmp / "serve.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [incidentctl, "serve", "--port", "0", "--token-file", str(token_file)],
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        self.host, self.port = self._wait_listening()
        self._wait_healthy()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _wait_listening(self) -> tuple[str, int]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log_text())
            if found:
                return found.group(1).strip("[]"), int(found.group(2))
            if self.proc.poll() is not None:
                raise BenchError(f"serve exited {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.02)
        raise BenchError(f"serve printed no 'listening on' line in {START_TIMEOUT:g} s")

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            conn = self.connection(timeout=2)
            try:
                conn.request("GET", "/healthz")
                answer = conn.getresponse()
                if answer.status == 200 and answer.read() == b"ok\n":
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.05)
        raise BenchError(f"GET /healthz did not answer 200 in {START_TIMEOUT:g} s")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BenchError(f"serve did not stop within {STOP_TIMEOUT:g} s of SIGTERM") from None
        finally:
            self._log.close()
        return code


def parse_metrics(text: str) -> dict[str, float]:
    """`name{labels} value` lines; a family's samples also summed under its bare name."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        number = float(value)
        out[key] = number
        if "{" in key:
            bare = key.split("{", 1)[0]
            out[bare + ":sum"] = out.get(bare + ":sum", 0.0) + number
    return out


def get_metrics(conn: http.client.HTTPConnection) -> dict[str, float]:
    conn.request("GET", "/metrics")
    answer = conn.getresponse()
    data = answer.read()
    if answer.status != 200:
        raise BenchError(f"GET /metrics answered {answer.status}")
    return parse_metrics(data.decode())


def wait_drained(
    server: Server, expected: int, last: float, timeout: float
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Poll GET /metrics until the spool is empty and `expected` payloads are applied:
    (seconds from `last` until then, the metrics at the first poll, the final ones)."""
    poll = server.connection()
    try:
        first = get_metrics(poll)
        deadline = time.perf_counter() + timeout
        while True:
            metrics = get_metrics(poll)
            now = time.perf_counter()
            depth = metrics.get("incidentctl_spool_depth", -1)
            applied = metrics.get("incidentctl_alerts_applied_total", 0)
            failed = metrics.get("incidentctl_alerts_failed_total", 0)  # set aside: checked
            if depth == 0 and applied + failed >= expected:
                return now - last, first, metrics
            if now > deadline:
                raise BenchError(
                    f"not all committed {timeout:g} s after the last 202: spool depth "
                    f"{depth:g}, applied {applied:g} of {expected}\n{server.tail()}"
                )
            time.sleep(POLL)
    finally:
        poll.close()


# -- sending --------------------------------------------------------------------------


@dataclass
class Sent:
    group: int
    started: float
    done: float
    status: int | None
    answer: str = ""


def send_all(server: Server, plans: list[list[tuple[int, bytes]]]) -> tuple[float, list[Sent]]:
    """Every client connected, then all at once; (start of sending, every request)."""
    barrier = threading.Barrier(len(plans) + 1)
    results: list[list[Sent]] = [[] for _ in plans]
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {server.token}",
        "User-Agent": "Alertmanager/0.28.1",
    }

    def client(k: int) -> None:
        conn = server.connection()
        mine = results[k]
        try:
            conn.connect()
        finally:
            barrier.wait()
        for group, data in plans[k]:
            started = time.perf_counter()
            try:
                conn.request("POST", "/alerts/alertmanager", body=data, headers=headers)
                answer = conn.getresponse()
                text = answer.read()
                status: int | None = answer.status
                note = "" if status == 202 else text.decode("utf-8", "replace")[:200]
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # reopened by the next request
                status, note = None, repr(exc)
            mine.append(Sent(group, started, time.perf_counter(), status, note))
        conn.close()

    threads = [
        threading.Thread(target=client, args=(k,), name=f"client-{k}", daemon=True)
        for k in range(len(plans))
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return start, [s for per in results for s in per]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


# -- checking -------------------------------------------------------------------------

READER = r"""
import json, pathlib, sys
import yaml
root = pathlib.Path(sys.argv[1])
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
out = []
for path in sorted((root / sys.argv[2]).rglob("*.md")):
    text = path.read_text(encoding="utf-8")
    end = text.find("\n---\n", 4)
    if not text.startswith("---\n") or end < 0:
        out.append({"path": str(path.relative_to(root)), "error": "no front matter"})
        continue
    data = yaml.load(text[4:end], Loader=loader) or {}
    source = data.get("source") or {}
    out.append({
        "path": str(path.relative_to(root)),
        "id": data.get("id"),
        "status": data.get("status"),
        "ref": source.get("ref"),
        "received": source.get("received"),
        "alerts": source.get("alerts"),
    })
print(json.dumps(out, default=str))
"""


def read_incidents(python: str, repo: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """The front matter of every incident file, read by incidentctl's own interpreter
    (PyYAML is a dependency of incidentctl; this script stays standard library only)."""
    rows: list[dict[str, Any]] = json.loads(
        run([python, "-c", READER, str(repo), "incidents"], repo, env)
    )
    return rows


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def check_results(
    n: int,
    groups: list[Group],
    sent: list[Sent],
    metrics: dict[str, float],
    incidents: list[dict[str, Any]],
    status: str,
) -> list[Check]:
    checks = []
    codes = Counter(s.status for s in sent)
    bad = [s for s in sent if s.status != 202]
    detail = ", ".join(f"{code}: {count}" for code, count in sorted(codes.items(), key=str))
    if bad:
        detail += f"; first: {bad[0].status} {bad[0].answer}"
    checks.append(Check("every POST answered 202", len(sent) == n and not bad, detail))
    received = sum(int(r.get("received") or 0) for r in incidents)
    checks.append(Check("sum of source.received == N", received == n, f"{received} of {n}"))
    checks.append(
        Check(
            "one incident per group",
            len(incidents) == len(groups),
            f"{len(incidents)} incidents, {len(groups)} groups",
        )
    )
    by_ref = Counter()
    for row in incidents:
        by_ref[row.get("ref")] += int(row.get("received") or 0)
    wrong = [gr for gr in groups if by_ref.get(gr.ref, 0) != len(gr.bodies)]
    checks.append(
        Check(
            "source.received per group == sent",
            not wrong,
            "all groups"
            if not wrong
            else f"{len(wrong)} groups differ, e.g. {wrong[0].key}: "
            f"{by_ref.get(wrong[0].ref, 0)} of {len(wrong[0].bodies)}",
        )
    )
    applied = metrics.get("incidentctl_alerts_applied_total", -1)
    failed = metrics.get("incidentctl_alerts_failed_total", -1)
    opened = metrics.get("incidentctl_incidents_opened_total", -1)
    checks.append(
        Check(
            "metrics: applied N, none failed, one opened per group",
            applied == n and failed == 0 and opened == len(groups),
            f"applied {applied:g}, failed {failed:g}, opened {opened:g}",
        )
    )
    checks.append(Check("git status clean", not status.strip(), status.strip()[:300] or "clean"))
    return checks


# -- the run --------------------------------------------------------------------------


def bench(args: argparse.Namespace, incidentctl: str, tmp: Path) -> dict[str, Any]:
    env = isolated_env(tmp)
    python = interpreter_of(Path(incidentctl))
    doc: dict[str, Any] = {
        "incidentctl": incidentctl,
        "version": run([incidentctl, "--version"], tmp, env).strip(),
        "python": python,
        "python_version": tool_version([python, "-c", "import sys; print(sys.version.split()[0])"]),
        "alerts": args.alerts,
        "groups": args.groups,
        "clients": args.clients,
        "repeat_share": args.repeat_share,
        "seed": args.seed,
        "machine_before": machine(),
    }
    groups = build_groups(args.alerts, args.groups, args.repeat_share, args.seed)
    plans = client_plans(groups, args.clients)
    mix = Counter(kind for gr in groups for kind in gr.plan)
    doc["mix"] = {kind: mix.get(kind, 0) for kind in KINDS}
    sizes = [len(gr.bodies) for gr in groups]
    doc["bodies"] = {
        "bytes_median": statistics.median(len(b) for gr in groups for b in gr.bodies),
        "per_group_min": min(sizes),
        "per_group_max": max(sizes),
        "per_client": [len(p) for p in plans],
    }

    repo = tmp / "repo"
    repo.mkdir()
    run([incidentctl, "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "--quiet", "-m", "Scaffold the incident repository"], repo, env)
    head_before = int(run(["git", "rev-list", "--count", "HEAD"], repo, env))

    log(f"{doc['version']} ({incidentctl}); starting serve in {repo} ...")
    server = Server(incidentctl, repo, env, tmp)
    stopped = False
    try:
        log(
            f"  listening on {server.host}:{server.port}; sending {args.alerts} payloads "
            f"from {args.clients} clients ..."
        )
        cpu0 = cpu_seconds(server.proc.pid)
        own0 = os.times()
        start, sent = send_all(server, plans)
        own1 = os.times()
        cpu1 = cpu_seconds(server.proc.pid)
        done_times = [s.done for s in sent if s.status == 202]
        last = max(done_times) if done_times else time.perf_counter()
        drain, at_last, metrics = wait_drained(server, len(done_times), last, args.drain_timeout)
        cpu2 = cpu_seconds(server.proc.pid)
        wall = last - start
        latencies = sorted((s.done - s.started) * 1000 for s in sent if s.status == 202)
        doc["results"] = {
            "accepted": len(done_times),
            "send_wall_s": round(wall, 4),
            "accepted_per_s": round(len(done_times) / wall, 1) if wall > 0 else None,
            "latency_ms": {
                "p50": round(percentile(latencies, 50), 2),
                "p90": round(percentile(latencies, 90), 2),
                "p99": round(percentile(latencies, 99), 2),
                "max": round(latencies[-1], 2) if latencies else None,
                "mean": round(statistics.fmean(latencies), 2) if latencies else None,
            },
            "at_last_202": {
                "applied": at_last.get("incidentctl_alerts_applied_total"),
                "spool_depth": at_last.get("incidentctl_spool_depth"),
                "commits": at_last.get("incidentctl_commits_total"),
            },
            "drain_s": round(drain, 3),
            "commits": metrics.get("incidentctl_commits_total"),
            "incidents_opened": metrics.get("incidentctl_incidents_opened_total"),
            "apply_errors": metrics.get("incidentctl_apply_errors_total"),
        }
        if cpu0 and cpu1 and cpu2:
            doc["results"]["server_cpu_s"] = {
                "sending_self": round(cpu1["self"] - cpu0["self"], 2),
                "sending_git": round(cpu1["children"] - cpu0["children"], 2),
                "drain_self": round(cpu2["self"] - cpu1["self"], 2),
                "drain_git": round(cpu2["children"] - cpu1["children"], 2),
            }
        doc["results"]["client_cpu_s"] = round(own1.user + own1.system - own0.user - own0.system, 2)
        incidents = read_incidents(python, repo, env)
        status = run(["git", "status", "--porcelain", "--untracked-files=all"], repo, env)
        checks = check_results(args.alerts, groups, sent, metrics, incidents, status)
        stopped = True
        code = server.stop()
    finally:
        if not stopped:
            server.stop()
    spool = repo / ".git" / "incidentctl" / "spool" / "ready"
    left = sorted(p.name for p in spool.glob("*.alert")) if spool.is_dir() else []
    after = run(["git", "status", "--porcelain", "--untracked-files=all"], repo, env)
    checks.append(
        Check(
            "SIGTERM: exit 0, spool empty, still clean",
            code == 0 and not left and not after.strip(),
            f"exit {code}, {len(left)} in the spool"
            + (f", {after.strip()[:200]}" if after else ""),
        )
    )
    commits = int(run(["git", "rev-list", "--count", "HEAD"], repo, env)) - head_before
    batches = {
        line.strip()
        for line in run(
            ["git", "log", "--format=%(trailers:key=Alert-Batch,valueonly)"], repo, env
        ).splitlines()
        if line.strip()
    }
    errors = [line for line in server.log_text().splitlines() if "could not apply" in line]
    doc["results"].update(
        {"git_commits": commits, "batches": len(batches), "incidents": len(incidents)}
    )
    doc["server_apply_error_lines"] = errors[:5]
    doc["checks"] = [c.__dict__ for c in checks]
    doc["machine_after"] = machine()
    rate = doc["results"]["accepted_per_s"] or 0.0
    doc["targets"] = {
        "accepted_per_s": {"target_min": TARGET_RATE, "pass": rate >= TARGET_RATE},
        "drain_s": {"target_max": TARGET_DRAIN, "pass": drain <= TARGET_DRAIN},
    }
    return doc


def report(doc: dict[str, Any]) -> None:
    r = doc["results"]
    before, after = doc["machine_before"], doc["machine_after"]
    mix = ", ".join(f"{doc['mix'][k]} {KIND_TEXT[k]}" for k in KINDS)
    print(
        f"{doc['version']} (Python {doc['python_version']}); {before['git']}; "
        f"{before['cpus']} CPUs; load average {before.get('loadavg')} -> {after.get('loadavg')}"
    )
    print(
        f"{doc['alerts']} Alertmanager payloads, {doc['groups']} groups, {doc['clients']} clients"
        f" (keep-alive): {mix}; median body {doc['bodies']['bytes_median']:.0f} bytes"
    )
    print()

    def verdict(name: str) -> str:
        return "PASS" if doc["targets"][name]["pass"] else "FAIL"

    lat = r["latency_ms"]
    rows = [
        (
            "accepted/s",
            f"{r['accepted_per_s']:.1f}",
            f">= {TARGET_RATE:g}",
            verdict("accepted_per_s"),
            f"{r['accepted']} x 202 in {r['send_wall_s']:.2f} s",
        ),
        (
            "time to 202",
            f"p50 {lat['p50']:.1f} ms",
            "info",
            "-",
            f"p90 {lat['p90']:.1f}, p99 {lat['p99']:.1f}, max {lat['max']:.1f} ms",
        ),
        (
            "drain",
            f"{r['drain_s']:.2f} s",
            f"<= {TARGET_DRAIN:g} s",
            verdict("drain_s"),
            f"at the last 202: {r['at_last_202']['applied']:g} applied, "
            f"{r['at_last_202']['spool_depth']:g} in the spool",
        ),
    ]
    header = ("measure", "value", "target", "result", "")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    for n, row in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths[:4]))
    print()
    cpu = r.get("server_cpu_s")
    print(
        f"writer: {r['git_commits']} commits in {r['batches']} batches, {r['incidents']} "
        f"incidents, {r['apply_errors']:g} apply errors"
        + (
            f"; server CPU while sending {cpu['sending_self']:.2f} s + git "
            f"{cpu['sending_git']:.2f} s, while draining {cpu['drain_self']:.2f} s + git "
            f"{cpu['drain_git']:.2f} s"
            if cpu
            else ""
        )
        + f"; client CPU while sending {r['client_cpu_s']:.2f} s"
    )
    for line in doc["server_apply_error_lines"]:
        print(f"  server: {line}")
    print()
    for check in doc["checks"]:
        print(f"check {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
    missed = [k for k, v in doc["targets"].items() if not v["pass"]]
    print()
    print("All targets met." if not missed else f"TARGET MISSED: {', '.join(missed)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--incidentctl",
        default=shutil.which("incidentctl") or "incidentctl",
        help="the incidentctl executable (default: the one on PATH)",
    )
    parser.add_argument("--alerts", type=int, default=1000, help="payloads sent (default 1000)")
    parser.add_argument(
        "--clients", type=int, default=8, help="parallel client threads (default 8)"
    )
    parser.add_argument(
        "--repeat-share",
        type=float,
        default=0.5,
        help="share of payloads that repeat their group's last state (default 0.5)",
    )
    parser.add_argument("--groups", type=int, default=100, help="alert groups (default 100)")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="give up this long after the last 202 (default 120 s)",
    )
    parser.add_argument("--seed", type=int, default=20261124, help="seed for the payloads")
    parser.add_argument("--keep", action="store_true", help="keep the folder; print its path")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if not 1 <= args.groups <= args.alerts:
        parser.error("need 1 <= --groups <= --alerts")
    if not 1 <= args.clients <= args.groups:
        parser.error("need 1 <= --clients <= --groups (a group is sent by one client)")
    if not 0.0 <= args.repeat_share < 1.0:
        parser.error("need 0 <= --repeat-share < 1")

    found = shutil.which(args.incidentctl)
    if not found:
        parser.error(f"{args.incidentctl}: not found; pass --incidentctl PATH")
    incidentctl = str(Path(found).absolute())

    tmp = Path(tempfile.mkdtemp(prefix="incidentctl-alerts-bench-"))
    try:
        doc = bench(args, incidentctl, tmp)
    except BenchError as exc:
        log(f"bench: error: {exc}")
        return 2
    finally:
        if args.keep:
            log(f"kept: {tmp} (repository {tmp / 'repo'}, server log {tmp / 'serve.log'})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        report(doc)
    failed = [c for c in doc["checks"] if not c["ok"]]
    if failed:
        log(f"bench: {len(failed)} check(s) failed: payloads lost or the server misbehaved")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
