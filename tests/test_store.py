"""The store: one paper once, every sighting kept, merges by title, atomic batches, migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import Digest, Paper, Profile, Scored, Term
from digest.store import MIGRATIONS, FetchState, Store

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
D1, D2 = date(2025, 8, 20), date(2025, 8, 21)


def paper(title: str, day: date = D1, **fields: object) -> Paper:
    return Paper(title=title, abstract=f"Abstract of {title}.", digest_date=day, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "out" / "digest.sqlite3") as s:
        yield s


def test_new_store_is_migrated_sqlite_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "store.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reingesting_the_same_papers_adds_nothing(store: Store) -> None:
    batch = [paper("A study of graphs"), paper("Pruning networks")]
    first = store.add_papers("page", batch, now=NOW)
    again = store.add_papers("page", batch, now=NOW)
    assert (first.seen, first.new) == (2, 2)
    assert (again.seen, again.new) == (2, 0)
    assert len(store.papers()) == 2
    assert [p.dates for p in store.papers()] == [(D1,), (D1,)]


def test_a_paper_on_two_pages_is_one_paper_with_two_sightings(store: Store) -> None:
    store.add_papers("aug-20", [paper("Shared Paper")], now=NOW)
    result = store.add_papers("aug-21", [paper("Shared  paper", day=D2)], now=NOW)
    assert result.new == 0
    (only,) = store.papers()
    assert only.title == "Shared Paper"
    assert only.dates == (D1, D2)
    assert only.sources == ("aug-20", "aug-21")
    assert [p.id for p in store.papers(on=D2)] == [only.id]
    assert store.digest_dates() == [D1, D2]
    assert store.latest_date() == D2


def test_title_only_paper_merges_when_its_arxiv_id_arrives(store: Store) -> None:
    store.add_papers("page", [paper("Rethinking the Value of Network Pruning")], now=NOW)
    (before,) = store.papers()
    assert before.id.startswith("title:")
    later = paper(
        "Rethinking the value of\n  network pruning",
        day=D2,
        arxiv_id="1810.05270",
        authors=("Zhuang Liu",),
        url="https://arxiv.org/abs/1810.05270",
        upvotes=7,
    )
    assert store.add_papers("api", [later], now=NOW).new == 0
    (merged,) = store.papers()
    assert merged.id == "arxiv:1810.05270"
    assert merged.title == "Rethinking the Value of Network Pruning"
    assert merged.authors == ("Zhuang Liu",)
    assert merged.upvotes == 7
    assert merged.dates == (D1, D2)
    # a title-only sighting after the merge lands on the arXiv paper too
    store.add_papers("page2", [paper("Rethinking the Value of Network Pruning", day=D2)], now=NOW)
    assert [p.id for p in store.papers()] == ["arxiv:1810.05270"]


def test_texts_are_stored_exactly_as_given(store: Store) -> None:
    text = "For j<i & k>0, $\\mathcal{O}(n^2)$ — “quoted” 日本語."
    store.add_papers("page", [Paper(title="T <b>", abstract=text, digest_date=D1)], now=NOW)
    (stored,) = store.papers()
    assert (stored.title, stored.abstract) == ("T <b>", text)


def test_a_failing_batch_leaves_nothing_behind(store: Store) -> None:
    store.add_papers("page", [paper("Kept")], now=NOW)
    broken = [paper("New one"), Paper(title="No date", abstract="x", digest_date=None)]
    with pytest.raises(StoreError, match="no digest date"):
        store.add_papers("page", broken, now=NOW)
    assert [p.title for p in store.papers()] == ["Kept"]


def test_find_by_arxiv_id_id_or_title(store: Store) -> None:
    store.add_papers("api", [paper("Graph Nets", arxiv_id="2401.00001")], now=NOW)
    store.add_papers("page", [paper("Only A Title")], now=NOW)
    found = store.find(["2401.00001v3", "only a title", "missing paper", "arxiv:2401.00001"])
    assert [p.title for p in found] == ["Graph Nets", "Only A Title"]


def test_source_failures_count_up_until_a_success(store: Store) -> None:
    store.record_source("s", "x.txt", now=NOW, error="x.txt: broken")
    store.record_source("s", "x.txt", now=NOW, error="x.txt: broken")
    assert store.source_failures("s") == 2
    store.record_source("s", "x.txt", now=NOW, error=None)
    assert store.source_failures("s") == 0


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"store\.db"):
        Store.open(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


def test_merged_title_id_stays_an_alias(store: Store) -> None:
    store.add_papers("page", [paper("Attention Is All You Need")], now=NOW)
    (before,) = store.papers()
    store.add_papers("api", [paper("Attention is all you need", arxiv_id="1706.03762")], now=NOW)
    (found,) = store.find([before.id])
    assert found.id == "arxiv:1706.03762"


def test_keywords_and_categories_merge_as_unions(store: Store) -> None:
    first = paper("Graph Nets", arxiv_id="2401.00001", categories=("cs.LG",), keywords=("gnn",))
    again = paper(
        "Graph Nets",
        arxiv_id="2401.00001",
        categories=("cs.LG", "stat.ML"),
        keywords=("gnn", "graphs"),
        day=D2,
    )
    store.add_papers("a", [first], now=NOW)
    store.add_papers("b", [again], now=NOW)
    (stored,) = store.papers()
    assert stored.categories == ("cs.LG", "stat.ML")
    assert stored.keywords == ("gnn", "graphs")


def test_fetch_state_round_trip(store: Store) -> None:
    assert store.fetch_state("https://x.org/feed") is None
    state = FetchState(
        "https://x.org/feed", '"abc"', "Tue, 19 Aug 2025 10:00:00 GMT", 200, None, NOW
    )
    store.record_fetch(state, source="x")
    assert store.fetch_state("https://x.org/feed") == state
    moved = FetchState(state.url, None, None, 301, "https://y.org/feed", NOW)
    store.record_fetch(moved, source="x")
    assert store.fetch_state(state.url) == moved


def test_a_version_1_store_with_papers_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO papers (id, title, title_key, abstract, first_seen, updated)"
        " VALUES ('title:1', 'Old Paper', 'old paper', 'Kept.', '2025-01-01', '2025-01-01')"
    )
    conn.execute(
        "INSERT INTO sightings VALUES ('title:1', 'page', '2025-01-01', NULL, '2025-01-01')"
    )
    conn.commit()
    conn.close()
    with Store.open(path) as upgraded:
        (old,) = upgraded.papers()
        assert (old.title, old.abstract, old.keywords) == ("Old Paper", "Kept.", ())
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_feedback_keeps_the_latest_word_and_follows_merges(store: Store) -> None:
    store.add_papers("page", [paper("Graph Nets For All"), paper("Other Paper")], now=NOW)
    store.record_feedback("ada", "Graph Nets For All", liked=True, now=NOW)
    store.record_feedback("ada", "Other Paper", liked=True, now=NOW)
    store.record_feedback("ada", "other paper", liked=False, now=NOW)
    liked, disliked = store.feedback("ada")
    assert [p.title for p in liked] == ["Graph Nets For All"]
    assert [p.title for p in disliked] == ["Other Paper"]
    assert store.feedback("bob") == ([], [])
    store.add_papers("api", [paper("Graph nets for all", arxiv_id="2401.00009")], now=NOW)
    liked, _ = store.feedback("ada")
    assert [p.id for p in liked] == ["arxiv:2401.00009"]
    with pytest.raises(StoreError, match="no paper"):
        store.record_feedback("ada", "2501.99999", liked=True, now=NOW)


def test_built_digests_read_back_with_their_reasons_and_follow_merges(store: Store) -> None:
    store.add_papers("page", [paper("Graph Nets For All"), paper("Liked Before")], now=NOW)
    graph, liked = sorted(store.papers(), key=lambda p: p.title)
    ada = Profile(name="ada", keywords=("graph",))
    item = Scored(
        graph,
        0.5,
        (Term("graph", 0.75), Term("nets", 0.25)),
        closest=liked,
        closeness=0.4,
        popularity=0.1,
        authors=("Y. Li",),
    )
    first = Digest(reader=ada, date=D1, papers=(item,), candidates=9, generated=NOW)
    store.save_digests([first])
    assert store.digests(ada) == [first]
    empty = Digest(reader=ada, date=D2, papers=(), candidates=4, generated=NOW)
    store.save_digests([replace(first, candidates=10), empty])  # a rebuild replaces the day
    again = store.digests(ada)
    assert [d.candidates for d in again] == [10, 4] and again[1].papers == ()
    assert store.digests(ada, since=D2) == [empty]
    assert store.digests(Profile(name="bob")) == []
    store.add_papers("api", [paper("Graph nets for all", arxiv_id="2401.00009")], now=NOW)
    (merged,) = store.digests(ada)[0].papers
    assert merged.paper.id == "arxiv:2401.00009" and merged.terms == item.terms


def test_built_digests_keep_their_near_misses_after_the_matches(store: Store) -> None:
    store.add_papers("page", [paper("Graph Nets"), paper("Loose One"), paper("Loose Two")], now=NOW)
    graph, one, two = sorted(store.papers(), key=lambda p: p.title != "Graph Nets")
    ada = Profile(name="ada", keywords=("graph",))
    match = Scored(graph, 0.5, (Term("graph", 1.0),))
    near = tuple(Scored(p, 0.1, (Term("nets", 1.0),), loose=True) for p in (one, two))
    built = Digest(ada, D1, (match,), 9, NOW, near=near)
    store.save_digests([built])
    assert store.digests(ada) == [built]
    only_near = Digest(ada, D2, (), 4, NOW, near=near[:1])
    store.save_digests([only_near])
    assert store.digests(ada, since=D2) == [only_near]
    # the near misses are rows after the matches, marked loose in their reasons
    with closing(sqlite3.connect(store.path)) as raw:
        rows = raw.execute(
            "SELECT position, paper_id, reasons FROM digest_papers WHERE digest_date = ?"
            " ORDER BY position",
            (D1.isoformat(),),
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(0, graph.id), (1, one.id), (2, two.id)]
    assert ['"loose": true' in r[2] for r in rows] == [False, True, True]


def test_built_rows_from_before_near_misses_read_as_matches(store: Store) -> None:
    store.add_papers("page", [paper("Graph Nets")], now=NOW)
    (graph,) = store.papers()
    ada = Profile(name="ada", keywords=("graph",))
    with closing(sqlite3.connect(store.path)) as raw, raw:
        raw.execute(
            "INSERT INTO digests (reader, digest_date, candidates, built) VALUES (?, ?, ?, ?)",
            ("ada", D1.isoformat(), 3, NOW.isoformat()),
        )
        raw.execute(
            "INSERT INTO digest_papers (reader, digest_date, position, paper_id, score, reasons)"
            " VALUES (?, ?, 0, ?, 0.5, ?)",
            (
                "ada",
                D1.isoformat(),
                graph.id,
                '{"terms": [["graph", 1.0]], "closest": null, "closeness": 0.0,'
                ' "popularity": 0.0, "authors": []}',
            ),
        )
    (old,) = store.digests(ada)
    assert [s.paper.id for s in old.papers] == [graph.id] and old.near == ()
    assert not old.papers[0].loose


def test_near_misses_and_min_papers_survive_the_readers_table(store: Store) -> None:
    ada = Profile(name="ada", keywords=("graph",), top_k=5, near_misses=1, min_papers=4)
    store.sync_readers([ada], now=NOW)
    assert store.subscriber("ada").profile == ada  # type: ignore[union-attr]
    store.set_profile(replace(ada, keywords=("graphs",)), now=NOW)
    found = store.subscriber("ada").profile  # type: ignore[union-attr]
    assert (found.near_misses, found.min_papers) == (1, 4)
    store.add_reader(Profile(name="bob", keywords=("x",)), status="active", origin="cli", now=NOW)
    bob = store.subscriber("bob").profile  # type: ignore[union-attr]
    assert (bob.near_misses, bob.min_papers) == (3, 0)
    # a profile stored before these keys existed reads with their defaults
    with closing(sqlite3.connect(store.path)) as raw, raw:
        raw.execute(
            "UPDATE readers SET profile = json_remove(profile, '$.near_misses', '$.min_papers')"
            " WHERE name = 'ada'"
        )
    old = store.subscriber("ada").profile  # type: ignore[union-attr]
    assert (old.near_misses, old.min_papers, old.top_k) == (3, 0, 5)


def test_a_config_entry_stored_before_a_profile_key_existed_is_unchanged(store: Store) -> None:
    """A digest that adds a key to Profile does not replace every config reader's stored
    profile (nor undo what they edited since) at its first sync."""
    ada = Profile(name="ada", keywords=("graph",))
    store.sync_readers([ada], now=NOW)
    store.set_profile(replace(ada, keywords=("edited",)), now=NOW)
    with closing(sqlite3.connect(store.path)) as raw, raw:
        raw.execute("UPDATE readers SET configured = json_remove(configured, '$.paused')")
    assert store.sync_readers([ada], now=NOW) == 0
    assert store.subscriber("ada").profile.keywords == ("edited",)  # type: ignore[union-attr]
