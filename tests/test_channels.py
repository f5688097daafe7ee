"""The notification channels end to end, each against a local stand-in of its service.

Secrets are distinctive canaries; every string a channel produces (Delivery details,
previews, reprs, error messages, log records, output) is searched for them.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comms_servers as cs
import pytest

from incidentctl.comms.channels import blockkit
from incidentctl.comms.channels.base import Channel, ChannelError, Delivery, Message, make
from incidentctl.comms.channels.pagerduty import PagerDuty as PagerDutyChannel
from incidentctl.comms.channels.slackapi import SlackApp, war_room_name
from incidentctl.comms.channels.webhook import SignedWebhook

SLACK_HOOK = "CANARYslackHOOKtoken0123"
SLACK_BOT = "xoxb-CANARY-bot-token-0123456789"
TEAMS_SIG = "CANARYteamsSIG0123456789abcdefghij"
MM_KEY = "CANARYmattermostKEY012345"
DISCORD_TOKEN = "CANARYdiscordTOKEN0123456789abcdef"
HOOK_SECRET = "CANARYhmacSECRET0123456789abcdef"
PD_KEY = "CANARYpdKEY0123456789abcdefghijk"
SMTP_PASSWORD = "CANARY-smtp-pass-0123456789"
CANARIES = (
    *(SLACK_HOOK, SLACK_BOT, TEAMS_SIG, MM_KEY, DISCORD_TOKEN, HOOK_SECRET, PD_KEY),
    *(SMTP_PASSWORD, "CANARY"),  # "CANARY": any part of any of them
)

HOSTILE = (
    "Outage <script>alert(1)</script> @everyone <!channel> <@U0123ABCD> "
    "[click](https://evil.example/x) ![img](https://evil.example/i.png) "
    "{{DATE(2017-02-14T06:08:39Z, SHORT)}}\r\nBcc: victim@example.com\u202e"
)


def message(**changes: Any) -> Message:
    base: dict[str, Any] = {
        "incident_id": "INC-20261207-ja55",
        "stage": "initial",
        "title": "Checkout API returning 500s",
        "severity": "SEV-1",
        "status": "investigating",
        "text": "Error rate 52% on checkout.\nRolling back deploy 4411 & watching.",
        "fields": {
            "Affected": "checkout, payments",
            "Status": "investigating",
            "Being done": "rolling back deploy 4411",
            "Next update": "15:30Z",
            "Incident": "https://incidents.example.com/INC-20261207-ja55",
        },
        "url": "https://incidents.example.com/INC-20261207-ja55",
        "recipients": ("oncall@example.com", "cto@example.com"),
    }
    return Message(**(base | changes))


@pytest.fixture
def seen(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[list[str]]:
    """Strings the test saw; at the end none of them, no log record and no output holds a
    secret."""
    caplog.set_level(logging.DEBUG)
    strings: list[str] = []
    yield strings
    out, err = capfd.readouterr()
    everything = [*strings, caplog.text, out, err]
    for text in everything:
        for canary in CANARIES:
            assert canary not in text, f"a secret leaked: {text[:300]!r}"


def see(seen: list[str], *things: Any) -> None:
    for thing in things:
        if isinstance(thing, Delivery):
            seen.extend([thing.detail, repr(thing), str(thing.external_id), str(thing.url)])
        else:
            seen.extend([str(thing), repr(thing)])


def strings(value: Any) -> list[str]:
    """Every string inside a JSON document, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> cs.Certificates:
    return cs.make_certificates(tmp_path_factory.mktemp("tls"))


# --------------------------------------------------------------------------- Slack webhook


@pytest.fixture
def slack() -> Iterator[cs.SlackWebhook]:
    with cs.SlackWebhook(SLACK_HOOK) as server:
        yield server


def slack_channel(server: cs.SlackWebhook) -> Channel:
    return make("ops-slack", {"type": "slack", "url_env": "HOOK"}, {"HOOK": server.webhook_url})


def test_slack_webhook_posts_block_kit(slack: cs.SlackWebhook, seen: list[str]) -> None:
    """A message reaches the webhook as Block Kit with a fallback text, and says so."""
    channel = slack_channel(slack)
    delivery = channel.send(message(), timeout=5)
    see(seen, delivery, channel)
    assert delivery.ok and delivery.detail == "posted to Slack" and delivery.status == 200
    [body] = slack.messages
    assert body["blocks"][0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "SEV-1 INC-20261207-ja55: Checkout API returning 500s",
            "emoji": False,
        },
    }
    assert body["text"].startswith("SEV-1 INC-20261207-ja55 opened: Checkout API returning 500s")
    assert "&amp; watching" in body["text"] and body["unfurl_links"] is False
    cells = [f["text"] for f in body["blocks"][2]["fields"]]
    assert cells[0] == "*Affected*\ncheckout, payments"
    assert "<https://incidents.example.com/INC-20261207-ja55|INC-20261207-ja55>" in json.dumps(
        body["blocks"][1]
    )


