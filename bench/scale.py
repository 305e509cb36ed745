"""Benchmark: a newsletter at scale on PostgreSQL: sharded builds, many send workers.

    python bench/scale.py [--pg URL] [--readers 100000] [--send 10000] [--workers 1,2,4,8]
                          [--latency 0.02] [--skip-build] [--skip-send]

Build (`--readers` readers, keywords drawn from the day's titles, an address each): a day of
the bundled example pages ingested with `digest ingest` into a fresh PostgreSQL schema (timed),
then `digest build` of that day as one process, and as two `digest build --shard K/2` processes
side by side on another copy of the same store: seconds and digests/s for each (every digest's
Markdown, HTML and .eml written, a ledger row planned each; the shard that finishes last
writes the feeds and the archive). The readers are added to an SQLite store once and moved to
each PostgreSQL schema with `digest store copy` (not timed).

Send (`--send` readers, the ratios do not depend on the count): a store with that many active
readers, a small message each written as `digest build` writes it (`mail/<reader>/<date>.eml`) and
a pending ledger row each; an SMTP sink in a child process that answers each message after
`--latency` seconds (a relay's latency) and counts what each recipient got. `digest send
--workers N` (app/sending.send_day) for each N on a fresh PostgreSQL schema, then the same on
SQLite with one worker beside it. Prints messages/s for each, the ratio to one worker, and peak
memory (max RSS of this process and of the workers). Exits 1 unless every run ends with each
recipient counted exactly once by the sink (no duplicate, none missing) and every ledger row
`sent`. Target: 8 workers at least 6x one worker.

The PostgreSQL server: `--pg URL` (or DIGEST_TEST_PG), else a throwaway one started with
.ci/postgres for the run and stopped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from digest.app import sending, upkeep, wiring  # noqa: E402
from digest.models import Profile  # noqa: E402
from digest.store import Store  # noqa: E402

DAY = date(2025, 8, 20)
HOST = "127.0.0.1"
SECRET = {"DIGEST_SECRET": "a-benchmark-secret-of-at-least-32-characters"}
PAGE = ROOT / "examples" / "pages" / "000_136fd171620bccff.txt"
BUILD = """\
store: out/unused.sqlite3
out_dir: {out}
sources:
  - {{name: aug, kind: hf_text, path: {page}, date: 2025-08-20}}
delivery:
  method: smtp
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  smtp: {{host: 127.0.0.1, port: 25, security: none}}
readers:
  - name: ops
    interests: {{keywords: [graphs]}}
"""
CONFIG = """\
store: out/unused.sqlite3
out_dir: {out}
delivery:
  method: smtp
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  rate: 100000
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 30, per_connection: 1000}}
readers:
  - name: ops
    interests: {{keywords: [graphs]}}
