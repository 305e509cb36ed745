"""Ranking evaluation: the narrow-interest daily ranking protocol.

For each test day and interest: the candidates are the day's whole listing; the ranker may use the
interest's keywords, the texts of its seed papers (found on earlier days) and the texts of the
`history_days` listing days before the day and of the candidates, never the labels. A candidate is
relevant when the interest's category is among its labels; pairs without a relevant candidate are
skipped. Metrics over the full ranking: nDCG@k (binary gains, log2 discount), P@k and average
precision, averaged over the pairs.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.svm import LinearSVC

from digest import rank
from digest.errors import DigestError
from digest.models import Profile, Scored, StoredPaper


@dataclass(frozen=True, slots=True)
class Interest:
    name: str
    category: str
    keywords: tuple[str, ...]
    seeds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spec:
    days: tuple[date, ...]
    history_days: int
    k: int
    interests: tuple[Interest, ...]


@dataclass(frozen=True, slots=True)
class Listed:
    """One paper of a listing day, with its labels (which only the scoring sees)."""

    paper: StoredPaper
    labels: frozenset[str]


@dataclass(frozen=True, slots=True)
class PairResult:
    interest: str
    day: date
    ranking: tuple[str, ...]
    ndcg: float
    precision: float
    average_precision: float


Readers = Sequence[tuple[Profile, Sequence[StoredPaper]]]
Ranker = Callable[[rank.Model, Readers, Sequence[StoredPaper]], dict[str, list[str]]]


def load_spec(path: Path) -> Spec:
    try:
        raw = json.loads(path.read_text("utf-8"))
        interests = tuple(
            Interest(
                name=i["name"],
                category=i["relevant_if_category"],
                keywords=tuple(k.strip() for k in i["keywords"].split(",") if k.strip()),
                seeds=tuple(i["seed_papers"]),
            )
            for i in raw["interests"]
        )
        return Spec(
            days=tuple(date.fromisoformat(d) for d in raw["days"]),
            history_days=int(raw["history_days"]),
            k=int(raw["k"]),
            interests=interests,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DigestError(f"{path}: not an evaluation spec ({type(exc).__name__}: {exc})") from None


def load_listings(path: Path) -> dict[date, list[Listed]]:
    """Listing days, each its papers in file order."""
    days: dict[date, list[Listed]] = defaultdict(list)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                day = date.fromisoformat(record["date"])
                paper = StoredPaper(
                    id=f"arxiv:{record['id']}",
                    title=record["title"],
                    abstract=record["abstract"],
                    arxiv_id=record["id"],
                    authors=(),
                    url=None,
                    pdf_url=None,
                    code_url=None,
                    project_url=None,
                    categories=(),
                    published=None,
                    dates=(day,),
                    sources=("listing",),
                )
                days[day].append(Listed(paper, frozenset(record["labels"])))
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise DigestError(f"{path}: not a listings file ({type(exc).__name__}: {exc})") from None
    return dict(days)


def shipped_ranker(
    model: rank.Model, readers: Readers, candidates: Sequence[StoredPaper]
) -> dict[str, list[str]]:
    """The ranker `digest` ships: each reader's candidates best first, ids only."""
    return _ids(rank.rank_many(model, readers, candidates))


def query_ranker(
    model: rank.Model, readers: Readers, candidates: Sequence[StoredPaper]
) -> dict[str, list[str]]:
    """The shipped query vector alone, never a per-reader linear model."""
    return _ids(rank.rank_many(model, readers, candidates, linear=False))


def keywords_ranker(
    model: rank.Model, readers: Readers, candidates: Sequence[StoredPaper]
) -> dict[str, list[str]]:
    """The shipped ranker told only the keywords, as for a reader who has liked nothing yet."""
    return _ids(rank.rank_many(model, [(p, []) for p, _ in readers], candidates))


def seeds_ranker(
    model: rank.Model, readers: Readers, candidates: Sequence[StoredPaper]
) -> dict[str, list[str]]:
    """The shipped ranker told only the liked papers, as for a reader who gave no keywords."""
    return _ids(
        rank.rank_many(model, [(replace(p, keywords=()), s) for p, s in readers], candidates)
    )


def few_seeds_ranker(
    model: rank.Model, readers: Readers, candidates: Sequence[StoredPaper]
) -> dict[str, list[str]]:
    """The shipped ranker with the keywords and only the first three liked papers."""
    return _ids(rank.rank_many(model, [(p, s[:3]) for p, s in readers], candidates))


