"""What `digest eval` prints: one table over every case and ranker, and the same as JSON; and the
`--scores-out` lines. Pure: results in, text and documents out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from digest.evaluate.metrics import PairResult, summarise, summarise_walk
from digest.evaluate.spec import Case

Results = Mapping[str, Sequence[PairResult]]  # by ranker name


def document(cases: Sequence[Case], results: Mapping[str, Results]) -> dict[str, Any]:
    """Day by day: per case, its k and each ranker's means (the shown metrics where it has them)."""
    return {
        "cases": {
            case.name: {
                "k": case.spec.k,
                "rankers": {name: summarise(found) for name, found in results[case.name].items()},
            }
            for case in cases
        }
    }


def walk_document(
    cases: Sequence[Case], results: Mapping[str, Results], days: int
) -> dict[str, Any]:
    """The walk: per case, each ranker's pooled nDCG@k for day indexes 2..days and after, and its
    curve; the cases with fewer than two test days are listed as skipped."""
    return {
        "feedback_days": days,
        "cases": {
            case.name: {
                "k": case.spec.k,
                "days": len(case.spec.days),
                "rankers": {
                    name: summarise_walk(found, days) for name, found in results[case.name].items()
                },
            }
            for case in cases
            if case.name in results
        },
        "skipped": [case.name for case in cases if case.name not in results],
    }


SHOWN = ("precision_shown", "recall_shown", "shown", "empty_shown")
RATIOS = ("precision_shown_ratio", "recall_shown_ratio")


def table(doc: Mapping[str, Any]) -> list[str]:
    """One row per case and ranker: the ranking metrics, then what is shown (and its ratios to
    P@k and recall@k) for the rankers that cut."""
    k = _k(doc)
    lines = [
        f"{'case':<14} {'ranker':<13} {'pairs':>5} {f'nDCG@{k}':>7} {f'P@{k}':>6} {'MAP':>6} "
        f"{f'R@{k}':>6} | {'P shown':>7} {'R shown':>7} {'shown':>5} {'empty':>5} "
        f"{f'Ps/P@{k}':>7} {f'Rs/R@{k}':>7}"
    ]
    for case, found in doc["cases"].items():
        for name, row in found["rankers"].items():
            line = (
                f"{case:<14} {name:<13} {row['pairs']:>5} {row['ndcg']:>7.3f} "
                f"{row['precision']:>6.3f} {row['map']:>6.3f} {row['recall']:>6.3f} |"
            )
            if "shown" in row:
                line += (
                    f" {row['precision_shown']:>7.3f} {row['recall_shown']:>7.3f}"
                    f" {row['shown']:>5.2f} {_number(row['empty_shown'], 5, 2)}"
                    f" {_number(row['precision_shown_ratio'], 7, 2)}"
                    f" {_number(row['recall_shown_ratio'], 7, 2)}"
                )
            lines.append(line.rstrip())
    return lines


def walk_table(doc: Mapping[str, Any]) -> list[str]:
    """Per case and ranker: pooled nDCG@k over day indexes 2..N and after N; then the curves."""
    n, k = doc["feedback_days"], _k(doc)
    head = f"{'case':<14} {'ranker':<22}"
    lines = [f"{head} {'pairs':>5} {f'days 2-{n}':>10} {f'after {n}':>9}   (nDCG@{k}, pooled)"]
    for case, found in doc["cases"].items():
        for name, row in found["rankers"].items():
            lines.append(
                f"{case:<14} {name:<22} {row['pairs']:>5} {_number(row['ndcg_2_to_n'], 10, 3)}"
                f" {_number(row['ndcg_after_n'], 9, 3)}"
            )
    rows = [r for found in doc["cases"].values() for r in found["rankers"].values()]
    longest = max((len(r["curve"]) for r in rows), default=0)
    lines += ["", f"mean nDCG@{k} by day index"]
    lines.append(f"{head} " + " ".join(f"{i:>4}" for i in range(1, longest + 1)))
    for case, found in doc["cases"].items():
        for name, row in found["rankers"].items():
            curve = " ".join(_number(v, 4, 2).replace("0.", " .") for v in row["curve"])
            lines.append(f"{case:<14} {name:<22} {curve}")
    if doc["skipped"]:
        lines += ["", *(f"{case}: one test day, no walk" for case in doc["skipped"])]
    return lines


def scores_lines(cases: Sequence[Case], results: Mapping[str, Results], *, walk: bool) -> list[str]:
    """The shipped ranker's line for every pair, empty ones included, in walk order; each names
    its case when there are several, and its day index in a walk."""
    lines = []
    for case in cases:
        for r in results.get(case.name, {}).get("shipped", []):
            line: dict[str, Any] = {"case": case.name} if len(cases) > 1 else {}
            line |= {
                "interest": r.interest,
                "day": r.day.isoformat(),
                "ranking": [pid.removeprefix("arxiv:") for pid in r.ranking],
                "shown": r.shown,
            }
            if walk:
                line["day_index"] = r.day_index
            lines.append(json.dumps(line, ensure_ascii=False))
    return lines


def _k(doc: Mapping[str, Any]) -> str:
    ks = {found["k"] for found in doc["cases"].values()}
    return str(ks.pop()) if len(ks) == 1 else "k"


def _number(value: float | None, width: int, places: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{places}f}"
