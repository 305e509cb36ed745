"""Ranking evaluation: the narrow-interest daily ranking protocol of ../shared/data/eval/README.md.

For each test day and interest: the candidates are the day's whole listing; the ranker may use the
interest's keywords, the texts of its seed papers (found on earlier days) and the texts of the
`history_days` listing days before the day and of the candidates, never the labels. A candidate is
relevant when the interest's category is among its labels. Ranking metrics skip the pairs without
a relevant candidate; what the digest shows is measured on those too. The feedback walk ranks the
same pairs with a profile that grows by the relevant papers each day's first k held.

    spec.py     the inputs: spec, labelled listings, the dev cases; a test day and its corpus
    metrics.py  one ranking's scores (nDCG@k, P@k, AP, recall@k, shown), and pooled means
    rankers.py  the shipped ranker (cut where the digest cuts) and its variants
    anchors.py  the README's anchors on their own TF-IDF: kw+centroid, arxiv-sanity-lite
    run.py      the loop over days, rankers and interests, day by day or walking with likes
    report.py   the table, the JSON document and the --scores-out lines
"""

from digest.evaluate.metrics import (
    PairResult,
    average_precision,
    complete,
    ndcg,
    precision,
    recall,
    summarise,
    summarise_walk,
)
from digest.evaluate.rankers import Ranker, Ranking, Readers
from digest.evaluate.run import (
    ANCHORS,
    IGNORING,
    RANKERS,
    chosen,
    evaluate,
    evaluate_many,
    walk,
)
from digest.evaluate.spec import (
    DEV_CASES,
    Case,
    Interest,
    Listed,
    Listings,
    Spec,
    TestDay,
    dev_cases,
    load_case,
    load_cases,
    load_listings,
    load_spec,
)

__all__ = [
    "ANCHORS",
    "DEV_CASES",
    "IGNORING",
    "RANKERS",
    "Case",
    "Interest",
    "Listed",
    "Listings",
    "PairResult",
    "Ranker",
    "Ranking",
    "Readers",
    "Spec",
    "TestDay",
    "average_precision",
    "chosen",
    "complete",
    "dev_cases",
    "evaluate",
    "evaluate_many",
    "load_case",
    "load_cases",
    "load_listings",
    "load_spec",
    "ndcg",
    "precision",
    "recall",
    "summarise",
    "summarise_walk",
    "walk",
]
