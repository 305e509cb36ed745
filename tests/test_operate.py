"""The scheduled jobs (digest/app/jobs.py) on a real store, real files, a real HTTP server for the
heartbeat and a real SMTP server: run reports, honest digests, alerts, weekly readers, backups,
and `digest status` saying when the last good run is too old. The jobs run on SQLite and on
PostgreSQL (`store_location`), but for the SQLite file's own (a damaged file, a backup's copy)."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from helpers import FIXTURES
from httpserver import Reply, serve
from smtpserver import SmtpServer

from digest.app import wiring
from digest.app.jobs import Operator
from digest.cli import main
from digest.config import Config
from digest.deliver.smtp import SmtpSettings, SmtpTransport
from digest.schedule import stale
from digest.store import Store

NOW = datetime(2025, 8, 20, 5, 0, tzinfo=UTC)  # 01:00 in New York, after the day's announcement
SECRET = "a secret of more than sixteen bytes"
CONFIG = """\
store: out/store.sqlite3
sources:
  - {{name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}}
  - {{name: broken, kind: hf_text, path: pages/truncated_after_title.txt}}
delivery:
  method: {method}
  operator: ops@example.org
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  rate: 1000
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 10}}
schedule:
  heartbeat_url_env: HEARTBEAT_URL
readers:
  - name: ada
    email: ada@example.org
    interests: {{keywords: [network pruning, quantization, knowledge distillation]}}
  - name: quiet
    email: quiet@example.org
    interests: {{keywords: [gaussian splatting]}}
    min_score: 5
  - name: eager
    email: eager@example.org
    interests: {{keywords: [gaussian splatting]}}
    min_score: 5
    send: {{time: "07:00", empty: true}}
  - name: weekly
    email: weekly@example.org
    interests: {{keywords: [large language models, reasoning]}}
    send: {{time: "08:00", timezone: Europe/Berlin, weekday: mon}}
