"""The scheduler: fire times across DST changes, weekday names, catching up missed runs within
the grace, one scheduler per store, a SIGTERM that lets the running job finish, and the retry job.

What touches a store runs on SQLite and on PostgreSQL (`store_location`): a second scheduler
process refused (the lock file beside an SQLite store, the advisory lock in a PostgreSQL one),
the lock released at SIGTERM, the retry job. The lock file's own test stays on SQLite; the
jobs the scheduler is tested with elsewhere here are fakes that touch no store."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import logging
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from helpers import FIXTURES
from pg import StoreLocation
from smtpserver import SmtpServer

from digest.app import wiring
from digest.app.jobs import Operator
from digest.config import Config, JobTime, load_config
from digest.deliver.smtp import SmtpSettings, SmtpTransport
from digest.errors import DigestError
from digest.models import Profile, ReaderSettings
from digest.schedule import (
    REFRESH_THREAD,
    JobSpec,
    SchedulerLock,
    build_scheduler,
    dst_days,
    job_specs,
    listing,
    lock_path,
    missed,
    next_runs,
    scheduler_lock,
)
from digest.store import Store
from digest.store.postgres.connection import without_password

KINDS = {"hf_text"}
WAIT = 10.0  # seconds: the most any test waits for a scheduler thread or a process

CONFIG = """
store: data/store.sqlite3
schedule:
  timezone: America/New_York
readers:
  - name: ada
    interests: {keywords: [graphs]}
    send: {time: "07:00", timezone: Europe/Berlin}
  - name: lin
    interests: {keywords: [speech]}
    send: {time: "07:00", timezone: America/Los_Angeles}
  - name: sun
    interests: {keywords: [robots]}
    send: {time: "07:15", timezone: America/Los_Angeles, weekday: sun}
"""


def load(directory: Path, text: str = CONFIG) -> Config:
    path = directory / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, kinds=KINDS)


def spec(config: Config, job_id: str) -> JobSpec:
    return next(s for s in job_specs(config, config.readers) if s.id == job_id)


def fires(spec: JobSpec, start: datetime, count: int) -> list[datetime]:
    """The next `count` fire times from `start` in UTC, asked as the scheduler asks (previous,
    now). In UTC because a zoned time in a DST gap or fold never equals another zone's."""
    found = [spec.trigger.get_next_fire_time(None, start)]
    while len(found) < count:
        found.append(spec.trigger.get_next_fire_time(found[-1], found[-1]))
    return [fire.astimezone(UTC) for fire in found]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cron_spec(time_: str, days: str, zone: str) -> JobSpec:
    at = JobTime(time_, days)
    trigger = CronTrigger(day_of_week=days, hour=at.hour, minute=at.minute, timezone=ZoneInfo(zone))
    return JobSpec("job", trigger, ZoneInfo(zone), f"{days} {time_} {zone}")


# --- next run times across the 2025 DST changes --------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "day", "expected"),
    [
        ("ada", date(2025, 3, 29), utc(2025, 3, 29, 6)),  # CET, UTC+1
        ("ada", date(2025, 3, 30), utc(2025, 3, 30, 5)),  # CEST from 01:00Z that morning
        ("ada", date(2025, 10, 25), utc(2025, 10, 25, 5)),
        ("ada", date(2025, 10, 26), utc(2025, 10, 26, 6)),
        ("lin", date(2025, 3, 8), utc(2025, 3, 8, 15)),  # PST, UTC-8
        ("lin", date(2025, 3, 9), utc(2025, 3, 9, 14)),  # PDT from 10:00Z
        ("lin", date(2025, 11, 1), utc(2025, 11, 1, 14)),
        ("lin", date(2025, 11, 2), utc(2025, 11, 2, 15)),
    ],
)
def test_a_0700_send_stays_at_0700_local_across_dst(tmp_path, reader, day, expected):
    job = spec(load(tmp_path), f"send:{reader}")
    midnight = datetime.combine(day, datetime.min.time(), job.timezone)

    fire = job.trigger.get_next_fire_time(None, midnight)

    assert fire == expected
    assert fire.astimezone(job.timezone).strftime("%Y-%m-%d %H:%M") == f"{day} 07:00"


