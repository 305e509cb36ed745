"""Ranking: TF-IDF over the stored corpus, a query vector per reader, cosine scores, reasons.

Pure: no I/O, no clock. The build fits one Model per build and hands it to every reader, so
ranking many readers never refits. Readers are ranked in blocks of READERS, each through the
same steps (query, relevance, choice, reasons), so memory stays flat however many there are;
WORKERS blocks at a time, in threads, with the same result as one at a time.

    model.py    text to terms, and the TF-IDF fit
    query.py    each reader's query vector: keywords, liked papers, feedback, dislikes
    pick.py     relevance to chosen papers: authors, popularity, exclusions, order, diversity
    explain.py  the terms behind each score, and the closest liked paper

`assorted` picks, from the same vectors and the same MMR, papers unlike one another: what a new
reader is offered to choose from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from digest import learn
from digest.models import Profile, Scored, StoredPaper, Term
from digest.rank import floor, pick, query
from digest.rank.explain import LikedRows, phrases, reasons, top_terms
from digest.rank.model import MODEL_VERSION, Model, analyse, fit, fold, no_cycle_collection
from digest.rank.pick import Day, choose
from digest.rank.query import (
    PRF_MIN_CORPUS,
    Corpus,
    Reader,
    centroids,
    learned_or_query,
    queries,
)

__all__ = [
    "MODEL_VERSION",
    "PRF_MIN_CORPUS",
    "Model",
    "Reader",
    "analyse",
    "assorted",
    "fit",
    "fold",
    "profile_terms",
    "queries",
    "rank",
    "rank_many",
]

READERS = 512  # readers ranked together: bounds the dense readers x papers blocks
# blocks ranked at once: numpy, scipy and BLAS release the GIL for most of a block's work
WORKERS = min(2, os.cpu_count() or 1)


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
    """Rank the same papers for many readers with one matrix product per block of readers.

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
    with no_cycle_collection():
        return _rank_many(model, readers, papers, limit, disliked or {}, linear)


def _rank_many(
    model: Model,
    readers: Sequence[Reader],
    papers: Sequence[StoredPaper],
    limit: int | None,
    disliked: Mapping[str, Sequence[StoredPaper]],
    linear: bool,
) -> dict[str, list[Scored]]:
    docs = model.paper_vectors(papers)
    docs.sort_indices()
    # liked and disliked papers outside the corpus (a library's) vectorised once for all uses
    model = model.knowing(
        [p for _, liked in readers for p in liked] + [p for d in disliked.values() for p in d]
    )
    day = Day(papers, docs, model.latent.project(docs) if model.latent is not None else None)
    corpus = Corpus(model)
    blocks = [readers[start : start + READERS] for start in range(0, len(readers), READERS)]

    def one(block: Sequence[Reader]) -> dict[str, list[Scored]]:
        return _rank_block(model, block, day, limit, disliked, linear, corpus)

    ranked: dict[str, list[Scored]] = {}
    if len(blocks) == 1 or WORKERS == 1:
        for block in blocks:
            ranked.update(one(block))
        return ranked
    # blocks are independent: the result is the same. BLAS gets one thread per worker, as two
    # workers on two cores with two BLAS threads each only wait on one another.
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(WORKERS) as pool:
        for found in pool.map(one, blocks):
            ranked.update(found)
    return ranked


