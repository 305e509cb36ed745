"""Benchmark: send 10,000 digests by SMTP through the ledger, beside a bare smtplib loop.

    python bench/send_smtp.py [--messages 10000] [--papers 15] [--profile 2000] [--thread-sink]

Setup (not counted): `--messages` readers, each with a digest of `--papers` papers (generated,
with abstracts and author lists of about real length) rendered and written as `digest build` does it
(`mail/<reader>/<date>.eml`), and a store with the readers and a pending ledger row each. The
messages go to an aiosmtpd sink on 127.0.0.1 that counts what it accepts, run in a child process
so that it does not take the GIL from the client (with `--thread-sink`, everything again with
the sink in a thread of this process, as aiosmtpd's Controller runs it in tests).

Ours: `Sender(...).send(day)` end to end (claims, ledger writes, file reads, SMTP) on one
connection, like the bare loop, then with the default `per_connection` of 100. Bare: one
`smtplib.SMTP` connection and `sendmail` for the same messages, read into memory first. Then,
to tell the costs apart: our `SmtpTransport` alone on the in-memory messages; `--profile N`
messages of ours under cProfile; and our sender with a transport that takes every message at
once (the ledger and the files, no SMTP), over all the rows and over N rows. Each run of ours
starts from a fresh copy of the store.

Prints messages/s, the ratio ours/bare, our extra time per message and peak memory (max RSS).
Exits 1 unless the sink took every message once per run, for each reader once, and the ledger
ends with every row `sent`. Target: ours >= 0.7 of the bare loop's rate.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import pstats
import random
import resource
import shutil
import smtplib
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: E402

from digest.app import outputs  # noqa: E402
from digest.config import Config  # noqa: E402
from digest.deliver.sender import Pacing, Sender, Transport  # noqa: E402
from digest.deliver.smtp import Outcome, SmtpSettings, SmtpTransport  # noqa: E402
from digest.models import Digest, Profile, Scored, Site, StoredPaper, Term  # noqa: E402
from digest.render.links import Links  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.tokens import Signer  # noqa: E402

HOST = "127.0.0.1"
DAY = date(2025, 8, 20)
NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
SITE = Site(
    title="Paper Digest",
    base_url="https://digest.example.org/",
    sender="Paper Digest <digest@example.org>",
)
ENVELOPE_FROM = SITE.address
ONE_CONNECTION = 10**9  # per_connection for "one connection, like the bare loop"
WORDS = (
    "model language diffusion reasoning agent training data benchmark vision transformer "
    "attention sparse scaling retrieval alignment reward policy learning neural graph token "
    "latent video image generation robust efficient inference memory compute evaluation "
    "multimodal instruction preference optimisation dataset segmentation speech planning "
    "we propose show method approach results state-of-the-art across tasks outperforms"
)


# -- setup ------------------------------------------------------------------------------------


def pool(rng: random.Random, size: int = 300) -> list[StoredPaper]:
    """Papers of about real length: abstracts of ~1,800 characters (a Daily Papers abstract
    averages ~1,340), titles of ~75, nine authors. `--papers` sets the size of a message."""
    vocabulary = WORDS.split()

    def words(n: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(n))

    papers = []
    for i in range(size):
        arxiv = f"2508.{10000 + i:05d}"
        sentences = [words(rng.randint(14, 24)).capitalize() + "." for _ in range(11)]
        papers.append(
            StoredPaper(
                id=f"arxiv:{arxiv}",
                title=words(9).capitalize(),
                abstract=" ".join(sentences),
                arxiv_id=arxiv,
                authors=tuple(f"Author {rng.randint(1, 5000)}" for _ in range(9)),
                url=f"https://arxiv.org/abs/{arxiv}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv}",
                code_url=f"https://github.com/example/{arxiv}" if i % 4 == 0 else None,
                project_url=None,
                categories=("cs.LG", "cs.CL"),
                published=NOW - timedelta(days=1),
                dates=(DAY,),
                sources=("hf",),
                upvotes=rng.randint(0, 120),
            )
        )
    return papers


def digests(papers: list[StoredPaper], n: int, per: int, rng: random.Random) -> list[Digest]:
    out = []
    for i in range(n):
        picked = rng.sample(papers, per)
        items = tuple(
            Scored(
                p,
                round(0.6 - rank * 0.01, 6),
                (Term("diffusion", 0.4), Term("reasoning", 0.3)),
                closest=picked[0] if rank % 3 == 1 else None,
                closeness=0.31 if rank % 3 == 1 else 0.0,
                popularity=0.08,
            )
            for rank, p in enumerate(picked)
        )
        reader = Profile(
            name=f"reader{i:05d}",
            display_name=f"Reader {i}",
            email=f"reader{i:05d}@example.org",
            keywords=("diffusion", "reasoning"),
        )
        out.append(Digest(reader, DAY, items, candidates=800, generated=NOW))
    return out


def build(root: Path, batch: list[Digest]) -> None:
    """Each reader's message under root/mail, rendered and written as `digest build` does."""
    config = Config(
        path=root / "config.yaml",
        store=root / "store.sqlite3",
        out_dir=root,
        templates=(),
        title=SITE.title,
        sources=(),
        readers=tuple(d.reader for d in batch),
        site=SITE,
    )
    links = Links(SITE.base_url, signer=Signer.from_text("bench-secret-" * 3))
    done = outputs.write_digests(batch, config=config, links=links, now=NOW)
    if done.failures or done.digests != len(batch):
        sys.exit(f"build failed: {done.failures[:3]}")


