"""The command line end to end, in a temporary project built from the fixture pages."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from helpers import FIXTURES

from digest.cli import main
from digest.errors import DigestError

PAGES = FIXTURES / "pages"
AUG, JUN, MAR = "000_136fd171620bccff.txt", "002_3cd0b1d1c34a916a.txt", "003_76e8db34f89bd5b9.txt"
CONFIG = """\
store: out/store.sqlite3
sources:
  - {name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}
  - {name: jun, kind: hf_text, path: pages/002_3cd0b1d1c34a916a.txt, date: 2025-06-02}
  - {name: mar, kind: hf_text, path: pages/003_76e8db34f89bd5b9.txt, date: 2025-03-12}
readers:
  - name: ada
    interests: {keywords: [network pruning, quantization, knowledge distillation]}
  - name: grace
    interests: {keywords: [gaussian splatting, novel view synthesis, 3D reconstruction]}
    top_k: 5
  - name: alan
    interests: {keywords: [large language models, reasoning, in-context learning]}
"""
READERS = ("ada", "grace", "alan")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(PAGES, tmp_path / "pages")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def digest(project: Path, *args: str) -> int:
    return main(["--config", str(project / "config.yaml"), *args])


def output(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    captured = capsys.readouterr()
    return captured.out, captured.err.strip().splitlines()


def as_json(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert digest(project, *args, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_run_writes_every_readers_digest_for_every_date(project: Path, capsys) -> None:
    assert digest(project, "run") == 0
    _, err = output(capsys)
    assert err[-1].startswith("digest run: 3 sources ok, 0 failed; 285 papers seen, 272 new;")
    assert "9 digests written, 0 failed" in err[-1] and err[-1].endswith(" s")
    for reader in READERS:
        for day in ("2025-08-20", "2025-06-02", "2025-03-12"):
            text = (project / "out" / "digests" / reader / f"{day}.md").read_text("utf-8")
            assert text.startswith(f"# Paper Digest: {day}")
    grace = (project / "out/digests/grace/2025-08-20.md").read_text("utf-8")
    assert "## 1. SC-GS: Sparse-Controlled Gaussian Splatting" in grace
    why = grace.split("**Why:** ", 1)[1].split("\n", 1)[0]
    assert "gaussian splatting" in why and "view synthesis" in why


def test_the_store_is_a_real_sqlite_file_in_wal_mode(project: Path) -> None:
    assert digest(project, "ingest") == 0
    conn = sqlite3.connect(project / "out" / "store.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reingesting_adds_nothing_and_overlaps_are_one_paper(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    first = as_json(project, capsys, "papers", "--date", "2025-08-20")
    assert digest(project, "ingest") == 0
    _, err = output(capsys)
    assert "285 papers seen, 0 new" in err[-1]
    again = as_json(project, capsys, "papers", "--date", "2025-08-20")
    assert again == first and len(first) == 81  # type: ignore[arg-type]
    shared = [p for p in first if p["title"].startswith("Weight Compander")]  # type: ignore[union-attr]
    assert len(shared) == 1
    assert shared[0]["dates"] == ["2025-03-12", "2025-08-20"]
    assert shared[0]["sources"] == ["mar", "aug"]


def test_papers_json_keeps_texts_exactly(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    papers = as_json(project, capsys, "papers", "--date", "2025-08-20")
    assert isinstance(papers, list)
    keys = {"id", "title", "abstract", "authors", "url", "code_url", "dates", "sources"}
    assert all(set(p) == keys for p in papers)
    lines = [line.strip() for line in (PAGES / AUG).read_text("utf-8").splitlines()]
    for paper in papers:
        assert paper["title"] in lines and paper["abstract"] in lines
    growth = next(p for p in papers if p["title"].startswith("MixtureGrowth"))
    assert growth["code_url"] == "https://github.com/chaudatascience/mixturegrowth"
    assert growth["id"].startswith("title:")


def test_rank_json_is_the_digest_order_with_reasons(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    ranked = as_json(project, capsys, "rank", "grace", "--date", "2025-08-20")
    assert isinstance(ranked, dict)
    assert set(ranked) == {"reader", "date", "papers"}
    assert (ranked["reader"], ranked["date"]) == ("grace", "2025-08-20")
    papers = ranked["papers"]
    assert 1 <= len(papers) <= 5
    assert papers[0]["title"].startswith("SC-GS: Sparse-Controlled Gaussian Splatting")
    scores = [p["score"] for p in papers]
    assert scores == sorted(scores, reverse=True)
    assert all(p["terms"] and set(p) == {"id", "title", "score", "terms", "url"} for p in papers)
    top3 = as_json(project, capsys, "rank", "ada", "--top", "3")
    assert len(top3["papers"]) <= 3  # type: ignore[index]


def test_without_date_commands_use_the_newest_date(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    ranked = as_json(project, capsys, "rank", "alan")
    assert ranked["date"] == "2025-08-20"  # type: ignore[index]
    assert digest(project, "build") == 0
    assert sorted(p.name for p in (project / "out/digests/ada").iterdir()) == ["2025-08-20.md"]


def test_an_empty_store_is_a_clear_error(project: Path, capsys) -> None:
    assert digest(project, "papers") == 1
    _, err = output(capsys)
    assert len(err) == 1 and err[0].startswith("error: ") and "digest ingest" in err[0]


def test_unknown_reader_names_the_known_ones(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    capsys.readouterr()
    assert digest(project, "rank", "bob") == 1
    _, err = output(capsys)
    assert err[-1] == "error: unknown reader 'bob' (known: ada, alan, grace)"


def test_date_flag_wins_over_the_header_and_dateless_pages_need_one(project: Path, capsys) -> None:
    code = digest(project, "ingest", str(PAGES / AUG), str(PAGES / JUN))
    assert code == 1  # one source failed
    _, err = output(capsys)
    failures = [line for line in err if line.startswith("error:")]
    assert len(failures) == 1 and JUN in failures[0] and "--date" in failures[0]
    assert "1 sources ok, 1 failed; 81 papers seen" in err[-1]
    dates = as_json(project, capsys, "papers")
    today = date.today()
    aug_20 = date(today.year if today >= date(today.year, 8, 20) else today.year - 1, 8, 20)
    assert {d for p in dates for d in p["dates"]} == {aug_20.isoformat()}  # type: ignore[union-attr,index]
    assert digest(project, "ingest", str(PAGES / MAR), "--date", "2024-01-05") == 0
    march = as_json(project, capsys, "papers", "--date", "2024-01-05")
    assert len(march) == 75  # type: ignore[arg-type]


def test_a_broken_file_among_good_ones_harms_nothing(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    before = as_json(project, capsys, "papers", "--date", "2025-08-20")
    (project / "empty.txt").write_bytes(b"")
    (project / "binary.txt").write_bytes(bytes(range(256)) * 50)
    bad = [str(project / "empty.txt"), str(project / "binary.txt")]
    bad += [str(p) for p in sorted((FIXTURES / "bad").glob("*.txt"))]
    capsys.readouterr()
    code = digest(project, "ingest", "--date", "2025-08-20", *bad, str(PAGES / AUG))
    assert code == 1
    _, err = output(capsys)
    assert all(line.count("\n") == 0 for line in err)
    assert any("empty.txt" in line and line.startswith("error:") for line in err)
    assert any("binary.txt" in line and line.startswith("error:") for line in err)
    after = as_json(project, capsys, "papers", "--date", "2025-08-20")
    assert {p["id"] for p in before} <= {p["id"] for p in after}  # type: ignore[union-attr]


def test_kind_from_flag_or_extension(project: Path, capsys) -> None:
    odd = project / "page.dat"
    shutil.copy(PAGES / MAR, odd)
    assert digest(project, "ingest", str(odd)) == 1
    _, err = output(capsys)
    assert any("--kind" in line for line in err)
    assert digest(project, "ingest", str(odd), "--kind", "hf_text", "--date", "2025-03-12") == 0


def test_config_check(project: Path, capsys) -> None:
    assert digest(project, "config", "check") == 0
    out, _ = output(capsys)
    assert "config.yaml: ok, 3 sources, 3 readers" in out
    (project / "config.yaml").write_text(
        CONFIG.replace("[network pruning, quantization, knowledge distillation]", "pruning")
        .replace("top_k: 5", "top_k: many")
        .replace("store:", "stor:"),
        encoding="utf-8",
    )
    assert digest(project, "config", "check") == 1
    _, err = output(capsys)
    assert all(line.startswith("error: ") for line in err)
    text = "\n".join(err)
    assert "readers[0].interests.keywords" in text
    assert "readers[1].top_k" in text and "stor" in text


def test_missing_config_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml"), "papers"]) == 1
    _, err = output(capsys)
    assert len(err) == 1 and "nope.yaml" in err[0]


@pytest.mark.parametrize(
    "args",
    [["rank"], ["papers", "--date", "2025-13-40"], ["frobnicate"], ["rank", "a", "--top", "0"]],
)
def test_usage_errors_exit_2(project: Path, args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        digest(project, *args)
    assert exit_info.value.code == 2


def test_store_flag_overrides_the_config(project: Path) -> None:
    elsewhere = project / "elsewhere" / "my.db"
    assert digest(project, "--store", str(elsewhere), "ingest") == 0
    assert elsewhere.exists()
    assert not (project / "out" / "store.sqlite3").exists()


def test_debug_shows_the_exception(project: Path) -> None:
    with pytest.raises(DigestError):
        digest(project, "--debug", "rank", "nobody")


def test_the_console_script_runs(project: Path) -> None:
    script = Path(sys.executable).with_name("digest")
    if not script.exists():
        found = shutil.which("digest")
        assert found, "the digest console script is not installed"
        script = Path(found)
    done = subprocess.run(
        [str(script), "run"], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("digest run: 3 sources ok")


def test_feedback_is_stored_and_changes_the_next_ranking(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    config_before = (project / "config.yaml").read_bytes()
    first = as_json(project, capsys, "rank", "grace", "--date", "2025-08-20")
    top = first["papers"][0]  # type: ignore[index]
    assert digest(project, "feedback", "grace", top["id"], "--dislike") == 0
    out, _ = output(capsys)
    assert out.startswith(f"grace dislikes {top['id']}")
    again = as_json(project, capsys, "rank", "grace", "--date", "2025-08-20")
    assert top["id"] not in [p["id"] for p in again["papers"]]  # type: ignore[index]
    shown = as_json(project, capsys, "profile", "show", "grace")
    assert shown["disliked"] == [top["id"]]  # type: ignore[index]
    assert shown["negative_terms"] and shown["positive_terms"]  # type: ignore[index]
    assert (project / "config.yaml").read_bytes() == config_before  # learned: in the store
    assert digest(project, "feedback", "grace", "no such paper", "--like") == 1
    _, err = output(capsys)
    assert err[-1].startswith("error: no paper 'no such paper' in the store")