def test_slack_preview_is_the_payload_sent(slack: cs.SlackWebhook, seen: list[str]) -> None:
    """--dry-run shows the exact JSON that is posted, and the URL only as scheme and host."""
    channel = slack_channel(slack)
    preview = channel.preview(message())
    see(seen, preview)
    first, _, rest = preview.partition("\n")
    assert first == f"POST http://127.0.0.1:{slack.url.rsplit(':', 1)[1]}/***"
    channel.send(message(), timeout=5)
    assert json.loads(rest.split("\n\n", 1)[1]) == slack.last.json()


def test_slack_limits_hold_for_huge_messages(slack: cs.SlackWebhook, seen: list[str]) -> None:
    """A 10,000-character summary, 80 alert names and a 500-character title still fit
    Slack's limits, and Slack (the stand-in) accepts the message."""
    alerts = {f"alert {i}": f"HighErrorRate on node-{i} " * 3 for i in range(80)}
    huge = message(title="t" * 500, text=("x" * 99 + "\n") * 100, fields=alerts)
    delivery = slack_channel(slack).send(huge, timeout=5)
    see(seen, delivery)
    assert delivery.ok, delivery.detail
    blocks = slack.last.json()["blocks"]
    assert len(blocks) <= 50 and len(blocks[0]["text"]["text"]) <= 150
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    assert len(slack.last.json()["text"]) < 4000


def test_slack_blocks_are_capped_at_fifty_with_a_note() -> None:
    """Text that escapes to more than 50 sections is cut to 49 blocks and a note."""
    blocks = blockkit.blocks(message(text=("&<>" * 999 + "\n") * 60))
    assert len(blocks) == 50 and cs.block_problem(blocks) is None
    assert "more sections are not shown" in blocks[-1]["elements"][0]["text"]


@pytest.mark.parametrize(
    ("state", "status", "retry", "words"),
    [
        ("archived", 410, False, "channel_is_archived"),
        ("deleted", 404, False, "channel_not_found"),
        ("prohibited", 403, False, "action_prohibited"),
    ],
)
def test_slack_refusals_are_not_retried(
    slack: cs.SlackWebhook, seen: list[str], state: str, status: int, retry: bool, words: str
) -> None:
    """Slack's 4xx text errors are reported with what they mean and are not retried."""
    slack.state = state
    delivery = slack_channel(slack).send(message(), timeout=5)
    see(seen, delivery)
    assert (delivery.ok, delivery.status, delivery.retry) == (False, status, retry)
    assert words in delivery.detail


@pytest.mark.parametrize(
    ("status", "body", "headers", "retry"),
    [
        (500, "rollup_error", {}, True),
        (503, "<html>busy</html>", {}, True),
        (429, "rate_limited", {"Retry-After": "30"}, True),
        (400, "invalid_payload", {}, False),
    ],
)
def test_slack_failures_say_whether_to_retry(
    slack: cs.SlackWebhook, seen: list[str], status: int, body: str, headers: Any, retry: bool
) -> None:
    """5xx and 429 are worth another try (429 with Slack's Retry-After); 400 is not."""
    slack.fail(status, body, headers=headers)
    delivery = slack_channel(slack).send(message(), timeout=5)
    see(seen, delivery)
    assert (delivery.ok, delivery.retry, delivery.status) == (False, retry, status)
    assert delivery.retry_after == (30.0 if status == 429 else None)
    assert "<html>" not in delivery.detail


