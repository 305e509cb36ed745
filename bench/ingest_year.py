"""Benchmark: ingest a year of Daily Papers API days, from disk and through a local HTTP server.

    python bench/ingest_year.py [--data ../shared/data/hf_api] [--http/--no-http]

Prints papers/s and peak memory for each route. The target is the year from disk in under 10 s on
the 2-core development machine. The HTTP route serves the same files from 127.0.0.1 and fetches
them one date at a time, as `digest ingest --source NAME --from D1 --to D2` does.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import ingest  # noqa: E402
from digest.fetch import Fetcher  # noqa: E402
from digest.models import SourceOutcome  # noqa: E402
from digest.store import Store  # noqa: E402

NOW = datetime(2025, 7, 1, tzinfo=UTC)


def run(units: Sequence[ingest.Unit | SourceOutcome], fetcher: Fetcher | None) -> None:
    """Once for time (no tracing: it slows Python down), once for peak memory (traced)."""
    seconds, outcomes, stored = _ingest(units, fetcher, trace=False)
    peak, _, _ = _ingest(units, fetcher, trace=True)
    seen = sum(o.papers_seen for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    print(f"  {len(outcomes)} files, {seen:,} papers seen, {stored:,} stored, {len(failed)} failed")
    print(
        f"  {seconds:.2f} s, {seen / seconds:,.0f} papers/s, "
        f"peak traced memory {peak / 2**20:.1f} MiB"
    )


def _ingest(
    units: Sequence[ingest.Unit | SourceOutcome], fetcher: Fetcher | None, *, trace: bool
) -> tuple[float, list[SourceOutcome], int]:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.db") as store:
        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        outcomes = ingest.ingest(store, units, today=NOW.date(), now=NOW, fetcher=fetcher)
        seconds = time.perf_counter() - start
        if trace:
            seconds = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return seconds, outcomes, len(store.papers())


def from_disk(files: list[Path]) -> None:
    print("from disk:")
    run([ingest.Unit("hf-api", "hf_api", str(f)) for f in files], None)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def over_http(data: Path, files: list[Path]) -> None:
    handler = functools.partial(_Quiet, directory=str(data))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    days = [date.fromisoformat(f.stem) for f in files]
    units = [ingest.Unit("hf-api", "hf_api", f"{base}/{d.isoformat()}.json", d) for d in days]
    print("over HTTP (127.0.0.1, no per-host delay):")
    try:
        with Fetcher(default_interval=0.0, host_intervals={}) as fetcher:
            run(units, fetcher)
    finally:
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hf_api")
    parser.add_argument("--http", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    files = sorted(f for f in args.data.glob("*.json") if _is_day(f.stem))
    if not files:
        sys.exit(f"no YYYY-MM-DD.json files in {args.data}")
    from_disk(files)
    if args.http:
        over_http(args.data, files)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (imports included): {peak_rss:.0f} MiB")


def _is_day(stem: str) -> bool:
    try:
        date.fromisoformat(stem)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    main()
