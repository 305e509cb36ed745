"""The evaluation command: `digest eval`, the ranking protocol of ../shared/data/eval/README.md.

    digest eval SPEC.json --listings FILE.jsonl.gz   one case
    digest eval --all-dev [DIR]                      the three dev cases of DIR, one table

Each case is ranked by the shipped ranker and the anchors (or the rankers named by --ranker), day
by day; with --feedback-days N, walking through the days with likes instead (see evaluate/run.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digest import evaluate
from digest.atomic import write_atomic
from digest.cli.arguments import existing_dir, existing_file, writable_path
from digest.cli.common import print_json
from digest.errors import DigestError
from digest.evaluate import report

DEV_DIR = Path("../shared/data/eval")


def cmd_eval(args: argparse.Namespace) -> int:
    clock = time.monotonic()
    rankers = evaluate.chosen(args.ranker)
    cases = _cases(args)
    days = args.feedback_days
    results = {
        case.name: evaluate.walk(case, rankers) if days else evaluate.evaluate(case, rankers)
        for case in cases
        if not days or len(case.spec.days) > 1
    }
    if days:
        doc = report.walk_document(cases, results, days)
        lines = report.walk_table(doc)
    else:
        doc = report.document(cases, results)
        lines = report.table(doc)
    if args.scores_out:
        scores = report.scores_lines(cases, results, walk=bool(days))
        write_atomic(args.scores_out, "".join(f"{line}\n" for line in scores).encode())
    if args.json:
        print_json(doc)
    else:
        print("\n".join(lines))
    walked = f", a walk of {days} feedback days" if days else ""
    print(
        f"digest eval: {len(results)} cases, {len(rankers)} rankers{walked}, "
        f"{time.monotonic() - clock:.1f} s",
        file=sys.stderr,
    )
    return 0


def _cases(args: argparse.Namespace) -> list[evaluate.Case]:
    if args.all_dev is not None:
        if args.spec or args.listings:
            raise DigestError("give SPEC.json --listings FILE or --all-dev, not both")
        return evaluate.dev_cases(args.all_dev)
    if not args.spec or not args.listings:
        raise DigestError("give SPEC.json and --listings FILE.jsonl.gz, or --all-dev [DIR]")
    return [evaluate.load_case(args.spec, args.listings)]


COMMANDS = {"eval": cmd_eval}


def add_parsers(command: Any, positive: Callable[[str], int]) -> None:
    cmd = command("eval", "measure the ranking on labelled arXiv listings")
    cmd.add_argument(
        "spec",
        type=existing_file,
        nargs="?",
        metavar="SPEC.json",
        help="a case: its interests, days and labels",
    )
    cmd.add_argument(
        "--listings",
        type=existing_file,
        metavar="FILE.jsonl.gz",
        help="the labelled arXiv listings the case draws on",
    )
    cmd.add_argument(
        "--all-dev",
        type=existing_dir,
        nargs="?",
        const=DEV_DIR,
        metavar="DIR",
        help=f"run the three dev cases of DIR (default {DEV_DIR}) and print one table",
    )
    cmd.add_argument("--json", action="store_true", help="print the results as one JSON document")
    cmd.add_argument(
        "--ranker",
        action="append",
        metavar="NAME",
        help=f"compare these beside the shipped ranker (default: {', '.join(evaluate.ANCHORS)}; "
        f"known: {', '.join(evaluate.RANKERS)})",
    )
    cmd.add_argument(
        "--feedback-days",
        type=positive,
        metavar="N",
        help="walk each interest through the test days, liking the relevant papers of each "
        "day's first k; report nDCG for day indexes 2..N and after N",
    )
    cmd.add_argument(
        "--scores-out",
        type=writable_path,
        metavar="FILE.jsonl",
        help="write the shipped ranker's line per (interest, day): its full ranking and how "
        "many papers the digest shows",
    )
