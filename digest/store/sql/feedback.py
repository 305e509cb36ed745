"""What each reader said of a paper: liked or disliked, the newest word kept."""

from __future__ import annotations

from datetime import datetime

from digest.errors import StoreError
from digest.models import StoredPaper
from digest.store.sql.papers import SqlPapers


class SqlFeedback(SqlPapers):
    """The `Feedback` protocol in SQL (a paper is named as `find` names it)."""

    def record_feedback(self, reader: str, ref: str, *, liked: bool, now: datetime) -> StoredPaper:
        """Remember that `reader` liked (or disliked) the paper `ref` names; returns the paper."""
        found = self.find([ref])
        if not found:
            raise StoreError(f"no paper {ref!r} in the store", hint="see `digest papers`")
        (paper,) = found
        with self._transaction():
            self._conn.execute(
                """INSERT INTO feedback (reader, paper_id, label, at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (reader, paper_id)
                   DO UPDATE SET label = excluded.label, at = excluded.at""",
                (reader, paper.id, 1 if liked else -1, now.isoformat()),
            )
        return paper

    def forget_feedback(self, reader: str, paper_id: str) -> bool:
        """Take back what `reader` said of the paper `paper_id` (an undo on their page); False
        when they had said nothing of it."""
        with self._transaction():
            cursor = self._conn.execute(
                "DELETE FROM feedback WHERE reader = ? AND paper_id = ?", (reader, paper_id)
            )
            return cursor.rowcount == 1

    def feedback(self, reader: str) -> tuple[list[StoredPaper], list[StoredPaper]]:
        """The papers `reader` liked and those they disliked, oldest word first."""
        rows = self._conn.execute(
            "SELECT paper_id, label FROM feedback WHERE reader = ? ORDER BY at, paper_id",
            (reader,),
        ).fetchall()
        liked = self.find([r["paper_id"] for r in rows if r["label"] > 0])
        disliked = self.find([r["paper_id"] for r in rows if r["label"] < 0])
        return liked, disliked
