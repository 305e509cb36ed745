"""Ranking: TF-IDF over the stored corpus, a query vector per reader, cosine scores, reasons.

Pure: no I/O, no clock. The pipeline fits one Model per build and hands it to every reader, so
ranking many readers never refits.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from digest import learn
from digest.models import Profile, Scored, StoredPaper, Term

MODEL_VERSION = 2  # bump when the analyser or fit changes: cached models are then refitted
MAX_TERMS = 5
KEYWORD_WEIGHT = 0.7  # keywords' share of a query beside liked papers (measured by `digest eval`)
PRF_MIN_CORPUS = 1000  # pseudo-relevance feedback from this many papers on
PRF_DOCS = 10  # ... from the centroid of each query's best hits
PRF_WEIGHT = 0.5  # ... at this weight
PRF_CHUNK = 256  # readers scored against the corpus at a time
EXPLAIN_CHUNK = 512  # readers explained at a time
DISLIKE_WEIGHT = 0.5  # how far disliked papers push a reader's query away (Rocchio's gamma)
MIN_DF_CORPUS = 1000  # from this many papers on, terms must appear in two of them
AUTHOR_BOOST = 0.5  # a followed author's paper gains this share of the reader's best match
CLOSEST_MIN = 0.1  # a liked paper is named as the closest from this cosine similarity on
MMR_POOL = 30  # diversity reorders at least this many of each reader's best papers

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
    *,
    expand: bool = True,
) -> sparse.csr_matrix:
    """Each reader's interests as one unit row: weighted keywords (0.7) and the centroid of liked
    papers (0.3), moved toward its best corpus hits (pseudo-relevance feedback), minus a share of
    what the reader disliked (Rocchio), negative weights cut to zero.

    Built for all readers at once: every distinct keyword and paper is vectorised once.
    """
    keywords = sorted({k for profile, _ in readers for k in profile.keywords})
    kw_rows = {k: i for i, k in enumerate(keywords)}
    pick_kw = _selector(
        [[kw_rows[k] for k in p.keywords] for p, _ in readers],
        len(keywords),
        [[p.weight(i) for i in range(len(p.keywords))] for p, _ in readers],
    )
    by_keywords = normalize(pick_kw @ model.vectors(keywords))
    by_liked = _centroids(model, [papers for _, papers in readers])
    q = normalize(KEYWORD_WEIGHT * by_keywords + (1 - KEYWORD_WEIGHT) * by_liked)
    q = _expand(model, q) if expand else sparse.csr_matrix(q)
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
    k = min(PRF_DOCS, model.matrix.shape[0])
    for start in range(0, q.shape[0], PRF_CHUNK):  # bounds the dense score block's memory
        scores = (q[start : start + PRF_CHUNK] @ model.matrix.T).toarray()
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        hit = np.take_along_axis(scores, top, axis=1) > 0
        rows += [t[h].tolist() for t, h in zip(top, hit, strict=True)]
    hits = normalize(_selector(rows, model.matrix.shape[0]) @ model.matrix)
    return sparse.csr_matrix(normalize(q + PRF_WEIGHT * hits))


def _centroids(model: Model, groups: Sequence[Sequence[StoredPaper]]) -> sparse.csr_matrix:
    """One unit row per group of papers: the direction of their mean."""
    papers = list({p.id: p for group in groups for p in group}.values())
    rows = {p.id: i for i, p in enumerate(papers)}
    pick = _selector([[rows[p.id] for p in group] for group in groups], len(papers))
    return sparse.csr_matrix(normalize(pick @ model.paper_vectors(papers)))


def _selector(
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
    linear: bool = True,
) -> dict[str, list[Scored]]:
    """Rank the same papers for many readers with one matrix product.

    Readers with enough liked papers get a linear model instead (see learn.py), unless `linear`
    is False.

    A paper's relevance is the cosine similarity of the reader's query and the paper; a followed
    author's paper gains AUTHOR_BOOST of the reader's best relevance of the day; its score blends
    that with the paper's popularity on the day, at the reader's `popularity` weight. Papers that
    match nothing, mention an excluded term, or that the reader liked or disliked already are left
    out. The best are then reordered for diversity (MMR) at the reader's `diversity`. `limit`
    keeps only each reader's best `limit` (only those are explained).
    """
    if not readers:
        return {}
    docs = model.paper_vectors(papers)
    q = queries(model, readers, disliked)
    relevance = (q @ docs.T).toarray() if papers else np.zeros((len(readers), 0))
    day = _Day(papers, docs)
    learned: dict[int, sparse.csr_matrix] = {}
    picks: list[tuple[_Pick, list[int]]] = []
    for i, (profile, liked) in enumerate(readers):
        against = (disliked or {}).get(profile.name, ())
        if linear and learn.learns(liked) and papers:
            found = learn.margins(
                model.matrix,
                queries(model, [(profile, liked)], expand=False),
                model.paper_vectors(liked),
                model.paper_vectors(against) if against else None,
                docs,
            )
            if found is not None:
                best = float(relevance[i].max(initial=0.0))
                relevance[i] = learn.as_relevance(found[0], best)
                learned[i] = found[1]
        judged = {p.id for p in [*liked, *against]}
        pick = _Pick(profile, relevance[i], day, judged)
        pool = max(limit or 0, MMR_POOL, 3 * profile.top_k)
        keep = diversify(pick.order(), pick.score, day, profile.diversity, pool)[:limit]
        picks.append((pick, keep))
    why = _why(q, learned)
    liked_rows = _LikedRows(model, [liked for _, liked in readers])
    ranked: dict[str, list[Scored]] = {}
    for start in range(0, len(readers), EXPLAIN_CHUNK):
        chunk = range(start, min(start + EXPLAIN_CHUNK, len(readers)))
        keeps = [picks[i][1] for i in chunk]
        doc_rows = np.array([j for keep in keeps for j in keep], dtype=np.int64)
        reader_rows = np.repeat(np.array(chunk, dtype=np.int64), [len(k) for k in keeps])
        reasons = explain(model, docs[doc_rows].multiply(why[reader_rows])) if len(doc_rows) else []
        closest = liked_rows.closest(docs, doc_rows, reader_rows)
        at = 0
        for i, keep in zip(chunk, keeps, strict=True):
            pick, name = picks[i][0], readers[i][0].name
            ranked[name] = [
                Scored(
                    papers[j],
                    round(float(pick.score[j]), 6),
                    reasons[at + n],
                    closest=near[0] if (near := closest[at + n]) else None,
                    closeness=near[1] if near else 0.0,
                    popularity=round(float(pick.share[j]), 4),
                    authors=pick.followed.get(j, ()),
                )
                for n, j in enumerate(keep)
            ]
            at += len(keep)
    return ranked


def _why(q: sparse.csr_matrix, learned: Mapping[int, sparse.csr_matrix]) -> sparse.csr_matrix:
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


class _Day:
    """What every reader's ranking of one day's papers shares, each part worked out on first use."""

    def __init__(self, papers: Sequence[StoredPaper], docs: sparse.csr_matrix) -> None:
        self.papers, self.docs = papers, docs
        ids = np.array([p.id for p in papers], dtype=object)
        # rank of each paper's id: the stable tie-break between equal scores
        self.tiebreak = np.argsort(np.argsort(ids, kind="stable"), kind="stable")

    @cached_property
    def popularity(self) -> np.ndarray:
        """Upvotes on a log scale, 1.0 for the day's most upvoted paper; all 0 without upvotes."""
        votes = np.log1p(np.array([max(p.upvotes or 0, 0) for p in self.papers], dtype=float))
        top = votes.max(initial=0.0)
        return votes / top if top > 0 else votes

    @cached_property
    def words(self) -> list[str]:
        """Each paper's title and abstract as folded words between spaces, for phrase matching."""
        return [f" {_plain(p.text)} " for p in self.papers]

    @cached_property
    def authors(self) -> list[list[tuple[str | None, str]]]:
        return [[k for name in p.authors if (k := _name_key(name))] for p in self.papers]

    @cached_property
    def _similarity(self) -> np.ndarray | None:
        if len(self.papers) > SIMILARITY_ALL:
            return None
        return np.asarray((self.docs @ self.docs.T).toarray(), dtype=np.float32)

    def similarity(self, rows: Sequence[int]) -> np.ndarray:
        """Cosine similarities between the given papers."""
        if self._similarity is not None:
            return self._similarity[np.ix_(rows, rows)]
        block = self.docs[list(rows)]
        return np.asarray((block @ block.T).toarray(), dtype=np.float32)


