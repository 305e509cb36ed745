"""Sending a day's digests by SMTP, exactly once, through the ledger (store/sqlite/ledger.py).

Each message: claim its row (one short transaction), mark it `transmitting` once the server
answered DATA (right before the content goes), send, and record the outcome right after the
server's reply. So a crash before that leaves a claim that is simply tried again, and a crash
after leaves `transmitting`, which becomes `unknown`: never sent twice (R-03, R-04).
Temporary failures (4xx, 552, a dropped connection before the end of DATA) are retried with
exponential backoff and jitter until the row's give-up time; permanent ones (5xx) are recorded
with the server's reply. Readers who unsubscribed after the build are suppressed at claim time
(R-06). Too many failures in a row pause the day (R-08).

The clock, the sleep, the randomness and the transport are arguments, so tests run without
waiting and against a real local server.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from digest.deliver.smtp import ConnectError, Outcome
from digest.models import WAITING, Delivery
from digest.store import Store

log = logging.getLogger("digest")

FIRST_RETRY = timedelta(minutes=10)  # the first retry's delay; each one after doubles it ...
LONGEST_RETRY = timedelta(hours=2)  # ... up to this
LEASE = timedelta(minutes=30)  # a claim older than this belongs to a sender that stopped
_DATE_LINE = re.compile(rb"^Date: [^\r\n]*\r\n", re.MULTILINE)

_live: set[str] = set()  # the senders running in this process (see `_gone`)
_live_lock = threading.Lock()


class Transport(Protocol):
    def send(
        self,
        sender: str,
        recipients: Sequence[str],
        message: bytes,
        *,
        before_data: Callable[[], None] | None = None,
    ) -> Outcome: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast and how stubbornly to send (from config.yaml's `delivery`)."""

    rate: float = 10.0  # messages per second, at most
    max_failures: int = 20  # consecutive failures that pause the day
    first_retry: timedelta = FIRST_RETRY
    longest_retry: timedelta = LONGEST_RETRY
    lease: timedelta = LEASE
    batch: int = 10  # rows claimed at once (each sender its own, skipped by the others)
    block: float = 0.2  # seconds of send slots reserved at once from the store's shared rate


@dataclass(frozen=True, slots=True)
class Clock:
    """Time for the sender: `now` (aware) for the ledger, `monotonic` and `sleep` for pacing,
    `random` for jitter. Tests pass a fake one."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random


@dataclass(slots=True)
class SendReport:
    """What a send did for one day, and how the day's ledger stands after it."""

    day: date
    attempted: Counter[str] = field(default_factory=Counter)  # outcome kinds of this run
    ledger: Counter[str] = field(default_factory=Counter)  # every row's status, after the run
    failures: list[str] = field(default_factory=list)  # `reader: reason`, this run
    paused: str | None = None
    next_due: datetime | None = None
    stopped: str | None = None  # why the run stopped early (no SMTP session could be opened)

    @property
    def ok(self) -> bool:
        return not (self.failures or self.paused or self.stopped)

    def line(self) -> str:
        done = ", ".join(f"{n} {k}" for k, n in sorted(self.attempted.items())) or "nothing due"
        stands = ", ".join(f"{n} {k}" for k, n in sorted(self.ledger.items())) or "no rows"
        text = f"{self.day}: {done} (ledger: {stands})"
        if self.next_due:
            text += f"; next retry at {self.next_due.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        if self.paused:
            text += f"; PAUSED: {self.paused}"
        if self.stopped:
            text += f"; stopped: {self.stopped}"
        return text


class _Lost(Exception):
    """The row was taken from this sender (recovered as stale) before DATA: do not send."""