def ledger(path: Path, readers: list[Profile]) -> None:
    """A store at `path` with every reader active and a pending ledger row each for DAY."""
    with Store.open(path) as store:
        for reader in readers:
            store.add_reader(Profile(reader.name, keywords=("x",), email=reader.email), now=NOW)
        planned = [(r.name, [r.email or ""]) for r in readers]
        store.plan_deliveries(DAY, planned, now=NOW, give_up=NOW + timedelta(hours=20))


# -- the sink ---------------------------------------------------------------------------------


class Counting:
    """An aiosmtpd handler that accepts everything and counts messages and distinct recipients."""

    def __init__(self) -> None:
        self.messages = 0
        self.recipients: set[str] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages += 1
        self.recipients.update(envelope.rcpt_tos)
        return "250 OK"

    def take(self) -> tuple[int, int]:
        """(messages, distinct recipients) since the last take; called once the client is done."""
        taken = (self.messages, len(self.recipients))
        self.messages, self.recipients = 0, set()
        return taken


def free_port() -> int:
    """aiosmtpd's Controller cannot bind port 0 itself: ask the OS for a free port."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


Sink = tuple[int, Callable[[], tuple[int, int]]]  # (port, take)


@contextmanager
def thread_sink() -> Iterator[Sink]:
    """The sink in a thread of this process (as Controller runs it)."""
    handler, port = Counting(), free_port()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    try:
        yield port, handler.take
    finally:
        controller.stop()


def _serve(conn: Connection) -> None:
    with thread_sink() as (port, take):
        conn.send(port)
        while conn.recv() == "take":
            conn.send(take())


@contextmanager
def process_sink() -> Iterator[Sink]:
    """The sink in a child process, so the client has this process's GIL to itself."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding a store
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve, args=(theirs,), daemon=True)
    child.start()

    def take() -> tuple[int, int]:
        ours.send("take")
        return ours.recv()

    try:
        yield ours.recv(), take
    finally:
        ours.send("stop")
        child.join(10)
        ours.close()


# -- the runs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    messages: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def per_message(self) -> float:
        """Milliseconds per message."""
        return self.seconds * 1000 / self.messages


class NullTransport:
    """Takes every message at once: what our sender costs without any SMTP (the ledger, the
    files, the Date stamp)."""

    def send(
        self,
        sender: str,
        recipients: Sequence[str],
        message: bytes,
        *,
        before_data: Callable[[], None] | None = None,
    ) -> Outcome:
        if before_data is not None:
            before_data()
        return Outcome("sent", 250, "OK", tuple(recipients))

    def close(self) -> None:
        pass


