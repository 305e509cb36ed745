"""The SQLite store: the one backend of the `Store` protocol (store/protocol.py), and the only
code that speaks SQL. The SQL is kept plain so the same statements can later run on PostgreSQL.

One mixin per aggregate, each over the shared connection, composed into `SqliteStore`:

- connection.py: opening the file, its schema checks and migrations (schema.py), transactions,
  the application id, `check` and `backup` (the `Upkeep` protocol);
- papers.py and feedback.py: papers merged over their sightings (store/merge.py decides), and
  what each reader said of them;
- built.py: the digests built, each reader's papers in order with why they were picked;
- sources.py and runs.py: each source's last attempt and fetch, each command's run;
- readers.py and signups.py: readers and their links' version, the subscribe form's budgets;
- ledger.py, behind deliveries.py: the send ledger, sent exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.store.sqlite.built import SqliteBuiltDigests
from digest.store.sqlite.connection import is_store
from digest.store.sqlite.deliveries import SqliteLedger
from digest.store.sqlite.feedback import SqliteFeedback
from digest.store.sqlite.papers import SqlitePapers
from digest.store.sqlite.readers import SqliteReaders
from digest.store.sqlite.runs import SqliteRuns
from digest.store.sqlite.signups import SqliteSignups
from digest.store.sqlite.sources import SqliteSources

if TYPE_CHECKING:
    from digest.store.protocol import Store

__all__ = ["SqliteStore", "is_store"]


class SqliteStore(
    SqliteFeedback,
    SqliteBuiltDigests,
    SqlitePapers,
    SqliteSources,
    SqliteRuns,
    SqliteReaders,
    SqliteSignups,
    SqliteLedger,
):
    """A digest store on one SQLite file, implementing the `Store` protocol (store/protocol.py).
    Use `Store.open(path)`; close with `close()` or `with`."""


if TYPE_CHECKING:

    def _implements(store: SqliteStore) -> Store:
        return store  # mypy checks that the SQLite store is every part of the protocol
