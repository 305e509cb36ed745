"""Shared pytest configuration."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pg import StoreLocation, fresh_schema, pg_server_or_skip

# Property tests: a fixed seed (derandomize) and a bounded number of examples, so every run tries
# the same inputs and CI stays well inside its time; no example database written to the tree.
settings.register_profile(
    "digest",
    derandomize=True,
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("digest")


@pytest.fixture(autouse=True)
def _restore_the_digest_logger() -> Iterator[None]:
    """The CLI's main() points the `digest` logger at the test's captured stderr; put it back
    after each test."""
    loggers = [logging.getLogger(name) for name in ("digest", "apscheduler")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers, logger.level, logger.propagate = handlers, level, propagate


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to the test PostgreSQL whose connections work in a fresh schema of their own, dropped
    after the test. Skips without a server (DIGEST_TEST_PG), fails under CI: see tests/pg.py."""
    with fresh_schema(pg_server_or_skip()) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[StoreLocation]:
    """The test once on each backend: on SQLite as it is written (config.yaml's `store:`), then
    in a fresh PostgreSQL schema (`pg_url`) that DIGEST_STORE names for every command the test
    runs, in this process or a child. The test opens that store with `Store.open(store_location(
    <its SQLite path>))`. A test that looks into the SQLite file itself does not ask for it. On
    PostgreSQL, an SQLite store made in the test's folder fails it: something read `store:`."""
    if request.param == "sqlite":
        monkeypatch.delenv("DIGEST_STORE", raising=False)
        yield StoreLocation("sqlite")
        return
    url = str(request.getfixturevalue("pg_url"))
    monkeypatch.setenv("DIGEST_STORE", url)
    yield StoreLocation("postgresql", url)
    stray = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.sqlite3"))
    assert not stray, f"an SQLite store was made though DIGEST_STORE names PostgreSQL: {stray}"