def test_slack_timeout_hang_drip_and_closed_port(slack: cs.SlackWebhook, seen: list[str]) -> None:
    """A server that hangs, or drips its answer, costs the timeout given, not more; a
    closed port is refused; all are worth a retry."""
    channel = slack_channel(slack)
    slack.hang(3)
    started = time.monotonic()
    late = channel.send(message(), timeout=0.4)
    assert time.monotonic() - started < 1.5
    assert (late.ok, late.retry) == (False, True) and "within 0.4 s" in late.detail
    slack.trickle(0.05)  # each read is quick, the whole answer would take 10 s
    started = time.monotonic()
    dripped = channel.send(message(), timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert (dripped.ok, dripped.retry) == (False, True) and "within 0.5 s" in dripped.detail
    slack.refuse()
    refused = channel.send(message(), timeout=2)
    see(seen, late, dripped, refused)
    assert refused.retry and "refused the connection" in refused.detail


def test_slack_redirect_is_not_followed(slack: cs.SlackWebhook, seen: list[str]) -> None:
    """A 302 to another host is not followed: the other host gets nothing."""
    with cs.SlackWebhook("other0token0abcdefghij") as other:
        slack.fail(302, "", headers={"Location": other.webhook_url})
        delivery = slack_channel(slack).send(message(), timeout=5)
        see(seen, delivery)
        assert not delivery.ok and not delivery.retry and other.received == []


# --------------------------------------------------------------------------- Slack Web API


@pytest.fixture
def api() -> Iterator[cs.SlackApi]:
    with cs.SlackApi(SLACK_BOT) as server:
        server.add_channel("incidents")
        yield server


def app(api: cs.SlackApi, **extra: Any) -> SlackApp:
    table = {"type": "slack-api", "token_env": "BOT", "api_url": api.api_url, **extra}
    channel = make("slack-app", {"channel": "incidents", **table}, {"BOT": SLACK_BOT})
    assert isinstance(channel, SlackApp)
    return channel


def test_slack_api_posts_with_the_bot_token(api: cs.SlackApi, seen: list[str]) -> None:
    """chat.postMessage carries the bot token and the blocks; the Delivery has the ts and
    the channel's URL."""
    delivery = app(api).send(message(), timeout=5)
    see(seen, delivery, app(api).preview(message()))
    assert delivery.ok, delivery.detail
    request = api.last
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {SLACK_BOT}"
    assert request.params()["channel"] == "incidents"
    assert delivery.external_id == api.channel("incidents").messages[0]["ts"]
    cid = api.channel("incidents").id
    assert delivery.url == f"https://app.slack.com/client/T0TEAM0001/{cid}"


@pytest.mark.parametrize(
    ("setup", "retry", "words"),
    [
        (lambda a: a.channels.clear(), False, "channel_not_found"),
        (lambda a: a.add_channel("elsewhere", bot_member=False), False, "not_in_channel"),
        (lambda a: setattr(a, "token", "xoxb-another"), False, "invalid_auth"),
        (lambda a: a.scopes.discard("chat:write"), False, "lacks the chat:write scope"),
        (
            lambda a: a.fail(
                429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "7"}
            ),
            True,
            "ratelimited",
        ),
        (lambda a: a.fail(500, "oops"), True, "Slack chat.postMessage failed"),
    ],
)
def test_slack_api_errors(
    api: cs.SlackApi, seen: list[str], setup: Any, retry: bool, words: str
) -> None:
    """Web API errors are named with a hint; only rate limits and 5xx are retried."""
    setup(api)
    channel = app(api, channel="elsewhere") if "not_in" in words else app(api)
    delivery = channel.send(message(), timeout=5)
    see(seen, delivery)
    assert (delivery.ok, delivery.retry) == (False, retry) and words in delivery.detail
    if "ratelimited" in words:
        assert delivery.retry_after == 7.0


def test_war_room_is_made_named_invited_and_briefed(api: cs.SlackApi, seen: list[str]) -> None:
    """open_war_room creates inc-<id>-<slug> (taking -3 when two names are taken), invites
    members by email, by name and by ID, posts the summary and returns name and URL."""
    base = war_room_name(message())
    assert base == "inc-20261207-ja55-checkout-api-returning-500s"
    api.add_channel(base)
    api.add_channel(base + "-2")
    alice, carol = api.add_user("alice@example.com"), api.add_user("carol@example.com")
    dave = api.add_user("dave@example.com")
    channel = app(api, users={"carol": carol})
    members = ["alice@example.com", "@carol", dave, "nobody@example.com"]
    delivery = channel.open_war_room(message(), members, timeout=5)
    see(seen, delivery, channel.preview_war_room(message(), members))
    assert delivery.ok, delivery.detail
    room = api.channel(base + "-3")
    assert delivery.name == f"#{base}-3" and delivery.external_id == room.id
    assert delivery.url == f"https://app.slack.com/client/T0TEAM0001/{room.id}"
    assert set(room.members) == {api.bot, alice, carol, dave}
    assert room.messages[0]["blocks"][0]["type"] == "header"
    assert "3 of 4 members invited" in delivery.detail and "nobody@example.com" in delivery.detail
    lookups = [r.params()["email"] for r in api.received if r.path.endswith("lookupByEmail")]
    assert lookups == ["alice@example.com", "nobody@example.com"]


def test_war_room_without_a_team_id_uses_the_permalink(api: cs.SlackApi) -> None:
    """When Slack's answers carry no workspace ID, the URL is chat.getPermalink's."""
    api.expose_team = False
    delivery = app(api).open_war_room(message(), [], timeout=5)
    assert delivery.ok and delivery.url is not None
    assert delivery.url.startswith("https://acme.slack.com/archives/C0CHAN")


def test_war_room_needs_the_manage_scope(api: cs.SlackApi, seen: list[str]) -> None:
    """Without channels:manage the war room fails at once, naming the scope, no retry."""
    api.scopes.discard("channels:manage")
    delivery = app(api).open_war_room(message(), ["alice@example.com"], timeout=5)
    see(seen, delivery)
    assert not delivery.ok and not delivery.retry
    assert "lacks the channels:manage scope" in delivery.detail


