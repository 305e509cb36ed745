"""The merge of a new sighting into a stored paper, decided without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from digest.models import Paper, paper_id
from digest.store.merge import PaperRow, merge, union

TITLE = "Sparse Graph Transformers"
TITLE_ID = paper_id(None, TITLE)
STORED = PaperRow(
    id=TITLE_ID,
    arxiv_id=None,
    abstract="",
    authors=(),
    url="https://example.org/a",
    pdf_url=None,
    code_url=None,
    project_url=None,
    categories=("cs.LG",),
    keywords=("graphs",),
    published=None,
    upvotes=7,
)


def sighting(**fields: object) -> Paper:
    return Paper(title=TITLE, abstract="What the new source says.", **fields)  # type: ignore[arg-type]


def test_a_title_only_paper_moves_to_its_arxiv_id_and_leaves_an_alias() -> None:
    found = merge(STORED, sighting(arxiv_id="2508.01234"))
    assert found.row.id == paper_id("2508.01234", TITLE) != TITLE_ID
    assert found.row.arxiv_id == "2508.01234"
    assert found.renamed_from == TITLE_ID


def test_a_sighting_without_an_arxiv_id_keeps_the_stored_id() -> None:
    known = replace(STORED, id=paper_id("2508.01234", TITLE), arxiv_id="2508.01234")
    found = merge(known, sighting())
    assert (found.row.id, found.row.arxiv_id, found.renamed_from) == (
        known.id,
        "2508.01234",
        None,
    )


def test_what_the_stored_paper_lacks_is_filled_and_what_it_has_is_kept() -> None:
    published = datetime(2025, 8, 19, 12, 30, tzinfo=UTC)
    new = sighting(
        authors=("Ada", "Bob"),
        url="https://example.org/b",
        pdf_url="https://example.org/b.pdf",
        code_url="https://example.org/code",
        published=published,
    )
    row = merge(STORED, new).row
    assert row.abstract == "What the new source says."
    assert row.authors == ("Ada", "Bob")
    assert row.url == "https://example.org/a"  # stored first, kept
    assert (row.pdf_url, row.code_url, row.project_url) == (
        "https://example.org/b.pdf",
        "https://example.org/code",
        None,
    )
    assert row.published == published.isoformat()
    kept = merge(replace(STORED, published="2025-08-01T00:00:00+00:00"), new).row
    assert kept.published == "2025-08-01T00:00:00+00:00"


def test_stored_authors_are_kept_whole_not_merged() -> None:
    row = merge(replace(STORED, authors=("Ada",)), sighting(authors=("Bob", "Ada"))).row
    assert row.authors == ("Ada",)


def test_the_latest_upvotes_count_and_a_source_without_them_keeps_the_stored_count() -> None:
    assert merge(STORED, sighting(upvotes=3)).row.upvotes == 3
    assert merge(STORED, sighting(upvotes=0)).row.upvotes == 0
    assert merge(STORED, sighting()).row.upvotes == 7


def test_labels_are_the_union_in_stored_order() -> None:
    row = merge(STORED, sighting(categories=("cs.AI", "cs.LG"), keywords=("graphs", "gnn"))).row
    assert row.categories == ("cs.LG", "cs.AI")
    assert row.keywords == ("graphs", "gnn")


# a source's labels come without repeats (as the stored ones do)
labels = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=5, unique=True).map(tuple)


@given(stored=labels, more=labels)
def test_union_keeps_the_stored_items_first_adds_each_new_one_once(
    stored: tuple[str, ...], more: tuple[str, ...]
) -> None:
    merged = union(stored, more)
    assert merged[: len(stored)] == stored
    assert len(set(merged)) == len(merged)
    assert set(merged) == set(stored) | set(more)
    assert union(merged, more) == merged
