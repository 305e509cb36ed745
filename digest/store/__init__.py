"""The store: everything digest keeps, behind the `Store` protocol (protocol.py), one protocol
per aggregate. `Store.open(path)` opens the one backend, SQLite (sqlite/, the only code that
speaks SQL). A paper's merge over its sightings is merge.py's, whatever the backend; the records
the store hands out are in rows.py.
"""

from __future__ import annotations

from digest.store.protocol import Store, StorePool, pool
from digest.store.rows import (
    FetchState,
    IngestResult,
    LibraryItem,
    LibraryPaper,
    LibraryState,
    Matches,
    Run,
    RunSources,
)
from digest.store.sqlite import SqliteStore, is_store
from digest.store.sqlite.schema import MIGRATIONS

__all__ = [
    "MIGRATIONS",
    "FetchState",
    "IngestResult",
    "LibraryItem",
    "LibraryPaper",
    "LibraryState",
    "Matches",
    "Run",
    "RunSources",
    "SqliteStore",
    "Store",
    "StorePool",
    "is_store",
    "pool",
]
