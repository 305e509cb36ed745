"""Every output of a build, rendered and written under the output directory.

Per digest: the Markdown digest, the HTML preview and the complete email (.eml). Then, from what
the store holds: each reader's feed, the public feed of every day's papers, and the archive site.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import jinja2

from digest import layout, render
from digest.config import Config
from digest.deliver import files as files_out
from digest.deliver.site import write_site
from digest.errors import DigestError
from digest.models import Artifact, Digest, Profile, StoredPaper
from digest.render import email, feeds, site
from digest.render.links import Links
from digest.store import Store

log = logging.getLogger("digest")

FEED_DAYS = 60  # a reader's feed lists the papers of their digests of the last 60 days
PARALLEL_FROM = 64  # digests rendered in several processes from this many on
WORKERS = min(os.cpu_count() or 1, 8)


def digest_files(
    digest: Digest, *, config: Config, env: jinja2.Environment, links: Links, now: datetime
) -> list[Artifact]:
    """A digest as Markdown, an HTML preview and a complete email message."""
    markdown = render.render_markdown(digest, title=config.title, env=env)
    return [markdown, *email.artifacts(digest, site=config.site, links=links, env=env, now=now)]


@dataclass(slots=True)
class Written:
    """What writing a batch of digests did (added up as the batch goes)."""

    paths: list[Path]
    failures: list[str]
    digests: int


def write_digests(
    digests: Sequence[Digest],
    *,
    config: Config,
    links: Links,
    now: datetime,
    workers: int = WORKERS,
) -> Written:
    """Render and write every digest's files; a failing digest is reported, not fatal.

    From PARALLEL_FROM digests on, `workers` processes share the work (forked, so they start with
    the digests in memory; each renders and writes its own share and reports back paths). Each
    file is replaced atomically; the whole batch is flushed to disk once at the end.
    """
    if workers <= 1 or len(digests) < PARALLEL_FROM or "fork" not in mp.get_all_start_methods():
        done = _write(digests, config, links, now)
    else:
        size = max(1, len(digests) // (workers * 8))
        chunks = [(start, start + size) for start in range(0, len(digests), size)]
        done = Written([], [], 0)
        with mp.get_context("fork").Pool(workers, _share, (digests, config, links, now)) as pool:
            for part in pool.imap(_write_chunk, chunks):
                done.paths.extend(part.paths)
                done.failures.extend(part.failures)
                done.digests += part.digests
    # the messages are what gets sent: on disk before the build says they are written (one
    # flush for the batch; an fsync per file cost more than rendering the file)
    if done.paths:
        os.sync()
    return done


_shared: tuple[Sequence[Digest], Config, Links, datetime] | None = None


def _share(digests: Sequence[Digest], config: Config, links: Links, now: datetime) -> None:
    global _shared
    _shared = (digests, config, links, now)


def _write_chunk(bounds: tuple[int, int]) -> Written:
    assert _shared is not None
    digests, config, links, now = _shared
    return _write(digests[bounds[0] : bounds[1]], config, links, now)


def _write(digests: Sequence[Digest], config: Config, links: Links, now: datetime) -> Written:
    env = render.environment(config.templates)
    done = Written([], [], 0)
    for digest in digests:
        try:
            files = digest_files(digest, config=config, env=env, links=links, now=now)
            done.paths.extend(files_out.deliver(files, config.out_dir, durable=False))
            done.digests += 1
        except DigestError as exc:
            done.failures.append(f"{digest.reader.name} {digest.date}: {exc}")
            log.error("%s %s: %s", digest.reader.name, digest.date, exc)
    return done


def by_popularity(papers: Sequence[StoredPaper]) -> tuple[StoredPaper, ...]:
    """Most upvoted first (papers without upvotes last), then by id."""
    return tuple(sorted(papers, key=lambda p: (-(p.upvotes or 0), p.upvotes is None, p.id)))


def publish(
    config: Config,
    store: Store,
    readers: Sequence[Profile],
    *,
    env: jinja2.Environment,
    links: Links,
) -> list[Path]:
    """Feeds and the archive site from everything the store holds; returns the paths written.

    Private readers' feeds stay under `feeds/` (served behind their token); the public feed and
    the feeds of readers marked public are also served by the site, beside its pages."""
    days = [site.SiteDay(day, by_popularity(store.papers(on=day))) for day in store.digest_dates()]
    served = feeds.public_feeds(
        _recent(days, config.site.feed_items), site=config.site, links=links, env=env
    )
    files = list(served)
    public = []
    since = days[-1].date - timedelta(days=FEED_DAYS - 1) if days else None
    for reader in readers:
        # a public reader's page lists every digest; their feed, like anyone's, the recent ones
        built = store.digests(reader, since=None if reader.public else since)
        recent = [d for d in built if since is None or d.date >= since]
        mine = feeds.reader_feeds(recent, reader=reader, site=config.site, links=links, env=env)
        files += mine
        if reader.public:
            public.append((reader, built))
            served += mine
    written = files_out.deliver(files, config.out_dir)
    pages = site.pages(days, public, site=config.site, links=links, env=env)
    result = write_site(config.out_dir / layout.SITE, [*pages, *served])
    log.info(
        "site: %d files written, %d unchanged, %d removed%s",
        result.written,
        result.unchanged,
        result.removed,
        " (the whole site rebuilt)" if result.full else "",
    )
    return written


def _recent(days: Sequence[site.SiteDay], items: int) -> list[tuple[date, Sequence[StoredPaper]]]:
    """The newest days, enough of them to fill a feed of `items` entries, oldest first."""
    chosen: list[tuple[date, Sequence[StoredPaper]]] = []
    count = 0
    for day in reversed(days):
        chosen.append((day.date, day.papers))
        count += len(day.papers)
        if count >= items:
            break
    return chosen[::-1]
