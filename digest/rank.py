"""Ranking: TF-IDF over the stored corpus, a query vector per reader, cosine scores, reasons.

Pure: no I/O, no clock. The pipeline fits one Model per build and hands it to every reader, so
ranking many readers never refits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from digest.models import Profile, Scored, StoredPaper, Term

MAX_TERMS = 5
KEYWORD_WEIGHT = 0.7  # keywords' share of a query beside liked papers (measured by `digest eval`)
PRF_MIN_CORPUS = 1000  # pseudo-relevance feedback from this many papers on
PRF_DOCS = 10  # ... from the centroid of each query's best hits
PRF_WEIGHT = 0.5  # ... at this weight
PRF_CHUNK = 256  # readers scored against the corpus at a time
DISLIKE_WEIGHT = 0.5  # how far disliked papers push a reader's query away (Rocchio's gamma)
MIN_DF_CORPUS = 1000  # from this many papers on, terms must appear in two of them

_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
# Words every abstract uses; they say nothing about what a paper is about.
_BOILERPLATE = frozenset(
    """paper propose proposed proposes present presents introduce introduces method methods
    approach approaches result results show shows demonstrate demonstrates novel existing
    based using use used achieve achieves new work state art extensive experiments experiment
    performance significantly outperform outperforms""".split()  # noqa: SIM905
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | _BOILERPLATE


def fold(word: str) -> str:
    """A light plural folding, so `networks` and `network` are one term; keeps words short of 4."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        return word[:-1]
    return word


def _words(text: str) -> list[tuple[str, str]]:
    """(folded term, surface form) for each word; stop words become ("", "") gaps."""
    out = []
    for match in _TOKEN.finditer(text):
        surface = match.group(0).lower()
        if surface in STOP_WORDS or (len(surface) < 2 and not surface.isdigit()):
            out.append(("", ""))
        else:
            out.append((fold(surface), surface))
    return out