def test_a_time_in_the_spring_gap_runs_an_hour_late_and_one_in_the_fold_twice():
    """What APScheduler 3.11 does (cron.rst "Daylight saving time behavior"): 02:30 Berlin on
    2025-03-30 does not exist and runs at 03:30 CEST; on 2025-10-26 it exists twice and runs
    twice. Harmless here: runs are idempotent per digest date."""
    berlin = cron_spec("02:30", "*", "Europe/Berlin")
    spring = fires(berlin, utc(2025, 3, 29, 12), 2)
    assert spring == [utc(2025, 3, 30, 1, 30), utc(2025, 3, 31, 0, 30)]
    assert spring[0].astimezone(berlin.timezone).strftime("%H:%M %Z") == ("03:30 CEST")
    autumn = fires(berlin, utc(2025, 10, 25, 12), 3)
    assert autumn == [utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30), utc(2025, 10, 27, 1, 30)]
    assert [f.astimezone(berlin.timezone).strftime("%H:%M %Z") for f in autumn[:2]] == [
        "02:30 CEST",
        "02:30 CET",
    ]

    angeles = cron_spec("02:30", "*", "America/Los_Angeles")
    assert fires(angeles, utc(2025, 3, 8, 12), 1) == [utc(2025, 3, 9, 10, 30)]  # 03:30 PDT
    repeated = cron_spec("01:30", "*", "America/Los_Angeles")
    assert fires(repeated, utc(2025, 11, 1, 12), 2) == [
        utc(2025, 11, 2, 8, 30),
        utc(2025, 11, 2, 9, 30),
    ]

    assert dst_days(berlin, date(2025, 1, 1), 365) == [
        (date(2025, 3, 30), "late"),
        (date(2025, 10, 26), "twice"),
    ]
    assert dst_days(repeated, date(2025, 1, 1), 365) == [(date(2025, 11, 2), "twice")]


def test_dst_days_only_counts_the_days_a_job_runs():
    # arXiv's default build: 01:00 New York repeats on 2025-11-02, a Sunday, when it does not run.
    assert dst_days(cron_spec("01:00", "mon-fri", "America/New_York"), date(2025, 1, 1)) == []
    assert dst_days(cron_spec("01:00", "*", "America/New_York"), date(2025, 1, 1), 365) == [
        (date(2025, 11, 2), "twice")
    ]
    assert dst_days(cron_spec("07:00", "*", "Europe/Berlin"), date(2025, 1, 1)) == []
    assert dst_days(cron_spec("02:30", "*", "UTC"), date(2025, 1, 1)) == []


def test_a_dst_sensitive_time_is_named_in_the_listing_and_warned_at_start(tmp_path, caplog):
    config = load(tmp_path)
    config = dataclasses.replace(
        config,
        schedule=dataclasses.replace(
            config.schedule, timezone="Europe/Berlin", ingest=JobTime("02:30", "*")
        ),
    )
    now = utc(2025, 3, 1)

    lines = listing(config, config.readers, now)
    with caplog.at_level(logging.WARNING, logger="digest"):
        build_scheduler(config, [], FakeJobs(), now=now, scheduler_class=BackgroundScheduler)

    assert lines[0].endswith("daily 02:30 Europe/Berlin; DST: 2025-03-30 late, 2025-10-26 twice")
    assert not any("DST" in line for line in lines[1:])
    warned = [r.getMessage() for r in caplog.records if r.name == "digest"]
    assert warned == [
        "ingest (daily 02:30 Europe/Berlin) runs late on 2025-03-30: a DST change;"
        " harmless, runs are idempotent per date",
        "ingest (daily 02:30 Europe/Berlin) runs twice on 2025-10-26: a DST change;"
        " harmless, runs are idempotent per date",
    ]


# --- weekdays by name (S-03) ---------------------------------------------------------------------


