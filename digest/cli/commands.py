"""The commands: each reads the config and the store, calls the stages, prints its results.

Only here (and in the scheduler) is the clock read; everything below takes `now` as an argument.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from digest import alerts, delivery, ingest, layout, pipeline, rank, sources
from digest.cli import progress
from digest.config import Config, load_config, templates
from digest.deliver import deliverer
from digest.deliver.sender import Clock, SendReport
from digest.errors import ConfigError, DigestError, StoreError
from digest.fetch import Fetcher
from digest.models import Digest, Profile, SourceOutcome, StoredPaper
from digest.render import why
from digest.store import Store

log = logging.getLogger("digest")


def _config(args: argparse.Namespace) -> Config:
    path = getattr(args, "config", None) or Path("config.yaml")
    return load_config(path, kinds=sources.SOURCES.keys())


def _store(args: argparse.Namespace, config: Config) -> Store:
    """The store, with config.yaml's readers loaded into it."""
    store = Store.open(_store_path(args, config))
    with contextlib.ExitStack() as opening:
        opening.enter_context(store)  # closed again (an SQLite error made one line) on failure
        store.sync_readers(config.readers, now=_now())
        opening.pop_all()
    return store


def _store_path(args: argparse.Namespace, config: Config) -> Path:
    return getattr(args, "store", None) or config.store


def _reader(config: Config, store: Store, name: str) -> Profile:
    """A reader the store knows (config.yaml's, or added later); ConfigError otherwise."""
    found = store.subscriber(name)
    if found is None:
        known = ", ".join(s.name for s in store.subscribers()) or "none"
        raise ConfigError(f"unknown reader {name!r} (known: {known})")
    return found.profile


def _model(config: Config, store: Store, day: date) -> rank.Model:
    cache = config.out_dir / layout.CACHE
    return pipeline.model_for(store, day, window_days=config.window_days, cache_dir=cache)


def _now() -> datetime:
    """The time now; DIGEST_NOW (an ISO 8601 time with its UTC offset) stops the clock there,
    so that a run can be repeated byte for byte."""
    fixed = os.environ.get("DIGEST_NOW")
    if not fixed:
        return datetime.now().astimezone()
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(
            f"DIGEST_NOW: expected an ISO 8601 time with its UTC offset, got {fixed!r}",
            hint="like 2025-08-20T06:30:00+00:00, or unset it",
        )
    return moment


def _sender_clock() -> Clock:
    """The sender's clock for `digest run`: the real one, or DIGEST_NOW's (see `_now`)."""
    return Clock(now=_now) if os.environ.get("DIGEST_NOW") else Clock()


def _digest_day(store: Store, requested: date | None) -> date:
    if requested is not None:
        return requested
    latest = store.latest_date()
    if latest is None:
        raise StoreError(f"{store.path}: no papers yet", hint="run `digest ingest` first")
    return latest


def _warn_if_empty(store: Store, day: date) -> None:
    """One warning line when a digest date asked for has no papers: its digests will be empty."""
    dates = store.digest_dates()
    if not dates:
        log.warning("%s: the store has no papers yet; its digests will be empty", day)
    elif day < dates[0]:
        log.warning(
            "%s is before the store's first day (%s); its digests will be empty", day, dates[0]
        )
    elif day not in dates:
        log.warning(
            "no papers were announced on %s (the store has %s to %s); its digests will be empty",
            day,
            dates[0],
            dates[-1],
        )


def cmd_ingest(args: argparse.Namespace) -> int:
    started, clock = _now(), time.monotonic()
    config = _config(args)
    with _store(args, config) as store:
        outcomes = _ingest(args, config, store, started)
        line = pipeline.summary("ingest", outcomes, None, time.monotonic() - clock)
        _record(config, store, "ingest", started, clock, line, outcomes)
    if args.json:
        _print_json([asdict(o) for o in outcomes])
    print(line, file=sys.stderr)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _ingest(
    args: argparse.Namespace, config: Config, store: Store, now: datetime
) -> list[SourceOutcome]:
    override = getattr(args, "date", None)
    units = _units(args, config, now.date(), override)
    fetcher = Fetcher() if any(isinstance(u, ingest.Unit) and u.is_url for u in units) else None
    progress = _progress_for(len(units))
    try:
        return ingest.ingest(
            store,
            units,
            today=now.date(),
            now=now,
            fetcher=fetcher,
            progress=progress,
            redate=getattr(args, "redate", False),
        )
    finally:
        if fetcher is not None:
            fetcher.close()


