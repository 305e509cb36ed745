"""Choose the ranker's parameters by leave-one-interest-out on the dev cases, and print the figures.

    python bench/tune_rank.py [DIR] [--walk] [--jobs stage]

DIR holds the dev cases (default ../shared/data/eval). Each parameter setting runs as its own
ranker over the three cases (the models are fitted once per test day and shared); every
(case, interest, day) nDCG@10 is kept. Then, for each interest in turn, the setting with the best
mean over the *other* interests is chosen (each case counting equally: the mean of the cases'
means), and scored on the interest left out. An interest is left out of every case at once: the
same arXiv category is one interest in interests_dev and in tags_dev. The printout gives, per
setting, each case's mean; then the leave-one-interest-out figures: per case the mean over the
held-out interests and the worst of them, and which setting each fold chose. A setting chosen by
most folds is stable: it is what the shipped defaults are.

Day by day (the default) it tunes the keywords' and likes' mix (`LIKED_WORTH`), the latent
space's share (`LATENT_SHARE`) and pseudo-relevance feedback (`PRF_WEIGHT`), without the
per-reader linear model. With --walk it runs the
feedback walk (README "Likes over time") on interests_dev and tags_dev and tunes how many liked
papers a reader needs before a linear model is learned for them (`learn.MIN_LIKED`), whether the
query's best hits only make up for missing likes (`FEEDBACK_FILLS`) and how fast a like's weight
fades with its age (`HALF_LIFE`), scored on the mean nDCG@10 after day 10. `--grid NAME=V1,V2`
tunes other values instead (the SVM's C was chosen with `--walk --grid C=0.1,0.3`).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import learn, rank  # noqa: E402
from digest.evaluate import rankers, spec  # noqa: E402
from digest.evaluate.run import evaluate_many  # noqa: E402
from digest.rank import query  # noqa: E402

DAY_GRID = {
    "LIKED_WORTH": (0.4, 0.6, 0.8),
    "LATENT_SHARE": (0.0, 0.25, 0.35),
    "PRF_WEIGHT": (0.0, 0.5),
}
WALK_GRID = {"MIN_LIKED": (10, 20), "FEEDBACK_FILLS": (False, True), "HALF_LIFE": (0.0, 60.0)}
WALK_DAYS = 10


@contextlib.contextmanager
def setting(module: ModuleType, values: Mapping[str, Any]) -> Iterator[None]:
    old = {k: getattr(module, k) for k in values}
    for k, v in values.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def ranker(values: Mapping[str, Any], module: ModuleType, linear: bool) -> rankers.Ranker:
    def ranked(day: spec.TestDay, readers: rankers.Readers) -> dict[str, rankers.Ranking]:
        with setting(module, values):
            found = rank.rank_many(day.fitted(rank.fit), readers, day.candidates, linear=linear)
        return rankers._shown(found, readers)

    return ranked


def settings(grid: Mapping[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def label(values: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in values.items())


Scores = dict[str, dict[str, dict[str, list[float]]]]  # setting -> case -> interest -> nDCGs


def collect(cases: list[spec.Case], walk: bool) -> tuple[Scores, dict[str, dict[str, str]]]:
    grid, module = (WALK_GRID, learn) if walk else (DAY_GRID, query)
    entrants = {label(v): ranker(v, module, linear=walk) for v in settings(grid)}
    scores: Scores = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    keys: dict[str, dict[str, str]] = {}
    for case in cases:
        if walk and len(case.spec.days) <= WALK_DAYS:
            continue
        clock = time.monotonic()
        keys[case.name] = {i.name: i.category for i in case.spec.interests}
        learning = list(entrants) if walk else ()
        found = evaluate_many(case.spec, case.listings, entrants, learning=learning)
        for name, result in found:
            if result.relevant and (not walk or result.day_index > WALK_DAYS):
                scores[name][case.name][result.interest].append(result.ndcg)
        print(f"{case.name}: {time.monotonic() - clock:.0f} s", file=sys.stderr, flush=True)
    return scores, keys


def case_mean(found: Mapping[str, list[float]], leave: Callable[[str], bool]) -> float:
    values = [v for interest, vs in found.items() if not leave(interest) for v in vs]
    return statistics.fmean(values) if values else 0.0


def loio(scores: Scores, keys: Mapping[str, Mapping[str, str]]) -> None:
    names = list(scores)
    cases = list(keys)
    print(f"{'setting':<40}" + "".join(f"{c:>16}" for c in cases))
    for name in names:
        row = "".join(f"{case_mean(scores[name][c], lambda _: False):>16.3f}" for c in cases)
        print(f"{name:<40}{row}")
    held: dict[str, dict[str, list[float]]] = defaultdict(dict)
    chosen: list[str] = []
    for key in sorted({k for c in cases for k in keys[c].values()}):

        def out(interest: str, case: str, key: str = key) -> bool:
            return keys[case][interest] == key

        best = max(
            names,
            key=lambda n: statistics.fmean(
                case_mean(scores[n][c], lambda i, c=c: out(i, c)) for c in cases
            ),
        )
        chosen.append(best)
        for c in cases:
            for interest, values in scores[best][c].items():
                if out(interest, c):
                    held[c][interest] = values
    print("\nleave one interest out: held-out nDCG@10")
    for c in cases:
        means = {interest: statistics.fmean(values) for interest, values in held[c].items()}
        worst = min(means, key=means.__getitem__)
        pooled = statistics.fmean(v for values in held[c].values() for v in values)
        print(f"  {c:<16} mean {pooled:.3f}   worst {means[worst]:.3f} ({worst})")
    print("settings chosen by the folds:")
    for name, count in sorted(((n, chosen.count(n)) for n in set(chosen)), key=lambda x: -x[1]):
        print(f"  {count:>3} x {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared/data/eval")
    parser.add_argument("--walk", action="store_true", help="tune on the feedback walk")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="tune these values of a parameter instead of the default grid (repeatable), "
        "e.g. --walk --grid C=0.1,0.3",
    )
    args = parser.parse_args()
    if args.grid:
        grid = {}
        for item in args.grid:
            name, _, values = item.partition("=")
            grid[name] = tuple(float(v) for v in values.split(","))
        globals()["WALK_GRID" if args.walk else "DAY_GRID"] = grid
    cases = spec.dev_cases(args.folder)
    scores, keys = collect(cases, args.walk)
    loio(scores, keys)


if __name__ == "__main__":
    main()