def test_weekday_names_mean_what_they_say(tmp_path):
    config = load(tmp_path)
    start = utc(2025, 1, 1)  # a Wednesday

    weekdays = {
        f.astimezone(ZoneInfo("America/New_York")).weekday()
        for f in fires(spec(config, "ingest"), start, 10)
    }
    assert weekdays == {0, 1, 2, 3, 4}  # mon-fri: every weekday, never Saturday or Sunday

    sundays = fires(spec(config, "send:sun"), start, 10)
    local = [f.astimezone(ZoneInfo("America/Los_Angeles")) for f in sundays]
    assert {d.strftime("%a %H:%M") for d in local} == {"Sun 07:15"}
    assert local[0].date() == date(2025, 1, 5)
    assert {(b - a).days for a, b in itertools.pairwise(local)} == {7}

    monday = cron_spec("07:00", "mon", "Europe/Berlin")
    assert fires(monday, start, 1)[0].astimezone(monday.timezone).date() == date(2025, 1, 6)
    # Why never numbers: APScheduler 3 counts from Monday = 0, so crontab's Sunday is a Monday.
    crontab = CronTrigger.from_crontab("0 7 * * 0", timezone=UTC)
    assert crontab.get_next_fire_time(None, start).strftime("%a") == "Mon"


def test_every_job_has_an_explicit_zone_and_the_describe_line(tmp_path):
    config = load(tmp_path)
    specs = job_specs(config, config.readers)

    assert [s.id for s in specs] == ["ingest", "build", "retry", "send:ada", "send:lin", "send:sun"]
    expected = ["America/New_York"] * 3 + ["Europe/Berlin"] + ["America/Los_Angeles"] * 2
    assert [s.trigger.timezone for s in specs] == [ZoneInfo(z) for z in expected]
    assert [s.timezone for s in specs] == [ZoneInfo(z) for z in expected]
    assert [s.describe for s in specs] == [
        "mon-fri 00:30 America/New_York",
        "mon-fri 01:00 America/New_York",
        "every 15 minutes",
        "daily 07:00 Europe/Berlin",
        "daily 07:00 America/Los_Angeles",
        "sun 07:15 America/Los_Angeles (weekly)",
    ]
    for s in specs:
        if isinstance(s.trigger, CronTrigger):
            fields = {f.name: str(f) for f in s.trigger.fields}
            assert not fields["day_of_week"][0].isdigit()


def test_the_retry_job_runs_on_the_quarter_hours(tmp_path):
    retry = spec(load(tmp_path), "retry")
    assert fires(retry, utc(2025, 3, 30, 12, 7, 30), 3) == [
        utc(2025, 3, 30, 12, 15),
        utc(2025, 3, 30, 12, 30),
        utc(2025, 3, 30, 12, 45),
    ]


# --- listing -------------------------------------------------------------------------------------


def test_listing_gives_each_job_its_next_run_in_utc_and_in_its_zone(tmp_path):
    config = load(tmp_path)
    now = utc(2025, 3, 30, 12)  # a Sunday, after Europe's change and three weeks after the US's

    lines = listing(config, config.readers, now)

    assert lines == [
        "ingest    next 2025-03-31 04:30 UTC (00:30 EDT America/New_York)"
        "  mon-fri 00:30 America/New_York",
        "build     next 2025-03-31 05:00 UTC (01:00 EDT America/New_York)"
        "  mon-fri 01:00 America/New_York",
        "retry     next 2025-03-30 12:00 UTC (08:00 EDT America/New_York)  every 15 minutes",
        "send:ada  next 2025-03-31 05:00 UTC (07:00 CEST Europe/Berlin)  daily 07:00 Europe/Berlin",
        "send:lin  next 2025-03-30 14:00 UTC (07:00 PDT America/Los_Angeles)"
        "  daily 07:00 America/Los_Angeles",
        "send:sun  next 2025-03-30 14:15 UTC (07:15 PDT America/Los_Angeles)"
        "  sun 07:15 America/Los_Angeles (weekly)",
    ]
    runs = next_runs(job_specs(config, []), now)
    assert [when for _, when in runs] == [utc(2025, 3, 31, 4, 30), utc(2025, 3, 31, 5), now]


def test_listing_shows_the_local_date_when_it_is_not_the_utc_date(tmp_path):
    config = load(tmp_path)
    tokyo = dataclasses.replace(config.readers[0], name="kei")
    tokyo = dataclasses.replace(tokyo, send=dataclasses.replace(tokyo.send, timezone="Asia/Tokyo"))

    lines = listing(config, [tokyo], utc(2025, 3, 30, 12))

    assert lines[-1].startswith(
        "send:kei  next 2025-03-30 22:00 UTC (2025-03-31 07:00 JST Asia/Tokyo)"
    )


