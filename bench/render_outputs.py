"""Benchmark: render 10,000 personalised digests, and a year of archive days.

    python bench/render_outputs.py [--digests 10000] [--papers 30] [--data ../shared/data/hf_api]

Papers are a year of real Daily Papers API days (`../shared/data/hf_api`), read with the `hf_api`
source. Each generated reader gets a digest of `--papers` papers drawn from the year, with reasons
(terms and shares from the paper's own title, a closest liked paper, followed authors, a
popularity share), as ranking would give them.

Prints digests/s for all four formats together (Markdown, HTML, plain text, the .eml message):
rendered in one process (and for each format), then rendered and written to files as
`digest build` does it (in several processes). Then the size of a digest's HTML part, the time to
build the year's archive from scratch and to add one day to it, and peak memory (max RSS).
Targets: >= 500 digests/s for the four formats; the year's archive under 20 s; adding one day
under 2 s.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import render  # noqa: E402
from digest.app import outputs  # noqa: E402
from digest.config import Config  # noqa: E402
from digest.deliver.site import write_site  # noqa: E402
from digest.models import Digest, Origin, Profile, Scored, Site, StoredPaper, Term  # noqa: E402
from digest.render import email, site  # noqa: E402
from digest.render.links import Links  # noqa: E402
from digest.sources import hf_api  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "hf_api"
NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
SITE = Site(
    title="Paper Digest",
    base_url="https://digest.example.org/",
    sender="Paper Digest <digest@example.org>",
)


def year(data: Path) -> list[site.SiteDay]:
    days: dict[date, dict[str, StoredPaper]] = {}
    for path in sorted(data.glob("*.json")):
        day = date.fromisoformat(path.stem)
        origin = Origin(source="hf", location=str(path), today=day, date=day)
        for paper in hf_api.parse(path.read_bytes(), origin=origin):
            stored = StoredPaper(
                id=paper.id,
                title=paper.title,
                abstract=paper.abstract,
                arxiv_id=paper.arxiv_id,
                authors=paper.authors,
                url=paper.url,
                pdf_url=paper.pdf_url,
                code_url=paper.code_url,
                project_url=paper.project_url,
                categories=paper.categories,
                published=paper.published,
                dates=(day,),
                sources=("hf",),
                upvotes=paper.upvotes,
            )
            days.setdefault(day, {})[stored.id] = stored
    return [
        site.SiteDay(d, outputs.by_popularity(list(ps.values()))) for d, ps in sorted(days.items())
    ]


def digests(pool: list[StoredPaper], n: int, papers: int, rng: random.Random) -> list[Digest]:
    out = []
    day = date(2025, 8, 20)
    for i in range(n):
        picked = rng.sample(pool, papers)
        liked = rng.choice(pool)
        items = []
        for rank, paper in enumerate(picked):
            words = [w.strip(",.:;()").lower() for w in paper.title.split() if len(w) > 4][:4]
            total = sum(range(1, len(words) + 1)) or 1
            terms = tuple(Term(w, round((len(words) - k) / total, 4)) for k, w in enumerate(words))
            items.append(
                Scored(
                    paper,
                    round(0.6 - rank * 0.01, 6),
                    terms,
                    closest=liked if rank % 3 == 0 else None,
                    closeness=0.31 if rank % 3 == 0 else 0.0,
                    popularity=0.08,
                    authors=paper.authors[:1] if rank % 7 == 0 else (),
                )
            )
        reader = Profile(
            name=f"reader{i}",
            display_name=f"Reader {i}",
            email=f"reader{i}@example.org",
            keywords=("diffusion", "reasoning"),
        )
        out.append(Digest(reader, day, tuple(items), candidates=len(pool), generated=NOW))
    return out


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digests", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=30)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()

    t = time.perf_counter()
    days = year(args.data)
    pool = [p for d in days for p in d.papers]
    batch = digests(pool, args.digests, args.papers, random.Random(3))
    print(
        f"setup: {len(days)} days, {len(pool):,} papers, {len(batch):,} digests of "
        f"{args.papers} papers ({time.perf_counter() - t:.1f} s, not counted)"
    )
    env = render.environment(())
    links = Links(SITE.base_url)

    # the four formats of every digest, one process, rendering only (no disk)
    timings = {"Markdown": 0.0, "HTML + text": 0.0, ".eml": 0.0}
    size = 0
    t0 = time.perf_counter()
    for digest in batch:
        t = time.perf_counter()
        render.render_markdown(digest, title=SITE.title, env=env)
        t1 = time.perf_counter()
        html, text = email.render_email(digest, site=SITE, links=links, env=env)
        t2 = time.perf_counter()
        email.message(digest, html, text, site=SITE, now=NOW)
        t3 = time.perf_counter()
        timings["Markdown"] += t1 - t
        timings["HTML + text"] += t2 - t1
        timings[".eml"] += t3 - t2
        size = max(size, len(html.encode()))
    total = time.perf_counter() - t0
    print(f"digests: {len(batch) / total:,.0f} digests/s for all four formats ({total:.2f} s)")
    for name, seconds in timings.items():
        print(
            f"  {name:<12} {len(batch) / seconds:8,.0f} /s"
            f"  ({seconds * 1000 / len(batch):.2f} ms each)"
        )
    print(f"  largest HTML part: {size:,} bytes")

    # as `digest build` does it: rendered and written to files, in WORKERS processes
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            path=Path(tmp) / "config.yaml",
            store=Path(tmp) / "store.sqlite3",
            out_dir=Path(tmp),
            templates=(),
            title=SITE.title,
            sources=(),
            readers=tuple(d.reader for d in batch),
            site=SITE,
        )
        t = time.perf_counter()
        done = outputs.write_digests(batch, config=config, links=links, now=NOW)
        seconds = time.perf_counter() - t
    assert done.digests == len(batch) and not done.failures
    print(
        f"digest build: {len(batch) / seconds:,.0f} digests/s rendered and written "
        f"({outputs.WORKERS} processes, {len(done.paths):,} files, {seconds:.2f} s)"
    )

    # the archive: a year from scratch, then one more day
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        t = time.perf_counter()
        pages = site.pages(days[:-1], [], site=SITE, links=links, env=env)
        rendered = time.perf_counter() - t
        first = write_site(root, pages)
        scratch = time.perf_counter() - t
        t = time.perf_counter()
        pages = site.pages(days, [], site=SITE, links=links, env=env)
        added = write_site(root, pages)
        one = time.perf_counter() - t
    print(
        f"archive: {len(days) - 1} days from scratch {scratch:.2f} s (render {rendered:.2f} s, "
        f"{first.written} files); adding one day {one:.2f} s ({added.written} files rewritten)"
    )
    print(f"peak memory (max RSS): {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
