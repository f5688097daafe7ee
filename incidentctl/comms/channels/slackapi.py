"""`slack-api`: a Slack app's bot token: messages by chat.postMessage, and war rooms.

```toml
[channels.slack-app]
type = "slack-api"
token_env = "SLACK_BOT_TOKEN"        # or token_file; an xoxb- bot token
channel = "C0123456789"              # where send() posts (an ID, or a name the app is in)
users = {alice = "U0123ABCD"}        # optional: war-room members by name
team_id = "T0123ABCD"                # optional: for https://app.slack.com/client/<team>/<channel>
private = false                      # war rooms as private channels (scope groups:write)
api_url = "https://slack.com/api/"   # optional: Enterprise, or a test's server
```

A war room (`open_war_room`) is `conversations.create` with the name `inc-<id>-<slug>`
(lowercase letters, digits, `-`, `_`, at most 80 characters; `-2`, `-3`… when the name
is taken), members from `users.lookupByEmail` or the `users` table, then
`conversations.invite`, then the summary. Scopes: `chat:write`, `channels:manage`
(`groups:write` for private rooms), `users:read.email`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import blockkit
from . import text as t
from .config import Table
from .model import Channel, Delivery, Message, Secret, request_preview, retryable
from .transport import Unreachable, context, seconds

if TYPE_CHECKING:
    from .slacksdk import Web

DEFAULT_API = "https://slack.com/api/"
MAX_NAME = 80
MAX_SUFFIX = 20  # conversations.create tries `name`, `name-2` … `name-20`
_ID = re.compile(r"[A-Z0-9]{2,32}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_CODE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_CHANNEL = re.compile(r"#?[a-z0-9_-]{1,80}|[CG][A-Z0-9]{2,31}")
RETRY_CODES = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
HINTS = {
    "not_authed": "no token reached Slack; check token_env/token_file",
    "invalid_auth": "Slack rejected the token; check token_env/token_file",
    "token_revoked": "the token was revoked; reinstall the app and update the token",
    "token_expired": "the token expired; update the token",
    "account_inactive": "the app or its user was deactivated",
    "not_allowed_token_type": "this needs a bot token (xoxb-)",
    "channel_not_found": "the channel does not exist or the app cannot see it; check channel",
    "not_in_channel": "the app is not in the channel; invite it (/invite @app)",
    "is_archived": "the channel is archived",
    "msg_too_long": "the message is too long",
    "invalid_blocks": "Slack refused the message's blocks",
    "restricted_action": "a workspace setting forbids the app to do this",
    "name_taken": "every name tried is taken",
    "invalid_name": "Slack refused the channel name",
    "invalid_name_specials": "the channel name has characters Slack does not allow",
    "invalid_name_maxlength": "the channel name is longer than 80 characters",
    "invalid_name_required": "the channel name is empty",
    "invalid_name_punctuation": "the channel name is only punctuation",
    "ratelimited": "rate limited",
}


class _Failure(Exception):
    """One Web API call that failed: Slack's error code, or no answer."""

    def __init__(self, method: str, code: str, *, retry: bool, **extra: Any) -> None:
        super().__init__(code)
        self.method, self.code, self.retry, self.extra = method, code, retry, extra


def war_room_name(message: Message, number: int = 1) -> str:
    """`inc-<id>-<title>`, `…-2` for the second try; lowercase, digits, `-`; ≤ 80."""
    ident = t.slug(message.incident_id, 40) or "incident"
    base = ident if ident.startswith("inc-") else f"inc-{ident}"
    title = t.slug(message.title, MAX_NAME)
    name = f"{base}-{title}"[:MAX_NAME].rstrip("-") if title else base
    if number == 1:
        return name
    suffix = f"-{number}"
    return name[: MAX_NAME - len(suffix)].rstrip("-") + suffix


