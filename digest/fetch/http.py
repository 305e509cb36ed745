"""Fetching a URL over HTTP with httpx: conditional, bounded, retried, polite."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from digest import PROJECT_URL, __version__
from digest.errors import SourceError
from digest.fetch.limits import ARXIV_INTERVALS, MAX_BYTES, HostLimiter

USER_AGENT = f"digest/{__version__} (+{PROJECT_URL})"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, application/json;q=0.9, "
    "text/html;q=0.8, text/plain;q=0.7, */*;q=0.5"
)
MAX_REDIRECTS = 10
_PERMANENT = (301, 308)
_RETRY_AFTER = (429, 503)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


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
        user_agent: str | None = None,
    ) -> None:
        self.max_bytes, self.retries = max_bytes, retries
        self.backoff, self.max_backoff, self.max_retry_after = backoff, max_backoff, max_retry_after
        self.sleep, self.now, self.rng = sleep, now, rng or random.Random()
        self.limiter = HostLimiter(dict(host_intervals), default_interval, clock, sleep)
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": user_agent or USER_AGENT, "Accept": ACCEPT},
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
                    hint = f"gave up after {attempt + 1} tries"
                    raise FetchError(f"{_safe(url)}: {retry.reason}", hint=hint) from None
                self.sleep(self._delay(url, retry, attempt))
        raise AssertionError("unreachable")

    def _delay(self, url: str, retry: _Retry, attempt: int) -> float:
        if retry.wait is None:
            return self.rng.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
        if retry.wait > self.max_retry_after:
            when = (self.now() + timedelta(seconds=retry.wait)).strftime("%Y-%m-%d %H:%M:%S UTC")
            raise FetchError(
                f"{_safe(url)}: {retry.reason}; the server asks to wait {retry.wait:.0f} s, "
                f"over the {self.max_retry_after:.0f} s bound",
                hint=f"try again after {when}",
            )
        return retry.wait

    def _get(self, url: str, validators: Validators) -> Fetched:
        try:
            with self.client.stream("GET", url, headers=_conditional(validators)) as response:
                self._check_status(url, response)
                content = None if response.status_code == 304 else self._body(url, response)
        except httpx.TooManyRedirects:
            raise FetchError(f"{_safe(url)}: too many redirects (over {MAX_REDIRECTS})") from None
        except httpx.UnsupportedProtocol:
            raise FetchError(f"{_safe(url)}: redirected to a URL that is not http(s)") from None
        except httpx.LocalProtocolError as exc:  # our own request is malformed: no use retrying
            raise FetchError(f"{_safe(url)}: {_describe(exc)}") from None
        except httpx.TransportError as exc:  # timeouts, refused, reset, dropped mid-body
            raise _Retry(_describe(exc)) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # undecodable body, bad URL
            raise FetchError(f"{_safe(url)}: {_describe(exc)}") from None
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
            raise FetchError(f"{_safe(url)}: gone (HTTP 410)", status=410, hint="remove the source")
        if status >= 400:
            reason = _CONTROL.sub(" ", response.reason_phrase).strip()
            raise FetchError(f"{_safe(url)}: HTTP {status} {reason}".rstrip(), status=status)
        if status not in (200, 203, 304):
            raise FetchError(f"{_safe(url)}: unexpected HTTP {status}", status=status)

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Seconds the server asks to wait (a number or an HTTP-date); None if it does not say."""
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
        limit = f"{self.max_bytes:,}-byte limit"
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{_safe(url)}: {int(declared):,} bytes is over the {limit}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{_safe(url)}: over the {limit}")
            chunks.append(chunk)
        return b"".join(chunks)


def _conditional(validators: Validators) -> dict[str, str]:
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _http_host(url: str) -> str:
    """The host of an http(s) URL; FetchError for anything else (files, ftp:, nonsense)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:
        host = None
    if not host:
        raise FetchError(f"{_safe(url)}: not an http(s) URL")
    return host


def _safe(url: str) -> str:
    """`url` fit for a one-line message: no user or password, no control characters."""
    url = _CONTROL.sub("", url)
    try:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
            url = urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    return url


def _permanent(response: httpx.Response) -> str | None:
    """Where the resource now lives: the end of the permanent redirects the chain starts with.

    A -301-> B -302-> C: B (A moved for good, B only points at C for now); A -302-> B -301-> C:
    None (A itself did not move).
    """
    if not response.history:
        return None
    targets = [hop.url for hop in response.history[1:]] + [response.url]
    moved = None
    for hop, target in zip(response.history, targets, strict=True):
        if hop.status_code not in _PERMANENT:
            break
        moved = str(target)
    return moved


def _validators(response: httpx.Response, old: Validators) -> Validators:
    return Validators(
        etag=response.headers.get("etag") or old.etag,
        last_modified=response.headers.get("last-modified") or old.last_modified,
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out waiting for the server"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        return f"connection failed: {text[:200]}"
    return text[:200]