@pytest.mark.parametrize(
    ("incident_id", "title", "number", "expected"),
    [
        ("INC-1", "DB down!", 1, "inc-1-db-down"),
        ("42", "Ünïcödé café — 東京", 1, "inc-42-unicode-cafe"),
        ("INC-9", "", 2, "inc-9-2"),
        ("INC-20261207-ja55", "word " * 40, 12, None),
    ],
)
def test_war_room_names(incident_id: str, title: str, number: int, expected: str | None) -> None:
    """Names are lowercase letters, digits and '-', at most 80 characters, suffix kept."""
    name = war_room_name(message(incident_id=incident_id, title=title), number)
    assert re.fullmatch(r"[a-z0-9_-]{1,80}", name) and not name.endswith("-")
    if expected:
        assert name == expected
    if number > 1:
        assert name.endswith(f"-{number}")


def test_slack_api_never_follows_a_redirect_with_the_token(
    api: cs.SlackApi, seen: list[str]
) -> None:
    """A 307 to another host does not carry the bot token there (nothing reaches it)."""
    with cs.SlackApi("xoxb-other") as other:
        api.fail(307, "", headers={"Location": other.api_url + "chat.postMessage"})
        delivery = app(api).send(message(), timeout=5)
        see(seen, delivery)
        assert not delivery.ok and not delivery.retry and other.received == []


# --------------------------------------------------------------------------- Teams


def test_teams_posts_an_adaptive_card(seen: list[str]) -> None:
    """The workflow gets a message with one Adaptive Card 1.4 (checked by the stand-in)."""
    with cs.Teams(TEAMS_SIG) as teams:
        env = {"TEAMS": teams.webhook_url}
        channel = make("ops-teams", {"type": "teams", "url_env": "TEAMS"}, env)
        delivery = channel.send(message(text="y" * 40_000), timeout=5)
        wide = channel.send(message(fields={f"f{i}": "東京" * 900 for i in range(20)}), timeout=5)
        assert wide.ok, wide.detail
        see(seen, delivery, channel.preview(message()))
        assert delivery.ok and delivery.status == 202, delivery.detail
        card = teams.cards[0]
        assert card["version"] == "1.4" and card["type"] == "AdaptiveCard"
        assert card["actions"][0]["url"] == "https://incidents.example.com/INC-20261207-ja55"
        assert all(len(r.raw) <= 28 * 1024 for r in teams.received)
        teams.sig = "rotated"
        refused = channel.send(message(), timeout=5)
        teams.fail(429, {"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "2"})
        limited = channel.send(message(), timeout=5)
        see(seen, refused, limited)
        assert not refused.retry and "DirectApiAuthorizationRequired" in refused.detail
        assert limited.retry and limited.retry_after == 2.0


# --------------------------------------------------------------------------- Mattermost


def test_mattermost_posts_and_maps_errors(seen: list[str]) -> None:
    """Text and an attachment reach the hook; a locked channel override is a 403."""
    with cs.Mattermost(MM_KEY) as mm:
        table = {"type": "mattermost", "url_env": "MM", "channel": "town-square"}
        channel = make("ops-mm", table, {"MM": mm.webhook_url})
        delivery = channel.send(message(), timeout=5)
        assert delivery.ok, delivery.detail
        [post] = mm.posts
        assert post["channel"] == "town-square"
        assert post["attachments"][0]["fields"][0] == {
            "short": True,
            "title": "Affected",
            "value": "checkout, payments",
        }
        mm.locked = True
        locked = channel.send(message(), timeout=5)
        see(seen, delivery, locked, channel.preview(message()))
        assert (locked.ok, locked.retry, locked.status) == (False, False, 403)
        assert "channel_locked" in locked.detail


# --------------------------------------------------------------------------- Discord


def discord_channel(server: cs.Discord, **extra: Any) -> Channel:
    table = {"type": "discord", "url_env": "DISCORD", **extra}
    return make("ops-discord", table, {"DISCORD": server.webhook_url})


def test_discord_posts_within_its_limits(seen: list[str]) -> None:
    """A huge message stays within Discord's limits (the stand-in checks them), pings
    nobody, and a 204 is success."""
    alerts = {f"alert {i}": "node down " * 150 for i in range(80)}
    huge = message(title="T" * 3000, text="z" * 10_000, fields=alerts)
    with cs.Discord(DISCORD_TOKEN) as discord:
        delivery = discord_channel(discord).send(huge, timeout=5)
        see(seen, delivery)
        assert delivery.ok and delivery.status == 204, delivery.detail
        [body] = discord.messages
        assert body["allowed_mentions"] == {"parse": []} and len(body["content"]) <= 2000
        assert len(body["embeds"][0]["fields"]) <= 25


def test_discord_wait_rate_limit_and_bad_token(seen: list[str]) -> None:
    """With wait=true the message ID comes back; 429 gives Discord's retry_after; a wrong
    token is a 401 that is not retried."""
    with cs.Discord(DISCORD_TOKEN) as discord:
        channel = discord_channel(discord, wait=True)
        posted = channel.send(message(), timeout=5)
        discord.rate_limit(0.25)
        limited = channel.send(message(), timeout=5)
        discord.token = "rotated"
        refused = channel.send(message(), timeout=5)
        see(seen, posted, limited, refused, channel.preview(message()))
    assert posted.ok and posted.external_id == "1300000000000000001"
    assert (limited.retry, limited.retry_after, limited.status) == (True, 0.25, 429)
    assert (refused.retry, refused.status) == (False, 401) and "code 50027" in refused.detail


# --------------------------------------------------------------------------- generic webhook


def test_signed_webhook_verifies_and_refuses(seen: list[str]) -> None:
    """The receiver verifies the signature as documented; a wrong secret or a clock
    5 minutes off is refused (401, not retried)."""
    with cs.SignedReceiver(HOOK_SECRET) as receiver:
        table = {"type": "webhook", "url": receiver.hook_url, "secret_env": "S"}
        channel = make("bot", table, {"S": HOOK_SECRET})
        delivery = channel.send(message(), timeout=5)
        assert delivery.ok, delivery.detail
        [document] = receiver.documents
        assert document["incident_id"] == "INC-20261207-ja55" and document["version"] == 1
        assert document["fields"]["Next update"] == "15:30Z"
        headers = receiver.last.headers
        assert headers["x-incidentctl-event"] == "initial"
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-incidentctl-delivery"])
        wrong = make("bot", table, {"S": HOOK_SECRET[::-1]}).send(message(), timeout=5)
        assert isinstance(channel, SignedWebhook)
        channel.clock = lambda: time.time() - 1000
        stale = channel.send(message(), timeout=5)
        preview = channel.preview(message())
        see(seen, delivery, wrong, stale, preview, channel)
    assert (wrong.ok, wrong.retry, wrong.status) == (False, False, 401)
    assert "signature" in wrong.detail and stale.status == 401
    assert "X-Incidentctl-Signature: v1=***" in preview


def test_tls_is_verified_and_a_ca_file_trusts_a_private_ca(
    certs: cs.Certificates, seen: list[str]
) -> None:
    """Over https the certificate is checked: unknown CA refused (not retried), ca_file
    makes it trusted."""
    with cs.SignedReceiver(HOOK_SECRET, tls=certs.server_context()) as receiver:
        table = {"type": "webhook", "url": receiver.hook_url, "secret_env": "S"}
        untrusted = make("bot", table, {"S": HOOK_SECRET}).send(message(), timeout=5)
        trusted = make("bot", table | {"ca_file": certs.ca_file}, {"S": HOOK_SECRET})
        delivery = trusted.send(message(), timeout=5)
        see(seen, untrusted, delivery)
    assert not untrusted.ok and not untrusted.retry and "set ca_file" in untrusted.detail
    assert delivery.ok, delivery.detail


# --------------------------------------------------------------------------- PagerDuty


@pytest.fixture
def pd() -> Iterator[cs.PagerDuty]:
    with cs.PagerDuty() as server:
        yield server


def pager(server: cs.PagerDuty) -> PagerDutyChannel:
    table = {"type": "pagerduty", "routing_key_env": "PD", "events_url": server.url}
    channel = make("pager", table, {"PD": PD_KEY})
    assert isinstance(channel, PagerDutyChannel)
    channel.backoff = 0.01
    return channel


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("SEV-1", "critical"), ("SEV-2", "error"), ("SEV-3", "warning"), ("SEV-4", "info")],
)
def test_pagerduty_trigger(pd: cs.PagerDuty, seen: list[str], severity: str, expected: str) -> None:
    """A page triggers one alert keyed by the incident ID, with the severity mapped and a
    summary within 1,024 characters."""
    delivery = pager(pd).send(message(stage="page", severity=severity, title="x" * 2000), timeout=5)
    see(seen, delivery)
    assert delivery.ok and delivery.status == 202 and delivery.external_id == "INC-20261207-ja55"
    [event] = pd.events
    assert event["routing_key"] == PD_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == "INC-20261207-ja55"
    payload = event["payload"]
    assert payload["severity"] == expected and payload["source"] == "incidentctl"
    assert len(payload["summary"]) == 1024 and payload["summary"].startswith(f"[{severity}] INC-")


