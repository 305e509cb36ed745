"""`digest store copy FROM TO`: a store filled by real use (the fixture page ingested and built
through the CLI, readers, feedback, a ledger settled by hand, runs) copied SQLite -> PostgreSQL
-> PostgreSQL -> a new SQLite file, every table equal row for row and the protocol reading the
same; a target holding data refused and left as it was; a copy failing mid-way leaving the
target empty (one transaction, on either backend). On a real server (the `pg_url` fixture)."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import FIXTURES
from pg import fresh_schema, pg_server_or_skip

from digest.cli import main
from digest.errors import StoreError
from digest.models import Paper, Profile, ReaderSettings
from digest.store import FetchState, LibraryItem, LibraryPaper, Store
from digest.store.copy import TABLES, copy_store, created
from digest.store.postgres.connection import is_url
from digest.store.postgres.schema import MARK
from digest.store.postgres.schema import MIGRATIONS as POSTGRES_MIGRATIONS

NOW = datetime(2025, 8, 21, 6, 30, tzinfo=UTC)
DAY = date(2025, 8, 20)
PAGE = "000_136fd171620bccff.txt"
CONFIG = f"""\
store: out/store.sqlite3
sources:
  - {{name: aug, kind: hf_text, path: pages/{PAGE}, date: 2025-08-20}}
readers:
  - name: ada
    interests: {{keywords: [network pruning, quantization, knowledge distillation]}}
  - name: grace
    interests: {{keywords: [gaussian splatting, novel view synthesis]}}
"""
# how each table's rows are compared: by primary key; delivery_events as its rows were written
# (SQLite's rowid, PostgreSQL's seq), signup_requests (no key) by every column
ORDER = {
    "papers": "id",
    "sightings": "paper_id, source, digest_date",
    "source_state": "source",
    "runs": "id",
    "paper_aliases": "alias",
    "fetch_state": "url",
    "feedback": "reader, paper_id",
    "digests": "reader, digest_date",
    "digest_papers": "reader, digest_date, position",
    "readers": "name",
    "deliveries": "digest_date, reader",
    "send_days": "digest_date",
    "delivery_events": "",
    "signup_requests": "at, address",
    "send_pacing": "one",
    "models": "key",
    "shards_done": "digest_date, shards, shard",
    "library_papers": "id",
    "library_entries": "reader, position",
    "libraries": "reader",
    "reader_settings": "reader",
}


@pytest.fixture
def filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An SQLite store with a row in every table: the page ingested and built by `digest run`,
    feedback given with `digest feedback`, and the rest through the store: a paper merged under
    its arXiv id (an alias), a fetch, a ledger with two rows settled by hand at the same moment
    (grace's first), a paused day, a signup, the send rate's next slot, a reader's own
    settings, another run."""
    monkeypatch.setenv("DIGEST_NOW", NOW.isoformat())
    (tmp_path / "pages").mkdir()
    shutil.copy(FIXTURES / "pages" / PAGE, tmp_path / "pages" / PAGE)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["--config", str(config), "run"]) == 0
    path = tmp_path / "out" / "store.sqlite3"
    with Store.open(path) as store:
        liked = store.papers(on=DAY)[0].id
    assert main(["--config", str(config), "feedback", "ada", liked, "--like"]) == 0
    with Store.open(path) as store:
        _use(store)
    return path


