"""The commands for running unattended: schedule, backup."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from digest.cli.arguments import writable_path
from digest.cli.commands import _config, _now, _store
from digest.errors import DigestError
from digest.operate import Operator
from digest.pipeline import readers


def cmd_schedule(args: argparse.Namespace) -> int:
    from digest import schedule  # APScheduler loads only for this command

    config = _config(args)
    with _store(args, config) as store:
        active = readers(store)
    if args.list:
        for line in schedule.listing(config, active, _now()):
            print(line)
        return 0
    return schedule.run(config, active, Operator(config))


def cmd_backup(args: argparse.Namespace) -> int:
    config = _config(args)
    target: Path = args.path
    if target.is_dir():
        target = target / f"digest-{_now():%Y%m%dT%H%M%S}.sqlite3"
    if target.resolve() == (getattr(args, "store", None) or config.store).resolve():
        raise DigestError(f"{target}: that is the store itself")
    with _store(args, config) as store:
        store.backup(target)
    print(f"digest backup: {store.path} -> {target}", file=sys.stderr)
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
        type=writable_path,
        metavar="PATH",
        help="a file, or an existing folder for a dated copy",
    )