# --- missed runs and the grace (S-07) ------------------------------------------------------------


def test_missed_finds_the_latest_run_due_within_the_grace(tmp_path):
    ingest = spec(load(tmp_path), "ingest")  # mon-fri 00:30 New York = 04:30Z in March 2025
    now = utc(2025, 3, 31, 6, 30)  # Monday, 2 h after the run
    grace = timedelta(hours=6)

    assert missed(ingest, utc(2025, 3, 28, 4, 31), now, grace) == utc(2025, 3, 31, 4, 30)
    assert missed(ingest, None, now, grace) == utc(2025, 3, 31, 4, 30)  # never ran
    assert missed(ingest, utc(2025, 3, 31, 4, 30, 2), now, grace) is None  # already ran
    assert missed(ingest, utc(2025, 3, 28, 4, 31), now, timedelta(hours=1)) is None  # too old
    assert missed(ingest, utc(2025, 3, 28, 4, 31), now, timedelta(0)) is None
    assert (
        missed(ingest, utc(2025, 3, 28, 4, 31), utc(2025, 3, 31, 4, 30), grace) is None
    )  # due now


def test_missed_sees_the_second_run_of_a_dst_fold():
    berlin = cron_spec("02:30", "*", "Europe/Berlin")
    now = utc(2025, 10, 26, 2)
    assert missed(berlin, utc(2025, 10, 26, 0, 31), now, timedelta(hours=6)) == utc(
        2025, 10, 26, 1, 30
    )
    assert missed(berlin, utc(2025, 10, 25, 0, 31), now, timedelta(hours=6)) == utc(
        2025, 10, 26, 1, 30
    )


class FakeJobs:
    """Records what ran; `last` says when each job last ran; events let a test wait."""

    def __init__(self, last: dict[str, datetime] | None = None, fail: bool = False) -> None:
        self.last = last or {}
        self.fail = fail
        self.now_reading: list[Profile] = []  # what readers() answers
        self.asked_in: list[str] = []  # the threads readers() was called in
        self.calls: list[str] = []
        self.alerts: list[tuple[str, str]] = []
        self.ran = {name: threading.Event() for name in ("ingest", "build", "retry", "alert")}
        self.release: threading.Event | None = None  # set: ingest waits for it

    def ingest(self) -> None:
        self.calls.append("ingest")
        self.ran["ingest"].set()
        if self.release is not None:
            assert self.release.wait(WAIT)
        if self.fail:
            raise RuntimeError("the feed is down")

    def build(self) -> None:
        self.calls.append("build")
        self.ran["build"].set()

    def send(self, reader: str) -> None:
        self.calls.append(f"send:{reader}")

    def retry(self) -> None:
        self.calls.append("retry")
        self.ran["retry"].set()

    def last_run(self, job_id: str) -> datetime | None:
        return self.last.get(job_id)

    def alert(self, subject: str, text: str) -> None:
        self.alerts.append((subject, text))
        self.ran["alert"].set()

    def readers(self) -> list[Profile]:
        self.asked_in.append(threading.current_thread().name)
        return self.now_reading