def test_pagerduty_acknowledge_resolve_and_a_new_trigger(pd: cs.PagerDuty) -> None:
    """acknowledge and resolved stages move the same alert; a trigger after the resolve
    opens a new one (as PagerDuty does)."""
    channel = pager(pd)
    for stage in ("initial", "acknowledge", "resolved"):
        assert channel.send(message(stage=stage), timeout=5).ok
        expected = {"initial": "triggered", "acknowledge": "acknowledged"}.get(stage, "resolved")
        assert pd.alerts["INC-20261207-ja55"] == expected
    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge", "resolve"]
    assert "payload" not in pd.events[2]
    assert channel.send(message(stage="page"), timeout=5).ok and pd.opened == 2


def test_pagerduty_retries_429_then_succeeds(pd: cs.PagerDuty, seen: list[str]) -> None:
    """429 twice, then 202: the channel backs off within its time and delivers."""
    pd.throttle(times=2)
    channel = pager(pd)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    channel.sleep = sleep
    delivery = channel.send(message(), timeout=5)
    see(seen, delivery)
    assert delivery.ok and len(pd.received) == 3 and waits == [0.01, 0.02]


def test_pagerduty_400_is_reported_and_5xx_gives_up_in_time(
    pd: cs.PagerDuty, seen: list[str]
) -> None:
    """PagerDuty's 400 errors are reported, not retried; 5xx is retried until the
    timeout, then reported as worth retrying later."""
    body = {"status": "invalid event", "message": "Event object is invalid"}
    pd.fail(400, body | {"errors": ["'payload.summary' is missing or blank"]})
    refused = pager(pd).send(message(), timeout=5)
    pd.fail(502, "bad gateway", times=None)
    started = time.monotonic()
    failing = pager(pd).send(message(), timeout=0.5)
    see(seen, refused, failing)
    assert (refused.ok, refused.retry) == (False, False)
    assert "'payload.summary' is missing or blank" in refused.detail
    assert failing.retry and "tries" in failing.detail and time.monotonic() - started < 1.5


