"""The feedback walk: each day the reader likes the relevant papers among the first k of the
ranking it was shown, and those (only those) join its liked papers for the later days."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from evalcase import EVAL, one_thread

from digest import evaluate


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


Log = dict[tuple[int, str], list[str]]


def planted(log: Log) -> evaluate.Ranker:
    """A ranker that notes the liked papers it is given, and puts each interest's first relevant
    paper second and its second relevant paper sixth, after five irrelevant ones."""
    days: list[object] = []

    def ranker(day: evaluate.TestDay, readers: evaluate.Readers) -> dict[str, evaluate.Ranking]:
        days.append(day.day)
        out = {}
        for profile, liked in readers:
            log[len(days), profile.name] = [p.arxiv_id or p.id for p in liked]
            relevant = [x.paper.id for x in day.listed if profile.name in x.labels]
            other = [x.paper.id for x in day.listed if profile.name not in x.labels]
            ids = [other[0], *relevant[:1], *other[1:4], *relevant[1:], *other[4:]]
            out[profile.name] = evaluate.Ranking(ids)
        return out

    return ranker


def test_likes_are_the_relevant_papers_of_the_first_k_and_only_learners_get_them() -> None:
    case = evaluate.load_case(EVAL / "interests_dev.json", EVAL / "arxiv_listings_dev.jsonl.gz")
    spec, listings = case.spec, case.listings
    assert spec.k == 5
    learner: Log = {}
    ignorer: Log = {}
    rankers: dict[str, evaluate.Ranker] = {"learns": planted(learner), "ignores": planted(ignorer)}
    results = list(evaluate.evaluate_many(spec, listings, rankers, learning=["learns"]))
    assert len(results) == 2 * 3 * 4  # every pair, databases' empty day too

    def first_relevant(index: int, name: str) -> list[str]:
        day = listings[spec.days[index - 1]]
        return [x.paper.arxiv_id or "" for x in day if name in x.labels][:1]

    for interest in spec.interests:
        seeds = list(interest.seeds)
        expected = list(seeds)
        for index in range(1, 5):
            assert learner[index, interest.name] == expected
            assert ignorer[index, interest.name] == seeds
            # second in the ranking: liked; sixth, beyond k: not
            expected += first_relevant(index, interest.name)
    # nothing to like for databases on 2025-10-07 (day 3), which had no database paper
    assert first_relevant(3, "cs.DB") == [] and len(learner[4, "cs.DB"]) == 4 + 2
    assert len(learner[4, "cs.RO"]) == 4 + 3


def test_the_walk_without_likes_is_the_day_by_day_protocol() -> None:
    case = evaluate.load_case(EVAL / "tags_dev.json", EVAL / "arxiv_listings_dev.jsonl.gz")
    shipped = {"shipped": evaluate.RANKERS["shipped"]}
    walked = evaluate.walk(case, shipped)
    assert list(walked) == ["shipped", evaluate.IGNORING]
    by_day = evaluate.evaluate(case, shipped)["shipped"]
    assert walked[evaluate.IGNORING] == by_day
    first_day = [r for r in walked["shipped"] if r.day_index == 1]
    assert first_day == [r for r in by_day if r.day_index == 1]
    assert walked["shipped"] != by_day  # two liked papers become more from day 2