def test_after_a_build_the_send_jobs_follow_the_readers_as_the_store_has_them(tmp_path, caplog):
    """Readers change their send time, zone, day or pause on their own page (or subscribe by the
    form) while the scheduler runs: the next build brings its send jobs up to date."""
    config = load(tmp_path)
    ada, lin, sun = config.readers
    jobs = FakeJobs()
    now = datetime.now(UTC)
    scheduler = build_scheduler(
        config, config.readers, jobs, now=now, scheduler_class=BackgroundScheduler
    )
    before = {job.id: repr(job.trigger) for job in scheduler.get_jobs()}
    later = dataclasses.replace(ada.send, time="06:30", timezone="Asia/Tokyo", weekday="fri")
    newcomer = dataclasses.replace(lin, name="newcomer")
    jobs.now_reading = [dataclasses.replace(ada, send=later), sun, newcomer]  # lin paused
    scheduler.start(paused=True)
    try:
        with caplog.at_level(logging.INFO, logger="digest"):
            scheduler.get_job("build").func(*scheduler.get_job("build").args)
            for refresh in [t for t in threading.enumerate() if t.name == REFRESH_THREAD]:
                refresh.join(WAIT)  # (unless it is done already)
        after = {job.id: repr(job.trigger) for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    # not in the job's own thread: a stop (shutdown) holds the scheduler's lock while it waits
    # for the running job, so a job that asked the scheduler for its jobs would wait forever
    assert (jobs.calls, jobs.asked_in) == (["build"], [REFRESH_THREAD])
    assert set(after) == set(before) - {"send:lin"} | {"send:newcomer"}
    assert "hour='6', minute='30'" in after["send:ada"] and "Asia/Tokyo" in after["send:ada"]
    assert "day_of_week='fri'" in after["send:ada"]
    assert after["send:sun"] == before["send:sun"]
    assert after["send:newcomer"] == before["send:lin"]  # lin's time and zone
    logged = [r.getMessage() for r in caplog.records]
    assert "send:lin: removed" in logged
    assert "send:ada: moved to fri 06:30 Asia/Tokyo (weekly)" in logged
    assert "send:newcomer: added, daily 07:00 America/Los_Angeles" in logged


def missed_two_hours_ago(tmp_path: Path, grace_hours: float) -> tuple[Config, datetime]:
    """A config whose daily ingest (in UTC) was due two hours ago; the build is hours away."""
    now = datetime.now(UTC)
    config = load(tmp_path)
    schedule = dataclasses.replace(
        config.schedule,
        timezone="UTC",
        ingest=JobTime(f"{now - timedelta(hours=2):%H:%M}", "*"),
        build=JobTime(f"{now + timedelta(hours=3):%H:%M}", "*"),
        grace_hours=grace_hours,
    )
    return dataclasses.replace(config, schedule=schedule), now


def test_a_run_missed_within_the_grace_runs_once_at_start(tmp_path, caplog):
    config, now = missed_two_hours_ago(tmp_path, grace_hours=6)
    jobs = FakeJobs(last={"ingest": now - timedelta(days=1)})

    with caplog.at_level(logging.INFO, logger="digest"):
        scheduler = build_scheduler(config, [], jobs, now=now, scheduler_class=BackgroundScheduler)
    scheduler.start()
    try:
        assert jobs.ran["ingest"].wait(WAIT)
        assert jobs.ran["retry"].wait(WAIT)  # never ran: due within the last quarter hour
        ingest = scheduler.get_job("ingest")
        assert (ingest.coalesce, ingest.max_instances, ingest.misfire_grace_time) == (
            True,
            1,
            21600,
        )
        assert ingest.next_run_time > now + timedelta(hours=21)  # tomorrow's
    finally:
        scheduler.shutdown(wait=True)

    assert sorted(jobs.calls) == ["ingest", "retry"]
    assert jobs.alerts == []
    assert any(r.getMessage().startswith("running ingest missed at ") for r in caplog.records)
    assert scheduler.timezone == ZoneInfo("UTC")
    assert isinstance(scheduler._jobstores["default"], MemoryJobStore)


def test_a_run_missed_beyond_the_grace_is_skipped_and_reported(tmp_path):
    config, now = missed_two_hours_ago(tmp_path, grace_hours=1)
    jobs = FakeJobs(last={"ingest": now - timedelta(days=1)})

    scheduler = build_scheduler(config, [], jobs, now=now, scheduler_class=BackgroundScheduler)
    scheduler.start()
    try:
        # the retry job, due at start, shows the first round of due jobs has been handed out
        assert jobs.ran["retry"].wait(WAIT)
    finally:
        scheduler.shutdown(wait=True)

    assert jobs.calls == ["retry"]
    [(subject, text)] = jobs.alerts
    assert subject == "digest schedule: 1 job(s) skipped runs"
    assert text.startswith("ingest: skipped the runs due since ")
    assert "longer than the 1 h grace" in text


def test_missed_runs_start_in_the_order_they_fell_due(tmp_path):
    config, now = missed_two_hours_ago(tmp_path, grace_hours=6)
    schedule = dataclasses.replace(
        config.schedule, build=JobTime(f"{now - timedelta(hours=1):%H:%M}", "*")
    )
    config = dataclasses.replace(config, schedule=schedule)
    jobs = FakeJobs()  # never ran anything: build ("b") sorts before ingest ("i") by id

    scheduler = build_scheduler(config, [], jobs, now=now, scheduler_class=BackgroundScheduler)
    scheduler.start()
    try:
        assert jobs.ran["build"].wait(WAIT)
    finally:
        scheduler.shutdown(wait=True)

    assert [c for c in jobs.calls if c != "retry"] == ["ingest", "build"]


def test_a_stop_lets_the_running_job_finish_and_drops_those_queued_behind_it(tmp_path):
    config, now = missed_two_hours_ago(tmp_path, grace_hours=6)
    schedule = dataclasses.replace(
        config.schedule, build=JobTime(f"{now - timedelta(hours=1):%H:%M}", "*")
    )
    jobs = FakeJobs()
    jobs.release = threading.Event()
    scheduler = build_scheduler(
        dataclasses.replace(config, schedule=schedule), [], jobs, now=now,
        scheduler_class=BackgroundScheduler,
    )  # fmt: skip
    scheduler.start()
    assert jobs.ran["ingest"].wait(WAIT)  # running; the missed build waits behind it

    stopping = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True})
    stopping.start()
    deadline = time.monotonic() + WAIT
    while scheduler.running and time.monotonic() < deadline:
        jobs.ran["build"].wait(0.01)
    jobs.release.set()
    stopping.join(WAIT)

    assert not stopping.is_alive()
    assert "ingest" in jobs.calls and "build" not in jobs.calls


