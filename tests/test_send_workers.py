"""Many senders on one ledger: `digest send --workers N` (processes side by side, each with its
own store and SMTP connection) against a real SMTP server, on SQLite and on PostgreSQL; the
newsletter's rate shared through the store by every sender; claims in batches that other senders
skip. Each reader gets their message once, whatever the number of senders; and when every
sender is killed at once and the send run again, at most once (the rest `unknown`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pg import StoreLocation
from smtpserver import SmtpServer

from digest.app import senders, sending, wiring
from digest.cli import main
from digest.errors import ConfigError, DeliveryError
from digest.models import Profile
from digest.store import Store

DAY = date(2025, 8, 20)
NOW = datetime(2025, 8, 20, 6, 0, tzinfo=UTC)
CONFIG = """\
store: out/store.sqlite3
delivery:
  method: smtp
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  rate: 1000
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 10}}
readers:
  - name: ada
    interests: {{keywords: [graphs]}}
"""
ENV = {"DIGEST_SECRET": "a-test-secret-of-at-least-32-characters!"}
MAIN = [sys.executable, "-c", "import sys; from digest.cli import main; sys.exit(main())"]
ANSWERED = 20  # messages the server answers before it holds back its answers, and ...
WORKERS = 4  # ... the workers killed at once, when each waits on an answer


@pytest.fixture
def location(store_location: StoreLocation, tmp_path: Path) -> str:
    """The store of each test, on SQLite and on PostgreSQL."""
    return str(store_location(tmp_path / "out" / "store.sqlite3"))


def planned(location: str, folder: Path, count: int) -> list[str]:
    """`count` active readers, each with a message written and a ledger row of DAY."""
    names = [f"r{n:03d}" for n in range(count)]
    with Store.open(location) as store:
        for name in names:
            store.add_reader(Profile(name, keywords=("x",), email=f"{name}@example.org"), now=NOW)
            message = folder / "out" / "mail" / name / f"{DAY}.eml"
            message.parent.mkdir(parents=True, exist_ok=True)
            message.write_bytes(
                f"From: Paper Digest <digest@example.org>\r\nTo: {name}@example.org\r\n"
                f"Subject: Digest for {name}\r\nMessage-ID: <{DAY}.{name}@example.org>\r\n"
                f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nPapers.\r\n".encode()
            )
        store.plan_deliveries(
            DAY,
            [(n, [f"{n}@example.org"]) for n in names],
            now=NOW,
            give_up=datetime.now(UTC) + timedelta(days=1),
        )
    return names


def test_workers_side_by_side_send_each_message_once(
    tmp_path: Path, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = planned(location, tmp_path, 40)
    with SmtpServer() as server:
        (tmp_path / "config.yaml").write_text(CONFIG.format(port=server.port), encoding="utf-8")
        config = wiring.load(tmp_path / "config.yaml", environ={"DIGEST_STORE": location})
        with Store.open(location) as store:
            report = sending.send_day(config, store, DAY, workers=3, environ=ENV)
        received = Counter(to for message in server.messages for to in message.recipients)
    assert received == Counter(f"{name}@example.org" for name in names)  # each one, once
    assert report.attempted == Counter(sent=40) and report.ledger == Counter(sent=40)
    assert report.ok


def test_digest_send_workers_from_the_command_line(
    tmp_path: Path, location: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    planned(location, tmp_path, 12)
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with SmtpServer() as server:
        (tmp_path / "config.yaml").write_text(CONFIG.format(port=server.port), encoding="utf-8")
        code = main(["send", "--date", str(DAY), "--workers", "2", "--store", location])
        assert len(server.messages) == 12
    assert code == 0
    assert "sending 2025-08-20: 12 sent (ledger: 12 sent)" in capsys.readouterr().err


def test_a_transport_that_cannot_be_made_stops_the_send_before_any_worker_starts(
    tmp_path: Path, location: str
) -> None:
    planned(location, tmp_path, 5)
    text = CONFIG.format(port=1).replace("method: smtp", "method: files")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    config = wiring.load(tmp_path / "config.yaml", environ={"DIGEST_STORE": location})
    with Store.open(location) as store, pytest.raises(ConfigError, match="sends nothing"):
        sending.send_day(config, store, DAY, workers=2, environ=ENV)
    with Store.open(location) as store:
        assert {row.status for row in store.deliveries(DAY)} == {"pending"}


def test_workers_that_end_without_a_report_are_one_error(
    tmp_path: Path, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies before it could report (here: an interpreter that exits at once)
    makes the send fail, saying so, once every worker has ended; nothing was claimed."""
    planned(location, tmp_path, 5)
    dying = tmp_path / "python"
    dying.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    dying.chmod(0o755)
    monkeypatch.setattr(senders.sys, "executable", str(dying))
    with SmtpServer() as server:
        (tmp_path / "config.yaml").write_text(CONFIG.format(port=server.port), encoding="utf-8")
        config = wiring.load(tmp_path / "config.yaml", environ={"DIGEST_STORE": location})
        with Store.open(location) as store, pytest.raises(DeliveryError) as caught:
            sending.send_day(config, store, DAY, workers=2, environ=ENV)
        assert not server.messages
    assert str(caught.value) == "2 of 2 send workers failed: exit status 3, no report"
    with Store.open(location) as store:
        assert {row.status for row in store.deliveries(DAY)} == {"pending"}


