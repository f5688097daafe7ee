"""The outbox: every notice written to disk before it is sent, so none is lost.

    .git/incidentctl/outbox/
      pending/<id>.json   to send (again): the channel, the message, attempts, last error
      sent/<id>.json      delivered (kept for `notify --retry` to skip, and for audits)
      failed/<id>.json    refused for good (a 4xx: the configuration needs fixing)

Per clone and never committed. A changing command queues its notices, then delivers
within a short time budget (`[comms] timeout`, 5 s): a channel that is down, slow or
refusing leaves its notice pending and the command goes on. `notify --retry` (and
`serve` every minute) sends what is pending. One lock file makes two retries never send
the same notice twice; a notice moves to sent/ right after its channel took it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from .channels.base import Channel, Delivery, Message

BACKOFF = (30, 60, 120, 300, 600, 1800, 3600)  # seconds before attempt 2, 3, …


@dataclass
class Notice:
    id: str
    incident: str
    channel: str
    message: dict[str, Any]
    created: str
    attempts: int = 0
    last_error: str = ""
    next_attempt: str = ""  # RFC 3339; empty: now

    def message_object(self) -> Message:
        data = dict(self.message)
        data["recipients"] = tuple(data.get("recipients") or ())
        return Message(**data)


@dataclass(frozen=True)
class Result:
    notice: Notice
    delivery: Delivery | None  # None: not tried (no time left, or not due yet)


class Outbox:
    def __init__(self, git_dir: str):
        self.root = os.path.join(git_dir, "incidentctl", "outbox")
        self.folders = {
            name: os.path.join(self.root, name) for name in ("pending", "sent", "failed")
        }

    def _ensure(self) -> None:
        for folder in self.folders.values():
            os.makedirs(folder, mode=0o700, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        self._ensure()
        with open(os.path.join(self.root, ".lock"), "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield

    def queue(self, incident: str, channel: str, message: Message, now: datetime) -> Notice:
        self._ensure()
        notice = Notice(  # ids sort in the order the notices were queued
            id=f"{time.time_ns():020d}-{incident}-{channel}-{message.stage}",
            incident=incident,
            channel=channel,
            message={
                **{f.name: getattr(message, f.name) for f in fields(message)},
                "fields": dict(message.fields),
                "recipients": list(message.recipients),
            },
            created=now.isoformat(),
        )
        self._write("pending", notice)
        return notice

    def _write(self, where: str, notice: Notice) -> None:
        path = os.path.join(self.folders[where], f"{notice.id}.json")
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(asdict(notice), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def _move(self, notice: Notice, to: str) -> None:
        self._write(to, notice)
        with suppress(FileNotFoundError):
            os.unlink(os.path.join(self.folders["pending"], f"{notice.id}.json"))

    def notices(self, where: str = "pending", incident: str | None = None) -> list[Notice]:
        folder = self.folders[where]
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    notice = Notice(**json.load(handle))
            except (OSError, ValueError, TypeError):
                continue  # a torn file from a crash: its notice is re-sent by `notify`
            if incident is None or notice.incident == incident:
                out.append(notice)
        return out

    def deliver(
        self,
        channels: Mapping[str, Channel],
        *,
        budget: float,
        now: datetime,
        only: set[str] | None = None,
        force: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> list[Result]:
        """Send pending notices (those in `only`, else all that are due) within `budget`
        seconds in all; each failure is recorded on the notice, which stays pending
        when worth retrying and goes to failed/ when not."""
        results = []
        deadline = clock() + budget
        with self.locked():
            for notice in self.notices("pending"):
                if only is not None and notice.id not in only:
                    continue
                due = _parse(notice.next_attempt)
                if not force and due is not None and due > now:
                    results.append(Result(notice, None))
                    continue
                left = deadline - clock()
                channel = channels.get(notice.channel)
                if left <= 0.2 or channel is None:
                    if channel is None:
                        notice.last_error = f"channel {notice.channel!r} is not configured"
                        self._write("pending", notice)
                    results.append(Result(notice, None))
                    continue
                delivery = channel.send(notice.message_object(), timeout=min(left, 10.0))
                notice.attempts += 1
                if delivery.ok:
                    notice.last_error = ""
                    self._move(notice, "sent")
                elif delivery.retry:
                    notice.last_error = delivery.detail
                    wait = delivery.retry_after or BACKOFF[min(notice.attempts, len(BACKOFF)) - 1]
                    notice.next_attempt = (now + timedelta(seconds=wait)).isoformat()
                    self._write("pending", notice)
                else:
                    notice.last_error = delivery.detail
                    self._move(notice, "failed")
                results.append(Result(notice, delivery))
        return results


def _parse(text: str) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
