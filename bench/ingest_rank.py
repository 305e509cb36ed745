"""Benchmark: ingest the bundled pages, then rank a day's papers for 1,000 generated readers.

    python bench/ingest_rank.py [--readers 1000] [--repeat 5]

Prints papers/s for parsing and for parse + store (into a fresh SQLite file each time), the time to
fit the TF-IDF model, and the time to rank and curate one day's papers for every reader.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import curate, rank, sources  # noqa: E402
from digest.models import Origin, Profile  # noqa: E402
from digest.store import Store  # noqa: E402

PAGES = sorted((ROOT / "examples" / "pages").glob("*.txt"))
NOW = datetime(2025, 9, 1, tzinfo=UTC)
DAYS = [date(2025, 8, 20), date(2025, 6, 2), date(2025, 3, 12)]


def parse_all() -> list[tuple[str, list]]:
    out = []
    for page, day in zip(PAGES, DAYS, strict=True):
        origin = Origin(source=page.stem, location=str(page), today=NOW.date(), date=day)
        out.append((page.stem, sources.parse("hf_text", page.read_bytes(), origin=origin)))
    return out


def bench_ingest(repeat: int) -> None:
    parse_times, ingest_times = [], []
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        batches = parse_all()
        parse_times.append(time.perf_counter() - start)
        count = sum(len(b) for _, b in batches)
        with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "s.db") as store:
            start = time.perf_counter()
            for name, papers in batches:
                store.add_papers(name, papers, now=NOW)
            ingest_times.append(time.perf_counter() + parse_times[-1] - start)
    print(f"pages: {len(PAGES)} files, {count} papers")
    print(f"parse:          {count / statistics.median(parse_times):>10,.0f} papers/s")
    print(f"parse + store:  {count / statistics.median(ingest_times):>10,.0f} papers/s")


def generated_readers(model: rank.Model, corpus: list, n: int) -> list[tuple[Profile, list]]:
    rng = random.Random(7)
    vocab = [t for t in model.terms if len(t) > 3]
    readers = []
    for i in range(n):
        keywords = tuple(model.display.get(t, t) for t in rng.sample(vocab, rng.randint(2, 6)))
        liked = rng.sample(corpus, rng.choice([0, 0, 1, 3]))
        readers.append((Profile(name=f"r{i}", keywords=keywords, top_k=10), liked))
    return readers


def bench_rank(n: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "s.db") as store:
        for name, papers in parse_all():
            store.add_papers(name, papers, now=NOW)
        corpus = store.papers()
        day = store.papers(on=DAYS[1])
    fits, ranks = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        model = rank.fit(corpus)
        fits.append(time.perf_counter() - start)
        readers = generated_readers(model, corpus, n)
        start = time.perf_counter()
        ranked = rank.rank_many(model, readers, day, limit=25)  # as build.make_digests
        digests = [
            curate.curate(ranked[p.name], p, day=DAYS[1], now=NOW, candidates=len(day))
            for p, _ in readers
        ]
        ranks.append(time.perf_counter() - start)
    fit_ms, rank_ms = statistics.median(fits) * 1000, statistics.median(ranks) * 1000
    filled = sum(len(d.papers) for d in digests) / len(digests)
    print(f"corpus: {len(corpus)} papers, {len(model.terms):,} terms; day: {len(day)} papers")
    print(f"fit TF-IDF:     {fit_ms:>10.1f} ms (once per build)")
    print(
        f"rank {n:,} readers: {rank_ms:>8.1f} ms ({rank_ms / n:.3f} ms/reader, "
        f"{filled:.1f} papers per digest)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_ingest(args.repeat)
    bench_rank(args.readers, args.repeat)


if __name__ == "__main__":
    main()