def _units(
    args: argparse.Namespace, config: Config, today: date, override: date | None
) -> Sequence[ingest.Unit | SourceOutcome]:
    paths = getattr(args, "paths", None)
    if paths:
        if getattr(args, "source", None) or getattr(args, "first", None):
            raise DigestError("give files or --source/--from/--to, not both")
        return ingest.file_units(paths, kind=getattr(args, "kind", None), day=override)
    names = getattr(args, "source", None) or []
    for name in names:
        if name not in {s.name for s in config.sources}:
            known = ", ".join(s.name for s in config.sources) or "none"
            raise ConfigError(f"unknown source {name!r} (known: {known})")
    first, last = getattr(args, "first", None), getattr(args, "last", None)
    if (first is None) != (last is None) or (first and last and first > last):
        raise DigestError("--from and --to go together, --from not after --to")
    days = ingest.days_between(first, last) if first and last else [override or today]
    return ingest.configured_units(config, days=days, override=override, names=names)


def _progress_for(total: int) -> Callable[[int, int, str], None] | None:
    """A progress bar for long work, on a terminal only (never in a log)."""
    return _progress_bar if total > 1 and sys.stderr.isatty() else None


_progress_bar = progress.BAR.step


def cmd_papers(args: argparse.Namespace) -> int:
    config = _config(args)
    with _store(args, config) as store:
        day = _digest_day(store, args.date)
        papers = store.papers(on=day)
    if args.json:
        _print_json([_paper_json(p) for p in papers])
    else:
        for paper in papers:
            print(f"{paper.id}\t{' '.join(paper.title.split())}")
    print(f"digest papers: {len(papers)} papers on {day}", file=sys.stderr)
    return 0


def _paper_json(paper: StoredPaper) -> dict[str, Any]:
    return {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "url": paper.url,
        "code_url": paper.code_url,
        "dates": [d.isoformat() for d in paper.dates],
        "sources": list(paper.sources),
    }


def cmd_rank(args: argparse.Namespace) -> int:
    config = _config(args)
    with _store(args, config) as store:
        profile = _reader(config, store, args.reader)
        if args.top:
            profile = replace(profile, top_k=args.top)
        day = _digest_day(store, args.date)
        model = _model(config, store, day)
        (digest,) = pipeline.make_digests(store, [profile], day=day, now=_now(), model=model)
    if args.json:
        _print_json(_rank_json(digest))
    else:
        for i, item in enumerate(digest.papers, 1):
            print(f"{i:3d}  {' '.join(item.paper.title.split())}  [{why.text(item)}]")
        if digest.near:
            print(f"     {why.LOOSE.lower()}: {why.LOOSE_NOTE[0].lower()}{why.LOOSE_NOTE[1:]}")
        for item in digest.near:
            print(f"  -  {' '.join(item.paper.title.split())}  [{why.text(item, True)}]")
    near = f" and {len(digest.near)} loosely related" if digest.near else ""
    print(
        f"digest rank: {len(digest.papers)} of {digest.candidates} papers{near} on {day} "
        f"for {profile.name}",
        file=sys.stderr,
    )
    return 0


def _rank_json(digest: Digest) -> dict[str, Any]:
    """The digest's papers, the matches first, then the loosely related ones (`"loose": true`),
    each with the reason every output gives (`why`) and its parts."""
    shown = [(item, False) for item in digest.papers] + [(item, True) for item in digest.near]
    return {
        "reader": digest.reader.name,
        "date": digest.date.isoformat(),
        "papers": [
            {
                "id": item.paper.id,
                "title": item.paper.title,
                "score": item.score,
                "loose": loose,
                "standing": item.standing,
                "why": why.text(item, loose),
                "terms": [{"term": t.term, "share": t.weight} for t in item.terms],
                "closest_liked": item.closest.id if item.closest else None,
                "closeness": item.closeness,
                "popularity_share": item.popularity,
                "followed_authors": list(item.authors),
                "url": item.paper.url,
            }
            for item, loose in shown
        ],
    }