class SlackApp(Channel):
    """A Slack app acting with its bot token through slack-sdk's WebClient."""

    type = "slack-api"

    def __init__(
        self,
        name: str,
        token: Secret,
        *,
        channel: str | None = None,
        api_url: str = DEFAULT_API,
        users: dict[str, str] | None = None,
        team_id: str | None = None,
        private: bool = False,
        ca_file: str | None = None,
    ) -> None:
        super().__init__(name, [token])
        self._token = token
        self.channel = channel
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.users = dict(users or {})
        self.team_id = team_id
        self.private = private
        self._ctx = context(ca_file)

    @classmethod
    def from_table(cls, table: Table) -> SlackApp:
        token = table.secret("token", what="bot token")
        assert token is not None
        channel = table.text("channel", limit=81)
        if channel is not None and not _CHANNEL.fullmatch(channel):
            raise table.error("channel must be a channel ID (C0123…) or a lowercase name")
        api_url = table.url("api_url", DEFAULT_API) or DEFAULT_API
        users = table.mapping("users")
        if bad := sorted(k for k, v in users.items() if not _USER_ID.fullmatch(v)):
            raise table.error(f"users: {bad[0]!r} is not mapped to a user ID (U0123…)")
        team_id = table.text("team_id", limit=32)
        if team_id is not None and not _ID.fullmatch(team_id):
            raise table.error("team_id must be a workspace ID (T0123…)")
        private, ca_file = table.flag("private", False), table.path("ca_file")
        table.finish()
        return cls(
            table.name,
            token,
            channel=channel,
            api_url=api_url,
            users=users,
            team_id=team_id,
            private=private,
            ca_file=ca_file,
        )

    # -- sending ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer ***", "Content-Type": "application/json;charset=utf-8"}

    def preview(self, message: Message) -> str:
        body = {"channel": self.channel or "(set channel)", **blockkit.payload(message)}
        url = self.api_url + "chat.postMessage"
        return self._safe_preview(request_preview("POST", url, self._headers(), body))

    def preview_war_room(self, message: Message, members: Sequence[str]) -> str:
        """The calls `open_war_room` would make, in order."""
        create = {"name": war_room_name(message), "is_private": self.private}
        lookups = [m for m in members if not self._known(m) and "@" in m]
        lines = [request_preview("POST", self.api_url + "conversations.create", {}, create)]
        lines += [f"GET {self.api_url}users.lookupByEmail?email={m}" for m in lookups]
        lines.append(f"POST {self.api_url}conversations.invite  # {len(members)} members")
        post = {"channel": "(the new channel)", **blockkit.payload(message)}
        lines.append(request_preview("POST", self.api_url + "chat.postMessage", {}, post))
        return self._safe_preview("\n\n".join(lines))

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        if not self.channel:
            return self._failed("no channel to post to; set channel", retry=False)
        client = self._client(timeout)
        try:
            posted = self._post(client, self.channel, message)
        except _Failure as failure:
            return self._failure(failure)
        cid = str(posted.get("channel", ""))
        team = self.team_id or _team(posted.get("message"))
        return self._done(
            f"posted to Slack channel {self.channel}",
            external_id=str(posted.get("ts", "")) or None,
            url=_channel_url(team, cid),
        )

    def open_war_room(
        self, message: Message, members: Sequence[str], *, timeout: float = 30.0
    ) -> Delivery:
        """Make the incident's channel, invite `members` (emails, names, user IDs), post."""
        client = self._client(timeout)
        try:
            channel = self._create(client, message)
        except _Failure as failure:
            return self._failure(failure)
        cid, name = str(channel.get("id", "")), f"#{channel.get('name', '')}"
        ids, missing = self._member_ids(client, members)
        invite = self._invite(client, cid, ids)
        notes = [f"{len(ids)} of {len(members)} members invited"]
        if missing:
            notes.append("not found: " + ", ".join(t.clip(t.clean(m), 60) for m in missing[:5]))
        if invite:
            notes.append(f"conversations.invite failed: {invite}")
        try:
            posted = self._post(client, cid, message)
        except _Failure as failure:
            summary = self._failure(failure).detail
            return self._failed(
                f"war room {name} made, but the summary was not posted: {summary}",
                retry=False,
                external_id=cid,
                name=name,
                url=_channel_url(self.team_id or _team(channel), cid),
            )
        url = self._room_url(client, channel, posted)
        return self._done(
            f"war room {name} opened; " + "; ".join(notes), external_id=cid, url=url, name=name
        )

    # -- the calls --------------------------------------------------------------------

    def _client(self, timeout: float) -> Web:
        from .slacksdk import Web

        client = Web(self._token.reveal(), self.api_url, ctx=self._ctx)
        client.deadline = time.monotonic() + timeout
        return client

    def _call(self, method: str, call: Callable[..., Any], **args: Any) -> dict[str, Any]:
        """`call(**args)`, one of the client's methods; a failure raised as _Failure."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            response = call(**args)
        except Unreachable as exc:
            raise _Failure(method, exc.reason, retry=exc.retry, unreachable=True) from None
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            code = str(data.get("error", ""))
            code = code if _CODE.fullmatch(code) else "unexpected_answer"
            status = int(exc.response.status_code)
            retry = retryable(status) or code in RETRY_CODES
            extra: dict[str, Any] = {"status": status}
            if (wait := seconds(exc.response.headers.get("retry-after"))) is not None:
                extra["retry_after"] = wait
            needed = str(data.get("needed", ""))
            if code == "missing_scope" and re.fullmatch(r"[a-z:.,_]{1,100}", needed):
                extra["needed"] = needed
            raise _Failure(method, code, retry=retry, **extra) from None
        except SlackClientError as exc:  # the request was refused before it was sent
            raise _Failure(method, type(exc).__name__, retry=False, unreachable=True) from None
        data = response.data
        return data if isinstance(data, dict) else {}

    def _failure(self, failure: _Failure) -> Delivery:
        extra = dict(failure.extra)
        if extra.pop("unreachable", False):
            return self._failed(f"Slack {failure.method}: {failure.code}", retry=failure.retry)
        needed = extra.pop("needed", None)
        hint = f"the app lacks the {needed} scope" if needed else HINTS.get(failure.code, "")
        if failure.code in RETRY_CODES - {"ratelimited"}:
            hint = "Slack failed on its side"
        detail = f"Slack {failure.method} failed: {failure.code}" + (f" ({hint})" if hint else "")
        return self._failed(detail, retry=failure.retry, **extra)

    def _post(self, client: Web, channel: str, message: Message) -> dict[str, Any]:
        payload = blockkit.payload(message)
        return self._call(
            "chat.postMessage",
            client.chat_postMessage,
            channel=channel,
            text=payload["text"],
            blocks=payload["blocks"],
            unfurl_links=False,
            unfurl_media=False,
        )

    def _create(self, client: Web, message: Message) -> dict[str, Any]:
        for number in range(1, MAX_SUFFIX + 1):
            name = war_room_name(message, number)
            try:
                data = self._call(
                    "conversations.create",
                    client.conversations_create,
                    name=name,
                    is_private=self.private,
                )
            except _Failure as failure:
                if failure.code == "name_taken":
                    continue
                raise
            channel = data.get("channel")
            if isinstance(channel, dict) and _ID.fullmatch(str(channel.get("id", ""))):
                return channel
            raise _Failure("conversations.create", "unexpected_answer", retry=False)
        raise _Failure("conversations.create", "name_taken", retry=False)

    def _known(self, member: str) -> bool:
        return bool(_USER_ID.fullmatch(member)) or member.lstrip("@") in self.users

    def _member_ids(self, client: Web, members: Sequence[str]) -> tuple[list[str], list[str]]:
        ids: list[str] = []
        missing: list[str] = []
        for member in (m.strip() for m in members):
            user_id = member if _USER_ID.fullmatch(member) else self.users.get(member.lstrip("@"))
            if user_id is None and "@" in member:
                try:
                    data = self._call(
                        "users.lookupByEmail", client.users_lookupByEmail, email=member
                    )
                except _Failure:
                    data = {}
                user = data.get("user")
                found = str(user.get("id", "")) if isinstance(user, dict) else ""
                user_id = found if _USER_ID.fullmatch(found) else None
            if user_id is None:
                missing.append(member)
            elif user_id not in ids:
                ids.append(user_id)
        return ids, missing

    def _invite(self, client: Web, channel: str, ids: list[str]) -> str | None:
        """None, or the error code of a failed invitation (the room stands regardless)."""
        if not ids:
            return None
        try:
            self._call(
                "conversations.invite",
                client.conversations_invite,
                channel=channel,
                users=ids,
                force=True,
            )
        except _Failure as failure:
            if failure.code not in ("already_in_channel", "cant_invite_self"):
                return failure.code
        return None

    def _room_url(self, client: Web, channel: dict[str, Any], posted: dict[str, Any]) -> str | None:
        cid = str(channel.get("id", ""))
        team = self.team_id or _team(channel) or _team(posted.get("message"))
        if team:
            return _channel_url(team, cid)
        try:
            data = self._call(
                "chat.getPermalink",
                client.chat_getPermalink,
                channel=cid,
                message_ts=str(posted.get("ts", "")),
            )
        except _Failure:
            return None
        return t.safe_link(str(data.get("permalink", "")))


def _team(value: object) -> str | None:
    """A workspace ID from a channel (`context_team_id`) or a message (`team`)."""
    if not isinstance(value, dict):
        return None
    team = str(value.get("context_team_id") or value.get("team") or "")
    return team if _ID.fullmatch(team) else None


def _channel_url(team: str | None, channel: str) -> str | None:
    if not team or not _ID.fullmatch(channel):
        return None
    return f"https://app.slack.com/client/{team}/{channel}"
