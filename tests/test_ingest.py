"""The ingest stage over real HTTP (127.0.0.1): conditional GET through the store, failure
isolation, moved and gone sources, announce types, `{date}` sources and backfill."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from helpers import FIXTURES
from httpserver import Reply, Server, serve
from pg import StoreLocation

from digest import ingest
from digest.config import Config, SourceConfig
from digest.fetch import Fetcher
from digest.models import Profile
from digest.store import Store

NOW = datetime(2026, 9, 24, 9, 0, tzinfo=UTC)
MULTI = (FIXTURES / "feeds/arxiv_rss/msudars-laya-reader_arxiv_rss_multi_cat.rss.xml").read_bytes()
CS_LG = (FIXTURES / "feeds/arxiv_rss/jmamath-distill_arxiv_cs_lg.rss.xml").read_bytes()
PAGE = FIXTURES / "pages" / "003_76e8db34f89bd5b9.txt"


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path, store_location: StoreLocation) -> Iterator[Store]:
    """Each test's store, on SQLite and on PostgreSQL."""
    with Store.open(store_location(tmp_path / "store.db")) as opened:
        yield opened


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    sleeps: list[float] = []
    with Fetcher(
        default_interval=0.0, sleep=sleeps.append, clock=lambda: 0.0, rng=random.Random(0)
    ) as f:
        yield f


def config(tmp_path: Path, *sources: SourceConfig) -> Config:
    return Config(
        path=tmp_path / "config.yaml",
        store=tmp_path / "store.db",
        out_dir=tmp_path / "out",
        templates=(),
        title="T",
        sources=sources,
        readers=(Profile(name="r", keywords=("x",)),),
    )


def run(store: Store, fetcher: Fetcher, cfg: Config, days: list[date] | None = None) -> list:
    units = ingest.configured_units(cfg, days=days or [NOW.date()])
    return ingest.ingest(store, units, today=NOW.date(), now=NOW, fetcher=fetcher)


def test_a_second_run_sends_validators_and_does_no_work_on_304(
    tmp_path: Path, server: Server, store: Store, fetcher: Fetcher
) -> None:
    headers = {"ETag": '"day-1"', "Last-Modified": "Thu, 24 Sep 2026 08:58:05 GMT"}
    url = server.script("/rss/cs.LG", Reply(200, CS_LG, headers), Reply(304, b""))
    cfg = config(tmp_path, SourceConfig("lg", "feed", url=url))
    (first,) = run(store, fetcher, cfg)
    assert (first.status, first.papers_new) == ("ok", 3)
    (second,) = run(store, fetcher, cfg)
    assert second.status == "not modified" and second.papers_seen == 0
    sent = server.requests("/rss/cs.LG")[1].headers
    assert sent["if-none-match"] == '"day-1"'
    assert sent["if-modified-since"] == "Thu, 24 Sep 2026 08:58:05 GMT"
    assert len(store.papers()) == 3
    state = store.fetch_state(url)
    assert state is not None and state.etag == '"day-1"'


def test_announce_types_are_filtered_per_source(
    tmp_path: Path, server: Server, store: Store, fetcher: Fetcher
) -> None:
    url = server.script("/multi", Reply(200, MULTI))
    (default,) = run(store, fetcher, config(tmp_path, SourceConfig("multi", "feed", url=url)))
    assert default.papers_seen == 3  # new + cross; the replace is left out
    every = SourceConfig("all", "feed", url=url, announce_types=("new", "cross", "replace"))
    (everything,) = run(store, fetcher, config(tmp_path, every))
    assert everything.papers_seen == 4


def test_one_failing_source_never_stops_the_others_or_harms_the_store(
    tmp_path: Path, server: Server, store: Store, fetcher: Fetcher
) -> None:
    good = server.script("/good", Reply(200, CS_LG))
    broken = server.script("/broken", Reply(200, b"<rss><channel><item><title>cut"))
    html = server.script("/html", Reply(200, b"<html><body>Hi</body></html>"))
    missing = server.script("/missing", Reply(404, b"no"))
    cfg = config(
        tmp_path,
        SourceConfig("broken", "feed", url=broken),
        SourceConfig("html", "feed", url=html),
        SourceConfig("missing", "feed", url=missing),
        SourceConfig("page", "hf_text", path=PAGE, date=date(2025, 3, 12)),
        SourceConfig("good", "feed", url=good),
    )
    outcomes = run(store, fetcher, cfg)
    assert [o.status for o in outcomes] == ["failed", "failed", "failed", "ok", "ok"]
    assert all(o.error and "\n" not in o.error for o in outcomes[:3])
    assert len(store.papers()) == 75 + 3
    assert store.fetch_state(broken) is None  # a broken body leaves no validators behind
    assert store.source_failures("broken") == 1 and store.source_failures("good") == 0


def test_gone_sources_are_remembered_and_not_fetched_again(
    tmp_path: Path, server: Server, store: Store, fetcher: Fetcher
) -> None:
    url = server.script("/gone", Reply(410, b""))
    cfg = config(tmp_path, SourceConfig("gone", "feed", url=url))
    (first,) = run(store, fetcher, cfg)
    (second,) = run(store, fetcher, cfg)
    assert first.status == second.status == "failed"
    assert "410" in (second.error or "")
    assert len(server.requests("/gone")) == 1


