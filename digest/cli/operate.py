"""The commands for running unattended and looking after the store: schedule, backup, and
`store copy` (moving an install to another backend)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from digest.app import upkeep
from digest.app.jobs import Operator
from digest.app.wiring import readers
from digest.cli import arguments
from digest.cli.common import config_of, current_time, print_json, progress_bar, store_of


def cmd_schedule(args: argparse.Namespace) -> int:
    from digest import schedule  # APScheduler loads only for this command

    config = config_of(args)
    with store_of(args, config) as store:
        active = readers(store)
    if args.list:
        for line in schedule.listing(config, active, current_time()):
            print(line)
        return 0
    return schedule.run(config, active, Operator(config))


def cmd_backup(args: argparse.Namespace) -> int:
    config = config_of(args)
    target: Path = args.path
    if target.is_dir():
        target = target / f"digest-{current_time():%Y%m%dT%H%M%S}.sqlite3"
    with store_of(args, config) as store:
        store.backup(target, force=args.force)
    print(f"digest backup: {store.location} -> {target} (integrity check ok)", file=sys.stderr)
    return 0


def cmd_store(args: argparse.Namespace) -> int:
    """`digest store copy FROM TO`: no config.yaml needed, both stores are named."""
    clock = time.monotonic()
    bar = progress_bar if sys.stderr.isatty() and not args.json else None
    copied = upkeep.copy_store(args.source, args.target, progress=bar)
    if args.json:
        print_json({"tables": copied})
    else:
        for table, rows in copied.items():
            print(f"{table}: {rows} {'row' if rows == 1 else 'rows'}")
    print(
        f"digest store copy: {args.source} -> {args.target}; {len(copied)} tables, "
        f"{sum(copied.values())} rows, counts verified; {time.monotonic() - clock:.2f} s",
        file=sys.stderr,
    )
    return 0


COMMANDS = {"schedule": cmd_schedule, "backup": cmd_backup, "store": cmd_store}


def add_parsers(command: Any, common: argparse.ArgumentParser) -> None:
    schedule = command("schedule", "run ingest, build and each reader's send at their times")
    schedule.add_argument(
        "--list", action="store_true", help="print each job and its next run time, then exit"
    )
    backup = command("backup", "copy the store safely, even while digest runs")
    backup.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help="a new file (its folders made), or an existing folder for a dated copy",
    )
    backup.add_argument(
        "--force",
        action="store_true",
        help="replace PATH when it is an older backup (never a file that is not a digest store)",
    )
    store_cmd = command("store", "move an install: copy the store into another backend")
    actions = store_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    copy = actions.add_parser(
        "copy",
        parents=[common],
        help="copy every table into an empty store (SQLite to PostgreSQL and back)",
        description="copy every table of FROM into the empty store TO in one transaction, "
        "then check each table's count",
    )
    copy.add_argument(
        "source", type=arguments.store, metavar="FROM", help="an SQLite file or a postgresql:// URL"
    )
    copy.add_argument(
        "target",
        type=arguments.store,
        metavar="TO",
        help="a new SQLite file or an empty PostgreSQL schema (made a store, then filled)",
    )
    copy.add_argument("--json", action="store_true", help='print {"tables": {name: rows}}')
