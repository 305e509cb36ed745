"""The PostgreSQL connection under a store: opening it, its schema checks and migrations
(schema.py), transactions, `check` and `backup` (the `Upkeep` protocol), its tables read whole
for a copy into another store (store/copy.py).

The aggregates' SQL (store/sql/) is written with `?` and `:name` placeholders; `Db` turns them
into psycopg's before running it, and hands rows back readable by index or by column name, as
SQLite's are. Writers take turns on a transaction-scoped advisory lock of the store's own (as
SQLite's writers take turns on the file's write lock), except the ledger's hot path (claim,
`transmitting`, outcome), which locks only the rows it changes, so that many send workers on
many hosts claim rows side by side (`FOR UPDATE SKIP LOCKED`).

The store lives in the connection's schema (`search_path`, e.g. `?options=-csearch_path%3Dnews`
in the URL), so several stores can share one database. The password comes from the environment
(PGPASSWORD) or ~/.pgpass, never from config.yaml.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import RowMaker

from digest import crashpoint
from digest.atomic import sweep, temporary
from digest.errors import StoreError
from digest.store.postgres.schema import MARK, MIGRATIONS, recognise, statements
from digest.store.sql.base import POSTGRESQL, SqlBase, quoted

SCHEMES = ("postgresql://", "postgres://")
CONNECT_SECONDS = 10
# a writer waits this long for the store's write lock, then fails with one clear line
LOCK_TIMEOUT = "30s"
# a shard waits this long for another fitting the day's model (fitting takes minutes at most)
FIT_TIMEOUT = "1h"

# the placeholders and what must be left as it is: quoted text, `::` casts
_TOKENS = re.compile(r"'(?:[^']|'')*'|::|\?|:(?P<name>[A-Za-z_]\w*)|%")


def is_url(location: object) -> bool:
    """Whether a store location names a PostgreSQL server rather than an SQLite file."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def without_password(url: str) -> str:
    """The URL as it may be shown: any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """The SQL with SQLite's placeholders (`?`, `:name`) as psycopg's (`%s`, `%(name)s`) and
    every other `%` doubled."""

    def swap(found: re.Match[str]) -> str:
        token = found.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if found.group("name"):
            return f"%({found.group('name')})s"
        return token  # quoted text, `::`

    return _TOKENS.sub(swap, sql)


def _value(value: object) -> object:
    return int(value) if isinstance(value, bool) else value  # flags are integers, as in SQLite


def _params(params: Any) -> Any:
    if isinstance(params, Mapping):
        return {k: _value(v) for k, v in params.items()}
    return tuple(_value(v) for v in params)


class Row(tuple[Any, ...]):
    """A row readable by index and by column name (as sqlite3.Row)."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._names)


