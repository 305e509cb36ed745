"""The TF-IDF model: how text becomes terms, and the fit over a corpus."""

from __future__ import annotations

import gc
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from digest.models import StoredPaper

MODEL_VERSION = 5  # bump when the analyser or fit changes: cached models are then refitted
MIN_DF_CORPUS = 1000  # from this many papers on, terms must appear in two of them
LATENT_DIMS = 100  # dimensions of the latent semantic space (at most a third of the papers)
LATENT_MIN_CORPUS = 60  # below this many papers there is no latent space to speak of

_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
# Words every abstract uses; they say nothing about what a paper is about.
_BOILERPLATE = frozenset(
    """paper propose proposed proposes present presents introduce introduces method methods
    approach approaches result results show shows demonstrate demonstrates novel existing
    based using use used achieve achieves new work state art extensive experiments experiment
    performance significantly outperform outperforms""".split()  # noqa: SIM905
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | _BOILERPLATE

Grams = tuple[tuple[str, ...], tuple[str, ...]]


def fold(word: str) -> str:
    """A light plural folding, so `networks` and `network` are one term; keeps words short of 4."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        return word[:-1]
    return word


def plain(text: str) -> str:
    """Lower-case folded words joined by single spaces, stop words kept."""
    return " ".join(fold(m.group(0).lower()) for m in _TOKEN.finditer(text))


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


@lru_cache(maxsize=1 << 16)
def _grams(text: str) -> Grams:
    """The terms of a text and their surface forms: unigrams, plus bigrams of adjacent words with
    no stop word between them. Cached, as corpus windows overlap from day to day; the strings are
    interned, so the cache holds each distinct term once rather than once per paper."""
    words = _words(text)
    grams = [w for w in words if w[0]]
    grams += [(f"{a} {b}", f"{sa} {sb}") for (a, sa), (b, sb) in pairwise(words) if a and b]
    intern = sys.intern
    return tuple(intern(t) for t, _ in grams), tuple(intern(s) for _, s in grams)


def analyse(text: str | Sequence[str]) -> Sequence[str]:
    """The terms of a text, as the model sees them (a sequence is taken as terms already found)."""
    if isinstance(text, str):
        return _grams(text)[0]
    return text


@dataclass(frozen=True, slots=True)
class Latent:
    """A latent semantic space of the corpus (a truncated SVD of its TF-IDF matrix): texts that
    share no word but are written about the same things land close together, so "grasp
    planning" meets a reader who typed "robot manipulation"."""

    basis: np.ndarray  # terms x dimensions, float32, row-major: a sparse product reads it by rows

    def project(self, rows: sparse.csr_matrix) -> np.ndarray:
        """Unit rows in the latent space for TF-IDF rows (all-zero rows stay zero)."""
        return np.asarray(normalize(sparse.csr_matrix(rows, dtype=np.float32) @ self.basis))


@dataclass(frozen=True, slots=True)
class Model:
    """A fitted TF-IDF model over a corpus, with a readable form for each term."""

    vectorizer: TfidfVectorizer | None
    terms: tuple[str, ...]
    display: dict[str, str]
    index: dict[str, int]
    matrix: sparse.csr_matrix
    latent: Latent | None = None
    # rows of papers outside the corpus (a reader's library, old likes), made once per ranking
    # by `knowing` rather than at each use; never part of the corpus itself
    outside: dict[str, int] = field(default_factory=dict)
    outside_rows: sparse.csr_matrix | None = None

    @property
    def width(self) -> int:
        return max(len(self.terms), 1)

    def name(self, term: int) -> str:
        """The readable form of term number `term`."""
        t = self.terms[term]
        return self.display.get(t, t)

    def index_of(self, text: str) -> int | None:
        """The number of the term a short text is as a whole (`Neural Networks` ->
        `neural network`: one word, or two with no stop word), if the model knows it."""
        words = [term for term, _ in _words(text)]
        if self.vectorizer is None or not 1 <= len(words) <= 2 or not all(words):
            return None
        found = self.vectorizer.vocabulary_.get(" ".join(words))
        return None if found is None else int(found)

    def names(self, terms: np.ndarray) -> list[str]:
        """The readable forms of an array of term numbers."""
        return [self.name(t) for t in terms.tolist()]

    def vectors(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """L2-normalised TF-IDF rows for texts; all-zero rows when nothing is known."""
        if self.vectorizer is None or not texts:
            return sparse.csr_matrix((len(texts), self.width))
        return sparse.csr_matrix(self.vectorizer.transform(list(texts)))

    def paper_vectors(self, papers: Sequence[StoredPaper]) -> sparse.csr_matrix:
        """Rows for papers: from the fitted matrix (or the rows `knowing` made) when known,
        else transformed now."""
        rows = [self.index.get(p.id) for p in papers]
        if papers and all(r is not None for r in rows):
            return sparse.csr_matrix(self.matrix[rows])
        known = self.outside
        if (
            not papers
            or self.outside_rows is None
            or any(r is None and p.id not in known for r, p in zip(rows, papers, strict=True))
        ):
            return self.vectors([p.text for p in papers])
        inside = [i for i, r in enumerate(rows) if r is not None]
        beyond = [i for i, r in enumerate(rows) if r is None]
        block = sparse.vstack(
            [
                self.matrix[[rows[i] for i in inside]],
                self.outside_rows[[known[papers[i].id] for i in beyond]],
            ],
            format="csr",
        )
        order = np.empty(len(papers), dtype=np.int64)
        order[inside + beyond] = np.arange(len(papers))
        return sparse.csr_matrix(block[order])

    def knowing(self, papers: Iterable[StoredPaper]) -> Model:
        """The model with the rows of `papers` outside its corpus made once, here: each later
        use of them (a reader's query, their linear model, the closest liked paper) reads
        them instead of transforming their texts again. The corpus is unchanged."""
        new = {p.id: p for p in papers if p.id not in self.index and p.id not in self.outside}
        if not new:
            return self
        rows = self.vectors([p.text for p in new.values()])
        at = len(self.outside)
        outside = {**self.outside, **{pid: at + i for i, pid in enumerate(new)}}
        stacked = rows if self.outside_rows is None else sparse.vstack([self.outside_rows, rows])
        return replace(self, outside=outside, outside_rows=sparse.csr_matrix(stacked))


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Fitting and ranking make millions of small objects and no reference cycles; the cycle
    collector would scan the whole heap again and again as they are made (a third of the time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def fit(corpus: Sequence[StoredPaper], *, latent: bool = True) -> Model:
    """Fit TF-IDF on titles and abstracts. Works on any corpus size, down to none at all.
    `latent`: with the latent space (most of the fit's time; ranking needs it, `assorted` not)."""
    with no_cycle_collection():
        return _fit(corpus, latent)


def _fit(corpus: Sequence[StoredPaper], latent: bool = True) -> Model:
    grams = [_grams(p.text) for p in corpus]
    index = {p.id: i for i, p in enumerate(corpus)}
    # a term seen in one paper only says nothing about the others, once there are enough papers
    min_df = 2 if len(corpus) >= MIN_DF_CORPUS else 1
    vectorizer = TfidfVectorizer(
        analyzer=analyse, sublinear_tf=True, min_df=min_df, dtype=np.float64
    )
    try:
        matrix = vectorizer.fit_transform([terms for terms, _ in grams])
    except ValueError:  # empty corpus, or nothing but stop words
        return Model(None, (), {}, index, sparse.csr_matrix((len(corpus), 1)))
    terms = tuple(str(t) for t in vectorizer.get_feature_names_out())
    matrix = sparse.csr_matrix(matrix)
    space = _latent(matrix) if latent else None
    return Model(vectorizer, terms, _display_forms(grams), index, matrix, latent=space)


def _latent(matrix: sparse.csr_matrix) -> Latent | None:
    """The corpus's latent space: LATENT_DIMS dimensions, fewer on a small corpus, none on a
    tiny one. Deterministic (a fixed seed)."""
    n, width = matrix.shape
    dims = min(LATENT_DIMS, n // 3, width - 1)
    if n < LATENT_MIN_CORPUS or dims < 2:
        return None
    svd = TruncatedSVD(dims, algorithm="randomized", n_iter=5, random_state=0)
    svd.fit(matrix.astype(np.float32))  # half the memory; the basis is kept in float32 anyway
    return Latent(np.ascontiguousarray(svd.components_.T, dtype=np.float32))


def _display_forms(grams: Iterable[Grams]) -> dict[str, str]:
    """The most common surface form of each folded term (`network` -> `networks`)."""
    counts: Counter[tuple[str, str]] = Counter()
    for terms, surfaces in grams:
        counts.update(zip(terms, surfaces, strict=True))
    display: dict[str, str] = {}
    for (term, surface), _ in counts.most_common():
        display.setdefault(term, surface)
    return display