# --------------------------------------------------------------------------- email


@pytest.fixture(scope="module")
def smtp_server(certs: cs.Certificates) -> Iterator[cs.Smtp]:
    with cs.Smtp(certs, username="incidentctl", password=SMTP_PASSWORD) as server:
        yield server


@pytest.fixture
def smtp(smtp_server: cs.Smtp) -> cs.Smtp:
    smtp_server.mails.clear()
    smtp_server.refused.clear()
    smtp_server.data_reply = None
    return smtp_server


def mailer(smtp: cs.Smtp, certs: cs.Certificates, **extra: Any) -> Channel:
    table = {
        "type": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "username": "incidentctl",
        "password_env": "SMTP_PASSWORD",
        "from": "incidents@example.com",
        "ca_file": certs.ca_file,
        **extra,
    }
    return make("ops-mail", table, {"SMTP_PASSWORD": SMTP_PASSWORD})


def test_email_over_starttls_with_auth(
    smtp: cs.Smtp, certs: cs.Certificates, seen: list[str]
) -> None:
    """The mail reaches the message's recipients over STARTTLS after AUTH, with the
    subject and a plain-text body."""
    channel = mailer(smtp, certs)
    resolved = message(stage="resolved", status="resolved", text="Café: fixed — ünïcode kept.")
    delivery = channel.send(resolved, timeout=5)
    see(seen, delivery, channel.preview(message()), channel)
    assert delivery.ok and delivery.detail == "sent to 2 of 2 recipients", delivery.detail
    [mail] = smtp.mails
    assert mail.tls and mail.login == "incidentctl"
    assert mail.rcpt_tos == ["oncall@example.com", "cto@example.com"]
    parsed = mail.message
    assert parsed["Subject"] == "[SEV-1] INC-20261207-ja55 resolved: Checkout API returning 500s"
    assert parsed["Auto-Submitted"] == "auto-generated"
    body = parsed.get_content()
    assert "Affected: checkout, payments" in body and "Café: fixed — ünïcode kept." in body
    assert b"\xc3" not in mail.data  # 7-bit on the wire
    assert "Incident: https://incidents.example.com/INC-20261207-ja55" in body


def test_email_falls_back_to_to_and_reports_refusals(
    smtp: cs.Smtp, certs: cs.Certificates, seen: list[str]
) -> None:
    """Without recipients in the message `to` is used; a refused address is named while
    the others still get the mail."""
    smtp.refused["gone@example.com"] = "550 5.1.1 no such user"
    channel = mailer(smtp, certs, to=["team@example.com", "gone@example.com"])
    delivery = channel.send(message(recipients=()), timeout=5)
    see(seen, delivery)
    assert delivery.ok and "sent to 1 of 2" in delivery.detail
    assert "gone@example.com (550)" in delivery.detail
    assert smtp.mails[0].rcpt_tos == ["team@example.com"]


@pytest.mark.parametrize(
    ("change", "retry", "words"),
    [
        ("password", False, "refused the username or password"),
        ("data", True, "451"),
        ("no-ca", False, "set ca_file"),
        ("all-refused", False, "refused every recipient"),
    ],
)
def test_email_failures(
    smtp: cs.Smtp,
    certs: cs.Certificates,
    seen: list[str],
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    retry: bool,
    words: str,
) -> None:
    """A wrong password and an untrusted certificate are not retried; 451 is."""
    extra: dict[str, Any] = {}
    env = {"SMTP_PASSWORD": SMTP_PASSWORD}
    if change == "password":
        env = {"SMTP_PASSWORD": SMTP_PASSWORD + "-wrong"}
    elif change == "data":
        smtp.data_reply = "451 4.3.0 try again later"
    elif change == "all-refused":
        smtp.refused |= {a: "550 5.1.1 no such user" for a in message().recipients}
    table = {
        "type": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "username": "incidentctl",
        "password_env": "SMTP_PASSWORD",
        "from": "incidents@example.com",
        **extra,
    }
    if change != "no-ca":
        table["ca_file"] = certs.ca_file
    delivery = make("ops-mail", table, env).send(message(), timeout=5)
    see(seen, delivery)
    assert (delivery.ok, delivery.retry) == (False, retry) and words in delivery.detail
    assert SMTP_PASSWORD not in delivery.detail and smtp.mails == []


