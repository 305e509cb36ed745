"""`digest schedule`: APScheduler 3 runs ingesting, building and each reader's sending at their
configured wall-clock times, in their own time zones (CONVENTIONS S-01..S-08).

The jobs are rebuilt from config.yaml at every start (a MemoryJobStore, nothing pickled), so a
run missed while the process was down is found here, from when each job last ran, and run once
at start if it is still within the grace. Pipeline jobs run one at a time in the order they fell
due (an ingest that runs late finishes before the build, the build before the sends); the retry
job has its own worker.

Daylight saving time (S-04): a wall-clock time that a DST change skips runs late once (02:30 in
Europe/Berlin on 2025-03-30 runs at 03:30 CEST, 01:30Z) and one it repeats runs twice (02:30 on
2025-10-26 runs at 00:30Z and again at 01:30Z). The jobs are idempotent per digest date (the
ledger), so neither harms; the start log and `--list` name the days a configured time is hit.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, partial
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_START,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import Config, JobTime
from digest.errors import DigestError
from digest.models import Profile
from digest.store.postgres.connection import SchedulerLock as PostgresSchedulerLock

log = logging.getLogger("digest")

RETRY_MINUTES = 15
# The retry job's quarter hours are counted from a fixed instant, so they fall at :00, :15, :30
# and :45 whenever the scheduler started (APScheduler's default counts from the start).
_RETRY_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
_TROUBLE = EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Jobs(Protocol):
    """What the scheduled jobs do; implemented elsewhere (sending goes through the ledger)."""

    def ingest(self) -> None: ...
    def build(self) -> None: ...
    def send(self, reader: str) -> None: ...  # one reader's digest, at their time
    def retry(self) -> None: ...  # deferred sends whose retry time has come
    def last_run(self, job_id: str) -> datetime | None: ...  # when it last started (UTC)
    def alert(self, subject: str, text: str) -> None: ...  # tell the operator
    def readers(self) -> Sequence[Profile]: ...  # the readers to send to, as the store has them


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One scheduled job: one line of `digest schedule --list`."""

    id: str  # "ingest", "build", "retry", "send:<reader>"
    trigger: CronTrigger | IntervalTrigger
    timezone: ZoneInfo
    describe: str  # "mon-fri 00:30 America/New_York", "sun 07:15 America/Los_Angeles (weekly)"


def job_specs(config: Config, readers: Sequence[Profile]) -> list[JobSpec]:
    """Ingest and build in the schedule's zone, the retry job, and one send job per reader at
    their time in their zone, daily or weekly. Weekdays by name only (S-03)."""
    schedule = config.schedule
    zone = ZoneInfo(schedule.timezone)
    retry = IntervalTrigger(minutes=RETRY_MINUTES, start_date=_RETRY_ORIGIN, timezone=zone)
    specs = [
        _cron("ingest", schedule.ingest, zone),
        _cron("build", schedule.build, zone),
        JobSpec("retry", retry, zone, f"every {RETRY_MINUTES} minutes"),
    ]
    for reader in readers:
        send = reader.send
        at = JobTime(send.time, send.weekday or "*")
        specs.append(_cron(f"send:{reader.name}", at, ZoneInfo(send.timezone), send.weekly))
    return specs


def _cron(job_id: str, at: JobTime, zone: ZoneInfo, weekly: bool = False) -> JobSpec:
    trigger = CronTrigger(day_of_week=at.days, hour=at.hour, minute=at.minute, timezone=zone)
    days = "daily" if at.days == "*" else at.days
    weekly_note = " (weekly)" if weekly else ""
    return JobSpec(job_id, trigger, zone, f"{days} {at.time} {zone.key}{weekly_note}")


def next_runs(specs: Sequence[JobSpec], now: datetime) -> list[tuple[JobSpec, datetime | None]]:
    """Each job's next fire time at or after `now`, in UTC (a zoned time in a DST gap or fold
    compares unequal to every other zone's, PEP 495)."""
    runs = []
    for spec in specs:
        when = spec.trigger.get_next_fire_time(None, now)
        runs.append((spec, when.astimezone(UTC) if when is not None else None))
    return runs


def listing(config: Config, readers: Sequence[Profile], now: datetime) -> list[str]:
    """One line per job: its id, its next run in UTC and in its own zone, and when it runs.

    `send:ada  next 2025-03-31 05:00 UTC (07:00 CEST Europe/Berlin)  daily 07:00 Europe/Berlin`
    """
    runs = next_runs(job_specs(config, readers), now)
    width = max(len(spec.id) for spec, _ in runs)
    lines = []
    for spec, when in runs:
        changes = dst_days(spec, now.date())
        note = "; DST: " + ", ".join(f"{day} {what}" for day, what in changes) if changes else ""
        lines.append(
            f"{spec.id:<{width}}  next {_both(when, spec.timezone)}  {spec.describe}{note}"
        )
    return lines