def _use(store: Store) -> None:
    store.add_papers("feed", [Paper("Sparse graphs", "About graphs.", digest_date=DAY)], now=NOW)
    arxiv = Paper("Sparse graphs", "About graphs.", digest_date=DAY, arxiv_id="2508.99999")
    store.add_papers("api", [arxiv], now=NOW)
    store.record_fetch(
        FetchState("https://example.org/feed", '"v1"', None, 200, None, NOW), source="aug"
    )
    store.add_reader(Profile("linus", keywords=("kernels",), email="linus@example.org"), now=NOW)
    rows = [(name, [f"{name}@example.org"]) for name in ("ada", "grace", "linus")]
    store.plan_deliveries(DAY, rows, now=NOW, give_up=NOW + timedelta(days=1))
    for _ in range(3):
        claimed = store.claim_delivery(DAY, by="gone", now=NOW)
        assert claimed is not None and store.mark_transmitting(DAY, claimed.reader, by="gone")
    store.recover_deliveries(DAY, now=NOW, lease=timedelta(0), gone=lambda by: True)
    later = NOW + timedelta(hours=1)
    store.settle_delivery(DAY, "grace", action="sent", actor="op@host", now=later, note="log")
    store.settle_delivery(DAY, "ada", action="resend", actor="op@host", now=later)
    store.pause_sending(DAY, reason="too many refusals", now=NOW)
    store.admit_signup("new@example.org", now=NOW, per_hour=10, per_address=3)
    store.take_send_slots(now=NOW, interval=timedelta(seconds=2), count=5)
    store.save_model("corpus-key", bytes(range(256)) * 4)  # binary: BLOB and BYTEA
    store.finish_shard(DAY, 1, 3, now=NOW)  # one shard of three done
    store.set_reader_settings("grace", ReaderSettings(top_k=3, cadence="mon"), now=NOW)
    store.record_run("send", started=later, seconds=0.25, summary="sent 1", report={"ok": True})
    kept = LibraryPaper(
        "title:kept", "A kept paper", "Its abstract.", doi="10.1145/3292500.3330701"
    )
    items = [LibraryItem(3, paper_id="arxiv:2508.99999"), LibraryItem(9, paper=kept)]
    store.replace_library("ada", items, origin="zotero:users/1", now=NOW, version=12)