def svm_ranker(
    model: rank.Model, readers: Readers, candidates: Sequence[StoredPaper]
) -> dict[str, list[str]]:
    """arxiv-sanity-lite's method on our TF-IDF: per reader, a LinearSVC (C=0.01, balanced)
    of the liked papers against every other corpus paper; keywords unused."""
    docs = model.paper_vectors(candidates)
    out = {}
    for profile, liked in readers:
        y = np.zeros(model.matrix.shape[0])
        y[[model.index[p.id] for p in liked if p.id in model.index]] = 1
        if not y.any():
            out[profile.name] = [c.id for c in candidates]
            continue
        svm = LinearSVC(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-6)
        scores = svm.fit(model.matrix, y).decision_function(docs)
        out[profile.name] = [candidates[j].id for j in np.argsort(-scores, kind="stable")]
    return out


def _ids(ranked: Mapping[str, Sequence[Scored]]) -> dict[str, list[str]]:
    return {name: [s.paper.id for s in scored] for name, scored in ranked.items()}


RANKERS: dict[str, Ranker] = {
    "shipped": shipped_ranker,
    "query-only": query_ranker,
    "keywords": keywords_ranker,
    "liked-only": seeds_ranker,
    "3-liked": few_seeds_ranker,
    "arxiv-sanity": svm_ranker,
}


def evaluate(
    spec: Spec, listings: dict[date, list[Listed]], ranker: Ranker = shipped_ranker
) -> Iterator[PairResult]:
    """Every (interest, day) pair with a relevant candidate, ranked and scored."""
    for _, result in evaluate_many(spec, listings, {"shipped": ranker}):
        yield result


def evaluate_many(
    spec: Spec, listings: dict[date, list[Listed]], rankers: Mapping[str, Ranker]
) -> Iterator[tuple[str, PairResult]]:
    """(ranker name, pair result) for every ranker on every pair; one model fit per day."""
    listing_days = sorted(listings)
    for day in spec.days:
        if day not in listings:
            raise DigestError(f"test day {day} is not in the listings")
        before = [d for d in listing_days if d < day]
        history = [x.paper for d in before[-spec.history_days :] for x in listings[d]]
        earlier = {x.paper.arxiv_id: x.paper for d in before for x in listings[d]}
        candidates = listings[day]
        readers = [
            (
                Profile(name=i.name, keywords=i.keywords, liked=i.seeds, top_k=spec.k),
                [earlier[s] for s in i.seeds if s in earlier],
            )
            for i in spec.interests
        ]
        seeds = [p for _, liked in readers for p in liked]
        texts = [*history, *seeds, *(c.paper for c in candidates)]
        model = rank.fit(list({p.id: p for p in texts}.values()))
        listed = [c.paper.id for c in candidates]
        for name, ranker in rankers.items():
            rankings = ranker(model, readers, [c.paper for c in candidates])
            for interest in spec.interests:
                relevant = {c.paper.id for c in candidates if interest.category in c.labels}
                if not relevant:
                    continue
                ranking = complete(rankings[interest.name], listed)
                yield (
                    name,
                    PairResult(
                        interest.name,
                        day,
                        tuple(ranking),
                        ndcg(ranking, relevant, spec.k),
                        precision(ranking, relevant, spec.k),
                        average_precision(ranking, relevant),
                    ),
                )


def complete(ranking: Sequence[str], candidates: Sequence[str]) -> list[str]:
    """The ranking followed by every candidate it left out, in their listing order."""
    seen = set(ranking)
    return [*ranking, *(c for c in candidates if c not in seen)]


def ndcg(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    gains = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranking[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return gains / ideal if ideal else 0.0


def precision(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    return sum(pid in relevant for pid in ranking[:k]) / k


def average_precision(ranking: Sequence[str], relevant: set[str]) -> float:
    hits, total = 0, 0.0
    for i, pid in enumerate(ranking, 1):
        if pid in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant) if relevant else 0.0


def summarise(results: Sequence[PairResult]) -> dict[str, float]:
    n = len(results) or 1
    return {
        "pairs": len(results),
        "ndcg": sum(r.ndcg for r in results) / n,
        "precision": sum(r.precision for r in results) / n,
        "map": sum(r.average_precision for r in results) / n,
    }