"""


def project(tmp_path: Path, *, method: str = "files", port: int = 25) -> Config:
    (tmp_path / "pages").mkdir(exist_ok=True)
    shutil.copy(FIXTURES / "pages" / "000_136fd171620bccff.txt", tmp_path / "pages")
    shutil.copy(FIXTURES / "bad" / "truncated_after_title.txt", tmp_path / "pages")
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(method=method, port=port), encoding="utf-8")
    return wiring.load(path)  # as the commands read it: DIGEST_STORE names the store, when set


def operator(config: Config, *, environ: dict[str, str] | None = None, **more) -> Operator:
    return Operator(config, clock=lambda: NOW, environ=environ or {}, **more)


def alerts(config: Config) -> list[email.message.EmailMessage]:
    folder = config.out_dir / "mail" / "operator"
    found = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in found]


@pytest.mark.usefixtures("store_location")
def test_each_job_is_recorded_as_a_run_report(tmp_path):
    config = project(tmp_path)
    jobs = operator(config)
    jobs.ingest()
    jobs.build()
    with Store.open(config.store) as store:
        build, ingest = store.runs(2)
        assert jobs.last_run("ingest") == NOW and jobs.last_run("build") == NOW
    assert ingest["command"] == "schedule:ingest" and not ingest["ok"]  # a source failed
    sources = {s["source"]: s for s in ingest["report"]["sources"]}
    assert sources["aug"]["status"] == "ok" and sources["aug"]["papers_new"] == 81
    assert sources["broken"]["status"] == "failed" and sources["broken"]["error"]
    assert ingest["report"]["papers_new"] == 81
    assert build["command"] == "schedule:build" and build["ok"]
    assert build["report"]["digests"] == 4
    assert "4 digests written, 0 failed" in build["summary"]


@pytest.mark.usefixtures("store_location")
def test_a_digest_built_while_a_source_had_failed_says_so_at_the_top(tmp_path):
    config = project(tmp_path)
    jobs = operator(config)
    jobs.ingest()
    jobs.build()
    markdown = (config.out_dir / "digests/ada/2025-08-20.md").read_text("utf-8")
    lines = [line for line in markdown.splitlines() if line]
    assert lines[1].startswith("**Note:** the source broken failed (")
    assert lines[1].endswith("this digest may be missing its papers.")
    mail = email.message_from_bytes(
        (config.out_dir / "mail/ada/2025-08-20.eml").read_bytes(), policy=email.policy.default
    )
    text, html = (part.get_content() for part in mail.iter_parts())
    assert "Note: the source broken failed" in text and "the source broken failed" in html


@pytest.mark.usefixtures("store_location")
def test_no_empty_email_unless_the_reader_asked_for_one(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    config = project(tmp_path, method="smtp")
    jobs = operator(config, environ={"DIGEST_SECRET": SECRET})
    jobs.ingest()
    jobs.build()
    with Store.open(config.store) as store:
        planned = {d.reader for d in store.deliveries(date(2025, 8, 20))}
    # quiet matched nothing and gets no email; eager asked for empty ones; weekly waits for Monday
    assert planned == {"ada", "eager"}
    assert (config.out_dir / "digests/quiet/2025-08-20.md").exists()  # still built, as a file


@pytest.mark.usefixtures("store_location")
def test_a_source_failing_twice_in_a_row_alerts_the_operator_once(tmp_path):
    config = project(tmp_path)
    jobs = operator(config)
    jobs.ingest()
    assert alerts(config) == []  # one failure may be a flake
    later = operator(config)
    later.clock = lambda: NOW + timedelta(days=1)
    later.ingest()
    (alert,) = alerts(config)
    assert alert["To"] == "ops@example.org"
    assert alert["Subject"] == "[Paper Digest] source broken failed 2 runs in a row"
    assert "broken:" in alert.get_content()
    third = operator(config)
    third.clock = lambda: NOW + timedelta(days=2)
    third.ingest()
    assert len(alerts(config)) == 1  # not again on the third


def test_a_failed_run_alerts_and_sends_no_heartbeat(tmp_path):
    config = project(tmp_path)
    config.store.parent.mkdir(parents=True)
    config.store.write_bytes(b"this is not a database" * 100)
    with serve() as server:
        url = server.script("/ping", Reply(200, b"ok"))
        operator(config, environ={"HEARTBEAT_URL": url}).build()
        assert server.requests("/ping") == []
    (alert,) = alerts(config)
    assert alert["Subject"] == "[Paper Digest] build failed"
    assert "cannot open the store: file is not a database" in alert.get_content()


@pytest.mark.usefixtures("store_location")
def test_a_run_that_went_well_requests_the_heartbeat(tmp_path):
    config = project(tmp_path)
    jobs = operator(config)
    jobs.ingest()
    with serve() as server:
        url = server.script("/ping/abc", Reply(200, b"ok"))
        operator(config, environ={"HEARTBEAT_URL": url}).build()
        assert len(server.requests("/ping/abc")) == 1


@pytest.mark.usefixtures("store_location")
def test_a_weekly_reader_gets_the_weeks_best_at_their_time(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    with SmtpServer() as server:
        config = project(tmp_path, method="smtp", port=server.port)
        settings = SmtpSettings("127.0.0.1", server.port, security="none", timeout=10)
        jobs = operator(
            config,
            environ={"DIGEST_SECRET": SECRET},
            transport=lambda: SmtpTransport(settings),
        )
        jobs.ingest()
        jobs.build()
        jobs.send("ada")
        jobs.send("weekly")
        jobs.send("weekly")  # a second firing (a DST fold, a restart) sends nothing more
        got = Counter(r for m in server.messages for r in m.recipients)
    assert got == Counter({"ada@example.org": 1, "weekly@example.org": 1})
    with Store.open(config.store) as store:
        statuses = {d.reader: d.status for d in store.deliveries(date(2025, 8, 20))}
        (week,) = [d for d in store.digests(store.subscriber("weekly").profile)]
    assert statuses == {"ada": "sent", "eager": "pending", "weekly": "sent"}
    assert week.papers and week.date == date(2025, 8, 20)


def test_stale_says_when_the_last_good_run_is_older_than_the_schedule_allows(tmp_path):
    config = project(tmp_path)
    friday_run = datetime(2025, 8, 22, 4, 30, tzinfo=UTC)  # Fri 00:30 New York
    # Saturday and Sunday have no ingest (mon-fri): Sunday evening is not stale
    assert stale(config, friday_run, datetime(2025, 8, 24, 22, 0, tzinfo=UTC)) is None
    # Tuesday noon, with Monday's and Tuesday's runs missing: stale
    late = stale(config, friday_run, datetime(2025, 8, 26, 16, 0, tzinfo=UTC))
    assert late is not None and "108 hours ago" in late
    assert stale(config, None, NOW) == "no run has succeeded yet"


@pytest.mark.usefixtures("store_location")
def test_status_shows_the_runs_and_the_warning(tmp_path, capsys):
    config = project(tmp_path)
    jobs = operator(config)
    jobs.ingest()
    jobs.build()
    assert main(["--config", str(config.path), "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("WARNING: the last successful run was")  # NOW is long past
    assert "FAILED digest schedule ingest" in out and "broken:" in out
    assert "ok     digest schedule build: 4 digests written, 0 failed" in out


def test_backup_copies_the_store_while_it_is_open(tmp_path, capsys):
    config = project(tmp_path)
    operator(config).ingest()
    (tmp_path / "copies").mkdir()
    with Store.open(config.store) as writer:  # another process holding the store open
        assert main(["--config", str(config.path), "backup", str(tmp_path / "copies")]) == 0
        assert writer.latest_date() == date(2025, 8, 20)
    (copy,) = (tmp_path / "copies").glob("digest-*.sqlite3")
    with Store.open(copy) as restored:
        assert len(restored.papers(on=date(2025, 8, 20))) == 81
    assert main(["--config", str(config.path), "backup", str(config.store)]) == 1
    assert "that is the store itself" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _no_real_secret(monkeypatch):
    monkeypatch.delenv("HEARTBEAT_URL", raising=False)


@pytest.mark.usefixtures("store_location")
def test_digest_schedule_left_running_ingests_builds_and_stops_cleanly(tmp_path):
    """The real command in its own process: on a fresh store every job's last time falls within
    the grace, so ingest, build and the sends run once, in that order; SIGTERM ends it."""
    import signal
    import subprocess
    import sys
    import time

    config = project(tmp_path)
    text = config.path.read_text("utf-8").replace(
        "schedule:\n",
        'schedule:\n  grace_hours: 200\n  ingest: {time: "00:00", days: "*"}\n'
        '  build: {time: "00:01", days: "*"}\n',
    )
    config.path.write_text(text, encoding="utf-8")
    command = [
        sys.executable,
        "-c",
        "import sys; from digest.cli import main; sys.exit(main())",
        "--config",
        str(config.path),
        "schedule",
    ]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        built = config.out_dir / "digests" / "ada" / "2025-08-20.md"
        deadline = time.monotonic() + 60
        while not built.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the child's work, not for a clock
        assert built.exists()
        # a second scheduler on the same store is refused at once
        second = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "another scheduler is running on this store" in second.stderr
        # the lock: a file beside an SQLite store; in a PostgreSQL store, its advisory lock
        held = "held by server process" if isinstance(config.store, str) else "schedule.lock"
        assert held in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with Store.open(config.store) as store:
        commands = [run["command"] for run in reversed(store.runs(20))]
    # each missed job ran once, in the order its time fell (the weekly send's Monday came first)
    assert sorted(commands) == sorted(
        {"schedule:ingest", "schedule:build", "schedule:send:weekly"}
        | {f"schedule:send:{r}" for r in ("ada", "quiet", "eager")}
    )
    assert commands.index("schedule:ingest") < commands.index("schedule:build")
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ info: digest schedule build", err, re.M)


@pytest.mark.usefixtures("store_location")
def test_a_day_with_no_announcements_emails_only_the_readers_who_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    config = project(tmp_path, method="smtp")
    jobs = operator(config, environ={"DIGEST_SECRET": SECRET})
    jobs.ingest()
    jobs.build()
    next_day = operator(config, environ={"DIGEST_SECRET": SECRET})
    next_day.clock = lambda: NOW + timedelta(days=1)  # Thursday: nothing new was announced
    next_day.build()
    thursday = date(2025, 8, 21)
    with Store.open(config.store) as store:
        assert [d.reader for d in store.deliveries(thursday)] == ["eager"]
        assert {d.reader for d in store.deliveries(date(2025, 8, 20))} == {"ada", "eager"}
    markdown = (config.out_dir / f"digests/eager/{thursday}.md").read_text("utf-8")
    assert "the source broken failed" in markdown  # the notice names the failing source first
    assert f"No new papers were announced for {thursday}." in markdown
    assert not (config.out_dir / f"digests/ada/{thursday}.md").exists()


@pytest.mark.usefixtures("store_location")
def test_a_paused_send_alerts_the_operator(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    with SmtpServer() as server:
        config = project(tmp_path, method="smtp", port=server.port)
        config = replace(config, delivery=replace(config.delivery, max_failures=1))
        settings = SmtpSettings("127.0.0.1", server.port, security="none", timeout=10)
        jobs = operator(
            config, environ={"DIGEST_SECRET": SECRET}, transport=lambda: SmtpTransport(settings)
        )
        jobs.ingest()
        jobs.build()
        server.data_replies.append("451 4.3.0 try later")
        jobs.send("ada")
        alert = next(
            parse(m.content) for m in server.messages if m.recipients == ("ops@example.org",)
        )
    assert alert["Subject"] == "[Paper Digest] send:ada failed"
    assert "ada: deferred: 451 4.3.0 try later" in alert.get_content()
    assert "sending 2025-08-20 paused: 1 failed sends in a row" in alert.get_content()


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)
