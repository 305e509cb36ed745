"""Ranking many readers: blocks, threads and the shortcuts taken for speed change no result."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from helpers import stored

import digest.rank as rank_package
from digest import rank
from digest.models import Profile
from digest.rank import query

TOPICS = {
    "graphs": "graph neural network message passing node edge molecule",
    "pruning": "pruning sparsity channel structured compression inference",
    "vision": "image segmentation detection convolutional backbone pixel",
    "speech": "speech audio recognition acoustic waveform speaker",
    "language": "language model reasoning token prompt instruction",
    "robots": "robot manipulation policy grasping control locomotion",
}
FILLER = [
    "study",
    "data",
    "task",
    "evaluation",
    "benchmark",
    "training",
    "analysis",
    "setting",
    "baseline",
]


def corpus(n: int, seed: int = 5) -> list:
    rng = random.Random(seed)
    papers = []
    for i in range(n):
        topic = sorted(TOPICS)[i % len(TOPICS)]
        words = TOPICS[topic].split()
        title = " ".join(rng.sample(words, 3))
        abstract = " ".join(rng.choice(words + FILLER) for _ in range(40))
        authors = (f"Ada {rng.choice('ABCDEFG')}ovelace", f"Y. {rng.choice(['Li', 'Chen'])}")
        upvotes = rng.choice([None, 0, 3, 40])
        papers.append(stored(f"p:{i:05d}", title, abstract, authors=authors, upvotes=upvotes))
    return papers


def readers(papers: list, n: int, seed: int = 9) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = sorted(TOPICS)[i % len(TOPICS)]
        liked = rng.sample(papers, rng.choice([0, 1, 3]))
        profile = Profile(
            name=f"r{i}",
            keywords=tuple(rng.sample(TOPICS[topic].split(), 2)),
            liked=tuple(p.id for p in liked),
            top_k=rng.choice([3, 10]),
            diversity=rng.choice([0.0, 0.2, 0.8]),
            popularity=rng.choice([0.0, 0.1, 0.6]),
            exclude=("segmentation",) if i % 4 == 0 else (),
            authors=("Ada Bovelace",) if i % 5 == 0 else (),
        )
        out.append((profile, liked))
    return out


@pytest.fixture(scope="module")
def world():
    papers = corpus(rank.PRF_MIN_CORPUS + 200)
    return rank.fit(papers), papers[-150:], readers(papers, 45)


def flat(ranked: dict) -> dict:
    return {
        name: [
            (s.paper.id, s.score, s.terms, s.closest, s.closeness, s.popularity, s.authors)
            for s in scored
        ]
        for name, scored in ranked.items()
    }


def test_blocks_and_threads_give_the_same_ranking_as_one_block(world, monkeypatch) -> None:
    model, day, many = world
    disliked = {"r3": [day[0]], "r4": [day[5], day[6]]}
    monkeypatch.setattr(rank_package, "READERS", 10_000)
    monkeypatch.setattr(rank_package, "WORKERS", 1)
    whole = flat(rank.rank_many(model, many, day, limit=12, disliked=disliked))
    monkeypatch.setattr(rank_package, "READERS", 7)
    monkeypatch.setattr(rank_package, "WORKERS", 2)
    blocks = flat(rank.rank_many(model, many, day, limit=12, disliked=disliked))
    assert blocks == whole
    assert sum(len(v) for v in whole.values()) > 100  # the readers do get papers
    assert any(s[3] is not None for v in whole.values() for s in v)  # closest liked papers
    assert any(s[6] for v in whole.values() for s in v)  # followed authors


def test_a_limit_keeps_the_head_of_the_full_ranking(world) -> None:
    model, day, many = world
    full = rank.rank_many(model, many, day)
    cut = rank.rank_many(model, many, day, limit=5)
    for name, scored in cut.items():
        assert scored == full[name][:5]
        assert len(scored) == min(5, len(full[name]))


def test_the_split_corpus_product_scores_like_the_sparse_one(world) -> None:
    model, _, many = world
    q = rank.queries(model, many, expand=False)
    corpus = query.Corpus(model)
    split = corpus.scores(q)
    exact = query.relevance(q, model.matrix, corpus.latent)
    assert split.shape == exact.shape
    np.testing.assert_allclose(split, exact, atol=1e-5)
    assert (exact > 0).sum() > exact.size / 10  # a real test: most scores are not zero


def test_best_columns_are_the_k_best_positive_ties_by_column() -> None:
    rng = np.random.default_rng(0)
    for trial in range(300):
        n_rows, n = int(rng.integers(1, 12)), int(rng.integers(1, 900))
        scores = rng.random((n_rows, n)) - rng.random() * 0.6
        if trial % 3 == 0:
            scores = np.round(scores, 1)  # many ties
        k = int(rng.integers(1, 15))
        got = query.best_columns(scores, k, segment=int(rng.integers(1, 70)))
        for i in range(n_rows):
            order = np.lexsort((np.arange(n), -scores[i]))
            assert got[i] == [int(j) for j in order if scores[i, j] > 0][:k], trial


def test_a_reader_with_no_interests_in_a_block_gets_nothing(world) -> None:
    model, day, many = world
    empty = (replace(many[0][0], name="empty", keywords=(), liked=(), authors=()), [])
    ranked = rank.rank_many(model, [*many[:5], empty], day, limit=10)
    assert ranked["empty"] == []
    assert all(ranked[p.name] for p, _ in many[:5])
