"""The PostgreSQL store, for newsletters that outgrow one machine: the aggregates' SQL
(store/sql/, the same for every backend) over a PostgreSQL schema (connection.py, schema.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.store.postgres.connection import PostgresConnection, is_url, without_password
from digest.store.sql import SqlAggregates

if TYPE_CHECKING:
    from digest.store.protocol import Store

__all__ = ["PostgresStore", "is_url", "without_password"]


class PostgresStore(PostgresConnection, SqlAggregates):
    """A digest store in one PostgreSQL schema, implementing the `Store` protocol. Use
    `Store.open(url)`; close with `close()` or `with`."""


if TYPE_CHECKING:

    def _implements(store: PostgresStore) -> Store:
        return store  # mypy checks that the PostgreSQL store is every part of the protocol
