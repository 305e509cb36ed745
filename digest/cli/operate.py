"""The commands for running unattended: schedule, backup."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from digest.app.jobs import Operator
from digest.app.wiring import readers
from digest.cli.common import config_of, current_time, store_of


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


COMMANDS = {"schedule": cmd_schedule, "backup": cmd_backup}


def add_parsers(command: Any) -> None:
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
