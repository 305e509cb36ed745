"""The evaluation protocol: metrics by hand, and a tiny listing where the answer is obvious."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from digest import evaluate
from digest.cli import main
from digest.errors import DigestError

TOPICS = {
    "cs.RO": "robot manipulation grasping legged locomotion motion planning",
    "cs.GR": "rendering meshes shading texture synthesis graphics",
    "cs.IT": "channel capacity coding theory information rates decoding",
}


def test_metrics_by_hand() -> None:
    ranking = ["a", "x", "b", "y"]
    relevant = {"a", "b"}
    ideal = 1 + 1 / math.log2(3)
    assert evaluate.ndcg(ranking, relevant, 2) == pytest.approx(1 / ideal)
    assert evaluate.precision(ranking, relevant, 2) == 0.5
    assert evaluate.average_precision(ranking, relevant) == pytest.approx((1 + 2 / 3) / 2)
    assert evaluate.ndcg(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert evaluate.complete(["c"], ["a", "b", "c"]) == ["c", "a", "b"]


def write_listing(tmp_path: Path) -> tuple[Path, Path]:
    rows = []
    days = [f"2025-10-{d:02d}" for d in range(1, 6)]
    for n, day in enumerate(days):
        for m, (category, words) in enumerate(TOPICS.items()):
            for j in range(3):
                pid = f"2510.{n:02d}{m}{j}0"
                text = f"{words} study number {n}{m}{j}"
                rows.append(
                    {
                        "date": day,
                        "id": pid,
                        "title": f"On {words.split()[0]} {j}",
                        "abstract": text,
                        "labels": [category],
                    }
                )
    listings = tmp_path / "listings.jsonl.gz"
    with gzip.open(listings, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    spec = {
        "days": days[3:],
        "history_days": 2,
        "k": 3,
        "interests": [
            {
                "name": c,
                "relevant_if_category": c,
                "keywords": ", ".join(w.split()[:2]),
                "seed_papers": ["2510.00" + str(i) + "00"],
            }
            for i, (c, w) in enumerate(TOPICS.items())
        ],
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    return spec_path, listings


def test_an_obvious_listing_is_ranked_perfectly_and_every_candidate_is_ranked(
    tmp_path: Path,
) -> None:
    spec_path, listings_path = write_listing(tmp_path)
    spec = evaluate.load_spec(spec_path)
    listings = evaluate.load_listings(listings_path)
    results = list(evaluate.evaluate(spec, listings))
    assert len(results) == 2 * 3
    assert all(len(r.ranking) == 9 and len(set(r.ranking)) == 9 for r in results)
    summary = evaluate.summarise(results)
    assert summary["ndcg"] == pytest.approx(1.0) and summary["map"] == pytest.approx(1.0)


def test_the_cli_prints_the_table_and_writes_one_line_per_pair(tmp_path: Path, capsys) -> None:
    spec_path, listings_path = write_listing(tmp_path)
    out = tmp_path / "scores.jsonl"
    args = ["eval", str(spec_path), "--listings", str(listings_path), "--scores-out", str(out)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rankers"]["shipped"]["pairs"] == 6
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(lines) == 6 and set(lines[0]) == {"interest", "day", "ranking"}
    assert lines[0]["ranking"][0].startswith("2510.")


def test_bad_spec_and_listings_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DigestError, match="not an evaluation spec"):
        evaluate.load_spec(tmp_path / "spec.json")
    (tmp_path / "l.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(DigestError, match="not a listings file"):
        evaluate.load_listings(tmp_path / "l.jsonl.gz")
