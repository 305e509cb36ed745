"""The commands: each parses its arguments, calls the floor (digest/app), prints its results.

Only here (and in the scheduler) is the clock read; everything below takes `now` as an argument.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import Any

from digest.app import flow, wiring
from digest.cli.common import (
    config_of,
    current_time,
    digest_day,
    print_json,
    progress_for,
    reader_of,
    store_of,
)
from digest.config import Config, templates
from digest.errors import ConfigError, DigestError
from digest.models import Digest, SourceOutcome, StoredPaper
from digest.render import why

log = logging.getLogger("digest")


def cmd_ingest(args: argparse.Namespace) -> int:
    started, clock = current_time(), time.monotonic()
    config = config_of(args)
    with store_of(args, config) as store:
        units = _units(args, config, started.date())
        tally = flow.Tally("ingest", started)
        tally.sources = flow.ingest(
            store,
            units,
            today=started.date(),
            now=started,
            progress=progress_for(len(units)),
            redate=getattr(args, "redate", False),
        )
        report = flow.conclude(
            config, store, tally.report(time.monotonic() - clock), alert=False, now=current_time()
        )
    if args.json:
        print_json([asdict(o) for o in report.sources])
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


def cmd_papers(args: argparse.Namespace) -> int:
    config = config_of(args)
    with store_of(args, config) as store:
        day = digest_day(store, args.date)
        papers = store.papers(on=day)
    if args.json:
        print_json([_paper_json(p) for p in papers])
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
    config = config_of(args)
    with store_of(args, config) as store:
        profile = reader_of(config, store, args.reader)
        if args.top:
            profile = replace(profile, top_k=args.top)
        day = digest_day(store, args.date)
        model = wiring.model(config, store, day)
        (digest,) = flow.make_digests(store, [profile], day=day, now=current_time(), model=model)
    if args.json:
        print_json(_rank_json(digest))
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
    """Every reader's digest of a date, then the feeds and the archive; with --shard one
    shard's readers (the last shard publishes); with --publish only the feeds and archive."""
    started, clock = current_time(), time.monotonic()
    config = config_of(args)
    if args.publish and args.date:
        raise DigestError("--publish writes the feeds and the archive of every date: drop --date")
    note = None
    with store_of(args, config) as store:
        tally = flow.Tally("build", started)
        if args.publish:
            tally.add_build(flow.publish(config, store))
            note = "the feeds and the archive written"
        elif args.shard:
            day = digest_day(store, args.date)
            done = flow.build_shard(config, store, day=day, now=started, shard=args.shard)
            tally.add_build(done.build)
            note = done.line()
        else:
            day = digest_day(store, args.date)
            tally.add_build(flow.build(config, store, days=[day], now=started))
        report = flow.conclude(
            config, store, tally.report(time.monotonic() - clock), alert=False, now=current_time()
        )
    if note:
        print(f"digest build: {note}", file=sys.stderr)
    print(report.line(), file=sys.stderr)
    return 0 if report.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    started = current_time()
    config = config_of(args)
    with store_of(args, config) as store:
        units = _units(args, config, started.date())
        report = flow.run(
            config,
            store,
            units,
            now=started,
            requested=args.date,
            latest=digest_day,
            clock=wiring.sender_clock(),
            progress=progress_for,
            ingest_progress=progress_for(len(units)),
            redate=getattr(args, "redate", False),
        )
        flow.conclude(config, store, report, now=current_time())
    print(report.line(), file=sys.stderr)
    return 0 if report.ok and not report.sources_failed else 1


def cmd_config(args: argparse.Namespace) -> int:
    """The config validated, then every template it would use compiled and rendered with sample
    digests (config/templates.py); each problem one line."""
    config = config_of(args)
    problems = templates.check(config)
    if problems:
        raise ConfigError(
            f"{config.path}: {len(problems)} problem(s) in templates", problems=tuple(problems)
        )
    print(f"{config.path}: ok, {len(config.sources)} sources, {len(config.readers)} readers")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    config = config_of(args)
    with store_of(args, config) as store:
        profile = reader_of(config, store, args.reader)
        paper = store.record_feedback(profile.name, args.paper, liked=args.like, now=current_time())
    word = "likes" if args.like else "dislikes"
    print(f"{profile.name} {word} {paper.id}: {' '.join(paper.title.split())}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    config = config_of(args)
    with store_of(args, config) as store:
        profile = reader_of(config, store, args.reader)
        liked, disliked = flow.judgements(store, profile)
        positive, negative = wiring.profile_terms(config, store, profile, liked, disliked)
    if args.json:
        print_json(
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
