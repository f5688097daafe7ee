#!/usr/bin/env python3
"""Generate a realistic incident repository for the benchmarks (Python standard library only).

    python bench/generate.py DIR [--incidents 10000] [--seed 7] [--end 2026-12-07]
                                 [--incidentctl PATH] [--check]

DIR is an incident repository (`incidentctl init` and one commit), or a folder that
does not exist yet: it is then made one with `incidentctl init`. The generator writes
N incident files, `incidents/YYYY/<ID>-<slug>.md`, and commits them in one commit.
The same seed and end date give the same files, byte for byte.

What the files hold, drawn from the seed:

  * opened over the 3 years before `--end` (default: today, 00:00 UTC), more in
    recent months (a growing company), fewer at weekends and at night;
  * severities SEV-1 3%, SEV-2 14%, SEV-3 48%, SEV-4 35%; one in eight escalated or
    downgraded on the way; types, environments and 1-3 of 30 services; a commander,
    responders and roles (deputy, comms, scribe, ops_lead, liaison) from 40 names;
  * a lifecycle with heavy-tailed (log-normal) delays: detected <= opened <=
    acknowledged <= mitigated <= resolved <= closed, stamped the way `incidentctl
    status` stamps them (skipping a status stamps the milestones it implies; a
    reopen clears resolved_at); cut off at the end date, so the youngest incidents
    are still active, and a few old ones were never resolved; about 6% cancelled;
  * 3 to 40 timeline entries: opened, notes, status and severity changes, role
    changes, decisions, actions, comms and public (status page) updates, action
    items added and done; a few entries span several lines;
  * 0-5 action items (owners, due dates, some done, some linked to GitHub issues);
  * for every resolved or closed SEV-1/SEV-2 (and some SEV-3) a post-mortem as
    `incidentctl postmortem` adds it, then written by hand: Summary, Impact, Timeline,
    Root Cause with contributing factors (sometimes a log excerpt in a code block),
    Detection, Resolution, Action Items, What Went Well, What Went Wrong, Lessons
    Learned; `incidentctl check` passes on every file.

The front matter is written the way incidentctl writes it (its key order, YAML
quoting, `…Z` timestamps), and so are the timeline entries and the post-mortem's
tables. The body around them (the title, Summary, Timeline and checklist of each
type) is taken from files that `incidentctl open --no-commit` writes in DIR itself, so
a repository's own templates are followed; without an incidentctl executable the
default templates' text is used.

From Python: `generate(root, n, seed=..., end=..., incidentctl=..., env=...)` returns
one `Generated` per incident (id, path, status, severity, ...).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

YEARS = 3
RAND_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # incidentctl's IDs (Crockford base 32)
TYPES = ("outage", "security", "performance", "data", "integration")

SERVICES = (
    "api-gateway", "auth", "billing", "cart", "catalog", "cdn", "checkout", "ci-cd",
    "dns", "email-gateway", "feature-flags", "graphql", "identity-provider", "inventory",
    "invoicing", "k8s-platform", "kafka", "ledger", "mobile-api", "notifications",
    "object-storage", "orders", "payments-api", "postgres-main", "pricing",
    "recommendations", "redis-cache", "search", "shipping", "web-frontend",
)  # fmt: skip
PEOPLE = (
    "Alice Moreau", "Bob Okafor", "Carol Nguyen", "Dana Kowalski", "Erik Lindqvist",
    "Fatima Haddad", "Gustavo Pereira", "Hannah Becker", "Ingrid Solberg", "Jamal Wright",
    "Kenji Watanabe", "Lena Fischer", "Miguel Torres", "Nadia Petrova", "Oliver Hughes",
    "Priya Raman", "Quentin Dubois", "Rosa Martínez", "Samuel Adeyemi", "Tara O'Neill",
    "Uma Krishnan", "Victor Chen", "Wiebke Janssen", "Xavier Laurent", "Yusuf Demir",
    "Zoë Müller", "Aarav Shah", "Beatriz Costa", "Chidi Eze", "Dmitri Volkov",
    "Søren Kjær", "Farid Rahimi", "Grace Kim", "Hiro Tanaka", "Isabel Romero",
    "José Álvarez", "Katarzyna Nowak", "Liam Byrne", "Mei Lin", "Noah Schmidt",
)  # fmt: skip
TEAMS = (
    "team-payments", "team-platform", "team-sre", "team-data", "team-identity",
    "team-search", "team-mobile", "team-web", "team-security", "team-networking",
    "team-storefront", "team-messaging",
)  # fmt: skip
ROLES = ("deputy", "comms", "scribe", "ops_lead", "liaison")
REGIONS = ("eu-west-1", "us-east-1", "us-west-2", "eu-central-1", "ap-southeast-1")
PROVIDERS = ("Stripe", "Adyen", "Twilio", "SendGrid", "Cloudflare", "AWS", "Fastly", "Okta")
ISSUES_URL = "https://github.com/acme/platform/issues/"

# -- what happens in an incident, by kind of failure ----------------------------------
# Each kind: the types it comes as, titles, what responders find, decide and do, and
# what its post-mortem says. {svc} is the main service, {svc2} another one; the other
# fields are filled in per incident (see Story.fields).
KINDS: list[dict[str, Any]] = [
    {
        "types": ("outage",),
        "titles": (
            "{svc} returning 500s after deploy",
            "Elevated 5xx on {svc} after release {build}",
            "{svc} crash looping after release {build}",
            "Checkout failing: {svc} errors after deploy",
        ),
        "cause": "release {build} of {svc}",
        "finds": (
            "Release {build} of {svc} went out at {hhmm}Z, the errors start two minutes later",
            "Stack traces point at the new serializer in {svc}: NullPointerException in "
            "OrderMapper",
            "Only pods running {build} fail; the canary was skipped for this release",
        ),
        "decides": (
            "Roll back {svc} to {prev} rather than fix forward",
            "Freeze deploys to {svc} until the root cause is understood",
        ),
        "does": ("Rolled back {svc} to {prev}", "Paused the deploy pipeline for {svc}"),
        "root": "Release {build} of {svc} changed how empty optional fields are mapped: "
        "requests from older mobile clients, which omit the field, hit a null reference "
        "and failed with HTTP 500. The canary stage that would have caught it was "
        "skipped because the release was marked as a configuration-only change.",
        "factors": (
            "The release was labelled configuration-only, which skips the canary stage.",
            "Integration tests use the current client version only.",
            "The deploy went out shortly before the evening traffic peak.",
        ),
        "fix": "We rolled {svc} back to {prev} at {mitigated}; the error rate returned to "
        "its baseline within four minutes. The fix (a default for the missing field) "
        "shipped the next day behind the canary stage.",
        "items": (
            "Make the canary stage mandatory for {svc}",
            "Contract tests against the three oldest supported mobile clients",
            "Alert on 5xx ratio per release, not only per service",
            "Remove the configuration-only shortcut from the deploy pipeline",
        ),
        "log": "ERROR [{svc}] OrderMapper.map: java.lang.NullPointerException\n"
        "    at com.acme.orders.OrderMapper.map(OrderMapper.java:212)\n"
        "WARN  [{svc}] 5xx ratio 31.4% over 1m (threshold 2%)",
    },
    {
        "types": ("outage", "integration"),
        "titles": (
            "Config push broke routing to {svc}",
            "{svc} rejecting requests after a configuration change",
            "Load balancer sending {svc} traffic to drained nodes",
        ),
        "cause": "a configuration change",
        "finds": (
            "Config change {pr} to the {svc} routes merged at {hhmm}Z",
            "The new route table has no entry for /v2 on {svc}",
            "Health checks pass although the backend pool is empty",
        ),
        "decides": ("Revert config change {pr}", "Route {svc} traffic through {region2}"),
        "does": ("Reverted config change {pr}", "Drained {region} at the load balancer"),
        "root": "Configuration change {pr} replaced the route table of {svc} instead of "
        "merging into it, so every /v2 route disappeared. Health checks only probe /healthz, "
        "which stayed up, so the load balancer kept sending traffic to routes that no "
        "longer existed.",
        "factors": (
            "Configuration changes are reviewed as text, without a diff of the resulting routes.",
            "Health checks do not cover a real request path.",
        ),
        "fix": "Reverting {pr} restored the routes at {mitigated}. A validation step that "
        "renders the final route table now runs in CI.",
        "items": (
            "Render and diff the final route table in CI for every config change",
            "Health checks that call one real endpoint of {svc}",
            "Progressive rollout of load balancer configuration",
        ),
        "log": "",
    },
    {
        "types": ("performance", "outage"),
        "titles": (
            "{svc} database connections exhausted",
            "Timeouts from {svc} to postgres-main",
            "Slow queries on postgres-main degrade {svc}",
        ),
        "cause": "connection pool exhaustion",
        "finds": (
            "Connection pool of {svc} at 50/50, requests queueing for {ms} ms",
            "pg_stat_activity shows {n} idle-in-transaction sessions from {svc}",
            "A report query from {svc2} holds locks on the orders table",
        ),
        "decides": (
            "Kill the long-running report queries",
            "Raise the pool size temporarily rather than restart the database",
        ),
        "does": (
            "Terminated {n} idle-in-transaction sessions",
            "Raised max pool size of {svc} from 50 to 120",
        ),
        "root": "A new report in {svc2} opened a transaction, then called an external API "
        "while holding it. When that API slowed down, transactions stayed open for minutes, "
        "each holding a connection, and the shared pool of {svc} ran dry.",
        "factors": (
            "{svc} and {svc2} share one connection pool.",
            "No statement or idle-in-transaction timeout on the database.",
            "The pool saturation alert fires only at 100% for 10 minutes.",
        ),
        "fix": "Terminating the stuck sessions at {mitigated} freed the pool; we set "
        "idle_in_transaction_session_timeout to 30s and moved the report to a replica.",
        "items": (
            "Set idle_in_transaction_session_timeout on postgres-main",
            "Separate connection pools for {svc} and {svc2}",
            "Alert on pool saturation above 80% for 2 minutes",
            "Run reports against the read replica",
        ),
        "log": "FATAL: remaining connection slots are reserved for non-replication "
        "superuser connections\nWARN  [{svc}] HikariPool-1 - Connection is not available, "
        "request timed out after 30000ms",
    },
    {
        "types": ("outage", "security"),
        "titles": (
            "TLS certificate expired on {svc}",
            "Clients cannot connect to {svc}: certificate expired",
        ),
        "cause": "an expired certificate",
        "finds": (
            "openssl s_client shows the certificate of {svc} expired at {hhmm}Z",
            "Automatic renewal failed 30 days ago: DNS challenge rejected",
        ),
        "decides": ("Issue a certificate by hand now, fix the automation after",),
        "does": ("Installed a new certificate on the {svc} load balancers",),
        "root": "Certificate renewal for {svc} uses a DNS challenge. When the DNS zone moved "
        "to a new account in the spring, the renewal job kept the old credentials; every "
        "renewal since failed, and the failures went to a mailbox nobody reads.",
        "factors": (
            "Renewal failures were reported by e-mail only.",
            "No alert on certificates expiring within 14 days.",
        ),
        "fix": "A certificate issued by hand was installed at {mitigated}; the renewal job "
        "got the new DNS credentials the same day.",
        "items": (
            "Alert on any certificate expiring within 14 days",
            "Send renewal failures to the on-call channel",
            "Inventory of every certificate and its renewal method",
        ),
        "log": "",
    },
    {
        "types": ("outage",),
        "titles": (
            "DNS resolution failures for {svc}",
            "Internal DNS returning NXDOMAIN for {svc}",
        ),
        "cause": "a DNS change",
        "finds": (
            "dig {svc}.internal returns NXDOMAIN from half of the resolvers",
            "The zone was re-deployed at {hhmm}Z with {n} records fewer",
        ),
        "decides": ("Restore the previous zone file",),
        "does": ("Restored the previous zone and flushed the resolver caches",),
        "root": "A clean-up script removed records it considered unused, based on a query log "
        "that covered one region only. The records of {svc} in {region2} were among them.",
        "factors": (
            "The clean-up ran without a dry run or a second reviewer.",
            "Negative answers were cached for an hour.",
        ),
        "fix": "The previous zone was restored at {mitigated}; resolvers were flushed so "
        "recovery did not wait for the negative cache TTL.",
        "items": (
            "Dry run and review for every DNS record removal",
            "Lower the negative cache TTL to 60 seconds",
            "Synthetic DNS checks from every region",
        ),
        "log": "",
    },
    {
        "types": ("integration",),
        "titles": (
            "{provider} API errors affecting {svc}",
            "{provider} outage delays {svc}",
            "Timeouts calling {provider} from {svc}",
        ),
        "cause": "an outage at {provider}",
        "finds": (
            "{provider} status page confirms degraded API in {region}",
            "{pct}% of calls from {svc} to {provider} time out after 10s",
            "Retries from {svc} triple the request rate to {provider}",
        ),
        "decides": (
            "Switch {svc} to the secondary provider",
            "Queue outgoing requests instead of failing them",
        ),
        "does": (
            "Opened a ticket with {provider} support: case {case}",
            "Enabled the circuit breaker for {provider} in {svc}",
        ),
        "root": "{provider} had a partial outage of its API in {region}. {svc} retried every "
        "failed call three times without backoff, which tripled our traffic to {provider} and "
        "got us rate limited for a further 20 minutes after they recovered.",
        "factors": (
            "Retries without backoff or jitter.",
            "The fallback provider was configured but never tested.",
        ),
        "fix": "The circuit breaker and queueing limited the impact from {mitigated}; the "
        "queued requests drained once {provider} recovered.",
        "items": (
            "Exponential backoff with jitter for {provider} calls",
            "Quarterly failover drill to the secondary provider",
            "Alert on the {provider} error rate, not only our own",
        ),
        "log": "",
    },
    {
        "types": ("performance",),
        "titles": (
            "{svc} latency above SLO during traffic spike",
            "Rate limiting on {svc} rejecting legitimate traffic",
            "{svc} slow during the campaign launch",
        ),
        "cause": "a traffic spike",
        "finds": (
            "Traffic to {svc} at {n}x the usual rate since {hhmm}Z",
            "p99 latency of {svc} at {ms} ms against an SLO of 300 ms",
            "Autoscaler at its maximum of {r1} replicas",
        ),
        "decides": ("Raise the autoscaler limit of {svc}", "Shed load from the bot traffic"),
        "does": (
            "Scaled {svc} from {r1} to {r2} replicas",
            "Blocked the top three abusive client IDs at the edge",
        ),
        "root": "A marketing campaign went out to all customers at once, without telling "
        "engineering. Traffic to {svc} grew sevenfold within minutes; the autoscaler limit, "
        "set two years ago, capped {svc} far below what it needed.",
        "factors": (
            "Autoscaler limits were never revisited after growth.",
            "Campaigns are not on the engineering calendar.",
        ),
        "fix": "Raising the limit and scaling out at {mitigated} brought latency back within "
        "the SLO; the campaign tool now staggers sends.",
        "items": (
            "Review autoscaler limits of every tier-1 service",
            "Campaign launches announced to the on-call channel",
            "Load test {svc} at 10x the normal peak",
        ),
        "log": "",
    },
    {
        "types": ("performance", "outage"),
        "titles": ("{svc} pods OOM-killed", "Memory leak in {svc} causes restarts"),
        "cause": "a memory leak",
        "finds": (
            "{svc} pods restarting every {n} minutes, OOMKilled",
            "Heap grows linearly since release {build}",
            "Heap dump: millions of cached request contexts",
        ),
        "decides": ("Roll back to {prev} and take a heap dump first",),
        "does": ("Took a heap dump from one pod", "Rolled back {svc} to {prev}"),
        "root": "Release {build} added a per-request cache that was never evicted. Memory of "
        "{svc} grew with traffic until the kernel killed the pods, and restarts during the "
        "peak left too few healthy replicas.",
        "factors": (
            "Memory is load tested for 10 minutes only; the leak needed an hour.",
            "Pods restart in parallel rather than one by one.",
        ),
        "fix": "The rollback to {prev} at {mitigated} stopped the restarts; the cache got a "
        "size bound before it shipped again.",
        "items": (
            "Soak test of one hour for {svc} releases",
            "Alert on memory growth rate, not only on OOM kills",
            "PodDisruptionBudget for {svc}",
        ),
        "log": "Memory cgroup out of memory: Killed process 4121 (java) total-vm:6291456kB\n"
        "kubelet: container {svc} in pod {svc}-7d9f8b6c5 was OOMKilled (exit code 137)",
    },
    {
        "types": ("outage", "data"),
        "titles": ("Disk full on {svc} nodes", "{svc} stopped writing: volume full"),
        "cause": "a full disk",
        "finds": (
            "/var/lib/{svc} at 100% on {n} nodes",
            "Debug logging was left on after last week's incident",
        ),
        "decides": ("Delete rotated debug logs, then turn debug logging off",),
        "does": ("Freed {n} GB by removing rotated logs", "Turned debug logging off"),
        "root": "Debug logging on {svc} was switched on during an earlier investigation and "
        "never switched off. It wrote about 40 GB a day until the data volume filled and "
        "{svc} could no longer write.",
        "factors": (
            "The disk alert fired at 95%, three hours before the volume was full, in a channel "
            "nobody watched at night.",
            "Temporary debug settings have no expiry.",
        ),
        "fix": "Removing rotated logs at {mitigated} let {svc} write again; writes that failed "
        "in between were replayed from the queue.",
        "items": (
            "Page on disk usage forecast to fill within 24 hours",
            "Debug logging switches that expire after a day",
            "Separate volumes for logs and data on {svc}",
        ),
        "log": "",
    },
    {
        "types": ("security",),
        "titles": (
            "Leaked API key for {svc} found in a public repository",
            "Suspicious logins on admin accounts",
            "Credential stuffing against {svc}",
        ),
        "cause": "exposed credentials",
        "finds": (
            "Secret scanning alert: {provider} key of {svc} in a public gist",
            "{n} failed logins per minute from a small set of ASNs",
            "No sign of use of the key in the {provider} audit log",
        ),
        "decides": (
            "Rotate the key now, investigate after",
            "Force password reset for the affected accounts",
        ),
        "does": (
            "Rotated the {provider} API key",
            "Blocked the source ASNs at the edge",
            "Preserved access logs for the investigation",
        ),
        "root": "A developer pasted a debugging script with a live {provider} key of {svc} "
        "into a public gist. The key had broad permissions because {svc} used one key for "
        "every environment.",
        "factors": (
            "One key for every environment, with full permissions.",
            "No pre-commit secret scanning on laptops.",
        ),
        "fix": "The key was rotated at {mitigated}; the audit log shows no use of it by "
        "anyone else. Keys are now per environment and scoped.",
        "items": (
            "Per-environment, least-privilege keys for {svc}",
            "Secret scanning as a pre-commit hook",
            "Alert on logins from new ASNs for admin accounts",
        ),
        "log": "",
    },
    {
        "types": ("data", "outage"),
        "titles": (
            "Schema migration locked {svc} tables",
            "Duplicate rows in {svc} after migration",
            "Orders missing from {svc} after backfill",
        ),
        "cause": "a schema migration",
        "finds": (
            "Migration {pr} holds an ACCESS EXCLUSIVE lock on the orders table",
            "{n} rows written twice between {hhmm}Z and the rollback",
        ),
        "decides": ("Cancel the migration and write it as an online change",),
        "does": (
            "Cancelled migration {pr}",
            "Restored the affected rows from the point-in-time backup",
        ),
        "root": "Migration {pr} added a column with a default, which on this database version "
        "rewrites the table under an exclusive lock. Writes to {svc} blocked for the length "
        "of the rewrite, and client retries created duplicate rows once it finished.",
        "factors": (
            "Migrations are not checked for locking behaviour.",
            "Writes from {svc} are not idempotent.",
        ),
        "fix": "The migration was cancelled at {mitigated}; {n} duplicate rows were found by "
        "a reconciliation query and removed after review by a second engineer.",
        "items": (
            "Lint migrations for table rewrites and long locks",
            "Idempotency keys on writes from {svc}",
            "Reconciliation report for orders, daily",
        ),
        "log": "ERROR: canceling statement due to lock timeout\n"
        'CONTEXT: while rewriting table "orders"',
    },
    {
        "types": ("performance", "data"),
        "titles": (
            "Cache stampede on redis-cache slowed {svc}",
            "{svc} serving stale prices from cache",
        ),
        "cause": "cache expiry",
        "finds": (
            "Hit ratio of redis-cache dropped from 97% to {pct}% at {hhmm}Z",
            "Thousands of keys of {svc} expired at the same second",
        ),
        "decides": ("Warm the cache from the replica before re-enabling traffic",),
        "does": ("Flushed the stale {svc} keys", "Warmed the cache for the top products"),
        "root": "A bulk import set the same expiry on every key of {svc}. When they expired "
        "together, every request missed the cache and went to the database at once.",
        "factors": ("No jitter on cache expiry.", "No request coalescing on cache misses."),
        "fix": "The cache was warmed and traffic let back in gradually from {mitigated}.",
        "items": (
            "Add jitter to cache TTLs of {svc}",
            "Coalesce concurrent cache misses",
            "Alert on cache hit ratio below 90%",
        ),
        "log": "",
    },
    {
        "types": ("outage", "performance"),
        "titles": (
            "Packet loss between {region} and {region2}",
            "{svc} unreachable from {region}",
        ),
        "cause": "a network failure",
        "finds": (
            "{pct}% packet loss on the link between {region} and {region2}",
            "Cloud provider reports a fibre cut near {region}",
        ),
        "decides": ("Fail over {svc} to {region2}",),
        "does": ("Shifted {svc} traffic to {region2}",),
        "root": "A fibre cut at our cloud provider took out one of two links between {region} "
        "and {region2}; the remaining link saturated, and {svc}, which calls across regions "
        "for every request, timed out.",
        "factors": (
            "{svc} has a synchronous cross-region dependency.",
            "Failover is manual and took 25 minutes to decide.",
        ),
        "fix": "Traffic was shifted to {region2} at {mitigated}; the provider repaired the "
        "link the next morning.",
        "items": (
            "Remove the synchronous cross-region call from {svc}",
            "Runbook and one-command failover for {svc}",
        ),
        "log": "",
    },
    {
        "types": ("data", "performance", "integration"),
        "titles": (
            "{svc} consumers lagging on Kafka",
            "Orders delayed: {svc} queue backlog",
            "Notifications sent hours late",
        ),
        "cause": "consumer lag",
        "finds": (
            "Consumer lag of {svc} at {n}k messages and growing",
            "One partition stuck on a message that fails to deserialize",
        ),
        "decides": ("Skip the poison message and send it to the dead-letter topic",),
        "does": ("Moved the poison message to the dead-letter topic", "Added {r1} consumers"),
        "root": "A producer in {svc2} started sending a new event version that the consumers "
        "of {svc} could not deserialize. The consumer retried the message forever, and the "
        "partition behind it stopped.",
        "factors": (
            "No dead-letter handling in the {svc} consumer.",
            "Event schemas are not checked for compatibility.",
        ),
        "fix": "The poison message was moved aside at {mitigated}; the backlog drained in "
        "about an hour with extra consumers.",
        "items": (
            "Dead-letter topic and retry limit for {svc} consumers",
            "Schema registry compatibility checks in CI",
            "Alert on consumer lag per partition",
        ),
        "log": "org.apache.kafka.common.errors.SerializationException: Error deserializing "
        "key/value for partition orders-7 at offset 88123417",
    },
    {
        "types": ("outage", "integration"),
        "titles": (
            "Feature flag rollout broke {svc} for mobile users",
            "New onboarding flow fails for a share of users",
        ),
        "cause": "a feature flag rollout",
        "finds": (
            "Flag new-{svc}-flow moved to 50% at {hhmm}Z",
            "Errors only for users in the flag's treatment group",
        ),
        "decides": ("Turn the flag off",),
        "does": ("Set new-{svc}-flow to 0%",),
        "root": "The new flow of {svc} assumed a field that older app versions do not send. "
        "The flag's rollout went from 5% to 50% in one step, after a 5% stage that by chance "
        "included almost no old app versions.",
        "factors": (
            "Rollout stages are not segmented by app version.",
            "Flag changes do not show up on the service dashboards.",
        ),
        "fix": "Turning the flag off at {mitigated} ended the errors at once.",
        "items": (
            "Annotate dashboards with flag changes",
            "Roll out flags by app version as well as percentage",
        ),
        "log": "",
    },
]
KINDS_BY_TYPE = {t: [k for k in KINDS if t in k["types"]] for t in TYPES}

NOTES = (
    "Error rate on {svc} at {pct}% (baseline 0.2%)",
    "p99 latency of {svc} at {ms} ms against an SLO of 300 ms",
    "{n} support tickets mentioning {svc} in the last 30 minutes",
    "No deploys to {svc2} in the last 24 hours; ruling it out",
    "Paged the {team} on-call",
    "Dashboards show the change starting at {hhmm}Z",
    "Joined the bridge, taking notes",
    "Still seeing errors in {region}; the other regions look fine",
    "Error rate down to {pct2}% and falling",
    "Synthetic checks green for 15 minutes",
    "Customer success reports two enterprise customers affected",
    "Logs of {svc} show retries against {svc2}",
    "Checked the recent changes: nothing else touched {svc} this week",
    "CPU and memory of {svc} normal; looking elsewhere",
)
COMMS = (
    "Posted an update in the incident channel",
    "Gave support a macro for incoming tickets",
    "Briefed the engineering leadership",
    "Update sent to the incident channel and the leadership list",
    "Told the account managers of the affected customers",
)
PUBLIC = {
    "start": "We are investigating elevated error rates affecting {svc_public}.",
    "found": "We have identified the cause and are working on a fix.",
    "mitigated": "A fix has been implemented and we are monitoring the results.",
    "resolved": "This incident has been resolved. We apologise for the disruption.",
}
MSG = {
    "investigating": ("Looking at {svc} and its dependencies", "Paged on-call, digging in", ""),
    "identified": ("Cause found: {cause}", "Looks like {cause}", ""),
    "monitoring": (
        "Mitigation in place; watching the error rate",
        "Error rate back to baseline",
        "",
    ),
    "resolved": ("Stable for 30 minutes", "No new errors for an hour", "All clear", ""),
    "closed": ("Post-mortem reviewed", "Post-mortem reviewed; action items tracked"),
    "cancelled": (
        "False alarm: a synthetic check was misconfigured",
        "Not an incident: planned maintenance",
        "Duplicate of another incident",
        "Expected behaviour after the migration",
    ),
    "reopen": ("Errors came back after the fix", "The problem is back in {region}"),
}
WELL = (
    "The alert fired within minutes and paged the right team.",
    "The rollback took four minutes and worked the first time.",
    "Roles were assigned early; the scribe kept the timeline current.",
    "Support had a macro ready for customers within half an hour.",
    "The runbook for {svc} was up to date.",
    "Status page updates went out on every cadence.",
    "Dashboards made the scope clear quickly.",
)
WRONG = (
    "It took too long to decide to roll back.",
    "Two teams investigated the same lead without knowing it.",
    "The first status page update went out late.",
    "The on-call engineer did not have access to the {svc} production logs.",
    "The alert went to a channel nobody watches at night.",
    "We chased a red herring in {svc2} for half an hour.",
)
LESSONS = (
    "Roll back first, debug after.",
    "An alert nobody reads is no alert.",
    "Name the commander in the first five minutes, every time.",
    "Shared resources need their own limits and alarms.",
    "Changes that skip the normal pipeline are where incidents come from.",
    "Write down what you rule out, not only what you find.",
)
# The default templates' text (templates/*.j2): used when no incidentctl can show them.
TODO_SUMMARY = (
    "_TODO: what is happening, who is affected, since when. "
    "Keep this current: it is what people read first._"
)
CHECKLISTS = {
    "outage": (
        "Incident Commander named and announced in the incident channel",
        "Severity confirmed against user impact; escalate early, downgrade later",
        "Status page / customer comms posted (and every update cadence after)",
        "Recent changes checked: deploys, config pushes, feature flags, infra changes",
        "Dashboards and error rates checked for the affected services and their dependencies",
        "Mitigation chosen: roll back, fail over, scale out, shed load, disable the feature",
        "Mitigation verified from the user's side (synthetics, error rate back to baseline)",
        "Monitoring period agreed before resolving",
        "Post-mortem owner and date set (SEV-1/SEV-2)",
    ),
    "security": (
        "Incident Commander and security lead named; restrict who is told (need to know)",
        "Set `visibility: restricted` if details must not be public in this repository",
        "Evidence preserved before changes: logs, snapshots, access records",
        "Scope assessed: systems, accounts, data and customers possibly affected",
        "Containment: revoke/rotate credentials, block indicators, isolate hosts",
        "Eradication: remove the foothold, patch the vulnerability",
        "Recovery verified; heightened monitoring in place",
        "Legal, privacy and compliance informed; notification deadlines tracked",
        "Post-mortem owner and date set",
    ),
    "performance": (
        "Incident Commander named; latency/throughput SLOs affected noted",
        "Where the time goes: traces, slow queries, saturation (CPU, memory, I/O, pools)",
        "Load compared with normal: traffic spike, abusive client, batch job, retry storm",
        "Recent changes checked: deploys, config, dependency versions, data growth",
        "Mitigation: scale out, rate-limit, shed load, cache, roll back",
        "Latency back within SLO and holding through the next peak",
        "Capacity follow-up recorded as an action item",
    ),
    "data": (
        "Incident Commander named; writes to the affected data paused if corruption may spread",
        "Scope: which records, tables or objects, since when, which customers",
        "Backups and point-in-time recovery options confirmed before any repair",
        "Repair plan reviewed by a second engineer; tested on a copy first",
        "Data restored or corrected; integrity checks pass",
        "Customers and compliance informed where required",
        "Post-mortem owner and date set",
    ),
    "integration": (
        "Incident Commander named; the failing third party or internal dependency identified",
        "Provider status page and support contacted; ticket reference recorded in the timeline",
        "Blast radius: which features depend on it; degrade gracefully where possible",
        "Fallbacks engaged: retries with backoff, queueing, circuit breaker, alternate provider",
        "Backlog and retries drained after recovery; no duplicate side effects",
        "Follow-up on timeouts, alerting and contract (SLA) recorded as action items",
    ),
}
MORE_ITEMS = (  # after a kind's own action items
    "Update the {svc} runbook with what we learned",
    "Game day for this failure mode of {svc}",
    "Dashboard of the dependencies of {svc}",
    "Review the paging policy of {team}",
    "Add {svc} to the weekly resilience review",
)
ACTION_TODO = (
    "_TODO: add action items with `incidentctl action add {id} "
    '"What to do" --owner NAME --due YYYY-MM-DD`._'
)


# -- the format: what incidentctl writes ----------------------------------------------

_YAML_SPECIAL = re.compile(
    r"""^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    |~|null|Null|NULL|<<|=
    |[-+]?(?:0|[1-9][0-9_]*)|[-+]?0[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0b[01_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
    |[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+).*)?)$""",
    re.VERBOSE,
)


def yaml_str(text: str) -> str:
    """A string as PyYAML's safe dumper writes it (block context, allow_unicode): plain
    when that reads back as the same string, else single-quoted. Covers the text this
    generator makes (printable, one line); tests compare it with PyYAML."""
    plain = (
        text
        and text.isprintable()
        and text == text.strip()
        and text[0] not in "#,[]{}&*!|>'\"%@`"
        and not (text[0] in "?:-" and (len(text) == 1 or text[1] == " "))
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and not text.startswith(("---", "..."))
        and not _YAML_SPECIAL.match(text)
    )
    return text if plain else "'" + text.replace("'", "''") + "'"


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_duration(delta: timedelta) -> str:
    """incidentctl's format_duration: 45m, 2h 5m, 3d 4h."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    return " ".join(parts) or f"{secs}s"


