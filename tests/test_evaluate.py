"""The evaluation protocol: metrics by hand, and the small dev cases of tests/fixtures/eval (four
topics with their own words; see make_fixtures.py there)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from evalcase import EVAL, one_thread

from digest import evaluate
from digest.errors import DigestError
from digest.evaluate import anchors, metrics
from digest.models import Profile


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def case() -> evaluate.Case:
    return evaluate.load_case(EVAL / "interests_dev.json", EVAL / "arxiv_listings_dev.jsonl.gz")


def test_ranking_metrics_by_hand() -> None:
    ranking = ["a", "x", "b", "y"]
    relevant = {"a", "b"}
    ideal = 1 + 1 / math.log2(3)
    assert evaluate.ndcg(ranking, relevant, 2) == pytest.approx(1 / ideal)
    assert evaluate.precision(ranking, relevant, 2) == 0.5
    assert evaluate.average_precision(ranking, relevant) == pytest.approx((1 + 2 / 3) / 2)
    assert evaluate.ndcg(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert evaluate.complete(["c"], ["a", "b", "c"]) == ["c", "a", "b"]


def test_what_is_shown_by_hand() -> None:
    # R = {a, b, c, d}, k = 3: the first three hold a and b; the digest shows the first two
    day = date(2025, 10, 1)
    r = metrics.score("i", day, 1, ["a", "x", "b", "y", "c"], {"a", "b", "c", "d"}, 3, 2)
    assert r.relevant == 4 and r.shown == 2
    assert r.ndcg == pytest.approx((1 + 1 / 2) / (1 + 1 / math.log2(3) + 1 / 2))
    assert r.precision == pytest.approx(2 / 3) and r.recall == pytest.approx(2 / 3)
    assert r.average_precision == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)
    assert r.precision_shown == pytest.approx(1 / 2)  # a of {a, x}
    assert r.recall_shown == pytest.approx(1 / 3)  # a, over min(|R|, k) = 3
    shows_all = metrics.score("i", day, 1, ["a", "x", "b", "y", "c"], {"a", "b", "c", "d"}, 3, 5)
    assert shows_all.precision_shown == pytest.approx(3 / 5) and shows_all.recall_shown == 1.0
    nothing = metrics.score("i", day, 1, ["a", "x"], {"a"}, 3, 0)
    assert nothing.precision_shown == 0.0 and nothing.recall_shown == 0.0
    assert nothing.recall == 1.0  # a, over min(|R|, k) = 1


def test_means_skip_pairs_with_nothing_relevant_but_the_empty_day_shown_counts_them() -> None:
    day = date(2025, 10, 1)
    pairs = [
        metrics.score("i", day, 1, ["a", "x"], {"a"}, 2, 1),  # nDCG 1, P@2 1/2, shows a
        metrics.score("j", day, 1, ["x", "a"], {"a"}, 2, 2),  # nDCG 1/log2(3), shows x, a
        metrics.score("k", day, 1, ["x", "y", "z"], set(), 2, 3),  # nothing relevant, shows 3
    ]
    row = evaluate.summarise(pairs)
    assert row["pairs"] == 2 and row["empty_pairs"] == 1 and row["empty_shown"] == 3.0
    assert row["ndcg"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert row["precision"] == 0.5 and row["recall"] == 1.0
    assert row["precision_shown"] == pytest.approx((1 + 1 / 2) / 2)
    assert row["recall_shown"] == 1.0 and row["shown"] == 1.5
    assert row["precision_shown_ratio"] == pytest.approx(1.5)
    assert row["recall_shown_ratio"] == pytest.approx(1.0)
    unshown = [metrics.score("i", day, 1, ["a"], {"a"}, 2, None)]
    assert "shown" not in evaluate.summarise(unshown)


def test_a_walk_pools_pairs_before_and_after_n_and_keeps_a_curve() -> None:
    def pair(index: int, first: str, relevant: set[str]) -> evaluate.PairResult:
        return metrics.score("i", date(2025, 10, index), index, [first, "x"], relevant, 1, None)

    results = [
        pair(1, "a", {"a"}),  # 1.0
        pair(2, "x", {"a"}),  # 0.0
        pair(3, "a", {"a"}),  # 1.0
        pair(3, "a", {"a"}),  # 1.0
        pair(4, "x", {"a"}),  # 0.0
        pair(5, "a", set()),  # nothing relevant: in no mean
    ]
    row = evaluate.summarise_walk(results, 2)
    assert row["pairs_2_to_n"] == 1 and row["ndcg_2_to_n"] == 0.0
    assert row["pairs_after_n"] == 3 and row["ndcg_after_n"] == pytest.approx(2 / 3)  # pooled
    assert row["curve"] == [1.0, 0.0, 1.0, 0.0, None]
    assert evaluate.summarise_walk(results[:1], 2)["ndcg_2_to_n"] is None


def test_every_pair_is_ranked_in_full_and_the_ranking_means_something(
    case: evaluate.Case,
) -> None:
    results = evaluate.evaluate(case, evaluate.chosen(None))
    assert list(results) == ["shipped", "kw+centroid", "arxiv-sanity"]
    shipped = results["shipped"]
    # 3 interests x 4 days, in walk order; databases has no paper on 2025-10-07
    assert [(r.interest, r.day_index) for r in shipped][:5] == [
        ("cs.RO", 1),
        ("cs.RO", 2),
        ("cs.RO", 3),
        ("cs.RO", 4),
        ("cs.GR", 1),
    ]
    empty = [(r.interest, r.day) for r in shipped if not r.relevant]
    assert empty == [("cs.DB", date(2025, 10, 7))]
    for found in results.values():
        assert all(len(r.ranking) == 40 and len(set(r.ranking)) == 40 for r in found)
    assert all(r.shown is not None and 0 <= r.shown <= case.spec.k for r in shipped)
    assert all(r.shown is None for r in results["arxiv-sanity"])
    for name, found in results.items():
        assert evaluate.summarise(found)["ndcg"] > 0.5, name  # chance is about 0.25


def test_anchors_fit_a_tiny_corpus_and_fall_back_to_listing_order(case: evaluate.Case) -> None:
    listed = case.listings[date(2025, 10, 1)][:3]
    tiny = [x.paper for x in listed]
    for settings in (anchors.SANITY_TFIDF, anchors.README_TFIDF):  # min_df 5 or 2: relaxed
        fit = anchors.fit_tfidf(tiny, settings)
        assert fit.vectorizer is not None
        assert fit.matrix.shape == (3, len(fit.vectorizer.vocabulary_))
    order = [p.id for p in tiny]
    reader = (Profile("r", keywords=("robot",)), tiny[:1])
    day = evaluate.TestDay(date(2025, 10, 2), listed, tiny, [])
    assert anchors.arxiv_sanity(day, [(reader[0], [])])["r"].ids == order  # nothing liked
    bare = [replace(x, paper=replace(x.paper, title="The", abstract="and of it")) for x in listed]
    words_only_stop = evaluate.TestDay(date(2025, 10, 2), bare, [x.paper for x in bare], [])
    assert anchors.fit_tfidf(words_only_stop.corpus, anchors.SANITY_TFIDF).vectorizer is None
    for ranker in (anchors.arxiv_sanity, anchors.keywords_centroid):
        assert ranker(words_only_stop, [reader])["r"].ids == order


def test_bad_spec_and_listings_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DigestError, match="not an evaluation spec"):
        evaluate.load_spec(tmp_path / "spec.json")
    (tmp_path / "l.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(DigestError, match="not a listings file"):
        evaluate.load_listings(tmp_path / "l.jsonl.gz")
    with pytest.raises(DigestError, match=r"nowhere\.json: no such file"):
        evaluate.load_case(tmp_path / "nowhere.json", tmp_path / "l.jsonl.gz")
