"""Writing many digests: several processes write the same files as one, and a failing digest is
reported without stopping the others."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from helpers import stored

from digest.app import outputs
from digest.config import Config
from digest.models import Digest, Profile, Scored, Site, Term
from digest.render.links import Links

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
DAY = date(2025, 8, 20)
PAPERS = [
    stored(f"arxiv:2508.{n:05d}", f"Paper {n} on pruning", f"Pruning study {n}.", arxiv_id=None)
    for n in range(12)
]


def config(out: Path, readers: tuple[Profile, ...]) -> Config:
    return Config(
        path=out / "config.yaml",
        store=out / "store.sqlite3",
        out_dir=out,
        templates=(),
        title="Paper Digest",
        sources=(),
        readers=readers,
        site=Site(base_url="https://digest.example.org/", sender="D <d@example.org>"),
    )


def digests(n: int) -> list[Digest]:
    out = []
    for i in range(n):
        reader = Profile(name=f"r{i}", email=f"r{i}@example.org", keywords=("pruning",))
        items = tuple(
            Scored(p, 0.5 - k / 100, (Term("pruning", 1.0),))
            for k, p in enumerate(PAPERS[i % 5 : i % 5 + 6])
        )
        out.append(Digest(reader, DAY, items, candidates=len(PAPERS), generated=NOW))
    return out


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_several_processes_write_the_same_files_as_one(tmp_path: Path, monkeypatch) -> None:
    batch = digests(24)
    readers = tuple(d.reader for d in batch)
    links = Links("https://digest.example.org/")
    one = outputs.write_digests(
        batch, config=config(tmp_path / "one", readers), links=links, now=NOW, workers=1
    )
    monkeypatch.setattr(outputs, "PARALLEL_FROM", 2)
    many = outputs.write_digests(
        batch, config=config(tmp_path / "many", readers), links=links, now=NOW, workers=2
    )
    assert (one.digests, many.digests) == (24, 24) and one.failures == many.failures == []
    assert len(many.paths) == len(one.paths) == 24 * 3  # Markdown, HTML preview, .eml
    assert tree(tmp_path / "one") == tree(tmp_path / "many")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_digest_is_reported_and_the_others_written(
    tmp_path: Path, monkeypatch, workers: int
) -> None:
    batch = digests(6)
    # a template that fails for one reader only
    user = tmp_path / "templates"
    user.mkdir()
    (user / "digest-r3.md").write_text("{{ no_such_thing.x }}", encoding="utf-8")
    settings = config(tmp_path / "out", tuple(d.reader for d in batch))
    settings = replace(settings, templates=(user,))
    monkeypatch.setattr(outputs, "PARALLEL_FROM", 2)
    done = outputs.write_digests(
        batch, config=settings, links=Links(settings.site.base_url), now=NOW, workers=workers
    )
    assert done.digests == 5
    assert len(done.failures) == 1 and done.failures[0].startswith(
        f"r3 2025-08-20: {user / 'digest-r3.md'}:1: 'no_such_thing' is undefined"
    )
    assert (tmp_path / "out" / "mail" / "r4" / "2025-08-20.eml").is_file()
    assert not (tmp_path / "out" / "mail" / "r3").exists()
