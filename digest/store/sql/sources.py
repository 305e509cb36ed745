"""Each source's last attempt, and each URL's last fetch (for conditional GETs)."""

from __future__ import annotations

from datetime import datetime

from digest.store.rows import FetchState
from digest.store.sql.base import SqlBase


class SqlSources(SqlBase):
    """The `Sources` protocol in the SQL both backends run."""

    def record_source(
        self, source: str, location: str, *, now: datetime, error: str | None
    ) -> None:
        """Remember a source's last attempt; failures count up until the next success."""
        stamp = now.isoformat()
        with self._transaction():
            self._conn.execute(
                """INSERT INTO source_state (source, location, last_attempt, last_success,
                       last_error, consecutive_failures)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (source) DO UPDATE SET
                       location = excluded.location,
                       last_attempt = excluded.last_attempt,
                       last_success = COALESCE(excluded.last_success, source_state.last_success),
                       last_error = excluded.last_error,
                       consecutive_failures = CASE WHEN excluded.last_error IS NULL THEN 0
                           ELSE source_state.consecutive_failures + 1 END""",
                (source, location, stamp, None if error else stamp, error, 1 if error else 0),
            )

    def failing_sources(self) -> list[tuple[str, str]]:
        """(source, last error) of the sources whose last attempt failed, by name."""
        rows = self._conn.execute(
            "SELECT source, last_error FROM source_state WHERE last_error IS NOT NULL"
            " ORDER BY source"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def source_failures(self, source: str) -> int:
        row = self._conn.execute(
            "SELECT consecutive_failures FROM source_state WHERE source = ?", (source,)
        ).fetchone()
        return int(row[0]) if row else 0

    def fetch_state(self, url: str) -> FetchState | None:
        """What the last fetch of `url` left: validators, status, where it moved."""
        row = self._conn.execute("SELECT * FROM fetch_state WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        return FetchState(
            url=row["url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            status=row["status"],
            moved_to=row["moved_to"],
            fetched=datetime.fromisoformat(row["fetched"]),
        )

    def record_fetch(self, state: FetchState, *, source: str) -> None:
        with self._transaction():
            self._conn.execute(
                """INSERT INTO fetch_state (url, source, etag, last_modified, status, moved_to,
                       fetched)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (url) DO UPDATE SET source = excluded.source,
                       etag = excluded.etag, last_modified = excluded.last_modified,
                       status = excluded.status, moved_to = excluded.moved_to,
                       fetched = excluded.fetched""",
                (
                    state.url,
                    source,
                    state.etag,
                    state.last_modified,
                    state.status,
                    state.moved_to,
                    state.fetched.isoformat(),
                ),
            )