def test_workers_must_be_a_positive_number(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["send", "--workers", "0"])
    assert "expected a positive whole number, got '0'" in capsys.readouterr().err


def test_send_slots_are_shared_by_every_sender_on_the_store(location: str) -> None:
    """The rate holds for the whole newsletter: senders with connections of their own, side by
    side, are given slots that never overlap."""
    tick = timedelta(milliseconds=1)
    with Store.open(location):
        pass  # made, before the senders race to open it
    starts: list[datetime] = []
    lock = threading.Lock()
    gate = threading.Barrier(4)

    def sender() -> None:
        with Store.open(location) as store:
            gate.wait()
            for _ in range(25):
                start = store.take_send_slots(now=NOW, interval=tick, count=2)
                with lock:
                    starts.append(start)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(starts) == [NOW + 2 * tick * n for n in range(100)]
    with Store.open(location) as store:  # a sender after a pause starts at its own time
        later = NOW + timedelta(hours=1)
        assert store.take_send_slots(now=later, interval=tick, count=1) == later


def test_workers_killed_at_once_then_sent_again_deliver_each_message_at_most_once(
    tmp_path: Path, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`digest send --workers 4` killed whole (SIGKILL to its process group: the command and
    every worker at once) with a message of each worker in flight: once the server has taken
    ANSWERED messages it answers no more, and when each worker waits on its answer (4 more
    taken), all die. Then `digest send` again until nothing is due (the dead workers' claims
    come back at once: their pids are gone). No reader gets their message twice; every row is
    sent (the server took it once) or `unknown`: the server took it and the ledger never heard
    (each worker's last), or its DATA was cut off by the kill."""
    names = planned(location, tmp_path, 60)
    config = tmp_path / "config.yaml"
    log = tmp_path / "send.log"
    group: list[int] = []

    def kill_all(message: object, count: int) -> None:
        if count == ANSWERED:
            server.stall_after_data = True  # from the next message on, no answers
        elif count == ANSWERED + WORKERS:  # each worker waits on one: kill them all
            os.killpg(group[0], signal.SIGKILL)

    with SmtpServer() as server, log.open("wb") as said:
        # a worker waits long for its answer: the last to start may take seconds to import
        text = CONFIG.format(port=server.port).replace("timeout: 10", "timeout: 60")
        config.write_text(text, encoding="utf-8")
        server.on_message = kill_all
        command = [*MAIN, "--config", str(config), "send", "--date", str(DAY)]
        sending_process = subprocess.Popen(
            [*command, "--workers", str(WORKERS)],
            env=os.environ | ENV | {"DIGEST_STORE": location},
            stdout=said,
            stderr=said,
            start_new_session=True,
        )
        group.append(sending_process.pid)  # the group's id: it leads a session of its own
        assert sending_process.wait(timeout=120) == -signal.SIGKILL, log.read_text()
        server.on_message, server.stall_after_data = None, False
        unanswered = {to for m in server.messages[ANSWERED:] for to in m.recipients}
        monkeypatch.setenv("DIGEST_SECRET", ENV["DIGEST_SECRET"])
        for _ in range(3):
            main(["--config", str(config), "send", "--date", str(DAY), "--store", location])
            with Store.open(location) as store:
                if store.next_due(DAY) is None:
                    break
        received = Counter(to for message in server.messages for to in message.recipients)
        cut = {to for recipients in server.cut for to in recipients}
    with Store.open(location) as store:
        ledger = {row.reader: row.status for row in store.deliveries(DAY)}
    address = {name: f"{name}@example.org" for name in names}
    unknown = {name for name, status in ledger.items() if status == "unknown"}
    print(
        f"{len(names)} rows, {WORKERS} workers killed at once with {len(unanswered)} messages"
        f" unanswered; {len(unknown)} unknown, {len(cut)} cut off in DATA"
    )
    assert len(unanswered) == WORKERS and set(received) <= set(address.values())
    assert max(received.values()) == 1  # nobody got theirs twice
    assert set(ledger) == set(names) and set(ledger.values()) <= {"sent", "unknown"}, ledger
    assert all(received[address[name]] == 1 for name in set(names) - unknown)
    # unknown: taken by the server but never recorded, or cut off in its DATA; not sent again
    assert all(received[address[name]] or address[name] in cut for name in unknown)
    assert unanswered <= {address[name] for name in unknown}
