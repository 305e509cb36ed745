"""The evaluation command: `digest eval`, the ranking protocol of ../shared/data/eval/README.md."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from digest import evaluate
from digest.cli.commands import _print_json
from digest.deliver.files import write_atomic
from digest.errors import DigestError


def cmd_eval(args: argparse.Namespace) -> int:
    clock = time.monotonic()
    spec = evaluate.load_spec(args.spec)
    listings = evaluate.load_listings(args.listings)
    names = args.ranker or list(evaluate.RANKERS)
    unknown = [n for n in names if n not in evaluate.RANKERS]
    if unknown:
        known = ", ".join(evaluate.RANKERS)
        raise DigestError(f"unknown ranker {unknown[0]!r} (known: {known})")
    rankers = {name: evaluate.RANKERS[name] for name in ["shipped", *names]}
    results: dict[str, list[evaluate.PairResult]] = {name: [] for name in rankers}
    for name, result in evaluate.evaluate_many(spec, listings, rankers):
        results[name].append(result)
    rows = {name: evaluate.summarise(found) for name, found in results.items()}
    if args.scores_out:
        lines = [
            json.dumps(
                {
                    "interest": r.interest,
                    "day": r.day.isoformat(),
                    "ranking": [pid.removeprefix("arxiv:") for pid in r.ranking],
                }
            )
            for r in results["shipped"]
        ]
        write_atomic(args.scores_out, ("\n".join(lines) + "\n").encode())
    if args.json:
        _print_json({"k": spec.k, "rankers": rows})
    else:
        k = spec.k
        print(f"{'ranker':<14} {'pairs':>5} {f'nDCG@{k}':>8} {f'P@{k}':>6} {'MAP':>6}")
        for name, row in rows.items():
            print(
                f"{name:<14} {row['pairs']:>5} {row['ndcg']:>8.3f} {row['precision']:>6.3f} "
                f"{row['map']:>6.3f}"
            )
    print(f"digest eval: {len(rows)} rankers, {time.monotonic() - clock:.1f} s", file=sys.stderr)
    return 0


COMMANDS = {"eval": cmd_eval}


def add_parsers(command: Any) -> None:
    evaluate = command("eval", "measure the ranking on labelled arXiv listings")
    evaluate.add_argument("spec", type=Path, metavar="SPEC.json")
    evaluate.add_argument("--listings", type=Path, required=True, metavar="FILE.jsonl.gz")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument(
        "--ranker",
        action="append",
        metavar="NAME",
        help="compare only these variants beside the shipped ranker (default: all of them)",
    )
    evaluate.add_argument(
        "--scores-out",
        type=Path,
        metavar="FILE.jsonl",
        help="write each (interest, day) ranking, best first",
    )
