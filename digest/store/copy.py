"""Moving an install: every table of one store copied into another, between backends (SQLite to
PostgreSQL and back), all or nothing.

Both stores are opened with `Store.open`, so each is at the current schema (the target made,
the source migrated). The target must hold no data: a new store holds only its bookkeeping rows
(`send_pacing`; PostgreSQL's `digest_store` is no data table), which the copy overwrites. The
tables are copied in the order the migrations made them (a table after those it refers to),
read from one snapshot of the source in a stable order (primary key; `delivery_events` as its
rows were written, so each row's history keeps its order), written in batches inside one
transaction on the target, then counted there: a count that differs is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from digest.errors import StoreError
from digest.store.postgres.connection import is_url
from digest.store.protocol import Store
from digest.store.sql.base import SqlBase
from digest.store.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS

Progress = Callable[[int, int, str], None]  # rows copied, rows in all, the table being copied

BATCH = 1000  # rows read and inserted at a time
BOOKKEEPING = frozenset({"send_pacing"})  # rows a new store is made with: overwritten, not data
_UNTOUCHED = "nothing was copied; the target is as it was"
_CREATE_TABLE = re.compile(r"CREATE TABLE (\w+)")


def created(migrations: Sequence[str]) -> list[str]:
    """The tables a backend's migrations make, in the order they make them."""
    return [table for script in migrations for table in _CREATE_TABLE.findall(script)]


# the data tables, in the order the migrations made them: every table after those it refers to
TABLES: tuple[str, ...] = tuple(created(SQLITE_MIGRATIONS))


def copy_store(
    source: str | Path, target: str | Path, *, progress: Progress | None = None
) -> dict[str, int]:
    """Copy every table of the store at `source` into the empty store at `target` (each an
    SQLite path or a postgresql:// URL), in one transaction on the target; the rows copied per
    table, each checked against the target's count. `progress(done, total, table)` is told
    after each batch. A StoreError names the store and what failed; the target is then left
    as it was."""
    _refuse_same(source, target)
    if not is_url(source) and not Path(source).is_file():
        raise StoreError(f"{source}: no such store", hint="FROM is an SQLite file or a URL")
    with ExitStack() as stores:
        reading = _tables_of(stores.enter_context(Store.open(source)))
        writing = _tables_of(stores.enter_context(Store.open(target)))
        with _speaking(writing, "copy into it"), writing._transaction():
            _refuse_data(writing)
            with _speaking(reading, "read it"), reading._snapshot():
                copied = _copy(reading, writing, progress)
        _verify(writing, copied)
    return copied


def _copy(reading: SqlBase, writing: SqlBase, progress: Progress | None) -> dict[str, int]:
    """Every table, in order, inside the target's transaction and the source's snapshot."""
    with _speaking(reading, "count its rows"):
        counts = {table: reading._count(table) for table in TABLES}
    total, done = sum(counts.values()), 0
    copied: dict[str, int] = {}
    for table in TABLES:
        columns = _shared_columns(reading, writing, table)
        rows = 0
        with _speaking(writing, f"write {table}"):
            if table in BOOKKEEPING:
                writing._clear(table)
        for batch in _read(reading, table, columns):
            with _speaking(writing, f"write {table}"):
                writing._insert_many(table, columns, batch)
            rows, done = rows + len(batch), done + len(batch)
            if progress is not None:
                progress(done, total, table)
        if rows != counts[table]:
            raise StoreError(
                f"{reading.location}: read {rows} rows of {table}, counted {counts[table]}",
                hint=_UNTOUCHED,
            )
        with _speaking(writing, f"write {table}"):
            writing._move_identity(table)
        copied[table] = rows
    return copied


def _shared_columns(reading: SqlBase, writing: SqlBase, table: str) -> list[str]:
    """The source's columns of `table`, every one of which the target must have (a column
    left behind would lose its data)."""
    with _speaking(reading, f"read {table}"):
        columns = reading._columns(table)
    with _speaking(writing, f"write {table}"):
        there = set(writing._columns(table))
    missing = [c for c in columns if c not in there]
    if not columns or missing:
        what = f"no column {', '.join(missing)} in" if missing else "no table"
        raise StoreError(f"{writing.location}: {what} {table}", hint=_UNTOUCHED)
    return columns


def _read(store: SqlBase, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
    """The source's rows a batch at a time, a driver's error made one line naming the source."""
    rows = store._rows(table, columns, batch=BATCH)
    while True:
        with _speaking(store, f"read {table}"):
            batch = next(rows, None)
        if batch is None:
            return
        yield batch


def _refuse_data(store: SqlBase) -> None:
    """A StoreError naming the target and its first table that holds rows, if any does."""
    for table in TABLES:
        if table in BOOKKEEPING:
            continue
        with _speaking(store, f"read {table}"):
            if store._holds_rows(table):
                raise StoreError(
                    f"{store.location}: not empty ({table} holds rows); a store is copied only"
                    " into an empty one",
                    hint="give a new SQLite file or an empty PostgreSQL schema",
                )


def _verify(store: SqlBase, copied: Mapping[str, int]) -> None:
    """Each table's count on the target, after the commit, against the rows copied into it."""
    for table, rows in copied.items():
        with _speaking(store, f"count {table}"):
            found = store._count(table)
        if found != rows:
            raise StoreError(
                f"{store.location}: {table} holds {found} rows after the copy, {rows} were copied",
                hint="something else wrote to it meanwhile: empty it and copy again",
            )


def _refuse_same(source: str | Path, target: str | Path) -> None:
    if is_url(source) or is_url(target):
        same = str(source) == str(target)
    else:
        same = Path(source).resolve() == Path(target).resolve()
    if same:
        raise StoreError(f"{target}: FROM and TO are the same store")


def _tables_of(store: Store) -> SqlBase:
    """The store's tables, as the SQL backends give them."""
    if isinstance(store, SqlBase):
        return store
    raise StoreError(f"{store.location}: this kind of store cannot be copied")


@contextmanager
def _speaking(store: SqlBase, doing: str) -> Iterator[None]:
    """A driver's error inside the block as one line naming `store` and what failed."""
    try:
        yield
    except store.errors as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise StoreError(f"{store.location}: cannot {doing}: {why}", hint=_UNTOUCHED) from None
