"""A reader's library imported as their liked papers, end to end on SQLite and on PostgreSQL:
`digest readers library`, the `library:` key read at each build, the digest a reader made from
a real Zotero BibTeX export gets, bad files changing nothing, and library papers that are never
shown."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from helpers import FIXTURES
from pg import StoreLocation

from digest import rank
from digest.app import build as building
from digest.cli import main
from digest.models import Digest, Scored
from digest.store import Store

DAY = date(2025, 11, 26)
ON_THE_DAY = "arxiv:2511.20422"  # in the library, and announced on DAY
CONFIG = """\
store: out/digest.sqlite3
sources:
  - {name: arxiv, kind: feed, path: day.rss.xml}
readers:
  - name: zoe
    library: zotero.bib
    interests: {}
  - name: ada
    interests: {keywords: [language models]}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_location: StoreLocation) -> Path:
    """The day's papers ingested (DAY's arXiv listing) and the library fixtures at hand."""
    for path in (FIXTURES / "library").iterdir():
        if path.suffix != ".py":
            shutil.copy(path, tmp_path / path.name)
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_NOW", "2025-11-26T12:00:00+00:00")
    assert main(["ingest"]) == 0
    return tmp_path


def store_of(project: Path) -> Store:
    """The store the commands used: DIGEST_STORE's (PostgreSQL), else config.yaml's."""
    return Store.open(os.environ.get("DIGEST_STORE") or project / "out" / "digest.sqlite3")


def library(project: Path, reader: str) -> list[str]:
    with store_of(project) as store:
        return [p.id for p in store.library(reader)]


def digest_of(project: Path, reader: str) -> Digest:
    with store_of(project) as store:
        profile = store.subscriber(reader)
        assert profile is not None
        (made,) = store.digests(profile.profile)
        return made


