"""Readers as rows: config.yaml's readers loaded into the store beside those added later.

A reader's profile is kept as JSON. For readers from config.yaml the config is the truth while it
changes: a changed entry replaces the stored profile, an unchanged one leaves the stored profile
alone. What a reader set on their own page is a row of `reader_settings` (the fields they
changed, as JSON), put over the stored profile whenever the reader is read: their own settings win
over config.yaml's for those fields, whatever config.yaml later says. A reader's status is the
store's alone: config.yaml never resubscribes anyone who unsubscribed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from digest.errors import StoreError
from digest.models import READER_STATES, Profile, ReaderSettings, SendTime, Subscriber
from digest.store.sql.base import Db, Row, SqlBase, utc

_TUPLES = {f.name for f in fields(Profile) if str(f.type).startswith("tuple")}
_OWN_TUPLES = {f.name for f in fields(ReaderSettings) if str(f.type).startswith("tuple")}
# every reader column, and the reader's own settings beside them
READERS = """SELECT r.*, s.settings AS own FROM readers r
    LEFT JOIN reader_settings s ON s.reader = r.name"""


def to_json(profile: Profile) -> str:
    return json.dumps(asdict(profile), sort_keys=True, ensure_ascii=False)


def from_json(text: str) -> Profile:
    data = json.loads(text)
    known = {f.name for f in fields(Profile)}
    values: dict[str, Any] = {
        k: tuple(v) if k in _TUPLES else v for k, v in data.items() if k in known
    }
    if isinstance(values.get("send"), dict):
        values["send"] = SendTime(**values["send"])
    return Profile(**values)


def settings_json(settings: ReaderSettings) -> str:
    """The fields the reader set, as JSON (those left unset are left out)."""
    values = {k: v for k, v in asdict(settings).items() if v is not None}
    return json.dumps(values, sort_keys=True, ensure_ascii=False)


def settings_from_json(text: str | None) -> ReaderSettings:
    """The settings kept as JSON (none: nothing set); fields this digest does not know are
    ignored."""
    data = json.loads(text) if text else {}
    known = {f.name for f in fields(ReaderSettings)}
    values: dict[str, Any] = {
        k: tuple(v) if k in _OWN_TUPLES and v is not None else v
        for k, v in data.items()
        if k in known
    }
    return ReaderSettings(**values)


def subscriber(row: Row) -> Subscriber:
    """A reader's row (read with READERS): their profile with their own settings over it."""
    base = from_json(row["profile"])
    own = settings_from_json(row["own"])
    profile = own.applied(base)
    return Subscriber(
        profile=profile,
        status=row["status"],
        origin=row["origin"],
        token_version=row["token_version"],
        created=datetime.fromisoformat(row["created"]),
        updated=datetime.fromisoformat(row["updated"]),
        own=own,
        base=base if profile != base else None,
    )


def sync(conn: Db, profiles: Sequence[Profile], now: datetime) -> int:
    """Load config.yaml's readers; returns how many rows changed. A reader no longer in the
    config is marked removed; one put back is active again (unless they had unsubscribed), with
    a new token version (links from before the removal stay dead)."""
    stamp = now.isoformat()
    stored = {
        r["name"]: r
        for r in conn.execute("SELECT name, status, origin, configured FROM readers").fetchall()
    }
    changed = 0
    for profile in profiles:
        text = to_json(profile)
        row = stored.get(profile.name)
        if row is None:
            conn.execute(
                """INSERT INTO readers (name, email, status, origin, profile, configured,
                       created, updated)
                   VALUES (?, ?, 'active', 'config', ?, ?, ?, ?)""",
                (profile.name, profile.email, text, text, stamp, stamp),
            )
            changed += 1
            continue
        back = row["status"] == "removed" and row["origin"] == "config"
        # the same text, or (read as a profile) the same entry: a field added to Profile since,
        # with its default, is no change to the entry
        configured = row["configured"]
        same = configured == text or (configured is not None and from_json(configured) == profile)
        if not same or back or row["origin"] != "config":
            conn.execute(
                """UPDATE readers SET email = ?, profile = ?, configured = ?, origin = 'config',
                       status = CASE WHEN status = 'removed' THEN 'active' ELSE status END,
                       token_version = token_version
                           + CASE WHEN status = 'removed' THEN 1 ELSE 0 END,
                       updated = ?
                   WHERE name = ?""",
                (profile.email, text, text, stamp, profile.name),
            )
            changed += 1
    names = {p.name for p in profiles}
    for name, row in stored.items():
        if name not in names and row["origin"] == "config" and row["status"] != "removed":
            conn.execute(
                "UPDATE readers SET status = 'removed', updated = ? WHERE name = ?", (stamp, name)
            )
            changed += 1
    return changed