class Timed:
    """A transport that adds up the time spent in the one it wraps, less the ledger write that
    one calls back before DATA: our run's time in SMTP, the rest being the ledger and files."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.seconds = 0.0

    def send(
        self,
        sender: str,
        recipients: Sequence[str],
        message: bytes,
        *,
        before_data: Callable[[], None] | None = None,
    ) -> Outcome:
        outside = 0.0

        def timed() -> None:
            nonlocal outside
            t = time.perf_counter()
            try:
                before_data()  # type: ignore[misc]  # only passed on when there is one
            finally:
                outside += time.perf_counter() - t

        t = time.perf_counter()
        try:
            return self.inner.send(sender, recipients, message, before_data=before_data and timed)
        finally:
            self.seconds += time.perf_counter() - t - outside

    def close(self) -> None:
        t = time.perf_counter()
        self.inner.close()
        self.seconds += time.perf_counter() - t


def smtp(port: int, per_connection: int = ONE_CONNECTION) -> SmtpTransport:
    return SmtpTransport(
        SmtpSettings(HOST, port, security="none", timeout=30, per_connection=per_connection)
    )


def send_ours(template: Path, root: Path, transport: Transport, n: int) -> Run:
    """`Sender.send` over a fresh copy of the ledger; checks every row ended `sent`."""
    path = root / "run.sqlite3"
    shutil.copyfile(template, path)
    with Store.open(path) as store:
        sender = Sender(
            store,
            transport,
            mail_dir=root / "mail",
            envelope_from=ENVELOPE_FROM,
            pacing=Pacing(rate=1e9, max_failures=10**9),
        )
        t = time.perf_counter()
        report = sender.send(DAY)
        seconds = time.perf_counter() - t
    for leftover in root.glob("run.sqlite3*"):
        leftover.unlink()
    if report.ledger != Counter(sent=n) or report.attempted != Counter(sent=n):
        sys.exit(f"ours: the ledger is not all sent: {report.line()}")
    return Run(seconds, n)


def send_bare(port: int, messages: list[tuple[str, bytes]]) -> Run:
    """One smtplib connection, `sendmail` per message: the floor of what SMTP costs here."""
    t = time.perf_counter()
    with smtplib.SMTP(HOST, port, timeout=30) as client:
        for to, data in messages:
            client.sendmail(ENVELOPE_FROM, [to], data, mail_options=["BODY=8BITMIME"])
    return Run(time.perf_counter() - t, len(messages))


def send_transport(port: int, messages: list[tuple[str, bytes]]) -> Run:
    """Our SmtpTransport alone on the in-memory messages: our SMTP code beside `sendmail`."""
    t = time.perf_counter()
    with smtp(port) as transport:
        kinds = Counter(transport.send(ENVELOPE_FROM, [to], data).kind for to, data in messages)
    seconds = time.perf_counter() - t
    if kinds != Counter(sent=len(messages)):
        sys.exit(f"transport alone: not all sent: {dict(kinds)}")
    return Run(seconds, len(messages))


def checked(name: str, take: Callable[[], tuple[int, int]], n: int) -> None:
    messages, recipients = take()
    if (messages, recipients) != (n, n):
        sys.exit(f"{name}: the sink took {messages} messages for {recipients} readers, not {n}")


def compare(
    label: str,
    sink: Sink,
    template: Path,
    root: Path,
    n: int,
    messages: Callable[[], list[tuple[str, bytes]]],
) -> tuple[Run, Run]:
    """Ours on one connection and with per_connection 100, the bare loop, our transport alone;
    prints them and returns (ours on one connection, bare)."""
    port, take = sink
    timed = Timed(smtp(port))
    ours = send_ours(template, root, timed, n)
    checked("ours", take, n)
    hundred_transport = smtp(port, per_connection=100)
    hundred = send_ours(template, root, hundred_transport, n)
    checked("ours (per_connection 100)", take, n)
    peaks.setdefault("after our sends", peak_mib())
    bare = send_bare(port, messages())
    checked("bare", take, n)
    alone = send_transport(port, messages())
    checked("transport alone", take, n)

    def line(name: str, run: Run, note: str) -> None:
        ratio = f"ratio {run.rate / bare.rate:.2f}" if run is not bare else " " * 10
        print(f"  {name:<30} {run.rate:7,.0f} msg/s  {run.seconds:6.2f} s  {ratio}  {note}")

    print(f"{label}:")
    line("bare smtplib loop", bare, "1 connection")
    extra = ours.per_message() - bare.per_message()
    line("ours", ours, f"1 connection; {extra:+.3f} ms per message than bare")
    in_smtp = timed.seconds * 1000 / n
    print(
        f"  {'':<30} of which per message: SMTP {in_smtp:.3f} ms, "
        f"the rest (ledger, files) {ours.per_message() - in_smtp:.3f} ms"
    )
    line("ours, per_connection 100", hundred, f"{hundred_transport.connections} connections")
    line("our SmtpTransport alone", alone, "1 connection; in memory, no ledger, no files")
    return ours, bare


# -- where the time goes ----------------------------------------------------------------------

PARTS = {  # (file path ending, function) -> what it stands for in our sender
    ("sqlite/deliveries.py", "expire_deliveries"): "ledger: expire (a write transaction)",
    ("sqlite/deliveries.py", "claim_delivery"): "ledger: claim (a write transaction)",
    ("sqlite/deliveries.py", "mark_transmitting"): "ledger: transmitting (a write transaction)",
    ("sqlite/deliveries.py", "finish_delivery"): "ledger: finish (a write transaction)",
    ("sqlite/deliveries.py", "deliveries"): "ledger: the day's rows for the report, once",
    ("~", "<method 'execute' of 'sqlite3.Connection' objects>"): "  SQLite statements, in all",
    ("pathlib.py", "read_bytes"): "reading the .eml file",
    ("sender.py", "stamp_date"): "stamping the Date header",
    ("deliver/smtp.py", "_wire"): "line endings and dot-stuffing (_wire)",
    ("deliver/smtp.py", "send"): "SMTP: transport.send, in all",
    ("~", "<method 'readline' of '_io.BufferedReader' objects>"): "  waiting for replies",
    ("~", "<method 'sendall' of '_socket.socket' objects>"): "  socket sendall",
}


def profile(template: Path, root: Path, port: int, n: int) -> None:
    """Our sender under cProfile: ms per message in its parts, and the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    run = send_ours(template, root, smtp(port), n)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    parts = dict.fromkeys(PARTS.values(), 0.0)
    table = stats.stats  # type: ignore[attr-defined]  # pstats' table: not in its stubs
    for (path, _, function), row in table.items():
        for (ending, name), label in PARTS.items():
            if function == name and path.endswith(ending):
                parts[label] += row[3]  # cumulative seconds
    print(
        f"profile: ours, {n:,} messages on 1 connection, {run.rate:,.0f} msg/s under cProfile; "
        "ms per message:"
    )
    for label, seconds in parts.items():
        print(f"  {label:<48} {seconds * 1000 / n:7.3f}")
    stats.strip_dirs().sort_stats("tottime").print_stats(15)


