"""Benchmark: rank 10,000 generated readers against one day of 1,000 papers over a 90-day corpus.

    python bench/rank_readers.py [--readers 10000] [--day-papers 1000] [--window 90]
                                 [--listings ../shared/data/eval/arxiv_listings_dev.jsonl.gz]

The corpus is real: the arXiv listings of the evaluation data (titles and abstracts), the
`--window` days before the last listing day; the day is the last listing days' papers,
`--day-papers` of them. Readers are generated from the listings' categories: each picks a
category, three of its most telling words as keywords and three of its papers as liked papers
(the profile a new reader writes), so every reader takes the shipped query path.

Prints seconds per stage (fit, cache write and read, rank) and peak memory (max RSS). In the same
run it times, on a sample of 20 readers, arxiv-sanity-lite's approach (a LinearSVC per reader,
C=0.01, balanced, liked papers against the whole corpus) and our per-reader linear model (for
readers with ten or more liked papers), and prints their time per reader beside ours.

Then readers with an imported library (`--library` papers each, 500 by default): papers of
their category from the listings before the window, so none is in the corpus and each is
vectorised at ranking time, as a Zotero export's papers are. Their time per reader is printed
beside that of readers with ten liked papers, for a first ranking in the process (the library's
texts analysed for the first time) and a second one.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from digest import evaluate, modelcache, rank  # noqa: E402
from digest.models import Profile, StoredPaper  # noqa: E402

LISTINGS = ROOT.parent / "shared" / "data" / "eval" / "arxiv_listings_dev.jsonl.gz"
SAMPLE = 20


def split(days: dict[date, list[evaluate.Listed]], day_papers: int, window: int):
    """(the day's papers, the corpus of the window ending that day, papers by category)."""
    ordered = sorted(days)
    today: list[StoredPaper] = []
    while len(today) < day_papers and ordered:
        today += [x.paper for x in days[ordered.pop()]]
    today = today[:day_papers]
    last = ordered[-1]
    earlier = [x for d in ordered if d > last - timedelta(days=window) for x in days[d]]
    by_category: dict[str, list[StoredPaper]] = defaultdict(list)
    for x in earlier:
        for label in sorted(x.labels):
            by_category[label].append(x.paper)
    corpus = list({p.id: p for p in [*(x.paper for x in earlier), *today]}.values())
    return today, corpus, {c: ps for c, ps in by_category.items() if len(ps) >= 20}


def telling_words(by_category: dict[str, list[StoredPaper]]) -> dict[str, list[str]]:
    """Each category's words most over-represented in its titles."""
    counts = {
        c: Counter(t for p in ps for t in set(rank.analyse(p.title)) if " " not in t)
        for c, ps in by_category.items()
    }
    overall: Counter[str] = sum(counts.values(), Counter())
    total = sum(overall.values())
    words = {}
    for c, found in counts.items():
        n = sum(found.values())
        lift = {t: (k / n) / (overall[t] / total) for t, k in found.items() if k >= 3}
        words[c] = sorted(lift, key=lambda t: (-lift[t], t))[:10]
    return words


def readers(n: int, by_category, words, rng: random.Random, liked: int = 3):
    categories = sorted(by_category)
    out = []
    for i in range(n):
        c = rng.choice(categories)
        keywords = tuple(rng.sample(words[c], min(3, len(words[c]))))
        seeds = rng.sample(by_category[c], liked)
        out.append(
            (Profile(name=f"r{i}", keywords=keywords, liked=tuple(p.id for p in seeds)), seeds)
        )
    return out


def older(days: dict[date, list[evaluate.Listed]], window: int) -> dict[str, list[StoredPaper]]:
    """Papers by category from the listing days before the corpus window (and the day)."""
    ordered = sorted(days)
    start = ordered[-1] - timedelta(days=window + 5)
    by_category: dict[str, list[StoredPaper]] = defaultdict(list)
    for d in ordered:
        if d < start:
            for x in days[d]:
                for label in sorted(x.labels):
                    by_category[label].append(x.paper)
    return by_category


def library_readers(n: int, before, words, rng: random.Random, size: int):
    """Readers with three keywords and a library of `size` papers outside the corpus."""
    categories = sorted(c for c, ps in before.items() if len(ps) >= size and c in words)
    out = []
    for i in range(n):
        c = rng.choice(categories)
        keywords = tuple(rng.sample(words[c], min(3, len(words[c]))))
        out.append((Profile(name=f"l{i}", keywords=keywords), rng.sample(before[c], size)))
    return out


def per_reader(model, readers, today, limit: int) -> float:
    t = time.perf_counter()
    rank.rank_many(model, readers, today, limit=limit)
    return (time.perf_counter() - t) / len(readers)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readers", type=int, default=10_000)
    ap.add_argument("--day-papers", type=int, default=1000)
    ap.add_argument("--window", type=int, default=90)
    ap.add_argument("--listings", type=Path, default=LISTINGS)
    ap.add_argument("--library", type=int, default=500, help="papers in a reader's library")
    args = ap.parse_args()
    rng = random.Random(7)

    t = time.perf_counter()
    listings = evaluate.load_listings(args.listings)
    today, corpus, by_category = split(listings, args.day_papers, args.window)
    words = telling_words(by_category)
    generated = readers(args.readers, by_category, words, rng)
    print(
        f"setup: {len(corpus):,} corpus papers, {len(today):,} on the day, "
        f"{len(generated):,} readers, "
        f"{len(by_category)} categories ({time.perf_counter() - t:.1f} s, not counted)"
    )

    stages: dict[str, float] = {}
    peaks: dict[str, float] = {"setup (reading the listings)": peak_mib()}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        modelcache.load_or_fit(corpus, Path(tmp))  # a run on a new day: fitted and written
        stages["fit TF-IDF on the corpus and cache it"] = time.perf_counter() - t
        peaks["fit TF-IDF on the corpus and cache it"] = peak_mib()
        t = time.perf_counter()
        model, hit = modelcache.load_or_fit(corpus, Path(tmp))  # every later run that day
        stages["read the cached model (a later run)"] = time.perf_counter() - t
        assert hit
    limit = 2 * 10 + 5  # as the build asks: twice top_k, plus five
    t = time.perf_counter()
    ranked = rank.rank_many(model, generated, today, limit=limit)
    stages[f"rank {len(generated):,} readers ({rank.WORKERS} threads)"] = time.perf_counter() - t
    assert len(ranked) == len(generated)
    peaks["rank"] = peak_mib()
    for name, seconds in stages.items():
        print(f"  {name:<58} {seconds:8.2f} s")
    print(
        "peak memory (max RSS) so far, after: "
        + "; ".join(f"{k} {v:,.0f} MiB" for k, v in peaks.items())
    )
    counted = sum(stages.values())
    print(f"total: {counted:.2f} s   peak memory (max RSS): {peak_mib():,.0f} MiB")
    ours = stages[next(k for k in stages if k.startswith("rank "))] / len(generated)

    # arxiv-sanity-lite's approach on the same corpus, for a sample of readers
    docs = model.paper_vectors(today)
    sample = generated[:SAMPLE]
    t = time.perf_counter()
    for _, seeds in sample:
        y = np.zeros(model.matrix.shape[0])
        y[[model.index[p.id] for p in seeds]] = 1
        svm = LinearSVC(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-6)
        svm.fit(model.matrix, y).decision_function(docs)
    sanity = (time.perf_counter() - t) / len(sample)

    # our linear model, for readers with ten liked papers
    learners = readers(SAMPLE, by_category, words, random.Random(11), liked=10)
    t = time.perf_counter()
    rank.rank_many(model, learners, today, limit=limit)
    linear = (time.perf_counter() - t) / len(learners)

    print(
        f"per reader: shipped query path {ours * 1000:.3f} ms; "
        f"arxiv-sanity-lite LinearSVC {sanity * 1000:.1f} ms (ratio {sanity / ours:,.0f}x); "
        f"our linear model, 10 liked papers {linear * 1000:.1f} ms (ratio {linear / ours:,.0f}x)"
    )
    # readers with a library of --library papers, none of them in the corpus
    before = older(listings, args.window)
    shelves = library_readers(SAMPLE, before, words, random.Random(13), args.library)
    first = per_reader(model, shelves, today, limit)
    again = per_reader(model, shelves, today, limit)
    ten = per_reader(model, learners, today, limit)
    print(
        f"per reader with a {args.library}-paper library: {first * 1000:.1f} ms the first "
        f"time in the process, {again * 1000:.1f} ms again; with ten liked papers "
        f"{ten * 1000:.1f} ms (ratio {first / ten:.2f}x, {again / ten:.2f}x)"
    )
    print(f"peak memory (max RSS) at the end: {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
