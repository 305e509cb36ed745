"""From relevance to each reader's chosen papers: author boost, popularity, exclusions, order and
diversity (MMR). Worked out for a block of readers at once, as arrays."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import pairwise

import numpy as np
from scipy import sparse

from digest.models import Profile, StoredPaper
from digest.rank import query
from digest.rank.model import plain

AUTHOR_BOOST = 0.5  # a followed author's paper gains this share of the reader's best match
MMR_POOL = 30  # diversity reorders at least this many of each reader's best papers
MATCHED_FIRST = 1e6  # added to a matched paper's sort key: above any score
SIMILARITY_ALL = 4000  # up to this many papers a day, similarities are computed once for all


class Day:
    """What every reader's ranking of one day's papers shares, each part worked out on first use."""

    def __init__(
        self,
        papers: Sequence[StoredPaper],
        docs: sparse.csr_matrix,
        latent: np.ndarray | None = None,
    ) -> None:
        self.papers, self.docs, self.latent = papers, docs, latent
        ids = np.array([p.id for p in papers], dtype=object)
        # rank of each paper's id: the stable tie-break between equal scores
        self.tiebreak = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
        self._mentions: dict[tuple[str, ...], np.ndarray] = {}

    @cached_property
    def today(self) -> date | None:
        """The day's latest date: what the age of a liked paper is counted from."""
        return max((d for p in self.papers for d in p.dates), default=None)

    def ages(self, papers: Sequence[StoredPaper]) -> np.ndarray:
        """Days from each paper's latest sighting to today (0 when unknown)."""
        today = self.today
        return np.array(
            [(today - max(p.dates)).days if today and p.dates else 0 for p in papers], dtype=float
        )

    @cached_property
    def features(self) -> sparse.csr_matrix:
        """The papers' features for a reader's linear model: TF-IDF rows, then latent rows."""
        if self.latent is None or query.LATENT_FEATURES == 0:
            return self.docs
        return sparse.hstack([self.docs, query.LATENT_FEATURES * self.latent], format="csr")

    @cached_property
    def positions(self) -> dict[str, list[int]]:
        """Where each paper id sits among the day's papers."""
        found: dict[str, list[int]] = {}
        for j, p in enumerate(self.papers):
            found.setdefault(p.id, []).append(j)
        return found

    @cached_property
    def popularity(self) -> np.ndarray:
        """Upvotes on a log scale, 1.0 for the day's most upvoted paper; all 0 without upvotes."""
        votes = np.log1p(np.array([max(p.upvotes or 0, 0) for p in self.papers], dtype=float))
        top = votes.max(initial=0.0)
        return votes / top if top > 0 else votes

    @cached_property
    def words(self) -> list[str]:
        """Each paper's title and abstract as folded words between spaces, for phrase matching."""
        return [f" {plain(p.text)} " for p in self.papers]

    @cached_property
    def authors(self) -> list[list[tuple[str | None, str]]]:
        return [[k for name in p.authors if (k := name_key(name))] for p in self.papers]

    @cached_property
    def similarities(self) -> np.ndarray | None:
        """Cosine similarities between all the day's papers; None past SIMILARITY_ALL papers."""
        if len(self.papers) > SIMILARITY_ALL:
            return None
        return np.asarray((self.docs @ self.docs.T).toarray(), dtype=np.float32)

    def similarity(self, rows: Sequence[int]) -> np.ndarray:
        """Cosine similarities between the given papers."""
        if self.similarities is not None:
            return self.similarities[np.ix_(rows, rows)]
        block = self.docs[list(rows)]
        return np.asarray((block @ block.T).toarray(), dtype=np.float32)

    def mentions(self, phrases: tuple[str, ...]) -> np.ndarray:
        """Which papers mention any of the phrases as whole words (remembered per phrase set)."""
        if phrases not in self._mentions:
            wanted = [f" {w} " for w in (plain(p) for p in phrases) if w]
            self._mentions[phrases] = np.array(
                [any(w in text for w in wanted) for text in self.words], dtype=bool
            )
        return self._mentions[phrases]


