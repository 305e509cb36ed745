"""Each reader's interests as one query vector over the model's terms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize

from digest.models import Profile, StoredPaper
from digest.rank import floor
from digest.rank.model import Model

LIKED_WORTH = 0.6  # what liked papers say beside typed keywords (see `mix`)
LATENT_SHARE = 0.35  # share of relevance from the latent space, beside the terms' cosine
LATENT_FEATURES = 1.0  # the weight of a paper's latent row beside its TF-IDF row, for learning
PRF_MIN_CORPUS = 1000  # pseudo-relevance feedback from this many papers on
PRF_DOCS = 10  # ... from the centroid of each query's best hits
PRF_WEIGHT = 0.0  # ... at this weight (none: it did not pay beside the latent space)
PRF_CHUNK = 256  # readers scored against the corpus at a time
DENSE_TERMS = 512  # the corpus's most frequent terms, scored as one dense product
DISLIKE_WEIGHT = 0.5  # how far disliked papers push a reader's query away (Rocchio's gamma)

Reader = tuple[Profile, Sequence[StoredPaper]]


class Queries(NamedTuple):
    """Each reader's interests as a query: term weights (for the cosine with a paper's terms and
    for explanations) and, when the model has a latent space, a latent vector. A paper's
    relevance is (1 - LATENT_SHARE) x the first's product with its TF-IDF row plus LATENT_SHARE x
    the second's with its latent row (see `relevance`)."""

    terms: sparse.csr_matrix  # readers x terms
    latent: np.ndarray | None  # readers x dimensions
    # for explanations: the liked papers' part of `terms`, and per reader the factor that turns
    # a keyword phrase's weight times its cosine with a paper into its part of the score
    liked: sparse.csr_matrix
    phrase_factor: np.ndarray

    def rows(self, rows: Sequence[int]) -> Queries:
        at = list(rows)
        latent = self.latent[at] if self.latent is not None else None
        return Queries(self.terms[at], latent, self.liked[at], self.phrase_factor[at])


def mix(profile: Profile, liked: Sequence[StoredPaper]) -> float:
    """The keywords' share of a reader's query beside their liked papers, by how much each says.
    What a set of examples says grows as the square root of its size (the noise in their mean
    shrinks so), and a typed keyword phrase says as much as 1 / LIKED_WORTH^2 liked papers: ten
    keywords and three likes lean on the keywords, a one-word tag and ten likes on the likes."""
    said = math.sqrt(len(profile.keywords))
    shown = LIKED_WORTH * math.sqrt(len(liked))
    return said / (said + shown) if said + shown else 1.0