def _both(when: datetime | None, zone: ZoneInfo) -> str:
    if when is None:
        return "never"
    utc = when.astimezone(UTC)
    local = utc.astimezone(zone)  # via UTC: a time in a DST gap shows as the wall time it runs at
    day = f"{local:%Y-%m-%d} " if local.date() != utc.date() else ""
    return f"{utc:%Y-%m-%d %H:%M} UTC ({day}{local:%H:%M %Z} {zone.key})"


def missed(
    spec: JobSpec, last: datetime | None, now: datetime, grace: timedelta
) -> datetime | None:
    """The latest fire time (UTC) before `now` that is after `last` (None: the job never ran)
    and at most `grace` before `now`; None when there is none."""
    now = now.astimezone(UTC)
    start = now - grace
    if last is not None and last >= start:
        start = last + timedelta(microseconds=1)
    latest = None
    fire = spec.trigger.get_next_fire_time(None, start)
    while fire is not None and fire.astimezone(UTC) < now:
        latest = fire.astimezone(UTC)
        # (previous, now) as the scheduler asks: with no previous time a fold repeats forever
        fire = spec.trigger.get_next_fire_time(fire, fire)
    return latest


def stale(config: Config, last_good: datetime | None, now: datetime) -> str | None:
    """Why the last good run is older than expected, or None. Expected: within
    `schedule.stale_hours`, or else within a day and the grace of the ingest job's last due time
    (so days without an ingest job, such as weekends, are allowed for)."""
    if last_good is None:
        return "no run has succeeded yet"
    limit = config.schedule.stale_hours
    if limit is not None:
        expected = now - timedelta(hours=limit)
    else:
        ingest = _cron("ingest", config.schedule.ingest, ZoneInfo(config.schedule.timezone))
        week = timedelta(days=8)
        due = missed(ingest, None, now, week) or now - week
        expected = min(
            due - timedelta(hours=config.schedule.grace_hours), now - timedelta(hours=26)
        )
    if last_good < expected:
        hours = (now - last_good).total_seconds() / 3600
        return f"the last successful run was {hours:.0f} hours ago: is the scheduler running?"
    return None


def dst_days(spec: JobSpec, start: date, days: int = 366) -> list[tuple[date, str]]:
    """The days in `days` from `start` on which a DST change makes the job run "late" (its time
    is skipped) or "twice" (its time is repeated)."""
    if not isinstance(spec.trigger, CronTrigger):
        return []
    fields = {field.name: str(field) for field in spec.trigger.fields}
    wall = time(int(fields["hour"]), int(fields["minute"]))
    found = []
    for day, what in _changes(spec.timezone, wall, start, days):
        midnight = datetime.combine(day, time(), spec.timezone)
        fire = spec.trigger.get_next_fire_time(None, midnight)
        if fire is not None and fire.astimezone(UTC).astimezone(spec.timezone).date() == day:
            found.append((day, what))
    return found


@lru_cache(maxsize=64)
def _changes(zone: ZoneInfo, wall: time, start: date, days: int) -> tuple[tuple[date, str], ...]:
    """The days on which `wall` o'clock is skipped or repeated in `zone` (any weekday)."""
    found = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        first = datetime.combine(day, wall, zone)
        if first.utcoffset() == first.replace(fold=1).utcoffset():
            continue
        exists = first.astimezone(UTC).astimezone(zone).time() == wall
        found.append((day, "twice" if exists else "late"))
    return tuple(found)


