"""PostgreSQL for tests: the server DIGEST_TEST_PG names, and a fresh schema for each test.

`eval "$(.ci/postgres start)"` starts a throwaway server and sets DIGEST_TEST_PG (and `make test-pg`
runs the tests against one). Without a server the tests that need it skip, except under CI
(`CI` set), where they fail: there they must run.

A test that touches the store runs on both backends by asking for the `store_location` fixture
(conftest.py): once on SQLite as it is written, once in a fresh schema, which DIGEST_STORE names
for every command the test runs; it opens the store its commands used with
`Store.open(store_location(<the SQLite path>))`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from psycopg import sql

ENV_VAR = "DIGEST_TEST_PG"
CONNECT_TIMEOUT = 3  # seconds: a server that is there answers at once
DROP_LOCK_TIMEOUT = "10s"  # a test that leaves a transaction open fails its teardown, not hangs


@functools.cache
def reachable(url: str) -> bool:
    """Whether a server answers at `url`; asked once per URL in a test session."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT):
            return True
    except psycopg.Error:
        return False


def pg_server(env: Mapping[str, str] | None = None) -> str | None:
    """DIGEST_TEST_PG when it is set and a server answers there, else None."""
    url = (os.environ if env is None else env).get(ENV_VAR, "")
    return url if url and reachable(url) else None


def pg_server_or_skip(env: Mapping[str, str] | None = None) -> str:
    """The test server's URL; without one, skip the test, or fail it when CI is set."""
    env = os.environ if env is None else env
    server = pg_server(env)
    if server:
        return server
    url = env.get(ENV_VAR, "")
    why = f"nothing answers at {ENV_VAR}={url}" if url else f"{ENV_VAR} is not set"
    if env.get("CI"):
        pytest.fail(f"CI is set but PostgreSQL is not reachable: {why}", pytrace=False)
    pytest.skip(
        f"PostgreSQL not reachable: {why}; set it to a server's URL, "
        "or run `make test-pg`, which starts a throwaway one"
    )


def with_search_path(url: str, schema: str) -> str:
    """`url` with libpq options that make `schema` the search_path of every connection to it."""
    options = urlencode({"options": f"-csearch_path={schema}"})
    return f"{url}{'&' if '?' in url else '?'}{options}"


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A new empty schema `t_<id>` on `server` for the block: yields a URL whose connections
    work in it, and drops it with everything in it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_search_path(server, schema)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("SET lock_timeout = {}").format(DROP_LOCK_TIMEOUT))
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """The backend a test runs on: SQLite (the file the test names) or a schema of its own on the
    test PostgreSQL, at `url`."""

    backend: str  # "sqlite" or "postgresql"
    url: str | None = None

    def __call__(self, path: Path) -> Path | str:
        """Where the store the test would keep in the SQLite file `path` is on this backend."""
        return path if self.url is None else self.url


def store_rows(location: Path | str, query: str) -> list[tuple[Any, ...]]:
    """The rows of `query` in the store at `location` (an SQLite file, or a PostgreSQL URL), read
    by SQL, past the store's code: what the store really holds."""
    if isinstance(location, str):
        with psycopg.connect(location) as conn:
            return conn.execute(query).fetchall()
    with contextlib.closing(sqlite3.connect(location)) as conn:
        return conn.execute(query).fetchall()
