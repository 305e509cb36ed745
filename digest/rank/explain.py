"""Why each paper was picked: the terms that contributed most, and the liked paper it is closest
to. Worked out for many (reader, paper) pairs at once."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from scipy import sparse

from digest.models import StoredPaper, Term
from digest.rank.model import Model

MAX_TERMS = 5
CLOSEST_MIN = 0.1  # a liked paper is named as the closest from this cosine similarity on
BLOCK = 32  # readers whose weights are spread into one dense block (BLOCK x terms floats)


def reasons(
    model: Model,
    why: sparse.csr_matrix,
    docs: sparse.csr_matrix,
    reader_rows: np.ndarray,
    doc_rows: np.ndarray,
) -> list[tuple[Term, ...]]:
    """For each pair (row of `why`, row of `docs`), the terms that contributed most to the
    paper's score, each with its share of the positive contributions. `reader_rows` must not
    decrease. A contribution is the reader's weight times the paper's; negative ones (from a
    learned model) explain nothing."""
    if not len(doc_rows):
        return []
    why = sparse.csr_matrix(why)
    why.sort_indices()
    picked = sparse.csr_matrix(docs[doc_rows])
    picked.sort_indices()
    pair = np.repeat(np.arange(len(doc_rows)), np.diff(picked.indptr))
    reader = reader_rows[pair]
    values = np.zeros(picked.nnz)
    dense = np.zeros((BLOCK, why.shape[1]))
    for start in range(0, why.shape[0], BLOCK):
        lo, hi = np.searchsorted(reader, [start, start + BLOCK])
        if lo == hi:
            continue
        w = why[start : start + BLOCK]
        at = (np.repeat(np.arange(w.shape[0]), np.diff(w.indptr)), w.indices)
        dense[at] = w.data
        values[lo:hi] = picked.data[lo:hi] * dense[reader[lo:hi] - start, picked.indices[lo:hi]]
        dense[at] = 0.0
    positive = values > 0
    pair, term, value = pair[positive], picked.indices[positive], values[positive]
    totals = np.bincount(pair, weights=value, minlength=len(doc_rows))
    pair, term, value = _strongest(pair, term, value, len(doc_rows))
    share = (value / totals[pair]).tolist()
    names = [model.name(t) for t in term.tolist()]
    bounds = np.searchsorted(pair, np.arange(len(doc_rows) + 1)).tolist()
    return [
        tuple(Term(names[k], round(share[k], 4)) for k in range(lo, hi))
        for lo, hi in pairwise(bounds)
    ]


def _strongest(
    pair: np.ndarray, term: np.ndarray, value: np.ndarray, pairs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair's MAX_TERMS largest values, largest first, ties by term number; the entries
    come grouped by pair."""
    counts = np.bincount(pair, minlength=pairs)
    if len(counts) and counts.max() > MAX_TERMS:
        # the MAX_TERMS-th largest value of each pair; everything at least as large is a candidate
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        padded = np.full((pairs, int(counts.max())), -np.inf)
        padded[pair, np.arange(len(pair)) - starts[pair]] = value
        kth = -np.partition(-padded, MAX_TERMS - 1, axis=1)[:, MAX_TERMS - 1]
        keep = value >= kth[pair]
        pair, term, value = pair[keep], term[keep], value[keep]
    order = np.lexsort((term, -value, pair))
    pair, term, value = pair[order], term[order], value[order]
    starts = np.searchsorted(pair, pair)  # where each entry's pair begins
    first = np.arange(len(pair)) - starts < MAX_TERMS
    return pair[first], term[first], value[first]


class LikedRows:
    """The vectors of every reader's liked papers, found once for all readers."""

    def __init__(self, model: Model, groups: Sequence[Sequence[StoredPaper]]) -> None:
        papers = list({p.id: p for group in groups for p in group}.values())
        at = {p.id: i for i, p in enumerate(papers)}
        self.papers = papers
        self.groups = [np.array([at[p.id] for p in group], dtype=np.int64) for group in groups]
        self.vectors = model.paper_vectors(papers) if papers else None

    def closest(
        self, docs: sparse.csr_matrix, reader_rows: np.ndarray, doc_rows: np.ndarray
    ) -> list[tuple[StoredPaper, float] | None]:
        """For each (reader, doc) pair, the reader's liked paper most like the doc (the first of
        equals), when their cosine similarity is at least CLOSEST_MIN."""
        out: list[tuple[StoredPaper, float] | None] = [None] * len(doc_rows)
        if self.vectors is None or not len(doc_rows):
            return out
        sizes = np.array([len(self.groups[r]) for r in reader_rows], dtype=np.int64)
        pairs = np.flatnonzero(sizes)
        if not len(pairs):
            return out
        readers = np.unique(reader_rows[pairs])
        rows = np.unique(np.concatenate([self.groups[r] for r in readers]))
        # every liked paper of these readers against every paper of the day, in one product
        sims = (self.vectors[rows] @ docs.T).toarray()
        width = int(sizes.max())
        liked = np.zeros((len(pairs), width), dtype=np.int64)
        found = np.full((len(pairs), width), -np.inf)
        for k, r in enumerate(reader_rows[pairs].tolist()):
            liked[k, : sizes[pairs[k]]] = self.groups[r]
        local = np.searchsorted(rows, liked)
        mask = np.arange(width)[None, :] < sizes[pairs][:, None]
        found[mask] = sims[local[mask], np.repeat(doc_rows[pairs], sizes[pairs])]
        best = found.argmax(axis=1)
        value = found[np.arange(len(pairs)), best]
        for k in np.flatnonzero(value >= CLOSEST_MIN).tolist():
            paper = self.papers[int(liked[k, best[k]])]
            out[int(pairs[k])] = (paper, round(float(value[k]), 4))
        return out


def top_terms(model: Model, row: sparse.csr_matrix, n: int) -> list[Term]:
    """The row's n largest positive weights as terms, largest first."""
    row = sparse.csr_matrix(row)
    order = np.lexsort((row.indices, -row.data))[:n]
    return [
        Term(model.name(i), round(float(w), 4))
        for i, w in zip(row.indices[order].tolist(), row.data[order].tolist(), strict=True)
        if w > 0
    ]