SIMILARITY_ALL = 4000  # up to this many papers a day, similarities are computed once for all


class _Pick:
    """One reader's scores for one day: relevance, author boost, popularity, what is left out."""

    def __init__(
        self, profile: Profile, relevance: np.ndarray, day: _Day, judged: set[str]
    ) -> None:
        self.day = day
        best = float(relevance.max(initial=0.0))
        base = best if best > 0 else 1.0  # the scale boosts and popularity are measured on
        self.followed: dict[int, tuple[str, ...]] = _followed(profile.authors, day)
        boosted = relevance.copy()
        for j in self.followed:
            boosted[j] += AUTHOR_BOOST * base
        weight = profile.popularity if day.popularity.any() else 0.0
        bonus = weight * base * day.popularity
        self.score = (1 - weight) * boosted + bonus
        with np.errstate(divide="ignore", invalid="ignore"):
            self.share = np.where(self.score > 0, bonus / self.score, 0.0)
        eligible = (relevance > 0) | (boosted > relevance)
        eligible &= self.score > 0
        if profile.exclude:
            eligible &= ~_mentions(profile.exclude, day.words)
        if judged:
            eligible &= np.array([p.id not in judged for p in day.papers], dtype=bool)
        self.eligible = eligible

    def order(self) -> list[int]:
        """Eligible papers, best score first, ties by paper id."""
        found = np.flatnonzero(self.eligible)
        order = np.lexsort((self.day.tiebreak[found], -self.score[found]))
        return [int(j) for j in found[order]]


