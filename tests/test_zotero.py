"""The Zotero Web API as a reader's library (digest/library/zotero.py, digest/app/library.py),
against a local server that speaks its protocol (tests/zoteroserver.py): pages, the API key,
conditional reads on the library's version, Backoff and 429 honoured with an injected clock, a
library edited while it was read; and a reader's `zotero:` library read at each build, on SQLite
and on PostgreSQL. The key is never printed or logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES
from pg import StoreLocation
from zoteroserver import Library, serve

from digest.app import library as importing
from digest.config import Config, LibrarySource, ZoteroConfig
from digest.errors import SourceError
from digest.library import read
from digest.library.zotero import MAX_WAIT, ZoteroClient, entries, items_path
from digest.models import Profile
from digest.store import Store

KEY = "P9NiFoyLeZu2bZNvvuQPDWsd"  # a made-up key, in Zotero's shape
PAPERS = read("zotero.bib", (FIXTURES / "library" / "zotero.bib").read_bytes()).entries
NOW = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)


def item(n: int, kind: str = "preprint") -> dict[str, Any]:
    """A Zotero item as the API gives it (`format=json`), made of the n-th library paper."""
    paper = PAPERS[n % len(PAPERS)]
    key = f"K{n:07d}"
    data = {
        "key": key,
        "itemType": kind,
        "title": paper.title,
        "abstractNote": paper.abstract,
        "creators": [{"creatorType": "author", "firstName": "Ada", "lastName": f"Author{n}"}],
        "DOI": f"10.48550/arXiv.{paper.arxiv_id}",
        "url": f"http://arxiv.org/abs/{paper.arxiv_id}",
        "archiveID": f"arXiv:{paper.arxiv_id}",
        "extra": "",
    }
    return {"key": key, "version": 1, "library": {"type": "user", "id": 1}, "data": data}


class Clock:
    """An injected clock: `sleep` moves it on and remembers each wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def zotero() -> Iterator[Library]:
    library = Library(key=KEY, items=[item(n) for n in range(50)], version=7)
    library.items[3] = item(3, kind="attachment")  # no paper: left out
    with serve(library) as running:
        yield running


def client(server: Library, clock: Clock, key: str | None = KEY) -> ZoteroClient:
    return ZoteroClient(key=key, base=server.base, clock=clock, sleep=clock.sleep)


PATH = items_path(user="1", group=None, collection=None)


def test_every_page_is_read_with_the_key_newest_first(zotero: Library) -> None:
    zotero.items += [item(n) for n in range(50, 230)]
    with client(zotero, Clock()) as api:
        found = api.items(PATH)
    assert found.version == 7 and found.items is not None and len(found.items) == 230
    pages = [(path, params) for path, params, _ in zotero.requests]
    assert pages == [
        (
            "/users/1/items/top",
            {"format": "json", "start": str(start), "limit": "100", "sort": "dateAdded",
             "direction": "desc"},
        )
        for start in (0, 100, 200)
    ]  # fmt: skip
    headers = zotero.requests[0][2]
    assert (headers["zotero-api-key"], headers["zotero-api-version"]) == (KEY, "3")
    assert "if-modified-since-version" not in headers
    made = entries(found.items)
    assert len(made.entries) == 229 and made.bad == ()  # the attachment is no paper
    first = made.entries[0]
    assert (first.line, first.arxiv_id, first.title) == (1, PAPERS[0].arxiv_id, PAPERS[0].title)
    assert first.authors == ("Author0, Ada",)


def test_a_library_unchanged_since_its_version_is_a_304(zotero: Library) -> None:
    with client(zotero, Clock()) as api:
        assert api.items(PATH, since=7).items is None
        assert zotero.requests[-1][2]["if-modified-since-version"] == "7"
        zotero.add(item(60))
        found = api.items(PATH, since=7)
    assert found.version == 8 and found.items is not None and len(found.items) == 51


