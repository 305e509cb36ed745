"""`digest readers library READER FILE`: a reader's library imported as their liked papers."""

from __future__ import annotations

import argparse
import sys

from digest.app import library
from digest.app.wiring import Store
from digest.cli.common import current_time, print_json
from digest.errors import DigestError


def cmd_library(args: argparse.Namespace, store: Store) -> int:
    """The file read and matched (digest/app/library.py); the skipped entries listed, a line
    each, then the counts. Bad entries without --partial change nothing and exit 1."""
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise DigestError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
    report = library.import_library(
        store, args.reader, str(args.file), data, partial=args.partial, now=current_time()
    )
    if args.json:
        print_json(report.as_json())
    else:
        for line in report.reasons():
            print(line)
    if not report.changed:
        print(
            f"error: {report.line()} (fix the lines above, or import the rest with --partial)",
            file=sys.stderr,
        )
        return 1
    print(f"digest readers library: {report.line()}", file=sys.stderr)
    return 0
