"""The shipped ranker and its variants, as the protocol calls them.

A ranker takes a test day and the readers (one profile and its liked papers per interest) and
returns each reader's `Ranking`: paper ids best first (the protocol completes it with whatever it
left out, in listing order), and for the shipped ranker how many of them the digest shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from digest import curate, rank
from digest.evaluate.spec import TestDay
from digest.models import Profile, Scored, StoredPaper

Readers = Sequence[tuple[Profile, Sequence[StoredPaper]]]


class Ranking(NamedTuple):
    ids: list[str]
    shown: int | None = None  # the digest's first `shown` papers; None: no cutoff


Ranker = Callable[[TestDay, Readers], dict[str, Ranking]]


def shipped(day: TestDay, readers: Readers) -> dict[str, Ranking]:
    """The ranker `digest` ships, cut where the digest cuts: the shown papers (matches, then near
    misses) first, then the rest of its ranking."""
    return _shown(rank.rank_many(day.fitted(rank.fit), readers, day.candidates), readers)


def query_only(day: TestDay, readers: Readers) -> dict[str, Ranking]:
    """The shipped query vector alone, never a per-reader linear model."""
    model = day.fitted(rank.fit)
    return _ids(rank.rank_many(model, readers, day.candidates, linear=False))


def keywords_only(day: TestDay, readers: Readers) -> dict[str, Ranking]:
    """The shipped ranker told only the keywords, as for a reader who has liked nothing yet."""
    model = day.fitted(rank.fit)
    return _ids(rank.rank_many(model, [(p, []) for p, _ in readers], day.candidates))


def liked_only(day: TestDay, readers: Readers) -> dict[str, Ranking]:
    """The shipped ranker told only the liked papers, as for a reader who gave no keywords."""
    model = day.fitted(rank.fit)
    bare = [(replace(p, keywords=()), liked) for p, liked in readers]
    return _ids(rank.rank_many(model, bare, day.candidates))


def three_liked(day: TestDay, readers: Readers) -> dict[str, Ranking]:
    """The shipped ranker with the keywords and only the first three liked papers."""
    model = day.fitted(rank.fit)
    return _ids(rank.rank_many(model, [(p, s[:3]) for p, s in readers], day.candidates))


def _ids(ranked: Mapping[str, Sequence[Scored]]) -> dict[str, Ranking]:
    return {name: Ranking([s.paper.id for s in scored]) for name, scored in ranked.items()}


def _shown(ranked: Mapping[str, Sequence[Scored]], readers: Readers) -> dict[str, Ranking]:
    out = {}
    for profile, _ in readers:
        scored = ranked.get(profile.name, [])
        shown = curate.select(scored, profile)
        head = [s.paper.id for s in (*shown.papers, *shown.near)]
        taken = set(head)
        out[profile.name] = Ranking(
            [*head, *(s.paper.id for s in scored if s.paper.id not in taken)], shown.shown
        )
    return out