def diversify(
    order: list[int], score: np.ndarray, day: _Day, diversity: float, pool: int
) -> list[int]:
    """Maximal marginal relevance over the first `pool` of `order`: each next paper maximises
    (1 - diversity) * its score (relative to the best) - diversity * its similarity to the
    closest paper already picked. The rest keep their order after them."""
    if diversity <= 0 or len(order) < 3:
        return order
    head, tail = order[:pool], order[pool:]
    sims = day.similarity(head)
    gain = (1 - diversity) * score[head] / max(float(score[head[0]]), 1e-12)
    nearest = np.zeros(len(head))
    free = np.ones(len(head), dtype=bool)
    picked = []
    for _ in range(len(head)):
        value = np.where(free, gain - diversity * nearest, -np.inf)
        k = int(np.argmax(value))  # the first of equals: the earlier in `order`
        picked.append(head[k])
        free[k] = False
        nearest = np.maximum(nearest, sims[k])
    return picked + tail


class _LikedRows:
    """The vectors of every reader's liked papers, found once for all readers."""

    def __init__(self, model: Model, groups: Sequence[Sequence[StoredPaper]]) -> None:
        papers = list({p.id: p for group in groups for p in group}.values())
        at = {p.id: i for i, p in enumerate(papers)}
        self.papers = papers
        self.groups = [np.array([at[p.id] for p in group], dtype=np.int64) for group in groups]
        self.vectors = model.paper_vectors(papers) if papers else None

    def closest(
        self, docs: sparse.csr_matrix, doc_rows: np.ndarray, reader_rows: np.ndarray
    ) -> list[tuple[StoredPaper, float] | None]:
        """For each (doc, reader) pair, the reader's liked paper most like the doc, when their
        cosine similarity is at least CLOSEST_MIN. One sparse product for all pairs."""
        out: list[tuple[StoredPaper, float] | None] = [None] * len(doc_rows)
        if self.vectors is None or not len(doc_rows):
            return out
        sizes = np.array([len(self.groups[r]) for r in reader_rows], dtype=np.int64)
        pairs = np.flatnonzero(sizes)
        if not len(pairs):
            return out
        pair_of = np.repeat(pairs, sizes[pairs])
        liked = np.concatenate([self.groups[r] for r in reader_rows[pairs]])
        sims = np.asarray(docs[doc_rows[pair_of]].multiply(self.vectors[liked]).sum(axis=1)).ravel()
        starts = np.concatenate([[0], np.cumsum(sizes[pairs])[:-1]])
        for row, lo in zip(pairs.tolist(), starts.tolist(), strict=True):
            block = sims[lo : lo + sizes[row]]
            b = int(block.argmax())
            if block[b] >= CLOSEST_MIN:
                out[row] = (self.papers[liked[lo + b]], round(float(block[b]), 4))
        return out


def _plain(text: str) -> str:
    """Lower-case folded words joined by single spaces, stop words kept."""
    return " ".join(fold(m.group(0).lower()) for m in _TOKEN.finditer(text))


def _mentions(phrases: Sequence[str], words: Sequence[str]) -> np.ndarray:
    """Which texts (from `_Day.words`) contain any of the phrases as whole words."""
    wanted = [f" {w} " for w in (_plain(p) for p in phrases) if w]
    return np.array([any(w in text for w in wanted) for text in words], dtype=bool)


def _name_key(name: str) -> tuple[str | None, str] | None:
    """(first and last name, first initial and last name) of an author, accents and case
    ignored; the first is None when the name gives only an initial (`Y. LeCun`)."""
    plain = unicodedata.normalize("NFKD", name)
    parts = re.findall(r"[^\W\d_]+", "".join(c for c in plain if not unicodedata.combining(c)))
    if not parts:
        return None
    first, last = parts[0].casefold(), parts[-1].casefold()
    if len(parts) == 1:
        return last, last
    return (None if len(first) == 1 else f"{first} {last}"), f"{first[0]} {last}"


def _same_author(a: tuple[str | None, str], b: tuple[str | None, str]) -> bool:
    """Full names must agree; an initial agrees with any first name that starts with it."""
    if a[0] is not None and b[0] is not None:
        return a[0] == b[0]
    return a[1] == b[1]


def _followed(authors: Sequence[str], day: _Day) -> dict[int, tuple[str, ...]]:
    """Papers by followed authors: index -> the followed names found among its authors."""
    keys = [(name, key) for name in authors if (key := _name_key(name)) is not None]
    found: dict[int, tuple[str, ...]] = {}
    for j, paper_keys in enumerate(day.authors if keys else ()):
        names = tuple(n for n, k in keys if any(_same_author(k, other) for other in paper_keys))
        if names:
            found[j] = names
    return found


def explain(model: Model, contrib: sparse.csr_matrix) -> list[tuple[Term, ...]]:
    """For each row of per-term contributions, the terms that contributed most, with their share.

    One sort for all rows: by row, then contribution (largest first), then term index.
    """
    contrib = sparse.csr_matrix(contrib)
    contrib.data[contrib.data < 0] = 0  # a learned model's negative weights explain nothing
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