def row_maker(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class Db:
    """A psycopg connection speaking the aggregates' SQL (see `translate`)."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Row]:
        return self.raw.execute(translate(sql), _params(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> psycopg.Cursor[Row]:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), [_params(p) for p in parameters])
        return cursor


class PostgresConnection(SqlBase):
    """The store's connection to its PostgreSQL schema, and the store as a whole."""

    _conn: Db
    dialect = POSTGRESQL
    errors = (psycopg.Error,)

    def __init__(self, conn: psycopg.Connection[Row], url: str, *, lock_key: int = 0) -> None:
        """The store on `conn`; `lock_key` is its write lock's key, read when it is opened (or
        given by the pool that opened it once)."""
        self._conn = Db(conn)
        self.url = url
        self.location = without_password(url)
        self._lock_key = lock_key
        self._depth = 0

    @classmethod
    def open(cls, location: str | Path) -> Self:
        """The store at `url`, its tables made when the schema is empty, migrated when they were
        made by an older digest. Another program's tables and a schema version this digest
        cannot know are refused with a StoreError, as is a server that cannot be reached."""
        url = str(location)
        conn = _connect(url, application_name="digest")
        with contextlib.ExitStack() as opening:
            store = cls(conn, url)
            opening.enter_context(store)  # closed again on any failure
            store._start()
            opening.pop_all()
        return store

    def _start(self) -> None:
        raw = self._conn.raw
        try:
            raw.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            schema = raw.execute("SELECT current_schema()").fetchone()
            if schema is None or schema[0] is None:
                raise StoreError(
                    f"{self.location}: no schema to keep the store in (search_path is empty)",
                    hint="create one, or name one: ?options=-csearch_path%3D<schema>",
                )
            key = raw.execute(
                "SELECT hashtextextended('digest store ' || current_schema(), 0)"
            ).fetchone()
            self._lock_key = int(key[0]) if key else 0
            self._migrate()
        except psycopg.Error as exc:
            raise StoreError(f"{self.location}: cannot open the store: {one_line(exc)}") from None

    def _version(self) -> tuple[int | None, list[str]]:
        """The store's schema version (None when unmarked), and the tables in its schema."""
        names = [
            r[0]
            for r in self._conn.raw.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            ).fetchall()
        ]
        if MARK not in names:
            return None, names
        found = self._conn.raw.execute(f"SELECT version FROM {MARK}").fetchone()
        return (int(found[0]) if found else 0), names

    def _migrate(self) -> None:
        """The migrations the store lacks, one transaction each, under the store's lock (another
        process opening the same new store may be taking the same step)."""
        version, names = self._version()
        recognise(self.location, version, names)
        while (version or 0) < len(MIGRATIONS):
            with self._transaction():
                version, names = self._version()
                recognise(self.location, version, names)
                version = version or 0
                if version >= len(MIGRATIONS):
                    break
                for statement in statements(MIGRATIONS[version]):
                    self._conn.raw.execute(statement)
                version += 1
                self._conn.raw.execute(f"UPDATE {MARK} SET version = %s", (version,))

    def close(self) -> None:
        self._conn.raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        """Close; a server error on the way out becomes one StoreError naming the store."""
        self.close()
        if isinstance(exc, psycopg.Error):
            raise StoreError(f"{self.location}: {one_line(exc)}") from exc

    @contextmanager
    def _transaction(self, *, shared: bool = False, single: bool = False) -> Iterator[Db]:
        """All or nothing. Writers take turns on the store's advisory lock, held to the end of
        the transaction; `shared` ones (the ledger's hot path) lock only their rows. A `single`
        shared one, a block of one statement, runs as that statement's own transaction (the
        connection is in autocommit): one round trip to the server instead of three."""
        if self._depth:  # already inside one: part of it
            yield self._conn
            return
        if shared and single:
            crashpoint.step("store commit")  # a kill here: as before a COMMIT, nothing written
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
            return
        self._depth += 1
        try:
            with self._conn.raw.transaction():
                if not shared:
                    self._conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                yield self._conn
                crashpoint.step("store commit")
        finally:
            self._depth -= 1

    @contextmanager
    def _snapshot(self) -> Iterator[Db]:
        """A read-only transaction that sees the store as it was at its first read (REPEATABLE
        READ), while other connections go on writing."""
        with self._conn.raw.transaction():
            self._conn.raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield self._conn

    def _columns(self, table: str) -> list[str]:
        """All but the identity columns the database always fills itself (`seq`)."""
        rows = self._conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?"
            " AND identity_generation IS DISTINCT FROM 'ALWAYS' AND is_generated = 'NEVER'"
            " ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return [row[0] for row in rows]

    def _rows(
        self, table: str, columns: Sequence[str], *, batch: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """By primary key (`delivery_events` by `seq`, the order its rows were written in); a
        table without one (signup_requests) by every column. Read through a server-side cursor,
        `batch` rows at a time, inside `_snapshot`."""
        key = [
            row[0]
            for row in self._conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
                " WHERE i.indrelid = to_regclass(?) AND i.indisprimary"
                " ORDER BY array_position(i.indkey::smallint[], a.attnum)",
                (quoted(table),),
            ).fetchall()
        ]
        names = ", ".join(quoted(c) for c in columns)
        order = ", ".join(quoted(c) for c in key or self._columns(table))
        with self._conn.raw.cursor(name=f"copy_{table}") as cursor:
            cursor.execute(f"SELECT {names} FROM {quoted(table)} ORDER BY {order}")
            while found := cursor.fetchmany(batch):
                yield [tuple(row) for row in found]

    def _move_identity(self, table: str) -> None:
        """`runs.id` (an identity the rows were inserted with) moved past the highest id, so
        that the next run recorded gets a new one."""
        for (column,) in self._conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?"
            " AND identity_generation = 'BY DEFAULT'",
            (table,),
        ).fetchall():
            highest = f"max({quoted(column)})"
            self._conn.execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce({highest}, 1),"
                f" {highest} IS NOT NULL) FROM {quoted(table)}",
                (quoted(table), column),
            )

    @contextmanager
    def model_lock(self, key: str) -> Iterator[None]:
        """Held while a shard fits the model of `key` (store/sql/shards.py): a session advisory
        lock of the key's own, apart from the store's write lock, so that the other shards wait
        for the model (up to FIT_TIMEOUT) while everything else goes on. The server releases it
        should the holder's connection end."""
        raw = self._conn.raw
        name = "SELECT hashtextextended('digest model ' || current_schema() || ' ' || %s, 0)"
        found = raw.execute(name, (key,)).fetchone()
        lock = int(found[0]) if found else 0
        raw.execute(f"SET lock_timeout = '{FIT_TIMEOUT}'")
        try:
            raw.execute("SELECT pg_advisory_lock(%s)", (lock,))
        except psycopg.errors.LockNotAvailable:
            raise StoreError(
                f"{self.location}: waited {FIT_TIMEOUT} for another shard fitting the model",
                hint="see that shard's log; a shard that died has let go of the lock",
            ) from None
        finally:
            raw.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.OperationalError):  # gone: the lock went with it
                raw.execute("SELECT pg_advisory_unlock(%s)", (lock,))

    def check(self) -> list[str]:
        """What is wrong with the store: the server unreachable, or its tables missing."""
        try:
            version, _ = self._version()
        except psycopg.Error as exc:
            return [one_line(exc)]
        if version != len(MIGRATIONS):
            return [f"store schema v{version}, expected v{len(MIGRATIONS)}"]
        return []

    def backup(self, target: Path, *, force: bool = False) -> None:
        """A dump of the store's schema at `target` by `pg_dump` (custom format, for
        `pg_restore`), written beside the target and renamed over it once pg_dump has exited
        with status 0. An existing target is replaced only with `force`."""
        if (target.exists() or target.is_symlink()) and not force:
            raise StoreError(
                f"{target}: already exists", hint="give a new name, or --force to replace it"
            )
        dump = shutil.which("pg_dump")
        if dump is None:
            raise StoreError(
                "pg_dump not found: backing up a PostgreSQL store needs it",
                hint="install the PostgreSQL client (Debian: postgresql-client)",
            )
        schema = self._conn.raw.execute("SELECT current_schema()").fetchone()
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep(target.parent)
        handle, name = tempfile.mkstemp(
            prefix=temporary(target.name), suffix=".tmp", dir=target.parent
        )
        os.close(handle)
        partial = Path(name)
        try:
            done = subprocess.run(
                [
                    dump,
                    "--format=custom",
                    f"--schema={schema[0] if schema else 'public'}",
                    f"--file={partial}",
                    self.url,  # the same server and database; its schema named apart
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                why = (done.stderr.strip().splitlines() or ["no message"])[-1]
                raise StoreError(f"{target}: pg_dump failed (exit status {done.returncode}): {why}")
            crashpoint.step(f"replace {target.name}")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)


def _connect(url: str, *, application_name: str) -> psycopg.Connection[Row]:
    """A connection to the store's server, in autocommit, its rows read as `Row`s; a server that
    cannot be reached is one StoreError naming the store (never its password)."""
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            row_factory=row_maker,
            connect_timeout=CONNECT_SECONDS,
            application_name=application_name,
        )
    except psycopg.Error as exc:
        shown = without_password(url)
        raise StoreError(f"{shown}: cannot open the store: {one_line(exc)}") from None


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class SchedulerLock:
    """One scheduler per PostgreSQL store: a session-level advisory lock of the store's schema,
    held on a connection of its own for as long as the scheduler runs. The server drops it when
    that connection ends, however the process ends, so a crashed scheduler never blocks the next.
    A second scheduler is refused with a line naming the server process holding the lock and the
    scheduler it serves (the session's application_name: its pid and host).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = without_password(url)  # what the scheduler's log names
        self._conn: psycopg.Connection[Any] | None = None

    def acquire(self) -> None:
        named = f"digest schedule pid {os.getpid()} on {socket.gethostname()}"
        conn = _connect(self.url, application_name=named[:63])  # the server keeps 63 bytes
        schema = conn.execute("SELECT current_schema()").fetchone()
        if schema is None or schema[0] is None:
            conn.close()
            raise StoreError(f"{self.path}: no schema to keep the store in (search_path is empty)")
        key = "hashtextextended('digest scheduler ' || current_schema(), 0)"
        taken = conn.execute(f"SELECT pg_try_advisory_lock({key})").fetchone()
        if not (taken and taken[0]):
            holder = conn.execute(
                "SELECT a.application_name, a.pid, a.client_addr"
                " FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                f" AND (l.classid::bigint << 32) | l.objid::bigint = {key}"
            ).fetchone()
            conn.close()
            who = (
                f"server process {holder[1]} from {holder[2] or 'a local socket'}"
                f" ({holder[0] or 'a session of unknown name'})"
                if holder
                else "another session"
            )
            raise StoreError(
                f"another scheduler is running on this store: {self.path} is held by {who}",
                hint="one `digest schedule` per store; stop that one first",
            )
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ending the session drops the lock
            self._conn = None

    def __enter__(self) -> SchedulerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
