"""Sharded builds (`digest build --shard K/N`), on SQLite and on PostgreSQL: N shards run one
after another, or side by side in threads, write every byte an unsharded build of the same store
contents writes (each reader's Markdown and email, the ledger, the feeds and the archive); the
model is fitted once, by the first shard, and loaded from the store by the others; the feeds and
the archive are written once, by the shard that completes the day's set, or by `--publish`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg import fresh_schema, pg_server_or_skip

from digest import rank
from digest.app import flow, wiring
from digest.app.shards import Shard, of_reader
from digest.cli import main
from digest.models import Delivery
from digest.store import Store

PAGES = Path(__file__).parent / "fixtures" / "pages"
DAY = date(2025, 8, 20)
NOW = datetime(2025, 8, 20, 6, 30, tzinfo=UTC)
ENV = {"DIGEST_SECRET": "a-test-secret-of-at-least-32-characters!"}
# readers spread over the shards of 3 (and of 2): see test_readers_fall_in_stable_shards;
# alan ranks deepest (top_k 15), and is in shard 3 of 3 only
CONFIG = """\
store: out/store.sqlite3
newsletter: {from: "Paper Digest <digest@example.org>"}
site: {base_url: "https://digest.example.org/"}
delivery:
  method: smtp
  base_url: https://app.example.org/
  smtp: {host: 127.0.0.1, port: 25, security: none}
sources:
  - {name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}
  - {name: jun, kind: hf_text, path: pages/002_3cd0b1d1c34a916a.txt, date: 2025-06-02}
readers:
  - name: ada
    email: ada@example.org
    interests: {keywords: [network pruning, quantization, knowledge distillation]}
  - name: grace
    email: grace@example.org
    public: true
    top_k: 5
    interests: {keywords: [gaussian splatting, novel view synthesis, 3D reconstruction]}
  - name: alan
    email: alan@example.org
    top_k: 15
    interests: {keywords: [large language models, reasoning, in-context learning]}
  - name: hedy
    email: hedy@example.org
    interests: {keywords: [diffusion models, image generation]}
  - name: katherine
    interests: {keywords: [reinforcement learning, robotics]}
  - name: barbara
    email: barbara@example.org
    interests: {keywords: [speech recognition, audio]}
  - name: radia
    email: radia@example.org
    public: true
    interests: {keywords: [graph neural networks, retrieval]}
"""
READERS = ("ada", "grace", "alan", "hedy", "katherine", "barbara", "radia")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        pg_server_or_skip()
    return str(request.param)


@pytest.fixture
def project(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Maker]:
    """Makes projects of the fixture pages and CONFIG, each with its own store of the backend,
    ingested; the clock stopped at NOW and the link secret set, for every command."""
    monkeypatch.setenv("DIGEST_NOW", NOW.isoformat())
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with contextlib.ExitStack() as schemas:

        def make(name: str) -> Project:
            folder = tmp_path / name
            (folder / "pages").mkdir(parents=True)
            for page in ("000_136fd171620bccff.txt", "002_3cd0b1d1c34a916a.txt"):
                (folder / "pages" / page).write_bytes((PAGES / page).read_bytes())
            (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
            location = str(folder / "out" / "store.sqlite3")
            if backend == "postgresql":
                location = schemas.enter_context(fresh_schema(pg_server_or_skip()))
            made = Project(folder, location)
            assert made.digest("ingest") == 0
            return made

        yield make


class Project:
    """A project folder and its store, and the CLI run on them."""

    def __init__(self, folder: Path, location: str) -> None:
        self.folder, self.location, self.out = folder, location, folder / "out"

    def digest(self, *args: str) -> int:
        config = str(self.folder / "config.yaml")
        return main(["--config", config, "--store", self.location, "-q", *args])

    def outputs(self) -> dict[str, bytes]:
        """Every file a build wrote under out/ (not the store, its lock, or the model cache)."""
        return {
            str(path.relative_to(self.out)): path.read_bytes()
            for path in sorted(self.out.rglob("*"))
            if path.is_file()
            and not path.name.startswith("store.sqlite3")
            and path.relative_to(self.out).parts[0] != "cache"
        }

    def ledger(self) -> list[Delivery]:
        with Store.open(self.location) as store:
            return store.deliveries(DAY)

    def models(self) -> int:
        """How many models the store holds, read from its table."""
        count = "SELECT COUNT(*) FROM models"
        if self.location.startswith("postgresql://"):
            with psycopg.connect(self.location) as conn:
                return int(conn.execute(count).fetchone()[0])  # type: ignore[index]
        with contextlib.closing(sqlite3.connect(self.location)) as db:
            return int(db.execute(count).fetchone()[0])


Maker = Callable[[str], Project]


@pytest.fixture
def fits(whole: Project, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of the corpus of every model fitted after the unsharded build (rank.fit
    counted, then run)."""
    fitted: list[int] = []
    real = rank.fit

    def fit(papers: Any, *args: Any, **kwargs: Any) -> rank.Model:
        fitted.append(len(papers))
        return real(papers, *args, **kwargs)

    monkeypatch.setattr(rank, "fit", fit)
    return fitted


