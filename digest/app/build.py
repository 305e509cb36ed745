"""The build step of the flow (after ingest.py): rank each reader's papers, curate, keep them in
the store, render and write them (outputs.py), plan the sends; then the feeds and the archive.
Each step is an explicit call to its stage; nothing is shared but the arguments.

A sharded build (`build_shard`, shards.py) builds one shard's readers with the model shared
through the store; the shard that completes the day's set writes the feeds and the archive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import jinja2

from digest import curate, layout, rank, render
from digest.app import library, outputs
from digest.app.shards import Shard
from digest.app.wiring import links_for, readers
from digest.config import WINDOW_DAYS, Config
from digest.deliver import deliverer
from digest.errors import DigestError
from digest.modelcache import corpus, model_for, shared_model
from digest.models import Digest, Profile, StoredPaper
from digest.render.links import Links
from digest.store import Store

log = logging.getLogger("digest")


@dataclass(frozen=True, slots=True)
class BuildResult:
    written: tuple[Path, ...]  # every file written
    failures: tuple[str, ...]
    digests: int = 0  # digests built and written


@dataclass(frozen=True, slots=True)
class ShardResult:
    """What one shard of a sharded build did."""

    shard: Shard
    day: date
    build: BuildResult  # its readers' digests, and the feeds and archive when it published
    done: tuple[int, ...]  # the shards of the day's set done so far, this one included
    fitted: bool  # whether this shard fitted the model (else it loaded another's)

    @property
    def published(self) -> bool:
        """Whether this shard completed the set, and so wrote the feeds and the archive."""
        return len(self.done) >= self.shard.of

    def line(self) -> str:
        """What the shard did, for the operator."""
        done = f"shard {self.shard} of {self.day} done ({len(self.done)} of {self.shard.of})"
        if self.published:
            return f"{done}: the last, so it wrote the feeds and the archive"
        return f"{done}: publishing left to the last shard (or `digest build --publish`)"


# -- rank, curate, render, deliver ------------------------------------------------------------


def make_digests(
    store: Store,
    profiles: Sequence[Profile],
    *,
    day: date,
    now: datetime,
    model: rank.Model | None = None,
    since: date | None = None,
    limit: int | None = None,
) -> list[Digest]:
    """Each reader's digest for one day (or of the papers from `since` to `day`: a weekly
    digest), ranked with `model` (fitted on the default window when none is given) to depth
    `limit` (by default `ranking_limit` of these readers)."""
    model = model if model is not None else rank.fit(corpus(store, day, WINDOW_DAYS))
    papers = store.papers(since=since or day, until=day)
    judged = {p.name: judgements(store, p) for p in profiles}
    readers = [(p, judged[p.name][0]) for p in profiles]
    disliked = {name: against for name, (_, against) in judged.items() if against}
    limit = ranking_limit(profiles) if limit is None else limit
    if papers:
        ranked = rank.rank_many(model, readers, papers, limit=limit, disliked=disliked)
    else:  # a date without papers (one asked for by --date): empty digests, nothing to rank
        ranked = {p.name: [] for p in profiles}
    return [
        curate.curate(ranked[p.name], p, day=day, now=now, candidates=len(papers)) for p in profiles
    ]


def ranking_limit(profiles: Sequence[Profile]) -> int:
    """How deep each reader's ranking goes: curation needs only the best few of it, and only
    those are explained. A shard ranks its readers to the depth of every reader's, so that
    each digest is the one an unsharded build makes."""
    return 2 * max((p.top_k for p in profiles), default=0) + 5


def judgements(store: Store, profile: Profile) -> tuple[list[StoredPaper], list[StoredPaper]]:
    """What a reader liked and disliked: their library's papers (library.py), config.yaml's
    `liked` and `disliked`, then feedback.

    The latest word on a paper counts: a paper liked in config.yaml or kept in the library and
    disliked later by feedback is disliked, and the other way round.
    """
    kept = store.library(profile.name)
    configured = kept + store.find(profile.liked)
    configured_against = store.find(profile.disliked)
    found = len(configured) - len(kept) + len(configured_against)
    missing = len(profile.liked) + len(profile.disliked) - found
    if missing:
        log.info("%s: %d liked or disliked papers are not in the store yet", profile.name, missing)
    liked, disliked = store.feedback(profile.name)
    for_ = {p.id for p in liked}
    against = {p.id for p in disliked}
    merged = {p.id: p for p in [*configured, *liked] if p.id not in against}
    merged_against = {
        p.id: p for p in [*configured_against, *disliked] if p.id not in for_ and p.id not in merged
    }
    return list(merged.values()), list(merged_against.values())


def build(
    config: Config,
    store: Store,
    *,
    days: Sequence[date],
    now: datetime,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> BuildResult:
    """Every active reader's digest for each day (Markdown, HTML preview, email message),
    remembered in the store; with SMTP delivery, a ledger row for each message of the newest
    day to send; then the feeds and the archive site. A failing reader is reported, not fatal.
    `progress(done, total, label)` is told after each day."""
    env = render.fresh_environment(config.templates)
    links = links_for(config, store, environ)
    profiles = readers(store)
    library.refresh(config, store, profiles, now=now, environ=environ)
    written: list[Path] = []
    failures: list[str] = []
    built = 0
    cache = config.out_dir / layout.CACHE
    for day in days:
        model = model_for(store, day, window_days=config.window_days, cache_dir=cache)
        digests = make_digests(store, profiles, day=day, now=now, model=model)
        # only the newest day goes out by mail: older days of a multi-day build (a backfill, a
        # catch-up) are written and kept, not sent late
        mail = day == max(days)
        done = _keep(config, store, digests, links=links, day=day, now=now, mail=mail)
        written += done.paths
        failures += done.failures
        built += done.digests
        if progress is not None:
            progress(days.index(day) + 1, len(days), day.isoformat())
    published = _publish(config, store, profiles, env=env, links=links)
    written += published.written
    failures += published.failures
    return BuildResult(tuple(written), tuple(failures), built)


def build_shard(
    config: Config,
    store: Store,
    *,
    day: date,
    now: datetime,
    shard: Shard,
    environ: Mapping[str, str] | None = None,
) -> ShardResult:
    """The digests of the active readers in `shard` for `day`, written and planned as `build`
    writes them (each byte the same), ranked with the day's model shared through the store
    (fitted by the first shard to ask, loaded by the others). The shard's completion is recorded;
    the one that completes the day's set of `shard.of` then writes the feeds and the archive."""
    links = links_for(config, store, environ)
    everyone = readers(store)
    mine = [p for p in everyone if shard.holds(p.name)]
    library.refresh(config, store, mine, now=now, environ=environ)
    model, fitted = shared_model(store, day, window_days=config.window_days)
    log.info(
        "shard %s: %d of %d readers, model %s",
        shard,
        len(mine),
        len(everyone),
        "fitted" if fitted else "loaded from the store",
    )
    digests = make_digests(
        store, mine, day=day, now=now, model=model, limit=ranking_limit(everyone)
    )
    kept = _keep(config, store, digests, links=links, day=day, now=now)
    built = BuildResult(tuple(kept.paths), tuple(kept.failures), kept.digests)
    done = tuple(store.finish_shard(day, shard.number, shard.of, now=now))
    result = ShardResult(shard, day, built, done, fitted)
    if not result.published:
        return result
    return replace(result, build=_merge(built, publish(config, store, environ=environ)))


