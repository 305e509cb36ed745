"""Why each paper was picked: the terms that contributed most, and the liked paper it is closest
to. Worked out for many (reader, paper) pairs at once."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from scipy import sparse

from digest.models import Profile, StoredPaper, Term
from digest.rank.model import Model
from digest.rank.pick import Day

MAX_TERMS = 5
CLOSEST_MIN = 0.1  # a liked paper is named as the closest from this cosine similarity on
BLOCK = 32  # readers whose weights are spread into one dense block (BLOCK x terms floats)


class Phrases(NamedTuple):
    """Contributions of whole keyword phrases: for pair `pair[n]`, phrase `phrase[n]` of
    `typed` gave `value[n]` of the score."""

    typed: Sequence[str]
    pair: np.ndarray
    phrase: np.ndarray
    value: np.ndarray


def phrases(
    profiles: Sequence[Profile],
    factor: np.ndarray,
    model: Model,
    day: Day,
    reader_rows: np.ndarray,
    doc_rows: np.ndarray,
) -> Phrases:
    """What each keyword phrase a reader typed gave each of their papers' scores, for the
    phrases found whole in the paper only: a word split off a phrase ("view" of "novel view
    synthesis") explains nothing. `factor` is each reader's `Queries.phrase_factor`."""
    typed = sorted({k for p in profiles for k in p.keywords})
    if not typed or not len(doc_rows):
        return Phrases(typed, *(np.zeros(0, dtype=np.int64),) * 2, np.zeros(0))
    at = {k: i for i, k in enumerate(typed)}
    present = np.stack([day.mentions((k,)) for k in typed])
    cosine = (model.vectors(typed) @ day.docs.T).toarray() * present
    width = max(1, *(len(p.keywords) for p in profiles))
    ids = np.zeros((len(profiles), width), dtype=np.int64)
    weights = np.zeros((len(profiles), width))
    for i, p in enumerate(profiles):
        ids[i, : len(p.keywords)] = [at[k] for k in p.keywords]
        weights[i, : len(p.keywords)] = [p.weight(n) for n in range(len(p.keywords))]
    values = cosine[ids[reader_rows], doc_rows[:, None]] * weights[reader_rows]
    values *= factor[reader_rows, None]
    pair, slot = np.nonzero(values > 0)
    return Phrases(typed, pair, ids[reader_rows[pair], slot], values[pair, slot])


def reasons(
    model: Model,
    why: sparse.csr_matrix,
    docs: sparse.csr_matrix,
    reader_rows: np.ndarray,
    doc_rows: np.ndarray,
    typed: Phrases | None = None,
) -> list[tuple[Term, ...]]:
    """For each pair (row of `why`, row of `docs`), what contributed most to the paper's score,
    each with its share of the contributions listed: the terms of `why` (what the reader's liked
    papers taught) and the whole keyword phrases of `typed`. `reader_rows` must not decrease.
    A contribution is the reader's weight times the paper's; negative ones (from a learned
    model) explain nothing."""
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
    term = picked.indices[entry].astype(np.int64)
    if typed is not None and len(typed.pair):
        # phrases are numbered after the model's terms; a liked term that is a typed phrase
        # (`in-context learning` learned and typed) is one reason, not two
        as_phrase = {
            t: n for n, k in enumerate(typed.typed) if (t := model.index_of(k)) is not None
        }
        if as_phrase:
            known = np.array(sorted(as_phrase), dtype=np.int64)
            hit = np.isin(term, known)
            term[hit] = [width + as_phrase[t] for t in term[hit].tolist()]
        pair = np.concatenate([pair, typed.pair])
        term = np.concatenate([term, typed.phrase + width])
        value = np.concatenate([value, typed.value])
        labels = width + len(typed.typed)
        key, at = np.unique(pair * labels + term, return_inverse=True)
        value = np.bincount(at, weights=value)
        pair, term = key // labels, key % labels
    totals = np.bincount(pair, weights=value, minlength=len(doc_rows))
    pair, term, value = _strongest(pair, term, value)
    share = np.round(value / totals[pair], 4).tolist()
    names = [
        model.name(t) if t < width else typed.typed[t - width]  # type: ignore[union-attr]
        for t in term.tolist()
    ]
    terms = list(map(Term, names, share))
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