def test_a_failing_job_is_logged_and_reported_and_the_scheduler_goes_on(tmp_path, caplog):
    config, now = missed_two_hours_ago(tmp_path, grace_hours=6)
    jobs = FakeJobs(fail=True)

    scheduler = build_scheduler(config, [], jobs, now=now, scheduler_class=BackgroundScheduler)
    with caplog.at_level(logging.ERROR, logger="digest"):
        scheduler.start()
        try:
            assert jobs.ran["alert"].wait(WAIT)
            assert scheduler.running
        finally:
            scheduler.shutdown(wait=True)

    [(subject, text)] = jobs.alerts
    assert subject == "digest schedule: ingest failed: RuntimeError: the feed is down"
    assert "Traceback" not in text and 'raise RuntimeError("the feed is down")' in text
    assert "ingest failed: RuntimeError: the feed is down" in caplog.messages


def test_no_grace_means_one_second(tmp_path):
    config, now = missed_two_hours_ago(tmp_path, grace_hours=0)
    scheduler = build_scheduler(
        config, [], FakeJobs(), now=now, scheduler_class=BackgroundScheduler
    )
    scheduler.start(paused=True)
    try:
        assert {job.misfire_grace_time for job in scheduler.get_jobs()} == {1}
    finally:
        scheduler.shutdown(wait=False)


def test_the_scheduler_is_blocking_by_default_and_every_trigger_has_its_zone(tmp_path):
    config = load(tmp_path)
    assert (
        inspect.signature(build_scheduler).parameters["scheduler_class"].default
        is BlockingScheduler
    )
    scheduler = build_scheduler(config, config.readers, FakeJobs(), now=datetime.now(UTC))
    assert isinstance(scheduler, BlockingScheduler)
    zones = {job.id: job.trigger.timezone for job in scheduler.get_jobs()}
    assert zones == {s.id: s.timezone for s in job_specs(config, config.readers)}


# --- one scheduler per store (S-06) --------------------------------------------------------------


def test_a_second_lock_on_the_store_fails_naming_the_holder(tmp_path):
    config = load(tmp_path)
    path = lock_path(config)
    assert path == tmp_path / "data" / "store.sqlite3.schedule.lock"

    with SchedulerLock(path):
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(DigestError) as caught:
            SchedulerLock(path).acquire()
    assert str(caught.value) == (
        f"another scheduler is running on this store: {path} is held by pid {os.getpid()}"
        " (one `digest schedule` per store; stop that one first)"
    )
    with SchedulerLock(path):  # released: the next one may start
        pass
    own = dataclasses.replace(config.schedule, lock=tmp_path / "run" / "digest.lock")
    assert lock_path(dataclasses.replace(config, schedule=own)) == tmp_path / "run" / "digest.lock"


