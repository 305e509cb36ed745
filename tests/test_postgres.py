"""The PostgreSQL store end to end, on a real server (the `pg_url` fixture: a schema of its own
per test; skipped without a server, failed without one in CI): choosing it by `store:`,
DIGEST_STORE and --store, a whole `digest run` giving the same digests as on SQLite, its schema
checks, senders side by side claiming each row once, and backups by pg_dump.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from helpers import FIXTURES

from digest.app import wiring
from digest.cli import main
from digest.config.checks import store_location
from digest.errors import ConfigError, StoreError
from digest.models import Paper, Profile
from digest.schedule import scheduler_lock
from digest.store import Store
from digest.store.postgres import PostgresStore
from digest.store.postgres.connection import SchedulerLock as PostgresSchedulerLock
from digest.store.postgres.connection import translate, without_password
from digest.store.postgres.schema import MIGRATIONS

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
DAY = date(2025, 8, 20)
PAGE = "000_136fd171620bccff.txt"
CONFIG = f"""\
store: {{store}}
sources:
  - {{{{name: aug, kind: hf_text, path: pages/{PAGE}, date: 2025-08-20}}}}
readers:
  - name: ada
    interests: {{{{keywords: [network pruning, quantization, knowledge distillation]}}}}
  - name: grace
    interests: {{{{keywords: [gaussian splatting, novel view synthesis]}}}}