# --------------------------------------------------------------------------- untrusted text


def test_hostile_titles_are_neutralised_in_every_format(
    slack: cs.SlackWebhook, smtp: cs.Smtp, certs: cs.Certificates
) -> None:
    """<script>, @everyone, <!channel>, mentions, links, {{DATE}} and CR/LF in a title and
    summary do nothing in any format."""
    hostile = message(title=HOSTILE, text=HOSTILE, fields={"Affected": HOSTILE})
    # Slack: every mrkdwn text escaped; the header is one plain line.
    assert slack_channel(slack).send(hostile, timeout=5).ok
    body = slack.last.json()
    header = body["blocks"][0]["text"]["text"]  # plain_text: Slack parses no mention in it
    for text in strings({**body, "blocks": body["blocks"][1:]}):
        for bad in ("<!channel>", "<@U0123ABCD>", "<script>", "<https://evil"):
            assert bad not in text
    assert "\n" not in header and "\r" not in header and "\u202e" not in header
    # Mattermost: no Slack-style mention, no live @everyone, no Markdown link or image.
    with cs.Mattermost(MM_KEY) as mm:
        make("mm", {"type": "mattermost", "url_env": "M"}, {"M": mm.webhook_url}).send(hostile)
        post = "\n".join(strings(mm.posts[0]))
        assert "<!channel>" not in post and "@everyone" not in post
        assert "](https://evil" not in post and "\\[click\\]" in post
    # Discord: mentions parse nothing, and are not even shown as live.
    with cs.Discord(DISCORD_TOKEN) as discord:
        discord_channel(discord).send(hostile)
        sent = discord.messages[0]
        assert sent["allowed_mentions"] == {"parse": []}
        shown = "\n".join(strings(sent))
        assert "@everyone" not in shown and "<@U0123ABCD>" not in shown
    # Teams: text only in TextRuns (no Markdown), {{DATE()}} broken up.
    with cs.Teams(TEAMS_SIG) as teams:
        make("t", {"type": "teams", "url_env": "T"}, {"T": teams.webhook_url}).send(hostile)
        assert "TextBlock" not in strings(teams.cards[0])
        assert not any("{{DATE" in text for text in strings(teams.cards[0]))
    # Email: one Subject line, no header added from the title.
    assert mailer(smtp, certs).send(hostile, timeout=5).ok
    parsed = smtp.mails[0].message
    assert parsed["Bcc"] is None and "\n" not in str(parsed["Subject"])
    assert smtp.mails[0].rcpt_tos == ["oncall@example.com", "cto@example.com"]
    # PagerDuty and the generic webhook: plain strings without CR/LF or bidi controls.
    with cs.PagerDuty() as pd:
        pager(pd).send(hostile)
        summary = pd.events[0]["payload"]["summary"]
        assert not set(summary) & {"\r", "\n", "\u202e"}
    with cs.SignedReceiver(HOOK_SECRET) as receiver:
        table = {"type": "webhook", "url": receiver.hook_url, "secret_env": "S"}
        make("bot", table, {"S": HOOK_SECRET}).send(hostile)
        title = receiver.documents[0]["title"]
        assert not set(title) & {"\r", "\n", "\u202e"} and "<script>" in title


# --------------------------------------------------------------------------- configuration


SECRET_FILE_CONTENT = "https://hooks.slack.com/services/T0/B0/CANARYfromAfile0123"


