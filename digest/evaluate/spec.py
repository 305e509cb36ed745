"""The protocol's inputs: a spec (test days, interests) and labelled listings, read from files.

Foreign shapes stop here: a spec's JSON becomes a `Spec`, a listing's line a `Listed`. A test day
becomes a `TestDay`: its candidates and the corpus every ranker may read (the `history_days`
listing days before it, the seeds and the candidates; never the labels), with each kind of model
fitted on it once, on first use.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

from digest.errors import DigestError
from digest.models import StoredPaper

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Interest:
    name: str
    category: str
    keywords: tuple[str, ...]
    seeds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spec:
    days: tuple[date, ...]
    history_days: int
    k: int
    interests: tuple[Interest, ...]


@dataclass(frozen=True, slots=True)
class Listed:
    """One paper of a listing day, with its labels (which only the scoring sees)."""

    paper: StoredPaper
    labels: frozenset[str]


Listings = dict[date, list[Listed]]


@dataclass(frozen=True, slots=True)
class Case:
    """A spec with its listings, under a name (the spec file's stem)."""

    name: str
    spec: Spec
    listings: Listings


# --all-dev: the three dev cases of ../shared/data/eval, (spec, listings) file names
DEV_CASES = (
    ("interests_dev.json", "arxiv_listings_dev.jsonl.gz"),
    ("tags_dev.json", "arxiv_listings_dev.jsonl.gz"),
    ("pool_dev.json", "pool_listings_dev.jsonl.gz"),
)


def load_case(spec: Path, listings: Path) -> Case:
    return load_cases([(spec, listings)])[0]


def dev_cases(folder: Path) -> list[Case]:
    """The dev cases of a folder, each listings file read once."""
    return load_cases([(folder / s, folder / listing) for s, listing in DEV_CASES])


def load_cases(files: Sequence[tuple[Path, Path]]) -> list[Case]:
    """Cases by (spec, listings) paths; a missing file is an error before anything is read."""
    for path in (p for pair in files for p in pair):
        if not path.is_file():
            raise DigestError(f"{path}: no such file")
    read: dict[Path, Listings] = {}
    cases = []
    for spec, listings in files:
        if listings not in read:
            read[listings] = load_listings(listings)
        cases.append(Case(spec.stem, load_spec(spec), read[listings]))
    return cases


def load_spec(path: Path) -> Spec:
    try:
        raw = json.loads(path.read_text("utf-8"))
        interests = tuple(
            Interest(
                name=i["name"],
                category=i["relevant_if_category"],
                keywords=tuple(k.strip() for k in i["keywords"].split(",") if k.strip()),
                seeds=tuple(i["seed_papers"]),
            )
            for i in raw["interests"]
        )
        return Spec(
            days=tuple(date.fromisoformat(d) for d in raw["days"]),
            history_days=int(raw["history_days"]),
            k=int(raw["k"]),
            interests=interests,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DigestError(f"{path}: not an evaluation spec ({type(exc).__name__}: {exc})") from None


def load_listings(path: Path) -> Listings:
    """Listing days, each its papers in file order."""
    days: dict[date, list[Listed]] = defaultdict(list)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                day = date.fromisoformat(record["date"])
                days[day].append(Listed(_paper(record, day), frozenset(record["labels"])))
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise DigestError(f"{path}: not a listings file ({type(exc).__name__}: {exc})") from None
    return dict(days)


def _paper(record: dict[str, Any], day: date) -> StoredPaper:
    return StoredPaper(
        id=f"arxiv:{record['id']}",
        title=record["title"],
        abstract=record["abstract"],
        arxiv_id=record["id"],
        authors=(),
        url=None,
        pdf_url=None,
        code_url=None,
        project_url=None,
        categories=(),
        published=None,
        dates=(day,),
        sources=("listing",),
    )


class TestDay:
    """One test day: its candidates (listing order) and the corpus rankers may read, which is the
    history (the `history_days` listing days before), the interests' seeds, then the candidates.

    `fitted(fit)` fits a model on the corpus once per day and kind, whichever ranker asks first.
    """

    __test__ = False  # not a pytest class

    def __init__(
        self,
        day: date,
        listed: Sequence[Listed],
        history: Sequence[StoredPaper],
        seeds: Sequence[StoredPaper],
    ) -> None:
        self.day = day
        self.listed = tuple(listed)
        self.candidates = tuple(x.paper for x in listed)
        self.history = tuple(history)
        self.corpus = tuple({p.id: p for p in [*history, *seeds, *self.candidates]}.values())
        self._fits: dict[object, object] = {}

    def fitted(self, fit: Callable[[Sequence[StoredPaper]], T]) -> T:
        if fit not in self._fits:
            self._fits[fit] = fit(self.corpus)
        return cast(T, self._fits[fit])


def days_of(spec: Spec, listings: Listings) -> Iterator[tuple[TestDay, dict[str, StoredPaper]]]:
    """Each test day in the spec's order, with the seed papers found on the listing days before
    it (by arXiv id)."""
    missing = [d for d in spec.days if d not in listings]
    if missing:
        raise DigestError(f"test day {missing[0]} is not in the listings")
    wanted = {s for i in spec.interests for s in i.seeds}
    first_seen: dict[str, tuple[date, StoredPaper]] = {}
    for day in sorted(listings):
        for x in listings[day]:
            if x.paper.arxiv_id in wanted and x.paper.arxiv_id not in first_seen:
                first_seen[x.paper.arxiv_id] = (day, x.paper)
    ordered = sorted(listings)
    for day in spec.days:
        before = [d for d in ordered if d < day][-spec.history_days :] if spec.history_days else []
        history = [x.paper for d in before for x in listings[d]]
        seeds = {s: paper for s, (seen, paper) in first_seen.items() if seen < day}
        yield TestDay(day, listings[day], history, list(seeds.values())), seeds
