"""The commands: each parses its arguments, calls the floor (digest/app), prints its results.

Only here (and in the scheduler) is the clock read; everything below takes `now` as an argument.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

from digest.app import flow, wiring
from digest.app.wiring import Store
from digest.cli import progress
from digest.config import Config, templates
from digest.errors import ConfigError
from digest.models import Digest, Profile, SourceOutcome, StoredPaper
from digest.render import why

log = logging.getLogger("digest")


def _config(args: argparse.Namespace) -> Config:
    return wiring.load(getattr(args, "config", None))


def _store(args: argparse.Namespace, config: Config) -> Store:
    """The store, with config.yaml's readers loaded into it."""
    return wiring.open_store(_store_path(args, config), config, now=_now())


def _store_path(args: argparse.Namespace, config: Config) -> Path:
    return getattr(args, "store", None) or config.store


def _reader(config: Config, store: Store, name: str) -> Profile:
    """A reader the store knows (config.yaml's, or added later); ConfigError otherwise."""
    found = store.subscriber(name)
    if found is None:
        known = ", ".join(s.name for s in store.subscribers()) or "none"
        raise ConfigError(f"unknown reader {name!r} (known: {known})")
    return found.profile


_now = wiring.now


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


def _digest_day(store: Store, requested: date | None) -> date:
    """The date asked for (warned about when it has no papers), else the newest in the store."""
    day = wiring.digest_day(store, requested)
    if requested is not None:
        _warn_if_empty(store, requested)
    return day


def cmd_ingest(args: argparse.Namespace) -> int:
    started, clock = _now(), time.monotonic()
    config = _config(args)
    with _store(args, config) as store:
        units = _units(args, config, started.date())
        tally = flow.Tally("ingest", started)
        tally.sources = flow.ingest(
            store,
            units,
            today=started.date(),
            now=started,
            progress=_progress_for(len(units)),
            redate=getattr(args, "redate", False),
        )
        report = flow.conclude(
            config, store, tally.report(time.monotonic() - clock), alert=False, now=_now()
        )
    if args.json:
        _print_json([asdict(o) for o in report.sources])
    print(report.line(), file=sys.stderr)
    return 1 if report.sources_failed else 0


def _units(
    args: argparse.Namespace, config: Config, today: date
) -> Sequence[flow.Unit | SourceOutcome]:
    return wiring.units(
        config,
        today=today,
        override=getattr(args, "date", None),
        paths=getattr(args, "paths", None),
        kind=getattr(args, "kind", None),
        names=getattr(args, "source", None),
        first=getattr(args, "first", None),
        last=getattr(args, "last", None),
    )


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
        model = wiring.model(config, store, day)
        (digest,) = flow.make_digests(store, [profile], day=day, now=_now(), model=model)
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
        day = _digest_day(store, args.date)
        tally = flow.Tally("build", started)
        tally.add_build(flow.build(config, store, days=[day], now=started))
        report = flow.conclude(
            config, store, tally.report(time.monotonic() - clock), alert=False, now=_now()
        )
    print(report.line(), file=sys.stderr)
    return 0 if report.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    started = _now()
    config = _config(args)
    with _store(args, config) as store:
        units = _units(args, config, started.date())
        report = flow.run(
            config,
            store,
            units,
            now=started,
            requested=args.date,
            latest=_digest_day,
            clock=wiring.sender_clock(),
            progress=_progress_for,
            ingest_progress=_progress_for(len(units)),
            redate=getattr(args, "redate", False),
        )
        flow.conclude(config, store, report, now=_now())
    print(report.line(), file=sys.stderr)
    return 0 if report.ok and not report.sources_failed else 1


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
        liked, disliked = flow.judgements(store, profile)
        positive, negative = wiring.profile_terms(config, store, profile, liked, disliked)
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
