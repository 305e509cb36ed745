"""The SQLite store, the embedded default backend of the `Store` protocol (store/protocol.py):
the aggregates' SQL (store/sql/, the same for every backend) over one SQLite file.

- connection.py: opening the file, its schema checks and migrations (schema.py), transactions,
  the application id, `check` and `backup` (the `Upkeep` protocol);
- store/sql/: papers.py and feedback.py (papers merged over their sightings, store/merge.py
  decides, and what each reader said of them); built.py (the digests built); sources.py and
  runs.py (each source's last attempt and fetch, each command's run); readers.py and
  signups.py (readers and their links' version, the subscribe form's budgets); ledger.py,
  behind deliveries.py (the send ledger, sent exactly once).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from digest.store.sql import SqlAggregates
from digest.store.sqlite.connection import SqliteConnection, is_store

if TYPE_CHECKING:
    from digest.store.protocol import Store

__all__ = ["SqlitePool", "SqliteStore", "is_store"]


class SqliteStore(SqliteConnection, SqlAggregates):
    """A digest store on one SQLite file, implementing the `Store` protocol (store/protocol.py).
    Use `Store.open(path)`; close with `close()` or `with`."""


class SqlitePool:
    """`digest.store.pool` for an SQLite file: the file opened for each block (connections belong to
    one thread; opening a local file costs little), checked and migrated once, here."""

    def __init__(self, path: Path) -> None:
        SqliteStore.open(path).close()  # a StoreError for a file this digest cannot use
        self.path = path

    @contextmanager
    def store(self) -> Iterator[Store]:
        with SqliteStore.open(self.path) as store:
            yield store

    def close(self) -> None:
        """Nothing is kept open between blocks."""


if TYPE_CHECKING:

    def _implements(store: SqliteStore) -> Store:
        return store  # mypy checks that the SQLite store is every part of the protocol
