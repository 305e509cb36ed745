"""The command line: parse arguments, read the clock, call the floor (digest/app), print a line.

stdout holds results (exactly one JSON document with --json); logs, warnings and the summary line
go to stderr. Errors print `error: <what> (<hint>)` and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from digest import __version__
from digest.app import wiring
from digest.cli import evaluation, newsletter, operate, progress
from digest.cli.arguments import day, positive, shard, store
from digest.cli.commands import COMMANDS
from digest.errors import DigestError

log = logging.getLogger("digest")


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
        type=store,
        default=argparse.SUPPRESS,
        help="the store: an SQLite file or a postgresql:// URL "
        "(default: DIGEST_STORE, else the config's `store`)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and debug logs",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logs too",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="warnings and errors only",
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
    ingest_cmd.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="a page or feed file to ingest (default: the configured sources)",
    )
    ingest_cmd.add_argument(
        "--kind",
        choices=wiring.source_kinds(),
        help="how to read the files given (default: from each file's extension)",
    )
    ingest_cmd.add_argument(
        "--date",
        type=day,
        help="the digest date of the files given, the {date} sources and those named by --source",
    )
    _add_source_options(ingest_cmd)
    ingest_cmd.add_argument(
        "--from", dest="first", type=day, metavar="D1", help="backfill a {date} source from D1 ..."
    )
    ingest_cmd.add_argument(
        "--to", dest="last", type=day, metavar="D2", help="... to D2 (inclusive)"
    )
    ingest_cmd.add_argument("--json", action="store_true", help="print the outcome of each source")

    papers = command("papers", "list the papers of a digest date")
    papers.add_argument("--date", type=day, help="default: the newest date in the store")
    papers.add_argument("--json", action="store_true", help="print the papers as one JSON document")

    rank = command("rank", "rank a digest date's papers for one reader")
    rank.add_argument("reader", help="the reader's name")
    rank.add_argument("--date", type=day, help="default: the newest date in the store")
    rank.add_argument("--top", type=positive, help="how many papers (default: the reader's top_k)")
    rank.add_argument(
        "--json", action="store_true", help="print the ranking and its reasons as one JSON document"
    )

    build = command("build", "write every reader's digest")
    build.add_argument("--date", type=day, help="the digest date to act on")
    part = build.add_mutually_exclusive_group()
    part.add_argument(
        "--shard",
        type=shard,
        metavar="K/N",
        help="build only the readers of shard K of N (N processes or hosts build a day "
        "together); the last shard to finish writes the feeds and the archive",
    )
    part.add_argument(
        "--publish",
        action="store_true",
        help="build nothing: write the feeds and the archive site from the store",
    )
    run = command("run", "ingest the configured sources, build their dates, send the newest (SMTP)")
    run.add_argument(
        "--date",
        type=day,
        help="the digest date to build; also the date of the {date} sources and those named "
        "by --source",
    )
    _add_source_options(run)

    newsletter.add_parsers(command, day, common)
    operate.add_parsers(command, common)
    evaluation.add_parsers(command, positive)

    config = command("config", "check config.yaml")
    config.add_argument("action", choices=["check"], help="check: validate the configuration")

    feedback = command("feedback", "remember that a reader liked or disliked a paper")
    feedback.add_argument("reader", help="the reader's name")
    feedback.add_argument("paper", metavar="PAPER_ID", help="an id, an arXiv id or a title")
    label = feedback.add_mutually_exclusive_group(required=True)
    label.add_argument("--like", action="store_true", help="more papers like this one")
    label.add_argument("--dislike", action="store_true", help="fewer papers like this one")

    profile = command("profile", "show what a reader's profile has learned")
    profile.add_argument("action", choices=["show"], help="show: what the profile has learned")
    profile.add_argument("reader", help="the reader's name")
    profile.add_argument(
        "--json", action="store_true", help="print the profile as one JSON document"
    )

    return main


def _add_source_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only this configured source (repeatable)",
    )
    cmd.add_argument(
        "--redate",
        action="store_true",
        help="move papers a source announced before to the date read now (they keep the date "
        "they were first seen with otherwise)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code == 0:  # --help, --version: argparse ignores a write that failed
            with contextlib.suppress(BrokenPipeError):
                sys.stdout.flush()
            if _reader_gone():
                return _pipe_closed()
        raise
    debug = getattr(args, "debug", False)
    level = logging.INFO
    if getattr(args, "quiet", False):
        level = logging.WARNING
    if debug or getattr(args, "verbose", False):
        level = logging.DEBUG
    _log_to_stderr(level, stamped=args.command == "schedule")
    try:
        commands = COMMANDS | newsletter.COMMANDS | operate.COMMANDS | evaluation.COMMANDS
        code = commands[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not in the flush at exit
        return code
    except BrokenPipeError as exc:
        if _reader_gone():
            return _pipe_closed()
        return _failed(exc, debug)
    except (DigestError, OSError) as exc:  # OSError: a port taken, a file unreadable, a disk full
        return _failed(exc, debug)
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:
        if debug:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the details)")
        return 1


PIPE_CLOSED = 128 + 13  # what a shell reports for a command ended by SIGPIPE


def _failed(exc: Exception, debug: bool) -> int:
    """`error: <what> (<hint>)` on one line (a ConfigError's problems first, a line each); with
    --debug the traceback follows."""
    for problem in getattr(exc, "problems", ()):
        _error(str(problem))
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    _error(text)
    if debug:
        raise exc
    return 1


def _error(text: str) -> None:
    progress.BAR.clear()  # the line starts on its own, not after a progress bar
    try:
        print(f"error: {' '.join(text.split())}", file=sys.stderr)
    except BrokenPipeError:
        _pipe_closed()


def _reader_gone() -> bool:
    """Whether stdout or stderr is a pipe nobody reads any more (and not, say, a socket that
    broke inside a command). A pipe's write end polls as POLLERR once its reader has closed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)
        except (AttributeError, OSError, ValueError):  # no poll(), or a test's captured stream
            continue
        if any(events & select.POLLERR for _, events in poller.poll(0)):
            return True
    return False


def _pipe_closed() -> int:
    """The reader went away (`digest status --json | head -1`): stop quietly, as a command
    ended by SIGPIPE does, with nothing left for the flush at exit to fail on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # no descriptor: nothing flushed at exit
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
    return PIPE_CLOSED


def _log_to_stderr(level: int, *, stamped: bool = False) -> None:
    """One line per record, `level: message`; `stamped` (the long-running `digest schedule`)
    starts each with the UTC time, so a log of months can be read back."""
    handler = _BarClearing(sys.stderr)
    handler.setFormatter(_LineFormatter(stamped=stamped))
    # APScheduler's own lines (a job missed, an error) under the same format; its INFO lines
    # ("Running job ...") only with -v
    scheduler = logging.getLogger("apscheduler")
    scheduler.handlers = [handler]
    scheduler.setLevel(logging.DEBUG if level == logging.DEBUG else logging.WARNING)
    scheduler.propagate = False
    log.handlers = [handler]
    log.setLevel(level)
    log.propagate = False


class _BarClearing(logging.StreamHandler):
    """A stream handler that clears a progress bar showing, so each record starts its own line."""

    def emit(self, record: logging.LogRecord) -> None:
        progress.BAR.clear()
        super().emit(record)


class _LineFormatter(logging.Formatter):
    """`warning: ...` on one line; multi-line messages are folded so each record stays one line."""

    def __init__(self, *, stamped: bool = False) -> None:
        super().__init__()
        self.stamped = stamped

    def format(self, record: logging.LogRecord) -> str:
        text = " ".join(record.getMessage().split())
        line = f"{record.levelname.lower()}: {text}"
        if self.stamped:
            when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            line = f"{when} {line}"
        return line


if __name__ == "__main__":
    sys.exit(main())
