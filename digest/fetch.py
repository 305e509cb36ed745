"""Getting a source's bytes: files from disk, URLs over HTTP, politely.

HTTP (httpx): explicit timeouts, redirects followed (a permanent one reported), conditional GET
with the validators of the last fetch, bounded retries with exponential backoff and full jitter on
5xx and connection errors, `Retry-After` honoured on 429/503 up to a bound, a minimum interval per
host (3 s for arxiv.org), a User-Agent naming the project, and a size cap. Clock, sleep and
randomness are injectable, so tests never wait for real.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from digest import PROJECT_URL, __version__
from digest.errors import SourceError

MAX_BYTES = 50 * 1024 * 1024
USER_AGENT = f"digest/{__version__} (+{PROJECT_URL})"
ARXIV_INTERVALS = {"arxiv.org": 3.0}
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, application/json;q=0.9, "
    "text/html;q=0.8, text/plain;q=0.7, */*;q=0.5"
)
_PERMANENT = (301, 308)
_RETRY_AFTER = (429, 503)


def read_file(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """A file's bytes, or a one-line SourceError naming it (missing, unreadable, too large)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise SourceError(f"{path}: over the {max_bytes:,}-byte limit")
    return data


def path_from_location(location: str) -> Path | None:
    """The path of a `file:` URL (`file:///x/y`, `file:y`); None for anything else."""
    if not location.startswith("file:"):
        return None
    parts = urlsplit(location)
    return Path(unquote(parts.path))


@dataclass(frozen=True, slots=True)
class Validators:
    """What a previous fetch of a URL left, sent back as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetch's result: new content (200), or none at all (304: the caller does no work)."""

    url: str
    final_url: str
    permanent_url: str | None
    status: int
    content: bytes | None
    validators: Validators
    content_type: str | None


class FetchError(SourceError):
    """A fetch that failed; `status` is the HTTP status when there was one (410: gone)."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class _Retry(Exception):
    """A failure worth another try, after `wait` seconds (None: back off exponentially)."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait = reason, wait


@dataclass
class HostLimiter:
    """A minimum interval between requests to one host (a domain's rule covers its subdomains)."""

    intervals: Mapping[str, float]
    default: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    last: dict[str, float] = field(default_factory=dict)

    def interval(self, host: str) -> float:
        for domain, seconds in self.intervals.items():
            if host == domain or host.endswith("." + domain):
                return seconds
        return self.default

    def wait(self, host: str) -> None:
        """Sleep until `host` may be asked again, then note the request."""
        key = _rule_key(host, self.intervals)
        if key in self.last:
            remaining = self.last[key] + self.interval(host) - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self.last[key] = self.clock()


def _rule_key(host: str, intervals: Mapping[str, float]) -> str:
    """Hosts under one rule (`rss.arxiv.org`, `export.arxiv.org`) share one clock."""
    for domain in intervals:
        if host == domain or host.endswith("." + domain):
            return domain
    return host


class Fetcher:
    """One HTTP client for a run: keep-alive, politeness per host, retries within bounds."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_bytes: int = MAX_BYTES,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        host_intervals: Mapping[str, float] = ARXIV_INTERVALS,
        default_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.max_bytes, self.retries = max_bytes, retries
        self.backoff, self.max_backoff, self.max_retry_after = backoff, max_backoff, max_retry_after
        self.sleep, self.now, self.rng = sleep, now, rng or random.Random()
        self.limiter = HostLimiter(host_intervals, default_interval, clock, sleep)
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=True,
            max_redirects=10,
            headers={"User-Agent": user_agent, "Accept": ACCEPT},
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, validators: Validators | None = None) -> Fetched:
        """GET `url` (conditionally when validators are given); FetchError on failure."""
        host = _http_host(url)
        for attempt in range(self.retries + 1):
            self.limiter.wait(host)
            try:
                return self._get(url, validators or Validators())
            except _Retry as retry:
                if attempt == self.retries:
                    tries = f"gave up after {attempt + 1} tries"
                    raise FetchError(f"{url}: {retry.reason} ({tries})") from None
                self.sleep(self._delay(url, retry, attempt))
        raise AssertionError("unreachable")

    def _delay(self, url: str, retry: _Retry, attempt: int) -> float:
        if retry.wait is None:
            return self.rng.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
        if retry.wait > self.max_retry_after:
            raise FetchError(
                f"{url}: {retry.reason}; the server asks to wait {retry.wait:.0f} s",
                hint="try again later",
            )
        return retry.wait

    def _get(self, url: str, validators: Validators) -> Fetched:
        headers = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                self._check_status(url, response)
                content = None if response.status_code == 304 else self._body(url, response)
        except httpx.TooManyRedirects:
            raise FetchError(f"{url}: too many redirects") from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retry(_describe(exc)) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # undecodable body, bad URL
            raise FetchError(f"{url}: {_describe(exc)}") from None
        return Fetched(
            url=url,
            final_url=str(response.url),
            permanent_url=_permanent(response),
            status=response.status_code,
            content=content,
            validators=_validators(response, validators),
            content_type=response.headers.get("content-type"),
        )

    def _check_status(self, url: str, response: httpx.Response) -> None:
        status = response.status_code
        if status in _RETRY_AFTER:
            raise _Retry(f"HTTP {status}", self._retry_after(response))
        if status >= 500:
            raise _Retry(f"HTTP {status}")
        if status == 410:
            raise FetchError(f"{url}: gone (HTTP 410)", status=410, hint="remove the source")
        if status >= 400:
            raise FetchError(f"{url}: HTTP {status} {response.reason_phrase}", status=status)
        if status not in (200, 203, 304):
            raise FetchError(f"{url}: unexpected HTTP {status}", status=status)

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after", "").strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - self.now()).total_seconds())

    def _body(self, url: str, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            limit = f"{self.max_bytes:,}-byte limit"
            raise FetchError(f"{url}: {int(declared):,} bytes is over the {limit}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{url}: over the {self.max_bytes:,}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)


def _http_host(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: not an http(s) URL")
    return parts.hostname


def _permanent(response: httpx.Response) -> str | None:
    """Where the resource now lives, if a permanent redirect led there."""
    moved = None
    for hop in response.history:
        if hop.status_code in _PERMANENT:
            moved = str(response.url)
    return moved


def _validators(response: httpx.Response, old: Validators) -> Validators:
    return Validators(
        etag=response.headers.get("etag") or old.etag,
        last_modified=response.headers.get("last-modified") or old.last_modified,
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        return f"connection failed: {text[:200]}"
    return text[:200]
