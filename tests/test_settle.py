"""Settling an `unknown` ledger row by hand (`digest send --settle DATE READER --as sent|resend`)
once the relay's log has been read: against a real SMTP server and a real store (SQLite, and
PostgreSQL), through the CLI.
The `unknown` row is made the way it happens: a sender stops between the server's reply and the
ledger's record of it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from pg import StoreLocation
from smtpserver import SmtpServer
from test_delivery import DAY, SECRET, STORE, project, run

from digest.deliver.sender import Sender
from digest.deliver.smtp import Outcome, SmtpSettings, SmtpTransport
from digest.models import Delivery
from digest.store import Store


class Crash(Exception):
    pass


def crash_after_ada(row: Delivery, outcome: Outcome) -> None:
    if row.reader == "ada":
        raise Crash  # the server has ada's message; the ledger never heard its reply


def with_ada_unknown(home: Path, server: SmtpServer, at: StoreLocation) -> None:
    """Build the day, send ada's message and stop before the ledger records the reply; then
    `digest send` finds ada's row `unknown` and sends the others."""
    assert run(home, "ingest") == run(home, "build") == 0
    settings = SmtpSettings(server.host, server.port, security="none", timeout=5.0)
    with Store.open(at(home / STORE)) as store:
        crashing = Sender(
            store,
            SmtpTransport(settings),
            mail_dir=home / "out/mail",
            envelope_from="digest@example.org",
            after_send=crash_after_ada,
        )
        with pytest.raises(Crash):
            crashing.send(DAY, reader="ada")
    assert run(home, "send") == 0
    assert statuses(home, at) == Counter(sent=2, unknown=1)


def statuses(home: Path, at: StoreLocation) -> Counter[str]:
    with Store.open(at(home / STORE)) as store:
        return Counter(d.status for d in store.deliveries(DAY))


def received(server: SmtpServer) -> Counter[str]:
    return Counter(r for m in server.messages for r in m.recipients)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)


def test_resend_puts_an_unknown_row_back_and_the_next_send_transmits_it(
    tmp_path, capsys, store_location
):
    with SmtpServer() as server:
        home = project(tmp_path, server, security="none")
        with_ada_unknown(home, server, store_location)
        assert received(server)["ada@example.org"] == 1
        capsys.readouterr()
        assert run(home, "send", "--settle", str(DAY), "ada", "--as", "resend") == 0
        err = capsys.readouterr().err
        assert f"{DAY} ada: unknown -> pending" in err and "next `digest send` sends it" in err
        assert statuses(home, store_location) == Counter(sent=2, pending=1)
        assert run(home, "send") == 0
        assert received(server)["ada@example.org"] == 2  # the lost one, and the one resent
        assert run(home, "send") == 0  # settled for good: never a third
        assert received(server) == Counter(
            {"ada@example.org": 2, "grace@example.org": 1, "alan@example.org": 1}
        )
    assert statuses(home, store_location) == Counter(sent=3)
    capsys.readouterr()
    assert run(home, "status") == 0
    out = capsys.readouterr().out
    assert "3 messages: 3 sent" in out
    (line,) = [x for x in out.splitlines() if "unknown -> pending" in x]
    assert "ada: unknown -> pending (resend) by " in line and "@" in line.split(" by ")[1]


def test_sent_marks_an_unknown_row_delivered_and_nothing_is_resent(
    tmp_path, capsys, store_location
):
    with SmtpServer() as server:
        home = project(tmp_path, server, security="none")
        with_ada_unknown(home, server, store_location)
        note = "relay log: 250 queued as 4F2A"
        assert run(home, "send", "--settle", str(DAY), "ada", "--as", "sent", "--note", note) == 0
        assert run(home, "send") == 0
        assert received(server)["ada@example.org"] == 1
    with Store.open(store_location(home / STORE)) as store:
        (ada,) = [d for d in store.deliveries(DAY) if d.reader == "ada"]
        assert ada.status == "sent" and ada.sent_at is not None
        assert "settled by" in ada.reply and note in ada.reply
    capsys.readouterr()
    assert run(home, "status", "--json") == 0
    (event,) = json.loads(capsys.readouterr().out)["history"]
    assert event["reader"] == "ada" and event["action"] == "sent" and event["note"] == note
    assert (event["from_status"], event["to_status"]) == ("unknown", "sent")
    assert event["actor"] and event["at"]


def test_only_unknown_rows_are_settled_with_one_line_each(tmp_path, capsys, store_location):
    with SmtpServer() as server:
        home = project(tmp_path, server, security="none")
        with_ada_unknown(home, server, store_location)
        capsys.readouterr()
        assert run(home, "status") == 0
        assert f"`digest send --settle {DAY} READER --as sent`" in capsys.readouterr().out
        assert run(home, "send", "--settle", str(DAY), "grace", "--as", "resend") == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"error: {DAY} grace: the row is sent, not unknown"
            " (only unknown rows are settled by hand)"
        ]
        assert run(home, "send", "--settle", str(DAY), "nobody", "--as", "sent") == 1
        assert "nobody: no such row in the ledger" in capsys.readouterr().err
        assert run(home, "send", "--settle", str(DAY), "ada") == 1
        assert "needs --as sent or --as resend" in capsys.readouterr().err
        assert run(home, "send", "--settle", "yesterday", "ada", "--as", "sent") == 1
        assert "expected a date" in capsys.readouterr().err
        assert run(home, "send", "--settle", str(DAY), "ada", "--as", "sent") == 0
        # settled once: a second word on it is refused, the first stands
        assert run(home, "send", "--settle", str(DAY), "ada", "--as", "resend") == 1
        assert "the row is sent, not unknown" in capsys.readouterr().err
        assert run(home, "send") == 0
        assert received(server)["ada@example.org"] == 1
    with Store.open(store_location(home / STORE)) as store:
        assert [(e.reader, e.action) for e in store.ledger_history(DAY)] == [("ada", "sent")]
        assert Counter(d.status for d in store.deliveries(DAY)) == Counter(sent=3)