@pytest.mark.parametrize(
    ("table", "env", "words"),
    [
        (
            {"type": "slack", "url_env": "NOPE"},
            {},
            "environment variable NOPE (url_env) is not set",
        ),
        ({"type": "slack", "url": SECRET_FILE_CONTENT}, {}, "do not write the webhook URL"),
        ({"type": "slack-api", "token": SLACK_BOT}, {}, "set token_env"),
        (
            {
                "type": "email",
                "host": "h",
                "from": "a@b.c",
                "username": "u",
                "password": SMTP_PASSWORD,
            },
            {},
            "password_file",
        ),
        ({"type": "pagerduty", "routing_key": PD_KEY}, {}, "routing_key_env"),
        (
            {"type": "pagerduty", "routing_key_env": "K"},
            {"K": "CANARYshort"},
            "32 letters and digits",
        ),
        ({"type": "carrier-pigeon"}, {}, "unknown type 'carrier-pigeon'"),
        ({}, {}, "set type"),
        ({"type": "slack", "url_env": "U"}, {"U": "ftp://CANARY.example/x"}, "scheme 'ftp'"),
        ({"type": "slack", "url_env": "U"}, {"U": "http://hooks.example/CANARY"}, "must use https"),
        ({"type": "slack", "url_env": "U"}, {"U": "CANARYnot-a-url"}, "is not an https URL"),
        (
            {"type": "pagerduty", "routing_key_env": "K", "events_url": "file:///etc/passwd"},
            {"K": PD_KEY},
            "not an https URL",
        ),
        (
            {"type": "slack", "url_env": "U", "chanel": "x"},
            {"U": "https://h.example/CANARY"},
            "unknown key 'chanel'",
        ),
        ({"type": "slack", "url_env": "U", "url_file": "/x"}, {}, "not both"),
        ({"type": "slack", "url_file": "/nonexistent/CANARY"}, {}, "No such file"),
        (
            {"type": "teams", "url_env": "U", "token": "x"},
            {"U": "https://h.example/CANARY"},
            "never written",
        ),
        (
            {"type": "webhook", "url": "https://h.example/", "secret_env": "S"},
            {"S": "CANARY"},
            "at least 16",
        ),
        (
            {
                "type": "email",
                "host": "smtp.example.com",
                "from": "a@b.c",
                "username": "u",
                "password_env": "P",
                "starttls": False,
            },
            {"P": "CANARYpw"},
            "only sent over TLS",
        ),
        (
            {"type": "discord", "url_env": "U", "wait": "yes"},
            {"U": "https://h.example/CANARY"},
            "wait must be true or false",
        ),
    ],
)
def test_misconfiguration_is_one_line_naming_the_channel(
    table: dict[str, Any], env: dict[str, str], words: str
) -> None:
    """Every mistake is one line that names the channel and what to set, and repeats no
    secret."""
    with pytest.raises(ChannelError) as caught:
        make("ops", table, env)
    text = str(caught.value)
    assert "\n" not in text and text.startswith("channel 'ops'") and words in text, text
    assert not any(c in text for c in CANARIES if c != "CANARY") and "CANARY." not in text
    assert "CANARYnot" not in text and "CANARYshort" not in text and "CANARYpw" not in text


def test_secrets_come_from_files_too(slack: cs.SlackWebhook, tmp_path: Path) -> None:
    """url_file reads the URL from a file (trailing newline ignored)."""
    path = tmp_path / "hook"
    path.write_text(slack.webhook_url + "\n")
    channel = make("ops", {"type": "slack", "url_file": str(path)}, {})
    assert channel.send(message(), timeout=5).ok
    assert SLACK_HOOK not in repr(channel.__dict__) and SLACK_HOOK not in channel.preview(message())


def test_every_preview_and_repr_masks_secrets(
    slack: cs.SlackWebhook, api: cs.SlackApi, smtp: cs.Smtp, certs: cs.Certificates, seen: list[str]
) -> None:
    """Each type's --dry-run output is its request with every secret as ***."""
    channels = [
        slack_channel(slack),
        app(api),
        make("t", {"type": "teams", "url_env": "T"}, {"T": f"https://x.example/w?sig={TEAMS_SIG}"}),
        make(
            "m", {"type": "mattermost", "url_env": "M"}, {"M": f"https://x.example/hooks/{MM_KEY}"}
        ),
        make(
            "d",
            {"type": "discord", "url_env": "D"},
            {"D": f"https://x.example/api/webhooks/1/{DISCORD_TOKEN}"},
        ),
        make(
            "w",
            {"type": "webhook", "url_env": "W", "secret_env": "S"},
            {"W": f"https://x.example/{HOOK_SECRET}", "S": HOOK_SECRET},
        ),
        make("p", {"type": "pagerduty", "routing_key_env": "K"}, {"K": PD_KEY}),
        mailer(smtp, certs),
    ]
    for channel in channels:
        preview = channel.preview(message())
        see(seen, preview, channel, vars(channel))
        assert "***" in preview and preview.split(" ", 1)[0] in ("POST", "SMTP"), preview[:80]
    assert "RCPT TO:<oncall@example.com>" in channels[-1].preview(message())


def test_message_validates_stage_and_severity() -> None:
    """A Message with an unknown stage or severity is a bug in the caller: ValueError."""
    with pytest.raises(ValueError, match="stage"):
        message(stage="panic")
    with pytest.raises(ValueError, match="severity"):
        message(severity="SEV-0")
    assert message(dedup_key="custom").key == "custom" and message().key == "INC-20261207-ja55"


def test_secrets_print_as_stars_and_are_scrubbed_in_every_form() -> None:
    """A Secret never prints its value; scrub() masks the URL, its token part and its
    URL-quoted form, and leaves text alone for a value too short to search for."""
    from incidentctl.comms.channels.model import Secret, scrub

    url = "https://hooks.example.com/services/T0/B0/CANARYtokenPART0123"
    secret = Secret(url, "url_env HOOK")
    assert str(secret) == "***" and repr(secret) == "Secret('url_env HOOK')"
    text = f"{url} / CANARYtokenPART0123 / {url.replace(':', '%3A').replace('/', '%2F')}"
    assert scrub(text, [secret]) == "*** / *** / ***"
    assert scrub("operations", [Secret("ops", "username_env U")]) == "operations"
