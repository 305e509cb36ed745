"""Ranking: TF-IDF over the stored corpus, a query vector per reader, cosine scores, reasons.

Pure: no I/O, no clock. The pipeline fits one Model per build and hands it to every reader, so
ranking many readers never refits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from digest.models import Profile, Scored, StoredPaper, Term

MAX_TERMS = 5

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


def analyse(text: str) -> list[str]:
    """The terms of a text, as the model sees them."""
    return [term for term, _ in _ngrams(_words(text))]


@dataclass(frozen=True, slots=True)
class Model:
    """A fitted TF-IDF model over a corpus, with a readable form for each term."""

    vectorizer: TfidfVectorizer | None
    terms: tuple[str, ...]
    display: dict[str, str]
    index: dict[str, int]
    matrix: sparse.csr_matrix

    def vectors(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """L2-normalised TF-IDF rows for texts; all-zero rows when nothing is known."""
        if self.vectorizer is None or not texts:
            return sparse.csr_matrix((len(texts), max(len(self.terms), 1)))
        return sparse.csr_matrix(self.vectorizer.transform(texts))

    def row(self, paper_id: str) -> sparse.csr_matrix | None:
        i = self.index.get(paper_id)
        return None if i is None else self.matrix[i]


def fit(corpus: Sequence[StoredPaper]) -> Model:
    """Fit TF-IDF on titles and abstracts. Works on any corpus size, down to none at all."""
    texts = [p.text for p in corpus]
    index = {p.id: i for i, p in enumerate(corpus)}
    vectorizer = TfidfVectorizer(analyzer=analyse, sublinear_tf=True, min_df=1, dtype=np.float64)
    try:
        matrix = sparse.csr_matrix(vectorizer.fit_transform(texts))
    except ValueError:  # empty corpus, or nothing but stop words
        return Model(None, (), {}, index, sparse.csr_matrix((len(texts), 1)))
    terms = tuple(str(t) for t in vectorizer.get_feature_names_out())
    return Model(vectorizer, terms, _display_forms(texts), index, matrix)


def _display_forms(texts: Iterable[str]) -> dict[str, str]:
    """The most common surface form of each folded term (`network` -> `networks`)."""
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        counts.update(_ngrams(_words(text)))
    display: dict[str, str] = {}
    for (term, surface), _ in counts.most_common():
        display.setdefault(term, surface)
    return display


def query(model: Model, profile: Profile, liked: Sequence[StoredPaper] = ()) -> sparse.csr_matrix:
    """A reader's interests as one unit row: keywords and liked papers, weighted equally."""
    parts = []
    if profile.keywords:
        parts.append(_unit(sparse.csr_matrix(model.vectors(list(profile.keywords)).sum(axis=0))))
    if liked:
        stacked = sparse.vstack([_paper_row(model, p) for p in liked])
        parts.append(_unit(sparse.csr_matrix(stacked.mean(axis=0))))
    if not parts:
        return sparse.csr_matrix((1, model.matrix.shape[1]))
    return _unit(sparse.csr_matrix(sum(parts[1:], parts[0])))


def _paper_row(model: Model, paper: StoredPaper) -> sparse.csr_matrix:
    row = model.row(paper.id)
    return row if row is not None else model.vectors([paper.text])


def _unit(row: sparse.csr_matrix) -> sparse.csr_matrix:
    norm = float(np.sqrt(row.multiply(row).sum()))
    return row / norm if norm > 0 else row


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
    readers: Sequence[tuple[Profile, Sequence[StoredPaper]]],
    papers: Sequence[StoredPaper],
) -> dict[str, list[Scored]]:
    """Rank the same papers for many readers with one matrix product."""
    if not readers:
        return {}
    docs = model.vectors([p.text for p in papers])
    queries = sparse.vstack([query(model, profile, liked) for profile, liked in readers]).tocsr()
    scores = (queries @ docs.T).toarray() if papers else np.zeros((len(readers), 0))
    ids = [p.id for p in papers]
    ranked: dict[str, list[Scored]] = {}
    for i, (profile, liked) in enumerate(readers):
        liked_ids = {p.id for p in liked}
        row = scores[i]
        keep = [j for j in np.flatnonzero(row > 0) if ids[j] not in liked_ids]
        keep.sort(key=lambda j, row=row: (-row[j], ids[j]))
        contrib = sparse.csr_matrix(docs[keep].multiply(queries[i])) if keep else None
        ranked[profile.name] = [
            Scored(papers[j], round(float(row[j]), 6), explain(model, contrib, k))
            for k, j in enumerate(keep)
        ]
    return ranked


def explain(model: Model, contrib: sparse.csr_matrix | None, k: int) -> tuple[Term, ...]:
    """The terms that contributed most to row k's score, with their share of it."""
    if contrib is None:
        return ()
    lo, hi = contrib.indptr[k], contrib.indptr[k + 1]
    indices, weights = contrib.indices[lo:hi], contrib.data[lo:hi]
    total = float(weights.sum())
    if total <= 0:
        return ()
    top = sorted(zip(indices.tolist(), weights.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    return tuple(
        Term(model.display.get(model.terms[i], model.terms[i]), round(w / total, 4))
        for i, w in top[:MAX_TERMS]
        if w > 0
    )
