"""The floor (digest/app): `run` is the one ingest-build-send sequence, on a real store and
real files, and every run ends as one RunReport with one summary line."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from helpers import FIXTURES

from digest.app import flow, wiring
from digest.models import RunReport, SourceOutcome

NOW = datetime(2025, 8, 20, 5, 0, tzinfo=UTC)
CONFIG = """\
store: out/store.sqlite3
sources:
  - {name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}
  - {name: broken, kind: hf_text, path: pages/truncated_after_title.txt}
readers:
  - name: ada
    interests: {keywords: [network pruning, quantization, knowledge distillation]}
"""


def project(tmp_path: Path) -> Path:
    (tmp_path / "pages").mkdir()
    shutil.copy(FIXTURES / "pages" / "000_136fd171620bccff.txt", tmp_path / "pages")
    shutil.copy(FIXTURES / "bad" / "truncated_after_title.txt", tmp_path / "pages")
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.mark.usefixtures("store_location")
def test_a_run_ingests_builds_and_is_recorded_as_its_report(tmp_path):
    config = wiring.load(project(tmp_path))
    with wiring.open_store(config.store, config, now=NOW) as store:
        units = wiring.units(config, today=NOW.date())
        report = flow.run(config, store, units, now=NOW, latest=wiring.digest_day)
        flow.conclude(config, store, report, now=NOW)
        (run,) = store.runs(5)
    assert [(s.source, s.status) for s in report.sources] == [("aug", "ok"), ("broken", "failed")]
    assert report.built and report.digests == 1 and report.sending is None  # files: no send
    assert report.ok and report.sources_failed == 1
    assert (config.out_dir / "digests/ada/2025-08-20.md").exists()
    assert run["command"] == "run" and run["summary"] == report.line()
    kept = json.loads(json.dumps(report.record(), default=str))  # as the store keeps it
    assert run["report"] == kept | {"alerts": []}


def test_one_summary_line_whichever_path_ran():
    outcomes = (
        SourceOutcome("a", "ok", papers_seen=5, papers_new=3),
        SourceOutcome("b", "not modified"),
        SourceOutcome("c", "failed", error="gone"),
    )
    run = RunReport(
        "run",
        NOW,
        1.5,
        outcomes,
        built=True,
        digests=2,
        build_failures=1,
        sending="x: y",
        failures=("ada: x",),
    )
    assert run.line() == (
        "digest run: 1 sources ok, 1 not modified, 1 failed; 5 papers seen, 3 new; "
        "2 digests written, 1 failed; sending x: y; 1.50 s"
    )
    assert RunReport("send", NOW, 2.0, sending="2025-08-20: 1 sent").line() == (
        "digest send: sending 2025-08-20: 1 sent; 2.00 s"
    )
    # a scheduled job's line is a command's, labelled with its job; problems beyond the
    # build's own failures are counted
    job = RunReport("schedule:ingest", NOW, 0.25, outcomes, failures=("f",))
    assert job.line() == (
        "digest schedule ingest: 1 sources ok, 1 not modified, 1 failed; 5 papers seen, 3 new; "
        "1 problem; 0.25 s"
    )
    built = RunReport(
        "schedule:build", NOW, 1.0, built=True, digests=4, build_failures=1, failures=("ada: x",)
    )
    assert built.line() == ("digest schedule build: 4 digests written, 1 failed; 1.00 s")
    sent = RunReport("schedule:send:ada", NOW, 0.5, sending="2025-08-20: 1 sent")
    assert sent.line() == "digest schedule send:ada: sending 2025-08-20: 1 sent; 0.50 s"
    assert RunReport("schedule:retry", NOW, 0.0).line() == (
        "digest schedule retry: nothing to do; 0.00 s"
    )


def test_one_record_shape_whichever_path_ran():
    outcome = SourceOutcome("a", "ok", papers_new=3, dates=(date(2025, 8, 20),))
    job = RunReport("schedule:build", NOW, 1.0, (outcome,), digests=4, sent={"sent": 1})
    assert job.record() == {
        "sources": [
            {
                "source": "a",
                "status": "ok",
                "papers_seen": 0,
                "papers_new": 3,
                "dates": (date(2025, 8, 20),),
                "error": None,
                "warnings": (),
            }
        ],
        "papers_new": 3,
        "digests": 4,
        "files": 0,
        "sent": {"sent": 1},
        "ledger": None,
        "failures": [],
        "ok": True,
    }
    sent = RunReport("send", NOW, 1.0, sent={"sent": 1}, ledger={"sent": 2}, failures=("x",))
    assert sent.record() == {
        "sources": [],
        "papers_new": 0,
        "digests": 0,
        "files": 0,
        "sent": {"sent": 1},
        "ledger": {"sent": 2},
        "failures": ["x"],
        "ok": False,
    }
    written = RunReport("build", NOW, 1.0, digests=1, written=(Path("a.md"), Path("a.eml")))
    assert list(written.record()) == list(job.record())
    assert written.record()["files"] == 2
