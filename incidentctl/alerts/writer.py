"""The receiver's single writer: spooled payloads applied in order, in batches.

One thread owns the repository. It takes what the spool holds (up to `batch` payloads,
oldest first), writes the journal, applies them with `intake.apply` (one commit per
incident, each with the trailers `Alert-Batch` and `Alert-Ref`), pushes when asked to,
then deletes the batch's files. A crash anywhere in that sequence is settled by
`recover` on the next start: keys whose commit exists are not applied again, and a
file a key's change left uncommitted is put back as HEAD has it before the key is
applied again. So every accepted payload is applied exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from ..errors import IncidentctlError
from ..repo.incidents import IncidentRepo
from . import formats, intake
from .folding import Outcome
from .notice import Notice
from .spool import Spool

TICK_SECONDS = 60.0


class Follow(Protocol):
    """What the writer does besides applying alerts, given by the caller (the command
    line gives the notification rules, comms; alerts never imports them). Each
    returns lines for the log; an exception is logged and the writer goes on."""

    def changed(self, repo: IncidentRepo, ident: str, events: list[str]) -> list[str]:
        """After alerts opened incident `ident` or moved its status (committed): the
        rules' events (`open`; `status`, `resolved`)."""
        ...

    def tick(self, repo: IncidentRepo) -> list[str]:
        """Every TICK_SECONDS, while nothing is being applied."""
        ...


@dataclass
class Stats:
    """Counters for /metrics (written by the writer, read by request threads)."""

    applied: int = 0
    batches: int = 0
    commits: int = 0
    incidents_opened: int = 0
    apply_errors: int = 0
    push_errors: int = 0
    failed: int = 0
    last_applied: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Writer(threading.Thread):
    def __init__(
        self,
        repo_path: str | None,
        spool: Spool,
        *,
        batch: int = 500,
        push: bool | None = None,
        log: Callable[[str], None],
        follow: Follow | None = None,
    ):
        super().__init__(name="incidentctl-writer", daemon=True)
        self.repo_path = repo_path
        self.spool = spool
        self.batch = batch
        self.push = push
        self.log = log
        self.follow = follow
        self._next_tick = 0.0  # monotonic time of the next follow.tick (0: at once)
        self.stats = Stats()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self._unpushed = False
        self._failing_since = 0.0  # when the batches began to fail (0: they do not)
        self._last_error = ""
        self._parsed: dict[str, Notice] = {}  # read when accepted: not read again here
        self._parsed_lock = threading.Lock()

    def failing(self) -> str:
        """The last error, once batches have failed for 30 s or more; else ""."""
        since = self._failing_since
        return self._last_error if since and time.monotonic() - since >= 30 else ""

    def remember(self, name: str, notice: Notice) -> None:
        """The payload spooled as `name`, as the request thread read it."""
        with self._parsed_lock:
            self._parsed[name] = notice

    def run(self) -> None:
        repo = IncidentRepo.open(self.repo_path)
        repo.push_after = False  # pushed once per batch, below
        push = repo.config.push if self.push is None else self.push
        delay = 0.0
        while True:
            names = self.spool.pending(self.batch)
            if not names:
                if self._unpushed and push:
                    self._sync(repo)
                if self._tick(repo) and push:
                    self._sync(repo)
                self.idle.set()
                if self.stopping.is_set():
                    return
                self.wake.wait(timeout=1.0)
                self.wake.clear()
                continue
            self.idle.clear()
            try:
                self.apply_batch(repo, names)
                delay = 0.0
                self._failing_since = 0.0
            except Exception as exc:  # kept in the spool; tried again, later each time
                with self.stats.lock:
                    self.stats.apply_errors += 1
                delay = min(30.0, max(0.5, delay * 2))
                message = exc.message if isinstance(exc, IncidentctlError) else repr(exc)
                self._failing_since = self._failing_since or time.monotonic()
                self._last_error = message
                self.log(
                    f"could not apply {len(names)} payload(s), retrying in {delay:.1f}s: {message}"
                )
                if self.stopping.wait(timeout=delay) and self._give_up_on_stop():
                    return
                continue
            self._tick(repo)
            if push:
                self._sync(repo)

    def _tick(self, repo: IncidentRepo) -> bool:
        """follow.tick, when its minute has come (between batches too, so an alert
        storm does not hold reminders back); whether it ran."""
        follow = self.follow
        if follow is None or time.monotonic() < self._next_tick or self.stopping.is_set():
            return False
        self._next_tick = time.monotonic() + TICK_SECONDS
        self._follow(lambda: follow.tick(repo))
        return True

    def _give_up_on_stop(self) -> bool:
        """Stopping while the repository refuses changes: leave the rest in the spool."""
        self.log(f"stopping with {self.spool.depth()} payload(s) left in {self.spool.ready}")
        self.idle.set()
        return True

    def apply_batch(self, repo: IncidentRepo, names: list[str]) -> None:
        if self.spool.read_journal() is not None:
            # The last attempt failed part of the way: settle it as after a crash, so
            # the keys it committed are not applied again.
            settled, outcomes = recover(repo, self.spool, self.log)
            self._count(outcomes, settled)
            names = self.spool.pending(self.batch)
            if not names:
                return
        notices = []
        kept = []
        for name in names:
            item = self.spool.read(name)
            with self._parsed_lock:
                parsed = self._parsed.pop(name, None)
            try:
                notice = parsed or formats.read(item.body, item.format)
                notices.append((notice, item.received))
                kept.append(name)
            except IncidentctlError as exc:  # accepted once, unreadable now: set aside
                self.spool.fail(name, exc.message)
                with self.stats.lock:
                    self.stats.failed += 1
                self.log(f"set aside {name}: {exc.message}")
        batch = kept[0] if kept else names[0]
        self.spool.write_journal({"batch": batch, "head": repo.git.head(), "names": kept})
        outcomes = intake.apply(repo, notices, trailers={"Alert-Batch": batch})
        self.spool.done(kept)
        self._count(outcomes, len(kept))
        self._changed(repo, outcomes)

    def _changed(self, repo: IncidentRepo, outcomes: list[Outcome]) -> None:
        follow = self.follow
        if follow is None:
            return
        for outcome in outcomes:
            events = outcome.events()
            if events and outcome.id:
                self._follow(partial(follow.changed, repo, outcome.id, events))

    def _follow(self, call: Callable[[], list[str]]) -> None:
        try:
            lines = call()
        except Exception as exc:  # a notice never stops the alerts
            message = exc.message if isinstance(exc, IncidentctlError) else repr(exc)
            lines = [f"notification rules failed: {message}"]
        for line in lines:
            self.log(line.strip())
        if lines:
            self._unpushed = True

    def _count(self, outcomes: list[Outcome], applied: int) -> None:
        with self.stats.lock:
            self.stats.applied += applied
            self.stats.batches += 1
            self.stats.commits += sum(1 for o in outcomes if o.commit)
            self.stats.incidents_opened += sum(1 for o in outcomes if o.opened)
            self.stats.last_applied = time.time()
        if any(o.commit for o in outcomes):
            self._unpushed = True
        for outcome in outcomes:
            if outcome.id:
                what = "opened" if outcome.opened else "updated"
                self.log(
                    f"{what} {outcome.id}: {outcome.payloads} payload(s) ({outcome.alert_key})"
                )
            elif outcome.extra.get("maintenance"):
                window = outcome.extra["maintenance"]
                self.log(
                    f"held back by {window}: {outcome.payloads} payload(s) ({outcome.alert_key})"
                )

    def _sync(self, repo: IncidentRepo) -> None:
        try:
            result = repo.sync()
        except IncidentctlError as exc:
            with self.stats.lock:
                self.stats.push_errors += 1
            self.log(f"push failed (the commits are kept and pushed later): {exc.message}")
            return
        self._unpushed = False
        if result.pushed:
            self.log(f"pushed {result.pushed} commit(s) to {result.remote}/{result.branch}")