@dataclass(frozen=True, slots=True)
class Picks:
    """A block of readers' scores for one day and, per reader, the chosen papers in order."""

    score: np.ndarray  # readers x papers
    share: np.ndarray  # ... the share of each score that came from popularity
    followed: list[dict[int, tuple[str, ...]]]  # per reader: paper -> followed authors on it
    keep: list[list[int]]  # per reader: the chosen papers, best first
    matched: np.ndarray  # readers x papers: a match (the others are at best near misses)


def choose(
    profiles: Sequence[Profile],
    relevance: np.ndarray,
    day: Day,
    judged: Sequence[set[str]],
    limit: int | None,
    matched: np.ndarray | None = None,
) -> Picks:
    """Each reader's papers, best first: relevance plus a followed author's boost, blended with
    popularity at the reader's weight; without papers that match nothing, mention an excluded
    term or were judged already; reordered for diversity (MMR); the best `limit` (all if None).
    The papers `matched` (readers x papers; all if None) come before the others, each part in
    that order, and a followed author's paper is always matched."""
    best = relevance.max(axis=1, initial=0.0)
    base = np.where(best > 0, best, 1.0)  # the scale boosts and popularity are measured on
    followed = [_followed(p.authors, day) for p in profiles]
    boosted = relevance.copy()
    for i, found in enumerate(followed):
        if found:
            boosted[i, list(found)] += AUTHOR_BOOST * base[i]
    weight = np.array([p.popularity if day.popularity.any() else 0.0 for p in profiles])
    bonus = (weight * base)[:, None] * day.popularity[None, :]
    score = (1 - weight)[:, None] * boosted + bonus
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(score > 0, bonus / score, 0.0)
    eligible = (relevance > 0) | (boosted > relevance)
    eligible &= score > 0
    for i, p in enumerate(profiles):
        if p.exclude:
            eligible[i] &= ~day.mentions(tuple(p.exclude))
        gone = [j for pid in judged[i] for j in day.positions.get(pid, ())]
        if gone:
            eligible[i, gone] = False
    pools = np.array([max(limit or 0, MMR_POOL, 3 * p.top_k) for p in profiles], dtype=np.int64)
    first = np.ones(score.shape, dtype=bool) if matched is None else matched.copy()
    for i, found in enumerate(followed):
        first[i, list(found)] = True
    # matches sort before the rest: every score is below MATCHED_FIRST
    key = np.where(first, score + MATCHED_FIRST, score)
    orders = _orders(key, eligible, day.tiebreak, None if limit is None else int(pools.max()))
    diversity = np.array([p.diversity for p in profiles], dtype=float)
    heads = [o[:n] for o, n in zip(orders, pools.tolist(), strict=True)]
    mixed = [i for i, h in enumerate(heads) if diversity[i] > 0 and len(h) >= 3]
    diversified = _mmr(score, day, diversity, [heads[i] for i in mixed], mixed)
    for i, picked in zip(mixed, diversified, strict=True):
        ahead = [j for j in picked if first[i, j]] + [j for j in picked if not first[i, j]]
        orders[i] = ahead + orders[i][len(picked) :]
    keep = [o[:limit] if limit is not None else o for o in orders]
    return Picks(score, share, followed, keep, first)


