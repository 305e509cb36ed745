"""Readers' libraries: each reader's entries (replaced whole by each import), each a stored paper
or a library paper (`library_papers`: texts for profiles, never a digest's candidate), and where
each library was last imported from.

An entry names a stored paper by the id it had when matched; a paper renamed since (a title-only
paper that arrived with its arXiv id) is found through its alias. Library papers no entry names
any more are removed with the import that dropped them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from digest.models import StoredPaper, title_key
from digest.store.rows import LibraryItem, LibraryPaper, LibraryState, Matches
from digest.store.sql.base import Db, Row, SqlBase, utc
from digest.store.sql.papers import SQL_BATCH, SqlPapers

_KEYS = {"arxiv": "arxiv_id", "title": "title_key"}


class SqlLibrary(SqlPapers, SqlBase):
    """The `Libraries` protocol in the SQL both backends run."""

    def match_papers(
        self,
        *,
        arxiv_ids: Collection[str] = (),
        dois: Collection[str] = (),
        title_keys: Collection[str] = (),
    ) -> Matches:
        """The stored papers and library papers these arXiv ids, DOIs and title keys name. A
        stored paper has a DOI when its link is the DOI's (doi.org)."""
        papers: dict[tuple[str, str], str] = {}
        library: dict[tuple[str, str], str] = {}
        for kind, values in (("arxiv", arxiv_ids), ("title", title_keys)):
            column = _KEYS[kind]
            for value, pid in self._by(
                "papers", column, values, order="arxiv_id IS NULL, first_seen, id"
            ):
                papers.setdefault((kind, value), pid)
            for value, pid in self._by("library_papers", column, values, order="id"):
                library.setdefault((kind, value), pid)
        for value, pid in self._by("library_papers", "doi", dois, order="id"):
            library.setdefault(("doi", value), pid)
        if dois:
            wanted = set(dois)
            rows = self._conn.execute(
                "SELECT id, url FROM papers WHERE url LIKE ? ORDER BY first_seen, id",
                ("%doi.org/10.%",),
            ).fetchall()
            for row in rows:
                doi = row["url"].split("doi.org/", 1)[1].lower()
                if doi in wanted:
                    papers.setdefault(("doi", doi), row["id"])
        return Matches(papers, library)

    def _by(
        self, table: str, column: str, values: Collection[str], *, order: str
    ) -> list[tuple[str, str]]:
        """(value, id) of the rows of `table` whose `column` is one of `values`."""
        found: list[tuple[str, str]] = []
        wanted = sorted(set(values))
        for start in range(0, len(wanted), SQL_BATCH):
            batch = wanted[start : start + SQL_BATCH]
            marks = ", ".join("?" * len(batch))
            rows = self._conn.execute(
                f"SELECT {column}, id FROM {table} WHERE {column} IN ({marks}) ORDER BY {order}",
                batch,
            ).fetchall()
            found += [(r[0], r[1]) for r in rows]
        return found

    def replace_library(
        self,
        reader: str,
        items: Sequence[LibraryItem],
        *,
        origin: str,
        now: datetime,
        digest: str | None = None,
        version: int | None = None,
        unmatched: int = 0,
    ) -> None:
        """The reader's library replaced whole by `items`, in one transaction: their library
        papers stored (a paper stored before takes the newer texts), their previous entries
        dropped, and the library papers nobody's library names any more removed."""
        stamp = utc(now).isoformat()
        with self._transaction():
            conn = self._conn
            for item in items:
                if item.paper is not None:
                    _store_paper(conn, item.paper, stamp)
            conn.execute("DELETE FROM library_entries WHERE reader = ?", (reader,))
            conn.executemany(
                """INSERT INTO library_entries (reader, position, line, paper_id, library_id)
                   VALUES (?, ?, ?, ?, ?)""",
                [
                    (reader, n, item.line, item.paper_id, item.library_paper)
                    for n, item in enumerate(items)
                ],
            )
            conn.execute(
                "DELETE FROM library_papers"
                " WHERE id NOT IN (SELECT library_id FROM library_entries"
                " WHERE library_id IS NOT NULL)"
            )
            conn.execute(
                """INSERT INTO libraries (reader, origin, digest, version, entries, unmatched,
                       imported)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (reader) DO UPDATE SET origin = excluded.origin,
                       digest = excluded.digest, version = excluded.version,
                       entries = excluded.entries, unmatched = excluded.unmatched,
                       imported = excluded.imported""",
                (reader, origin, digest, version, len(items), unmatched, stamp),
            )

    def library(self, reader: str) -> list[StoredPaper]:
        """The papers of the reader's library, in its order: stored papers (with their
        sightings) and library papers (with none)."""
        rows = self._conn.execute(
            """SELECT e.position, COALESCE(a.paper_id, e.paper_id) AS paper_id, e.library_id
               FROM library_entries e LEFT JOIN paper_aliases a ON a.alias = e.paper_id
               WHERE e.reader = ? ORDER BY e.position""",
            (reader,),
        ).fetchall()
        papers = [r["paper_id"] for r in rows if r["paper_id"]]
        kept = [r["library_id"] for r in rows if r["library_id"]]
        stored = {p.id: p for p in self._papers_by_id(papers)}
        ours = {p.id: p for p in library_papers(self._conn, kept)}
        found = [stored.get(r["paper_id"]) or ours.get(r["library_id"]) for r in rows]
        return [p for p in found if p is not None]

    def _papers_by_id(self, ids: list[str]) -> list[StoredPaper]:
        rows: list[Row] = []
        for start in range(0, len(ids), SQL_BATCH):
            batch = ids[start : start + SQL_BATCH]
            marks = ", ".join("?" * len(batch))
            rows += self._select_papers(f"WHERE p.id IN ({marks})", tuple(batch))
        return self._with_sightings(rows)

    def library_state(self, reader: str) -> LibraryState | None:
        row = self._conn.execute("SELECT * FROM libraries WHERE reader = ?", (reader,)).fetchone()
        if row is None:
            return None
        return LibraryState(
            reader=row["reader"],
            origin=row["origin"],
            digest=row["digest"],
            version=row["version"],
            entries=row["entries"],
            unmatched=row["unmatched"],
            imported=datetime.fromisoformat(row["imported"]),
        )