"""


# -- the sink: a relay that takes `latency` seconds per message, in a child process ------------


class Relay(asyncio.Protocol):
    """One SMTP session of the sink: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; each
    message's final reply comes `latency` seconds after its end arrived (a relay's latency), and
    its recipients are counted then. A lean server of its own, not aiosmtpd: the sink shares
    the machine's cores with the workers it measures, and aiosmtpd's line-by-line reading of a
    message costs more CPU than the sender does."""

    def __init__(self, latency: float, got: Counter[str]) -> None:
        self.latency, self.got = latency, got
        self.buffer = b""
        self.data: bytearray | None = None  # inside DATA: what came so far
        self.to: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, chunk: bytes) -> None:
        if self.data is not None:
            self.message(chunk)
            return
        self.buffer += chunk
        while self.data is None and b"\r\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\r\n")
            self.command(line)
        if self.data is not None and self.buffer:
            rest, self.buffer = self.buffer, b""
            self.message(rest)

    def command(self, line: bytes) -> None:
        verb, _, argument = line.decode("ascii", "replace").partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            self.transport.write(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        elif verb == "MAIL":
            self.to = []
            self.transport.write(b"250 OK\r\n")
        elif verb == "RCPT":
            self.to.append(argument.partition(":")[2].split()[0].strip("<>"))
            self.transport.write(b"250 OK\r\n")
        elif verb == "DATA":
            self.data = bytearray(b"\r\n")  # the terminator may end an empty message
            self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == "QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
        elif verb == "RSET":
            self.to = []
            self.transport.write(b"250 OK\r\n")
        elif verb in ("HELO", "NOOP"):
            self.transport.write(b"250 OK\r\n")
        else:
            self.transport.write(b"502 Command not implemented\r\n")

    def message(self, chunk: bytes) -> None:
        assert self.data is not None
        seen = max(0, len(self.data) - 4)
        self.data += chunk
        end = self.data.find(b"\r\n.\r\n", seen)
        if end < 0:
            return
        rest = bytes(self.data[end + 5 :])
        self.data, to, self.to = None, self.to, []
        asyncio.get_running_loop().call_later(self.latency, self.accepted, to)
        if rest:
            self.data_received(rest)

    def accepted(self, to: list[str]) -> None:
        self.got.update(to)
        if not self.transport.is_closing():
            self.transport.write(b"250 OK queued\r\n")


def _serve(conn: Connection, latency: float) -> None:
    async def run() -> None:
        got: Counter[str] = Counter()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Relay(latency, got), HOST, 0)
        conn.send(server.sockets[0].getsockname()[1])
        while await loop.run_in_executor(None, conn.recv) == "take":
            conn.send(dict(got))
            got.clear()
        server.close()

    asyncio.run(run())


@contextmanager
def sink(latency: float) -> Iterator[tuple[int, Connection]]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve, args=(theirs, latency), daemon=True)
    child.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the SMTP sink did not start (see its traceback above)")
        yield ours.recv(), ours
    finally:
        if child.is_alive():
            ours.send("stop")
        child.join(10)


def take(conn: Connection) -> Counter[str]:
    conn.send("take")
    return Counter(conn.recv())


# -- the PostgreSQL server -------------------------------------------------------------------


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    started = subprocess.run(
        [str(ROOT / ".ci" / "postgres"), "start"], capture_output=True, text=True, check=True
    )
    found = dict(
        line.removeprefix("export ").split("=", 1)
        for line in started.stdout.splitlines()
        if "=" in line
    )
    env = {**os.environ, "DIGEST_TEST_PG_DIR": found["DIGEST_TEST_PG_DIR"].strip("'")}
    try:
        yield found["DIGEST_TEST_PG"].strip("'")
    finally:
        subprocess.run([str(ROOT / ".ci" / "postgres"), "stop"], env=env, check=False)


def fresh_schema(server: str) -> str:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{server}?options=-csearch_path%3D{schema}"


# -- the send runs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    workers: int
    messages: int
    seconds: float
    duplicates: int
    missing: int
    unsent: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def names(count: int) -> list[str]:
    return [f"r{n:06d}" for n in range(count)]


def write_messages(out: Path, readers: list[str]) -> None:
    body = "A paper about graphs, with its abstract and its authors.\r\n" * 280  # about 16 KB
    for name in readers:
        path = out / "mail" / name / f"{DAY}.eml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            f"From: Paper Digest <digest@example.org>\r\nTo: {name}@example.org\r\n"
            f"Subject: Digest for {name}\r\nMessage-ID: <{DAY}.{name}@example.org>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}".encode()
        )


def plan(location: str, readers: list[str]) -> None:
    now = datetime.now(UTC)
    with Store.open(location) as store:
        profiles = [Profile(n, keywords=("graphs",), email=f"{n}@example.org") for n in readers]
        store.sync_readers(profiles, now=now)
        store.plan_deliveries(
            DAY,
            [(n, [f"{n}@example.org"]) for n in readers],
            now=now,
            give_up=now + timedelta(days=1),
        )


def send(
    label: str, location: str, config_path: Path, readers: list[str], workers: int, conn: Connection
) -> Run:
    plan(location, readers)
    config = wiring.load(config_path, environ={"DIGEST_STORE": location})
    with Store.open(location) as store:
        began = time.perf_counter()
        report = sending.send_day(config, store, DAY, workers=workers, environ=SECRET)
        for failure in report.failures[:3]:
            print(f"    {failure}")
        seconds = time.perf_counter() - began
        unsent = sum(d.status != "sent" for d in store.deliveries(DAY))
    got = take(conn)
    want = Counter(f"{n}@example.org" for n in readers)
    duplicates = sum(max(0, got[a] - 1) for a in got)
    missing = sum(1 for a in want if got[a] == 0)
    run = Run(label, workers, sum(report.attempted.values()), seconds, duplicates, missing, unsent)
    print(
        f"  {label:<11} {workers} worker{'s' if workers > 1 else ' '}: "
        f"{run.messages:,} messages in "
        f"{seconds:6.1f} s, {run.rate:7.1f} msg/s; duplicates {duplicates}, missing {missing}, "
        f"rows not sent {unsent}",
        flush=True,
    )
    return run


# -- the build runs ---------------------------------------------------------------------------


def digest(config: Path, location: str, *args: str) -> subprocess.Popen[bytes]:
    """`digest ARGS` on the store at `location`, as its own process."""
    env = {
        **os.environ,
        **SECRET,
        "DIGEST_STORE": location,
        "DIGEST_NOW": "2025-08-21T06:00:00+00:00",
    }
    command = [sys.executable, "-m", "digest", "--config", str(config), "-q", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(*running: subprocess.Popen[bytes]) -> None:
    for process in running:
        _, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{process.args}: exit {process.returncode}: {err.decode()[-500:]}")


def readers_store(folder: Path, server: str, count: int, config: Path) -> tuple[Path, float]:
    """An SQLite store with the day ingested and `count` readers (copied into each schema a
    run builds on), and the seconds `digest ingest` of the day takes on PostgreSQL."""
    timed = fresh_schema(server)
    began = time.perf_counter()
    finish(digest(config, timed, "ingest"))
    seconds = time.perf_counter() - began
    template = folder / "template.sqlite3"
    finish(digest(config, str(template), "ingest"))
    now = datetime.now(UTC)
    with Store.open(template) as store:
        words = sorted({w.lower() for p in store.papers() for w in p.title.split() if len(w) > 6})
        for n in range(count):
            picked = tuple(words[(n * 7 + k * 13) % len(words)] for k in range(3))
            name = f"r{n:06d}"
            store.add_reader(Profile(name, keywords=picked, email=f"{name}@example.org"), now=now)
    return template, seconds


def build(folder: Path, server: str, count: int) -> None:
    out = folder / "build"
    config = folder / "build.yaml"
    config.write_text(BUILD.format(out=out, page=PAGE), encoding="utf-8")
    template, ingest_seconds = readers_store(folder, server, count, config)
    print(f"build: {count:,} readers; ingest of the day {ingest_seconds:.1f} s", flush=True)
    for shards in (1, 2):
        target = fresh_schema(server)
        upkeep.copy_store(template, target)
        shutil.rmtree(out, ignore_errors=True)
        began = time.perf_counter()
        if shards == 1:
            finish(digest(config, target, "build", "--date", str(DAY)))
        else:
            finish(
                *(
                    digest(config, target, "build", "--date", str(DAY), "--shard", f"{k}/{shards}")
                    for k in range(1, shards + 1)
                )
            )
        seconds = time.perf_counter() - began
        print(
            f"  {shards} shard{'s' if shards > 1 else ' '}: {seconds:6.1f} s, "
            f"{count / seconds:6.1f} digests/s",
            flush=True,
        )


def send_all(
    folder: Path, readers: list[str], counts: list[int], latency: float, pg: str | None
) -> list[Run]:
    """The send runs: each worker count on PostgreSQL, then one worker on SQLite."""
    runs: list[Run] = []
    write_messages(folder / "out", readers)
    print(
        f"send: {len(readers):,} readers, a {latency * 1000:.0f} ms relay, {os.cpu_count()} cores",
        flush=True,
    )
    with postgres(pg) as server, sink(latency) as (port, conn):
        config = folder / "config.yaml"
        config.write_text(CONFIG.format(out=folder / "out", port=port), encoding="utf-8")
        for workers in counts:
            runs.append(send("postgresql", fresh_schema(server), config, readers, workers, conn))
        runs.append(
            send(
                "sqlite",
                str(folder / f"store-{uuid.uuid4().hex}.sqlite3"),
                config,
                readers,
                1,
                conn,
            )
        )
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("DIGEST_TEST_PG"), help="a PostgreSQL URL")
    parser.add_argument("--readers", type=int, default=100_000, help="readers built for")
    parser.add_argument("--send", type=int, default=10_000, help="readers sent to")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--skip-send", action="store_true")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts, comma separated")
    parser.add_argument(
        "--latency", type=float, default=0.02, help="the sink's seconds per message"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    readers = names(args.send)
    folder = Path(tempfile.mkdtemp(prefix="digest-scale-"))
    runs: list[Run] = []
    try:
        if not args.skip_build:
            with postgres(args.pg) as server:
                build(folder, server, args.readers)
        if not args.skip_send:
            runs = send_all(folder, readers, counts, args.latency, args.pg)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    one = next((r for r in runs if r.label == "postgresql" and r.workers == 1), None)
    if one is not None:
        for run in runs:
            if run.label == "postgresql":
                print(f"  {run.workers} workers: {run.rate / one.rate:4.2f}x one worker")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak memory (max RSS): this process {own:.0f} MiB, "
        f"the largest child (a build, a worker or the sink) {children:.0f} MiB"
    )
    bad = [r for r in runs if r.duplicates or r.missing or r.unsent]
    if bad:
        print(f"FAILED: {len(bad)} runs sent a message twice, lost one or left rows unsent")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
