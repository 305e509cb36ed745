"""Running the protocol: every ranker on every (interest, day) pair, one corpus per test day.

The same loop serves both protocols. Day by day (README "Protocol") every reader is its interest's
keywords and seed papers. In the walk (README "Likes over time"), the rankers named in `learning`
each keep their own reader per interest: after each day's ranking, the reader likes every relevant
paper among the first k of it (whatever the digest shows), and those papers join its liked papers
for the later days. Labels decide the likes, never the ranking.

Each test day's corpus (history, seeds, candidates; likes are not added) is fitted once per kind of
model, whatever ranker or interest asks; each ranker ranks every reader of the day in one call.
Every pair is scored, those with no relevant candidate too (see metrics.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence

from digest.errors import DigestError
from digest.evaluate import anchors, rankers
from digest.evaluate.metrics import PairResult, complete, score
from digest.evaluate.rankers import Ranker
from digest.evaluate.spec import Case, Interest, Listings, Spec, TestDay, days_of
from digest.models import Profile, StoredPaper


def evaluate_many(
    spec: Spec,
    listings: Listings,
    entrants: Mapping[str, Ranker],
    *,
    learning: Collection[str] = (),
) -> Iterator[tuple[str, PairResult]]:
    """(ranker name, result) for every ranker and pair, day by day in the spec's order; the
    rankers in `learning` walk with likes."""
    likes: dict[tuple[str, str], list[StoredPaper]] = {
        (name, i.name): [] for name in learning for i in spec.interests
    }
    for index, (day, seeds) in enumerate(days_of(spec, listings), 1):
        listed = [p.id for p in day.candidates]
        relevant = {i.name: _relevant(day, i) for i in spec.interests}
        for name, ranker in entrants.items():
            readers = [
                _reader(i, spec.k, seeds, likes.get((name, i.name), [])) for i in spec.interests
            ]
            rankings = ranker(day, readers)
            for interest in spec.interests:
                found = rankings[interest.name]
                ranking = complete(found.ids, listed)
                wanted = relevant[interest.name]
                if (name, interest.name) in likes:
                    _like(likes[name, interest.name], day, set(ranking[: spec.k]) & wanted)
                result = score(interest.name, day.day, index, ranking, wanted, spec.k, found.shown)
                yield name, result


def _reader(
    interest: Interest, k: int, seeds: Mapping[str, StoredPaper], likes: Sequence[StoredPaper]
) -> tuple[Profile, list[StoredPaper]]:
    liked = [seeds[s] for s in interest.seeds if s in seeds] + list(likes)
    profile = Profile(
        name=interest.name,
        keywords=interest.keywords,
        liked=tuple(p.arxiv_id or p.id for p in liked),
        top_k=k,
    )
    return profile, liked


def _like(liked: list[StoredPaper], day: TestDay, ids: set[str]) -> None:
    """Add the papers of the day with these ids, in listing order, each paper once."""
    known = {p.id for p in liked}
    liked += [p for p in day.candidates if p.id in ids and p.id not in known]


def _relevant(day: TestDay, interest: Interest) -> set[str]:
    return {x.paper.id for x in day.listed if interest.category in x.labels}


def by_ranker(spec: Spec, results: Iterator[tuple[str, PairResult]]) -> dict[str, list[PairResult]]:
    """Each ranker's results in walk order: by interest (the spec's order), then by day."""
    found: dict[str, list[PairResult]] = {}
    for name, result in results:
        found.setdefault(name, []).append(result)
    order = {i.name: n for n, i in enumerate(spec.interests)}
    return {
        name: sorted(rows, key=lambda r: (order[r.interest], r.day_index))
        for name, rows in found.items()
    }


RANKERS: dict[str, Ranker] = {
    "shipped": rankers.shipped,
    "kw+centroid": anchors.keywords_centroid,
    "arxiv-sanity": anchors.arxiv_sanity,
    "query-only": rankers.query_only,
    "keywords": rankers.keywords_only,
    "liked-only": rankers.liked_only,
    "3-liked": rankers.three_liked,
}
ANCHORS = ("kw+centroid", "arxiv-sanity")  # run beside the shipped ranker unless others are named
IGNORING = "shipped, likes ignored"  # in the walk: the shipped ranker told only the seeds


def chosen(names: Sequence[str] | None) -> dict[str, Ranker]:
    """The shipped ranker, then the named rankers (default: the anchors)."""
    wanted = [n for n in (names or ANCHORS) if n != "shipped"]
    unknown = [n for n in wanted if n not in RANKERS]
    if unknown:
        known = ", ".join(RANKERS)
        raise DigestError(f"unknown ranker {unknown[0]!r} (known: {known})")
    return {name: RANKERS[name] for name in ["shipped", *wanted]}


def evaluate(case: Case, rankers: Mapping[str, Ranker]) -> dict[str, list[PairResult]]:
    """Day by day: each ranker's results on every pair, in walk order."""
    return by_ranker(case.spec, evaluate_many(case.spec, case.listings, rankers))


def walk(case: Case, rankers: Mapping[str, Ranker]) -> dict[str, list[PairResult]]:
    """The feedback walk: every ranker learns from its likes, and beside the shipped ranker the
    same ranker told only the seeds each day."""
    entrants = {"shipped": rankers["shipped"], IGNORING: rankers["shipped"], **rankers}
    learning = [name for name in entrants if name != IGNORING]
    found = evaluate_many(case.spec, case.listings, entrants, learning=learning)
    return by_ranker(case.spec, found)
