"""Many senders on one ledger: `digest send --workers N` (processes side by side, each with its
own store and SMTP connection) against a real SMTP server, on SQLite and on PostgreSQL; the
newsletter's rate shared through the store by every sender; claims in batches that other senders
skip. Each reader gets their message once, whatever the number of senders.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from smtpserver import SmtpServer

from digest.app import sending, wiring
from digest.cli import main
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


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "out" / "store.sqlite3")


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
