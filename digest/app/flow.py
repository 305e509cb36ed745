"""The flow: ingest, build, send, and `run`, the one ingest-build-send sequence `digest run`,
the scheduled jobs and the tests all call. Each step calls its stage; each run ends in
`conclude` (alerts.py's rules, the run recorded as one RunReport).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from digest import ingest as sources_in
from digest.app import alerts, sending
from digest.app.build import (
    BuildResult,
    ShardResult,
    build,
    build_empty,
    build_shard,
    build_week,
    judgements,
    make_digests,
    publish,
)
from digest.app.shards import Shard
from digest.config import Config
from digest.deliver import deliverer
from digest.deliver.sender import Clock, SendReport, Transport
from digest.fetch import Fetcher
from digest.models import RunReport, SourceOutcome
from digest.store import Store

Progress = Callable[[int, int, str], None]
Unit = sources_in.Unit
Units = Sequence[Unit | SourceOutcome]


def ingest(
    store: Store,
    units: Units,
    *,
    today: date,
    now: datetime,
    progress: Progress | None = None,
    redate: bool = False,
) -> list[SourceOutcome]:
    """Read each unit (a configured source of a day, or a file) into the store; a fetcher is
    opened only when a unit is a URL."""
    fetcher = Fetcher() if any(isinstance(u, sources_in.Unit) and u.is_url for u in units) else None
    try:
        return sources_in.ingest(
            store, units, today=today, now=now, fetcher=fetcher, progress=progress, redate=redate
        )
    finally:
        if fetcher is not None:
            fetcher.close()


def send(config: Config, store: Store, day: date, **how: Any) -> SendReport:
    """What is due of `day`'s ledger sent through the configured deliverer (sending.send_day)."""
    return sending.send_day(config, store, day, **how)


@dataclass(slots=True)
class Tally:
    """A run's report as its steps add to it; `report()` freezes it into a RunReport."""

    command: str
    started: datetime
    sources: list[SourceOutcome] = field(default_factory=list)
    built: bool = False
    digests: int = 0
    written: list[Any] = field(default_factory=list)
    build_failures: int = 0
    sent: dict[str, int] | None = None
    ledger: dict[str, int] | None = None
    sending: str | None = None
    failures: list[str] = field(default_factory=list)

    def add_build(self, result: BuildResult) -> None:
        self.built = True
        self.digests += result.digests
        self.written += result.written
        self.build_failures += len(result.failures)
        self.failures += result.failures

    def add_send(self, report: SendReport) -> None:
        sent = self.sent if self.sent is not None else {}
        for kind, count in report.attempted.items():
            sent[kind] = sent.get(kind, 0) + count
        line = report.line() if self.sending is None else f"{self.sending}; {report.line()}"
        self.sent, self.ledger, self.sending = sent, dict(report.ledger), line
        self.failures += report.failures + [
            f"sending {report.day} {what}: {why}"
            for what, why in (("paused", report.paused), ("stopped", report.stopped))
            if why
        ]

    def report(self, seconds: float) -> RunReport:
        return RunReport(
            command=self.command,
            started=self.started,
            seconds=seconds,
            sources=tuple(self.sources),
            built=self.built,
            digests=self.digests,
            written=tuple(self.written),
            build_failures=self.build_failures,
            sent=self.sent,
            ledger=self.ledger,
            sending=self.sending,
            failures=tuple(self.failures),
        )


def conclude(
    config: Config,
    store: Store | None,
    report: RunReport,
    *,
    alert: bool = True,
    quiet: bool = False,
    now: datetime,
    transport: Callable[[], Transport] | None = None,
) -> RunReport:
    """The end of every run: recorded in the store and, with `alert` (`run`, `send` and the
    scheduled jobs), its alerts decided and mailed by alerts.py's rules. `quiet` records a job
    only when it did something or failed (the retry job runs every few minutes)."""
    if not alert:
        assert store is not None
        store.record_run(
            report.command,
            started=report.started,
            seconds=report.seconds,
            summary=report.line(),
            report=report.record(),
        )
        return report
    alerts.conclude(
        config,
        store,
        report.command,
        started=report.started,
        seconds=report.seconds,
        summary=report.line(),
        report=report.record(),
        failures=report.failures,
        record=not (quiet and report.ok and not report.sent),
        now=now,
        transport=transport,
    )
    return report


def run(
    config: Config,
    store: Store,
    units: Units,
    *,
    now: datetime,
    requested: date | None = None,
    latest: Callable[[Store, date | None], date],
    clock: Clock | None = None,
    progress: Callable[[int], Progress | None] = lambda days: None,
    ingest_progress: Progress | None = None,
    redate: bool = False,
    seconds: Callable[[], float] = time.monotonic,
) -> RunReport:
    """Ingest, build the days the sources brought (or the one `requested`, else the newest
    `latest` finds), send the newest planned day when the deliverer sends; then conclude."""
    began = seconds()
    tally = Tally("run", now)
    tally.sources = ingest(
        store, units, today=now.date(), now=now, progress=ingest_progress, redate=redate
    )
    days = sorted({d for o in tally.sources for d in o.dates})
    if requested or not days:
        days = [latest(store, requested)]
    tally.add_build(build(config, store, days=days, now=now, progress=progress(len(days))))
    if deliverer(config).sends and (planned := store.delivery_dates()):
        tally.add_send(send(config, store, planned[-1], clock=clock))
    return tally.report(seconds() - began)


__all__ = [
    "BuildResult",
    "Shard",
    "ShardResult",
    "Tally",
    "Unit",
    "build",
    "build_empty",
    "build_shard",
    "build_week",
    "conclude",
    "ingest",
    "judgements",
    "make_digests",
    "publish",
    "run",
    "send",
]