class Sender:
    """Sends the due rows of a day's ledger through one transport."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        mail_dir: Path,
        envelope_from: str,
        pacing: Pacing | None = None,
        clock: Clock | None = None,
        after_send: Callable[[Delivery, Outcome], None] | None = None,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> None:
        self.store, self.transport, self.mail_dir = store, transport, mail_dir
        self.envelope_from = envelope_from
        self.pacing, self.clock = pacing or Pacing(), clock or Clock()
        self.after_send = after_send  # a hook between the server's reply and the ledger (tests)
        self.progress = progress  # told (done, total, reader) after each message, from 2 on
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._slot = datetime.min.replace(tzinfo=UTC)  # the next send slot reserved ...
        self._slots_left = 0  # ... and how many of the reserved block are left
        self._claimed: deque[Delivery] = deque()  # rows claimed, not yet sent
        self._only: dict[str, Any] = {}

    def send(
        self,
        day: date,
        *,
        wait: bool = False,
        reader: str | None = None,
        retries_only: bool = False,
    ) -> SendReport:
        """Send every due row of `day` (only `reader`'s, or only retries, when asked); with
        `wait`, stay until no retry is left before the rows' give-up times (sleeping between),
        else return after one pass."""
        self._only = {"reader": reader, "retries_only": retries_only}
        with _live_lock:
            _live.add(self.id)
        report = SendReport(day)
        try:
            while True:
                self._pass(day, report)
                report.next_due = self.store.next_due(day)
                if not (wait and report.next_due) or report.paused or report.stopped:
                    break
                delay = (report.next_due - self.clock.now()).total_seconds()
                if delay > 0:
                    log.info("%s: waiting %.0f s for the next retry", day, delay)
                    self.clock.sleep(delay)
        finally:
            with _live_lock:
                _live.discard(self.id)
            self.transport.close()
        report.ledger = Counter(d.status for d in self.store.deliveries(day))
        report.paused = report.paused or self.store.sending_paused(day)
        return report

    def _pass(self, day: date, report: SendReport) -> None:
        store = self.store
        if (why := store.sending_paused(day)) is not None:
            report.paused = why
            return
        store.recover_deliveries(day, now=self.clock.now(), lease=self.pacing.lease, gone=_gone)
        store.expire_deliveries(day, now=self.clock.now())
        total = 0
        if self.progress is not None:
            total = sum(d.status in WAITING for d in store.deliveries(day))
        done = 0
        failures_in_row = 0
        try:
            while True:
                row = self._next_row(day)
                if row is None:
                    return
                self._pace()
                try:
                    kind = self._deliver(row, report)
                except ConnectError as exc:
                    self._give_back(row)
                    report.stopped = str(exc)
                    log.error("%s: %s", day, exc)
                    return
                report.attempted[kind] += 1
                done += 1
                if self.progress is not None and total > 1:  # one message needs no bar
                    self.progress(min(done, total), total, row.reader)
                failures_in_row = failures_in_row + 1 if kind in _FAILING else 0
                if failures_in_row >= self.pacing.max_failures:
                    reason = f"{failures_in_row} failed sends in a row (the last: {row.reader})"
                    store.pause_sending(day, reason=reason, now=self.clock.now())
                    report.paused = reason
                    log.error("%s: sending paused: %s", day, reason)
                    return
        finally:
            while self._claimed:  # claimed and not tried (stopped, paused): waiting again
                self._give_back(self._claimed.popleft())

    def _next_row(self, day: date) -> Delivery | None:
        """The next claimed row, claiming a batch when none is left."""
        if not self._claimed:
            self._claimed.extend(
                self.store.claim_deliveries(
                    day, by=self.id, now=self.clock.now(), limit=self.pacing.batch, **self._only
                )
            )
        return self._claimed.popleft() if self._claimed else None

    def _deliver(self, row: Delivery, report: SendReport) -> str:
        """Send one claimed row and record its outcome; returns the outcome's kind."""
        path = self.mail_dir / row.reader / f"{row.day.isoformat()}.eml"
        try:
            message = stamp_date(path.read_bytes(), self.clock.now())
        except OSError as exc:
            reason = f"no message to send: {path}: {exc.strerror or exc}"
            self._finish(row, "failed", reply=reason)
            report.failures.append(f"{row.reader}: {reason}")
            return "failed"

        def before_data() -> None:
            if not self.store.mark_transmitting(row.day, row.reader, by=self.id):
                raise _Lost

        try:
            outcome = self.transport.send(
                self.envelope_from, row.recipients, message, before_data=before_data
            )
        except _Lost:
            self.transport.close()  # the session is mid-transaction: start a clean one
            log.warning("%s %s: taken over by another sender; not sent", row.day, row.reader)
            return "lost"
        if self.after_send is not None:
            self.after_send(row, outcome)
        kind = self._record(row, outcome, message_id(message))
        if kind in _FAILING:
            report.failures.append(f"{row.reader}: {kind}: {outcome.code or ''} {outcome.reply}")
        return kind

    def _record(self, row: Delivery, outcome: Outcome, mid: str | None) -> str:
        now = self.clock.now()
        refused = [(a, c, r) for a, (c, r) in outcome.refused.items()]
        permanent = [r for r in refused if r[0] in outcome.permanent_refused]
        later = list(outcome.transient_refused)
        common = {"code": outcome.code, "reply": outcome.reply, "message_id": mid}
        if outcome.kind in ("sent", "partial") and not later:
            status = "sent" if outcome.kind == "sent" else "partial"
            self._finish(row, status, refused=permanent, **common)
            return status
        if outcome.kind in ("sent", "partial", "deferred"):
            # try again: the whole message, or just the recipients refused for now
            owed = later if outcome.kind == "partial" else list(row.recipients)
            owed = [a for a in owed if a not in {r[0] for r in permanent}] or list(row.recipients)
            retry_at = now + self.backoff(row.attempts + 1)
            status = "deferred" if retry_at < row.give_up else "expired"
            if outcome.kind == "partial":
                common["reply"] = "; ".join(f"{a}: {c} {r}" for a, c, r in refused)
            self._finish(
                row, status, recipients=owed, next_attempt=retry_at, refused=permanent, **common
            )
            return "deferred" if status == "deferred" else "expired"
        self._finish(row, outcome.kind, refused=permanent, **common)  # failed or unknown
        return outcome.kind

    def backoff(self, attempt: int) -> timedelta:
        """The wait before retry `attempt` (1 = the first retry): doubling from FIRST_RETRY up to
        LONGEST_RETRY, jittered down by up to half so that many deferred rows spread out."""
        base = self.pacing.first_retry * (2 ** min(attempt - 1, 30))
        full = min(base, self.pacing.longest_retry)
        return full * (0.5 + 0.5 * self.clock.random())

    def _finish(self, row: Delivery, status: str, **outcome: object) -> None:
        recipients = outcome.pop("recipients", ())
        if not self.store.finish_delivery(
            row.day,
            row.reader,
            by=self.id,
            status=status,
            now=self.clock.now(),
            recipients=recipients,
            **outcome,
        ):
            log.warning("%s %s: the ledger row was taken over", row.day, row.reader)

    def _give_back(self, row: Delivery) -> None:
        """Nothing was sent (no session): the row waits again, its attempts unchanged."""
        status = "deferred" if row.attempts else "pending"
        self.store.finish_delivery(
            row.day,
            row.reader,
            by=self.id,
            status=status,
            now=self.clock.now(),
            recipients=row.recipients,
            reply=row.reply,
            attempted=False,
        )

    def _pace(self) -> None:
        """At most `rate` messages a second for the whole newsletter, however many senders run
        on the store: each send waits for a slot of the store's shared pacing, reserved a short
        block at a time (`block` seconds of slots) so that pacing costs one transaction per block,
        not per message."""
        interval = timedelta(seconds=1.0 / self.pacing.rate)
        if not self._slots_left:
            count = max(1, int(self.pacing.rate * self.pacing.block))
            self._slot = self.store.take_send_slots(
                now=self.clock.now(), interval=interval, count=count
            )
            self._slots_left = count
        slot, self._slot, self._slots_left = self._slot, self._slot + interval, self._slots_left - 1
        wait = (slot - self.clock.now()).total_seconds()
        if wait > 0:
            self.clock.sleep(wait)


_FAILING = ("deferred", "failed", "unknown", "expired")


def stamp_date(message: bytes, now: datetime) -> bytes:
    """The message with its Date header set to `now` (the time it is handed over, E-10)."""
    head, sep, body = message.partition(b"\r\n\r\n")
    line = f"Date: {format_datetime(now)}\r\n".encode("ascii")
    stamped, count = _DATE_LINE.subn(lambda _: line, head + b"\r\n", count=1)
    if not count:
        stamped = head + b"\r\n" + line
    return stamped[:-2] + sep + body


def message_id(message: bytes) -> str | None:
    head = message.partition(b"\r\n\r\n")[0]
    found = re.search(rb"^Message-ID: *(<[^>\r\n]+>)", head, re.MULTILINE | re.IGNORECASE)
    return found.group(1).decode("ascii", "replace") if found else None


def _gone(claimed_by: str) -> bool:
    """Whether the sender that claimed a row has stopped: one of this process that is no longer
    running, or a process of this host that no longer exists or has ended unreaped (see
    `_ended`). (Senders on other hosts are only recovered after the lease.)"""
    host, _, rest = claimed_by.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _live_lock:
            return claimed_by not in _live
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _ended(pid)


def _ended(pid: int) -> bool:
    """Whether process `pid` has ended and only waits to be reaped (a zombie; read from Linux's
    /proc, False where there is none). A sender killed with its parent stays one until its new
    parent reaps it, which the first process of some containers never does: its pid is still
    taken, but it will never run again."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text("ascii", errors="replace")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[:1]  # the name before it may hold anything
    return state in (["Z"], ["X"])
