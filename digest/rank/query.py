"""Each reader's interests as one query vector over the model's terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize

from digest.models import Profile, StoredPaper
from digest.rank.model import Model

KEYWORD_WEIGHT = 0.7  # keywords' share of a query beside liked papers (measured by `digest eval`)
PRF_MIN_CORPUS = 1000  # pseudo-relevance feedback from this many papers on
PRF_DOCS = 10  # ... from the centroid of each query's best hits
PRF_WEIGHT = 0.5  # ... at this weight
PRF_CHUNK = 256  # readers scored against the corpus at a time
DENSE_TERMS = 512  # the corpus's most frequent terms, scored as one dense product
DISLIKE_WEIGHT = 0.5  # how far disliked papers push a reader's query away (Rocchio's gamma)

Reader = tuple[Profile, Sequence[StoredPaper]]


def queries(
    model: Model,
    readers: Sequence[Reader],
    disliked: Mapping[str, Sequence[StoredPaper]] | None = None,
    *,
    expand: bool = True,
    corpus: Corpus | None = None,
) -> sparse.csr_matrix:
    """Each reader's interests as one unit row: weighted keywords (0.7) and the centroid of liked
    papers (0.3), moved toward its best corpus hits (pseudo-relevance feedback), minus a share of
    what the reader disliked (Rocchio), negative weights cut to zero.

    Built for all readers at once: every distinct keyword and paper is vectorised once.
    `corpus` is the model's corpus made ready for scoring, when the caller has it already.
    """
    keywords = sorted({k for profile, _ in readers for k in profile.keywords})
    kw_rows = {k: i for i, k in enumerate(keywords)}
    pick_kw = selector(
        [[kw_rows[k] for k in p.keywords] for p, _ in readers],
        len(keywords),
        [[p.weight(i) for i in range(len(p.keywords))] for p, _ in readers],
    )
    by_keywords = normalize(pick_kw @ model.vectors(keywords))
    by_liked = centroids(model, [papers for _, papers in readers])
    q = normalize(KEYWORD_WEIGHT * by_keywords + (1 - KEYWORD_WEIGHT) * by_liked)
    q = _expand(model, q, corpus) if expand else sparse.csr_matrix(q)
    if disliked:
        against = [disliked.get(profile.name, ()) for profile, _ in readers]
        q = sparse.csr_matrix(q - DISLIKE_WEIGHT * centroids(model, against))
        q.data[q.data < 0] = 0
        q.eliminate_zeros()
    return sparse.csr_matrix(normalize(q))


class Corpus:
    """The model's corpus made ready to score many queries against.

    Most of the work of a sparse product is in the few terms nearly every paper has (`model`,
    `learning`, ...): DENSE_TERMS of them cover nearly 90% of it. Those are scored as one dense
    product (BLAS, single precision: these scores only choose each query's best hits), the rest
    as a sparse one; together about twice as fast as the whole sparse product.
    """

    def __init__(self, model: Model) -> None:
        self.t = sparse.csr_matrix(model.matrix.T)  # terms x papers
        df = np.diff(self.t.indptr)
        common = np.sort(np.argsort(-df, kind="stable")[: min(DENSE_TERMS, len(df))])
        self.common = common[df[common] > 0]
        self.is_common = np.zeros(self.t.shape[0], dtype=bool)
        self.is_common[self.common] = True
        self.dense = self.t[self.common].toarray().astype(np.float32)
        self.rare = sparse.csr_matrix(self.t.multiply(~self.is_common[:, None]))

    def scores(self, q: sparse.csr_matrix) -> np.ndarray:
        """Dense (queries x papers) cosine scores."""
        out = np.asarray(q[:, self.common].toarray().astype(np.float32) @ self.dense)
        rare = sparse.csr_matrix(q.multiply(~self.is_common[None, :]))
        rare.eliminate_zeros()
        return (rare @ self.rare).toarray() + out


def _expand(model: Model, q: sparse.csr_matrix, corpus: Corpus | None) -> sparse.csr_matrix:
    """Pseudo-relevance feedback: each query moves toward the centroid of its best corpus hits.

    Only on a corpus large enough for the best hits to be on topic; on a small one it would
    mostly add noise.
    """
    n = model.matrix.shape[0]
    if n < PRF_MIN_CORPUS or q.nnz == 0:
        return q
    q = sparse.csr_matrix(q)
    corpus = corpus if corpus is not None else Corpus(model)
    rows: list[list[int]] = []
    for start in range(0, q.shape[0], PRF_CHUNK):  # bounds the dense score block's memory
        rows += best_columns(corpus.scores(q[start : start + PRF_CHUNK]), PRF_DOCS)
    hits = normalize(selector(rows, n) @ model.matrix)
    return sparse.csr_matrix(normalize(q + PRF_WEIGHT * hits))


def best_columns(scores: np.ndarray, k: int, segment: int = 128) -> list[list[int]]:
    """Each row's k highest-scoring columns among those scoring above 0, best first, ties by
    column.

    Cheaper than a partition of every row: the k-th best of the row's segment maxima is a floor
    that the row's k best all reach, and few other columns do; only those are sorted.
    """
    n_rows, n = scores.shape
    segments = n // segment
    if segments >= k:
        maxima = scores[:, : segments * segment].reshape(n_rows, segments, segment).max(axis=2)
        floor = np.partition(maxima, segments - k, axis=1)[:, segments - k]
        floor = np.maximum(floor, np.nextafter(0, 1))
    else:
        floor = np.full(n_rows, np.nextafter(0, 1))
    rows, cols = np.nonzero(scores >= floor[:, None])
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    bounds = np.searchsorted(rows, np.arange(n_rows + 1)).tolist()
    found = cols.tolist()
    return [found[lo : min(hi, lo + k)] for lo, hi in pairwise(bounds)]


def centroids(model: Model, groups: Sequence[Sequence[StoredPaper]]) -> sparse.csr_matrix:
    """One unit row per group of papers: the direction of their mean."""
    papers = list({p.id: p for group in groups for p in group}.values())
    rows = {p.id: i for i, p in enumerate(papers)}
    pick = selector([[rows[p.id] for p in group] for group in groups], len(papers))
    return sparse.csr_matrix(normalize(pick @ model.paper_vectors(papers)))


def selector(
    rows: list[list[int]], width: int, weights: list[list[float]] | None = None
) -> sparse.csr_matrix:
    """A matrix whose row i picks the given columns, with weight 1 unless `weights` says
    otherwise (the mean is taken by normalising)."""
    indptr = np.cumsum([0, *map(len, rows)])
    indices = np.array([c for row in rows for c in row], dtype=np.int64)
    if weights is None:
        data = np.ones(len(indices))
    else:
        data = np.array([w for row in weights for w in row], dtype=np.float64)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), width))


def learned_or_query(
    q: sparse.csr_matrix, learned: Mapping[int, sparse.csr_matrix]
) -> sparse.csr_matrix:
    """The vectors scores are explained by: each reader's query, or their linear model's weights."""
    if not learned:
        return q
    rows = sorted(learned)
    keep = np.ones(q.shape[0])
    keep[rows] = 0
    # learned row k goes to reader row rows[k]
    at = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, range(len(rows)))), shape=(q.shape[0], len(rows))
    )
    weights = sparse.vstack([learned[r] for r in rows], format="csr")
    return sparse.csr_matrix(sparse.diags(keep) @ q + at @ weights)
