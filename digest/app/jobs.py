"""Running unattended: the jobs `digest schedule` runs, each recorded in the store as a run
report; the heartbeat an outside monitor watches.

Every job opens the store for itself and closes it, records what it did (sources, papers new,
digests built, messages sent, retried and failed, seconds) under `schedule:<job>`, and never
raises: a failure is a failed run report and an alert (alerts.py, the rules every path shares),
and the scheduler goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from digest.app import alerts, flow, wiring
from digest.config import Config
from digest.deliver import deliverer
from digest.deliver.sender import Clock, SendReport, Transport
from digest.errors import DigestError
from digest.models import Profile
from digest.store import Run, Store

log = logging.getLogger("digest")

RETRY_DAYS = 2  # deferred sends of this many recent dates are retried


def now_utc() -> datetime:
    return datetime.now(UTC)


KINDS = ("ingest", "build", "send", "run")  # in the order `digest status` shows them


def job_kind(command: str) -> str:
    """The kind of job a run was, whichever path ran it: `schedule:send:ada`, `schedule:retry`
    and `send` are all "send"."""
    kind = command.removeprefix("schedule:").partition(":")[0]
    return "send" if kind == "retry" else kind


def standing(runs: Sequence[Run]) -> dict[str, tuple[Run | None, Run | None]]:
    """Per job kind (from runs newest first, as Store.runs gives them): its last success, and
    its newest failure while that is newer than the last success (else None)."""
    found: dict[str, tuple[Run | None, Run | None]] = {}
    for run in runs:
        kind = job_kind(run["command"])
        good, bad = found.get(kind, (None, None))
        if good is not None:
            continue  # everything older than the last success is history
        if run["ok"]:
            found[kind] = (run, bad)
        elif bad is None:
            found[kind] = (None, run)
    order = {kind: n for n, kind in enumerate(KINDS)}
    return dict(sorted(found.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


class Operator:
    """The scheduled jobs on one config (see schedule.Jobs). A job whose own work failed (an
    error, a digest that did not render, a paused send) alerts the operator; a job that went
    well requests the heartbeat URL."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] = now_utc,
        environ: Mapping[str, str] | None = None,
        transport: Callable[[], Transport] | None = None,
        http: Callable[[], httpx.Client] = lambda: httpx.Client(timeout=10.0),
    ) -> None:
        self.config, self.clock = config, clock
        self.environ = os.environ if environ is None else environ
        self._transport = transport
        self._http = http

    # -- the jobs ---------------------------------------------------------------------------

    def ingest(self) -> None:
        self._run("ingest", self._ingest)

    def _ingest(self, store: Store, report: flow.Tally) -> None:
        today = self.clock().astimezone(ZoneInfo(self.config.schedule.timezone)).date()
        units = wiring.units(self.config, today=today)
        # a failed source shows in the run's report (and `digest status`); it is alerted on
        # when it fails twice in a row, not on every flake (alerts.py)
        report.sources = flow.ingest(store, units, today=today, now=self.clock())

    def build(self) -> None:
        """Build the newest date with papers (rebuilding is harmless: the ledger keeps what was
        planned); when today brought nothing, a short digest for the readers who asked for one."""
        self._run("build", self._build)

    def _build(self, store: Store, report: flow.Tally) -> None:
        day = store.latest_date()
        if day is None:
            report.failures.append("no papers in the store yet")
            return
        report.add_build(
            flow.build(self.config, store, days=[day], now=self.clock(), environ=self.environ)
        )
        today = self.clock().astimezone(ZoneInfo(self.config.schedule.timezone)).date()
        if day < today:  # nothing announced today: only readers who asked hear so
            empty = flow.build_empty(
                self.config,
                store,
                wiring.readers(store),
                day=today,
                now=self.clock(),
                environ=self.environ,
            )
            report.add_build(empty)

    def send(self, reader: str) -> None:
        """One reader's digest at their time: for a weekly reader, the week's digest is built
        first; then their newest waiting row is sent."""
        self._run(f"send:{reader}", lambda store, report: self._send_reader(store, report, reader))

    def _send_reader(self, store: Store, report: flow.Tally, reader: str) -> None:
        found = store.subscriber(reader)
        if found is None or found.status != "active" or found.profile.paused:
            return
        day = store.latest_date()
        if day is None:
            return
        if found.profile.send.weekly:
            built = flow.build_week(
                self.config,
                store,
                [found.profile],
                day=day,
                now=self.clock(),
                environ=self.environ,
            )
            report.add_build(built)
        if deliverer(self.config).sends:
            report.add_send(self._send(store, day, reader=reader))

    def retry(self) -> None:
        """Deferred sends of the recent dates whose retry time has come."""
        if not deliverer(self.config).sends:
            return
        self._run("retry", self._retry, quiet=True)

    def _retry(self, store: Store, report: flow.Tally) -> None:
        for day in store.delivery_dates()[-RETRY_DAYS:]:
            if store.next_due(day) is not None:
                report.add_send(self._send(store, day, retries_only=True))

    def readers(self) -> list[Profile]:
        """The readers digests are sent to, as the store has them now (their own settings
        included): the scheduler's send jobs follow them after each build."""
        with Store.open(self.config.store) as store:
            return wiring.readers(store)

    def last_run(self, job_id: str) -> datetime | None:
        with Store.open(self.config.store) as store:
            run = store.last_run(f"schedule:{job_id}")
        return datetime.fromisoformat(run["started"]) if run else None

    def alert(self, subject: str, text: str) -> None:
        """Mail the operator (delivery.operator); see alerts.send. Never raises."""
        alerts.send(self.config, subject, text, now=self.clock(), transport=self._new_transport)

    # -- shared -----------------------------------------------------------------------------

    def _run(
        self, job: str, body: Callable[[Store, flow.Tally], None], *, quiet: bool = False
    ) -> None:
        """Open the store, run `body`, record its report; an error is a failed run and an
        alert, never an exception out of here. `quiet` records a run only when it did something
        or failed (the retry job runs every few minutes)."""
        started, clock = self.clock(), time.monotonic()
        tally = flow.Tally(f"schedule:{job}", started)
        store: Store | None = None
        try:
            store = wiring.open_store(self.config.store, now=started)
            store.sync_readers(self.config.readers, now=started)
            body(store, tally)
        except DigestError as exc:
            tally.failures.append(str(exc))
        except Exception as exc:  # a job must never take the scheduler down
            log.exception("%s failed", job)
            tally.failures.append(f"{type(exc).__name__}: {exc}")
        report = tally.report(time.monotonic() - clock)
        try:
            flow.conclude(
                self.config,
                store,
                report,
                quiet=quiet,
                now=self.clock(),
                transport=self._new_transport,
            )
        finally:
            if store is not None:
                store.close()
        (log.info if report.ok else log.error)("%s", report.line())
        if report.ok:
            self.heartbeat()

    def _send(self, store: Store, day: date, **only: Any) -> SendReport:
        return flow.send(
            self.config,
            store,
            day,
            transport=self._new_transport(),
            clock=Clock(now=self.clock),
            environ=self.environ,
            **only,
        )

    def _new_transport(self) -> Transport:
        if self._transport is not None:
            return self._transport()
        return deliverer(self.config).transport(self.config, self.environ)

    def heartbeat(self) -> None:
        """GET the heartbeat URL (schedule.heartbeat_url_env) after a run that went well, so an
        outside monitor notices when they stop. A failure is logged, nothing more."""
        name = self.config.schedule.heartbeat_url_env
        url = self.environ.get(name, "").strip() if name else ""
        if not url:
            return
        try:
            with self._http() as client:
                client.get(url).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("heartbeat %s: %s", name, type(exc).__name__)


__all__ = ["Operator"]
