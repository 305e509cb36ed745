"""The store's schema: migrations applied in order, the version kept in `PRAGMA user_version`.

A migration is appended, never edited: a store made by any earlier digest upgrades in place.
The file is marked as digest's by `PRAGMA application_id` (set with the first migration), so
`--store` pointed at another program's database is refused rather than filled with our tables.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from digest.errors import StoreError

APPLICATION_ID = 0x44475354  # "DGST": a digest store, in bytes 68-71 of the file's header
_CREATE_TABLE = re.compile(r"CREATE TABLE (\w+)")
_FOREIGN = "give digest a file of its own: store: in config.yaml, or --store"

MIGRATIONS: tuple[str, ...] = (
    # 1: papers, sightings, source state, run log
    """
    CREATE TABLE papers (
        id TEXT PRIMARY KEY,
        arxiv_id TEXT UNIQUE,
        title TEXT NOT NULL,
        title_key TEXT NOT NULL,
        abstract TEXT NOT NULL,
        authors TEXT NOT NULL DEFAULT '[]',
        url TEXT,
        pdf_url TEXT,
        code_url TEXT,
        project_url TEXT,
        categories TEXT NOT NULL DEFAULT '[]',
        published TEXT,
        upvotes INTEGER,
        first_seen TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX papers_title_key ON papers (title_key);
    CREATE TABLE sightings (
        paper_id TEXT NOT NULL REFERENCES papers (id),
        source TEXT NOT NULL,
        digest_date TEXT NOT NULL,
        upvotes INTEGER,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (paper_id, source, digest_date)
    );
    CREATE INDEX sightings_date ON sightings (digest_date);
    CREATE TABLE source_state (
        source TEXT PRIMARY KEY,
        location TEXT NOT NULL,
        last_attempt TEXT,
        last_success TEXT,
        last_error TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        command TEXT NOT NULL,
        started TEXT NOT NULL,
        seconds REAL NOT NULL,
        summary TEXT NOT NULL,
        report TEXT NOT NULL
    );
    """,
    # 2: source keywords, aliases left by merges, HTTP validators per fetched URL
    """
    ALTER TABLE papers ADD COLUMN keywords TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE paper_aliases (
        alias TEXT PRIMARY KEY,
        paper_id TEXT NOT NULL REFERENCES papers (id)
    );
    CREATE TABLE fetch_state (
        url TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        status INTEGER,
        moved_to TEXT,
        fetched TEXT NOT NULL
    );
    """,
    # 3: what readers said of papers: 1 liked, -1 disliked (the latest word counts)
    """
    CREATE TABLE feedback (
        reader TEXT NOT NULL,
        paper_id TEXT NOT NULL REFERENCES papers (id),
        label INTEGER NOT NULL CHECK (label IN (-1, 1)),
        at TEXT NOT NULL,
        PRIMARY KEY (reader, paper_id)
    );
    """,
    # 4: the digests built: one row per (reader, date), its papers in order with their reasons
    """
    CREATE TABLE digests (
        reader TEXT NOT NULL,
        digest_date TEXT NOT NULL,
        candidates INTEGER NOT NULL,
        built TEXT NOT NULL,
        PRIMARY KEY (reader, digest_date)
    );
    CREATE TABLE digest_papers (
        reader TEXT NOT NULL,
        digest_date TEXT NOT NULL,
        position INTEGER NOT NULL,
        paper_id TEXT NOT NULL REFERENCES papers (id),
        score REAL NOT NULL,
        reasons TEXT NOT NULL,
        PRIMARY KEY (reader, digest_date, position),
        FOREIGN KEY (reader, digest_date) REFERENCES digests (reader, digest_date)
            ON DELETE CASCADE
    );
    CREATE INDEX digest_papers_paper ON digest_papers (paper_id);
    """,
    # 5: readers (config.yaml's and those added later), the send ledger, paused sending days
    """
    CREATE TABLE readers (
        name TEXT PRIMARY KEY,
        email TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'active', 'unsubscribed', 'removed')),
        origin TEXT NOT NULL,
        profile TEXT NOT NULL,
        configured TEXT,
        token_version INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX readers_email ON readers (email);
    CREATE TABLE deliveries (
        digest_date TEXT NOT NULL,
        reader TEXT NOT NULL,
        status TEXT NOT NULL,
        recipients TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        give_up TEXT NOT NULL,
        message_id TEXT,
        code INTEGER,
        reply TEXT NOT NULL DEFAULT '',
        refused TEXT NOT NULL DEFAULT '[]',
        claimed_by TEXT,
        claimed_at TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        sent_at TEXT,
        PRIMARY KEY (digest_date, reader)
    );
    CREATE INDEX deliveries_due ON deliveries (digest_date, status, next_attempt);
    CREATE TABLE send_days (
        digest_date TEXT PRIMARY KEY,
        paused TEXT,
        reason TEXT NOT NULL DEFAULT ''
    );
    """,
    # 6: the rows waiting to be sent, in the order they are claimed (a claim is one index step,
    # not a sort of the day's waiting rows)
    """
    CREATE INDEX deliveries_waiting ON deliveries (digest_date, next_attempt, reader)
        WHERE status IN ('pending', 'deferred');
    """,
    # 7: the ledger's history (rows settled by hand: who, when, what), and the subscribe
    # requests of the last day (the form's budgets, shared by every `digest serve` process)
    """
    CREATE TABLE delivery_events (
        digest_date TEXT NOT NULL,
        reader TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        from_status TEXT NOT NULL,
        to_status TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        FOREIGN KEY (digest_date, reader) REFERENCES deliveries (digest_date, reader)
    );
    CREATE INDEX delivery_events_row ON delivery_events (digest_date, reader);
    CREATE TABLE signup_requests (
        at TEXT NOT NULL,
        address TEXT NOT NULL
    );
    CREATE INDEX signup_requests_at ON signup_requests (at);
    CREATE INDEX signup_requests_address ON signup_requests (address, at);
    """,
    # 8: the newsletter's send rate, shared by every sender on the store: when the next send
    # slot starts
    """
    CREATE TABLE send_pacing (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        next_slot TEXT NOT NULL
    );
    INSERT INTO send_pacing (one, next_slot) VALUES (1, '1970-01-01T00:00:00+00:00');
    """,
    # 9: sharded builds: the fitted models the shards of a day share (pickled, by corpus key),
    # and which shards of a day's set are done (the one that completes it publishes)
    """
    CREATE TABLE models (
        key TEXT PRIMARY KEY,
        data BLOB NOT NULL
    );
    CREATE TABLE shards_done (
        digest_date TEXT NOT NULL,
        shards INTEGER NOT NULL,
        shard INTEGER NOT NULL,
        done TEXT NOT NULL,
        PRIMARY KEY (digest_date, shards, shard)
    );
    """,
    # 10: readers' libraries: each reader's entries (replaced whole by each import), each a
    # stored paper or a library paper (texts for profiles, never a digest's candidate), and
    # where each library was last imported from
    """
    CREATE TABLE library_papers (
        id TEXT PRIMARY KEY,
        arxiv_id TEXT,
        doi TEXT,
        title TEXT NOT NULL,
        title_key TEXT NOT NULL,
        abstract TEXT NOT NULL,
        authors TEXT NOT NULL DEFAULT '[]',
        url TEXT,
        added TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX library_papers_arxiv ON library_papers (arxiv_id);
    CREATE INDEX library_papers_doi ON library_papers (doi);
    CREATE INDEX library_papers_title ON library_papers (title_key);
    CREATE TABLE library_entries (
        reader TEXT NOT NULL,
        position INTEGER NOT NULL,
        line INTEGER NOT NULL,
        paper_id TEXT,
        library_id TEXT REFERENCES library_papers (id),
        PRIMARY KEY (reader, position),
        CHECK ((paper_id IS NULL) <> (library_id IS NULL))
    );
    CREATE INDEX library_entries_library ON library_entries (library_id);
    CREATE TABLE libraries (
        reader TEXT PRIMARY KEY,
        origin TEXT NOT NULL,
        digest TEXT,
        version INTEGER,
        entries INTEGER NOT NULL,
        unmatched INTEGER NOT NULL DEFAULT 0,
        imported TEXT NOT NULL
    );
    """,
    # 11: what each reader set on their own page (`digest serve`): JSON of the fields they
    # changed, put over their profile whenever they are read
    """
    CREATE TABLE reader_settings (
        reader TEXT PRIMARY KEY REFERENCES readers (name),
        settings TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    """,
)


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def tables(version: int) -> frozenset[str]:
    """The tables digest's migrations 1..`version` create."""
    return frozenset(t for script in MIGRATIONS[:version] for t in _CREATE_TABLE.findall(script))


def recognise(
    path: Path, application_id: int, version: int, names: Collection[str]
) -> Literal["new", "ours", "adopt"]:
    """What the database at `path` is to digest, from its header and the names in its schema:
    "new" (empty: to be made a store), "ours" (marked as a digest store), "adopt" (a store made
    before stores were marked: unmarked, but with digest's tables for its version). Anything
    else raises a StoreError naming the file: another program's database, a schema version
    that is negative, newer than this digest, or 0 with tables present."""
    if application_id not in (0, APPLICATION_ID):
        raise StoreError(
            f"{path}: not a digest store (another program's database, "
            f"application_id {application_id:#010x})",
            hint=_FOREIGN,
        )
    if version < 0:
        raise StoreError(f"{path}: impossible store schema version {version}", hint=_FOREIGN)
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path}: store schema v{version} is newer than this digest knows",
            hint="upgrade digest",
        )
    if version == 0:
        if names:
            shown = ", ".join(sorted(names)[:5])
            raise StoreError(
                f"{path}: not a digest store (schema version 0, but it holds {shown})",
                hint=_FOREIGN,
            )
        return "new"
    if application_id == APPLICATION_ID:
        return "ours"
    missing = tables(version) - set(names)
    if missing:
        raise StoreError(
            f"{path}: not a digest store (schema version {version}, "
            f"but no table {', '.join(sorted(missing)[:3])})",
            hint=_FOREIGN,
        )
    return "adopt"
