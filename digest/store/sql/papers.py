"""Papers kept once each, merged over every sighting (paper x source x digest date); texts are
stored exactly as the source gave them, and a new sighting is merged by store/merge.py."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from digest.errors import StoreError
from digest.models import Paper, StoredPaper, normalise_arxiv_id, paper_id, title_key
from digest.store.merge import PaperRow, merge
from digest.store.rows import IngestResult
from digest.store.sql.base import Row, SqlBase

SQL_BATCH = 500  # ids bound in one IN (...) list, well under SQLite's variable limit


class SqlPapers(SqlBase):
    """The `Papers` protocol in the SQL both backends run."""

    def add_papers(
        self, source: str, papers: Sequence[Paper], *, now: datetime, other_date: str = "add"
    ) -> IngestResult:
        """Store one source's papers in one transaction; returns how many were new.

        `other_date` says what becomes of a paper this source announced before on another date:
        "add" a sighting on the new date too (a source with a page per date), "keep" the date
        it was first seen with (a page at a fixed address read again, or under `--date`), or
        "move" this source's sighting to the new date (`--redate`)."""
        new = kept = 0
        dates: set[date] = set()
        try:
            with self._transaction():
                for paper in papers:
                    if paper.digest_date is None:
                        raise StoreError(f"{source}: paper {paper.title!r} has no digest date")
                    pid, is_new = self._upsert(paper, now)
                    if self._sight(pid, paper, source, now, other_date=other_date):
                        dates.add(paper.digest_date)
                    else:
                        kept += 1
                    new += is_new
        except self.errors as exc:
            raise StoreError(f"{self.location}: cannot store papers from {source}: {exc}") from None
        return IngestResult(seen=len(papers), new=new, dates=tuple(sorted(dates)), kept=kept)

    def _upsert(self, paper: Paper, now: datetime) -> tuple[str, bool]:
        """Insert or merge one paper; returns its stored id and whether it was new."""
        key = title_key(paper.title)
        existing = self._find_existing(paper, key)
        if existing is None:
            self._insert(paper, key, now)
            return paper.id, True
        merged = merge(paper_row(existing), paper)
        if merged.renamed_from is not None:
            self._rename(merged.renamed_from, merged.row.id)
        self._update(merged.row, now)
        return merged.row.id, False

    def _find_existing(self, paper: Paper, key: str) -> Row | None:
        conn = self._conn
        row = conn.execute("SELECT * FROM papers WHERE id = ?", (paper.id,)).fetchone()
        if row is not None:
            return row
        if paper.arxiv_id:
            # a title-only sighting of the same paper, made before its arXiv id was known
            return conn.execute(
                "SELECT * FROM papers WHERE title_key = ? AND arxiv_id IS NULL",
                (key,),
            ).fetchone()
        return conn.execute(
            "SELECT * FROM papers WHERE title_key = ? ORDER BY arxiv_id IS NULL, id LIMIT 1",
            (key,),
        ).fetchone()

    def _insert(self, paper: Paper, key: str, now: datetime) -> None:
        self._conn.execute(
            """INSERT INTO papers (id, arxiv_id, title, title_key, abstract, authors, url,
                   pdf_url, code_url, project_url, categories, keywords, published, upvotes,
                   first_seen, updated)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                paper.id,
                paper.arxiv_id,
                paper.title,
                key,
                paper.abstract,
                json.dumps(list(paper.authors)),
                paper.url,
                paper.pdf_url,
                paper.code_url,
                paper.project_url,
                json.dumps(list(paper.categories)),
                json.dumps(list(paper.keywords)),
                paper.published.isoformat() if paper.published else None,
                paper.upvotes,
                now.isoformat(),
                now.isoformat(),
            ),
        )

    def _rename(self, old: str, new: str) -> None:
        """Move a title-only paper and its sightings to its arXiv id; the old id stays an alias."""
        conn = self._conn
        conn.execute(self.dialect.defer_foreign_keys)
        conn.execute("UPDATE papers SET id = ? WHERE id = ?", (new, old))
        conn.execute("UPDATE sightings SET paper_id = ? WHERE paper_id = ?", (new, old))
        conn.execute("UPDATE paper_aliases SET paper_id = ? WHERE paper_id = ?", (new, old))
        conn.execute("UPDATE feedback SET paper_id = ? WHERE paper_id = ?", (new, old))
        conn.execute("UPDATE digest_papers SET paper_id = ? WHERE paper_id = ?", (new, old))
        conn.execute(
            "INSERT INTO paper_aliases (alias, paper_id) VALUES (?, ?)"
            " ON CONFLICT (alias) DO UPDATE SET paper_id = excluded.paper_id",
            (old, new),
        )

    def _update(self, row: PaperRow, now: datetime) -> None:
        """Write a merged paper (see store/merge.py) over the stored one."""
        self._conn.execute(
            """UPDATE papers SET arxiv_id = ?, abstract = ?, authors = ?, url = ?, pdf_url = ?,
                   code_url = ?, project_url = ?, categories = ?, keywords = ?, published = ?,
                   upvotes = ?, updated = ?
               WHERE id = ?""",
            (
                row.arxiv_id,
                row.abstract,
                json.dumps(list(row.authors)),
                row.url,
                row.pdf_url,
                row.code_url,
                row.project_url,
                json.dumps(list(row.categories)),
                json.dumps(list(row.keywords)),
                row.published,
                row.upvotes,
                now.isoformat(),
                row.id,
            ),
        )

    def _sight(
        self, pid: str, paper: Paper, source: str, now: datetime, *, other_date: str
    ) -> bool:
        """Record that `source` announced the paper on its digest date; False when the source
        had announced it on another date, which it keeps (see add_papers)."""
        assert paper.digest_date is not None
        day = paper.digest_date.isoformat()
        mine = (pid, source)
        if other_date == "move":
            self._conn.execute(
                "DELETE FROM sightings WHERE paper_id = ? AND source = ? AND digest_date <> ?",
                (*mine, day),
            )
        elif other_date == "keep":
            rows = self._conn.execute(
                "SELECT digest_date FROM sightings WHERE paper_id = ? AND source = ?", mine
            ).fetchall()
            if rows and day not in {r[0] for r in rows}:
                self._conn.execute(  # the upvotes are news, the date is not
                    "UPDATE sightings SET upvotes = COALESCE(?, upvotes)"
                    " WHERE paper_id = ? AND source = ?",
                    (paper.upvotes, *mine),
                )
                return False
        self._conn.execute(
            """INSERT INTO sightings (paper_id, source, digest_date, upvotes, seen_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (paper_id, source, digest_date)
               DO UPDATE SET upvotes = COALESCE(excluded.upvotes, sightings.upvotes)""",
            (pid, source, day, paper.upvotes, now.isoformat()),
        )
        return True

    def digest_dates(self) -> list[date]:
        rows = self._conn.execute(
            "SELECT DISTINCT digest_date FROM sightings ORDER BY digest_date"
        ).fetchall()
        return [date.fromisoformat(r[0]) for r in rows]

    def latest_date(self) -> date | None:
        dates = self.digest_dates()
        return dates[-1] if dates else None

    def papers(
        self, on: date | None = None, *, since: date | None = None, until: date | None = None
    ) -> list[StoredPaper]:
        """Every stored paper, or those sighted on one digest date, or on one from `since` to
        `until` (both included); oldest first, then by id."""
        if on is not None:
            since = until = on
        if since is None and until is None:
            rows = self._select_papers("", ())
        else:
            rows = self._select_papers(
                "WHERE p.id IN (SELECT paper_id FROM sightings "
                "WHERE digest_date >= ? AND digest_date <= ?)",
                ((since or date.min).isoformat(), (until or date.max).isoformat()),
            )
        return self._with_sightings(rows)

    def find(self, refs: Iterable[str]) -> list[StoredPaper]:
        """Papers named by arXiv id, `arxiv:`/`title:` id, or title; unknown refs are skipped."""
        found: dict[str, Row] = {}
        for ref in refs:
            row = self._find_ref(ref)
            if row is not None:
                found.setdefault(row["id"], row)
        return self._with_sightings(list(found.values()))

    def _find_ref(self, ref: str) -> Row | None:
        arxiv = normalise_arxiv_id(ref.removeprefix("arxiv:"))
        candidates = [ref, paper_id(arxiv, ref)] if arxiv else [ref]
        for pid in candidates:
            rows = self._select_papers(
                "WHERE p.id = ? OR p.id = (SELECT paper_id FROM paper_aliases WHERE alias = ?)",
                (pid, pid),
            )
            if rows:
                return rows[0]
        rows = self._select_papers("WHERE p.title_key = ?", (title_key(ref),))
        return rows[0] if rows else None

    def _select_papers(self, where: str, params: tuple[object, ...]) -> list[Row]:
        query = f"SELECT p.* FROM papers p {where} ORDER BY p.first_seen, p.id"
        return list(self._conn.execute(query, params).fetchall())

    def _with_sightings(self, rows: list[Row]) -> list[StoredPaper]:
        seen: dict[str, tuple[list[date], list[str]]] = {r["id"]: ([], []) for r in rows}
        for pid, source, day in self._sightings_of(list(seen)):
            dates, sources = seen[pid]
            if date.fromisoformat(day) not in dates:
                dates.append(date.fromisoformat(day))
            if source not in sources:
                sources.append(source)
        return [stored_paper(r, *seen[r["id"]]) for r in rows]

    def _sightings_of(self, ids: list[str]) -> list[Row]:
        """The sightings of just these papers, by date then source (ids sent in batches)."""
        found: list[Row] = []
        for start in range(0, len(ids), SQL_BATCH):
            batch = ids[start : start + SQL_BATCH]
            marks = ", ".join("?" * len(batch))
            found += self._conn.execute(
                f"SELECT paper_id, source, digest_date FROM sightings WHERE paper_id IN ({marks})",
                batch,
            ).fetchall()
        return sorted(found, key=lambda r: (r["digest_date"], r["source"]))


def paper_row(row: Row) -> PaperRow:
    """The fields of a stored paper a new sighting is merged into."""
    return PaperRow(
        id=row["id"],
        arxiv_id=row["arxiv_id"],
        abstract=row["abstract"],
        authors=tuple(json.loads(row["authors"])),
        url=row["url"],
        pdf_url=row["pdf_url"],
        code_url=row["code_url"],
        project_url=row["project_url"],
        categories=tuple(json.loads(row["categories"])),
        keywords=tuple(json.loads(row["keywords"])),
        published=row["published"],
        upvotes=row["upvotes"],
    )


def stored_paper(row: Row, dates: list[date], sources: list[str]) -> StoredPaper:
    published = row["published"]
    return StoredPaper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        arxiv_id=row["arxiv_id"],
        authors=tuple(json.loads(row["authors"])),
        url=row["url"],
        pdf_url=row["pdf_url"],
        code_url=row["code_url"],
        project_url=row["project_url"],
        categories=tuple(json.loads(row["categories"])),
        keywords=tuple(json.loads(row["keywords"])),
        published=datetime.fromisoformat(published) if published else None,
        dates=tuple(dates),
        sources=tuple(sources),
        upvotes=row["upvotes"],
    )
