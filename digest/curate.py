"""Curation: from a reader's ranked papers to their digest. Pure: `now` is an argument."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from digest.models import Digest, Profile, Scored


def select(
    ranked: Sequence[Scored],
    profile: Profile,
    *,
    sent_ids: Collection[str] = frozenset(),
) -> tuple[Scored, ...]:
    """Drop papers already sent, unexplained or below the reader's threshold; keep the top k."""
    kept = [
        s for s in ranked if s.paper.id not in sent_ids and s.terms and s.score > profile.min_score
    ]
    return tuple(kept[: profile.top_k])


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
    return Digest(
        reader=profile,
        date=day,
        papers=select(ranked, profile, sent_ids=sent_ids),
        candidates=candidates,
        generated=now,
    )