def publish(
    config: Config, store: Store, *, environ: Mapping[str, str] | None = None
) -> BuildResult:
    """The feeds and the archive site written from what the store holds, as a build ends:
    after the last shard of a sharded build, or on demand (`digest build --publish`)."""
    env = render.fresh_environment(config.templates)
    links = links_for(config, store, environ)
    return _publish(config, store, readers(store), env=env, links=links)


def _publish(
    config: Config,
    store: Store,
    profiles: Sequence[Profile],
    *,
    env: jinja2.Environment,
    links: Links,
) -> BuildResult:
    """The feeds and the archive, or the one failure that stopped them (reported, not fatal:
    the digests are written already)."""
    try:
        return BuildResult(
            tuple(outputs.publish(config, store, profiles, env=env, links=links)), ()
        )
    except DigestError as exc:
        log.error("feeds and archive: %s", exc)
        return BuildResult((), (f"feeds and archive: {exc}",))


def _merge(one: BuildResult, other: BuildResult) -> BuildResult:
    return BuildResult(
        one.written + other.written, one.failures + other.failures, one.digests + other.digests
    )


def build_week(
    config: Config,
    store: Store,
    profiles: Sequence[Profile],
    *,
    day: date,
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> BuildResult:
    """Weekly readers' digests: the best of the papers of the seven days up to `day`, written
    as `day`'s digest, with a ledger row each when sending by SMTP."""
    links = links_for(config, store, environ)
    library.refresh(config, store, profiles, now=now, environ=environ)
    model = model_for(
        store, day, window_days=config.window_days, cache_dir=config.out_dir / layout.CACHE
    )
    digests = make_digests(
        store, profiles, day=day, now=now, model=model, since=day - timedelta(days=6)
    )
    done = _keep(config, store, digests, links=links, day=day, now=now, weekly=True)
    return BuildResult(tuple(done.paths), tuple(done.failures), done.digests)


def build_empty(
    config: Config,
    store: Store,
    profiles: Sequence[Profile],
    *,
    day: date,
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> BuildResult:
    """On a day with no announcements, a short digest for the readers who asked for one
    (`send.empty`) saying so, and their ledger rows when sending by SMTP."""
    links = links_for(config, store, environ)
    notice = f"No new papers were announced for {day}."
    digests = [Digest(p, day, (), 0, now, notice=notice) for p in profiles if p.send.empty]
    done = _keep(config, store, digests, links=links, day=day, now=now)
    return BuildResult(tuple(done.paths), tuple(done.failures), done.digests)


def _keep(
    config: Config,
    store: Store,
    digests: Sequence[Digest],
    *,
    links: Links,
    day: date,
    now: datetime,
    weekly: bool = False,
    mail: bool = True,
) -> outputs.Written:
    """A day's digests remembered, written (with the failing-source notice, if any, in front)
    and, when sending by SMTP, planned in the ledger."""
    if notice := failing_notice(config, store):
        digests = [replace(d, notice=f"{notice} {d.notice}".strip()) for d in digests]
    store.save_digests(digests)
    done = outputs.write_digests(digests, config=config, links=links, now=now)
    if mail and deliverer(config).plans_ledger:
        plan_sends(config, store, digests, set(done.paths), day=day, now=now, weekly=weekly)
    return done


def failing_notice(config: Config, store: Store) -> str:
    """One line for the top of a digest when a configured source failed on its last attempt:
    the digest may be missing that source's papers."""
    names = {s.name for s in config.sources}
    failing = [(name, error) for name, error in store.failing_sources() if name in names]
    if not failing:
        return ""
    if len(failing) == 1:
        name, error = failing[0]
        return f"the source {name} failed ({error[:120]}); this digest may be missing its papers."
    listed = ", ".join(name for name, _ in failing)
    return f"{len(failing)} sources failed ({listed}); this digest may be missing their papers."


def plan_sends(
    config: Config,
    store: Store,
    digests: Sequence[Digest],
    written: set[Path],
    *,
    day: date,
    now: datetime,
    weekly: bool = False,
) -> int:
    """A ledger row for each reader with an address whose message was written and has papers,
    loosely related ones included (or who asked for empty digests too); a reader whose digest
    failed to render gets none (the failure is reported). Rows already in the ledger
    for the day are left as they are, so rebuilding a day never sends twice."""
    due = [
        (d.reader.name, [d.reader.email])
        for d in digests
        if d.reader.email
        and d.reader.send.weekly == weekly  # weekly readers get the week's digest, once a week
        and (d.papers or d.near or d.reader.send.empty)  # no empty email unless asked for
        and message_path(config, d.reader.name, day) in written
    ]
    give_up = now + timedelta(hours=config.delivery.retry_hours)
    added = store.plan_deliveries(day, due, now=now, give_up=give_up)
    log.info("%s: %d messages to send (%d new in the ledger)", day, len(due), added)
    return added


def message_path(config: Config, reader: str, day: date) -> Path:
    """Where a reader's message of a day is written (and read back to be sent)."""
    return config.out_dir / layout.mail_path(reader, day)
