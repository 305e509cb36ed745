"""What the SQL both backends run stands on: the connection (`Db`, the small part of a DB-API
connection the aggregates use), the transaction, and the few fragments where SQLite and
PostgreSQL spell a thing differently (`Dialect`).

The aggregates (papers.py, readers.py, ledger.py, ...) are written once, in the SQL both speak,
with `?` and `:name` placeholders; each backend (store/sqlite/, store/postgres/) gives them its
connection, its transactions and its dialect.
"""

from __future__ import annotations

from collections.abc import Iterable
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

    def json_text(self, column: str, key: str) -> str:
        """The JSON text under `key` of the JSON document in `column`."""
        if self.name == "sqlite":
            return f"json_extract({column}, '$.{key}')"
        return f"({column}::json ->> '{key}')"


SQLITE = Dialect(
    "sqlite",
    defer_foreign_keys="PRAGMA defer_foreign_keys = ON",
    insertion_order="rowid",
    claim_lock="",  # BEGIN IMMEDIATE already holds the whole file's write lock
    row_lock="",
)
POSTGRESQL = Dialect(
    "postgresql",
    defer_foreign_keys="SET CONSTRAINTS ALL DEFERRED",
    insertion_order="seq",
    claim_lock=" FOR UPDATE OF d SKIP LOCKED",
    row_lock=" FOR UPDATE",
)


class SqlBase:
    """The store's connection as the aggregates see it; a backend's connection class supplies
    `_conn`, `location`, `dialect`, `errors` and `_transaction`."""

    _conn: Db
    location: str  # where the store is, for messages (never a password)
    dialect: Dialect
    errors: tuple[type[Exception], ...]  # the driver's errors

    def _transaction(self, *, shared: bool = False) -> AbstractContextManager[Db]:
        """All or nothing. Writers take turns (SQLite's write lock, PostgreSQL's store lock),
        except `shared` transactions of the ledger's hot path, which lock only their rows."""
        raise NotImplementedError


def utc(moment: datetime) -> datetime:
    """Times in the store are UTC, so they compare as text."""
    if moment.tzinfo is None:
        raise ValueError("store times must be timezone-aware")
    return moment.astimezone(UTC)


__all__ = ["POSTGRESQL", "SQLITE", "Cursor", "Db", "Dialect", "Row", "SqlBase", "utc"]
