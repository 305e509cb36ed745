"""The command line end to end, in a temporary project built from the fixture pages.

Each test builds its own project under tmp_path (the three fixture pages, a config.yaml with three
readers and pinned dates) and calls `digest.cli.main` in-process; one test runs the installed
console script. Expected counts are read from the pages themselves (`page_papers`), not from the
package's parser. The tests that touch the store run on SQLite and on PostgreSQL (`store_location`);
those about the SQLite file itself (its format, --store naming another file) and the console
script's (the installed entry point, not the store) on SQLite only.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES
from pg import store_rows as query

from digest.cli import main
from digest.errors import ConfigError, DigestError, StoreError

PAGES = FIXTURES / "pages"
BAD = FIXTURES / "bad"
AUG, JUN, MAR = "000_136fd171620bccff.txt", "002_3cd0b1d1c34a916a.txt", "003_76e8db34f89bd5b9.txt"
# each page: the configured source that reads it, and its pinned digest date
SOURCES = {AUG: ("aug", "2025-08-20"), JUN: ("jun", "2025-06-02"), MAR: ("mar", "2025-03-12")}
DATES = sorted(day for _, day in SOURCES.values())
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
STORE = Path("out/store.sqlite3")
SUMMARY = re.compile(r"digest (\w+): (.+); (\d+\.\d\d) s")
PAPER_KEYS = {"id", "title", "abstract", "authors", "url", "code_url", "dates", "sources"}


def page_papers(name: str) -> dict[str, str]:
    """title -> abstract of a fixture page, read without the package's parser.

    A title is a short line right before a long one; the header-less layout glues the first title
    to `Subscribe`. The lines carry no surrounding whitespace, so these are the lines byte for byte.
    """
    lines = [line for line in (PAGES / name).read_text("utf-8").splitlines() if line.strip()]
    return {
        title.removeprefix("Subscribe"): abstract
        for title, abstract in itertools.pairwise(lines)
        if len(title) < 250 <= len(abstract)
    }


PAGE_PAPERS = {name: page_papers(name) for name in SOURCES}
UNIQUE = len(set().union(*PAGE_PAPERS.values()))  # titles on any page


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


def as_json(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """The whole stdout of a --json command, parsed as one document."""
    capsys.readouterr()
    assert digest(project, *args, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_the_pages_as_these_tests_read_them() -> None:
    assert [len(PAGE_PAPERS[name]) for name in (AUG, JUN, MAR)] == [81, 129, 75]
    assert sum(len(p) for p in PAGE_PAPERS.values()) == 285 > UNIQUE
    assert (
        "SC-GS: Sparse-Controlled Gaussian Splatting for Editable Dynamic Scenes"
        in (PAGE_PAPERS[AUG])
    )


@pytest.mark.usefixtures("store_location")
def test_run_writes_every_readers_digest_for_every_date(project: Path, capsys) -> None:
    assert digest(project, "run") == 0
    out, err = output(capsys)
    assert out == ""
    summary = SUMMARY.fullmatch(err[-1])
    assert summary is not None and summary[1] == "run"
    assert summary[2] == (
        f"3 sources ok, 0 failed; 285 papers seen, {UNIQUE} new; 9 digests written, 0 failed"
    )
    tops = {}
    for reader in READERS:
        folder = project / "out" / "digests" / reader
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"{day}.{kind}" for day in DATES for kind in ("md", "html")
        )
        mails = project / "out" / "mail" / reader
        assert sorted(p.name for p in mails.iterdir()) == [f"{day}.eml" for day in DATES]
        for day in DATES:
            assert (folder / f"{day}.md").read_text("utf-8").startswith(f"# Paper Digest: {day}")
        text = (folder / "2025-08-20.md").read_text("utf-8")
        first = re.search(r"^## 1\. (.+)$", text, re.MULTILINE)
        assert first is not None
        tops[reader] = first[1]
    assert len(set(tops.values())) == 3  # different interests, different first papers
    assert (
        tops["grace"] == "SC-GS: Sparse-Controlled Gaussian Splatting for Editable Dynamic Scenes"
    )
    grace = (project / "out/digests/grace/2025-08-20.md").read_text("utf-8")
    why = grace.split("matched ", 1)[1].split("\n", 1)[0]
    assert "gaussian splatting" in why and "view synthesis" in why
    # the feeds and the archive site come with every run
    feeds = sorted(p.name for p in (project / "out" / "feeds").iterdir())
    assert feeds == sorted(f"{n}.{x}" for n in ("all", *READERS) for x in ("xml", "atom"))
    site = project / "out" / "site"
    assert (site / "index.html").is_file() and (site / "search.json").is_file()
    assert all((site / f"{day.replace('-', '/')}/index.html").is_file() for day in DATES)
    assert not (site / "readers").exists()  # no reader is public


def test_the_store_after_run_is_a_real_sqlite_file_in_wal_mode(project: Path, capsys) -> None:
    assert digest(project, "run") == 0
    _, err = output(capsys)
    store = project / STORE
    assert store.read_bytes()[:16] == b"SQLite format 3\x00"
    assert query(store, "PRAGMA user_version")[0][0] >= 1
    assert query(store, "PRAGMA journal_mode")[0][0] == "wal"
    assert query(store, "SELECT count(*) FROM papers")[0][0] == UNIQUE
    assert query(store, "SELECT command, summary FROM runs") == [("run", err[-1])]


@pytest.mark.usefixtures("store_location")
def test_a_failing_configured_source_does_not_stop_the_run(project: Path, capsys) -> None:
    shutil.copy(BAD / "titles_only.txt", project / "pages" / "broken.txt")
    config = CONFIG.replace(
        "readers:",
        "  - {name: broken, kind: hf_text, path: pages/broken.txt, date: 2025-01-01}\nreaders:",
    )
    (project / "config.yaml").write_text(config, encoding="utf-8")
    assert digest(project, "run") == 1
    _, err = output(capsys)
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and "broken.txt" in errors[0]
    assert "3 sources ok, 1 failed; 285 papers seen" in err[-1]
    assert "9 digests written, 0 failed" in err[-1]
    assert not (project / "out/digests/ada/2025-01-01.md").exists()


def test_reingesting_adds_nothing_and_overlaps_are_one_paper(
    project: Path, capsys, store_location
) -> None:
    assert digest(project, "ingest") == 0
    before = {day: as_json(project, capsys, "papers", "--date", day) for day in DATES}
    assert digest(project, "ingest") == 0
    _, err = output(capsys)
    assert err[-1].startswith("digest ingest: 3 sources ok, 0 failed; 285 papers seen, 0 new;")
    after = {day: as_json(project, capsys, "papers", "--date", day) for day in DATES}
    assert after == before
    assert query(store_location(project / STORE), "SELECT count(*) FROM papers")[0][0] == UNIQUE
    by_title = {p["title"]: p for papers in after.values() for p in papers}
    assert len(by_title) == len({p["id"] for p in by_title.values()}) == UNIQUE
    on_pages = {}
    for title, paper in by_title.items():
        pages = sorted((n for n in SOURCES if title in PAGE_PAPERS[n]), key=lambda n: SOURCES[n][1])
        on_pages[title] = len(pages)
        assert paper["dates"] == [SOURCES[n][1] for n in pages], title  # oldest first
        assert paper["sources"] == [SOURCES[n][0] for n in pages], title
    assert list(on_pages.values()).count(2) >= 1  # on two pages: one paper, two dates
    assert 3 in on_pages.values()  # and one is on all three


@pytest.mark.usefixtures("store_location")
def test_papers_json_is_one_document_with_texts_kept_exactly(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    capsys.readouterr()
    assert digest(project, "papers", "--date", "2025-08-20", "--json") == 0
    out, err = output(capsys)
    papers = json.loads(out)  # the whole of stdout: exactly one JSON document
    assert err == ["digest papers: 81 papers on 2025-08-20"]
    assert isinstance(papers, list) and all(set(p) == PAPER_KEYS for p in papers)
    assert {p["title"]: p["abstract"] for p in papers} == PAGE_PAPERS[AUG]
    assert any("&" in p["abstract"] for p in papers)  # `Data & Project website: ...`
    growth = next(p for p in papers if p["title"].startswith("MixtureGrowth"))
    assert growth["code_url"] == "https://github.com/chaudatascience/mixturegrowth"
    for day, name in ((SOURCES[JUN][1], JUN), (SOURCES[MAR][1], MAR)):
        texts = {
            p["title"]: p["abstract"] for p in as_json(project, capsys, "papers", "--date", day)
        }
        assert texts == PAGE_PAPERS[name]
    assert "A Large-Scale Exploration of $μ$-Transfer" in PAGE_PAPERS[JUN]  # LaTeX, non-ASCII
    assert any("10.9\\% increase" in a for a in PAGE_PAPERS[JUN].values())


@pytest.mark.usefixtures("store_location")
def test_papers_without_json_lists_ids_and_titles(project: Path, capsys) -> None:
    assert digest(project, "ingest", "--source", "aug") == 0
    capsys.readouterr()
    assert digest(project, "papers") == 0
    out, err = output(capsys)
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == 81 and all(len(row) == 2 for row in rows)
    assert {title for _, title in rows} == set(PAGE_PAPERS[AUG])
    assert err == ["digest papers: 81 papers on 2025-08-20"]


@pytest.mark.usefixtures("store_location")
def test_rank_json_is_the_digest_order_with_reasons(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    capsys.readouterr()
    assert digest(project, "rank", "grace", "--date", "2025-08-20", "--json") == 0
    out, err = output(capsys)
    ranked = json.loads(out)
    assert re.fullmatch(
        r"digest rank: \d+ of 81 papers( and \d+ loosely related)? on 2025-08-20 for grace", err[-1]
    )
    assert set(ranked) == {"reader", "date", "papers"}
    assert (ranked["reader"], ranked["date"]) == ("grace", "2025-08-20")
    papers = ranked["papers"]
    assert 1 <= len(papers) <= 5  # grace's top_k
    assert "Gaussian Splatting" in papers[0]["title"] and papers[0]["title"] in PAGE_PAPERS[AUG]
    scores = [p["score"] for p in papers]
    assert scores[0] == max(scores)  # the best first; diversity may reorder the rest
    keys = {"id", "title", "score", "loose", "why", "terms", "url", "closest_liked", "closeness"}
    keys |= {"standing"}
    keys |= {"popularity_share", "followed_authors"}
    assert all(p["terms"] and set(p) == keys for p in papers)
    for p in papers:
        assert p["why"].startswith("Loosely related · " if p["loose"] else "Score ")
    loose = [p["loose"] for p in papers]
    assert loose == sorted(loose)  # the matches first, then the loosely related papers
    assert all(0 < sum(t["share"] for t in p["terms"]) <= 1.0001 for p in papers)
    assert all(p["title"] in PAGE_PAPERS[AUG] for p in papers)
    for reader in ("ada", "alan"):
        ranked = as_json(project, capsys, "rank", reader, "--date", "2025-08-20")
        assert 1 <= len(ranked["papers"]) <= 10  # the default top_k
    top3 = as_json(project, capsys, "rank", "ada", "--top", "3")
    assert 1 <= len(top3["papers"]) <= 3
    assert digest(project, "rank", "ada", "--top", "3") == 0
    out, _ = output(capsys)
    lines = out.splitlines()
    matches = [p for p in top3["papers"] if not p["loose"]]
    near = len(top3["papers"]) - len(matches)
    assert len(lines) == len(matches) + (near + 1 if near else 0)
    numbered = [str(i) for i in range(1, len(matches) + 1)]
    assert [line.split()[0] for line in lines[: len(matches)]] == numbered
    for line, paper in zip(lines, matches, strict=False):
        assert line.endswith(f"  [{paper['why']}]")


@pytest.mark.usefixtures("store_location")
def test_rank_prints_near_misses_after_the_matches(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    capsys.readouterr()
    # ada's interests are five: on this page few papers clear her floor, some come close
    ranked = as_json(project, capsys, "rank", "ada", "--date", "2025-08-20")["papers"]
    loose = [p["loose"] for p in ranked]
    assert loose == sorted(loose) and False in loose and True in loose
    matches, near = loose.count(False), loose.count(True)
    assert near <= 3  # ada's near_misses: the default
    assert all(p["why"].startswith("Loosely related · Score ") for p in ranked[matches:])
    assert digest(project, "rank", "ada", "--date", "2025-08-20") == 0
    out, err = output(capsys)
    lines = out.splitlines()
    head, label, tail = lines[:matches], lines[matches], lines[matches + 1 :]
    assert head == [
        f"{n:3d}  {p['title']}  [{p['why']}]" for n, p in enumerate(ranked[:matches], 1)
    ]
    assert label.strip().startswith("loosely related: below your relevance floor")
    assert tail == [f"  -  {p['title']}  [{p['why']}]" for p in ranked[matches:]]
    assert err[-1] == (
        f"digest rank: {matches} of 81 papers and {near} loosely related on 2025-08-20 for ada"
    )


def test_build_keeps_near_misses_in_the_markdown_the_feeds_and_the_store(
    project: Path, capsys, store_location
) -> None:
    assert digest(project, "ingest", "--source", "aug") == 0
    ranked = as_json(project, capsys, "rank", "ada", "--date", "2025-08-20")["papers"]
    matches, near = [p for p in ranked if not p["loose"]], [p for p in ranked if p["loose"]]
    assert matches and near
    assert digest(project, "build", "--date", "2025-08-20") == 0
    text = (project / "out/digests/ada/2025-08-20.md").read_text("utf-8")
    assert text.count("\n## 1. ") == 1 and f"\n## {len(matches) + 1}. " not in text
    assert text.index("\n## 1. ") < text.index("\n## Loosely related\n") < text.index("\n### ")
    feed = (project / "out/feeds/ada.atom").read_text("utf-8")
    assert feed.count('<category term="Loosely related"/>') == len(near)
    rows = query(
        store_location(project / STORE),
        "SELECT position, reasons FROM digest_papers WHERE reader = 'ada' ORDER BY position",
    )
    assert ['"loose": true' in reasons for _, reasons in rows] == [p["loose"] for p in ranked]


@pytest.mark.usefixtures("store_location")
def test_a_thin_day_is_shown_as_thin(project: Path, capsys) -> None:
    """grace typed five phrases; on this page one paper holds any of them whole. Papers that
    share only a word split off a phrase ("view", "fields", "3d") are neither matches nor
    near misses, and no reason names such a word."""
    assert digest(project, "ingest") == 0
    ranked = as_json(project, capsys, "rank", "grace", "--date", "2025-08-20")["papers"]
    assert 1 <= len(ranked) <= 4
    typed = {"gaussian splatting", "novel view synthesis", "3d reconstruction"}
    for paper in ranked:
        assert {t["term"].lower() for t in paper["terms"]} <= typed


@pytest.mark.usefixtures("store_location")
def test_an_unknown_reader_names_the_known_ones(project: Path, capsys) -> None:
    assert digest(project, "ingest", "--source", "aug") == 0
    capsys.readouterr()
    assert digest(project, "rank", "bob") == 1
    out, err = output(capsys)
    assert out == ""
    assert err == ["error: unknown reader 'bob' (known: ada, alan, grace)"]


@pytest.mark.usefixtures("store_location")
def test_without_date_commands_use_the_newest_date(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    assert as_json(project, capsys, "rank", "alan")["date"] == "2025-08-20"
    assert len(as_json(project, capsys, "papers")) == 81
    assert digest(project, "build") == 0
    _, err = output(capsys)
    assert "3 digests written, 0 failed" in err[-1]
    for reader in READERS:
        folder = project / "out" / "digests" / reader
        assert sorted(p.name for p in folder.iterdir()) == ["2025-08-20.html", "2025-08-20.md"]


@pytest.mark.parametrize("args", [["papers"], ["rank", "ada"], ["build"]])
def test_an_empty_store_is_a_clear_error(
    project: Path, capsys, args: list[str], store_location
) -> None:
    assert digest(project, *args) == 1
    out, err = output(capsys)
    assert out == ""
    store = store_location(project.resolve() / STORE)
    assert err == [f"error: {store}: no papers yet (run `digest ingest` first)"]


def test_an_adhoc_file_takes_the_date_given_over_its_header(
    project: Path, capsys, store_location
) -> None:
    adhoc = project / "downloads" / "latest.txt"
    adhoc.parent.mkdir()
    shutil.copy(PAGES / MAR, adhoc)  # its header says `Mar 12`
    assert digest(project, "ingest", str(adhoc), "--date", "2024-01-05") == 0
    _, err = output(capsys)
    assert err[-1].startswith("digest ingest: 1 sources ok, 0 failed; 75 papers seen, 75 new;")
    store = store_location(project / STORE)
    assert query(store, "SELECT DISTINCT digest_date, source FROM sightings") == [
        ("2024-01-05", "file:latest.txt")
    ]
    papers = as_json(project, capsys, "papers", "--date", "2024-01-05")
    assert {p["title"] for p in papers} == set(PAGE_PAPERS[MAR])
    assert all(p["dates"] == ["2024-01-05"] for p in papers)


@pytest.mark.usefixtures("store_location")
def test_a_page_without_a_date_fails_alone(project: Path, capsys) -> None:
    code = digest(project, "ingest", str(PAGES / AUG), str(PAGES / JUN))
    assert code == 1  # one source failed
    _, err = output(capsys)
    failures = [line for line in err if line.startswith("error:")]
    assert len(failures) == 1 and str(PAGES / JUN) in failures[0] and "--date" in failures[0]
    assert err[-1].startswith("digest ingest: 1 sources ok, 1 failed; 81 papers seen, 81 new;")
    today = date.today()  # the header's year: the latest Aug 20 not after today
    aug_20 = date(today.year if today >= date(today.year, 8, 20) else today.year - 1, 8, 20)
    papers = as_json(project, capsys, "papers")
    assert {d for p in papers for d in p["dates"]} == {aug_20.isoformat()}
    assert {p["title"] for p in papers} == set(PAGE_PAPERS[AUG])


def test_broken_files_among_good_ones_harm_nothing(project: Path, capsys, store_location) -> None:
    assert digest(project, "ingest", "--source", "aug") == 0
    before = as_json(project, capsys, "papers", "--date", "2025-08-20")
    store = store_location(project / STORE)
    count = query(store, "SELECT count(*) FROM papers")[0][0]
    assert count == 81
    junk = project / "junk"
    junk.mkdir()
    (junk / "empty.txt").write_bytes(b"")
    (junk / "blank.txt").write_bytes(b" \n\n\t\n")
    (junk / "binary.txt").write_bytes(bytes(range(256)) * 50)
    (junk / "latin1.txt").write_bytes("Caf\xe9 na\xefve r\xe9sum\xe9\n".encode("latin-1") * 40)
    bad = sorted(junk.iterdir())
    bad += [BAD / "missing_title.txt", BAD / "readme.txt", BAD / "titles_only.txt"]
    capsys.readouterr()
    args = ["ingest", "--json", "--date", "2025-03-12", *map(str, bad), str(PAGES / MAR)]
    assert digest(project, *args) == 1
    out, err = output(capsys)
    outcomes = json.loads(out)
    assert [o["status"] for o in outcomes] == ["failed"] * len(bad) + ["ok"]
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == len(bad)
    for path, outcome, line in zip(bad, outcomes, errors, strict=False):
        assert str(path) in outcome["error"] and str(path) in line
    overlap = len(PAGE_PAPERS[AUG].keys() & PAGE_PAPERS[MAR].keys())
    assert err[-1].startswith(
        f"digest ingest: 1 sources ok, {len(bad)} failed; 75 papers seen, {75 - overlap} new;"
    )
    assert query(store, "SELECT count(*) FROM papers")[0][0] == count + 75 - overlap
    after = as_json(project, capsys, "papers", "--date", "2025-08-20")

    def texts(papers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        fields = ("id", "title", "abstract", "authors", "url", "code_url")
        return sorted(tuple(json.dumps(p[f]) for f in fields) for p in papers)

    assert texts(after) == texts(before)
    both = [p for p in after if p["title"] in PAGE_PAPERS[MAR]]
    assert len(both) == overlap
    assert all(p["dates"] == ["2025-03-12", "2025-08-20"] for p in both)
    assert all(p["sources"] == [f"file:{MAR}", "aug"] for p in both)


@pytest.mark.usefixtures("store_location")
def test_the_kind_comes_from_the_flag_or_the_extension(project: Path, capsys) -> None:
    odd = project / "page.dat"
    shutil.copy(PAGES / MAR, odd)
    assert digest(project, "ingest", str(odd)) == 1
    _, err = output(capsys)
    assert err[0] == (
        f"error: {odd}: cannot tell the kind from the extension "
        "(pass --kind: feed, hf_api, hf_html, hf_text)"
    )
    assert "0 sources ok, 1 failed" in err[-1]
    assert digest(project, "ingest", str(odd), "--kind", "hf_text", "--date", "2025-03-12") == 0
    _, err = output(capsys)
    assert err[-1].startswith("digest ingest: 1 sources ok, 0 failed; 75 papers seen, 75 new;")


@pytest.mark.usefixtures("store_location")
def test_local_file_names_are_plain_paths(project: Path, capsys) -> None:
    odd = project / "what?.txt"  # not a URL query
    shutil.copy(PAGES / MAR, odd)
    assert digest(project, "ingest", str(odd), "--date", "2025-03-12") == 0
    colon = project / "file:x.txt"  # not a file: URL
    shutil.copy(PAGES / MAR, colon)
    assert digest(project, "ingest", str(colon), "--date", "2025-03-12") == 0


def test_config_check_reports_every_problem_at_once(project: Path, capsys) -> None:
    config = project / "config.yaml"
    assert digest(project, "config", "check") == 0
    out, _ = output(capsys)
    assert out == f"{config.resolve()}: ok, 3 sources, 3 readers\n"
    config.write_text(
        CONFIG.replace("[network pruning, quantization, knowledge distillation]", "pruning")
        .replace("top_k: 5", "top_k: many")
        .replace("store:", "stor:"),
        encoding="utf-8",
    )
    assert digest(project, "config", "check") == 1
    out, err = output(capsys)
    assert out == ""
    assert all(line.startswith(f"error: {config}: ") for line in err)
    keys = [line.removeprefix(f"error: {config}: ").split(": ", 1)[0] for line in err[:-1]]
    assert sorted(keys) == ["readers[0].interests.keywords", "readers[1].top_k", "stor"]
    assert err[-1] == f"error: {config}: 3 problem(s) in config"
    assert digest(project, "run") == 1  # every command validates first; nothing is written
    assert not (project / "out").exists()


def test_a_missing_config_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml"), "papers"]) == 1
    out, err = output(capsys)
    assert out == ""
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'nope.yaml'}: no such config")
    monkeypatch.chdir(tmp_path)  # the default is ./config.yaml
    assert main(["papers"]) == 1
    _, err = output(capsys)
    assert err == [
        "error: config.yaml: no such config file (run from the project directory or pass --config)"
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["rank"],
        ["papers", "--date", "2025-13-40"],
        ["frobnicate"],
        ["rank", "ada", "--top", "0"],
        ["ingest", "--kind", "pdf"],
        ["feedback", "ada", "some paper"],
        [],
    ],
)
def test_usage_errors_exit_2(project: Path, capsys, args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        digest(project, *args)
    assert exit_info.value.code == 2
    out, err = output(capsys)
    assert out == "" and err[0].startswith("usage: digest")


def test_the_store_flag_overrides_the_config(project: Path, capsys) -> None:
    elsewhere = project / "elsewhere" / "my.db"
    assert digest(project, "--store", str(elsewhere), "ingest", "--source", "aug") == 0
    assert elsewhere.is_file() and query(elsewhere, "PRAGMA user_version")[0][0] >= 1
    assert not (project / STORE).exists()
    papers = as_json(project, capsys, "papers", "--store", str(elsewhere))  # after the command
    assert len(papers) == 81
    assert digest(project, "papers") == 1  # the config's store is still empty


@pytest.mark.usefixtures("store_location")
def test_debug_raises_what_is_otherwise_one_line(project: Path, capsys) -> None:
    assert digest(project, "rank", "nobody") == 1
    _, err = output(capsys)
    assert err == ["error: unknown reader 'nobody' (known: ada, alan, grace)"]
    with pytest.raises(ConfigError, match="unknown reader 'nobody'"):
        digest(project, "--debug", "rank", "nobody")
    with pytest.raises(StoreError, match="no papers yet"):
        digest(project, "papers", "--debug")
    with pytest.raises(DigestError):
        main(["--debug", "--config", str(project / "nope.yaml"), "papers"])


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
    assert done.stderr.strip().splitlines()[-1].startswith("digest run: 3 sources ok, 0 failed;")
    assert len(list((project / "out" / "digests").glob("*/*.md"))) == 9


@pytest.mark.usefixtures("store_location")
def test_feedback_is_stored_and_changes_the_next_ranking(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    config_before = (project / "config.yaml").read_bytes()
    first = as_json(project, capsys, "rank", "grace", "--date", "2025-08-20")
    top = first["papers"][0]
    assert digest(project, "feedback", "grace", top["id"], "--dislike") == 0
    out, _ = output(capsys)
    assert out.startswith(f"grace dislikes {top['id']}")
    again = as_json(project, capsys, "rank", "grace", "--date", "2025-08-20")
    assert top["id"] not in [p["id"] for p in again["papers"]]
    shown = as_json(project, capsys, "profile", "show", "grace")
    assert shown["disliked"] == [top["id"]]
    assert shown["negative_terms"] and shown["positive_terms"]
    assert (project / "config.yaml").read_bytes() == config_before  # learned: in the store
    assert digest(project, "feedback", "grace", "no such paper", "--like") == 1
    _, err = output(capsys)
    assert err[-1].startswith("error: no paper 'no such paper' in the store")


@pytest.mark.usefixtures("store_location")
def test_config_dislikes_and_exclusions_shape_the_ranking(project: Path, capsys) -> None:
    assert digest(project, "ingest") == 0
    first = as_json(project, capsys, "rank", "alan", "--date", "2025-08-20")["papers"]
    top, second = first[0], first[1]
    word = second["terms"][0]["term"]  # a word or a phrase: excluded alike
    config = CONFIG.replace(
        "interests: {keywords: [large language models, reasoning, in-context learning]}",
        "interests:\n      keywords: [large language models, reasoning, in-context learning]"
        f"\n      disliked: [{json.dumps(top['title'])}]\n      exclude: [{json.dumps(word)}]",
    )
    (project / "config.yaml").write_text(config, encoding="utf-8")
    again = as_json(project, capsys, "rank", "alan", "--date", "2025-08-20")["papers"]
    ids = [p["id"] for p in again]
    assert top["id"] not in ids and second["id"] not in ids and again
    for paper in again:
        assert word.lower() not in [t["term"].lower() for t in paper["terms"]]