def _orders(
    score: np.ndarray, eligible: np.ndarray, tiebreak: np.ndarray, first: int | None
) -> list[list[int]]:
    """Each row's eligible papers, best score first, ties by paper id: the first `first` of them
    (all if None). One partition and one sort for all rows."""
    key = np.where(eligible, score, -np.inf)
    n = key.shape[1]
    candidates = eligible
    if first is not None and first < n:
        # the first-th best of each row: everything at least as good is a candidate, ties too
        kth = np.partition(key, n - first, axis=1)[:, n - first]
        candidates = eligible & (key >= kth[:, None])
    rows, cols = np.nonzero(candidates)
    order = np.lexsort((tiebreak[cols], -key[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    bounds = np.searchsorted(rows, np.arange(key.shape[0] + 1))
    out = cols.tolist()
    return [
        out[lo : hi if first is None else min(hi, lo + first)]
        for lo, hi in pairwise(bounds.tolist())
    ]


def _mmr(
    score: np.ndarray,
    day: Day,
    diversity: np.ndarray,
    heads: list[list[int]],
    rows: list[int],
) -> list[list[int]]:
    """Maximal marginal relevance over each head (a row's best papers, in order): each next paper
    maximises (1 - diversity) * its score (relative to the best) - diversity * its similarity to
    the closest paper already picked. All rows step together."""
    if not heads:
        return []
    width = max(map(len, heads))
    lengths = np.array([len(h) for h in heads])
    at = np.zeros((len(heads), width), dtype=np.int64)
    for k, h in enumerate(heads):
        at[k, : len(h)] = h
    r = np.array(rows, dtype=np.int64)[:, None]
    d = diversity[r[:, 0]]
    free = np.arange(width)[None, :] < lengths[:, None]
    if day.similarities is not None:
        sims = day.similarities[at[:, :, None], at[:, None, :]]
    else:
        sims = np.stack([_padded(day.similarity(h), width) for h in heads])
    s = score[r, at]
    gain = (1 - d)[:, None] * s / np.maximum(s[:, 0], 1e-12)[:, None]
    nearest = np.zeros((len(heads), width))
    picked = np.zeros((len(heads), width), dtype=np.int64)
    every = np.arange(len(heads))
    for step in range(width):
        value = np.where(free, gain - d[:, None] * nearest, -np.inf)
        k = np.argmax(value, axis=1)  # the first of equals: the earlier in the head
        picked[:, step] = k
        free[every, k] = False
        nearest = np.maximum(nearest, sims[every, k, :])
    chosen = np.take_along_axis(at, picked, axis=1).tolist()
    return [c[:n] for c, n in zip(chosen, lengths.tolist(), strict=True)]


def assorted(docs: sparse.csr_matrix, day: Day, count: int, diversity: float) -> list[int]:
    """`count` of the day's papers (their rows in `docs`) as different from one another as can
    be: MMR at `diversity` over their vectors, with popularity as the relevance, so that of two
    alike papers the more upvoted is the one kept; the most upvoted first."""
    if not day.papers or count <= 0:
        return []
    score = (1.0 + day.popularity)[None, :]  # every paper a candidate; upvotes weigh a little
    (head,) = _orders(score, np.ones(score.shape, dtype=bool), day.tiebreak, None)
    (picked,) = _mmr(score, day, np.array([diversity]), [head], [0])
    return picked[:count]


def _padded(block: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((width, width), dtype=block.dtype)
    out[: block.shape[0], : block.shape[1]] = block
    return out


def name_key(name: str) -> tuple[str | None, str] | None:
    """(first and last name, first initial and last name) of an author, accents and case
    ignored; the first is None when the name gives only an initial (`Y. LeCun`)."""
    text = unicodedata.normalize("NFKD", name)
    parts = re.findall(r"[^\W\d_]+", "".join(c for c in text if not unicodedata.combining(c)))
    if not parts:
        return None
    first, last = parts[0].casefold(), parts[-1].casefold()
    if len(parts) == 1:
        return last, last
    return (None if len(first) == 1 else f"{first} {last}"), f"{first[0]} {last}"


def same_author(a: tuple[str | None, str], b: tuple[str | None, str]) -> bool:
    """Full names must agree; an initial agrees with any first name that starts with it."""
    if a[0] is not None and b[0] is not None:
        return a[0] == b[0]
    return a[1] == b[1]


def _followed(authors: Sequence[str], day: Day) -> dict[int, tuple[str, ...]]:
    """Papers by followed authors: index -> the followed names found among its authors."""
    keys = [(name, key) for name in authors if (key := name_key(name)) is not None]
    found: dict[int, tuple[str, ...]] = {}
    for j, paper_keys in enumerate(day.authors if keys else ()):
        names = tuple(n for n, k in keys if any(same_author(k, other) for other in paper_keys))
        if names:
            found[j] = names
    return found
