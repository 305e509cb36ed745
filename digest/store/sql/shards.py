"""What the shards of a sharded build (`digest build --shard K/N`) share through the store: the
day's fitted model, pickled under its corpus key, so that it is fitted once and loaded by the
others; and which shards of a day's set are done, so that the one that completes the set (and
only that one) writes the feeds and the archive.

The lock a shard holds while it fits (`model_lock`) is each backend's own: a lock file beside
the SQLite file, a session advisory lock on PostgreSQL (store/sqlite/, store/postgres/).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from digest.store.sql.base import SqlBase, utc

KEEP_MODELS = 4  # models kept; the oldest saved beyond this are removed
KEEP_DAYS = timedelta(days=30)  # a set never completed (a shard never rerun) is forgotten


class SqlModels(SqlBase):
    """The `Models` protocol's rows in the SQL both backends run (the lock is the backend's)."""

    def load_model(self, key: str) -> bytes | None:
        """The pickled model saved under `key`, or None."""
        row = self._conn.execute("SELECT data FROM models WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def save_model(self, key: str, data: bytes) -> None:
        """Keep the pickled model `data` under `key` (replacing an unreadable one), and only the
        newest KEEP_MODELS models."""
        order = self.dialect.insertion_order
        with self._transaction():
            self._conn.execute(
                "INSERT INTO models (key, data) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (key, data),
            )
            self._conn.execute(
                "DELETE FROM models WHERE key NOT IN"
                f" (SELECT key FROM models ORDER BY {order} DESC LIMIT ?)",
                (KEEP_MODELS,),
            )


class SqlShards(SqlBase):
    """The `Shards` protocol in the SQL both backends run."""

    def finish_shard(self, day: date, shard: int, shards: int, *, now: datetime) -> list[int]:
        """Record shard `shard` of `shards` done for `day`; the shards of that set done so far,
        this one included. When that is all of them the set is complete, and cleared in the same
        transaction: exactly one caller sees it complete (and publishes), and building the day
        again starts a new set."""
        key = (day.isoformat(), shards)
        with self._transaction():
            self._conn.execute(
                "DELETE FROM shards_done WHERE done < ?", (utc(now - KEEP_DAYS).isoformat(),)
            )
            self._conn.execute(
                "INSERT INTO shards_done (digest_date, shards, shard, done) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (digest_date, shards, shard) DO UPDATE SET done = excluded.done",
                (*key, shard, utc(now).isoformat()),
            )
            done = [
                int(row[0])
                for row in self._conn.execute(
                    "SELECT shard FROM shards_done WHERE digest_date = ? AND shards = ?"
                    " ORDER BY shard",
                    key,
                ).fetchall()
            ]
            if len(done) >= shards:
                self._conn.execute(
                    "DELETE FROM shards_done WHERE digest_date = ? AND shards = ?", key
                )
        return done
