"""Ranking: TF-IDF over the stored corpus, a query vector per reader, cosine scores, reasons.

Pure: no I/O, no clock. The pipeline fits one Model per build and hands it to every reader, so
ranking many readers never refits. Readers are ranked in blocks of READERS, each through the
same steps (query, relevance, choice, reasons), so memory stays flat however many there are.

    model.py    text to terms, and the TF-IDF fit
    query.py    each reader's query vector: keywords, liked papers, feedback, dislikes
    pick.py     relevance to chosen papers: authors, popularity, exclusions, order, diversity
    explain.py  the terms behind each score, and the closest liked paper
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

from digest import learn
from digest.models import Profile, Scored, StoredPaper, Term
from digest.rank.explain import LikedRows, reasons, top_terms
from digest.rank.model import MODEL_VERSION, Model, analyse, fit, fold
from digest.rank.pick import Day, choose
from digest.rank.query import (
    PRF_MIN_CORPUS,
    Reader,
    centroids,
    learned_or_query,
    queries,
    transposed,
)

__all__ = [
    "MODEL_VERSION",
    "PRF_MIN_CORPUS",
    "Model",
    "Reader",
    "analyse",
    "fit",
    "fold",
    "profile_terms",
    "queries",
    "rank",
    "rank_many",
]

READERS = 1024  # readers ranked together: bounds the dense readers x papers blocks


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
    docs = model.paper_vectors(papers)
    day = Day(papers, docs)
    corpus_t = transposed(model)
    ranked: dict[str, list[Scored]] = {}
    for start in range(0, len(readers), READERS):
        block = readers[start : start + READERS]
        ranked.update(_rank_block(model, block, day, limit, disliked or {}, linear, corpus_t))
    return ranked


def _rank_block(
    model: Model,
    readers: Sequence[Reader],
    day: Day,
    limit: int | None,
    disliked: Mapping[str, Sequence[StoredPaper]],
    linear: bool,
    corpus_t: sparse.csr_matrix,
) -> dict[str, list[Scored]]:
    docs, papers = day.docs, day.papers
    q = queries(model, readers, disliked, corpus_t=corpus_t)
    relevance = (q @ docs.T).toarray() if papers else np.zeros((len(readers), 0))
    learned: dict[int, sparse.csr_matrix] = {}
    judged: list[set[str]] = []
    for i, (profile, liked) in enumerate(readers):
        against = disliked.get(profile.name, ())
        judged.append({p.id for p in [*liked, *against]})
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
    picks = choose([p for p, _ in readers], relevance, day, judged, limit)
    reader_rows = np.repeat(np.arange(len(readers)), [len(k) for k in picks.keep])
    doc_rows = np.array([j for keep in picks.keep for j in keep], dtype=np.int64)
    why = reasons(model, learned_or_query(q, learned), docs, reader_rows, doc_rows)
    closest = LikedRows(model, [liked for _, liked in readers]).closest(docs, reader_rows, doc_rows)
    ranked: dict[str, list[Scored]] = {}
    at = 0
    for i, keep in enumerate(picks.keep):
        score, share, followed = picks.score[i], picks.share[i], picks.followed[i]
        out = []
        for j in keep:
            near = closest[at]
            out.append(
                Scored(
                    papers[j],
                    round(float(score[j]), 6),
                    why[at],
                    closest=near[0] if near else None,
                    closeness=near[1] if near else 0.0,
                    popularity=round(float(share[j]), 4),
                    authors=followed.get(j, ()),
                )
            )
            at += 1
        ranked[readers[i][0].name] = out
    return ranked


def profile_terms(
    model: Model,
    reader: Reader,
    disliked: Sequence[StoredPaper] = (),
    n: int = 10,
) -> tuple[list[Term], list[Term]]:
    """What a profile has learned: its query's strongest terms, and the disliked papers'."""
    profile = reader[0]
    q = queries(model, [reader], {profile.name: disliked} if disliked else None)
    against = centroids(model, [disliked]) if disliked else sparse.csr_matrix(q.shape)
    return top_terms(model, q, n), top_terms(model, against, n)
