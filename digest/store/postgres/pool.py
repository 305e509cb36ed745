"""Connections to one PostgreSQL store kept open for a process that uses several at a time
(`digest serve`, whose requests each run in a thread of their own), from psycopg's pool: a
request borrows a connection instead of opening one (a TCP connection, authentication and the
schema's checks each time).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from digest.errors import StoreError
from digest.store.postgres import PostgresStore
from digest.store.postgres.connection import CONNECT_SECONDS, LOCK_TIMEOUT, one_line, row_maker

if TYPE_CHECKING:
    from digest.store.protocol import Store

WAIT_SECONDS = 30.0  # a request waits this long for a connection when all are lent


class PostgresPool:
    """Up to `size` connections to the store at `url`, opened as they are first needed and
    checked before each loan; the store's schema is checked (and migrated) once, here."""

    def __init__(self, url: str, *, size: int, name: str = "digest") -> None:
        with PostgresStore.open(url) as first:  # a StoreError for a store this digest cannot use
            self._lock_key = first._lock_key
            self.location = first.location
        self.url = url
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={
                "autocommit": True,
                "row_factory": row_maker,
                "connect_timeout": CONNECT_SECONDS,
                "application_name": name,
            },
            configure=_configure,
            check=ConnectionPool.check_connection,
            timeout=WAIT_SECONDS,
            name=name,
            open=True,
        )

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The store on a borrowed connection, given back at the end of the block (rolled back
        first if the block left a transaction open)."""
        try:
            with self._pool.connection() as conn:
                yield PostgresStore(conn, self.url, lock_key=self._lock_key)
        except PoolTimeout:
            raise StoreError(
                f"{self.location}: no connection free after {WAIT_SECONDS:g} s",
                hint="the server may be down or overloaded; see its log",
            ) from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.location}: {one_line(exc)}") from exc

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._pool.close()


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Each new connection waits for the store's write lock as long as one of its own would."""
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
