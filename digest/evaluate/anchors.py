"""The README's anchors that can be computed here, each on its own TF-IDF (never the shipped model).

    kw+centroid   TF-IDF keywords + the centroid of the liked papers, equal weights; the README's
                  TF-IDF settings (sublinear tf, English stop words, unigrams and bigrams,
                  min_df 2, max_df 0.5), fitted on the day's corpus
    arxiv-sanity  arxiv-sanity-lite: its own TfidfVectorizer settings (from its compute.py), and per
                  reader a LinearSVC (C=0.01, balanced) of the liked papers against every history
                  paper; keywords unused

In the walk the liked papers are the seeds and the likes so far, so the same functions are the
walk anchors (the SVM refitted each day). A reader with nothing to go on gets the listing order.
On a corpus too small for a setting's min_df and max_df, they are relaxed until terms remain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from digest.evaluate.rankers import Ranking, Readers
from digest.evaluate.spec import TestDay
from digest.models import StoredPaper

README_TFIDF: Mapping[str, Any] = {
    "sublinear_tf": True,
    "stop_words": "english",
    "ngram_range": (1, 2),
    "min_df": 2,
    "max_df": 0.5,
}
# arxiv-sanity-lite compute.py's TfidfVectorizer (its defaults: max_features 20000, min_df 5,
# max_df 0.1); its serve.py's svm_rank: LinearSVC(class_weight="balanced", max_iter=10000,
# tol=1e-6, C=0.01)
SANITY_TFIDF: Mapping[str, Any] = {
    "strip_accents": "unicode",
    "lowercase": True,
    "stop_words": "english",
    "token_pattern": r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
    "ngram_range": (1, 2),
    "max_features": 20000,
    "sublinear_tf": True,
    "max_df": 0.1,
    "min_df": 5,
}


@dataclass(frozen=True, slots=True)
class Tfidf:
    """A TF-IDF fit on one day's corpus: the vectorizer (None when no term survived) and the
    corpus rows by paper id."""

    vectorizer: TfidfVectorizer | None
    matrix: sparse.csr_matrix
    index: Mapping[str, int]

    def vectors(self, papers: Sequence[StoredPaper]) -> sparse.csr_matrix:
        """Unit rows: the corpus's own for its papers, transformed text for the others."""
        if self.vectorizer is None or not papers:
            return sparse.csr_matrix((len(papers), self.matrix.shape[1]))
        if all(p.id in self.index for p in papers):
            return self.matrix[[self.index[p.id] for p in papers]]
        return self.vectorizer.transform([p.text for p in papers])

    def text(self, words: str) -> sparse.csr_matrix:
        if self.vectorizer is None:
            return sparse.csr_matrix((1, self.matrix.shape[1]))
        return self.vectorizer.transform([words])


def fit_tfidf(corpus: Sequence[StoredPaper], settings: Mapping[str, Any]) -> Tfidf:
    """Fit with the settings, min_df and max_df relaxed for a small corpus: min_df at most one
    paper in 20, max_df never below min_df; then, if no term is left, min_df 1 and max_df 1.0."""
    texts, n = [p.text for p in corpus], len(corpus)
    index = {p.id: i for i, p in enumerate(corpus)}
    min_df = min(int(settings["min_df"]), max(1, n // 20))
    max_df = float(settings["max_df"])
    if max_df * n < min_df:
        max_df = 1.0
    for tried in ({"min_df": min_df, "max_df": max_df}, {"min_df": 1, "max_df": 1.0}):
        vectorizer = TfidfVectorizer(**{**settings, **tried})
        try:
            return Tfidf(vectorizer, vectorizer.fit_transform(texts).tocsr(), index)
        except ValueError:  # nothing left after pruning, or no words at all
            continue
    return Tfidf(None, sparse.csr_matrix((n, 0)), index)


def readme_tfidf(corpus: Sequence[StoredPaper]) -> Tfidf:
    return fit_tfidf(corpus, README_TFIDF)


def sanity_tfidf(corpus: Sequence[StoredPaper]) -> Tfidf:
    return fit_tfidf(corpus, SANITY_TFIDF)


def keywords_centroid(day: TestDay, readers: Readers) -> dict[str, Ranking]:
    """Cosine with the unit keyword vector plus the unit centroid of the liked papers."""
    fit = day.fitted(readme_tfidf)
    docs = fit.vectors(day.candidates)
    out = {}
    for profile, liked in readers:
        query = _unit(fit.text(", ".join(profile.keywords)).toarray())
        if liked:
            query = query + _unit(np.asarray(fit.vectors(liked).mean(axis=0)))
        out[profile.name] = _best_first(day, docs @ query if query.any() else None)
    return out


def _unit(row: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(row))
    return row.ravel() / norm if norm else row.ravel()


def arxiv_sanity(day: TestDay, readers: Readers) -> dict[str, Ranking]:
    """Per reader, its SVM's margins: the liked papers (positives) against the history."""
    fit = day.fitted(sanity_tfidf)
    docs = fit.vectors(day.candidates)
    out = {}
    for profile, liked in readers:
        taken = {p.id for p in liked}
        history = fit.vectors([p for p in day.history if p.id not in taken])
        positives = fit.vectors(liked)
        if not liked or history.shape[0] == 0 or fit.vectorizer is None:
            out[profile.name] = _best_first(day, None)
            continue
        x = sparse.vstack([history, positives]).tocsr()
        y = np.r_[np.zeros(history.shape[0]), np.ones(positives.shape[0])]
        svm = LinearSVC(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-6, random_state=0)
        out[profile.name] = _best_first(day, svm.fit(x, y).decision_function(docs))
    return out


def _best_first(day: TestDay, scores: np.ndarray | None) -> Ranking:
    """Candidates by score, ties (and no scores at all) in listing order."""
    order = range(len(day.candidates)) if scores is None else np.argsort(-scores, kind="stable")
    return Ranking([day.candidates[j].id for j in order])
