"""The SQLite file under a store: opening it, its schema and migrations, transactions, the
application id that marks it as digest's, its check and its online backup, its tables read whole
for a copy into another store (store/copy.py).

One SQLite file (WAL), schema versioned by `PRAGMA user_version` (see schema.py). Every aggregate
(store/sql/: papers.py, readers.py, ...) is a mixin over this connection; `SqliteStore` is all of
them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from digest import crashpoint
from digest.atomic import sweep, temporary
from digest.errors import StoreError
from digest.store.sql.base import SQLITE, SqlBase, quoted
from digest.store.sqlite import schema
from digest.store.sqlite.schema import APPLICATION_ID, MIGRATIONS, statements

_REPLACE = "give a new name, or --force to replace an older backup"
_ELSEWHERE = "back up to a new file or a folder"


class SqliteConnection(SqlBase):
    """The store's one connection, and the store as a whole (the `Upkeep` protocol)."""

    _conn: sqlite3.Connection
    dialect = SQLITE
    errors = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.location = str(path)

    @classmethod
    def open(cls, location: str | Path) -> Self:
        """The store at `path`, made there when the file is new or empty, migrated when it was
        made by an older digest. Another program's database, a schema version this digest
        cannot know, and a file that is not a database are refused with a StoreError."""
        path = Path(location)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # two senders (or a sender and `digest serve`) take turns on the write lock: the
            # busy timeout waits for it rather than failing at once
            conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the store: {exc}") from None
        conn.row_factory = sqlite3.Row
        with contextlib.ExitStack() as opening:
            store = cls(conn, path)
            opening.enter_context(store)  # closed again on any failure
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
        target (named as atomic.py names its temporary files, so a killed backup's is swept) and
        passes `PRAGMA integrity_check` before it takes the target's name. An existing
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
            sweep(target.parent)  # what a killed backup left there
            handle, name = tempfile.mkstemp(
                prefix=temporary(target.name), suffix=".tmp", dir=target.parent
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
    def model_lock(self, key: str) -> Iterator[None]:
        """Held while a shard fits the model of `key` (store/sql/shards.py): an exclusive lock
        on a file beside the store (`<store>-model.lock`, one for every key), so that the other
        shards wait for it without holding the store's write lock the while. The lock goes with
        the process that holds it."""
        lock = self.path.with_name(f"{self.path.name}-model.lock")
        try:
            handle = lock.open("ab")
        except OSError as exc:
            raise StoreError(f"{lock}: cannot lock the model: {exc}") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _transaction(
        self, *, shared: bool = False, single: bool = False
    ) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: a failure anywhere rolls the whole block back. Every transaction
        takes the file's write lock (BEGIN IMMEDIATE), `shared` and `single` ones too (a local
        file has no round trips to save)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            if self._conn.in_transaction:  # SQLite has already rolled back on a full disk
                self._conn.execute("ROLLBACK")
            raise
        crashpoint.step("store commit")
        self._conn.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (WAL: writers go on; the block sees the file as it was at its
        first read), rolled back at the end: it changes nothing."""
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def _columns(self, table: str) -> list[str]:
        return [row["name"] for row in self._conn.execute(f"PRAGMA table_info({quoted(table)})")]

    def _rows(
        self, table: str, columns: Sequence[str], *, batch: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """By primary key; a table without one (delivery_events, signup_requests) by rowid,
        the order its rows were inserted in."""
        info = self._conn.execute(f"PRAGMA table_info({quoted(table)})").fetchall()
        key = [quoted(row["name"]) for row in sorted(info, key=lambda r: r["pk"]) if row["pk"]]
        names = ", ".join(quoted(c) for c in columns)
        cursor = self._conn.execute(
            f"SELECT {names} FROM {quoted(table)} ORDER BY {', '.join(key) or 'rowid'}"
        )
        while found := cursor.fetchmany(batch):
            yield [tuple(row) for row in found]


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