def build_scheduler(
    config: Config,
    readers: Sequence[Profile],
    jobs: Jobs,
    *,
    now: datetime | None = None,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """A scheduler with every job added, runs missed within the grace due at once (in the order
    they fell due), and listeners that log and alert. Not started."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    schedule = config.schedule
    scheduler = scheduler_class(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(1), "retry": ThreadPoolExecutor(1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(1, int(schedule.grace_hours * 3600)),  # 0: no grace
        },
        timezone=ZoneInfo(schedule.timezone),
    )
    scheduler.add_listener(partial(_report, jobs), _TROUBLE)
    specs = job_specs(config, readers)
    due = _catch_up(specs, jobs, now, timedelta(hours=schedule.grace_hours))
    for spec in specs:
        extra: dict[str, Any] = {}
        if spec.id in due:
            extra["next_run_time"] = due[spec.id]
        _add(scheduler, config, jobs, spec, **extra)
    for spec in specs:
        for day, what in dst_days(spec, now.date()):
            log.warning(
                "%s (%s) runs %s on %s: a DST change; harmless, runs are idempotent per date",
                spec.id, spec.describe, what, day,
            )  # fmt: skip
    return scheduler


def _add(scheduler: BaseScheduler, config: Config, jobs: Jobs, spec: JobSpec, **extra: Any) -> None:
    func, args = _target(jobs, spec.id)
    if spec.id == "build":  # after each build, the send jobs follow the readers' settings
        func = partial(_build_then_refresh, scheduler, config, jobs)
    scheduler.add_job(
        _run_job,
        spec.trigger,
        args=(scheduler, spec.id, func, *args),
        id=spec.id,
        name=spec.id,
        executor="retry" if spec.id == "retry" else "default",
        replace_existing=True,
        **extra,
    )


REFRESH_THREAD = "digest-refresh-sends"


def _build_then_refresh(scheduler: BaseScheduler, config: Config, jobs: Jobs) -> None:
    """The build job, then the send jobs brought up to date in a thread of its own: the
    scheduler's methods take the lock that its shutdown holds while it waits for the running
    job, so a job that called them itself could wait forever on a stop."""
    jobs.build()
    threading.Thread(
        target=_refresh_quietly, args=(scheduler, config, jobs), name=REFRESH_THREAD, daemon=True
    ).start()


_refreshing = threading.Lock()  # one refresh at a time


def _refresh_quietly(scheduler: BaseScheduler, config: Config, jobs: Jobs) -> None:
    with _refreshing:
        try:
            refresh_sends(scheduler, config, jobs, jobs.readers())
        except DigestError as error:  # the jobs stay as they were; the next build tries again
            log.warning("send jobs not brought up to date: %s", error)


def refresh_sends(
    scheduler: BaseScheduler, config: Config, jobs: Jobs, readers: Sequence[Profile]
) -> list[str]:
    """The send jobs made again from `readers` as the store has them now, so what changed since
    the start reaches the schedule by the next build: a reader who subscribed gets their job,
    one who left or paused loses it, one who changed their send time, zone or day has it
    moved (on their own page, or in config.yaml). What changed, a line each (logged)."""
    wanted = {s.id: s for s in job_specs(config, readers) if s.id.startswith("send:")}
    have = {job.id: job for job in scheduler.get_jobs() if job.id.startswith("send:")}
    changes = []
    for job_id in sorted(have.keys() - wanted.keys()):
        scheduler.remove_job(job_id)
        changes.append(f"{job_id}: removed")
    for job_id, spec in wanted.items():
        job = have.get(job_id)
        if job is None:
            _add(scheduler, config, jobs, spec)
            changes.append(f"{job_id}: added, {spec.describe}")
        elif repr(job.trigger) != repr(spec.trigger):  # the repr names the zone too
            scheduler.reschedule_job(job_id, trigger=spec.trigger)
            changes.append(f"{job_id}: moved to {spec.describe}")
    for line in changes:
        log.info("%s", line)
    return changes


def _catch_up(
    specs: Sequence[JobSpec], jobs: Jobs, now: datetime, grace: timedelta
) -> dict[str, datetime]:
    """When each job missed while the scheduler was down runs: now, a millisecond apart in the
    order they fell due. Runs missed beyond the grace are logged and reported to the operator."""
    found: dict[str, datetime] = {}
    skipped = []
    for spec in specs:
        last = jobs.last_run(spec.id)
        when = missed(spec, last, now, grace)
        if when is not None:
            log.info("running %s missed at %s", spec.id, _both(when, spec.timezone))
            found[spec.id] = when
        # The retry job loses nothing by a skipped run: the next one retries whatever is due.
        if last is None or isinstance(spec.trigger, IntervalTrigger):
            continue
        first = spec.trigger.get_next_fire_time(None, last + timedelta(microseconds=1))
        if first is not None and first.astimezone(UTC) < now - grace:
            skipped.append(f"{spec.id}: skipped the runs due since {_both(first, spec.timezone)}")
    hours = f"{grace.total_seconds() / 3600:g} h"
    for line in skipped:
        log.warning("%s (older than the %s grace)", line, hours)
    if skipped:
        text = "\n".join(skipped) + f"\n\nThe scheduler was down for longer than the {hours} grace."
        _alert(jobs, f"digest schedule: {len(skipped)} job(s) skipped runs", text)
    order = sorted(found, key=lambda job_id: found[job_id])
    return {job_id: now + timedelta(milliseconds=rank) for rank, job_id in enumerate(order)}


def _target(jobs: Jobs, job_id: str) -> tuple[Callable[..., None], tuple[str, ...]]:
    kind, _, reader = job_id.partition(":")
    if kind == "send":
        return jobs.send, (reader,)
    return {"ingest": jobs.ingest, "build": jobs.build, "retry": jobs.retry}[kind], ()


def _run_job(scheduler: BaseScheduler, job_id: str, func: Callable[..., None], *args: str) -> None:
    """Runs one job, unless the scheduler is stopping: at a stop only the running job finishes,
    those queued behind it are dropped (they run at their next time)."""
    if not scheduler.running:
        log.info("not starting %s: the scheduler is stopping", job_id)
        return
    func(*args)


def _report(jobs: Jobs, event: Any) -> None:
    """A job failed, missed its time, or was still running when due again: one log line and an
    alert. (APScheduler has caught the exception and logged its traceback.)"""
    if event.code == EVENT_JOB_ERROR:
        error = event.exception
        cause = str(error) if isinstance(error, DigestError) else f"{type(error).__name__}: {error}"
        line, detail = f"{event.job_id} failed: {cause}", event.traceback or ""
    elif event.code == EVENT_JOB_MISSED:
        when = f"{event.scheduled_run_time.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        line, detail = f"{event.job_id} missed its run due {when} (later than the grace)", ""
    else:
        line = f"{event.job_id} was still running when due again; that run was skipped"
        detail = ""
    log.error("%s", line)
    _alert(jobs, f"digest schedule: {line}", f"{line}\n\n{detail}".strip())


def _alert(jobs: Jobs, subject: str, text: str) -> None:
    """Tells the operator; a failing alert is logged, never allowed to stop the scheduler."""
    try:
        jobs.alert(subject, text)
    except Exception as error:
        log.error("could not alert the operator (%s): %s", subject, error)


def lock_path(config: Config) -> Path | None:
    """The one-scheduler lock file: `schedule.lock`, or beside the SQLite store; None for a
    PostgreSQL store, which holds the lock itself (see `scheduler_lock`)."""
    if config.schedule.lock:
        return config.schedule.lock
    if isinstance(config.store, Path):
        return config.store.with_name(config.store.name + ".schedule.lock")
    return None


class SchedulerLock:
    """One scheduler per store (S-06): an exclusive, non-blocking flock on a file holding the
    holder's pid. The kernel drops it when the holder exits, however it exits, so a stale file
    never blocks; the file is never deleted (a deleted file could be locked twice)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise DigestError(
                f"cannot open the scheduler lock {self.path}: {error.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DigestError(
                f"another scheduler is running on this store: {self.path} is held by pid {holder}",
                hint="one `digest schedule` per store; stop that one first",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> SchedulerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def scheduler_lock(config: Config) -> SchedulerLock | PostgresSchedulerLock:
    """The lock that keeps one scheduler per store: on PostgreSQL, an advisory lock in the store
    itself (schedulers on different hosts see it), unless `schedule.lock` names a file; on
    SQLite, the lock file (`schedule.lock`, or beside the store)."""
    path = lock_path(config)
    if path is None:
        assert isinstance(config.store, str)  # a postgresql:// URL
        return PostgresSchedulerLock(config.store)
    return SchedulerLock(path)


def run(config: Config, readers: Sequence[Profile], jobs: Jobs) -> int:
    """`digest schedule`: takes the store's scheduler lock, then runs the jobs in this process
    (a BlockingScheduler, S-01) until SIGTERM or SIGINT, which let the running job finish."""
    now = datetime.now(UTC)
    with scheduler_lock(config) as lock:
        scheduler = build_scheduler(config, readers, jobs, now=now)
        log.info("scheduler started, pid %d, lock %s", os.getpid(), lock.path)
        for line in listing(config, readers, now):
            log.info("%s", line)
        stopper = _Stopper(scheduler)
        # Until it has started no job can be running: a signal may end the process as usual.
        scheduler.add_listener(lambda event: stopper.install(), EVENT_SCHEDULER_START)
        try:
            scheduler.start()  # returns once shut down
        finally:
            stopper.restore()
        stopper.wait()  # the lock is held until the running job has finished
    log.info("scheduler stopped")
    return 0


class _Stopper:
    """SIGTERM and SIGINT stop the scheduler with shutdown(wait=True), from a thread of its own:
    the handler interrupts the main thread wherever it is, maybe holding a lock shutdown needs.
    A second signal acts as it would have (ends the process at once)."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler
        self.previous: dict[int, Any] = {}
        self.thread: threading.Thread | None = None

    def install(self) -> None:
        self.previous = {sig: signal.signal(sig, self.stop) for sig in _SIGNALS}

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        self.previous = {}

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.restore()
        name = signal.Signals(signum).name
        self.thread = threading.Thread(target=self.shutdown, args=(name,), name="digest-stop")
        self.thread.start()

    def shutdown(self, name: str) -> None:
        log.info("%s: stopping once the running job has finished", name)
        with suppress(SchedulerNotRunningError):  # stopped meanwhile
            self.scheduler.shutdown(wait=True)

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()