# -- main -------------------------------------------------------------------------------------


peaks: dict[str, float] = {}  # peak memory (max RSS) at points of the run


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=15, help="papers per digest")
    ap.add_argument("--profile", type=int, default=2000, help="messages to profile; 0: none")
    ap.add_argument(
        "--thread-sink", action="store_true", help="also run everything with the sink in a thread"
    )
    args = ap.parse_args()
    n = args.messages
    rng = random.Random(11)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        batch = digests(pool(rng), n, args.papers, rng)
        build(root, batch)
        readers = [d.reader for d in batch]
        del batch
        template, small = root / "ledger.sqlite3", root / "ledger-small.sqlite3"
        ledger(template, readers)
        sample = readers[: args.profile]
        if sample:
            ledger(small, sample)
        paths = [root / "mail" / r.name / f"{DAY}.eml" for r in readers]
        size = sum(p.stat().st_size for p in paths) / n
        print(
            f"setup: {n:,} readers, a {args.papers}-paper digest each (mean .eml "
            f"{size / 1024:.1f} KiB), rendered, written and in the ledger "
            f"({time.perf_counter() - t:.1f} s, not counted)"
        )
        peaks["after setup"] = peak_mib()

        @cache
        def messages() -> list[tuple[str, bytes]]:
            """The bare loop's messages, read into memory once, before its first run."""
            return [(r.email or "", p.read_bytes()) for r, p in zip(readers, paths, strict=True)]

        with process_sink() as sink:
            ours, bare = compare("sink in a child process", sink, template, root, n, messages)
            if sample:
                profile(small, root, sink[0], len(sample))
        if args.thread_sink:
            with thread_sink() as sink:
                compare("sink in a thread of this process", sink, template, root, n, messages)

        # our sender without SMTP: the ledger's cost, and how it grows with the day's rows
        null = send_ours(template, root, NullTransport(), n)
        text = f"{n:,} rows {null.per_message():.3f} ms per message"
        if sample:
            fewer = send_ours(small, root, NullTransport(), len(sample))
            text += f"; {len(sample):,} rows {fewer.per_message():.3f} ms per message"
        print(f"ours with a null transport (ledger, files, no SMTP): {text}")

    verdict = "met" if ours.rate >= 0.7 * bare.rate else "NOT met"
    print(
        f"result (sink in a child process, 1 connection): ours {ours.rate:,.0f} msg/s, "
        f"bare {bare.rate:,.0f} msg/s, ratio {ours.rate / bare.rate:.2f} "
        f"(target >= 0.70: {verdict})"
    )
    peaks["at the end (the bare loop's messages in memory)"] = peak_mib()
    print("peak memory (max RSS): " + "; ".join(f"{k} {v:,.0f} MiB" for k, v in peaks.items()))


if __name__ == "__main__":
    main()