def test_a_permanent_move_is_recorded_and_followed_next_time(
    tmp_path: Path, server: Server, store: Store, fetcher: Fetcher
) -> None:
    new = server.script("/new", Reply(200, CS_LG, {"ETag": '"n"'}), Reply(304, b""))
    old = server.script("/old", Reply(301, b"", {"Location": new}))
    cfg = config(tmp_path, SourceConfig("moved", "feed", url=old))
    run(store, fetcher, cfg)
    state = store.fetch_state(old)
    assert state is not None and state.moved_to == new
    (second,) = run(store, fetcher, cfg)
    assert second.status == "not modified"
    assert len(server.requests("/old")) == 1 and len(server.requests("/new")) == 2


def test_date_sources_fetch_each_day_and_skip_weekends_when_asked(
    tmp_path: Path, server: Server, store: Store, fetcher: Fetcher
) -> None:
    for day in ("2026-09-18", "2026-09-21"):  # a Friday and a Monday
        server.script(f"/rss/{day}", Reply(200, CS_LG))
    source = SourceConfig("dated", "feed", url=server.base + "/rss/{date}", weekends=False)
    days = ingest.days_between(date(2026, 9, 18), date(2026, 9, 21))
    outcomes = run(store, fetcher, config(tmp_path, source), days)
    assert [o.dates for o in outcomes] == [(date(2026, 9, 18),), (date(2026, 9, 21),)]
    assert [s.path for s in server.seen] == ["/rss/2026-09-18", "/rss/2026-09-21"]
    # the same paper on two dates is one paper with two sightings
    assert {p.dates for p in store.papers()} == {(date(2026, 9, 18), date(2026, 9, 21))}


def test_unknown_kinds_and_missing_files_fail_alone(tmp_path: Path, store: Store) -> None:
    units = [
        *ingest.file_units([tmp_path / "x.pdf"], kind=None, day=None),
        *ingest.file_units([tmp_path / "missing.txt"], kind=None, day=None),
        *ingest.configured_units(
            config(tmp_path, SourceConfig("glob", "hf_text", path=tmp_path / "*.txt")),
            days=[NOW.date()],
        ),
    ]
    outcomes = ingest.ingest(store, units, today=NOW.date(), now=NOW)
    errors = [o.error or "" for o in outcomes]
    assert "--kind" in errors[0] and "cannot read" in errors[1] and "no files match" in errors[2]


def _page_and_feed(items: list[dict]) -> tuple[bytes, bytes]:
    """A Daily Papers text page and an arXiv RSS feed announcing the same papers as an API day."""
    page = [
        "new",
        "",
        "Get trending papers in your email inbox!",
        "",
        "Subscribe",
        "",
        "Jun 10",
        "",
    ]
    entries = []
    for item in items:
        paper = item["paper"]
        title, abstract = " ".join(paper["title"].split()), " ".join(paper["summary"].split())
        page += [title, "", abstract, ""]
        entries.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>https://arxiv.org/abs/{paper['id']}</link>"
            f"<description>arXiv:{paper['id']}v1 Announce Type: new\nAbstract: "
            f"{escape(abstract)}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{paper["id"]}v1</guid>'
            "<arxiv:announce_type>new</arxiv:announce_type></item>"
        )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom"><channel><title>cs updates on arXiv.org'
        "</title><link>http://rss.arxiv.org/rss/cs</link><description>d</description>"
        "<pubDate>Tue, 10 Jun 2025 00:00:00 -0400</pubDate>" + "".join(entries) + "</channel></rss>"
    )
    return "\n".join(page).encode(), feed.encode()


def test_a_page_an_api_day_and_a_feed_with_the_same_papers_end_as_one_set(
    tmp_path: Path, server: Server, store: Store, fetcher: Fetcher
) -> None:
    api_day = FIXTURES / "hf_api" / "2025-06-10.json"
    items = json.loads(api_day.read_text("utf-8"))
    page, feed = _page_and_feed(items)
    (tmp_path / "page.txt").write_bytes(page)
    url = server.script("/rss", Reply(200, feed))
    cfg = config(
        tmp_path,
        SourceConfig("page", "hf_text", path=tmp_path / "page.txt", date=date(2025, 6, 10)),
        SourceConfig("api", "hf_api", path=api_day),
        SourceConfig("rss", "feed", url=url),
    )
    outcomes = run(store, fetcher, cfg)
    assert [(o.status, o.papers_seen) for o in outcomes] == [("ok", 28)] * 3
    assert [o.papers_new for o in outcomes] == [28, 0, 0]
    papers = store.papers()
    assert len(papers) == 28
    assert all(p.id.startswith("arxiv:") for p in papers)
    assert {p.sources for p in papers} == {("api", "page", "rss")}
    assert {p.dates for p in papers} == {(date(2025, 6, 10),)}
    first = next(p for p in papers if p.arxiv_id == "2506.08007")
    assert first.upvotes == 97 and first.authors[0] == "Qingxiu Dong"