def slugify(title: str, max_len: int = 48) -> str:
    """incidentctl's slug: ASCII letters, digits and dashes."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "incident"


def cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def entry_lines(at: datetime, author: str, kind: str, text: str) -> list[str]:
    """A timeline entry as format_entry writes it (further lines indented two spaces;
    the generator's further lines start with a letter, so nothing needs escaping)."""
    first, *rest = text.split("\n")
    return [f"- `{ts(at)}` **{author}** _({kind})_ {first}", *(f"  {line}" for line in rest)]


@dataclass
class Body:
    """The body `incidentctl open` writes, in parts: before the summary, between the
    summary and the timeline, after the timeline's last line (the checklist) per
    type, and the summary placeholder."""

    head: str = "# {title}\n\n## Summary\n\n"
    middle: str = "\n\n## Timeline\n\n"
    checklists: dict[str, str] = field(
        default_factory=lambda: {
            t: f"\n## Checklist ({t})\n\n" + "".join(f"- [ ] {c}\n" for c in CHECKLISTS[t])
            for t in TYPES
        }
    )
    todo_summary: str = TODO_SUMMARY


def harvest(root: Path, incidentctl: str, env: dict[str, str] | None) -> Body:
    """The body parts, from incidents `incidentctl open --no-commit` writes in `root`
    (one per type, one without a summary); the files are removed again."""
    marker_title, marker_summary = "Generator sample {}", "Generator sample summary."
    procs = []
    for n, kind in enumerate((*TYPES, None)):
        argv = [incidentctl, "open", marker_title.format(n), "--no-commit", "--json"]
        argv += ["--type", kind or "outage", "--service", "sample", "-c", "Sample Commander"]
        if kind:
            argv += ["--summary", marker_summary]
        procs.append(
            (kind, subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, text=True))
        )
    body = Body()
    for n, (kind, proc) in enumerate(procs):
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"incidentctl open --no-commit exited {proc.returncode}")
        path = root / json.loads(out)["path"]
        text = path.read_text(encoding="utf-8")
        path.unlink()
        rest = text.split("\n---\n", 1)[1].lstrip("\n")
        title = marker_title.format(n)
        timeline_at = rest.index("\n- `")
        entry_end = rest.index("\n", timeline_at + 1)
        if kind is None:
            head = rest[: rest.index("\n## Timeline")]
            body.todo_summary = head.rstrip("\n").rsplit("\n\n", 1)[1]
            continue
        before, after = rest[:timeline_at], rest[entry_end:]
        summary_at = before.index(marker_summary)
        body.head = before[:summary_at].replace(title, "{title}")
        body.middle = before[summary_at + len(marker_summary) :] + "\n"
        body.checklists[kind] = after[1:]  # after the entry's own line end
    return body


