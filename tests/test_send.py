"""The send ledger and the sender against a real SMTP server (aiosmtpd on 127.0.0.1), on SQLite
and on PostgreSQL: exactly once through crashes, retries, pauses, unsubscribes and two senders at
once (CONVENTIONS 2.2)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pg import StoreLocation
from smtpserver import SmtpServer

from digest.deliver.sender import Clock, Pacing, Sender, stamp_date
from digest.deliver.smtp import Outcome, SmtpSettings, SmtpTransport
from digest.models import Delivery, Profile
from digest.store import Store
from digest.store.postgres import connection as postgres_connection

DAY = date(2025, 8, 20)
START = datetime(2025, 8, 20, 6, 0, tzinfo=UTC)
SENDER = "digest@example.org"


class FakeTime:
    """A clock that moves only when slept on (or told to)."""

    def __init__(self) -> None:
        self.at = START
        self.mono = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds
        self.at += timedelta(seconds=seconds)

    def advance(self, delta: timedelta) -> None:
        self.at += delta
        self.mono += delta.total_seconds()

    def clock(self, jitter: float = 0.5) -> Clock:
        return Clock(
            now=lambda: self.at,
            monotonic=lambda: self.mono,
            sleep=self.sleep,
            random=lambda: jitter,
        )


def address(name: str) -> str:
    return f"{name}@example.org"


def eml(name: str) -> bytes:
    return (
        f"From: Paper Digest <{SENDER}>\r\nTo: {address(name)}\r\n"
        f"Subject: Digest for {name}\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        f"Message-ID: <digest-{DAY}.{name}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Papers for {name}.\r\n.a line starting with a dot\r\n"
    ).encode()


def built(
    tmp_path: Path,
    count: int,
    *,
    give_up: timedelta = timedelta(hours=20),
    at: StoreLocation | None = None,
) -> Store:
    """A store with `count` active readers, their messages written and a ledger row each; on the
    backend `at` names (an SQLite file in `tmp_path` without it); closed after the test."""
    store = opened(store_file(tmp_path, at))
    names = [f"r{i:03d}" for i in range(count)]
    for name in names:
        store.add_reader(Profile(name, keywords=("x",), email=address(name)), now=START)
        path = tmp_path / "mail" / name / f"{DAY}.eml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(eml(name))
    store.plan_deliveries(
        DAY, [(n, [address(n)]) for n in names], now=START, give_up=START + give_up
    )
    return store


_OPENED: list[Store] = []  # the stores a test opened, closed after it


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def opened(location: Path | str) -> Store:
    """The store at `location`, closed after the test (an open PostgreSQL connection left to
    the garbage collector is an error)."""
    store = Store.open(location)
    _OPENED.append(store)
    return store


def store_file(tmp_path: Path, at: StoreLocation | None) -> Path | str:
    """The store of a test in `tmp_path`, on the backend `at` names (SQLite without it)."""
    path = tmp_path / "store.sqlite3"
    return at(path) if at else path


def sender(
    store: Store,
    server: SmtpServer,
    tmp_path: Path,
    time: FakeTime,
    *,
    per_connection: int = 100,
    timeout: float = 5.0,
    max_failures: int = 20,
    rate: float = 1000.0,
    after_send=None,
) -> Sender:
    settings = SmtpSettings(
        server.host, server.port, security="none", timeout=timeout, per_connection=per_connection
    )
    return Sender(
        store,
        SmtpTransport(settings),
        mail_dir=tmp_path / "mail",
        envelope_from=SENDER,
        pacing=Pacing(rate=rate, max_failures=max_failures),
        clock=time.clock(),
        after_send=after_send,
    )


def received(server: SmtpServer) -> Counter[str]:
    return Counter(r for m in server.messages for r in m.recipients)


def statuses(store: Store) -> Counter[str]:
    return Counter(d.status for d in store.deliveries(DAY))


def row(store: Store, name: str) -> Delivery:
    (found,) = [d for d in store.deliveries(DAY) if d.reader == name]
    return found


def test_every_reader_gets_their_digest_once_and_the_ledger_says_sent(tmp_path, store_location):
    time = FakeTime()
    store = built(tmp_path, 5, at=store_location)
    with SmtpServer() as server:
        report = sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({address(f"r{i:03d}"): 1 for i in range(5)})
        first = next(m for m in server.messages if m.recipients == (address("r000"),))
    assert report.ok and report.attempted == Counter(sent=5)
    assert statuses(store) == Counter(sent=5)
    done = row(store, "r000")
    assert done.message_id == f"<digest-{DAY}.r000@example.org>"
    assert done.sent_at == START and done.attempts == 1
    # the Date is when it was handed over; dot-stuffing kept the body intact
    assert b"Date: Wed, 20 Aug 2025 06:00:00 +0000\r\n" in first.content
    assert b"2024" not in first.content.split(b"\r\n\r\n")[0]
    assert b"\r\n.a line starting with a dot\r\n" in first.content
    # a second run sends nothing
    with SmtpServer() as again:
        assert sender(store, again, tmp_path, time).send(DAY).attempted == Counter()
        assert again.messages == []


@pytest.mark.parametrize("crash_at", [0, 3, 6])
def test_a_crash_after_the_servers_reply_then_a_rerun_delivers_each_reader_once(
    tmp_path, store_location, crash_at
):
    """The crash falls between the server's 250 and the ledger's `sent`: that row is `unknown`
    (the server has it), never sent again; every other reader gets theirs on the rerun."""
    time, store, n = FakeTime(), built(tmp_path, 7, at=store_location), 7

    class Crash(Exception):
        pass

    count = 0

    def crash(row: Delivery, outcome: Outcome) -> None:
        nonlocal count
        count += 1
        if count == crash_at + 1:
            raise Crash

    with SmtpServer() as server:
        with pytest.raises(Crash):
            sender(store, server, tmp_path, time, after_send=crash).send(DAY)
        sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({address(f"r{i:03d}"): 1 for i in range(n)})
    assert statuses(store) == Counter(sent=n - 1, unknown=1)
    lost = next(d for d in store.deliveries(DAY) if d.status == "unknown")
    assert "not sent again" in lost.reply


def test_a_crash_before_data_leaves_a_claim_that_the_rerun_sends(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 4, at=store_location)

    class Crash(Exception):
        pass

    class CrashingTransport(SmtpTransport):
        calls = 0

        def send(self, sender, recipients, message, *, before_data=None):  # type: ignore[override]
            CrashingTransport.calls += 1
            if CrashingTransport.calls == 3:
                raise Crash  # the process dies after the claim, before anything was sent
            return super().send(sender, recipients, message, before_data=before_data)

    with SmtpServer() as server:
        settings = SmtpSettings(server.host, server.port, security="none", timeout=5)
        crashing = Sender(
            store,
            CrashingTransport(settings),
            mail_dir=tmp_path / "mail",
            envelope_from=SENDER,
            clock=time.clock(),
        )
        with pytest.raises(Crash):
            crashing.send(DAY)
        assert statuses(store) == Counter(sent=2, sending=1, pending=1)
        sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({address(f"r{i:03d}"): 1 for i in range(4)})
    assert statuses(store) == Counter(sent=4)


def test_two_senders_at_once_deliver_each_reader_once(tmp_path, store_location):
    time, n = FakeTime(), 40
    built(tmp_path, n, at=store_location).close()
    with SmtpServer() as server:
        stores = [Store.open(store_file(tmp_path, store_location)) for _ in range(2)]
        senders = [sender(s, server, tmp_path, time) for s in stores]
        threads = [threading.Thread(target=s.send, args=(DAY,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert received(server) == Counter({address(f"r{i:03d}"): 1 for i in range(n)})
        assert server.sessions == 2  # both really sent
        assert statuses(stores[0]) == Counter(sent=n)
        for s in stores:
            s.close()


def test_an_unsubscribe_between_build_and_send_suppresses_the_send(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 3, at=store_location)
    store.set_reader_status("r001", "unsubscribed", now=START)
    store.set_reader_status("r002", "removed", now=START)
    with SmtpServer() as server:
        report = sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({address("r000"): 1})
    assert statuses(store) == Counter(sent=1, suppressed=2)
    assert row(store, "r001").reply == "reader unsubscribed before sending"
    assert report.ledger == Counter(sent=1, suppressed=2)


def test_a_temporary_refusal_is_retried_with_backoff_until_it_goes(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 2, at=store_location)
    with SmtpServer() as server:
        server.rcpt_replies[address("r001")] = "450 4.2.1 mailbox busy"
        report = sender(store, server, tmp_path, time).send(DAY)
        waiting = row(store, "r001")
        assert waiting.status == "deferred" and waiting.code == 450
        assert "mailbox busy" in waiting.reply and waiting.attempts == 1
        # jitter 0.5 -> three quarters of the first retry's ten minutes
        expected = START + timedelta(minutes=7.5)
        assert abs(waiting.next_attempt - expected) < timedelta(seconds=1)  # + pacing's sleep
        assert report.next_due == waiting.next_attempt
        # not due yet: a send now leaves it alone
        assert sender(store, server, tmp_path, time).send(DAY).attempted == Counter()
        del server.rcpt_replies[address("r001")]
        time.advance(timedelta(minutes=8))
        assert sender(store, server, tmp_path, time).send(DAY).attempted == Counter(sent=1)
        assert received(server) == Counter({address("r000"): 1, address("r001"): 1})
    assert row(store, "r001").status == "sent" and row(store, "r001").attempts == 2


def test_wait_sleeps_until_each_retry_and_gives_up_at_the_deadline(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 1, give_up=timedelta(hours=1), at=store_location)
    with SmtpServer() as server:
        server.rcpt_replies[address("r000")] = "451 4.3.0 try later"
        report = sender(store, server, tmp_path, time).send(DAY, wait=True)
        tries = len(server.messages)
    waited = row(store, "r000")
    assert waited.status == "expired" and tries == 0
    # 7.5, 15, 30 minutes: the next (60) would pass the deadline
    assert waited.attempts == 4
    assert [s for s in time.slept if s > 1] == pytest.approx([450, 900, 1800], abs=0.01)
    assert time.at < START + timedelta(hours=1)
    assert report.ledger == Counter(expired=1)


def test_backoff_doubles_with_jitter_and_is_capped(tmp_path):
    store = Store.open(tmp_path / "s.sqlite3")
    for jitter in (0.0, 0.37, 1.0):
        waits = [
            Sender(
                store,
                SmtpTransport(SmtpSettings("127.0.0.1", 1)),
                mail_dir=tmp_path,
                envelope_from=SENDER,
                clock=FakeTime().clock(jitter),
            ).backoff(attempt)
            for attempt in range(1, 12)
        ]
        assert waits == sorted(waits)
        for attempt, wait in enumerate(waits, start=1):
            full = min(timedelta(minutes=10) * 2 ** (attempt - 1), timedelta(hours=2))
            assert full / 2 <= wait <= full
    store.close()


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("550 5.1.1 no such user", "failed"),
        ("554 5.7.1 rejected", "failed"),
        ("552 4.2.2 mailbox full", "deferred"),
        ("451 4.3.0 local error", "deferred"),
    ],
)
def test_server_replies_after_data_are_recorded(tmp_path, store_location, reply, status):
    time, store = FakeTime(), built(tmp_path, 1, at=store_location)
    with SmtpServer() as server:
        server.data_replies.append(reply)
        report = sender(store, server, tmp_path, time).send(DAY)
    done = row(store, "r000")
    assert done.status == status
    assert done.code == int(reply[:3]) and reply[4:] in done.reply
    assert report.failures and reply[4:] in report.failures[0]


def test_a_recipient_refused_for_good_is_recorded_with_the_reply(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 2, at=store_location)
    with SmtpServer() as server:
        server.rcpt_replies[address("r000")] = "550 5.1.1 user unknown"
        sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({address("r001"): 1})
    done = row(store, "r000")
    assert done.status == "failed" and done.code == 550
    assert done.refused == ((address("r000"), 550, "5.1.1 user unknown"),)


def test_a_partly_accepted_send_retries_only_the_refused_recipient(tmp_path, store_location):
    """A row owed to two addresses: one takes it, the other says 450; the retry goes only to
    the one still owed (E-33)."""
    time = FakeTime()
    store = opened(store_file(tmp_path, store_location))
    store.add_reader(Profile("lab", keywords=("x",), email="a@example.org"), now=START)
    path = tmp_path / "mail" / "lab" / f"{DAY}.eml"
    path.parent.mkdir(parents=True)
    path.write_bytes(eml("lab"))
    owed = ["a@example.org", "b@example.org"]
    store.plan_deliveries(DAY, [("lab", owed)], now=START, give_up=START + timedelta(hours=9))
    with SmtpServer() as server:
        server.rcpt_replies["b@example.org"] = "450 4.2.1 busy"
        sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({"a@example.org": 1})
        waiting = row(store, "lab")
        assert waiting.status == "deferred" and waiting.recipients == ("b@example.org",)
        assert "b@example.org: 450" in waiting.reply
        del server.rcpt_replies["b@example.org"]
        time.advance(timedelta(hours=1))
        sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({"a@example.org": 1, "b@example.org": 1})
    assert row(store, "lab").status == "sent"


def test_a_server_that_stalls_after_data_leaves_unknown_and_nothing_is_resent(
    tmp_path, store_location
):
    time, store = FakeTime(), built(tmp_path, 1, at=store_location)
    with SmtpServer() as server:
        server.stall_after_data = True
        report = sender(store, server, tmp_path, time, timeout=0.3).send(DAY)
        assert row(store, "r000").status == "unknown"
        server.stall_after_data = False
        server.release()
        time.advance(timedelta(hours=3))
        again = sender(store, server, tmp_path, time).send(DAY)
        assert len(server.messages) == 1  # received once (and never answered)
    assert report.attempted == Counter(unknown=1) and again.attempted == Counter()


def test_a_dropped_connection_mid_batch_is_reopened_and_nothing_sent_twice(
    tmp_path, store_location
):
    time, store = FakeTime(), built(tmp_path, 10, at=store_location)
    with SmtpServer() as server:
        server.drop_after = 4
        sender(store, server, tmp_path, time, per_connection=25).send(DAY)
        assert received(server) == Counter({address(f"r{i:03d}"): 1 for i in range(10)})
        assert server.sessions >= 3
    assert statuses(store) == Counter(sent=10)


def test_consecutive_failures_pause_the_day_until_resumed(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 6, at=store_location)
    with SmtpServer() as server:
        server.data_replies.extend(["451 4.3.0 try later"] * 3)
        report = sender(store, server, tmp_path, time, max_failures=3).send(DAY)
        assert report.paused and "3 failed sends in a row" in report.paused
        assert statuses(store) == Counter(deferred=3, pending=3)
        assert store.sending_paused(DAY) == report.paused
        # paused: a later send does nothing
        assert sender(store, server, tmp_path, time).send(DAY).attempted == Counter()
        assert store.resume_sending(DAY)
        resumed = sender(store, server, tmp_path, time).send(DAY)
    assert resumed.attempted == Counter(sent=3) and resumed.paused is None


def test_sending_is_paced_to_the_rate(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 30, at=store_location)
    starts: list[float] = []
    with SmtpServer() as server:
        paced = sender(store, server, tmp_path, time, rate=10)
        paced.after_send = lambda row, outcome: starts.append(time.mono)
        paced.send(DAY)
    assert len(starts) == 30
    for first in starts:
        assert sum(first <= t < first + 1.0 for t in starts) <= 10
    assert starts[-1] - starts[0] == pytest.approx(2.9)


def test_no_session_leaves_every_row_waiting(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 3, at=store_location)
    with SmtpServer() as server:
        port = server.port
    closed = Sender(
        store,
        SmtpTransport(SmtpSettings("127.0.0.1", port, security="none", timeout=2)),
        mail_dir=tmp_path / "mail",
        envelope_from=SENDER,
        clock=time.clock(),
    )
    report = closed.send(DAY)
    assert report.stopped and "127.0.0.1" in report.stopped and not report.ok
    assert statuses(store) == Counter(pending=3)
    assert all(d.attempts == 0 for d in store.deliveries(DAY))


def test_a_missing_message_file_fails_that_row_only(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 2, at=store_location)
    (tmp_path / "mail" / "r000" / f"{DAY}.eml").unlink()
    with SmtpServer() as server:
        report = sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({address("r001"): 1})
    assert (
        row(store, "r000").status == "failed" and "no message to send" in row(store, "r000").reply
    )
    assert report.failures == [f"r000: {row(store, 'r000').reply}"]


def test_a_stale_claim_from_a_stopped_process_is_recovered(tmp_path, store_location):
    """A row claimed by a sender on this host whose process is gone is waiting again, and one
    that was transmitting is unknown."""
    time, store = FakeTime(), built(tmp_path, 2, at=store_location)
    claim = store.claim_delivery(DAY, by="elsewhere:1:x", now=START)
    assert claim is not None
    second = store.claim_delivery(DAY, by="elsewhere:1:x", now=START)
    assert second is not None and store.mark_transmitting(DAY, second.reader, by="elsewhere:1:x")
    with SmtpServer() as server:
        # another host's claims wait for the lease (30 minutes)
        sender(store, server, tmp_path, time).send(DAY)
        assert server.messages == []
        time.advance(timedelta(minutes=31))
        sender(store, server, tmp_path, time).send(DAY)
        assert received(server) == Counter({address(claim.reader): 1})
    assert row(store, second.reader).status == "unknown"


def test_stamp_date_replaces_only_the_header():
    message = eml("x").replace(b"Papers", b"Date: in the body\r\nPapers")
    stamped = stamp_date(message, START)
    head, body = stamped.split(b"\r\n\r\n", 1)
    assert head.count(b"Date: ") == 1 and b"Date: Wed, 20 Aug 2025 06:00:00 +0000" in head
    assert b"Date: in the body" in body


def test_progress_is_told_after_each_message(tmp_path, store_location):
    time, store = FakeTime(), built(tmp_path, 3, at=store_location)
    seen: list[tuple[int, int, str]] = []
    with SmtpServer() as server:
        told = sender(store, server, tmp_path, time)
        told.progress = lambda done, total, label: seen.append((done, total, label))
        told.send(DAY)
    assert seen == [(1, 3, "r000"), (2, 3, "r001"), (3, 3, "r002")]


@pytest.mark.parametrize(
    ("before", "step", "done", "recovered"),
    [
        ("sending", "hands the message over", "transmitting", "pending"),
        ("transmitting", "records the server's reply", "sent", "unknown"),
    ],
)
def test_a_recovery_never_takes_a_row_from_a_sender_still_at_work(
    tmp_path, pg_url, monkeypatch, before, step, done, recovered
):
    """PostgreSQL: a sender's ledger writes lock only their rows, so one may come while another
    sender recovers stale claims. Sender `w`, alive, claimed r001 longer ago than the lease; it
    takes its next step (marks the row `transmitting`, or records `sent`) while a recovery is
    under way. Either `w` got there first and the recovery leaves the row as `w` left it, or
    `w` waits for the recovery and then finds the row no longer its own (and sends nothing, or
    leaves it `unknown`); never both (`w` sends while the row waits for the next sender)."""
    monkeypatch.setattr(postgres_connection, "LOCK_TIMEOUT", "50ms")  # a wait ends at once
    w_id = "w:1:stale"

    def w_steps(w: Store) -> bool:
        if before == "sending":
            return w.mark_transmitting(DAY, "r001", by=w_id)
        return w.finish_delivery(DAY, "r001", by=w_id, status="sent", now=START)

    with contextlib.closing(built(tmp_path, 2, at=StoreLocation("postgresql", pg_url))) as store:
        assert store.claim_delivery(DAY, by="x:1:fresh", now=START + timedelta(minutes=40))
        assert store.claim_delivery(DAY, by=w_id, now=START, reader="r001")
        if before == "transmitting":
            assert store.mark_transmitting(DAY, "r001", by=w_id)
        took: list[bool | None] = []
        with contextlib.closing(Store.open(pg_url)) as w:

            def gone(claimed_by: str) -> bool:
                # called inside the recovery's transaction, as it looks at the fresh claim
                if not took:
                    try:
                        took.append(w_steps(w))
                    except psycopg.errors.LockNotAvailable:
                        took.append(None)  # w waits for the recovery to end
                return False

            later = START + timedelta(minutes=45)
            store.recover_deliveries(DAY, now=later, lease=timedelta(minutes=30), gone=gone)
            if took == [None]:
                took[0] = w_steps(w)
        assert took in ([True], [False])
        assert row(store, "r001").status == (done if took[0] else recovered), step


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_claim_of_a_sender_that_ended_unreaped_is_recovered_at_once(tmp_path):
    """A sender killed with its parent is a zombie until its new parent reaps it (and the first
    process of some containers never does): its pid is still taken, but it will never run again,
    so its claims are recovered at once, not after the lease."""
    time, store = FakeTime(), built(tmp_path, 1)
    child = subprocess.Popen([sys.executable, "-c", ""])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped
    try:
        assert store.claim_delivery(DAY, by=f"{socket.gethostname()}:{child.pid}:x", now=START)
        with SmtpServer() as server:
            sender(store, server, tmp_path, time).send(DAY)
            assert received(server) == Counter({address("r000"): 1})
    finally:
        child.wait()
    assert statuses(store) == Counter(sent=1)