RUN_SCRIPT = """
import logging, sys, time
from pathlib import Path
from digest import schedule
from digest.app import wiring
from digest.errors import DigestError

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")


class Jobs:
    def ingest(self):
        print("started", flush=True)
        time.sleep(0.5)
        Path(sys.argv[2]).write_text("finished", encoding="utf-8")
        logging.getLogger("digest").info("ingest finished")

    def build(self): pass
    def send(self, reader): pass
    def retry(self): pass
    def last_run(self, job_id): return None
    def alert(self, subject, text): print("alert:", subject, flush=True)
    def readers(self): return []


built = schedule.build_scheduler


def spy(*args, **kwargs):
    scheduler = built(*args, **kwargs)
    print("class:", type(scheduler).__name__, flush=True)
    return scheduler


schedule.build_scheduler = spy
config = wiring.load(Path(sys.argv[1]))  # as the command reads it: DIGEST_STORE too
try:
    code = schedule.run(config, [], Jobs())
except DigestError as error:
    print(f"error: {error}", file=sys.stderr)
    code = 1
sys.exit(code)
"""

HOLD_SCRIPT = """
import sys
from pathlib import Path
from digest.app import wiring
from digest.schedule import scheduler_lock

with scheduler_lock(wiring.load(Path(sys.argv[1]))):
    print("locked", flush=True)
    sys.stdin.read()
"""


def script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def ingest_due_now(tmp_path: Path) -> Path:
    """A config file whose ingest was due a minute ago, so a scheduler starts by running it."""
    now = datetime.now(UTC)
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""
        store: data/store.sqlite3
        schedule:
          timezone: UTC
          grace_hours: 1
          ingest: {{time: "{now - timedelta(minutes=1):%H:%M}", days: "*"}}
          build: {{time: "{now + timedelta(hours=3):%H:%M}", days: "*"}}
        readers:
          - name: ada
            interests: {{keywords: [graphs]}}
        """),
        encoding="utf-8",
    )
    return path


class Lines:
    """A process's stdout lines, read by a thread so a test can wait with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        self.thread = threading.Thread(
            target=lambda: [self.lines.put(x) for x in stream], daemon=True
        )
        self.thread.start()

    def until(self, wanted: str) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + WAIT
        while not seen or seen[-1].strip() != wanted:
            seen.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
        return [line.strip() for line in seen]

    def close(self) -> None:
        self.thread.join(WAIT)  # the process has ended: its stdout is at its end


def holder_named(store_location: StoreLocation, tmp_path: Path, pid: int) -> str:
    """How a refused scheduler names the one holding the store's lock, process `pid` here: the
    lock file and its pid on SQLite; on PostgreSQL the store, the server process holding its lock
    (which an administrator may end), and the scheduler that session serves: its pid and host."""
    if store_location.url is None:
        lock = tmp_path / "data" / "store.sqlite3.schedule.lock"
        return re.escape(f"{lock} is held by pid {pid}")
    return (
        re.escape(f"{without_password(store_location.url)} is held by server process ")
        + r"\d+ from \S+ "
        + re.escape(f"(digest schedule pid {pid} on {socket.gethostname()})")
    )


def test_a_second_scheduler_process_on_the_store_exits_at_once(tmp_path, store_location):
    config_path = ingest_due_now(tmp_path)
    hold = script(tmp_path, "hold.py", HOLD_SCRIPT)
    run = script(tmp_path, "run.py", RUN_SCRIPT)
    with subprocess.Popen(
        [sys.executable, str(hold), str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        held = Lines(holder)
        assert held.until("locked") == ["locked"]
        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, str(run), str(config_path), str(tmp_path / "done")],
            capture_output=True, text=True, timeout=WAIT,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(WAIT) == 0
        held.close()

    assert second.returncode == 1
    refused = second.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        "error: another scheduler is running on this store: "
        + holder_named(store_location, tmp_path, holder.pid)
        + re.escape(" (one `digest schedule` per store; stop that one first)"),
        refused,
    ), refused
    assert "started" not in second.stdout and not (tmp_path / "done").exists()
    assert elapsed < WAIT / 2


