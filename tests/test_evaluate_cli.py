"""`digest eval` end to end on the small dev cases of tests/fixtures/eval: the table, the JSON,
the --scores-out lines (one per pair, empty ones included), the walk, and one-line errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from evalcase import EVAL, one_thread

from digest.cli import main


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_one_case_as_json_with_a_scores_line_for_every_pair(tmp_path: Path, capsys) -> None:
    out = tmp_path / "scores.jsonl"
    spec, listings = EVAL / "interests_dev.json", EVAL / "arxiv_listings_dev.jsonl.gz"
    args = ["eval", str(spec), "--listings", str(listings), "--json", "--scores-out", str(out)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    found = report["cases"]["interests_dev"]
    assert found["k"] == 5 and list(found["rankers"]) == ["shipped", "kw+centroid", "arxiv-sanity"]
    shipped = found["rankers"]["shipped"]
    assert shipped["pairs"] == 11 and shipped["empty_pairs"] == 1
    assert {"precision_shown", "recall_shown", "shown", "empty_shown"} <= set(shipped)
    assert "shown" not in found["rankers"]["kw+centroid"]
    lines = lines_of(out)
    assert [(x["interest"], x["day"][-2:]) for x in lines] == [
        (i, d) for i in ("cs.RO", "cs.GR", "cs.DB") for d in ("05", "06", "07", "08")
    ]
    assert all(set(x) == {"interest", "day", "ranking", "shown"} for x in lines)
    assert all(len(x["ranking"]) == 40 and x["ranking"][0].startswith("2510.") for x in lines)
    empty = lines[-2]  # databases on 2025-10-07: no relevant paper, still ranked and shown
    assert empty["day"] == "2025-10-07" and isinstance(empty["shown"], int)


def test_all_dev_prints_one_table_of_every_case_and_ranker(capsys) -> None:
    assert main(["eval", "--all-dev", str(EVAL), "--ranker", "keywords"]) == 0
    captured = capsys.readouterr()
    head, *rows = captured.out.splitlines()
    assert head.split()[:9] == ["case", "ranker", "pairs", "nDCG@5", "P@5", "MAP", "R@5", "|", "P"]
    assert [r.split()[:2] for r in rows] == [
        [case, ranker]
        for case in ("interests_dev", "tags_dev", "pool_dev")
        for ranker in ("shipped", "keywords")
    ]
    shipped = rows[0].split()
    assert len(shipped) == 14 and shipped[2] == "11"  # pairs, four means, |, six shown columns
    assert rows[1].split()[-1] == "|"  # a variant has no cutoff: no shown columns
    assert rows[4].split()[2] == "3" and rows[4].split()[-3] == "-"  # pool: no empty day
    assert captured.err.startswith("digest eval: 3 cases, 2 rankers")


def test_all_dev_walks_the_cases_with_more_than_one_day(tmp_path: Path, capsys) -> None:
    out = tmp_path / "walk.jsonl"
    args = ["eval", "--all-dev", str(EVAL), "--feedback-days", "2", "--json", "--scores-out"]
    assert main([*args, str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["feedback_days"] == 2 and report["skipped"] == ["pool_dev"]
    assert list(report["cases"]) == ["interests_dev", "tags_dev"]
    rankers = report["cases"]["tags_dev"]["rankers"]
    names = ["shipped", "shipped, likes ignored", "kw+centroid", "arxiv-sanity"]
    assert list(rankers) == names
    row = rankers["shipped"]
    assert (row["pairs"], row["pairs_2_to_n"], row["pairs_after_n"]) == (11, 3, 5)
    assert len(row["curve"]) == 4
    assert row["curve"][0] == rankers["shipped, likes ignored"]["curve"][0]  # no likes yet
    lines = lines_of(out)
    assert len(lines) == 2 * 12
    assert set(lines[0]) == {"case", "interest", "day", "ranking", "shown", "day_index"}
    assert [x["day_index"] for x in lines[:5]] == [1, 2, 3, 4, 1]


def test_the_walk_table_has_pooled_means_and_a_curve_per_ranker(capsys) -> None:
    spec, listings = EVAL / "tags_dev.json", EVAL / "arxiv_listings_dev.jsonl.gz"
    assert main(["eval", str(spec), "--listings", str(listings), "--feedback-days", "2"]) == 0
    head, *rows, blank, title, days, shipped, ignoring, _, _ = capsys.readouterr().out.splitlines()
    assert head.split()[:7] == ["case", "ranker", "pairs", "days", "2-2", "after", "2"]
    assert [r[15:37].strip() for r in rows] == [
        "shipped",
        "shipped, likes ignored",
        "kw+centroid",
        "arxiv-sanity",
    ]
    assert rows[0].split()[2:3] == ["11"] and blank == "" and title == "mean nDCG@5 by day index"
    assert days.split()[2:] == ["1", "2", "3", "4"]
    curve = shipped[37:].split()
    assert len(curve) == 4 and curve[0] == ignoring[37:].split()[0]  # day 1: no likes yet


def test_a_case_of_one_day_has_no_walk(capsys) -> None:
    spec, listings = EVAL / "pool_dev.json", EVAL / "pool_listings_dev.jsonl.gz"
    args = ["eval", str(spec), "--listings", str(listings), "--feedback-days", "10"]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "pool_dev: one test day, no walk"


def test_a_missing_dev_file_is_one_line_naming_it(tmp_path: Path, capsys) -> None:
    for path in EVAL.iterdir():
        if path.name != "tags_dev.json":
            shutil.copy(path, tmp_path / path.name)
    assert main(["eval", "--all-dev", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'tags_dev.json'}: no such file\n"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--all-dev", str(EVAL), str(EVAL / "tags_dev.json")], "not both"),
        ([str(EVAL / "tags_dev.json")], "give SPEC.json and --listings"),
        (["--all-dev", str(EVAL), "--ranker", "bm25"], "unknown ranker 'bm25'"),
    ],
)
def test_usage_mistakes_are_one_line(args: list[str], said: str, capsys) -> None:
    assert main(["eval", *args]) == 1
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1
