"""`digest.store.pool`: stores for a process that uses several at a time (`digest serve`'s request
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
from digest.store import Store, pool

NOW = datetime(2025, 8, 20, 6, 0, tzinfo=UTC)


@pytest.fixture
def location(store_location: StoreLocation, tmp_path: Path) -> str:
    return str(store_location(tmp_path / "store.sqlite3"))


def test_threads_side_by_side_each_have_a_store_of_their_own(location: str) -> None:
    stores = pool(location, size=3)
    gate = threading.Barrier(3)
    failures: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            with stores.store() as store:
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
    stores.close()
    assert not failures
    with Store.open(location) as store:
        assert len(store.subscribers("active")) == 15


def test_a_failed_block_gives_its_store_back_and_the_next_block_works(location: str) -> None:
    stores = pool(location, size=1)
    with pytest.raises(RuntimeError), stores.store() as store:
        store.add_reader(Profile("ada", keywords=("x",), email="ada@x.org"), now=NOW)
        raise RuntimeError("stopped halfway")
    with stores.store() as store:  # the one connection (PostgreSQL), lent again
        store.add_reader(Profile("bob", keywords=("x",), email="bob@x.org"), now=NOW)
        assert [s.name for s in store.subscribers("active")] == ["ada", "bob"]
    stores.close()


def test_a_pooled_connection_the_server_ended_is_replaced(pg_url: str) -> None:
    """A connection the server dropped while it sat in the pool (a restart, an idle timeout) is
    found dead before the loan and replaced: the request never sees it."""
    stores = pool(pg_url, size=1)
    try:
        with stores.store() as store:
            first = store._conn.raw.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (first,))
        with stores.store() as store:
            assert store._conn.raw.info.backend_pid != first  # type: ignore[attr-defined]
            assert store.subscribers("active") == []
    finally:
        stores.close()


def test_postgresql_connections_are_kept_and_lent_not_opened_per_use(pg_url: str) -> None:
    stores = pool(pg_url, size=2)
    try:
        pids = set()
        for n in range(20):
            with stores.store() as store:
                name = f"r{n}"
                store.add_reader(Profile(name, keywords=("x",), email=f"{name}@x.org"), now=NOW)
                pids.add(store._conn.raw.info.backend_pid)  # type: ignore[attr-defined]
        assert 1 <= len(pids) <= 2  # twenty uses, the pool's two connections at most
    finally:
        stores.close()
    with psycopg.connect(pg_url) as conn:  # closed with the pool
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),)
        ).fetchone()
    assert found is not None and found[0] == 0


def test_a_pool_on_a_server_that_is_not_there_is_one_clear_error() -> None:
    with pytest.raises(StoreError) as caught:
        pool("postgresql://digest@127.0.0.1:9/digest?connect_timeout=2", size=2)
    assert "127.0.0.1:9/digest" in str(caught.value) and "cannot open the store" in str(
        caught.value
    )
    assert "\n" not in str(caught.value)