def _rank_block(
    model: Model,
    readers: Sequence[Reader],
    day: Day,
    limit: int | None,
    disliked: Mapping[str, Sequence[StoredPaper]],
    linear: bool,
    corpus: Corpus,
) -> dict[str, list[Scored]]:
    docs, papers = day.docs, day.papers
    q = queries(model, readers, disliked, corpus=corpus)
    relevance = query.relevance(q, docs, day.latent) if papers else np.zeros((len(readers), 0))
    # where each score stands among the reader's scores over the corpus: the floors' scale
    usual = corpus.usual(q)
    standing = floor.standing(relevance, usual)
    learned: dict[int, sparse.csr_matrix] = {}
    judged: list[set[str]] = []
    for i, (profile, liked) in enumerate(readers):
        against = disliked.get(profile.name, ())
        judged.append({p.id for p in [*liked, *against]})
        if linear and learn.learns(liked) and papers:
            found = learn.fit(
                corpus.features,
                corpus.scores(queries(model, [(profile, liked)], expand=False))[0],
                query.features(model, model.paper_vectors(liked)),
                query.features(model, model.paper_vectors(against)) if against else None,
                day.ages(liked) if learn.HALF_LIFE else None,  # no fading: no ages needed
            )
            if found is not None:
                margins = found.margins(day.features)
                best = float(relevance[i].max(initial=0.0))
                keep = learn.QUERY_SHARE  # what the query (keywords too) still says beside it
                learned_relevance = learn.as_relevance(margins, best)
                relevance[i] = keep * relevance[i] + (1 - keep) * learned_relevance
                usual_margins = found.margins(corpus.features[corpus.sample])[None, :]
                by_margin = floor.standing(margins[None, :], usual_margins)[0]
                standing[i] = keep * standing[i] + (1 - keep) * by_margin
                learned[i] = found.weights[:, : model.width]
    typed_in = _typed_in([p for p, _ in readers], day)
    honest = typed_in.copy()
    for i, (_, liked) in enumerate(readers):
        if liked or i in learned:  # terms learned from liked papers explain any paper
            honest[i] = True
    standing = floor.standing_with(standing, typed_in)
    matched = floor.matches(standing, honest)
    picks = choose([p for p, _ in readers], relevance, day, judged, limit, matched)
    reader_rows = np.repeat(np.arange(len(readers)), [len(k) for k in picks.keep])
    doc_rows = np.array([j for keep in picks.keep for j in keep], dtype=np.int64)
    profiles = [p for p, _ in readers]
    typed = phrases(profiles, q.phrase_factor, model, day, reader_rows, doc_rows)
    why = reasons(model, learned_or_query(q.liked, learned), docs, reader_rows, doc_rows, typed)
    closest = LikedRows(model, [liked for _, liked in readers]).closest(docs, reader_rows, doc_rows)
    stands = standing[reader_rows, doc_rows].tolist()
    scores = np.round(picks.score[reader_rows, doc_rows], 6).tolist()
    shares = np.round(picks.share[reader_rows, doc_rows], 4).tolist()
    made = [
        Scored(
            papers[j],
            scores[at],
            why[at],
            closest=near[0] if (near := closest[at]) else None,
            closeness=near[1] if near else 0.0,
            popularity=shares[at],
            authors=picks.followed[i].get(j, ()),
            loose=not picks.matched[i, j],
            far=not picks.matched[i, j] and stands[at] < floor.NEAR,
            standing=round(min(stands[at], 1e6), 4),
        )
        for at, (i, j) in enumerate(zip(reader_rows.tolist(), doc_rows.tolist(), strict=True))
    ]
    bounds = np.cumsum([0, *map(len, picks.keep)]).tolist()
    return {
        reader[0].name: made[lo:hi]
        for reader, (lo, hi) in zip(readers, pairwise(bounds), strict=True)
    }


def _typed_in(profiles: Sequence[Profile], day: Day) -> np.ndarray:
    """Which papers hold one of the reader's keyword phrases whole (readers x papers). Only
    such a paper can be explained by what the reader typed: one that shares a word split off a
    phrase ("view" of "novel view synthesis") is no match."""
    if not day.papers:
        return np.zeros((len(profiles), 0), dtype=bool)
    none = np.zeros(len(day.papers), dtype=bool)
    # one scan of the day's texts per distinct phrase, however many readers typed it
    return np.stack(
        [np.logical_or.reduce([none, *(day.mentions((k,)) for k in p.keywords)]) for p in profiles]
    )


ASSORTED_DIVERSITY = 0.8  # how far likeness outweighs popularity among the papers `assorted` offers


def assorted(papers: Sequence[StoredPaper], count: int) -> list[StoredPaper]:
    """`count` of `papers` as different from one another as can be, the most upvoted first: what
    a new reader is offered to say what interests them (the cold start). TF-IDF fitted on the
    papers themselves, then MMR over their vectors (pick.assorted)."""
    if not papers or count <= 0:
        return []
    with no_cycle_collection():
        model = fit(papers, latent=False)  # likeness here is of TF-IDF vectors alone
        docs = model.paper_vectors(papers)
        rows = pick.assorted(docs, Day(papers, docs), count, ASSORTED_DIVERSITY)
    return [papers[j] for j in rows]


def profile_terms(
    model: Model,
    reader: Reader,
    disliked: Sequence[StoredPaper] = (),
    n: int = 10,
) -> tuple[list[Term], list[Term]]:
    """What a profile has learned: its query's strongest terms, and the disliked papers'."""
    profile = reader[0]
    q = queries(model, [reader], {profile.name: disliked} if disliked else None)
    against = centroids(model, [disliked]) if disliked else sparse.csr_matrix(q.terms.shape)
    return top_terms(model, q.terms, n), top_terms(model, against, n)