@pytest.fixture
def whole(project: Maker) -> Project:
    """The unsharded build of DAY that every sharded one is compared with."""
    made = project("whole")
    assert made.digest("build", "--date", str(DAY)) == 0
    assert made.outputs() and made.ledger()
    return made


def test_readers_fall_in_stable_shards() -> None:
    # pinned: a change here moves readers between the hosts of running sharded builds
    assert [of_reader(name, 3) for name in READERS] == [3, 3, 3, 1, 1, 2, 2]
    assert [of_reader(name, 2) for name in READERS] == [1, 2, 2, 2, 2, 1, 2]
    names = [f"reader{n}" for n in range(200)]
    for count in range(1, 6):
        shards = [Shard(k, count) for k in range(1, count + 1)]
        assert all(sum(s.holds(name) for s in shards) == 1 for name in names)
        assert all(any(s.holds(name) for name in names) for s in shards)


def test_shards_one_after_another_write_what_one_build_writes(
    project: Maker, whole: Project, fits: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    sharded = project("sharded")
    capsys.readouterr()
    for k in (1, 2):
        assert sharded.digest("build", "--date", str(DAY), "--shard", f"{k}/3") == 0
        err = capsys.readouterr().err
        assert f"shard {k}/3 of {DAY} done ({k} of 3): publishing left to the last shard" in err
        assert not (sharded.out / "site").exists() and not (sharded.out / "feeds").exists()
    assert sharded.digest("build", "--date", str(DAY), "--shard", "3/3") == 0
    err = capsys.readouterr().err
    assert "shard 3/3 of 2025-08-20 done (3 of 3): the last, so it wrote the feeds" in err
    assert "digest build: 3 digests written, 0 failed" in err  # ada, grace and alan
    assert sharded.outputs() == whole.outputs()
    assert sharded.ledger() == whole.ledger()
    assert len(fits) == 1 and sharded.models() == 1  # the first shard fitted; the others loaded


def test_shards_side_by_side_fit_the_model_once(
    project: Maker, whole: Project, fits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two shards at once, each with its own connection to the store: the first to need the
    model fits it holding the model lock, and goes on only once the other is at the lock; the
    other then loads the model it saved."""
    sharded = project("sharded")
    config = wiring.load(sharded.folder / "config.yaml", {"DIGEST_STORE": sharded.location})
    results: dict[Shard, flow.ShardResult] = {}
    others: list[threading.Thread] = []
    at_lock = threading.Event()

    def build(shard: Shard) -> None:
        with wiring.open_store(sharded.location, config, now=NOW) as store:
            results[shard] = flow.build_shard(
                config, store, day=DAY, now=NOW, shard=shard, environ=ENV
            )

    with Store.open(sharded.location) as store:
        kind = type(store)
    locked, counted = kind.model_lock, rank.fit

    @contextlib.contextmanager
    def model_lock(self: Any, key: str) -> Iterator[None]:
        if threading.current_thread() in others:
            at_lock.set()
        with locked(self, key):
            yield

    def fit(papers: Any, *args: Any, **kwargs: Any) -> rank.Model:
        if not others:  # the first fit: the other shard starts now, and reaches the lock
            others.append(threading.Thread(target=build, args=(Shard(2, 2),)))
            others[0].start()
            assert at_lock.wait(timeout=60)
        return counted(papers, *args, **kwargs)

    monkeypatch.setattr(kind, "model_lock", model_lock)
    monkeypatch.setattr(rank, "fit", fit)
    build(Shard(1, 2))
    others[0].join(timeout=120)
    assert sorted(s.number for s in results) == [1, 2]
    assert [results[Shard(k, 2)].fitted for k in (1, 2)] == [True, False]
    assert [r.published for r in results.values()].count(True) == 1
    assert len(fits) == 1 and sharded.models() == 1
    assert sharded.outputs() == whole.outputs()
    assert sharded.ledger() == whole.ledger()


def test_publish_writes_the_feeds_and_the_archive_on_demand(
    project: Maker, whole: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a shard died before it was done: `--publish` writes what the store holds; the
    shard run again completes the set and writes them again, whole."""
    sharded = project("sharded")
    for k in (1, 2):
        assert sharded.digest("build", "--date", str(DAY), "--shard", f"{k}/3") == 0
    capsys.readouterr()
    assert sharded.digest("build", "--publish") == 0
    assert "digest build: the feeds and the archive written" in capsys.readouterr().err
    written = sharded.outputs()
    assert (sharded.out / "site" / "index.html").is_file() and "feeds/all.xml" in written
    assert written != whole.outputs()  # shard 3's readers are not built yet
    assert sharded.digest("build", "--date", str(DAY), "--shard", "3/3") == 0
    assert sharded.outputs() == whole.outputs()
    for path in ("site", "feeds"):  # published again from the store alone: the same bytes
        for old in sorted((sharded.out / path).rglob("*"), reverse=True):
            old.unlink() if old.is_file() else old.rmdir()
    assert sharded.digest("build", "--publish") == 0
    assert sharded.outputs() == whole.outputs()


def test_a_set_of_shards_completes_once_and_building_again_starts_a_new_one(
    project: Maker,
) -> None:
    location = project("store").location
    with Store.open(location) as store:
        assert store.finish_shard(DAY, 2, 3, now=NOW) == [2]
        assert store.finish_shard(DAY, 1, 3, now=NOW) == [1, 2]
        assert store.finish_shard(DAY, 2, 3, now=NOW) == [1, 2]  # a shard run again
        assert store.finish_shard(DAY, 1, 2, now=NOW) == [1]  # another N: another set
        assert store.finish_shard(date(2025, 8, 21), 3, 3, now=NOW) == [3]
        assert store.finish_shard(DAY, 3, 3, now=NOW) == [1, 2, 3]  # complete: this one publishes
        assert store.finish_shard(DAY, 3, 3, now=NOW) == [3]  # the next build of the day


def test_the_store_keeps_the_newest_models(project: Maker) -> None:
    location = project("store").location
    with Store.open(location) as store:
        for n in range(6):
            store.save_model(f"key{n}", bytes([n]) * 100)
        assert [store.load_model(f"key{n}") for n in (0, 1)] == [None, None]
        assert [store.load_model(f"key{n}") for n in (2, 5)] == [b"\2" * 100, b"\5" * 100]
        store.save_model("key2", b"fitted again")  # an unreadable one replaced
        assert store.load_model("key2") == b"fitted again"


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "1/0", "a/b", "1/3/3", "1 / 3", "", "٢/٣"])
def test_a_bad_shard_is_one_clear_line(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["build", "--shard", text])
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        f"digest build: error: argument --shard: expected K/N with 1 <= K <= N, got {text!r}"
    ]


def test_publish_builds_nothing_of_a_date(project: Maker, capsys) -> None:
    made = project("store")
    capsys.readouterr()
    assert made.digest("build", "--publish", "--date", str(DAY)) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: --publish writes the feeds and the archive of every date: drop --date"
    ]
