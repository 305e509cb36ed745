"""What the SQL both backends run stands on: the connection (`Db`, the small part of a DB-API
connection the aggregates use), the transaction, and the few fragments where SQLite and
PostgreSQL spell a thing differently (`Dialect`).

The aggregates (papers.py, readers.py, ledger.py, ...) are written once, in the SQL both speak,
with `?` and `:name` placeholders; each backend (store/sqlite/, store/postgres/) gives them its
connection, its transactions and its dialect.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

Row = Any  # a row read by index or by column name (sqlite3.Row, or postgres.Row)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Db(Protocol):
    """The connection the aggregates' SQL runs on."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """The fragments the backends spell differently."""

    name: str  # "sqlite" or "postgresql"
    defer_foreign_keys: str  # checks of foreign keys deferred to the end of the transaction
    insertion_order: str  # a column that orders a table's rows as they were inserted
    claim_lock: str  # appended to the claim's SELECT: row locks that other senders skip
    row_lock: str  # appended to a SELECT whose rows the transaction then updates
    json_field: str  # the JSON text under `{key}` of the JSON document in `{column}`

    def json_text(self, column: str, key: str) -> str:
        """The JSON text under `key` of the JSON document in `column`."""
        return self.json_field.format(column=column, key=key)


SQLITE = Dialect(
    "sqlite",
    defer_foreign_keys="PRAGMA defer_foreign_keys = ON",
    insertion_order="rowid",
    claim_lock="",  # BEGIN IMMEDIATE already holds the whole file's write lock
    row_lock="",
    json_field="json_extract({column}, '$.{key}')",
)
POSTGRESQL = Dialect(
    "postgresql",
    defer_foreign_keys="SET CONSTRAINTS ALL DEFERRED",
    insertion_order="seq",
    claim_lock=" FOR UPDATE OF d SKIP LOCKED",
    row_lock=" FOR UPDATE",
    json_field="({column}::json ->> '{key}')",
)


class SqlBase:
    """The store's connection as the aggregates see it; a backend's connection class supplies
    `_conn`, `location`, `dialect`, `errors` and `_transaction`, and for a copy of the whole
    store (store/copy.py) `_snapshot`, `_columns` and `_rows`."""

    _conn: Db
    location: str  # where the store is, for messages (never a password)
    dialect: Dialect
    errors: tuple[type[Exception], ...]  # the driver's errors

    def _transaction(
        self, *, shared: bool = False, single: bool = False
    ) -> AbstractContextManager[Db]:
        """All or nothing. Writers take turns (SQLite's write lock, PostgreSQL's store lock),
        except `shared` transactions of the ledger's hot path, which lock only their rows.
        `single`: the block runs one statement, which a server may run as its own transaction
        (a round trip instead of three)."""
        raise NotImplementedError

    # -- whole tables, for copying a store into another (store/copy.py) ----------------------

    def _snapshot(self) -> AbstractContextManager[object]:
        """A read-only view of the whole store as it was when the block began, so that a copy
        reads one state of it while other processes go on writing."""
        raise NotImplementedError

    def _columns(self, table: str) -> list[str]:
        """The columns of `table` a copy reads and writes, in the table's order: all but those
        the database always fills itself (PostgreSQL's `delivery_events.seq`)."""
        raise NotImplementedError

    def _rows(
        self, table: str, columns: Sequence[str], *, batch: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of `table` (those columns), `batch` rows at a time, in a stable order: by
        primary key, else as the rows were inserted. Run inside `_snapshot`."""
        raise NotImplementedError

    def _move_identity(self, table: str) -> None:
        """After rows were inserted with their ids: the ids the database makes next follow the
        highest stored. SQLite's `INTEGER PRIMARY KEY` does so by itself."""

    def _holds_rows(self, table: str) -> bool:
        found = self._conn.execute(f"SELECT 1 FROM {quoted(table)} LIMIT 1").fetchone()
        return found is not None

    def _count(self, table: str) -> int:
        return int(self._conn.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0])

    def _clear(self, table: str) -> None:
        self._conn.execute(f"DELETE FROM {quoted(table)}")

    def _insert_many(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        names = ", ".join(quoted(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        self._conn.executemany(f"INSERT INTO {quoted(table)} ({names}) VALUES ({marks})", rows)


def quoted(name: str) -> str:
    """A table's or column's name as an SQL identifier (both backends quote with `"`)."""
    return '"' + name.replace('"', '""') + '"'


def utc(moment: datetime) -> datetime:
    """Times in the store are UTC, so they compare as text."""
    if moment.tzinfo is None:
        raise ValueError("store times must be timezone-aware")
    return moment.astimezone(UTC)


__all__ = ["POSTGRESQL", "SQLITE", "Cursor", "Db", "Dialect", "Row", "SqlBase", "quoted", "utc"]
