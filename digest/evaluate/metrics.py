"""Scoring one ranking, and pooling the scores of many (interest, day) pairs.

Ranking metrics (README "Protocol"), over the full ranking: nDCG@k with binary gains and a log2
discount (ideal = every relevant paper first), P@k, average precision, and recall@k =
|top k and R| / min(|R|, k). What is shown (README "What is shown"), S being the first `shown`
papers of the ranking: precision shown = |S and R| / |S| (0 when S is empty) and recall shown =
min(1, |S and R| / min(|R|, k)). Pairs with no relevant candidate are ranked and kept (their |S|
is the empty-day shown) but every other mean skips them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class PairResult:
    """One ranker's full ranking for one (interest, day) pair, and its scores.

    `shown` is how many papers the digest shows (None for a ranker with no cutoff); `relevant` is
    |R|: a pair with none takes no part in the ranking metrics, which are 0 for it.
    """

    interest: str
    day: date
    day_index: int  # 1 = the spec's first test day
    ranking: tuple[str, ...]
    relevant: int
    ndcg: float
    precision: float
    average_precision: float
    recall: float
    shown: int | None = None
    precision_shown: float = 0.0
    recall_shown: float = 0.0


def score(
    interest: str,
    day: date,
    day_index: int,
    ranking: Sequence[str],
    relevant: set[str],
    k: int,
    shown: int | None,
) -> PairResult:
    seen = shown or 0
    return PairResult(
        interest,
        day,
        day_index,
        tuple(ranking),
        len(relevant),
        ndcg(ranking, relevant, k),
        precision(ranking, relevant, k),
        average_precision(ranking, relevant),
        recall(ranking, relevant, k, k),
        shown,
        precision(ranking, relevant, seen, seen),
        min(1.0, recall(ranking, relevant, seen, k)),
    )


def complete(ranking: Sequence[str], candidates: Sequence[str]) -> list[str]:
    """The ranking followed by every candidate it left out, in their listing order."""
    seen = set(ranking)
    return [*ranking, *(c for c in candidates if c not in seen)]


def ndcg(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    gains = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranking[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return gains / ideal if ideal else 0.0


def precision(ranking: Sequence[str], relevant: set[str], k: int, over: int | None = None) -> float:
    """Relevant papers among the first k, over `over` (k unless given; 0 when it is 0)."""
    over = k if over is None else over
    return sum(pid in relevant for pid in ranking[:k]) / over if over else 0.0


def recall(ranking: Sequence[str], relevant: set[str], first: int, k: int) -> float:
    """Relevant papers among the first `first`, over min(|R|, k)."""
    most = min(len(relevant), k)
    return sum(pid in relevant for pid in ranking[:first]) / most if most else 0.0


def average_precision(ranking: Sequence[str], relevant: set[str]) -> float:
    hits, total = 0, 0.0
    for i, pid in enumerate(ranking, 1):
        if pid in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant) if relevant else 0.0


def summarise(results: Sequence[PairResult]) -> dict[str, float | int | None]:
    """Means over the pairs with a relevant candidate; with the shown metrics when every pair
    has a `shown`, and the empty-day shown over the pairs without one (None if there are none)."""
    scored = [r for r in results if r.relevant]
    row: dict[str, float | int | None] = {
        "pairs": len(scored),
        "ndcg": mean([r.ndcg for r in scored]),
        "precision": mean([r.precision for r in scored]),
        "map": mean([r.average_precision for r in scored]),
        "recall": mean([r.recall for r in scored]),
    }
    if not results or any(r.shown is None for r in results):
        return row
    empty = [r for r in results if not r.relevant]
    row |= {
        "precision_shown": mean([r.precision_shown for r in scored]),
        "recall_shown": mean([r.recall_shown for r in scored]),
        "shown": mean([float(r.shown or 0) for r in scored]),
        "empty_pairs": len(empty),
        "empty_shown": mean([float(r.shown or 0) for r in empty]) if empty else None,
    }
    row["precision_shown_ratio"] = _ratio(row["precision_shown"], row["precision"])
    row["recall_shown_ratio"] = _ratio(row["recall_shown"], row["recall"])
    return row


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _ratio(part: float | int | None, whole: float | int | None) -> float | None:
    return part / whole if part is not None and whole else None


def summarise_walk(results: Sequence[PairResult], days: int) -> dict[str, object]:
    """A walk's pooled nDCG@k over the pairs (with a relevant candidate) of day index 2 to `days`
    and after `days` (None when there are none), and the curve: the mean per day index."""
    scored = [r for r in results if r.relevant]
    early = [r.ndcg for r in scored if 2 <= r.day_index <= days]
    late = [r.ndcg for r in scored if r.day_index > days]
    last = max((r.day_index for r in results), default=0)
    curve = [[r.ndcg for r in scored if r.day_index == i] for i in range(1, last + 1)]
    return {
        "pairs": len(scored),
        "pairs_2_to_n": len(early),
        "ndcg_2_to_n": mean(early) if early else None,
        "pairs_after_n": len(late),
        "ndcg_after_n": mean(late) if late else None,
        "curve": [mean(day) if day else None for day in curve],
    }
