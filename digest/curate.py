"""Curation: from a reader's ranked papers to their digest. Pure: `now` is an argument.

A digest shows the papers that clear the reader's relevance floor (the ranker marks the others
`loose`), up to `top_k`; then, under "loosely related", at most `near_misses` of the best papers
below the floor that clear the lower near-miss floor, or more when `min_papers` asks for more. A
thin day is shown as thin.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import NamedTuple

from digest.models import Digest, Profile, Scored


class Shown(NamedTuple):
    """What a digest shows: the matches, best first, then the loosely related papers."""

    papers: tuple[Scored, ...]
    near: tuple[Scored, ...]

    @property
    def shown(self) -> int:
        """How many papers the digest shows, the loosely related ones included."""
        return len(self.papers) + len(self.near)


def select(
    ranked: Sequence[Scored],
    profile: Profile,
    *,
    sent_ids: Collection[str] = frozenset(),
) -> Shown:
    """Drop papers already sent, unexplained or below the reader's `min_score`; keep the first
    `top_k` that clear the floor, then the near misses (see the module docstring)."""
    kept = [
        s for s in ranked if s.paper.id not in sent_ids and s.terms and s.score > profile.min_score
    ]
    papers = tuple(s for s in kept if not s.loose)[: profile.top_k]
    close = tuple(s for s in kept if s.loose and not s.far)
    near = close[: max(0, min(profile.top_k - len(papers), profile.near_misses))]
    short = min(profile.min_papers, profile.top_k) - len(papers) - len(near)
    if short > 0:  # asked for: the best of the rest too, still labelled loosely related
        near += (*close[len(near) :], *(s for s in kept if s.far))[:short]
    return Shown(papers, near)


def curate(
    ranked: Sequence[Scored],
    profile: Profile,
    *,
    day: date,
    now: datetime,
    candidates: int,
    sent_ids: Collection[str] = frozenset(),
) -> Digest:
    """The reader's digest for `day` (chosen from `candidates` papers), made at `now`."""
    shown = select(ranked, profile, sent_ids=sent_ids)
    return Digest(
        reader=profile,
        date=day,
        papers=shown.papers,
        candidates=candidates,
        generated=now,
        near=shown.near,
    )
