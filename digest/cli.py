"""The command line: parse arguments, read the clock, call the pipeline, print one clear line.

stdout holds results (exactly one JSON document with --json); logs, warnings and the summary line
go to stderr. Errors print `error: <what> (<hint>)` and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from digest import __version__, ingest, pipeline, sources
from digest.config import Config, load_config
from digest.errors import ConfigError, DigestError, StoreError
from digest.fetch import Fetcher
from digest.models import Digest, SourceOutcome, StoredPaper
from digest.store import Store

log = logging.getLogger("digest")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="config file (default: ./config.yaml)",
    )
    common.add_argument(
        "--store",
        type=Path,
        default=argparse.SUPPRESS,
        help="SQLite store (default: the config's `store`)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and debug logs",
    )
    main = argparse.ArgumentParser(
        prog="digest",
        parents=[common],
        description="Daily research-paper digests, ranked per reader.",
    )
    main.add_argument("--version", action="version", version=f"digest {__version__}")
    sub = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=text, description=text)

    ingest_cmd = command("ingest", "ingest the configured sources, or the files given")
    ingest_cmd.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    ingest_cmd.add_argument("--kind", choices=sorted(sources.SOURCES))
    ingest_cmd.add_argument("--date", type=_day, help="digest date; wins over the page's header")
    ingest_cmd.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only this configured source (repeatable)",
    )
    ingest_cmd.add_argument(
        "--from", dest="first", type=_day, metavar="D1", help="backfill a {date} source from D1 ..."
    )
    ingest_cmd.add_argument(
        "--to", dest="last", type=_day, metavar="D2", help="... to D2 (inclusive)"
    )
    ingest_cmd.add_argument("--json", action="store_true", help="print the outcome of each source")

    papers = command("papers", "list the papers of a digest date")
    papers.add_argument("--date", type=_day, help="default: the newest date in the store")
    papers.add_argument("--json", action="store_true")

    rank = command("rank", "rank a digest date's papers for one reader")
    rank.add_argument("reader")
    rank.add_argument("--date", type=_day, help="default: the newest date in the store")
    rank.add_argument("--top", type=_positive, help="how many papers (default: the reader's top_k)")
    rank.add_argument("--json", action="store_true")

    for name, text in (
        ("build", "write every reader's digest"),
        ("run", "ingest the configured sources, then build their dates"),
    ):
        cmd = command(name, text)
        cmd.add_argument("--date", type=_day, help="the digest date to act on")

    config = command("config", "check config.yaml")
    config.add_argument("action", choices=["check"])
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    _log_to_stderr(logging.DEBUG if debug else logging.INFO)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        if debug:
            raise
        return 1
    except DigestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if debug:
            raise
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _log_to_stderr(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    log.handlers = [handler]
    log.setLevel(level)
    log.propagate = False


class _LineFormatter(logging.Formatter):
    """`warning: ...` on one line; multi-line messages are folded so each record stays one line."""

    def format(self, record: logging.LogRecord) -> str:
        text = " ".join(record.getMessage().split())
        return f"{record.levelname.lower()}: {text}"


# -- commands ---------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    path = getattr(args, "config", None) or Path("config.yaml")
    return load_config(path, kinds=sources.SOURCES.keys())


def _store(args: argparse.Namespace, config: Config) -> Store:
    return Store.open(getattr(args, "store", None) or config.store)


def _now() -> datetime:
    return datetime.now().astimezone()


def _digest_day(store: Store, requested: date | None) -> date:
    if requested is not None:
        return requested
    latest = store.latest_date()
    if latest is None:
        raise StoreError(f"{store.path}: no papers yet", hint="run `digest ingest` first")
    return latest


def cmd_ingest(args: argparse.Namespace) -> int:
    started, clock = _now(), time.monotonic()
    config = _config(args)
    with _store(args, config) as store:
        outcomes = _ingest(args, config, store, started)
        line = pipeline.summary("ingest", outcomes, None, time.monotonic() - clock)
        _record(store, "ingest", started, clock, line, outcomes)
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
    progress = _progress_bar if sys.stderr.isatty() and len(units) > 1 else None
    try:
        return ingest.ingest(
            store, units, today=now.date(), now=now, fetcher=fetcher, progress=progress
        )
    finally:
        if progress is not None:
            print(file=sys.stderr)
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


def _progress_bar(done: int, total: int, label: str) -> None:
    width = 30
    filled = width * done // total
    text = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[-40:]}"
    print(text.ljust(90), end="", file=sys.stderr, flush=True)


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
    profile = config.reader(args.reader)
    if args.top:
        profile = replace(profile, top_k=args.top)
    with _store(args, config) as store:
        day = _digest_day(store, args.date)
        (digest,) = pipeline.make_digests(store, [profile], day=day, now=_now())
    if args.json:
        _print_json(_rank_json(digest))
    else:
        for i, item in enumerate(digest.papers, 1):
            terms = ", ".join(t.term for t in item.terms)
            print(f"{i:3d}  {item.score:.3f}  {' '.join(item.paper.title.split())}  [{terms}]")
    print(
        f"digest rank: {len(digest.papers)} of {digest.candidates} papers on {day} "
        f"for {profile.name}",
        file=sys.stderr,
    )
    return 0


def _rank_json(digest: Digest) -> dict[str, Any]:
    return {
        "reader": digest.reader.name,
        "date": digest.date.isoformat(),
        "papers": [
            {
                "id": item.paper.id,
                "title": item.paper.title,
                "score": item.score,
                "terms": [t.term for t in item.terms],
                "url": item.paper.url,
            }
            for item in digest.papers
        ],
    }


def cmd_build(args: argparse.Namespace) -> int:
    started, clock = _now(), time.monotonic()
    config = _config(args)
    with _store(args, config) as store:
        result = pipeline.build(config, store, days=[_digest_day(store, args.date)], now=started)
        line = pipeline.summary("build", [], result, time.monotonic() - clock)
        _record(store, "build", started, clock, line, [], result)
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
        result = pipeline.build(config, store, days=days, now=started)
        line = pipeline.summary("run", outcomes, result, time.monotonic() - clock)
        _record(store, "run", started, clock, line, outcomes, result)
    print(line, file=sys.stderr)
    failed = result.failures or any(o.status == "failed" for o in outcomes)
    return 1 if failed else 0


def cmd_config(args: argparse.Namespace) -> int:
    config = _config(args)
    print(f"{config.path}: ok, {len(config.sources)} sources, {len(config.readers)} readers")
    return 0


def _record(
    store: Store,
    command: str,
    started: datetime,
    clock: float,
    line: str,
    outcomes: Sequence[SourceOutcome],
    result: pipeline.BuildResult | None = None,
) -> None:
    report = {
        "sources": [asdict(o) for o in outcomes],
        "digests": [str(p) for p in result.written] if result else [],
        "failures": list(result.failures) if result else [],
    }
    store.record_run(
        command, started=started, seconds=time.monotonic() - clock, summary=line, report=report
    )


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


COMMANDS = {
    "ingest": cmd_ingest,
    "papers": cmd_papers,
    "rank": cmd_rank,
    "build": cmd_build,
    "run": cmd_run,
    "config": cmd_config,
}

if __name__ == "__main__":
    sys.exit(main())