def add(conn: Db, profile: Profile, *, status: str, origin: str, now: datetime) -> bool:
    """A new reader, or a removed one added again (True then): their profile, address, status
    and origin replaced, and a new token version, so links given before the removal
    (unsubscribe, feedback, private feed) stay dead; their ledger and feedback stay theirs. A
    StoreError if the name is taken by a reader who is not removed."""
    _check_status(status)
    text = to_json(profile)
    stamp = now.isoformat()
    before = conn.execute("SELECT status FROM readers WHERE name = ?", (profile.name,)).fetchone()
    cursor = conn.execute(
        """INSERT INTO readers (name, email, status, origin, profile, created, updated)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET email = excluded.email, status = excluded.status,
               origin = excluded.origin, profile = excluded.profile, configured = NULL,
               token_version = readers.token_version + 1, updated = excluded.updated
           WHERE readers.status = 'removed'""",
        (profile.name, profile.email, status, origin, text, stamp, stamp),
    )
    if cursor.rowcount != 1:
        raise StoreError(f"a reader named {profile.name!r} already exists")
    # a reader added again starts from the profile given now, not from what they once set
    conn.execute("DELETE FROM reader_settings WHERE reader = ?", (profile.name,))
    return before is not None


def set_status(conn: Db, name: str, status: str, now: datetime) -> bool:
    """Whether the reader exists (setting the status they already have is fine)."""
    _check_status(status)
    cursor = conn.execute(
        "UPDATE readers SET status = ?, updated = ? WHERE name = ?", (status, now.isoformat(), name)
    )
    return cursor.rowcount == 1


def set_profile(conn: Db, profile: Profile, now: datetime) -> bool:
    cursor = conn.execute(
        "UPDATE readers SET profile = ?, email = ?, updated = ? WHERE name = ?",
        (to_json(profile), profile.email, now.isoformat(), profile.name),
    )
    return cursor.rowcount == 1


def set_own(conn: Db, name: str, settings: ReaderSettings, now: datetime) -> bool:
    """Replace what the reader set (nothing set: the row goes); False for an unknown reader."""
    known = conn.execute("SELECT 1 FROM readers WHERE name = ?", (name,)).fetchone()
    if known is None:
        return False
    if not settings.changed:
        conn.execute("DELETE FROM reader_settings WHERE reader = ?", (name,))
        return True
    conn.execute(
        """INSERT INTO reader_settings (reader, settings, updated) VALUES (?, ?, ?)
           ON CONFLICT (reader) DO UPDATE SET settings = excluded.settings,
               updated = excluded.updated""",
        (name, settings_json(settings), now.isoformat()),
    )
    return True


def _check_status(status: str) -> None:
    if status not in READER_STATES:
        raise ValueError(f"unknown reader status {status!r}")


class SqlReaders(SqlBase):
    """The `Readers` protocol in the SQL both backends run."""

    def sync_readers(self, profiles: Sequence[Profile], *, now: datetime) -> int:
        """Load config.yaml's readers (see `sync`); returns how many rows changed."""
        with self._transaction():
            return sync(self._conn, profiles, utc(now))

    def add_reader(
        self, profile: Profile, *, now: datetime, status: str = "active", origin: str = "cli"
    ) -> bool:
        """A new reader, or a removed one added again (True then, with new links)."""
        with self._transaction():
            return add(self._conn, profile, status=status, origin=origin, now=utc(now))

    def set_reader_status(self, name: str, status: str, *, now: datetime) -> bool:
        """Subscribe, confirm, unsubscribe or remove; False for an unknown reader."""
        with self._transaction():
            return set_status(self._conn, name, status, utc(now))

    def set_profile(self, profile: Profile, *, now: datetime) -> bool:
        """Replace a reader's profile (their interests, address); False for an unknown reader."""
        with self._transaction():
            return set_profile(self._conn, profile, utc(now))

    def set_reader_settings(self, name: str, settings: ReaderSettings, *, now: datetime) -> bool:
        """Replace what the reader set on their own page (all None: back to the newsletter's
        profile); False for an unknown reader."""
        with self._transaction():
            return set_own(self._conn, name, settings, utc(now))

    def revoke_tokens(self, name: str, *, now: datetime) -> bool:
        """Invalidate every link given out to the reader so far."""
        with self._transaction():
            cursor = self._conn.execute(
                "UPDATE readers SET token_version = token_version + 1, updated = ? WHERE name = ?",
                (utc(now).isoformat(), name),
            )
            return cursor.rowcount == 1

    def subscriber(self, name: str) -> Subscriber | None:
        row = self._conn.execute(f"{READERS} WHERE r.name = ?", (name,)).fetchone()
        return subscriber(row) if row else None

    def subscribers(self, *status: str) -> list[Subscriber]:
        """Every reader (or those in one of `status`), by name."""
        query = READERS
        if status:
            query += f" WHERE r.status IN ({', '.join('?' * len(status))})"
        rows = self._conn.execute(query + " ORDER BY r.name", status).fetchall()
        return [subscriber(r) for r in rows]

    def readers_by_email(self, email: str) -> list[Subscriber]:
        rows = self._conn.execute(
            f"{READERS} WHERE lower(r.email) = lower(?) ORDER BY r.name", (email,)
        ).fetchall()
        return [subscriber(r) for r in rows]

    def token_version(self, name: str) -> int | None:
        """The version signed into a reader's links; None for a reader the store does not know."""
        row = self._conn.execute(
            "SELECT token_version FROM readers WHERE name = ?", (name,)
        ).fetchone()
        return int(row[0]) if row else None

    def token_versions(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT name, token_version FROM readers").fetchall()
        return {r[0]: int(r[1]) for r in rows}