def test_sigterm_lets_the_running_job_finish(tmp_path, store_location):
    config_path = ingest_due_now(tmp_path)
    done = tmp_path / "done"
    run = script(tmp_path, "run.py", RUN_SCRIPT)
    with subprocess.Popen(
        [sys.executable, str(run), str(config_path), str(done)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        lines = Lines(process)
        assert lines.until("started") == ["class: BlockingScheduler", "started"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
        lines.close()
        assert process.stderr is not None
        log = process.stderr.read()

    assert done.read_text(encoding="utf-8") == "finished"
    stopping = log.index("SIGTERM: stopping once the running job has finished")
    assert stopping < log.index("ingest finished") < log.index("scheduler stopped")
    assert log.rstrip().endswith("scheduler stopped")
    with scheduler_lock(wiring.load(config_path)):  # released: the next scheduler may start
        pass


# --- the retry job on the store ------------------------------------------------------------------

SECRET = "a secret of more than sixteen bytes"
AUG = "000_136fd171620bccff.txt"
SENDING = f"""\
store: out/store.sqlite3
sources:
  - {{name: aug, kind: hf_text, path: {AUG}, date: 2025-08-20}}
delivery:
  method: smtp
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  rate: 1000
  smtp: {{host: 127.0.0.1, port: {{port}}, security: none, timeout: 10}}
readers:
  - name: ada
    email: ada@example.org
    interests: {{keywords: [network pruning, quantization]}}
  - name: lin
    email: lin@example.org
    interests: {{keywords: [knowledge distillation]}}
"""


@pytest.mark.usefixtures("store_location")
def test_the_retry_job_sends_a_deferred_message_once_its_time_has_come(tmp_path, monkeypatch):
    """The jobs the scheduler runs, on the store: ingest, build, a send per reader (ada's
    deferred by the server), then the retry job, which sends ada's message when its retry time
    has come, once, and records a run only when it did something."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    shutil.copy(FIXTURES / "pages" / AUG, tmp_path / AUG)
    now = [utc(2025, 8, 20, 5)]  # 01:00 in New York, after the day's announcement
    with SmtpServer() as server:
        path = tmp_path / "config.yaml"
        path.write_text(SENDING.replace("{port}", str(server.port)), encoding="utf-8")
        config = wiring.load(path)  # as the command reads it: DIGEST_STORE names the store
        settings = SmtpSettings("127.0.0.1", server.port, security="none", timeout=10)
        jobs = Operator(
            config,
            clock=lambda: now[0],
            environ={"DIGEST_SECRET": SECRET},
            transport=lambda: SmtpTransport(settings),
        )
        jobs.ingest()
        jobs.build()
        server.data_replies.append("451 4.3.0 try later")
        jobs.send("ada")
        jobs.send("lin")
        now[0] += timedelta(minutes=1)
        jobs.retry()  # ada's retry is not due yet: nothing sent, no run recorded
        assert [m.recipients for m in server.messages] == [("lin@example.org",)]
        now[0] += timedelta(hours=2)
        jobs.retry()
        jobs.retry()  # nothing more is due
        sent = [m.recipients for m in server.messages]
    assert sent == [("lin@example.org",), ("ada@example.org",)]
    assert jobs.last_run("retry") == now[0]
    with Store.open(config.store) as store:
        commands = [run["command"] for run in reversed(store.runs(20))]
        statuses = {d.reader: d.status for d in store.deliveries(date(2025, 8, 20))}
    assert commands == [
        *("schedule:ingest", "schedule:build", "schedule:send:ada", "schedule:send:lin"),
        "schedule:retry",
    ]
    assert statuses == {"ada": "sent", "lin": "sent"}
    # a reader who paused on their own page has no send job after the next build
    with Store.open(config.store) as store:
        store.set_reader_settings("lin", ReaderSettings(paused=True), now=now[0])
    assert [p.name for p in jobs.readers()] == ["ada"]