"""


def project(folder: Path, store: str) -> Path:
    (folder / "pages").mkdir(parents=True)
    shutil.copy(FIXTURES / "pages" / PAGE, folder / "pages" / PAGE)
    (folder / "config.yaml").write_text(CONFIG.format(store=store), encoding="utf-8")
    return folder / "config.yaml"


# -- where the store is ------------------------------------------------------------------------


def test_a_path_is_sqlite_and_a_postgresql_url_is_postgresql(tmp_path: Path) -> None:
    assert store_location("out/s.sqlite3", base=tmp_path) == tmp_path / "out" / "s.sqlite3"
    url = "postgresql://digest@db.example.org:5432/news"
    assert store_location(url, base=tmp_path) == url
    assert (
        store_location("postgres://digest@db/news", base=tmp_path) == "postgresql://digest@db/news"
    )
    for bad, says in [
        ("mysql://u@h/db", "got a mysql:// URL"),
        ("postgresql://u:secret@h/db", "PGPASSWORD"),
        ("postgresql://u@h/db?password=secret", "PGPASSWORD"),
        ("postgresql://u@h:port/db", "not a PostgreSQL URL"),
    ]:
        with pytest.raises(ValueError, match=says) as found:
            store_location(bad, base=tmp_path)
        assert "secret" not in str(found.value)


def test_config_refuses_a_password_in_the_url_naming_the_key(tmp_path: Path) -> None:
    config = project(tmp_path, "postgresql://digest:hunter2@db.example.org/news")
    with pytest.raises(ConfigError) as found:
        wiring.load(config, environ={})
    (problem,) = found.value.problems
    assert problem.startswith(f"{config}: store: a password in the URL")
    assert "hunter2" not in problem


def test_digest_store_wins_over_the_config_and_store_over_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project(tmp_path, "out/config.sqlite3")
    assert wiring.load(config, environ={}).store == tmp_path / "out" / "config.sqlite3"
    named = wiring.load(config, environ={"DIGEST_STORE": "postgres://u@h/db"}).store
    assert named == "postgresql://u@h/db"
    with pytest.raises(ConfigError, match="DIGEST_STORE: expected a file path"):
        wiring.load(config, environ={"DIGEST_STORE": "ftp://h/x"})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_STORE", str(tmp_path / "env.sqlite3"))
    assert main(["--config", str(config), "ingest"]) == 0
    assert (tmp_path / "env.sqlite3").exists() and not (
        tmp_path / "out" / "config.sqlite3"
    ).exists()
    assert main(["--config", str(config), "ingest", "--store", "flag.sqlite3"]) == 0
    assert (tmp_path / "flag.sqlite3").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--config", str(config), "ingest", "--store", "postgresql://u:pw@h/db"])
    err = capsys.readouterr().err
    assert "PGPASSWORD" in err and ":pw@" not in err


def test_the_placeholders_become_psycopgs_and_quoted_text_is_left_alone() -> None:
    assert translate("SELECT * FROM t WHERE a = ? AND b = :day") == (
        "SELECT * FROM t WHERE a = %s AND b = %(day)s"
    )
    assert translate("SELECT '50% ?', x::json ->> 'k' FROM t WHERE y LIKE '%a' AND z = ?") == (
        "SELECT '50% ?', x::json ->> 'k' FROM t WHERE y LIKE '%a' AND z = %s"
    )
    assert translate("SELECT 5 % 2") == "SELECT 5 %% 2"
    assert without_password("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"


# -- the whole run on PostgreSQL -----------------------------------------------------------------


def test_a_run_on_postgresql_writes_the_digests_a_run_on_sqlite_writes(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_NOW", "2025-08-21T06:30:00+00:00")
    on_sqlite = project(tmp_path / "sqlite", "out/store.sqlite3")
    on_postgres = project(tmp_path / "postgres", "out/unused.sqlite3")
    assert main(["--config", str(on_sqlite), "run"]) == 0
    monkeypatch.setenv("DIGEST_STORE", pg_url)
    assert main(["--config", str(on_postgres), "run"]) == 0
    assert not (tmp_path / "postgres" / "out" / "unused.sqlite3").exists()
    for reader in ("ada", "grace"):
        made = [
            (folder / "out" / "digests" / reader / "2025-08-20.md").read_bytes()
            for folder in (tmp_path / "sqlite", tmp_path / "postgres")
        ]
        assert made[0] == made[1] and b"Score " in made[0]
    with Store.open(pg_url) as store:
        assert len(store.papers(on=DAY)) == 81
        assert [r["command"] for r in store.runs(5)] == ["run"]
    # a second run keeps each paper once
    assert main(["--config", str(on_postgres), "run"]) == 0
    with Store.open(pg_url) as store:
        assert len(store.papers(on=DAY)) == 81


# -- the schema --------------------------------------------------------------------------------


def _schema_of(url: str) -> str:
    return url.rpartition("search_path%3D")[2]


def test_a_store_made_by_a_newer_digest_is_refused(pg_url: str) -> None:
    with Store.open(pg_url):
        pass
    base = pg_url.partition("?")[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(
            f"UPDATE {_schema_of(pg_url)}.digest_store SET version = %s", (len(MIGRATIONS) + 1,)
        )
    with pytest.raises(StoreError, match=f"v{len(MIGRATIONS) + 1} is newer than this digest"):
        Store.open(pg_url)


def test_another_programs_tables_are_refused_and_left_alone(pg_url: str) -> None:
    base = pg_url.partition("?")[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {_schema_of(pg_url)}.invoices (id int)")
    with pytest.raises(StoreError, match=r"not a digest store \(it holds invoices\)"):
        Store.open(pg_url)
    with psycopg.connect(base, autocommit=True) as conn:
        found = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (_schema_of(pg_url),),
        ).fetchall()
    assert found == [("invoices",)]


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreError) as found:
        PostgresStore.open("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2")
    assert "cannot open the store" in str(found.value) and "secret" not in str(found.value)
    assert "\n" not in str(found.value)


# -- the ledger: senders side by side ----------------------------------------------------------


def test_senders_side_by_side_claim_each_row_once(pg_url: str) -> None:
    readers = [Profile(f"r{n:03d}", keywords=("x",), email=f"r{n}@example.org") for n in range(60)]
    with Store.open(pg_url) as store:
        for reader in readers:
            store.add_reader(reader, now=NOW)
        store.plan_deliveries(
            DAY,
            [(r.name, [r.email or ""]) for r in readers],
            now=NOW,
            give_up=NOW + timedelta(days=1),
        )
    claimed: dict[str, list[str]] = {}
    start = threading.Barrier(4)

    def sender(name: str) -> None:
        with Store.open(pg_url) as store:  # a connection of its own, as a worker has
            start.wait()
            mine = claimed.setdefault(name, [])
            while (row := store.claim_delivery(DAY, by=name, now=NOW)) is not None:
                assert store.mark_transmitting(DAY, row.reader, by=name)
                assert store.finish_delivery(DAY, row.reader, by=name, status="sent", now=NOW)
                mine.append(row.reader)

    threads = [threading.Thread(target=sender, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(r for rows in claimed.values() for r in rows)
    assert every == [r.name for r in readers]  # each row once, none left
    with Store.open(pg_url) as store:
        assert {d.status for d in store.deliveries(DAY)} == {"sent"}


# -- backups -----------------------------------------------------------------------------------


def test_backup_runs_pg_dump_and_the_dump_restores(tmp_path: Path, pg_url: str) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        if os.environ.get("CI"):
            pytest.fail("pg_dump and pg_restore are needed in CI (Debian: postgresql-client)")
        pytest.skip("pg_dump not installed")
    with Store.open(pg_url) as store:
        store.add_papers("feed", [Paper("Graphs", "About graphs.", digest_date=DAY)], now=NOW)
        store.backup(tmp_path / "store.dump")
    base, schema = pg_url.partition("?")[0], _schema_of(pg_url)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"ALTER SCHEMA {schema} RENAME TO {schema}_was")
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        subprocess.run(
            ["pg_restore", "--dbname", base, "--schema", schema, str(tmp_path / "store.dump")],
            check=True,
            capture_output=True,
        )
        with Store.open(pg_url) as restored:
            assert [p.title for p in restored.papers()] == ["Graphs"]
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema}_was CASCADE")


def test_a_failing_pg_dump_leaves_no_backup(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'pg_dump: error: connection refused' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with Store.open(pg_url) as store, pytest.raises(StoreError) as found:
        store.backup(tmp_path / "out" / "store.dump")
    assert "pg_dump failed (exit status 3): pg_dump: error: connection refused" in str(found.value)
    assert list((tmp_path / "out").iterdir()) == []


# -- one scheduler per store -------------------------------------------------------------------


def test_one_scheduler_per_postgresql_store_wherever_it_runs(tmp_path: Path, pg_url: str) -> None:
    config = wiring.load(project(tmp_path, "out/unused.sqlite3"), environ={"DIGEST_STORE": pg_url})
    first, second = scheduler_lock(config), scheduler_lock(config)
    assert isinstance(first, PostgresSchedulerLock)
    with first:
        with pytest.raises(StoreError, match="another scheduler is running on this store") as held:
            second.acquire()
        assert "server process" in str(held.value)
        with psycopg.connect(pg_url.partition("?")[0], autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA other_{_schema_of(pg_url)}")
        other = pg_url.replace("search_path%3D", "search_path%3Dother_")  # another store
        try:
            with PostgresSchedulerLock(other):
                pass
        finally:
            with psycopg.connect(pg_url.partition("?")[0], autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA other_{_schema_of(pg_url)}")
    with second:  # released: the next one may start
        pass
    assert not (tmp_path / "out" / "schedule.lock").exists()  # the store holds it, not a file
