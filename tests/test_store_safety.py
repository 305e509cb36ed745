"""The store's safety: backups that overwrite nothing else, a full disk named as such, a file
that is not digest's refused, a damaged store found by `status` and `/healthz`, and a public
`/healthz` that tells nothing but ok or not ok.

Real SQLite files in tmp_path (damaged by writing over their pages), the real CLI in-process and
the real app through Starlette's TestClient.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES
from hypothesis import given
from hypothesis import strategies as st

from digest.cli import main
from digest.config import load_config
from digest.errors import StoreError
from digest.models import Paper
from digest.sources import SOURCES
from digest.store import MIGRATIONS, Store, is_store
from digest.store.sqlite.schema import APPLICATION_ID, recognise, tables
from digest.tokens import Signer
from digest.web import create_app

with warnings.catch_warnings():  # as in test_serve: httpx still drives the test client
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
DAY = date(2025, 8, 20)
PAGE = "000_136fd171620bccff.txt"
CONFIG = f"""\
store: out/store.sqlite3
out_dir: out
sources:
  - {{name: aug, kind: hf_text, path: pages/{PAGE}, date: 2025-08-20}}
readers:
  - name: ada
    interests: {{keywords: [network pruning, quantization]}}
"""
STORE = Path("out/store.sqlite3")
NOTES = "my notes: do not lose\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with one page ingested; the working directory is the project."""
    (tmp_path / "pages").mkdir()
    shutil.copy(FIXTURES / "pages" / PAGE, tmp_path / "pages" / PAGE)
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["ingest"]) == 0
    return tmp_path


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def damage(path: Path) -> None:
    """Write over four pages three quarters into the file (papers' pages, past the schema's),
    as a failing disk might: the schema and the readers still read, the papers do not."""
    page = query(path, "PRAGMA page_size")[0][0]
    pages = path.stat().st_size // page
    with path.open("r+b") as file:
        file.seek(pages * 3 // 4 * page)
        file.write(b"\xa5" * page * 4)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def paper(title: str) -> Paper:
    return Paper(title=title, abstract="An abstract. " * 100, digest_date=DAY)


# --- backup -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["config.yaml", "notes.txt", "empty.txt"])
def test_backup_never_writes_over_a_file_that_is_not_a_store(project: Path, capsys, name) -> None:
    target = project / name
    if not target.exists():
        target.write_text("" if name == "empty.txt" else NOTES, encoding="utf-8")
    before = target.read_bytes()
    assert main(["backup", name]) == 1
    assert "already exists" in one_error_line(capsys)
    assert main(["backup", name, "--force"]) == 1
    assert "not a digest store" in one_error_line(capsys)
    assert target.read_bytes() == before
    assert sorted(p.name for p in project.iterdir()) == sorted(
        {"config.yaml", "out", "pages", name}
    )  # no partial copy left beside it


def test_backup_never_writes_over_another_programs_database(project: Path, capsys) -> None:
    other = project / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
        conn.commit()
    assert main(["backup", str(other), "--force"]) == 1
    assert "not a digest store" in one_error_line(capsys)
    assert query(other, "SELECT name FROM sqlite_master") == [("notes",)]


def test_backup_to_a_new_path_is_checked_and_force_replaces_an_older_backup(
    project: Path, capsys
) -> None:
    assert main(["backup", "copies/first.sqlite3"]) == 0  # a new path, its folder made
    assert "integrity check ok" in capsys.readouterr().err
    copy = project / "copies" / "first.sqlite3"
    assert query(copy, "PRAGMA application_id") == [(APPLICATION_ID,)]
    with Store.open(copy) as restored:
        assert len(restored.papers(on=DAY)) == 81
    with Store.open(project / STORE) as store:
        store.add_papers("extra", [paper("A paper added after the first backup")], now=NOW)
    assert main(["backup", "copies/first.sqlite3"]) == 1
    assert "--force" in one_error_line(capsys)
    assert main(["backup", "copies/first.sqlite3", "--force"]) == 0
    with Store.open(copy) as restored:
        assert len(restored.papers(on=DAY)) == 82
    assert [p.name for p in (project / "copies").iterdir()] == ["first.sqlite3"]


def test_a_killed_backups_partial_copy_is_swept_by_the_next_backup(project: Path) -> None:
    copies = project / "copies"
    copies.mkdir()
    # what a backup killed before its rename leaves (the pid of a process that has ended), and
    # a running process's partial copy (this one's), which is left alone
    dead = copies / f".first.sqlite3.{dead_pid()}.k2x9q_1.tmp"
    live = copies / f".first.sqlite3.{os.getpid()}.a8b7c6.tmp"
    notes = copies / "notes.tmp"
    for left in (dead, live, notes):
        left.write_bytes(b"partial")
    assert main(["backup", "copies/first.sqlite3"]) == 0
    assert sorted(p.name for p in copies.iterdir()) == sorted(
        ["first.sqlite3", live.name, notes.name]
    )


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_backup_replaces_a_backup_made_before_stores_were_marked(project: Path) -> None:
    old = project / "old-backup.sqlite3"
    shutil.copy(project / STORE, old)
    with contextlib.closing(sqlite3.connect(old)) as conn:
        conn.execute("PRAGMA application_id = 0")
        conn.commit()
    assert is_store(old)
    assert main(["backup", str(old), "--force"]) == 0
    assert query(old, "PRAGMA application_id") == [(APPLICATION_ID,)]


def test_backup_refuses_the_store_itself_even_with_force(project: Path, capsys) -> None:
    assert main(["backup", str(STORE), "--force"]) == 1
    assert "that is the store itself" in one_error_line(capsys)
    (project / "link.sqlite3").hardlink_to(project / STORE)
    assert main(["backup", "link.sqlite3", "--force"]) == 1
    assert "that is the store itself" in one_error_line(capsys)


def test_a_damaged_store_is_not_backed_up(project: Path) -> None:
    damage(project / STORE)
    with Store.open(project / STORE) as store, pytest.raises(StoreError, match="integrity"):
        store.backup(project / "copy.sqlite3")
    assert sorted(p.name for p in project.iterdir()) == ["config.yaml", "out", "pages"]


# --- a full disk ------------------------------------------------------------------------------


def test_a_full_disk_is_named_and_the_batch_left_out(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store.sqlite3") as store:
        store.add_papers("first", [paper("A paper that fits")], now=NOW)
        conn = store._conn  # the page limit is the connection's own: a disk that is full
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        batch = [paper(f"Paper number {i} of a big batch") for i in range(200)]
        with pytest.raises(StoreError, match="database or disk is full"):
            store.add_papers("big", batch, now=NOW)
        assert not conn.in_transaction
        conn.execute("PRAGMA max_page_count = 1000000")
        assert [p.title for p in store.papers()] == ["A paper that fits"]
        assert store.add_papers("big", batch, now=NOW).new == 200  # the store goes on


# --- whose file it is -------------------------------------------------------------------------


def foreign(path: Path, *, version: int = 0, application_id: int = 0) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(f"PRAGMA application_id = {application_id}")
        conn.commit()
    return path


@pytest.mark.parametrize(
    ("version", "application_id", "said"),
    [
        (0, 0, "not a digest store (schema version 0, but it holds contacts)"),
        (
            3,
            0,
            "not a digest store (schema version 3, but no table feedback, fetch_state, "
            "paper_aliases)",
        ),
        (0, 0x12345678, "another program's database, application_id 0x12345678"),
        (-1, 0, "impossible store schema version -1"),
        (len(MIGRATIONS) + 1, 0, "newer than this digest knows"),
    ],
)
def test_a_file_digest_did_not_make_is_refused_untouched(
    tmp_path: Path, version: int, application_id: int, said: str
) -> None:
    path = foreign(tmp_path / "contacts.db", version=version, application_id=application_id)
    before = path.read_bytes()
    with pytest.raises(StoreError) as raised:
        Store.open(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert said in str(raised.value)
    assert path.read_bytes() == before  # no tables added, not even turned to WAL


def test_store_flag_at_another_programs_database_is_one_line(project: Path, capsys) -> None:
    path = foreign(project / "contacts.db")
    for command in (["papers"], ["build"], ["status"], ["backup", "copy.sqlite3"]):
        assert main([*command, "--store", str(path)]) == 1
        assert f"error: {path}: not a digest store" in one_error_line(capsys)
    assert query(path, "SELECT name FROM sqlite_master") == [("contacts",)]


def test_a_new_store_is_marked_and_an_empty_file_becomes_one(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    Store.open(empty).close()
    (marked,) = query(empty, "PRAGMA application_id")[0]
    assert marked == APPLICATION_ID and marked.to_bytes(4, "big") == b"DGST"
    assert query(empty, "PRAGMA user_version") == [(len(MIGRATIONS),)]


def test_a_store_made_before_marking_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for script in MIGRATIONS[:4]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 4")
        conn.commit()
    with Store.open(path) as store:
        store.add_papers("page", [paper("Kept")], now=NOW)
    assert query(path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert query(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


@given(
    application_id=st.integers(-(2**31), 2**31 - 1),
    version=st.integers(-(2**31), 2**31 - 1),
    names=st.sets(st.sampled_from(sorted(tables(len(MIGRATIONS)) | {"contacts"}))),
)
def test_recognise_opens_only_an_empty_file_or_digests_own(
    application_id: int, version: int, names: set[str]
) -> None:
    path = Path("some.db")
    try:
        found = recognise(path, application_id, version, names)
    except StoreError as exc:
        assert str(exc).startswith("some.db: ")
        return
    assert application_id in (0, APPLICATION_ID)
    assert 0 <= version <= len(MIGRATIONS)
    if found == "new":
        assert version == 0 and not names
    else:
        assert version >= 1 and (found == "ours") == (application_id == APPLICATION_ID)
        assert found == "ours" or tables(version) <= names


# --- a damaged store --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["papers"],
        ["papers", "--json"],
        ["build"],
        ["rank", "ada"],
    ],
)
def test_a_damaged_store_is_one_line_from_every_command(project: Path, capsys, command) -> None:
    damage(project / STORE)
    assert main(command) == 1
    assert f"error: {project / STORE}: database disk image is malformed" in one_error_line(capsys)


@pytest.mark.parametrize("command", [["papers"], ["build"], ["status"], ["readers", "list"]])
def test_a_file_that_is_not_a_database_is_one_line(project: Path, capsys, command) -> None:
    (project / STORE).write_bytes(b"not a database at all\n" * 400)
    assert main(command) == 1
    assert "cannot open the store: file is not a database" in one_error_line(capsys)


def test_status_runs_the_quick_check(project: Path, capsys) -> None:
    assert main(["status"]) == 0
    assert "DAMAGED" not in capsys.readouterr().out
    damage(project / STORE)
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"STORE DAMAGED: {project / STORE} fails its integrity check:\n  ")
    assert "restore the newest backup" in out
    assert main(["status", "--json"]) == 1
    assert '"check": [' in capsys.readouterr().out


# --- /healthz ---------------------------------------------------------------------------------


@pytest.fixture
def health(project: Path) -> TestClient:
    config = load_config(project / "config.yaml", kinds=SOURCES.keys())
    app = create_app(
        config, signer=Signer.from_text("x" * 32), confirm=lambda p, link: None, clock=lambda: NOW
    )
    with TestClient(app) as client:
        yield client


def test_healthz_says_ok_or_not_and_nothing_more(project: Path, health: TestClient) -> None:
    assert main(["build"]) == 0  # a run whose report names the reader and the files written
    ok = health.get("/healthz")
    assert (ok.status_code, ok.json()) == (200, {"ok": True})
    with Store.open(project / STORE) as store:
        report = {"failures": [f"ada: cannot write {project}/out/ada.md"]}
        store.record_run("build", started=NOW, seconds=1.0, summary="ada failed", report=report)
    failing = health.get("/healthz")
    assert (failing.status_code, failing.text) == (503, '{"ok":false}')
    assert failing.headers["cache-control"] == "no-store"


def test_healthz_is_503_for_a_damaged_store(project: Path, health: TestClient) -> None:
    assert health.get("/healthz").status_code == 200
    damage(project / STORE)
    damaged = health.get("/healthz")
    assert (damaged.status_code, damaged.json()) == (503, {"ok": False})
    (project / STORE).write_bytes(b"not a database at all\n" * 400)
    assert health.get("/healthz").json() == {"ok": False}
