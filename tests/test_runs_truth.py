"""Runs tell the truth: dates are facts (`--date` dates only what it names, a paper keeps the date
it was first announced on), every path alerts by the same rules, log lines never land on a
progress bar, and `digest status` reports every command's runs, manual ones included.

Real stores (SQLite files, and PostgreSQL schemas: `store_location`; a damaged store file's test
on SQLite only), real fixture pages, a real SMTP server; the commands run in-process."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import FIXTURES
from pg import store_rows
from smtpserver import SmtpServer

from digest.app import wiring
from digest.app.jobs import Operator
from digest.cli import _log_to_stderr, main
from digest.cli.common import progress_bar
from digest.config import Config
from digest.deliver.smtp import SmtpSettings, SmtpTransport

PAGES = FIXTURES / "pages"
AUG, JUN = "000_136fd171620bccff.txt", "002_3cd0b1d1c34a916a.txt"
CONFIG = """\
store: out/store.sqlite3
sources:
  - {name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}
  - {name: jun, kind: hf_text, path: pages/002_3cd0b1d1c34a916a.txt, date: 2025-06-02}
readers:
  - name: ada
    interests: {keywords: [network pruning, quantization, knowledge distillation]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pages").mkdir()
    for name in (AUG, JUN):
        shutil.copy(PAGES / name, tmp_path / "pages")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def digest(project: Path, *args: str) -> int:
    return main(["--config", str(project / "config.yaml"), *args])


def on(project: Path, capsys: pytest.CaptureFixture[str], day: str) -> set[str]:
    """The ids of the papers announced on `day`."""
    capsys.readouterr()
    assert digest(project, "papers", "--date", day, "--json") == 0
    return {p["id"] for p in json.loads(capsys.readouterr().out)}


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


# -- dates are facts ------------------------------------------------------------------------


def test_run_for_another_date_leaves_a_fixed_page_its_date(project, capsys, store_location):
    assert digest(project, "ingest") == 0
    june, august = on(project, capsys, "2025-06-02"), on(project, capsys, "2025-08-20")
    assert june and august - june  # some papers are on both pages, most on one
    assert digest(project, "run", "--date", "2025-06-02") == 0
    err = capsys.readouterr().err
    assert on(project, capsys, "2025-06-02") == june  # the August page was not re-dated
    assert on(project, capsys, "2025-08-20") == august
    assert "1 digests written" in err and warnings(err) == []
    query = "SELECT candidates FROM digests WHERE digest_date = '2025-06-02'"
    store = store_location(project / "out/store.sqlite3")
    assert store_rows(store, query) == [(len(june),)]  # of June's papers, not both


@pytest.mark.usefixtures("store_location")
def test_a_paper_keeps_the_date_it_was_first_announced_on_unless_redated(project, capsys):
    assert digest(project, "ingest", "--source", "aug") == 0
    august = on(project, capsys, "2025-08-20")
    assert digest(project, "ingest", "--source", "aug", "--date", "2025-06-02") == 0
    assert on(project, capsys, "2025-06-02") == set()
    assert on(project, capsys, "2025-08-20") == august
    assert digest(project, "ingest", "--source", "aug", "--date", "2025-06-02", "--redate") == 0
    assert on(project, capsys, "2025-06-02") == august
    assert on(project, capsys, "2025-08-20") == set()


@pytest.mark.usefixtures("store_location")
def test_date_names_the_files_given_and_the_dated_sources(project, capsys):
    (project / "daily").mkdir()
    shutil.copy(PAGES / AUG, project / "daily" / "2025-08-21.txt")
    config = project / "config.yaml"
    config.write_text(
        config.read_text("utf-8").replace(
            "readers:", "  - {name: daily, kind: hf_text, path: 'daily/{date}.txt'}\nreaders:"
        ),
        encoding="utf-8",
    )
    assert digest(project, "run", "--date", "2025-08-21") == 0
    dated = on(project, capsys, "2025-08-21")
    assert dated == on(project, capsys, "2025-08-20")  # the same page under its own source
    assert len(dated) == 81
    assert on(project, capsys, "2025-06-02")  # jun kept its `date:`
    adhoc = project / "adhoc.txt"
    shutil.copy(PAGES / JUN, adhoc)
    assert digest(project, "ingest", str(adhoc), "--date", "2024-01-05") == 0
    assert on(project, capsys, "2024-01-05") == on(project, capsys, "2025-06-02")


@pytest.mark.parametrize(
    ("day", "said"),
    [
        ("1999-01-01", "1999-01-01 is before the store's first day (2025-06-02)"),
        ("2025-07-01", "no papers were announced on 2025-07-01 (the store has 2025-06-02 to"),
    ],
)
@pytest.mark.usefixtures("store_location")
def test_building_a_date_without_papers_warns_once(project, capsys, day, said):
    assert digest(project, "ingest") == 0
    capsys.readouterr()
    assert digest(project, "build", "--date", day) == 0
    (line,) = warnings(capsys.readouterr().err)
    assert said in line
    assert digest(project, "run", "--date", day) == 0
    (line,) = warnings(capsys.readouterr().err)
    assert said in line
    assert digest(project, "build", "--date", "2025-08-20") == 0
    assert warnings(capsys.readouterr().err) == []


# -- alerts from every path -----------------------------------------------------------------

NOW = datetime(2025, 8, 20, 5, 0, tzinfo=UTC)
SECRET = "a secret of more than sixteen bytes"
OPS = """\
delivery:
  method: {method}
  operator: ops@example.org
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  rate: 1000
  max_failures: 1
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 10}}
"""


def operated(project: Path, *, method: str = "files", port: int = 25) -> Config:
    """The project with a broken source beside the good ones and an operator to alert."""
    shutil.copy(FIXTURES / "bad" / "truncated_after_title.txt", project / "pages" / "broken.txt")
    config = project / "config.yaml"
    text = config.read_text("utf-8").replace(
        "readers:",
        "  - {name: broken, kind: hf_text, path: pages/broken.txt}\n"
        + OPS.format(method=method, port=port)
        + "readers:",
    )
    config.write_text(text.replace("    interests:", "    email: ada@example.org\n    interests:"))
    return wiring.load(config)  # as the commands read it: DIGEST_STORE names the store, when set


def alert_subjects(config: Config) -> list[str]:
    folder = config.out_dir / "mail" / "operator"
    found = sorted(folder.glob("*.eml")) if folder.exists() else []
    return sorted(parse(p.read_bytes())["Subject"] for p in found)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def scheduled(config: Config, days: int = 0, **more: object) -> Operator:
    return Operator(config, clock=lambda: NOW + timedelta(days=days), environ={}, **more)


@pytest.mark.usefixtures("store_location")
def test_digest_run_alerts_a_failing_source_once_and_once_more_when_it_recovers(project):
    config = operated(project)
    assert digest(project, "run") == 1  # the broken source failed: a flake, maybe
    assert alert_subjects(config) == []
    assert digest(project, "run") == 1
    assert alert_subjects(config) == ["[Paper Digest] source broken failed 2 runs in a row"]
    assert digest(project, "run") == 1
    scheduled(config).ingest()  # the scheduled job counts the same history
    assert len(alert_subjects(config)) == 1
    shutil.copy(PAGES / AUG, project / "pages" / "broken.txt")
    assert digest(project, "run") == 0
    assert alert_subjects(config) == [
        "[Paper Digest] source broken failed 2 runs in a row",
        "[Paper Digest] source broken recovered after 4 failed runs",
    ]
    assert digest(project, "run") == 0
    assert len(alert_subjects(config)) == 2


@pytest.mark.usefixtures("store_location")
def test_a_streak_begun_by_manual_runs_alerts_at_the_next_scheduled_failure(project):
    config = operated(project)
    assert digest(project, "ingest") == 1
    assert digest(project, "ingest") == 1  # manual ingests count, but do not mail
    assert alert_subjects(config) == []
    scheduled(config).ingest()
    assert alert_subjects(config) == ["[Paper Digest] source broken failed 3 runs in a row"]
    scheduled(config, days=1).ingest()
    assert len(alert_subjects(config)) == 1


def smtp_project(project: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    return operated(project, method="smtp", port=server.port)


def to_ops(server: SmtpServer) -> list[email.message.EmailMessage]:
    return [parse(m.content) for m in server.messages if m.recipients == ("ops@example.org",)]


@pytest.mark.usefixtures("store_location")
def test_a_manual_send_that_pauses_alerts_the_operator(project, monkeypatch):
    with SmtpServer() as server:
        smtp_project(project, server, monkeypatch)
        assert digest(project, "ingest") == 1  # the broken source, as ever
        assert digest(project, "build") == 0  # ada's message of 2025-08-20 waits in the ledger
        server.data_replies.append("451 4.3.0 try later")
        assert digest(project, "send") == 1
        (alert,) = to_ops(server)
    assert alert["Subject"] == "[Paper Digest] send failed"
    assert "ada: deferred: 451 4.3.0 try later" in alert.get_content()
    assert "sending 2025-08-20 paused" in alert.get_content()


@pytest.mark.usefixtures("store_location")
def test_status_clears_a_failed_send_once_a_manual_send_succeeds(project, capsys, monkeypatch):
    with SmtpServer() as server:
        config = smtp_project(project, server, monkeypatch)
        settings = SmtpSettings("127.0.0.1", server.port, security="none", timeout=10)
        # the scheduled jobs ran two hours ago, and the send was refused (its retry is due now)
        jobs = Operator(
            config,
            clock=lambda: datetime.now(UTC) - timedelta(hours=2),
            environ={"DIGEST_SECRET": SECRET},
            transport=lambda: SmtpTransport(settings),
        )
        jobs.ingest()
        jobs.build()
        server.data_replies.append("451 4.3.0 try later")
        jobs.send("ada")
        capsys.readouterr()
        assert digest(project, "status") == 0
        assert "FAILED digest schedule send:ada" in capsys.readouterr().out
        assert digest(project, "send", "--resume") == 0  # the server is back
        assert [m.recipients for m in server.messages][-1] == ("ada@example.org",)
    capsys.readouterr()
    assert digest(project, "status", "--json") == 0
    jobs_json = json.loads(capsys.readouterr().out)["jobs"]
    assert jobs_json["send"]["failure"] is None
    assert jobs_json["send"]["last_success"]["command"] == "send"
    assert jobs_json["ingest"]["failure"]["command"] == "schedule:ingest"  # failing: still shown
    assert digest(project, "status") == 0
    out = capsys.readouterr().out
    assert "FAILED digest schedule send" not in out
    assert re.search(r"^  send +\S+ \S+ UTC ok +digest send: sending 2025-08-20: 1 sent", out, re.M)
    assert "no run has succeeded yet" not in out


# -- log lines and the progress bar ---------------------------------------------------------


def screen(text: str) -> list[str]:
    """The lines a terminal shows for `text`: a carriage return goes back to the line's start,
    and what follows overwrites it."""
    lines, line, col = [], [], 0
    for char in text:
        if char == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif char == "\r":
            col = 0
        else:
            line[col : col + 1] = [char]
            col += 1
    return lines + (["".join(line).rstrip()] if line else [])


def test_a_log_line_printed_while_a_progress_bar_shows_starts_on_its_own_line(capsys):
    _log_to_stderr(logging.INFO)  # the command line's handler, on the captured stderr
    log = logging.getLogger("digest")
    progress_bar(1, 3, "pages/a.txt")
    log.error("pages/b.txt: no date header")
    progress_bar(2, 3, "pages/b.txt")
    progress_bar(3, 3, "pages/c.txt")
    shown = screen(capsys.readouterr().err)
    assert shown == ["error: pages/b.txt: no date header", f"[{'#' * 30}] 3/3 pages/c.txt"]


def test_an_error_ending_a_command_starts_on_its_own_line(project, capsys):
    progress_bar(1, 2, "out/store.sqlite3")  # a bar left unfinished by the failing work
    (project / "out").mkdir()
    (project / "out/store.sqlite3").write_bytes(b"this is not a database" * 100)
    assert digest(project, "build") == 1
    (line,) = screen(capsys.readouterr().err)
    assert line.startswith("error: ") and "cannot open the store" in line