def recover(
    repo: IncidentRepo, spool: Spool, log: Callable[[str], None]
) -> tuple[int, list[Outcome]]:
    """Settle a batch that a crash (or a failed attempt) interrupted: how many of its
    payloads are now applied, and what applying the rest did."""
    journal = spool.read_journal()
    if journal is None:
        return 0, []
    names = [n for n in journal.get("names", []) if n in set(spool.pending())]
    batch = journal.get("batch")
    if not batch or not names:
        spool.done(names)
        return 0, []
    committed = _committed_refs(repo, str(batch), journal.get("head"))
    notices = []
    for name in names:
        item = spool.read(name)
        try:
            notice = formats.read(item.body, item.format)
        except IncidentctlError as exc:
            spool.fail(name, exc.message)
            continue
        if notice.ref not in committed:
            notices.append((notice, item.received))
    refs = sorted({notice.ref for notice, _ in notices})
    _restore(repo, refs)
    outcomes = intake.apply(repo, notices, trailers={"Alert-Batch": str(batch)}) if notices else []
    spool.done(names)
    log(
        f"recovered an interrupted batch: {len(names) - len(notices)} payload(s) were already "
        f"committed, {len(notices)} applied now ({sum(1 for o in outcomes if o.commit)} commit(s))"
    )
    return len(names), outcomes


def _committed_refs(repo: IncidentRepo, batch: str, head: Any) -> set[str]:
    """The keys whose commit of this batch exists (trailers `Alert-Batch`, `Alert-Ref`)."""
    span = [f"{head}..HEAD"] if isinstance(head, str) and head else ["-n", "2000", "HEAD"]
    trailer = "%(trailers:key={},valueonly,separator=%x20)"
    fields = trailer.format("Alert-Batch") + "%x1f" + trailer.format("Alert-Ref") + "%x1e"
    out = repo.git.run("log", f"--format={fields}", *span)
    refs: set[str] = set()
    for record in out.split("\x1e"):
        found, _, ref = record.strip().partition("\x1f")
        if found.strip() == batch:
            refs.update(ref.split())
    return refs


def _restore(repo: IncidentRepo, refs: list[str]) -> None:
    """Put back, as HEAD has them, the incident files of these keys that a cut-off batch
    left changed and uncommitted (a new file is removed)."""
    if not refs:
        return
    paths = repo.git.files_containing(refs, repo.config.incidents_dir)
    paths += repo.git.files_containing(refs, "maintenance")  # windows that held alerts back
    if not paths:
        return
    status = repo.git.run("status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
    for record in status.split("\0"):
        if len(record) < 4:
            continue
        code, path = record[:2], record[3:]
        if code == "??":
            (repo.root / path).unlink(missing_ok=True)
        elif "A" in code:  # registered (intent to add) just before its commit
            repo.git.run_indexed("rm", "--cached", "--quiet", "--", path)
            (repo.root / path).unlink(missing_ok=True)
        elif "M" in code:
            repo.git.run_indexed("checkout", "HEAD", "--", path)