def _store_paper(conn: Db, paper: LibraryPaper, stamp: str) -> None:
    conn.execute(
        """INSERT INTO library_papers (id, arxiv_id, doi, title, title_key, abstract, authors,
               url, added, updated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET arxiv_id = excluded.arxiv_id, doi = excluded.doi,
               title = excluded.title, title_key = excluded.title_key,
               abstract = excluded.abstract, authors = excluded.authors, url = excluded.url,
               updated = excluded.updated""",
        (
            paper.id,
            paper.arxiv_id,
            paper.doi,
            paper.title,
            title_key(paper.title),
            paper.abstract,
            json.dumps(list(paper.authors), ensure_ascii=False),
            paper.url,
            stamp,
            stamp,
        ),
    )


def library_papers(conn: Db, ids: list[str]) -> list[StoredPaper]:
    """The library papers of these ids, as ranking reads papers (unknown ids are skipped)."""
    rows: list[Row] = []
    for start in range(0, len(ids), SQL_BATCH):
        batch = ids[start : start + SQL_BATCH]
        marks = ", ".join("?" * len(batch))
        query = f"SELECT * FROM library_papers WHERE id IN ({marks})"
        rows += conn.execute(query, batch).fetchall()
    return [_library_paper(r) for r in rows]


def _library_paper(row: Row) -> StoredPaper:
    """A library paper as ranking reads papers: no sightings, no dates."""
    return StoredPaper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        arxiv_id=row["arxiv_id"],
        authors=tuple(json.loads(row["authors"])),
        url=row["url"],
        pdf_url=None,
        code_url=None,
        project_url=None,
        categories=(),
        published=None,
        dates=(),
        sources=(),
    )
