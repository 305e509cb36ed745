"""The store: the only module that speaks SQL.

One SQLite file (WAL), schema versioned by `PRAGMA user_version`. Papers are kept once each, with
every sighting (paper x source x digest date). Texts are stored exactly as the source gave them.
The SQL is kept plain so the same statements can later run on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from digest import crashpoint
from digest.errors import StoreError
from digest.models import (
    Delivery,
    Digest,
    LedgerEvent,
    Paper,
    Profile,
    StoredPaper,
    Subscriber,
    normalise_arxiv_id,
    paper_id,
    title_key,
)
from digest.store import built, ledger, schema, signups
from digest.store import readers as reader_rows
from digest.store.merge import PaperRow, merge
from digest.store.protocol import Store
from digest.store.rows import FetchState, IngestResult, Run, RunSources, paper_row, stored_paper
from digest.store.schema import APPLICATION_ID, MIGRATIONS, statements

SQL_BATCH = 500  # ids bound in one IN (...) list, well under SQLite's variable limit
_REPLACE = "give a new name, or --force to replace an older backup"
_ELSEWHERE = "back up to a new file or a folder"

__all__ = [
    "MIGRATIONS",
    "FetchState",
    "IngestResult",
    "Run",
    "RunSources",
    "SqliteStore",
    "Store",
    "is_store",
]


class SqliteStore:
    """A digest store on one SQLite file, implementing the `Store` protocol (store/protocol.py).
    Use `Store.open(path)`; close with `close()` or `with`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> SqliteStore:
        """The store at `path`, made there when the file is new or empty, migrated when it was
        made by an older digest. Another program's database, a schema version this digest
        cannot know, and a file that is not a database are refused with a StoreError."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # two senders (or a sender and `digest serve`) take turns on the write lock: the
            # busy timeout waits for it rather than failing at once
            conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the store: {exc}") from None
        conn.row_factory = sqlite3.Row
        with contextlib.ExitStack() as opening:
            store = opening.enter_context(cls(conn, path))  # closed again on any failure
            version = store._identify()  # before anything is written to the file
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            store._migrate(version)
            opening.pop_all()
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        """Close; an SQLite error on the way out (a damaged file, a full disk) becomes one
        StoreError naming the store."""
        self.close()
        if isinstance(exc, sqlite3.Error):
            raise _failure(self.path, exc) from exc

    def check(self) -> list[str]:
        """What `PRAGMA quick_check` finds wrong with the file; empty when it is sound."""
        try:
            found = [row[0] for row in self._conn.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if found == ["ok"] else found

    def backup(self, target: Path, *, force: bool = False) -> None:
        """A consistent copy of the store at `target`, made with SQLite's online backup while
        other processes go on reading and writing. The copy is written to a new file beside the
        target and passes `PRAGMA integrity_check` before it takes the target's name. An existing
        target is replaced only with `force`, and only when it is a digest store (an older
        backup): never the store itself, a config file, notes or another program's database."""
        if _same_file(target, self.path):
            raise StoreError(f"{target}: that is the store itself")
        if target.exists() or target.is_symlink():
            if not force:
                raise StoreError(f"{target}: already exists", hint=_REPLACE)
            if not is_store(target):
                raise StoreError(f"{target}: not a digest store, left as it is", hint=_ELSEWHERE)
        partial: Path | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".partial", dir=target.parent
            )
            os.close(handle)
            partial = Path(name)
            _copy(self._conn, partial, target)
            _place(partial, target, replace=force)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{target}: backup failed: {exc}") from None
        finally:
            if partial is not None:
                partial.unlink(missing_ok=True)

    def _identify(self) -> int:
        """The schema version of a file digest may use (see schema.recognise), marking a store
        made before stores were marked; a StoreError for any other file."""
        try:
            found = schema.recognise(self.path, *_header(self._conn))
            if found == "adopt":
                with self._transaction():
                    self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:  # not a database at all, or one SQLite cannot read
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None

    def _migrate(self, version: int) -> None:
        """The migrations the store lacks, one transaction each; the first marks the file as
        digest's. Each step reads the version again under the write lock: another process
        opening the same new store may have taken the step meanwhile."""
        try:
            while version < len(MIGRATIONS):
                with self._transaction():
                    version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                    if version >= len(MIGRATIONS):
                        break
                    for statement in statements(MIGRATIONS[version]):
                        self._conn.execute(statement)
                    version += 1
                    self._conn.execute(f"PRAGMA user_version = {version}")
                    self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot migrate the store: {exc}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: a failure anywhere rolls the whole block back."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            if self._conn.in_transaction:  # SQLite has already rolled back on a full disk
                self._conn.execute("ROLLBACK")
            raise
        crashpoint.step("store commit")
        self._conn.execute("COMMIT")

    # -- papers -------------------------------------------------------------------------------

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
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot store papers from {source}: {exc}") from None
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

    def _find_existing(self, paper: Paper, key: str) -> sqlite3.Row | None:
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
        conn.execute("PRAGMA defer_foreign_keys = ON")
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

    # -- reading ------------------------------------------------------------------------------

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
        found: dict[str, sqlite3.Row] = {}
        for ref in refs:
            row = self._find_ref(ref)
            if row is not None:
                found.setdefault(row["id"], row)
        return self._with_sightings(list(found.values()))

    def _find_ref(self, ref: str) -> sqlite3.Row | None:
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

    def _select_papers(self, where: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        query = f"SELECT p.* FROM papers p {where} ORDER BY p.first_seen, p.id"
        return list(self._conn.execute(query, params).fetchall())

    def _with_sightings(self, rows: list[sqlite3.Row]) -> list[StoredPaper]:
        seen: dict[str, tuple[list[date], list[str]]] = {r["id"]: ([], []) for r in rows}
        for pid, source, day in self._sightings_of(list(seen)):
            dates, sources = seen[pid]
            if date.fromisoformat(day) not in dates:
                dates.append(date.fromisoformat(day))
            if source not in sources:
                sources.append(source)
        return [stored_paper(r, *seen[r["id"]]) for r in rows]

    def _sightings_of(self, ids: list[str]) -> list[sqlite3.Row]:
        """The sightings of just these papers, by date then source (ids sent in batches)."""
        found: list[sqlite3.Row] = []
        for start in range(0, len(ids), SQL_BATCH):
            batch = ids[start : start + SQL_BATCH]
            marks = ", ".join("?" * len(batch))
            found += self._conn.execute(
                f"SELECT paper_id, source, digest_date FROM sightings WHERE paper_id IN ({marks})",
                batch,
            ).fetchall()
        return sorted(found, key=lambda r: (r["digest_date"], r["source"]))

    # -- digests built --------------------------------------------------------------------------

    def save_digests(self, digests: Sequence[Digest]) -> None:
        """Remember the digests built, replacing any built before for the same reader and date."""
        with self._transaction():
            for digest in digests:
                built.save(self._conn, digest)

    def digests(self, reader: Profile, *, since: date | None = None) -> list[Digest]:
        """The digests built for `reader` (from `since` on), oldest first."""
        rows = built.rows(self._conn, reader.name, since)
        papers = {p.id: p for p in self.find(built.paper_ids(rows))}
        return built.digests(reader, rows, papers)

    # -- sources and runs ---------------------------------------------------------------------

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

    def feedback(self, reader: str) -> tuple[list[StoredPaper], list[StoredPaper]]:
        """The papers `reader` liked and those they disliked, oldest word first."""
        rows = self._conn.execute(
            "SELECT paper_id, label FROM feedback WHERE reader = ? ORDER BY at, paper_id",
            (reader,),
        ).fetchall()
        liked = self.find([r["paper_id"] for r in rows if r["label"] > 0])
        disliked = self.find([r["paper_id"] for r in rows if r["label"] < 0])
        return liked, disliked

    def record_run(
        self,
        command: str,
        *,
        started: datetime,
        seconds: float,
        summary: str,
        report: dict[str, Any],
    ) -> None:
        with self._transaction():
            self._conn.execute(
                "INSERT INTO runs (command, started, seconds, summary, report)"
                " VALUES (?, ?, ?, ?, ?)",
                (command, started.isoformat(), seconds, summary, json.dumps(report, default=str)),
            )

    # -- readers ------------------------------------------------------------------------------

    def sync_readers(self, profiles: Sequence[Profile], *, now: datetime) -> int:
        """Load config.yaml's readers (see store/readers.py); returns how many rows changed."""
        with self._transaction():
            return reader_rows.sync(self._conn, profiles, _utc(now))

    def add_reader(
        self, profile: Profile, *, now: datetime, status: str = "active", origin: str = "cli"
    ) -> bool:
        """A new reader, or a removed one added again (True then, with new links)."""
        with self._transaction():
            return reader_rows.add(self._conn, profile, status=status, origin=origin, now=_utc(now))

    def set_reader_status(self, name: str, status: str, *, now: datetime) -> bool:
        """Subscribe, confirm, unsubscribe or remove; False for an unknown reader."""
        with self._transaction():
            return reader_rows.set_status(self._conn, name, status, _utc(now))

    def set_profile(self, profile: Profile, *, now: datetime) -> bool:
        """Replace a reader's profile (their interests, address); False for an unknown reader."""
        with self._transaction():
            return reader_rows.set_profile(self._conn, profile, _utc(now))

    def revoke_tokens(self, name: str, *, now: datetime) -> bool:
        """Invalidate every link given out to the reader so far."""
        with self._transaction():
            cursor = self._conn.execute(
                "UPDATE readers SET token_version = token_version + 1, updated = ? WHERE name = ?",
                (_utc(now).isoformat(), name),
            )
            return cursor.rowcount == 1

    def subscriber(self, name: str) -> Subscriber | None:
        row = self._conn.execute("SELECT * FROM readers WHERE name = ?", (name,)).fetchone()
        return reader_rows.subscriber(row) if row else None

    def subscribers(self, *status: str) -> list[Subscriber]:
        """Every reader (or those in one of `status`), by name."""
        query = "SELECT * FROM readers"
        if status:
            query += f" WHERE status IN ({', '.join('?' * len(status))})"
        rows = self._conn.execute(query + " ORDER BY name", status).fetchall()
        return [reader_rows.subscriber(r) for r in rows]

    def readers_by_email(self, email: str) -> list[Subscriber]:
        rows = self._conn.execute(
            "SELECT * FROM readers WHERE lower(email) = lower(?) ORDER BY name", (email,)
        ).fetchall()
        return [reader_rows.subscriber(r) for r in rows]

    def token_version(self, name: str) -> int | None:
        """The version signed into a reader's links; None for a reader the store does not know."""
        row = self._conn.execute(
            "SELECT token_version FROM readers WHERE name = ?", (name,)
        ).fetchone()
        return int(row[0]) if row else None

    def admit_signup(
        self, address: str, *, now: datetime, per_hour: int, per_address: int
    ) -> timedelta | None:
        """Count a subscribe request and let it through (None), or how long until the budget it
        is over has room (see store/signups.py); shared by every process on this store."""
        with self._transaction():
            return signups.admit(
                self._conn, address, now=_utc(now), per_hour=per_hour, per_address=per_address
            )

    def token_versions(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT name, token_version FROM readers").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # -- the send ledger (see store/ledger.py) -------------------------------------------------

    def plan_deliveries(
        self,
        day: date,
        readers: Sequence[tuple[str, Sequence[str]]],
        *,
        now: datetime,
        give_up: datetime,
    ) -> int:
        """A ledger row per (reader, addresses) for `day`, for those not already in it."""
        with self._transaction():
            return ledger.plan(self._conn, day, readers, now=_utc(now), give_up=_utc(give_up))

    def claim_delivery(
        self,
        day: date,
        *,
        by: str,
        now: datetime,
        reader: str | None = None,
        retries_only: bool = False,
    ) -> Delivery | None:
        with self._transaction():
            return ledger.claim(
                self._conn, day, by=by, now=_utc(now), reader=reader, retries_only=retries_only
            )

    def mark_transmitting(self, day: date, reader: str, *, by: str) -> bool:
        with self._transaction():
            return ledger.transmitting(self._conn, day, reader, by=by)

    def finish_delivery(
        self,
        day: date,
        reader: str,
        *,
        by: str,
        status: str,
        now: datetime,
        **outcome: Any,
    ) -> bool:
        """Record how an attempt ended (see ledger.finish for the outcome's keys)."""
        if isinstance(outcome.get("next_attempt"), datetime):
            outcome["next_attempt"] = _utc(outcome["next_attempt"])
        with self._transaction():
            return ledger.finish(
                self._conn, day, reader, by=by, status=status, now=_utc(now), **outcome
            )

    def recover_deliveries(
        self, day: date, *, now: datetime, lease: timedelta, gone: Callable[[str], bool]
    ) -> int:
        with self._transaction():
            return ledger.recover(self._conn, day, now=_utc(now), lease=lease, gone=gone)

    def expire_deliveries(self, day: date, *, now: datetime) -> int:
        with self._transaction():
            return ledger.expire(self._conn, day, now=_utc(now))

    def deliveries(self, day: date) -> list[Delivery]:
        return ledger.rows(self._conn, day)

    def settle_delivery(
        self, day: date, reader: str, *, action: str, actor: str, now: datetime, note: str = ""
    ) -> Delivery:
        """Settle an `unknown` row by hand (see ledger.settle); a StoreError for any other."""
        with self._transaction():
            return ledger.settle(
                self._conn, day, reader, action=action, actor=actor, now=_utc(now), note=note
            )

    def ledger_history(self, day: date) -> list[LedgerEvent]:
        return ledger.history(self._conn, day)

    def next_due(self, day: date) -> datetime | None:
        return ledger.next_due(self._conn, day)

    def delivery_dates(self) -> list[date]:
        return ledger.dates(self._conn)

    def pause_sending(self, day: date, *, reason: str, now: datetime) -> None:
        with self._transaction():
            ledger.pause(self._conn, day, reason=reason, now=_utc(now))

    def resume_sending(self, day: date) -> bool:
        with self._transaction():
            return ledger.resume(self._conn, day)

    def sending_paused(self, day: date) -> str | None:
        return ledger.paused(self._conn, day)

    def last_run(self, command: str | None = None) -> Run | None:
        """The newest run (of `command`, if given): command, started (ISO), seconds, summary
        line, and `ok`: False when a source or a digest failed, or the run said it failed."""
        runs = self.runs(1, command=command)
        return runs[0] if runs else None

    def runs(self, count: int, *, command: str | None = None) -> list[Run]:
        """The newest `count` runs, newest first (see `last_run`), with their reports."""
        where, params = ("WHERE command = ?", (command,)) if command else ("", ())
        rows = self._conn.execute(
            f"SELECT command, started, seconds, summary, report FROM runs {where}"
            " ORDER BY id DESC LIMIT ?",
            (*params, count),
        ).fetchall()
        return [_run(row) for row in rows]

    def source_history(self, count: int) -> list[RunSources]:
        """The `sources` and `alerts` of the newest `count` runs' reports, newest first (read
        in SQL: a build's report lists every file it wrote)."""
        rows = self._conn.execute(
            "SELECT json_extract(report, '$.sources'), json_extract(report, '$.alerts')"
            " FROM runs ORDER BY id DESC LIMIT ?",
            (count,),
        ).fetchall()
        return [
            RunSources(sources=json.loads(sources or "[]"), alerts=json.loads(sent or "[]"))
            for sources, sent in rows
        ]

    def last_good_run(self) -> datetime | None:
        """When the newest run that went well started."""
        for run in self.runs(50):
            if run["ok"]:
                return datetime.fromisoformat(run["started"])
        return None


def _run(row: sqlite3.Row) -> Run:
    """A run as a dict; `ok` is False when a source or a digest failed, or the run said so."""
    report = json.loads(row["report"])
    failed = report.get("failures") or any(
        s.get("status") == "failed" for s in report.get("sources", [])
    )
    return Run(
        command=row["command"],
        started=row["started"],
        seconds=row["seconds"],
        summary=row["summary"],
        ok=bool(report.get("ok", True)) and not failed,
        report=report,
    )


if TYPE_CHECKING:

    def _implements(store: SqliteStore) -> Store:
        return store  # mypy checks that the SQLite store is every part of the protocol


def _utc(moment: datetime) -> datetime:
    """Times in the ledger are UTC, so they compare as text."""
    if moment.tzinfo is None:
        raise ValueError("store times must be timezone-aware")
    return moment.astimezone(UTC)


def is_store(path: Path) -> bool:
    """Whether the file at `path` is a digest store, read without writing anything beside it
    (`immutable`: no journal, no lock); an empty file is not one."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return schema.recognise(path, *_header(conn)) != "new"
    except (sqlite3.Error, StoreError):
        return False


def _header(conn: sqlite3.Connection) -> tuple[int, int, list[str]]:
    """The file's application_id and user_version, and the names in its schema."""
    names = conn.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return (
        conn.execute("PRAGMA application_id").fetchone()[0],
        conn.execute("PRAGMA user_version").fetchone()[0],
        [row[0] for row in names.fetchall()],
    )


def _copy(conn: sqlite3.Connection, partial: Path, target: Path) -> None:
    """SQLite's online backup of `conn` into the new file `partial`, checked whole."""
    with contextlib.closing(sqlite3.connect(partial)) as copy:
        conn.backup(copy, pages=1024)
        try:
            found = [row[0] for row in copy.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:  # too damaged to be checked at all
            found = [str(exc)]
    if found != ["ok"]:
        raise StoreError(
            f"{target}: the copy fails its integrity check: {found[0]}",
            hint="the store itself may be damaged: see `digest status`",
        )


def _place(partial: Path, target: Path, *, replace: bool) -> None:
    """Give the checked copy the target's name: replacing it (`replace`), or only while no file
    has that name (a hard link cannot overwrite; a file system without links is checked)."""
    crashpoint.step(f"replace {target.name}")
    if replace:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)
    except FileExistsError:
        raise StoreError(f"{target}: already exists", hint=_REPLACE) from None
    except OSError:  # no hard links here (FAT, some network shares)
        if target.exists() or target.is_symlink():
            raise StoreError(f"{target}: already exists", hint=_REPLACE) from None
        os.replace(partial, target)


def _same_file(one: Path, other: Path) -> bool:
    if one.resolve() == other.resolve():
        return True
    try:
        return os.path.samefile(one, other)
    except OSError:  # either is missing
        return False


def _failure(path: Path, exc: sqlite3.Error) -> StoreError:
    """An SQLite error as one line naming the store; a damaged file gets the way out."""
    damaged = isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.OperationalError | sqlite3.IntegrityError
    )
    hint = "the store is damaged: restore it from a backup" if damaged else None
    return StoreError(f"{path}: {exc}", hint=hint)
