"""`Store.pool`: stores for a process that uses several at a time (`digest serve`'s request
threads), on SQLite and on PostgreSQL. On PostgreSQL the connections are kept open and lent
(psycopg's pool): many uses open no more connections than the pool's size, a block that fails
inside a transaction gives back a clean connection, and the store's schema is checked once,
when the pool is made.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from pg import StoreLocation

from digest.errors import StoreError
from digest.models import Profile
from digest.store import Store

NOW = datetime(2025, 8, 20, 6, 0, tzinfo=UTC)


@pytest.fixture
def location(store_location: StoreLocation, tmp_path: Path) -> str:
    return str(store_location(tmp_path / "store.sqlite3"))


def test_threads_side_by_side_each_have_a_store_of_their_own(location: str) -> None:
    pool = Store.pool(location, size=3)
    gate = threading.Barrier(3)
    failures: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            with pool.store() as store:
                gate.wait(timeout=10)  # three blocks open at once
                for k in range(5):
                    name = f"t{n}r{k}"
                    store.add_reader(Profile(name, keywords=("x",), email=f"{name}@x.org"), now=NOW)
        except BaseException as exc:  # told to the test below
            failures.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.close()
    assert not failures
    with Store.open(location) as store:
        assert len(store.subscribers("active")) == 15


def test_a_failed_block_leaves_the_store_as_it_was_and_the_pool_usable(location: str) -> None:
    pool = Store.pool(location, size=1)
    with pytest.raises(RuntimeError), pool.store() as store:
        with store._transaction():  # type: ignore[attr-defined]
            store.add_reader(Profile("ada", keywords=("x",), email="ada@x.org"), now=NOW)
            raise RuntimeError("stopped halfway")
    with pool.store() as store:  # the one connection, clean again
        assert store.subscribers("active") == []
        store.add_reader(Profile("bob", keywords=("x",), email="bob@x.org"), now=NOW)
        assert [s.name for s in store.subscribers("active")] == ["bob"]
    pool.close()


def test_postgresql_connections_are_kept_and_lent_not_opened_per_use(pg_url: str) -> None:
    pool = Store.pool(pg_url, size=2)
    try:
        pids = set()
        for _ in range(20):
            with pool.store() as store:
                store.add_reader(Profile("ada", keywords=("x",), email="ada@x.org"), now=NOW)
                pids.add(store._conn.raw.info.backend_pid)  # type: ignore[attr-defined]
        assert len(pids) == 1  # one after the other: the same connection, twenty times
    finally:
        pool.close()
    with psycopg.connect(pg_url) as conn:  # closed with the pool
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),)
        ).fetchone()
    assert found is not None and found[0] == 0


def test_a_pool_on_a_server_that_is_not_there_is_one_clear_error() -> None:
    with pytest.raises(StoreError) as caught:
        Store.pool("postgresql://digest@127.0.0.1:9/digest?connect_timeout=2", size=2)
    assert "127.0.0.1:9/digest" in str(caught.value) and "cannot open the store" in str(
        caught.value
    )
    assert "\n" not in str(caught.value)
