"""The PostgreSQL test fixture: each test works in a schema of its own on the server DIGEST_TEST_PG
names, dropped afterwards; without a server the tests skip, and under CI they fail."""

from __future__ import annotations

from urllib.parse import urlencode

import psycopg
import pytest
from pg import fresh_schema, pg_server, pg_server_or_skip


def test_the_urls_search_path_is_the_tests_own_schema(pg_url):
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT current_setting('search_path'), current_schema()").fetchone()
    assert row is not None
    search_path, schema = row
    assert schema.startswith("t_") and search_path == schema
    assert f"options=-csearch_path%3D{schema}" in pg_url


def test_a_table_in_one_schema_is_not_seen_from_another(pg_url):
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE papers (id text PRIMARY KEY)")
        conn.execute("INSERT INTO papers VALUES ('2508.00001')")
    with fresh_schema(pg_server_or_skip()) as other, psycopg.connect(other) as conn:
        assert conn.execute("SELECT to_regclass('papers')").fetchone() == (None,)
        conn.execute("CREATE TABLE papers (id text PRIMARY KEY)")  # the same name, no clash
        assert conn.execute("SELECT count(*) FROM papers").fetchone() == (0,)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT id FROM papers").fetchall() == [("2508.00001",)]


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_starts_from_an_empty_schema(pg_url, run):
    # The same table made by two tests: the second would find the first's if schemas were shared.
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE papers (id text PRIMARY KEY)")


def test_the_schema_is_dropped_with_its_tables_after_the_block():
    server = pg_server_or_skip()
    with fresh_schema(server) as url, psycopg.connect(url) as conn:
        (schema,) = conn.execute("SELECT current_schema()").fetchone() or (None,)
        conn.execute("CREATE TABLE papers (id text)")
    with psycopg.connect(server) as conn:
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchall()
    assert schema and found == []


def test_without_a_server_the_tests_skip():
    assert pg_server({}) is None
    with pytest.raises(pytest.skip.Exception, match="DIGEST_TEST_PG is not set"):
        pg_server_or_skip({})


def test_without_a_server_under_ci_the_tests_fail():
    expected = "CI is set but PostgreSQL is not reachable: DIGEST_TEST_PG is not set"
    with pytest.raises(pytest.fail.Exception, match=expected):
        pg_server_or_skip({"CI": "true"})


def test_a_server_that_does_not_answer_under_ci_fails_naming_it(tmp_path):
    # A socket directory with no server in it: refused at once, whatever the machine runs.
    url = "postgresql:///digest_test?" + urlencode({"host": str(tmp_path)})
    env = {"DIGEST_TEST_PG": url, "CI": "true"}
    assert pg_server(env) is None
    with pytest.raises(pytest.fail.Exception, match="nothing answers at DIGEST_TEST_PG="):
        pg_server_or_skip(env)
