"""The digests built, as rows: each digest's papers in order, with the reasons they were picked.

Feeds and the archive read them back, so a reader's feed lists the papers they were sent, not a
ranking made again later with other feedback. The loosely related papers (`Digest.near`) follow
the matches, `"loose": true` in their reasons; a row without the key (built before there were
near misses) is a match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from digest.models import Digest, Profile, Scored, StoredPaper, Term
from digest.store.sql.base import Db, Row
from digest.store.sql.library import library_papers
from digest.store.sql.papers import SqlPapers

CHUNK = 500  # digests saved per transaction (see `save_digests`)


def save(conn: Db, digests: Sequence[Digest]) -> None:
    """The digests remembered, each replacing any built before for the same reader and date (the
    last given, should one come twice): three statements for the whole batch."""
    latest = {(d.reader.name, d.date.isoformat()): d for d in digests}
    if not latest:
        return
    conn.executemany("DELETE FROM digest_papers WHERE reader = ? AND digest_date = ?", list(latest))
    conn.executemany(
        """INSERT INTO digests (reader, digest_date, candidates, built) VALUES (?, ?, ?, ?)
           ON CONFLICT (reader, digest_date)
           DO UPDATE SET candidates = excluded.candidates, built = excluded.built""",
        [(*key, d.candidates, d.generated.isoformat()) for key, d in latest.items()],
    )
    conn.executemany(
        "INSERT INTO digest_papers (reader, digest_date, position, paper_id, score, reasons)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (*key, position, item.paper.id, item.score, json.dumps(_reasons(item, loose)))
            for key, digest in latest.items()
            for position, (item, loose) in enumerate(_shown(digest))
        ],
    )


def _shown(digest: Digest) -> list[tuple[Scored, bool]]:
    """The digest's papers in order, each with whether it is loosely related (a near miss)."""
    return [(item, False) for item in digest.papers] + [(item, True) for item in digest.near]


def _reasons(item: Scored, loose: bool) -> dict[str, object]:
    reasons: dict[str, object] = {
        "terms": [[t.term, t.weight] for t in item.terms],
        "closest": item.closest.id if item.closest else None,
        "closeness": item.closeness,
        "popularity": item.popularity,
        "authors": list(item.authors),
    }
    if loose:
        reasons["loose"] = True
    return reasons


def rows(conn: Db, reader: str, since: date | None) -> list[Row]:
    return list(
        conn.execute(
            """SELECT d.digest_date, d.candidates, d.built, p.position, p.paper_id, p.score,
                      p.reasons
               FROM digests d LEFT JOIN digest_papers p
                 ON p.reader = d.reader AND p.digest_date = d.digest_date
               WHERE d.reader = ? AND d.digest_date >= ?
               ORDER BY d.digest_date, p.position""",
            (reader, (since or date.min).isoformat()),
        ).fetchall()
    )


def paper_ids(found: Sequence[Row]) -> list[str]:
    ids = [r["paper_id"] for r in found if r["paper_id"]]
    ids += [c for r in found if r["reasons"] and (c := json.loads(r["reasons"])["closest"])]
    return list(dict.fromkeys(ids))


def digests(
    reader: Profile, found: Sequence[Row], papers: Mapping[str, StoredPaper]
) -> list[Digest]:
    """Digest records from the rows; a paper no longer in the store is left out."""
    out: list[Digest] = []
    by_day: dict[str, list[Row]] = {}
    for row in found:
        by_day.setdefault(row["digest_date"], []).append(row)
    for day, group in by_day.items():
        items = [
            _scored(row, papers)
            for row in group
            if row["paper_id"] is not None and row["paper_id"] in papers
        ]
        out.append(
            Digest(
                reader=reader,
                date=date.fromisoformat(day),
                papers=tuple(s for s in items if not s.loose),
                candidates=group[0]["candidates"],
                generated=datetime.fromisoformat(group[0]["built"]),
                near=tuple(s for s in items if s.loose),
            )
        )
    return out


def _scored(row: Row, papers: Mapping[str, StoredPaper]) -> Scored:
    why = json.loads(row["reasons"])
    return Scored(
        papers[row["paper_id"]],
        row["score"],
        tuple(Term(t, w) for t, w in why["terms"]),
        closest=papers.get(why["closest"]) if why["closest"] else None,
        closeness=why["closeness"],
        popularity=why["popularity"],
        authors=tuple(why["authors"]),
        loose=why.get("loose") is True,
    )


class SqlBuiltDigests(SqlPapers):
    """The `BuiltDigests` protocol in SQL (its papers read as `find` reads them)."""

    def save_digests(self, digests: Sequence[Digest]) -> None:
        """Remember the digests built, replacing any built before for the same reader and date.
        CHUNK digests per transaction, so that another writer of the store (a shard building
        the same day beside this one) waits a moment, not the whole save; a build stopped
        halfway is simply built again."""
        for start in range(0, len(digests), CHUNK):
            with self._transaction():
                save(self._conn, digests[start : start + CHUNK])

    def digests(self, reader: Profile, *, since: date | None = None) -> list[Digest]:
        """The digests built for `reader` (from `since` on), oldest first."""
        found = rows(self._conn, reader.name, since)
        ids = paper_ids(found)
        papers = {p.id: p for p in self.find(ids)}
        # a liked paper a reason names may be a library paper (store/sql/library.py)
        papers |= {p.id: p for p in library_papers(self._conn, [i for i in ids if i not in papers])}
        return digests(reader, found, papers)