# -- one incident ---------------------------------------------------------------------

SEVERITIES = (("SEV-1", 3), ("SEV-2", 14), ("SEV-3", 48), ("SEV-4", 35))
# Median delays in minutes by severity: acknowledge, then mitigate, then resolve.
ACK = {1: 3, 2: 7, 3: 25, 4: 120}
MITIGATE = {1: 35, 2: 55, 3: 100, 4: 300}
RESOLVE = {1: 60, 2: 90, 3: 120, 4: 240}
ENTRIES = {1: (14, 40), 2: (9, 30), 3: (4, 16), 4: (3, 9)}
MAX_ENTRIES = 40


@dataclass
class Generated:
    id: str
    path: str  # relative to the repository
    status: str
    severity: str
    type: str
    commander: str
    postmortem: bool
    entries: int
    action_items: int
    size: int  # bytes


class Story:
    """One incident from opening to the end date: events in time order, the front
    matter they leave, and the file incidentctl (and its people) would have written."""

    def __init__(self, rng: random.Random, opened: datetime, end: datetime, ident: str):
        self.rng = rng
        self.end = end
        self.ident = ident
        self.opened = opened
        r = rng.random
        self.severity = int(
            rng.choices([s[-1] for s, _ in SEVERITIES], [w for _, w in SEVERITIES])[0]
        )
        self.type = rng.choices(TYPES, (45, 9, 25, 8, 13))[0]
        self.kind = rng.choice(KINDS_BY_TYPE[self.type])
        self.env = rng.choices(("production", "staging", "development"), (82, 14, 4))[0]
        services = rng.sample(SERVICES, rng.choices((1, 2, 3), (55, 32, 13))[0])
        self.services = services
        people = rng.sample(PEOPLE, rng.randint(3, 7))
        self.people = people
        self.commander = people[0]
        self.opener = people[0] if r() < 0.7 else people[1]
        if self.type == "security":
            self.visibility = rng.choices(("restricted", "internal", "public"), (70, 25, 5))[0]
        else:
            public = 30 if self.severity <= 2 and self.env == "production" else 6
            self.visibility = rng.choices(
                ("internal", "public", "restricted"), (100 - public - 3, public, 3)
            )[0]
        self.f = self.fields(services)
        self.title = rng.choice(self.kind["titles"]).format_map(self.f)

    def fields(self, services: list[str]) -> dict[str, Any]:
        rng = self.rng
        svc = services[0]
        region, region2 = rng.sample(REGIONS, 2)
        build = f"{self.opened:%Y.%m}.{rng.randint(1, 30)}-{rng.randint(100, 999)}"
        return {
            "svc": svc,
            "svc2": services[1] if len(services) > 1 else rng.choice(SERVICES),
            "svc_public": svc.replace("-", " "),
            "region": region,
            "region2": region2,
            "provider": rng.choice(PROVIDERS),
            "build": build,
            "prev": build.rsplit("-", 1)[0] + f"-{rng.randint(100, 999)}",
            "pr": f"#{rng.randint(1200, 9800)}",
            "pct": rng.choice((3, 7, 12, 18, 24, 31, 45, 62)),
            "pct2": rng.choice((0.4, 0.8, 1.5, 2.1)),
            "ms": rng.choice((850, 1200, 2400, 4800, 9000)),
            "n": rng.randint(3, 40),
            "r1": rng.choice((4, 6, 8, 12)),
            "r2": rng.choice((16, 24, 32)),
            "team": rng.choice(TEAMS),
            "case": rng.randint(100000, 999999),
            "hhmm": f"{self.opened:%H:%M}",
            "cause": "",
            "mitigated": "",
        }

    def delay(self, median_min: float, sigma: float = 1.1) -> timedelta:
        seconds = 60 * median_min * math.exp(self.rng.gauss(0, sigma))
        return timedelta(seconds=max(1, min(int(seconds), 30 * 86400)))

    def text(self, template: str) -> str:
        return template.format_map(self.f)

    # The events, planned before the end date cuts them.
    def plan(self) -> None:
        rng, sev, f = self.rng, self.severity, self.f
        r = rng.random
        events: list[tuple[datetime, int, str, Any]] = []  # (at, order, what, data)
        seq = iter(range(10**6))

        def add(at: datetime, what: str, data: Any = None) -> None:
            events.append((at, next(seq), what, data))

        t0 = self.opened
        self.detected = t0 - self.delay(5, 1.0) if r() < 0.75 else None
        self.started = self.detected - self.delay(12, 1.2) if self.detected and r() < 0.35 else None
        outcome = rng.choices(("full", "cancelled", "stuck"), (92, 6 + (sev >= 3) * 2, 2.5))[0]
        self.initial = sev
        if outcome != "cancelled" and r() < 0.12:  # escalated or downgraded on the way
            self.initial = min(4, sev + 1) if r() < 0.6 else max(1, sev - 1)
        ack = t0 + self.delay(ACK[sev])
        mitigated = ack + self.delay(MITIGATE[sev], 1.2)
        resolved = mitigated + self.delay(RESOLVE[sev], 1.3)
        f["cause"] = self.text(self.kind["cause"])
        add(t0, "open")
        # The first minutes: what was seen, who was called (every incident has them).
        first = self.text(self.kind["finds"][0])
        add(t0 + timedelta(seconds=rng.randint(15, 120)), "entry", ("note", first))
        called = self.text(rng.choice(("Paged the {team} on-call", "Joined the bridge")))
        add(t0 + timedelta(seconds=rng.randint(120, 540)), "entry", ("note", called))
        if self.initial != sev:
            add(t0 + (ack - t0) * r() + (mitigated - ack) * r() * 0.5, "severity", sev)
        if outcome == "cancelled":
            at = t0 + timedelta(minutes=10) + self.delay(15)
            if r() < 0.5:
                add(t0 + (at - t0) * 0.4, "status", "investigating")
            add(at, "status", "cancelled")
            self.plan_notes(add, t0, at, rng.randint(0, 3))
            self.events = sorted(events)
            self.needs_pm = False
            return
        direct = sev == 4 and r() < 0.1  # triage -> resolved in one step
        if not direct:
            add(ack, "status", "investigating")
            if r() < 0.5:
                add(ack + (mitigated - ack) * rng.uniform(0.3, 0.9), "status", "identified")
        if outcome == "stuck":  # never resolved: forgotten, or a long-running one
            if r() < 0.5 and not direct:
                add(mitigated, "status", "monitoring")
            self.plan_roles(add, ack, mitigated)
            self.plan_notes(add, t0, mitigated, rng.randint(*ENTRIES[sev]) - 5)
            self.events = sorted(events)
            self.needs_pm = False
            return
        if not direct and r() < 0.8:
            add(mitigated, "status", "monitoring")
        add(resolved, "status", "resolved")
        final = resolved
        if r() < 0.025:  # reopened
            back = resolved + self.delay(180)
            final = back + self.delay(120)
            add(back, "reopen", "investigating")
            add(back + (final - back) / 2, "status", "monitoring")
            add(final, "status", "resolved")
        self.plan_roles(add, ack, mitigated)
        self.needs_pm = sev <= 2 or (sev == 3 and r() < 0.12)
        # A post-mortem needs one action item at least (its table is a TODO without).
        if sev <= 2:
            n_items = rng.randint(3 - sev, 5)
        elif self.needs_pm:
            n_items = rng.choice((1, 1, 2))
        elif sev == 3:
            n_items = rng.randint(1, 2) if r() < 0.35 else 0
        else:
            n_items = int(r() < 0.12)
        # After resolving: action items, the post-mortem run and its writing, closing.
        pm_run = final + self.delay(1.5 * 1440, 0.6)
        pm_written = pm_run + self.delay(2 * 1440, 0.7)
        first_item = final + self.delay(600, 1.0)
        if self.needs_pm and final <= self.end:
            # A resolved SEV-1/2 has its post-mortem written (check passes on it), if
            # need be squeezed in before the end date.
            first_item, pm_run, pm_written = sorted((first_item, pm_run, pm_written))
            room = self.end - final
            if pm_written > self.end:
                first_item = final + room * 0.2
                pm_run = final + room * 0.4
                pm_written = final + room * 0.8
        items = [first_item] + [
            final + self.delay(1440 if self.needs_pm else 600, 1.0) for _ in range(n_items - 1)
        ]
        for n, at in enumerate(sorted(items)[:n_items], 1):
            due = (at + timedelta(days=rng.choice((7, 7, 14, 14, 21, 30, 45)))).date()
            done = at + timedelta(days=rng.uniform(1, 40))
            add(at, "item", (n, due, done if r() < 0.75 else None))
        if self.needs_pm:
            add(pm_run, "postmortem")
            add(pm_written, "written")
        close = (pm_written if self.needs_pm else final) + self.delay(
            1440 if self.needs_pm else 2 * 1440, 0.8
        )
        if r() < (0.75 if self.needs_pm else 0.5):
            add(close, "status", "closed")
        last = mitigated if final == resolved else final
        self.plan_notes(add, t0, last, rng.randint(*ENTRIES[sev]) - 5 - 2 * n_items)
        self.events = sorted(events)

    def plan_roles(self, add: Any, ack: datetime, mitigated: datetime) -> None:
        rng, sev = self.rng, self.severity
        if rng.random() < {1: 0.9, 2: 0.6, 3: 0.15, 4: 0.03}[sev] and len(self.people) > 2:
            roles = rng.sample(ROLES, rng.randint(1, 3))
            names = [rng.choice(self.people[1:]) for _ in roles]
            add(
                ack + (mitigated - ack) * rng.uniform(0, 0.3),
                "roles",
                dict(zip(roles, names, strict=True)),
            )
        if rng.random() < 0.08:
            name = rng.choice(PEOPLE)
            if name != self.commander:
                add(ack + (mitigated - ack) * rng.uniform(0.2, 0.8), "commander", name)

    def plan_notes(self, add: Any, start: datetime, stop: datetime, count: int) -> None:
        rng = self.rng
        span = max((stop - start).total_seconds(), 60.0)
        public = self.visibility == "public" and self.env == "production"
        if public:
            add(start + timedelta(seconds=span * 0.1), "entry", ("public", PUBLIC["start"]))
            add(stop, "entry", ("public", PUBLIC["mitigated"]))
            count -= 2
        pools: dict[str, list[str]] = {}
        for _ in range(max(count, 0)):
            at = start + timedelta(seconds=span * rng.random() ** 1.3)
            kind = rng.choices(("note", "decision", "action", "comms"), (55, 12, 20, 13))[0]
            if not pools.get(kind):  # each text once before any comes again
                pools[kind] = list(
                    {
                        "note": (*NOTES, *self.kind["finds"], *self.kind["finds"]),
                        "decision": self.kind["decides"],
                        "action": self.kind["does"],
                        "comms": COMMS,
                    }[kind]
                )
                rng.shuffle(pools[kind])
            self.f.update(
                pct=rng.choice((3, 7, 12, 18, 24, 31, 45, 62)),
                pct2=rng.choice((0.4, 0.8, 1.5, 2.1)),
                ms=rng.choice((850, 1200, 2400, 4800, 9000)),
                n=rng.randint(3, 40),
            )
            text = self.text(pools[kind].pop())
            if kind == "note" and rng.random() < 0.05:
                text += "\n" + self.text(rng.choice(NOTES)) + "\nWill update in 15 minutes."
            add(at, "entry", (kind, text))

    # Living through the events up to the end date.
    def play(self) -> None:
        rng, end = self.rng, self.end
        sev_names = {n: f"SEV-{n}" for n in range(1, 5)}
        fm: dict[str, Any] = {
            "status": "triage",
            "severity": sev_names[self.initial],
            "commander": self.commander,
            "roles": {},
            "acknowledged_at": None,
            "mitigated_at": None,
            "resolved_at": None,
            "closed_at": None,
        }
        entries: list[tuple[datetime, str, str, str]] = []
        items: list[dict[str, Any]] = []
        order = ("acknowledged_at", "mitigated_at", "resolved_at", "closed_at")
        stamp_of = {
            "investigating": 0,
            "identified": 0,
            "monitoring": 1,
            "resolved": 2,
            "closed": 3,
        }
        self.pm_at: datetime | None = None
        self.pm_snapshot: dict[str, Any] | None = None
        self.written = False

        def who() -> str:
            return rng.choice(self.people)

        for at, _, what, data in self.events:
            if at > end:
                break
            if what == "open":
                text = (
                    f"Incident opened: {fm['severity']} {self.type} in {self.env}"
                    + (f" ({', '.join(self.services)})" if self.services else "")
                    + f". Commander: {self.commander}."
                )
                entries.append((at, self.opener, "opened", text))
            elif what in ("status", "reopen"):
                old = fm["status"]
                if what == "reopen":
                    fm["resolved_at"] = None
                elif data in stamp_of:
                    for key in order[: stamp_of[data] + 1]:
                        if fm[key] is None:
                            fm[key] = at
                fm["status"] = data
                note = self.text(rng.choice(MSG["reopen" if what == "reopen" else data]))
                text = f"Status {old} → {data}" + (f": {note}" if note else "")
                entries.append((at, who(), "status", text))
                if data == "resolved" and self.visibility == "public" and self.env == "production":
                    entries.append((at, who(), "public", PUBLIC["resolved"]))
            elif what == "severity":
                old, new = fm["severity"], sev_names[data]
                verb = "escalated" if data < self.initial else "downgraded"
                reason = rng.choice(
                    ("Customer impact wider than we thought", "Every region affected", "")
                    if verb == "escalated"
                    else ("Only internal users affected", "A workaround is available", "")
                )
                fm["severity"] = new
                text = f"Severity {old} → {new} ({verb})" + (f": {reason}" if reason else "")
                entries.append((at, who(), "severity", text))
            elif what == "roles":
                changes = [f"{k}={v}" for k, v in data.items() if fm["roles"].get(k) != v]
                fm["roles"] = {**fm["roles"], **data}
                entries.append((at, who(), "role", "Assigned " + ", ".join(changes)))
            elif what == "commander":
                fm["commander"] = data
                entries.append((at, who(), "role", f"Assigned commander={data}"))
            elif what == "entry":
                entries.append((at, who(), data[0], data[1]))
            elif what == "item":
                n, due, done = data
                pool = (*self.kind["items"], *MORE_ITEMS)
                title = self.text(pool[n - 1])
                owner = rng.choice((*TEAMS, *self.people))
                item = {"id": f"AI-{n}", "title": title, "owner": owner, "due": due}
                item["status"] = "open"
                items.append(item)
                text = f"Action item AI-{n} added: {title} (owner {owner}, due {due})"
                entries.append((at, who(), "action", text))
                if done is not None and done <= end:
                    item["status"] = "done"
                    entries.append((done, who(), "action", f"Action item AI-{n} done: {title}"))
                if at + timedelta(days=2) <= end and rng.random() < 0.45:
                    item["issue"] = f"{ISSUES_URL}{rng.randint(1000, 19999)}"
            elif what == "postmortem":
                self.pm_at = at
                self.pm_snapshot = {**fm, "roles": dict(fm["roles"])}
            elif what == "written":
                self.written = True
        entries.sort(key=lambda e: e[0])  # stable: equal times keep their order
        while len(entries) > MAX_ENTRIES:  # drop the latest notes beyond the bound
            last = max(n for n, e in enumerate(entries) if e[2] == "note")
            del entries[last]
        self.fm, self.entries, self.items = fm, entries, items

    # The file.
    def render(self, body: Body) -> str:
        fm = self.fm
        out = [
            "---\n",
            f"id: {self.ident}\n",
            f"title: {yaml_str(self.title)}\n",
            f"status: {fm['status']}\n",
            f"severity: {fm['severity']}\n",
            f"type: {self.type}\n",
            f"environment: {self.env}\n",
        ]
        out.append("services:\n" + "".join(f"- {yaml_str(s)}\n" for s in self.services))
        out.append(f"commander: {yaml_str(fm['commander'])}\n")
        roles = fm["roles"]
        out.append(
            "roles:\n" + "".join(f"  {k}: {yaml_str(v)}\n" for k, v in roles.items())
            if roles
            else "roles: {}\n"
        )
        out.append(f"visibility: {self.visibility}\n")
        stamps = (
            ("detected_at", self.detected),
            ("started_at", self.started),
            ("opened_at", self.opened),
            *((k, fm[k]) for k in ("acknowledged_at", "mitigated_at", "resolved_at")),
            ("closed_at", fm["closed_at"]),
        )
        out.extend(f"{k}: {ts(v) if v else 'null'}\n" for k, v in stamps)
        if self.items:
            out.append("action_items:\n")
            for item in self.items:
                out.append(f"- id: {item['id']}\n  title: {yaml_str(item['title'])}\n")
                out.append(f"  owner: {yaml_str(item['owner'])}\n  due: {item['due']}\n")
                out.append(f"  status: {item['status']}\n")
                if "issue" in item:
                    out.append(f"  issue: {item['issue']}\n")
        else:
            out.append("action_items: []\n")
        out.append("---\n\n")
        out.append(body.head.replace("{title}", self.title))
        written = self.needs_pm and self.written
        if written:
            out.append(self.written_summary())
        elif self.rng.random() < (0.8 if self.severity <= 2 else 0.5):
            out.append(self.text(self.kind["finds"][0]) + ".")
        else:
            out.append(body.todo_summary)
        out.append(body.middle)
        out.extend(line + "\n" for e in self.entries for line in entry_lines(*e))
        out.append(self.checklist(body.checklists[self.type]))
        if self.pm_at is not None:
            out.append("\n" + self.postmortem(written))
        return "".join(out)

    def checklist(self, text: str) -> str:
        """The checklist, with boxes ticked by hand in incidents that are over."""
        done = self.fm["status"] in ("resolved", "closed")
        share = (0.7 if self.severity <= 2 else 0.35) if done else 0.15
        rng = self.rng
        return "".join(
            line.replace("- [ ]", "- [x]", 1)
            if line.startswith("- [ ]") and rng.random() < share
            else line
            for line in text.splitlines(keepends=True)
        )

    def written_summary(self) -> str:
        f = self.f
        if self.fm["mitigated_at"]:
            f["mitigated"] = f"{self.fm['mitigated_at']:%H:%M} UTC"
        resolved = self.fm["resolved_at"]
        fix = self.text(self.kind["fix"]).split(";")[0].split(". ")[0].rstrip(".")
        return (
            f"On {self.opened:%B} {self.opened.day}, {self.text(self.kind['cause'])} degraded "
            f"{f['svc']}: {f['pct']}% of its requests failed for "
            f"{fmt_duration(resolved - self.opened)}. {fix}."
        )

    def postmortem(self, written: bool) -> str:
        """The post-mortem part as `incidentctl postmortem` appends it, written if so."""
        snap = self.pm_snapshot or self.fm
        rng, f = self.rng, self.f
        if snap["mitigated_at"]:
            f["mitigated"] = f"{snap['mitigated_at']:%H:%M} UTC"
        opened, detected, started = self.opened, self.detected, self.started
        ack, mit, res = snap["acknowledged_at"], snap["mitigated_at"], snap["resolved_at"]

        def since(end: datetime | None, start: datetime | None) -> str:
            return fmt_duration(end - start) if end and start else "-"

        rows = [
            ("Incident", f"{self.ident}: {cell(self.title)}"),
            ("Severity", f"{snap['severity']} ({self.type}, {self.env})"),
            ("Incident Commander", cell(snap["commander"])),
            *((cell(k), cell(v)) for k, v in snap["roles"].items()),
            ("Opened", ts(opened)),
            ("Resolved", ts(res) if res else "not yet"),
            ("Duration", since(res, started or opened)),
            ("Time to acknowledge", since(ack, opened)),
            ("Time to mitigate", since(mit, opened)),
            ("Time to resolve", since(res, opened)),
        ]
        figures = "| | |\n| --- | --- |\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
        if self.items:
            actions = "| ID | Action | Owner | Due | Status | Issue |\n"
            actions += "| --- | --- | --- | --- | --- | --- |\n"
            actions += "".join(
                f"| {i['id']} | {cell(i['title'])} | {cell(i['owner'])} | {i['due']} "
                f"| {i['status']} | {cell(i.get('issue', '-'))} |\n"
                for i in self.items
            )
        else:
            actions = ACTION_TODO.format(id=self.ident) + "\n"
        detection = ""
        if detected:
            after = f" ({fmt_duration(detected - started)} after impact started)" if started else ""
            detection = f"Detected at {ts(detected)}{after}.\n\n"

        def para(todo: str, text: str) -> str:
            return text if written else todo

        def bullets(todo: str, pool: Sequence[str], k: int) -> str:
            if not written:
                return f"- {todo}"
            return "\n".join(f"- {self.text(x)}" for x in rng.sample(pool, min(k, len(pool))))

        minutes = int((res - (started or opened)).total_seconds() // 60) if res else 0
        users = rng.choice((300, 1200, 4500, 18000, 60000))
        impact = (
            f"For {fmt_duration(timedelta(minutes=minutes))}, {f['pct']}% of requests to "
            f"{f['svc']} failed or timed out, affecting about {users:,} users"
            + (f" in {f['region']}" if rng.random() < 0.4 else "")
            + ". "
            + rng.choice(
                (
                    "No data was lost.",
                    "No data was lost; some orders had to be retried by customers.",
                    f"Support received {f['n'] * 7} tickets.",
                    "The availability SLO of the month was breached.",
                )
            )
        )
        root = self.text(self.kind["root"])
        log = self.kind["log"]
        if written and log and rng.random() < 0.5:
            root += "\n\n```text\n" + self.text(log) + "\n```"
        detect_text = rng.choice(
            (
                "An alert on the {svc} error rate paged the on-call engineer. An alert on "
                "the symptom users see would have fired a few minutes earlier.",
                "Customers reported it to support before any alert fired; we had no alert "
                "on this failure mode.",
                "A synthetic check failed twice in a row and paged. Detection was quick.",
                "An engineer noticed it on a dashboard by chance.",
            )
        )
        parts = [
            "# Post-mortem\n\n_Blameless: describe systems and decisions, not people._\n\n",
            f"<!-- incidentctl:figures -->\n{figures}<!-- /incidentctl:figures -->\n\n",
            "## Impact\n\n",
            para(
                "_TODO: users affected (how many, which), revenue impact, data loss "
                "(none, or what), SLOs breached._",
                impact,
            ),
            "\n\n## Root Cause\n\n",
            para(
                "_TODO: the root cause: the condition that made the failure possible, "
                "not the trigger alone._",
                root,
            ),
            "\n\n### Contributing factors\n\n",
            bullets("_TODO: what made it worse or slower to fix._", self.kind["factors"], 3),
            "\n\n## Detection\n\n",
            detection,
            para(
                "_TODO: how it was detected (alert, customer report, by chance), and how "
                "we could have known sooner._",
                self.text(detect_text),
            ),
            "\n\n## Resolution\n\n",
            para(
                "_TODO: what mitigated it, what fixed it, and how recovery was verified._",
                self.text(self.kind["fix"]),
            ),
            "\n\n## Action Items\n\n",
            f"<!-- incidentctl:action-items -->\n{actions}<!-- /incidentctl:action-items -->",
            "\n\n## What Went Well\n\n",
            bullets("_TODO_", WELL, rng.randint(1, 3)),
            "\n\n## What Went Wrong\n\n",
            bullets("_TODO_", WRONG, rng.randint(1, 3)),
            "\n\n## Lessons Learned\n\n",
            bullets("_TODO_", LESSONS, rng.randint(1, 2)),
            "\n",
        ]
        return "".join(parts)


# -- the repository -------------------------------------------------------------------


def opening_times(rng: random.Random, n: int, end: datetime) -> list[datetime]:
    """N opening times over the YEARS before `end`: more in later months, fewer at
    weekends and at night; sorted, distinct to the second."""
    span = YEARS * 365 * 86400
    start = end - timedelta(seconds=span)
    out: set[datetime] = set()
    while len(out) < n:
        x = math.sqrt(1 + 3 * rng.random()) - 1  # density grows 1 -> 2 over the span
        day = start + timedelta(days=int(x * YEARS * 365))
        if day.weekday() >= 5 and rng.random() < 0.45:
            continue
        if rng.random() < 0.65:
            second = int(rng.triangular(7, 20, 13) * 3600)
        else:
            second = rng.randrange(86400)
        when = day + timedelta(seconds=second)
        if when < end - timedelta(minutes=15):
            out.add(when)
    return sorted(out)


def generate(
    root: Path,
    n: int = 10_000,
    *,
    seed: int = 7,
    end: datetime | None = None,
    incidentctl: str | None = None,
    env: dict[str, str] | None = None,
    commit: bool = True,
    incidents_dir: str = "incidents",
) -> list[Generated]:
    """Write N incidents into the repository at `root` and commit them (one commit)."""
    if end is None:
        now = datetime.now(timezone.utc)
        end = datetime(now.year, now.month, now.day, tzinfo=timezone.utc)
    body = harvest(root, incidentctl, env) if incidentctl else Body()
    rng = random.Random(seed)
    taken: set[str] = set()
    out: list[Generated] = []
    made: set[Path] = set()
    for opened in opening_times(rng, n, end):
        while True:
            ident = f"INC-{opened:%Y%m%d}-" + "".join(rng.choices(RAND_ALPHABET, k=4))
            if ident not in taken:
                taken.add(ident)
                break
        story = Story(rng, opened, end, ident)
        story.plan()
        story.play()
        text = story.render(body)
        folder = root / incidents_dir / f"{opened:%Y}"
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        rel = f"{incidents_dir}/{opened:%Y}/{ident}-{slugify(story.title)}.md"
        data = text.encode("utf-8")
        with open(root / rel, "wb") as handle:
            handle.write(data)
        out.append(
            Generated(
                ident,
                rel,
                story.fm["status"],
                story.fm["severity"],
                story.type,
                story.fm["commander"],
                story.pm_at is not None,
                len(story.entries),
                len(story.items),
                len(data),
            )
        )
    if commit:
        git = ["git", "-c", "core.autocrlf=false"]
        subprocess.run([*git, "add", "--", incidents_dir], cwd=root, env=env, check=True)
        subprocess.run(
            [*git, "commit", "--quiet", "--no-verify", "-m", f"Add {n} generated incidents"],
            cwd=root,
            env=env,
            check=True,
        )
    return out


def describe(made: list[Generated]) -> str:
    """A few lines on the mix: statuses, severities, sizes."""
    n = len(made)

    def mix(values: list[str]) -> str:
        return ", ".join(f"{k} {100 * v / n:.1f}%" for k, v in sorted(Counter(values).items()))

    sizes = sorted(g.size for g in made)
    entries = sorted(g.entries for g in made)
    return "\n".join(
        (
            f"{n} incidents, {sum(sizes) / 1e6:.1f} MB",
            f"severity: {mix([g.severity for g in made])}",
            f"status: {mix([g.status for g in made])}",
            f"type: {mix([g.type for g in made])}",
            f"post-mortems: {sum(g.postmortem for g in made)}; "
            f"action items: {sum(g.action_items for g in made)}",
            f"timeline entries: min {entries[0]}, median {entries[n // 2]}, max {entries[-1]}",
            f"file size: min {sizes[0]} B, median {sizes[n // 2]} B, max {sizes[-1]} B",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="incident repository (made if missing)")
    parser.add_argument("--incidents", "-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        help="last day (exclusive) of the three years, YYYY-MM-DD (default: today UTC)",
    )
    parser.add_argument(
        "--incidentctl",
        default=shutil.which("incidentctl"),
        help="incidentctl executable: `init` for a new folder, the body templates, --check "
        "(default: the one on PATH; without one the default templates' text is used)",
    )
    parser.add_argument("--no-commit", action="store_true", help="write the files only")
    parser.add_argument("--check", action="store_true", help="run `incidentctl check` after")
    args = parser.parse_args(argv)
    root: Path = args.repo
    end = (
        datetime(args.end.year, args.end.month, args.end.day, tzinfo=timezone.utc)
        if args.end
        else None
    )
    if not (root / ".git").exists():
        if not args.incidentctl:
            parser.error(f"{root} is not a git repository and no incidentctl was found")
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([args.incidentctl, "init"], cwd=root, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run(["git", "commit", "-q", "-m", "Set up incidentctl"], cwd=root, check=True)
    t0 = time.perf_counter()
    made = generate(
        root,
        args.incidents,
        seed=args.seed,
        end=end,
        incidentctl=args.incidentctl,
        commit=not args.no_commit,
    )
    print(describe(made))
    print(f"generated in {time.perf_counter() - t0:.1f} s")
    if args.check:
        if not args.incidentctl:
            parser.error("--check needs incidentctl")
        t0 = time.perf_counter()
        result = subprocess.run([args.incidentctl, "check"], cwd=root, check=False)
        print(f"incidentctl check exited {result.returncode} in {time.perf_counter() - t0:.1f} s")
        return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