def _ngrams(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Unigrams, plus bigrams of adjacent words with no stop word between them."""
    grams = [w for w in words if w[0]]
    for (a, sa), (b, sb) in pairwise(words):
        if a and b:
            grams.append((f"{a} {b}", f"{sa} {sb}"))
    return grams


@lru_cache(maxsize=1 << 16)
def _grams(text: str) -> tuple[tuple[str, str], ...]:
    """(term, surface form) pairs of a text; cached, as corpus windows overlap from day to day."""
    return tuple(_ngrams(_words(text)))


def analyse(text: str | list[str]) -> list[str]:
    """The terms of a text, as the model sees them (a list is taken as terms already found)."""
    if isinstance(text, list):
        return text
    return [term for term, _ in _grams(text)]


@dataclass(frozen=True, slots=True)
class Model:
    """A fitted TF-IDF model over a corpus, with a readable form for each term."""

    vectorizer: TfidfVectorizer | None
    terms: tuple[str, ...]
    display: dict[str, str]
    index: dict[str, int]
    matrix: sparse.csr_matrix

    @property
    def width(self) -> int:
        return max(len(self.terms), 1)

    def vectors(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """L2-normalised TF-IDF rows for texts; all-zero rows when nothing is known."""
        if self.vectorizer is None or not texts:
            return sparse.csr_matrix((len(texts), self.width))
        return sparse.csr_matrix(self.vectorizer.transform(list(texts)))

    def paper_vectors(self, papers: Sequence[StoredPaper]) -> sparse.csr_matrix:
        """Rows for papers: from the fitted matrix when known, else transformed now."""
        rows = [self.index.get(p.id) for p in papers]
        if papers and all(r is not None for r in rows):
            return sparse.csr_matrix(self.matrix[rows])
        return self.vectors([p.text for p in papers])


def fit(corpus: Sequence[StoredPaper]) -> Model:
    """Fit TF-IDF on titles and abstracts. Works on any corpus size, down to none at all."""
    grams = [_grams(p.text) for p in corpus]
    index = {p.id: i for i, p in enumerate(corpus)}
    # a term seen in one paper only says nothing about the others, once there are enough papers
    min_df = 2 if len(corpus) >= MIN_DF_CORPUS else 1
    vectorizer = TfidfVectorizer(
        analyzer=analyse, sublinear_tf=True, min_df=min_df, dtype=np.float64
    )
    try:
        matrix = vectorizer.fit_transform([[term for term, _ in g] for g in grams])
    except ValueError:  # empty corpus, or nothing but stop words
        return Model(None, (), {}, index, sparse.csr_matrix((len(corpus), 1)))
    terms = tuple(str(t) for t in vectorizer.get_feature_names_out())
    return Model(vectorizer, terms, _display_forms(grams), index, sparse.csr_matrix(matrix))


def _display_forms(grams: Iterable[Iterable[tuple[str, str]]]) -> dict[str, str]:
    """The most common surface form of each folded term (`network` -> `networks`)."""
    counts: Counter[tuple[str, str]] = Counter()
    for g in grams:
        counts.update(g)
    display: dict[str, str] = {}
    for (term, surface), _ in counts.most_common():
        display.setdefault(term, surface)
    return display


Reader = tuple[Profile, Sequence[StoredPaper]]


def queries(
    model: Model,
    readers: Sequence[Reader],
    disliked: Mapping[str, Sequence[StoredPaper]] | None = None,
) -> sparse.csr_matrix:
    """Each reader's interests as one unit row: keywords and liked papers, weighted equally,
    minus a share of what the reader disliked (Rocchio), negative weights cut to zero.

    Built for all readers at once: every distinct keyword and paper is vectorised once.
    """
    keywords = sorted({k for profile, _ in readers for k in profile.keywords})
    kw_rows = {k: i for i, k in enumerate(keywords)}
    pick_kw = _selector([[kw_rows[k] for k in p.keywords] for p, _ in readers], len(keywords))
    by_keywords = normalize(pick_kw @ model.vectors(keywords))
    by_liked = _centroids(model, [papers for _, papers in readers])
    q = _expand(model, normalize(KEYWORD_WEIGHT * by_keywords + (1 - KEYWORD_WEIGHT) * by_liked))
    if disliked:
        against = [disliked.get(profile.name, ()) for profile, _ in readers]
        q = sparse.csr_matrix(q - DISLIKE_WEIGHT * _centroids(model, against))
        q.data[q.data < 0] = 0
        q.eliminate_zeros()
    return sparse.csr_matrix(normalize(q))


def _expand(model: Model, q: sparse.csr_matrix) -> sparse.csr_matrix:
    """Pseudo-relevance feedback: each query moves toward the centroid of its best corpus hits.

    Only on a corpus large enough for the best hits to be on topic; on a small one it would
    mostly add noise.
    """
    if model.matrix.shape[0] < PRF_MIN_CORPUS or q.nnz == 0:
        return q
    rows: list[list[int]] = []
    for start in range(0, q.shape[0], PRF_CHUNK):  # bounds the dense score block's memory
        scores = (q[start : start + PRF_CHUNK] @ model.matrix.T).toarray()
        top = np.argsort(-scores, axis=1, kind="stable")[:, :PRF_DOCS]
        rows += [[int(j) for j in top[i] if scores[i, j] > 0] for i in range(len(scores))]
    hits = normalize(_selector(rows, model.matrix.shape[0]) @ model.matrix)
    return sparse.csr_matrix(normalize(q + PRF_WEIGHT * hits))


def _centroids(model: Model, groups: Sequence[Sequence[StoredPaper]]) -> sparse.csr_matrix:
    """One unit row per group of papers: the direction of their mean."""
    papers = list({p.id: p for group in groups for p in group}.values())
    rows = {p.id: i for i, p in enumerate(papers)}
    pick = _selector([[rows[p.id] for p in group] for group in groups], len(papers))
    return sparse.csr_matrix(normalize(pick @ model.paper_vectors(papers)))


def _selector(rows: list[list[int]], width: int) -> sparse.csr_matrix:
    """A 0/1 matrix whose row i picks the given columns (the mean is taken by normalising)."""
    indptr = np.cumsum([0, *map(len, rows)])
    indices = np.array([c for row in rows for c in row], dtype=np.int64)
    data = np.ones(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), width))


def rank(
    model: Model,
    profile: Profile,
    papers: Sequence[StoredPaper],
    liked: Sequence[StoredPaper] = (),
) -> list[Scored]:
    """Score papers for one reader, best first (ties by id); every score explained by its terms."""
    return rank_many(model, [(profile, liked)], papers)[profile.name]


def rank_many(
    model: Model,
    readers: Sequence[Reader],
    papers: Sequence[StoredPaper],
    *,
    limit: int | None = None,
    disliked: Mapping[str, Sequence[StoredPaper]] | None = None,
) -> dict[str, list[Scored]]:
    """Rank the same papers for many readers with one matrix product.

    Papers with no positive score, and those the reader liked or disliked, are left out; `limit`
    keeps only each reader's best `limit` (only those are explained).
    """
    if not readers:
        return {}
    docs = model.paper_vectors(papers)
    q = queries(model, readers, disliked)
    scores = (q @ docs.T).toarray() if papers else np.zeros((len(readers), 0))
    ids = np.array([p.id for p in papers], dtype=object)
    tiebreak = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
    ranked: dict[str, list[Scored]] = {}
    for i, (profile, liked) in enumerate(readers):
        row = scores[i]
        judged = {p.id for p in [*liked, *(disliked or {}).get(profile.name, ())]}
        order = np.lexsort((tiebreak, -row))
        keep = [j for j in order if row[j] > 0 and ids[j] not in judged][:limit]
        reasons = explain(model, sparse.csr_matrix(docs[keep].multiply(q[i]))) if keep else []
        ranked[profile.name] = [
            Scored(papers[j], round(float(row[j]), 6), terms)
            for j, terms in zip(keep, reasons, strict=True)
        ]
    return ranked


def explain(model: Model, contrib: sparse.csr_matrix) -> list[tuple[Term, ...]]:
    """For each row of per-term contributions, the terms that contributed most, with their share.

    One sort for all rows: by row, then contribution (largest first), then term index.
    """
    rows = np.repeat(np.arange(contrib.shape[0]), np.diff(contrib.indptr))
    order = np.lexsort((contrib.indices, -contrib.data, rows))
    totals = np.bincount(rows, weights=contrib.data, minlength=contrib.shape[0]).tolist()
    terms, display = model.terms, model.display
    indices, data = contrib.indices[order].tolist(), contrib.data[order].tolist()
    out = []
    for k, (lo, hi) in enumerate(pairwise(contrib.indptr.tolist())):
        total = totals[k]
        out.append(
            tuple(
                Term(display.get(terms[t], terms[t]), round(w / total, 4))
                for t, w in zip(indices[lo : min(hi, lo + MAX_TERMS)], data[lo:hi], strict=False)
                if w > 0
            )
        )
    return out


def profile_terms(
    model: Model,
    reader: Reader,
    disliked: Sequence[StoredPaper] = (),
    n: int = 10,
) -> tuple[list[Term], list[Term]]:
    """What a profile has learned: its query's strongest terms, and the disliked papers'."""
    profile = reader[0]
    q = queries(model, [reader], {profile.name: disliked} if disliked else None)
    against = _centroids(model, [disliked]) if disliked else sparse.csr_matrix(q.shape)
    return _top_terms(model, q, n), _top_terms(model, against, n)


def _top_terms(model: Model, row: sparse.csr_matrix, n: int) -> list[Term]:
    row = sparse.csr_matrix(row)
    order = np.lexsort((row.indices, -row.data))[:n]
    return [
        Term(model.display.get(model.terms[i], model.terms[i]), round(float(w), 4))
        for i, w in zip(row.indices[order].tolist(), row.data[order].tolist(), strict=True)
        if w > 0
    ]