def queries(
    model: Model,
    readers: Sequence[Reader],
    disliked: Mapping[str, Sequence[StoredPaper]] | None = None,
    *,
    expand: bool = True,
    corpus: Corpus | None = None,
) -> Queries:
    """Each reader's query: the unit vector of their weighted keywords and the centroid of their
    liked papers, mixed by `mix`, in term space and in the latent space; moved toward its best
    corpus hits (pseudo-relevance feedback), minus a share of what the reader disliked
    (Rocchio), negative term weights cut to zero; scaled so the terms' part is a unit row.

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
    typed = sparse.csr_matrix(pick_kw @ model.vectors(keywords))
    lengths = np.sqrt(np.asarray(typed.multiply(typed).sum(axis=1)).ravel())
    by_keywords = sparse.csr_matrix(normalize(typed))
    by_liked = centroids(model, [papers for _, papers in readers])
    share = np.array([mix(p, liked) for p, liked in readers])
    liked_part = sparse.csr_matrix(by_liked.multiply((1 - share)[:, None]))
    terms = sparse.csr_matrix(by_keywords.multiply(share[:, None]) + liked_part)
    latent = None
    if model.latent is not None:
        project = model.latent.project
        latent = share[:, None] * project(by_keywords) + (1 - share[:, None]) * project(by_liked)
    factor = np.divide(share, lengths, out=np.zeros_like(share), where=lengths > 0)
    q = Queries(terms, latent, liked_part, factor)
    if expand:
        q = _expand(model, q, corpus)
    if disliked:
        q = _away(model, q, [disliked.get(profile.name, ()) for profile, _ in readers])
    return _scaled(q)


def _away(model: Model, q: Queries, against: Sequence[Sequence[StoredPaper]]) -> Queries:
    """Rocchio's step away from the disliked papers' centroid; term weights stay positive."""
    far = centroids(model, against)
    terms = sparse.csr_matrix(q.terms - DISLIKE_WEIGHT * far)
    terms.data[terms.data < 0] = 0
    terms.eliminate_zeros()
    latent = q.latent
    if latent is not None and model.latent is not None:
        latent = latent - DISLIKE_WEIGHT * model.latent.project(far)
    return Queries(terms, latent, q.liked, q.phrase_factor)


def _scaled(q: Queries) -> Queries:
    """Both parts divided by the length of the terms' part, so scores read like a cosine."""
    norms = np.sqrt(np.asarray(q.terms.multiply(q.terms).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    latent = q.latent * scale[:, None].astype(np.float32) if q.latent is not None else None
    by = sparse.diags(scale)
    return Queries(
        sparse.csr_matrix(by @ q.terms),
        latent,
        sparse.csr_matrix(by @ q.liked),
        q.phrase_factor * scale,
    )


def features(model: Model, rows: sparse.csr_matrix) -> sparse.csr_matrix:
    """What a reader's linear model learns from: each paper's TF-IDF row, followed by its
    latent row (at LATENT_FEATURES) when the model has a latent space."""
    if model.latent is None or LATENT_FEATURES == 0:
        return sparse.csr_matrix(rows)
    latent = LATENT_FEATURES * model.latent.project(rows)
    return sparse.hstack([rows, sparse.csr_matrix(latent)], format="csr")


def relevance(q: Queries, docs: sparse.csr_matrix, docs_latent: np.ndarray | None) -> np.ndarray:
    """Dense (readers x papers) relevance: the terms' cosine blended with the latent one."""
    scores = (q.terms @ docs.T).toarray()
    if q.latent is None or docs_latent is None:
        return scores
    return (1 - LATENT_SHARE) * scores + LATENT_SHARE * (q.latent @ docs_latent.T)


class Corpus:
    """The model's corpus made ready to score many queries against.

    Most of the work of a sparse product is in the few terms nearly every paper has (`model`,
    `learning`, ...): DENSE_TERMS of them cover nearly 90% of it. Those are scored as one dense
    product (BLAS, single precision: these scores only choose each query's best hits), the rest
    as a sparse one; together about twice as fast as the whole sparse product.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.t = sparse.csr_matrix(model.matrix.T)  # terms x papers
        df = np.diff(self.t.indptr)
        common = np.sort(np.argsort(-df, kind="stable")[: min(DENSE_TERMS, len(df))])
        self.common = common[df[common] > 0]
        self.is_common = np.zeros(self.t.shape[0], dtype=bool)
        self.is_common[self.common] = True
        self.dense = self.t[self.common].toarray().astype(np.float32)
        self.rare = sparse.csr_matrix(self.t.multiply(~self.is_common[:, None]))

    @cached_property
    def sample(self) -> np.ndarray:
        """The corpus rows that stand for the corpus (see floor.py)."""
        return floor.sample(self.model.matrix.shape[0])

    @cached_property
    def sampled(self) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.model.matrix[self.sample])

    @cached_property
    def features(self) -> sparse.csr_matrix:
        """Every corpus paper's features for a linear model (see `features`)."""
        return features(self.model, self.model.matrix)

    @cached_property
    def latent(self) -> np.ndarray | None:
        """Every corpus paper's unit row in the latent space (papers x dimensions)."""
        if self.model.latent is None:
            return None
        return self.model.latent.project(self.model.matrix)

    def scores(self, q: Queries) -> np.ndarray:
        """Dense (queries x papers) relevance to every corpus paper."""
        terms = q.terms
        out = np.asarray(terms[:, self.common].toarray().astype(np.float32) @ self.dense)
        rare = sparse.csr_matrix(terms.multiply(~self.is_common[None, :]))
        rare.eliminate_zeros()
        out = (rare @ self.rare).toarray() + out
        if q.latent is None or self.latent is None:
            return out
        return (1 - LATENT_SHARE) * out + LATENT_SHARE * (q.latent @ self.latent.T)

    @cached_property
    def sampled_latent(self) -> np.ndarray | None:
        if self.model.latent is None:
            return None
        return self.model.latent.project(self.sampled)

    def usual(self, q: Queries) -> np.ndarray:
        """Dense (queries x sampled papers) relevance to the papers that stand for the corpus."""
        return relevance(q, self.sampled, self.sampled_latent)


def _expand(model: Model, q: Queries, corpus: Corpus | None) -> Queries:
    """Pseudo-relevance feedback: each query moves toward the centroid of its best corpus hits.

    Only on a corpus large enough for the best hits to be on topic; on a small one it would
    mostly add noise.
    """
    n = model.matrix.shape[0]
    if n < PRF_MIN_CORPUS or q.terms.nnz == 0 or PRF_WEIGHT == 0:
        return q
    corpus = corpus if corpus is not None else Corpus(model)
    rows: list[list[int]] = []
    count = q.terms.shape[0]
    for start in range(0, count, PRF_CHUNK):  # bounds the dense score block's memory
        block = q.rows(range(start, min(start + PRF_CHUNK, count)))
        rows += best_columns(corpus.scores(block), PRF_DOCS)
    hits = sparse.csr_matrix(normalize(selector(rows, n) @ model.matrix))
    terms = sparse.csr_matrix(q.terms + PRF_WEIGHT * hits)
    latent = q.latent
    if latent is not None and model.latent is not None:
        latent = latent + PRF_WEIGHT * model.latent.project(hits)
    return Queries(terms, latent, q.liked, q.phrase_factor)


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
