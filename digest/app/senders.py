"""A day's send (`send_day`): one sender in this process, or `workers` side by side (see
`send_in_workers`), each with its own store connection and SMTP connection. sending.py, which
holds the rest of delivery, offers it as its own.

Kept apart from sending.py and light to import: a worker is a fresh interpreter that imports
this module, and the store, config and delivery modules under it, before it sends its first
message; the building, rendering and fetching modules are not among them.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, BinaryIO

from digest import layout
from digest.deliver import deliverer
from digest.deliver.sender import Clock, Pacing, Sender, SendReport, Transport
from digest.errors import ConfigError, DeliveryError, DigestError
from digest.store import Store

if TYPE_CHECKING:
    from digest.config import Config


def now() -> datetime:
    """The time now; DIGEST_NOW (an ISO 8601 time with its UTC offset) stops the clock there,
    so that a run can be repeated byte for byte."""
    fixed = os.environ.get("DIGEST_NOW")
    if not fixed:
        return datetime.now().astimezone()
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(
            f"DIGEST_NOW: expected an ISO 8601 time with its UTC offset, got {fixed!r}",
            hint="like 2025-08-20T06:30:00+00:00, or unset it",
        )
    return moment


def sender_clock() -> Clock:
    """The sender's clock for a command: the real one, or DIGEST_NOW's (see `now`)."""
    return Clock(now=now) if os.environ.get("DIGEST_NOW") else Clock()


def pacing(config: Config) -> Pacing:
    return Pacing(rate=config.delivery.rate, max_failures=config.delivery.max_failures)


def send_day(
    config: Config,
    store: Store,
    day: date,
    *,
    wait: bool = False,
    transport: Transport | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    reader: str | None = None,
    retries_only: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int = 1,
) -> SendReport:
    """Send what is due of `day`'s ledger (only `reader`'s row, or only retries, when asked;
    see deliver/sender.py). With `workers` above 1, that many processes send side by side,
    each with its own store connection and its own SMTP connection (see `send_in_workers`)."""
    if workers > 1 and reader is None:
        return send_in_workers(config, store, day, workers=workers, wait=wait, environ=environ)
    chosen = deliverer(config)
    if transport is None or not chosen.sends:  # a ConfigError when the method sends nothing
        transport = chosen.transport(config, environ)
    sender = Sender(
        store,
        transport,
        mail_dir=config.out_dir / layout.MAIL,
        envelope_from=config.site.address,
        pacing=pacing(config),
        clock=clock or Clock(),
        progress=progress,
    )
    return sender.send(day, wait=wait, reader=reader, retries_only=retries_only)


def send_in_workers(
    config: Config,
    store: Store,
    day: date,
    *,
    workers: int,
    wait: bool = False,
    environ: Mapping[str, str] | None = None,
) -> SendReport:
    """`workers` sender processes on one day's ledger: each claims waiting rows in batches
    (other senders skip them), paces itself by the store's shared rate, and sends through an
    SMTP connection of its own; their reports are added up. Each is a fresh interpreter running
    this module (`python -m digest.app.senders`), so none shares a connection with this one and
    each imports only what sending needs (multiprocessing's spawn would import the command's
    whole main module first). The job comes on its stdin, its report goes back on a pipe of its
    own; a worker that fails is a DeliveryError once every worker has ended. The transport's
    settings are checked here first (a ConfigError before any worker starts)."""
    deliverer(config).transport(config, environ).close()  # connects at its first message
    job = pickle.dumps((config, store.location, day, wait, dict(environ or os.environ)))
    running: list[tuple[subprocess.Popen[bytes], BinaryIO]] = []
    try:
        for _ in range(workers):
            read, write = os.pipe()
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", __name__, str(write)],
                    stdin=subprocess.PIPE,
                    pass_fds=(write,),
                )
            finally:
                os.close(write)
            running.append((process, os.fdopen(read, "rb")))
        for process, _ in running:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError), process.stdin:  # gone: no report
                process.stdin.write(job)
        parts = [_report(process, result) for process, result in running]
    finally:
        for process, result in running:
            result.close()
            if process.poll() is None:
                process.kill()
                process.wait()
    failed = [p for p in parts if isinstance(p, str)]
    if failed:
        raise DeliveryError(f"{len(failed)} of {workers} send workers failed: {failed[0]}")
    total = SendReport(day)
    for part in parts:
        assert isinstance(part, SendReport)
        total.attempted.update(part.attempted)
        total.failures += part.failures
        total.paused = total.paused or part.paused
        total.stopped = total.stopped or part.stopped
    total.ledger = Counter(d.status for d in store.deliveries(day))
    total.next_due = store.next_due(day)
    total.paused = total.paused or store.sending_paused(day)
    return total


def _report(process: subprocess.Popen[bytes], result: BinaryIO) -> SendReport | str:
    """A worker's report, or why it has none."""
    said = result.read()
    code = process.wait()
    if not said:
        return f"exit status {code}, no report"
    found = pickle.loads(said)
    return found if isinstance(found, SendReport) else str(found)


def _worker(result: BinaryIO) -> None:
    """One sender process of `send_in_workers`: its job from stdin, its report (or its error
    in one line) to `result`."""
    config, location, day, wait, environ = pickle.load(sys.stdin.buffer)
    try:
        with Store.open(location) as store:
            report: SendReport | str = send_day(
                config, store, day, wait=wait, clock=sender_clock(), environ=environ
            )
    except DigestError as exc:
        report = str(exc)
    except Exception as exc:
        report = f"{type(exc).__name__}: {exc}"
    with result:
        result.write(pickle.dumps(report))


if __name__ == "__main__":
    _worker(os.fdopen(int(sys.argv[1]), "wb"))
