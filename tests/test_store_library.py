"""The store's part of readers' libraries (digest/store/sql/library.py), on every backend of the
contract (tests/test_store_contract.py's BACKENDS): matching ids, DOIs and titles, a library
replaced whole, library papers kept apart from the papers digests are made of."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from test_store_contract import BACKENDS

from digest.models import Paper, title_key
from digest.store import LibraryItem, LibraryPaper, Store

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
D1 = date(2025, 8, 19)


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with BACKENDS[request.param](request, tmp_path) as store:
        yield store


def paper(title: str, **fields: object) -> Paper:
    return Paper(title=title, abstract=f"About {title}.", digest_date=D1, **fields)  # type: ignore[arg-type]


def kept(title: str, pid: str | None = None, **fields: object) -> LibraryPaper:
    return LibraryPaper(id=pid or f"title:{title}", title=title, abstract=f"On {title}.", **fields)  # type: ignore[arg-type]


def test_ids_dois_and_titles_name_stored_papers_and_library_papers(backend: Store) -> None:
    backend.add_papers(
        "feed",
        [
            paper("Graphs", arxiv_id="2508.00001"),
            paper("Nets", url="https://doi.org/10.1145/3292500.3330701"),
            paper("Trees"),
        ],
        now=NOW,
    )
    backend.replace_library(
        "ada", [LibraryItem(3, paper=kept("Old", doi="10.1/old0"))], origin="a.bib", now=NOW
    )
    found = backend.match_papers(
        arxiv_ids={"2508.00001", "2508.99999"},
        dois={"10.1145/3292500.3330701", "10.1/old0"},
        title_keys={title_key("TREES"), title_key("old"), title_key("Unknown")},
    )
    assert found.papers == {
        ("arxiv", "2508.00001"): "arxiv:2508.00001",
        ("doi", "10.1145/3292500.3330701"): Paper("Nets", "").id,
        ("title", "trees"): Paper("Trees", "").id,
    }
    assert found.library == {("doi", "10.1/old0"): "title:Old", ("title", "old"): "title:Old"}


def test_a_library_is_replaced_whole_and_read_back_in_its_order(backend: Store) -> None:
    backend.add_papers("feed", [paper("Graphs", arxiv_id="2508.00001")], now=NOW)
    items = [
        LibraryItem(7, paper=kept("Old one", authors=("A. Author",))),
        LibraryItem(2, paper_id="arxiv:2508.00001"),
    ]
    backend.replace_library("ada", items, origin="lib.bib", now=NOW, digest="abc", unmatched=1)
    library = backend.library("ada")
    assert [(p.id, p.title, p.dates) for p in library] == [
        ("title:Old one", "Old one", ()),
        ("arxiv:2508.00001", "Graphs", (D1,)),
    ]
    assert library[0].authors == ("A. Author",) and library[0].abstract == "On Old one."
    state = backend.library_state("ada")
    assert state is not None
    assert (state.origin, state.digest, state.entries, state.unmatched) == ("lib.bib", "abc", 2, 1)
    later = NOW + timedelta(days=1)
    backend.replace_library("ada", [items[1]], origin="zotero:users/1", now=later, version=42)
    assert [p.id for p in backend.library("ada")] == ["arxiv:2508.00001"]
    state = backend.library_state("ada")
    assert state is not None and (state.origin, state.version, state.imported) == (
        "zotero:users/1",
        42,
        later,
    )
    # the library paper nobody's library names any more is gone
    assert backend.match_papers(title_keys={"old one"}).library == {}
    assert backend.library("bob") == [] and backend.library_state("bob") is None


def test_library_papers_are_shared_and_never_among_the_stored_papers(backend: Store) -> None:
    backend.replace_library("ada", [LibraryItem(1, paper=kept("Shared"))], origin="a", now=NOW)
    backend.replace_library("bob", [LibraryItem(1, library_id="title:Shared")], origin="b", now=NOW)
    backend.replace_library("ada", [], origin="a", now=NOW)  # bob's still names it
    assert [p.title for p in backend.library("bob")] == ["Shared"]
    assert backend.papers() == [] and backend.find(["Shared"]) == []
    assert backend.digest_dates() == []


def test_an_entry_follows_its_paper_when_it_is_renamed_to_its_arxiv_id(backend: Store) -> None:
    backend.add_papers("page", [paper("Graphs")], now=NOW)
    (stored,) = backend.papers()
    backend.replace_library("ada", [LibraryItem(1, paper_id=stored.id)], origin="a", now=NOW)
    backend.add_papers("feed", [paper("Graphs", arxiv_id="2508.00001")], now=NOW)
    assert [p.id for p in backend.library("ada")] == ["arxiv:2508.00001"]