def test_a_reader_made_of_a_zotero_export_gets_papers_near_their_library(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build"]) == 0
    said = capsys.readouterr().err
    assert "zoe's library from" in said and "(BibTeX): 2 matched, 54 added, 0 skipped" in said
    kept = library(project, "zoe")
    assert len(kept) == 56 and ON_THE_DAY in kept
    made = digest_of(project, "zoe")
    shown = [*made.papers, *made.near]
    assert len(shown) >= 2
    # every paper shown is a robotics paper, each closest to a paper of the reader's library
    assert all("cs.RO" in s.paper.categories for s in shown)
    assert all(s.closest is not None and s.closest.id in kept for s in shown)
    assert ON_THE_DAY not in {s.paper.id for s in shown}  # in the library: read already
    ranked = [s.paper for s in rank_all(project, "zoe")]
    assert all("cs.RO" in p.categories for p in ranked[:3])  # the day has 8 more of 80


def rank_all(project: Path, reader: str) -> list[Scored]:
    """The reader's whole ranking of DAY's papers, floor or no floor."""
    with store_of(project) as store:
        found = store.subscriber(reader)
        assert found is not None
        liked, _ = building.judgements(store, found.profile)
        model = rank.fit(store.papers())
        ranked = rank.rank_many(model, [(found.profile, liked)], store.papers(on=DAY))
        return ranked[reader]


def test_the_cli_imports_a_library_and_prints_what_it_did(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["readers", "library", "ada", "zotero.ris", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"matched": 1, "added": 2, "skipped": []}
    assert main(["readers", "library", "ada", "library.txt"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "library.txt:5: nothing stored matches DOI 10.1145/3292500.3330701, and it has no title "
        "and abstract to add it by",
        "library.txt:7: the same paper as line 4",
    ]
    assert err.strip().endswith(
        "ada's library from library.txt (plain list): 3 matched, 0 added, 2 skipped"
    )
    # the ids of the library papers the RIS import stored matched them: the same three papers
    assert sorted(library(project, "ada")) == ["arxiv:2511.17207", "arxiv:2511.17221", ON_THE_DAY]


def test_a_bad_file_changes_nothing_unless_partial(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["readers", "library", "ada", "zotero.json"]) == 0
    before = library(project, "ada")
    capsys.readouterr()
    assert main(["readers", "library", "ada", "bad.bib"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith('bad.bib:14: a broken BibTeX entry "@misc{noauthor_sing3r_2025"')
    assert err.splitlines()[-1] == (
        "error: bad.bib: 1 bad entry; ada's library is unchanged (fix the lines above, or import "
        "the rest with --partial)"
    )
    assert library(project, "ada") == before
    assert main(["readers", "library", "ada", "bad.json", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "matched": 0,
        "added": 0,
        "skipped": [{"line": 35, "reason": "not valid JSON: Expecting ',' delimiter"}],
    }
    assert library(project, "ada") == before
    assert main(["readers", "library", "ada", "bad.ris", "--partial", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["matched"], document["added"]) == (0, 2)
    assert document["skipped"] == [
        {"line": 15, "reason": "a record not closed by an `ER  - ` line"}
    ]
    assert library(project, "ada") == ["arxiv:2511.17221", "arxiv:2511.16857"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["ada", "notes.docx"], "error: notes.docx: not a library file digest reads (give BibTeX"),
        (["nobody", "zotero.bib"], "error: no reader named 'nobody'"),
        (["ada", "missing.bib"], "missing.bib: no such file"),
    ],
)
def test_what_cannot_be_imported_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    (project / "notes.docx").write_bytes(b"some notes, not a library\n")
    with pytest.raises(SystemExit) if args[1] == "missing.bib" else contextlib.nullcontext():
        assert main(["readers", "library", *args]) == 1
    assert said in capsys.readouterr().err
    assert library(project, "ada") == []


def test_likes_from_feedback_stay_when_a_library_is_replaced(project: Path) -> None:
    assert main(["feedback", "ada", "2511.19861", "--like"]) == 0
    assert main(["readers", "library", "ada", "zotero.ris"]) == 0
    assert main(["readers", "library", "ada", "zotero.csv"]) == 0  # the same three, again
    with store_of(project) as store:
        profile = store.subscriber("ada")
        assert profile is not None
        liked, _ = building.judgements(store, profile.profile)
    assert {p.id for p in liked} == {
        "arxiv:2511.17221",
        "arxiv:2511.17207",
        ON_THE_DAY,
        "arxiv:2511.19861",
    }


def test_a_broken_library_file_at_a_build_is_one_line_and_the_build_goes_on(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build"]) == 0
    kept = library(project, "zoe")
    shutil.copy(project / "bad.bib", project / "zotero.bib")
    capsys.readouterr()
    assert main(["build"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "zotero.bib" in line]
    assert warnings == [
        f"warning: {project / 'zotero.bib'}:14: a broken BibTeX entry "
        '"@misc{noauthor_sing3r_2025": Unexpected block start: `@misc`. Was still looking for '
        "field-value closing `,` or `}`; zoe's library kept as last imported"
    ]
    assert library(project, "zoe") == kept
    (project / "zotero.bib").unlink()
    assert main(["build"]) == 0
    assert "zoe's library: " in capsys.readouterr().err
    assert library(project, "zoe") == kept


def test_a_library_paper_is_never_shown_even_when_it_would_rank_first(project: Path) -> None:
    # kim's keywords are the title of a paper only their library holds
    config = project / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "  - name: kim\n    library: zotero.bib\n"
        + "    interests: {keywords: [semantic occupancy, self-supervision, RayIoU]}\n",
        encoding="utf-8",
    )
    assert main(["build"]) == 0
    only = "arxiv:2511.17221"  # QueryOcc: Query-based Self-Supervision for 3D Semantic Occupancy
    with store_of(project) as store:
        assert store.find([only]) == []  # not a stored paper: a library paper
        (paper,) = [p for p in store.library("kim") if p.id == only]
        found = store.subscriber("kim")
        assert found is not None
        profile = found.profile
        day = store.papers(on=DAY)
        model = rank.fit(day)
        first = rank.rank_many(model, [(profile, [])], [*day, paper])["kim"][0]
        built = store.digests(profile)
    assert first.paper.id == only  # were it a candidate, it would come first
    shown = {s.paper.id for d in built for s in [*d.papers, *d.near]}
    assert built and only not in shown
    assert not any(only in path.read_text("utf-8") for path in (project / "out").rglob("*.md"))
