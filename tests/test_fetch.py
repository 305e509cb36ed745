"""Fetching over HTTP against a real server on 127.0.0.1; clock and sleep are fake."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from httpserver import Reply, Server, serve

from digest import PROJECT_URL
from digest.errors import SourceError
from digest.fetch import (
    Fetcher,
    FetchError,
    HostLimiter,
    Validators,
    path_from_location,
    read_file,
)

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def fetcher(fake: FakeTime, **options: object) -> Fetcher:
    defaults: dict[str, object] = {
        "clock": fake.clock,
        "sleep": fake.sleep,
        "now": lambda: NOW,
        "rng": random.Random(1),
        "default_interval": 0.0,
        "timeout": 5.0,
    }
    defaults.update(options)
    return Fetcher(**defaults)  # type: ignore[arg-type]


def test_conditional_get_with_etag_and_last_modified(server: Server, fake: FakeTime) -> None:
    headers = {"ETag": '"v1"', "Last-Modified": "Tue, 19 Aug 2025 10:00:00 GMT"}
    url = server.script("/feed", Reply(200, b"<rss/>", headers), Reply(304, b"", {"ETag": '"v1"'}))
    with fetcher(fake) as f:
        first = f.fetch(url)
        assert (first.status, first.content) == (200, b"<rss/>")
        assert first.validators == Validators('"v1"', "Tue, 19 Aug 2025 10:00:00 GMT")
        second = f.fetch(url, first.validators)
    assert (second.status, second.content) == (304, None)
    assert second.validators == first.validators
    sent = server.requests("/feed")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Tue, 19 Aug 2025 10:00:00 GMT"
    assert "if-none-match" not in server.requests("/feed")[0].headers


def test_last_modified_alone(server: Server, fake: FakeTime) -> None:
    stamp = "Wed, 20 Aug 2025 00:00:00 GMT"
    url = server.script("/x", Reply(200, b"a", {"Last-Modified": stamp}))
    with fetcher(fake) as f:
        got = f.fetch(url)
    assert got.validators == Validators(None, stamp)


def test_user_agent_names_the_project(server: Server, fake: FakeTime) -> None:
    url = server.script("/ua", Reply(200, b"ok"))
    with fetcher(fake) as f:
        f.fetch(url)
    agent = server.requests("/ua")[0].headers["user-agent"]
    assert agent.startswith("digest/") and PROJECT_URL in agent


def test_server_error_then_success_retries_with_jittered_backoff(
    server: Server, fake: FakeTime
) -> None:
    url = server.script("/flaky", Reply(500, b"oops"), Reply(200, b"fine"))
    with fetcher(fake, backoff=2.0) as f:
        assert f.fetch(url).content == b"fine"
    assert len(server.requests("/flaky")) == 2
    assert len(fake.sleeps) == 1 and 0 <= fake.sleeps[0] <= 2.0


def test_persistent_server_error_gives_up_after_the_retries(server: Server, fake: FakeTime) -> None:
    url = server.script("/down", Reply(502, b"bad gateway"))
    with fetcher(fake, retries=3, backoff=1.0) as f, pytest.raises(SourceError) as error:
        f.fetch(url)
    assert len(server.requests("/down")) == 4
    assert "HTTP 502" in str(error.value) and url in str(error.value)
    assert all(0 <= s <= 2**n for n, s in enumerate(fake.sleeps))


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(server: Server, fake: FakeTime, status: int) -> None:
    url = server.script("/busy", Reply(status, b"", {"Retry-After": "7"}), Reply(200, b"ok"))
    with fetcher(fake) as f:
        assert f.fetch(url).content == b"ok"
    assert fake.sleeps == [7.0]


def test_retry_after_as_an_http_date(server: Server, fake: FakeTime) -> None:
    when = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    url = server.script("/busy", Reply(429, b"", {"Retry-After": when}), Reply(200, b"ok"))
    with fetcher(fake) as f:
        f.fetch(url)
    assert fake.sleeps == [30.0]


def test_retry_after_beyond_the_bound_gives_up_without_waiting(
    server: Server, fake: FakeTime
) -> None:
    url = server.script("/later", Reply(429, b"", {"Retry-After": "86400"}))
    with fetcher(fake, max_retry_after=300) as f, pytest.raises(SourceError, match="86400 s"):
        f.fetch(url)
    assert fake.sleeps == []
    assert len(server.requests("/later")) == 1


@pytest.mark.parametrize(("status", "words"), [(404, "HTTP 404"), (410, "gone"), (403, "403")])
def test_client_errors_are_not_retried(
    server: Server, fake: FakeTime, status: int, words: str
) -> None:
    url = server.script("/missing", Reply(status, b"no"))
    with fetcher(fake) as f, pytest.raises(FetchError, match=words) as error:
        f.fetch(url)
    assert error.value.status == status
    assert len(server.requests("/missing")) == 1


@pytest.mark.parametrize(
    ("status", "permanent"), [(301, True), (308, True), (302, False), (303, False), (307, False)]
)
def test_permanent_redirects_are_reported_temporary_ones_not(
    server: Server, fake: FakeTime, status: int, permanent: bool
) -> None:
    new = server.script("/new", Reply(200, b"moved here"))
    old = server.script("/old", Reply(status, b"", {"Location": new}))
    with fetcher(fake) as f:
        got = f.fetch(old)
    assert (got.content, got.final_url) == (b"moved here", new)
    assert got.permanent_url == (new if permanent else None)


def test_a_permanent_move_is_where_the_chain_stops_being_permanent(
    server: Server, fake: FakeTime
) -> None:
    final = server.script("/final", Reply(200, b"here"))
    middle = server.script("/middle", Reply(302, b"", {"Location": final}))
    server.script("/moved", Reply(301, b"", {"Location": middle}))
    server.script("/visit", Reply(302, b"", {"Location": server.base + "/moved-later"}))
    server.script("/moved-later", Reply(308, b"", {"Location": final}))
    with fetcher(fake) as f:
        assert f.fetch(server.base + "/moved").permanent_url == middle
        assert f.fetch(server.base + "/visit").permanent_url is None


def test_a_redirect_away_from_http_is_not_retried(server: Server, fake: FakeTime) -> None:
    url = server.script("/away", Reply(302, b"", {"Location": "ftp://example.org/feed"}))
    with fetcher(fake) as f, pytest.raises(SourceError, match="not http"):
        f.fetch(url)
    assert len(server.requests("/away")) == 1 and fake.sleeps == []


def test_redirect_loop_is_an_error(server: Server, fake: FakeTime) -> None:
    a = server.base + "/a"
    server.script("/a", Reply(302, b"", {"Location": server.base + "/b"}))
    server.script("/b", Reply(302, b"", {"Location": a}))
    with fetcher(fake) as f, pytest.raises(SourceError, match="redirects"):
        f.fetch(a)


def test_a_response_slower_than_the_timeout(server: Server, fake: FakeTime) -> None:
    url = server.script("/slow", Reply(200, b"late", hold=threading.Event()))
    with fetcher(fake, timeout=0.2, retries=1) as f, pytest.raises(SourceError, match="timed out"):
        f.fetch(url)
    assert len(server.requests("/slow")) == 2


def test_declared_body_over_the_cap(server: Server, fake: FakeTime) -> None:
    url = server.script("/big", Reply(200, b"x" * 5000))
    with fetcher(fake, max_bytes=1000) as f, pytest.raises(SourceError, match="1,000-byte limit"):
        f.fetch(url)


def test_chunked_body_over_the_cap(server: Server, fake: FakeTime) -> None:
    url = server.script("/stream", Reply(200, b"y" * 50_000, chunked=True))
    with fetcher(fake, max_bytes=10_000) as f, pytest.raises(SourceError, match="limit"):
        f.fetch(url)
    with fetcher(fake) as f:
        assert f.fetch(url).content == b"y" * 50_000


def test_connection_dropped_mid_body_is_retried_then_fails(server: Server, fake: FakeTime) -> None:
    url = server.script("/cut", Reply(200, b"z" * 10_000, drop_after=100))
    with fetcher(fake, retries=2) as f, pytest.raises(SourceError, match="connection"):
        f.fetch(url)
    assert len(server.requests("/cut")) == 3


def test_html_where_a_feed_was_expected_is_returned_for_the_parser(
    server: Server, fake: FakeTime
) -> None:
    url = server.script("/page", Reply(200, b"<html></html>", {"Content-Type": "text/html"}))
    with fetcher(fake) as f:
        got = f.fetch(url)
    assert got.content_type == "text/html" and got.content == b"<html></html>"


def test_only_http_urls(fake: FakeTime) -> None:
    with fetcher(fake) as f:
        for bad in ("file:///etc/passwd", "ftp://x.org/a", "javascript:alert(1)", "nonsense"):
            with pytest.raises(SourceError, match="not an http"):
                f.fetch(bad)


def test_host_limiter_spaces_requests_per_host_and_domain(fake: FakeTime) -> None:
    limiter = HostLimiter({"arxiv.org": 3.0}, 1.0, fake.clock, fake.sleep)
    limiter.wait("export.arxiv.org")
    limiter.wait("example.org")
    assert fake.sleeps == []
    fake.now += 1.0
    limiter.wait("rss.arxiv.org")  # the same rule as export.arxiv.org: 2 s more
    assert fake.sleeps == [2.0]
    fake.now += 0.25
    limiter.wait("example.org")
    assert fake.sleeps == [2.0]  # 3.25 s since the last example.org request
    limiter.wait("example.org")
    assert fake.sleeps == [2.0, 1.0]
    assert limiter.interval("arxiv.org") == 3.0 and limiter.interval("notarxiv.org") == 1.0


def test_the_fetcher_waits_between_requests_to_one_host(server: Server, fake: FakeTime) -> None:
    url = server.script("/a", Reply(200, b"a"))
    with fetcher(fake, host_intervals={"127.0.0.1": 3.0}) as f:
        f.fetch(url)
        f.fetch(url)
    assert fake.sleeps == [3.0]


def test_files_and_file_urls(tmp_path: Path) -> None:
    page = tmp_path / "a page.txt"
    page.write_bytes(b"hello")
    assert path_from_location(page.as_uri()) == page
    assert path_from_location("https://x.org") is None
    assert read_file(page) == b"hello"
    with pytest.raises(SourceError, match="limit"):
        read_file(page, max_bytes=2)
    with pytest.raises(SourceError, match="cannot read"):
        read_file(tmp_path / "missing.txt")
    with pytest.raises(SourceError, match="directory"):
        read_file(tmp_path)


def test_a_304_keeps_old_validators_and_takes_new_ones(server: Server, fake: FakeTime) -> None:
    url = server.script("/feed", Reply(304, b"", {"ETag": '"v2"'}))
    with fetcher(fake) as f:
        got = f.fetch(url, Validators('"v1"', "Tue, 19 Aug 2025 10:00:00 GMT"))
    assert got.validators == Validators('"v2"', "Tue, 19 Aug 2025 10:00:00 GMT")
    assert (got.status, got.content, got.final_url) == (304, None, url)


def test_503_without_retry_after_backs_off(server: Server, fake: FakeTime) -> None:
    url = server.script("/busy", Reply(503, b""), Reply(503, b""), Reply(200, b"ok"))
    with fetcher(fake, backoff=4.0, max_backoff=5.0) as f:
        assert f.fetch(url).content == b"ok"
    assert len(fake.sleeps) == 2
    assert 0 <= fake.sleeps[0] <= 4.0 and 0 <= fake.sleeps[1] <= 5.0


def test_retry_after_beyond_the_bound_says_when_to_try_again(
    server: Server, fake: FakeTime
) -> None:
    url = server.script("/later", Reply(503, b"", {"Retry-After": "3600"}))
    with fetcher(fake, max_retry_after=60) as f, pytest.raises(SourceError) as error:
        f.fetch(url)
    assert str(error.value) == (
        f"{url}: HTTP 503; the server asks to wait 3600 s, over the 60 s bound "
        "(try again after 2025-08-20 13:00:00 UTC)"
    )


def test_errors_are_one_line_and_never_show_credentials(server: Server, fake: FakeTime) -> None:
    server.script("/private", Reply(404, b"no"))
    url = server.base.replace("://", "://reader:s3cret@") + "/private"
    with fetcher(fake) as f, pytest.raises(SourceError) as error:
        f.fetch(url)
    message = str(error.value)
    assert message == f"{server.base}/private: HTTP 404 Not Found"
    assert server.requests("/private")[0].headers["authorization"].startswith("Basic ")
    with fetcher(fake) as f, pytest.raises(SourceError) as error:
        f.fetch("ftp://reader:s3cret@example.org/a\nb")
    assert str(error.value) == "ftp://example.org/ab: not an http(s) URL"


def test_user_agent_can_be_chosen(server: Server, fake: FakeTime) -> None:
    url = server.script("/ua", Reply(200, b"ok"))
    with fetcher(fake, user_agent="PaperBot/2 (+https://x.org)") as f:
        f.fetch(url)
    with fetcher(fake, user_agent=None) as f:
        f.fetch(url)
    agents = [seen.headers["user-agent"] for seen in server.requests("/ua")]
    assert agents[0] == "PaperBot/2 (+https://x.org)" and agents[1].startswith("digest/")
    assert "feed" not in agents[1] and "rss+xml" in server.requests("/ua")[0].headers["accept"]


def test_two_hosts_do_not_wait_for_each_other(server: Server, fake: FakeTime) -> None:
    if not all(info[4][0] == "127.0.0.1" for info in _resolve("localhost")):
        pytest.skip("localhost does not resolve to 127.0.0.1 only")
    url = server.script("/a", Reply(200, b"a"))
    other = url.replace("127.0.0.1", "localhost")
    with fetcher(fake, host_intervals={"127.0.0.1": 3.0, "localhost": 3.0}) as f:
        f.fetch(url)
        f.fetch(other)
        assert fake.sleeps == []
        fake.now += 1.0
        f.fetch(url)
    assert fake.sleeps == [2.0]


def test_the_most_specific_rule_sets_the_interval_the_widest_shares_the_clock(
    fake: FakeTime,
) -> None:
    limiter = HostLimiter({"arxiv.org": 3.0, "export.arxiv.org": 10.0}, 0.0, fake.clock, fake.sleep)
    assert limiter.rule("Export.arXiv.org.") == ("arxiv.org", 10.0)
    assert limiter.rule("rss.arxiv.org") == ("arxiv.org", 3.0)
    assert limiter.rule("example.org") == ("example.org", 0.0)
    limiter.wait("rss.arxiv.org")
    limiter.wait("export.arxiv.org")
    limiter.wait("rss.arxiv.org")
    assert fake.sleeps == [10.0, 3.0]


def test_read_file_takes_a_file_url(tmp_path: Path) -> None:
    page = tmp_path / "feed 1.xml"
    page.write_bytes(b"<rss/>")
    assert read_file(page.as_uri()) == b"<rss/>"
    assert read_file(str(page)) == b"<rss/>"
    assert path_from_location("file:relative/x.xml") == Path("relative/x.xml")


def _resolve(host: str) -> list[tuple[object, ...]]:
    try:
        return list(socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM))
    except OSError:
        return []
