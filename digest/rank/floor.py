"""The relevance floor: which of a reader's papers are matches, which are near misses.

Scores mean different things for different readers (ten keywords and ten likes score higher
than a one-word tag), so the floor is each reader's own: their scores over a sample of the corpus
say what an ordinary paper scores for them, and a paper's standing is how many standard
deviations it scores above that mean, plus TYPED when it holds a phrase the reader typed, whole.
A paper is a match from MATCH on, a near miss from NEAR on; further down it is ranked but never
shown. A thin day's papers stand as low as any other day's, so a thin day is shown as thin. The
values were chosen by leave-one-interest-out on the dev cases (bench/tune_rank.py).

On a corpus too small to say what is ordinary (under MIN_CORPUS papers), every paper that
matches at all is a match.
"""

from __future__ import annotations

import numpy as np

MATCH = 3.0  # standard deviations above the reader's mean corpus score: a match
NEAR = 2.0  # ... a near miss, shown under "loosely related"
TYPED = 1.0  # a typed phrase found whole in a paper adds this to its standing
SAMPLE = 500  # corpus papers (evenly spaced) that stand for the corpus
MIN_CORPUS = 50


def sample(n: int) -> np.ndarray:
    """The corpus rows that stand for a corpus of n papers (none below MIN_CORPUS)."""
    if n < MIN_CORPUS:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, min(n, SAMPLE)).astype(np.int64))


def standing(scores: np.ndarray, usual: np.ndarray) -> np.ndarray:
    """Each score's standing (readers x papers) against the same reader's usual scores
    (readers x sampled papers): standard deviations above their mean; +inf when there is no
    sample, or when the usual scores do not vary and the score is above them."""
    if usual.shape[1] == 0:
        return np.full(scores.shape, np.inf)
    mean = usual.mean(axis=1, keepdims=True)
    spread = usual.std(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (scores - mean) / spread
    flat = np.broadcast_to(spread == 0, scores.shape)
    return np.where(flat, np.where(scores > mean, np.inf, -np.inf), out)


def standing_with(standing: np.ndarray, typed_in: np.ndarray) -> np.ndarray:
    """The standing the floors are applied to: a phrase the reader typed, found whole in the
    paper, adds TYPED (what the reader said outright weighs more than a likeness)."""
    return standing + TYPED * typed_in


def matches(standing: np.ndarray, honest: np.ndarray) -> np.ndarray:
    """Which papers are matches (readers x papers): those that can be explained honestly and
    stand at least MATCH (see `standing_with`)."""
    return honest & (standing >= MATCH)
