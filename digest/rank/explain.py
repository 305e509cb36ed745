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
    picked = sparse.csr_matrix(docs[doc_rows])
    # term order within a pair is the tie-break between equal contributions; picking rows keeps it
    picked.has_sorted_indices = docs.has_sorted_indices
    picked.sort_indices()
    width, indptr = why.shape[1], picked.indptr
    sizes = np.diff(indptr)
    dense = np.zeros(BLOCK * width)
    found: list[np.ndarray] = []
    contributions: list[np.ndarray] = []
    pair_bounds = np.searchsorted(reader_rows, np.arange(0, why.shape[0] + BLOCK, BLOCK))
    starts = range(0, why.shape[0], BLOCK)
    for start, (first, last) in zip(starts, pairwise(pair_bounds.tolist()), strict=True):
        lo, hi = int(indptr[first]), int(indptr[last])
        if lo == hi:
            continue
        w = why[start : start + BLOCK]
        spread = np.repeat(np.arange(w.shape[0]) * width, np.diff(w.indptr)) + w.indices
        dense[spread] = w.data
        local = np.repeat((reader_rows[first:last] - start) * width, sizes[first:last])
        values = picked.data[lo:hi] * dense[local + picked.indices[lo:hi]]
        dense[spread] = 0.0
        positive = np.flatnonzero(values > 0)
        found.append(positive + lo)
        contributions.append(values[positive])
    entry = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    value = np.concatenate(contributions) if found else np.zeros(0)
    pair = np.searchsorted(indptr, entry, side="right") - 1
    term = picked.indices[entry]
    totals = np.bincount(pair, weights=value, minlength=len(doc_rows))
    pair, term, value = _strongest(pair, term, value)
    share = np.round(value / totals[pair], 4).tolist()
    terms = list(map(Term, model.names(term), share))
    bounds = np.searchsorted(pair, np.arange(len(doc_rows) + 1)).tolist()
    return [tuple(terms[lo:hi]) for lo, hi in pairwise(bounds)]


def _strongest(
    pair: np.ndarray, term: np.ndarray, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair's MAX_TERMS largest values, largest first, ties by term number. The entries
    come grouped by pair, in term order; one pass over them per term picked."""
    if not len(pair):
        return pair, term, value
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    group = np.cumsum(np.r_[False, pair[1:] != pair[:-1]])  # group number of each entry
    left = value.copy()
    found: list[np.ndarray] = []
    rounds: list[np.ndarray] = []
    for n in range(MAX_TERMS):
        best = np.maximum.reduceat(left, starts)
        hits = np.flatnonzero((left == best[group]) & (left > 0))
        # the first hit of each group: the lowest term number among equal values
        first = hits[np.r_[True, group[hits[1:]] != group[hits[:-1]]]] if len(hits) else hits
        if not len(first):
            break
        found.append(first)
        rounds.append(np.full(len(first), n))
        left[first] = 0.0
    at = np.concatenate(found)
    at = at[np.lexsort((np.concatenate(rounds), pair[at]))]
    return pair[at], term[at], value[at]


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
        owners = reader_rows[pairs]  # pairs come grouped by reader
        bounds = np.searchsorted(owners, np.unique(owners))
        for lo, hi in pairwise([*bounds.tolist(), len(owners)]):
            group = self.groups[int(owners[lo])]
            liked[lo:hi, : len(group)] = group
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
