"""A per-reader linear model, for readers who have liked enough papers (as arxiv-sanity does).

A LinearSVC learns the reader's liked papers, plus the best corpus hits of their query
(pseudo-relevance feedback), against a fixed sample of the corpus and the papers they disliked,
on each paper's TF-IDF row and its latent row. Its margins, rescaled to the query's range so
scores, thresholds and explanations keep one meaning, take over 1 - QUERY_SHARE of the
reader's relevance: the keywords keep a voice. Pure,
deterministic. Its settings (how many likes before it, how the query's hits join, how a like's
weight fades with age) were chosen by leave-one-interest-out on the feedback walk
(bench/tune_rank.py --walk; figures in README, "Ranking evaluation").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.svm import LinearSVC

MIN_LIKED = 10  # a reader with this many liked papers gets a linear model
FEEDBACK_DOCS = 20  # the query's best corpus hits join the liked papers as positives ...
FEEDBACK_FILLS = True  # ... only as many as make up, with the liked papers, FEEDBACK_DOCS
QUERY_SHARE = 0.3  # the query's share of relevance beside the model's (0: the model's alone)
HALF_LIFE = 0.0  # days after which a liked paper counts half (0: every like counts the same)
NEGATIVES = 2000  # corpus papers sampled (evenly, so deterministically) as negatives
MIN_CORPUS = 200  # below this many corpus papers the query alone is used
C = 0.3  # chosen by leave-one-interest-out on the feedback walk (bench/tune_rank.py --walk)


class Learned(NamedTuple):
    """A reader's linear model: a paper's margin is its TF-IDF row times `weights`, plus
    `intercept`."""

    weights: sparse.csr_matrix  # 1 x terms, negative weights kept
    intercept: float

    def margins(self, rows: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(rows @ self.weights.T.toarray()).ravel() + self.intercept


def fit(
    corpus: sparse.csr_matrix,
    hits: np.ndarray,
    liked: sparse.csr_matrix,
    disliked: sparse.csr_matrix | None,
    ages: np.ndarray | None = None,
) -> Learned | None:
    """The reader's linear model, or None when there is too little to learn from. `hits` is
    the reader's query's relevance to each corpus paper; `ages`, the liked papers' ages in days
    (older likes say less about today's papers)."""
    n = corpus.shape[0]
    if n < MIN_CORPUS or liked.shape[0] == 0:
        return None
    wanted = max(0, FEEDBACK_DOCS - liked.shape[0]) if FEEDBACK_FILLS else FEEDBACK_DOCS
    top = np.argsort(-hits, kind="stable")[:wanted]
    positives = top[hits[top] > 0]
    rest = np.setdiff1d(np.arange(n), positives, assume_unique=True)
    negatives = rest[:: max(1, len(rest) // NEGATIVES)]
    blocks = [liked, corpus[positives], corpus[negatives]]
    labels = [np.ones(liked.shape[0] + len(positives)), np.zeros(len(negatives))]
    if disliked is not None and disliked.shape[0]:
        blocks.append(disliked)
        labels.append(np.zeros(disliked.shape[0]))
    x = sparse.vstack(blocks, format="csr")
    y = np.concatenate(labels)
    weight = np.ones(len(y))
    if HALF_LIFE and ages is not None:
        weight[: liked.shape[0]] = 0.5 ** (np.maximum(ages, 0) / HALF_LIFE)
    svm = LinearSVC(C=C, class_weight="balanced", max_iter=10000, tol=1e-6, random_state=0)
    svm.fit(x, y, sample_weight=weight)
    return Learned(sparse.csr_matrix(svm.coef_), float(svm.intercept_[0]))


def as_relevance(values: np.ndarray, best_cosine: float) -> np.ndarray:
    """Margins on the cosine's scale: the day's median maps to 0 (and below it is no match),
    the day's best to the reader's best cosine score that day."""
    if values.size == 0:
        return values
    middle, top = float(np.median(values)), float(values.max())
    if top <= middle:
        return np.zeros_like(values)
    scale = best_cosine if best_cosine > 0 else 1.0
    return np.clip((values - middle) / (top - middle), 0.0, None) * scale


def learns(liked: Sequence[object]) -> bool:
    return len(liked) >= MIN_LIKED