def cmd_build(args: argparse.Namespace) -> int:
    started, clock = _now(), time.monotonic()
    config = _config(args)
    with _store(args, config) as store:
        if args.date is not None:
            _warn_if_empty(store, args.date)
        result = pipeline.build(config, store, days=[_digest_day(store, args.date)], now=started)
        line = pipeline.summary("build", [], result, time.monotonic() - clock)
        _record(config, store, "build", started, clock, line, [], result)
    print(line, file=sys.stderr)
    return 1 if result.failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    started, clock = _now(), time.monotonic()
    config = _config(args)
    with _store(args, config) as store:
        outcomes = _ingest(args, config, store, started)
        days = sorted({d for o in outcomes for d in o.dates})
        if args.date or not days:
            days = [_digest_day(store, args.date)]
        if args.date is not None:
            _warn_if_empty(store, args.date)
        result = pipeline.build(
            config, store, days=days, now=started, progress=_progress_for(len(days))
        )
        sent = None
        if deliverer(config).sends and (planned := store.delivery_dates()):
            sent = delivery.send_day(config, store, planned[-1], clock=_sender_clock())
        said = sent.line() if sent is not None else None
        line = pipeline.summary("run", outcomes, result, time.monotonic() - clock, said)
        _record(config, store, "run", started, clock, line, outcomes, result, sent=sent, alert=True)
    print(line, file=sys.stderr)
    failed = result.failures or any(o.status == "failed" for o in outcomes)
    return 1 if failed or (sent is not None and not sent.ok) else 0


def cmd_config(args: argparse.Namespace) -> int:
    """The config validated, then every template it would use compiled and rendered with sample
    digests (config/templates.py); each problem one line."""
    config = _config(args)
    problems = templates.check(config)
    if problems:
        raise ConfigError(
            f"{config.path}: {len(problems)} problem(s) in templates", problems=tuple(problems)
        )
    print(f"{config.path}: ok, {len(config.sources)} sources, {len(config.readers)} readers")
    return 0


def _record(
    config: Config,
    store: Store,
    command: str,
    started: datetime,
    clock: float,
    line: str,
    outcomes: Sequence[SourceOutcome],
    result: pipeline.BuildResult | None = None,
    *,
    sent: SendReport | None = None,
    alert: bool = False,
) -> None:
    """Record the command's run in the store; with `alert` (`run` and `send`, as the scheduled
    jobs), the operator is alerted by the rules of alerts.py."""
    report: dict[str, Any] = {
        "sources": [asdict(o) for o in outcomes],
        "digests": [str(p) for p in result.written] if result else [],
        "failures": list(result.failures) if result else [],
    }
    if sent is not None:
        report["send"] = {"attempted": dict(sent.attempted), "ledger": dict(sent.ledger)}
        report["failures"] += sent.failures + [
            f"sending {sent.day} {what}: {why}"
            for what, why in (("paused", sent.paused), ("stopped", sent.stopped))
            if why
        ]
    seconds = time.monotonic() - clock
    if not alert:
        store.record_run(command, started=started, seconds=seconds, summary=line, report=report)
        return
    alerts.conclude(
        config,
        store,
        command,
        started=started,
        seconds=seconds,
        summary=line,
        report=report,
        failures=report["failures"],
        now=_now(),
    )


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def cmd_feedback(args: argparse.Namespace) -> int:
    config = _config(args)
    with _store(args, config) as store:
        profile = _reader(config, store, args.reader)
        paper = store.record_feedback(profile.name, args.paper, liked=args.like, now=_now())
    word = "likes" if args.like else "dislikes"
    print(f"{profile.name} {word} {paper.id}: {' '.join(paper.title.split())}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    config = _config(args)
    with _store(args, config) as store:
        profile = _reader(config, store, args.reader)
        liked, disliked = pipeline.judgements(store, profile)
        latest = store.latest_date()
        model = _model(config, store, latest) if latest else rank.fit([])
    positive, negative = rank.profile_terms(model, (profile, liked), disliked)
    if args.json:
        _print_json(
            {
                "reader": profile.name,
                "keywords": list(profile.keywords),
                "liked": [p.id for p in liked],
                "disliked": [p.id for p in disliked],
                "positive_terms": [{"term": t.term, "weight": t.weight} for t in positive],
                "negative_terms": [{"term": t.term, "weight": t.weight} for t in negative],
            }
        )
        return 0
    print(f"reader:    {profile.name}")
    print(f"keywords:  {', '.join(profile.keywords) or '(none)'}")
    print(f"liked:     {len(liked)} papers; disliked: {len(disliked)} papers")
    print(
        f"drawn to:  {', '.join(f'{t.term} ({t.weight:.2f})' for t in positive) or '(nothing yet)'}"
    )
    print(
        f"kept from: {', '.join(f'{t.term} ({t.weight:.2f})' for t in negative) or '(nothing yet)'}"
    )
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "papers": cmd_papers,
    "rank": cmd_rank,
    "build": cmd_build,
    "run": cmd_run,
    "config": cmd_config,
    "feedback": cmd_feedback,
    "profile": cmd_profile,
}