def test_backoff_holds_the_next_request_and_429_waits_its_retry_after(zotero: Library) -> None:
    zotero.items += [item(n) for n in range(50, 150)]
    zotero.backoff = [30]  # the first page says: nothing more for 30 s
    clock = Clock()
    with client(zotero, clock) as api:
        found = api.items(PATH)
        assert found.items is not None and len(found.items) == 150
        assert clock.slept == [30.0]
        zotero.too_many = [7, 2]
        api.items(PATH)
    assert clock.slept == [30.0, 7.0, 2.0]


def test_a_wait_past_the_bound_or_a_refused_key_fails_in_one_line_without_the_key(
    zotero: Library, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    zotero.too_many = [int(MAX_WAIT) + 1]
    with client(zotero, Clock()) as api, pytest.raises(SourceError) as waited:
        api.items(PATH)
    assert str(waited.value) == (
        f"zotero {PATH}: the server asks to wait {int(MAX_WAIT) + 1} s, over 300 s "
        "(try again later)"
    )
    with client(zotero, Clock(), key="wrong-key") as api, pytest.raises(SourceError) as refused:
        api.items(PATH)
    assert str(refused.value) == (
        f"zotero {PATH}: HTTP 403 forbidden (the API key cannot read this library)"
    )
    with client(zotero, Clock()) as api, pytest.raises(SourceError, match="404"):
        api.items(items_path(user="1", group=None, collection="NOPE1234"))
    assert KEY not in caplog.text and "wrong-key" not in caplog.text


def test_a_library_edited_while_it_is_read_is_read_again(zotero: Library) -> None:
    zotero.items += [item(n) for n in range(50, 150)]
    zotero.edit_after_page = 1
    with client(zotero, Clock()) as api:
        found = api.items(PATH)
    assert found.version == 8 and found.items is not None and len(found.items) == 150
    assert [p["start"] for _, p, _ in zotero.requests] == ["0", "100", "0", "100"]


def test_one_collection_is_read_from_its_own_path(zotero: Library) -> None:
    zotero.collections["ABCD2345"] = ["K0000001", "K0000002"]
    path = items_path(user=None, group="99", collection="ABCD2345")
    with client(zotero, Clock()) as api:
        found = api.items(path)
    assert zotero.requests[-1][0] == "/groups/99/collections/ABCD2345/items/top"
    assert found.items is not None and [i["key"] for i in found.items] == ["K0000001", "K0000002"]


def test_a_readers_zotero_library_is_read_at_each_build_when_it_changed(
    zotero: Library, tmp_path: Path, store_location: StoreLocation
) -> None:
    source = LibrarySource("zoe", zotero=ZoteroConfig(user="1", key_env="ZOTERO_KEY"))
    config = Config(
        path=tmp_path / "config.yaml",
        store=tmp_path / "digest.sqlite3",
        out_dir=tmp_path / "out",
        templates=(),
        title="Digest",
        sources=(),
        readers=(Profile(name="zoe"),),
        libraries=(source,),
    )
    clock = Clock()

    def refresh(store: Store, environ: dict[str, str]) -> list[str]:
        return importing.refresh(
            config,
            store,
            [Profile(name="zoe")],
            now=NOW,
            environ=environ,
            zotero_api=zotero.base,
            sleep=clock.sleep,
        )

    with Store.open(store_location(tmp_path / "digest.sqlite3")) as store:
        store.add_reader(Profile(name="zoe"), now=NOW)
        assert refresh(store, {"ZOTERO_KEY": KEY}) == []
        assert len(store.library("zoe")) == 49
        state = store.library_state("zoe")
        assert state is not None and (state.origin, state.version) == ("zotero:users/1", 7)
        assert refresh(store, {"ZOTERO_KEY": KEY}) == []  # unchanged: a 304
        assert zotero.requests[-1][2]["if-modified-since-version"] == "7"
        zotero.items = zotero.items[:10]
        zotero.version = 9
        assert refresh(store, {"ZOTERO_KEY": KEY}) == []
        assert len(store.library("zoe")) == 9
        said = refresh(store, {})
        assert said == [
            "zoe's library: zotero:users/1: the variable ZOTERO_KEY is not set; "
            "kept as last imported"
        ]
        assert len(store.library("zoe")) == 9
        assert not any(KEY in line for line in said)