def dump(location: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows as dicts, in ORDER's order, without PostgreSQL's `seq`."""
    with _raw(location) as (conn, insertion):
        found = {}
        for table, order in ORDER.items():
            cursor = conn.execute(f"SELECT * FROM {table} ORDER BY {order or insertion}")
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            found[table] = [{k: v for k, v in row.items() if k != "seq"} for row in rows]
        return found


@contextlib.contextmanager
def _raw(location: str | Path) -> Iterator[tuple[Any, str]]:
    if is_url(location):
        with psycopg.connect(str(location)) as conn:
            yield conn, "seq"
    else:
        with contextlib.closing(sqlite3.connect(location)) as conn:
            yield conn, "rowid"


def reads(location: str | Path) -> tuple[object, ...]:
    """What the protocol reads of a store: papers, the ledger and its history, runs, readers."""
    with Store.open(location) as store:
        ada = store.subscriber("ada")
        assert ada is not None
        return (
            store.papers(),
            store.deliveries(DAY),
            store.ledger_history(DAY),
            store.runs(10),
            store.subscribers(),
            store.feedback("ada"),
            store.digests(ada.profile),
            store.sending_paused(DAY),
            store.fetch_state("https://example.org/feed"),
        )


def test_both_backends_have_the_same_tables_made_in_the_same_order() -> None:
    assert [t for t in created(POSTGRES_MIGRATIONS) if t != MARK] == list(TABLES)
    assert set(ORDER) == set(TABLES)  # the tests compare every table


def test_a_store_goes_to_postgresql_and_back_row_for_row(
    filled: Path, tmp_path: Path, pg_url: str
) -> None:
    source = dump(filled)
    assert all(source[table] for table in TABLES), [t for t in TABLES if not source[t]]
    assert len(source["papers"]) == 82 and len(source["delivery_events"]) == 2
    told: list[tuple[int, int, str]] = []
    copied = copy_store(filled, pg_url, progress=lambda *step: told.append(step))
    assert copied == {table: len(rows) for table, rows in source.items()}
    assert list(copied) == list(TABLES)
    total = sum(copied.values())
    assert told[-1] == (total, total, TABLES[-1])
    assert dump(pg_url) == source
    with fresh_schema(pg_server_or_skip()) as other:
        assert copy_store(pg_url, other) == copied  # PostgreSQL to PostgreSQL: seq made anew
        assert dump(other) == source
        back = tmp_path / "back" / "store.sqlite3"
        assert copy_store(other, back) == copied
    assert dump(back) == source
    assert reads(back) == reads(pg_url) == reads(filled)
    with Store.open(back) as store:
        history = [(e.reader, e.action) for e in store.ledger_history(DAY)]
    assert history == [("grace", "sent"), ("ada", "resend")]  # as written, not by name


def test_runs_recorded_after_a_copy_into_postgresql_get_new_ids(filled: Path, pg_url: str) -> None:
    with Store.open(filled) as store:
        before = [r["summary"] for r in store.runs(5)]
    copy_store(filled, pg_url)
    with Store.open(pg_url) as store:
        store.record_run("run", started=NOW, seconds=1.0, summary="after", report={})
        assert [r["summary"] for r in store.runs(5)] == ["after", *before]  # ids after those copied


def test_a_target_holding_data_is_refused_and_left_as_it_was(
    filled: Path, tmp_path: Path, pg_url: str
) -> None:
    copy_store(filled, pg_url)
    before = dump(pg_url)
    with pytest.raises(StoreError, match=r"not empty \(papers holds rows\)") as found:
        copy_store(filled, pg_url)
    assert str(found.value).startswith(f"{pg_url}: ")
    assert dump(pg_url) == before
    signups = tmp_path / "signups.sqlite3"
    with Store.open(signups) as store:
        store.admit_signup("a@example.org", now=NOW, per_hour=10, per_address=3)
    before = dump(signups)
    with pytest.raises(StoreError, match=r"signups.sqlite3: not empty \(signup_requests holds"):
        copy_store(filled, signups)
    assert dump(signups) == before


def test_a_copy_failing_mid_way_into_postgresql_leaves_it_empty(filled: Path, pg_url: str) -> None:
    with Store.open(pg_url):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE deliveries ADD COLUMN extra TEXT NOT NULL")
    with pytest.raises(StoreError, match=r"cannot write deliveries: .*extra") as found:
        copy_store(filled, pg_url)
    assert str(found.value).startswith(f"{pg_url}: ") and "\n" not in str(found.value)
    _assert_empty(pg_url)


def test_a_copy_failing_mid_way_into_sqlite_leaves_it_empty(filled: Path, tmp_path: Path) -> None:
    target = tmp_path / "new.sqlite3"
    with Store.open(target):
        pass
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON delivery_events"
            " BEGIN SELECT RAISE(ABORT, 'no history here'); END"
        )
    with pytest.raises(StoreError, match=r"new\.sqlite3: cannot write delivery_events: no history"):
        copy_store(filled, target)
    _assert_empty(target)


def _assert_empty(location: str | Path) -> None:
    """Nothing but a new store's bookkeeping row: the send rate's first slot."""
    found = dump(location)
    assert found.pop("send_pacing") == [{"one": 1, "next_slot": "1970-01-01T00:00:00+00:00"}]
    assert {table: rows for table, rows in found.items() if rows} == {}


def test_the_same_store_and_a_missing_source_are_refused(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    Store.open(store).close()
    with pytest.raises(StoreError, match="FROM and TO are the same store"):
        copy_store(store, tmp_path / "." / "store.sqlite3")
    with pytest.raises(StoreError, match=r"missing\.sqlite3: no such store"):
        copy_store(tmp_path / "missing.sqlite3", tmp_path / "copy.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()
    assert not (tmp_path / "copy.sqlite3").exists()


# -- the command -------------------------------------------------------------------------------


def test_the_command_prints_each_table_and_a_summary(
    filled: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["store", "copy", str(filled), pg_url]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "papers: 82 rows" and "send_pacing: 1 row" in lines
    assert len(lines) == len(TABLES)
    assert err.startswith(f"digest store copy: {filled} -> {pg_url}; {len(TABLES)} tables, ")
    assert "counts verified" in err
    assert main(["store", "copy", str(filled), pg_url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"error: {pg_url}: not empty (papers holds rows); a store is copied only into an empty"
        " one (give a new SQLite file or an empty PostgreSQL schema)\n"
    )


def test_the_command_prints_json(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["store", "copy", str(filled), str(tmp_path / "copy.sqlite3"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == ["tables"] and printed["tables"]["papers"] == 82
    assert list(printed["tables"]) == list(TABLES)


def test_the_command_refuses_a_password_in_either_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["store", "copy", "postgresql://u:hunter2@db/news", str(tmp_path / "s.sqlite3")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument FROM: a password in the URL" in err and "hunter2" not in err
