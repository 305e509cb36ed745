"""The Zotero Web API (v3): a user's or a group's library, or one collection of it, read as a
library's entries, through httpx.

- Items are read a page at a time (`start`, `limit` of PAGE), as `format=json`, newest first,
  top-level items only (no notes or attachments); the API key goes in the `Zotero-API-Key`
  header, and is never put in a message or a log.
- The request is conditional: `If-Modified-Since-Version` with the library version of the last
  import; 304 means nothing changed. Each response's `Last-Modified-Version` is the version read;
  if it moves while the pages are read (someone edited the library meanwhile), reading starts
  again, at most RESTARTS times.
- A `Backoff: <seconds>` header holds the next request back that long; a 429 (or 503) with
  `Retry-After` is tried again after the wait it asks, at most RETRIES times, and never past
  MAX_WAIT. The clock and the sleep are injected, so tests wait for nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from digest import PROJECT_URL, __version__
from digest.errors import SourceError
from digest.library.records import Entry, Parsed, Skipped, parsed
from digest.library.zotero_csv import zotero_entry

ZOTERO_API = "https://api.zotero.org"
PAGE = 100  # the API's largest page
MAX_ITEMS = 2500  # items read at most, newest first: a library keeps 2,000 papers (app/library.py)
RETRIES = 3  # tries again after a 429 or 503
RESTARTS = 2  # reads again from the start when the library changed while it was read
MAX_WAIT = 300.0  # seconds: a server asking for a longer wait fails the read
USER_AGENT = f"digest/{__version__} (+{PROJECT_URL})"


@dataclass(frozen=True, slots=True)
class ZoteroItems:
    """What a read of a Zotero library found: its version, and its items (None: unchanged
    since the version the request gave)."""

    version: int | None
    items: list[dict[str, Any]] | None


def items_path(*, user: str | None, group: str | None, collection: str | None) -> str:
    """The API path of a library's top-level items (`/users/<id>/items/top`, or a group's, or
    one collection's)."""
    owner = f"/users/{user}" if user else f"/groups/{group}"
    where = f"/collections/{collection}" if collection else ""
    return f"{owner}{where}/items/top"


class ZoteroClient:
    """Reads libraries from the Zotero Web API at `base` (the real one by default)."""

    def __init__(
        self,
        *,
        key: str | None,
        base: str = ZOTERO_API,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base = base.rstrip("/")
        self.clock, self.sleep = clock, sleep
        self.not_before = 0.0  # no request before this time of `clock` (a Backoff)
        headers = {"Zotero-API-Version": "3", "User-Agent": USER_AGENT}
        if key:
            headers["Zotero-API-Key"] = key
        self.client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ZoteroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def items(self, path: str, *, since: int | None = None) -> ZoteroItems:
        """Every top-level item under `path` (see `items_path`), or None as items when the
        library has not changed since version `since`. SourceError naming the library on any
        failure."""
        for _ in range(RESTARTS + 1):
            found = self._read(path, since)
            if found is not None:
                return found
        raise SourceError(f"zotero {path}: the library kept changing while it was read")

    def _read(self, path: str, since: int | None) -> ZoteroItems | None:
        """One read of every page; None when the library's version moved between pages."""
        items: list[dict[str, Any]] = []
        version: int | None = None
        start = 0
        while start < MAX_ITEMS:
            params = {
                "format": "json",
                "start": str(start),
                "limit": str(PAGE),
                "sort": "dateAdded",
                "direction": "desc",
            }
            conditional = {"If-Modified-Since-Version": str(since)} if since is not None else {}
            response = self._get(path, params, conditional)
            if response.status_code == 304:
                return ZoteroItems(since, None)
            page_version = _version(response)
            if version is not None and page_version != version:
                return None
            version = page_version
            page = _page(path, response)
            items += page
            total = response.headers.get("Total-Results", "")
            start += len(page)
            if not page or len(page) < PAGE or (total.isdigit() and start >= int(total)):
                break
        return ZoteroItems(version, items)

    def _get(self, path: str, params: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        """A GET that keeps the server's Backoff, and waits out its 429s and 503s."""
        for attempt in range(RETRIES + 1):
            self._hold_back()
            try:
                response = self.client.get(self.base + path, params=params, headers=headers)
            except httpx.HTTPError as exc:
                why = " ".join(str(exc).split())[:200] or type(exc).__name__
                raise SourceError(f"zotero {path}: {why}") from None
            self._note_backoff(path, response)
            if response.status_code not in (429, 503):
                _check(path, response)
                return response
            wait = _seconds(response.headers.get("Retry-After"))
            if attempt == RETRIES:
                break
            self.sleep(self._bounded(path, wait if wait is not None else 2.0**attempt))
        raise SourceError(
            f"zotero {path}: HTTP {response.status_code} after {RETRIES + 1} tries",
            hint="try again later",
        )

    def _hold_back(self) -> None:
        remaining = self.not_before - self.clock()
        if remaining > 0:
            self.sleep(remaining)

    def _note_backoff(self, path: str, response: httpx.Response) -> None:
        backoff = _seconds(response.headers.get("Backoff"))
        if backoff:
            self.not_before = max(self.not_before, self.clock() + self._bounded(path, backoff))

    def _bounded(self, path: str, seconds: float) -> float:
        if seconds > MAX_WAIT:
            raise SourceError(
                f"zotero {path}: the server asks to wait {seconds:.0f} s, over {MAX_WAIT:.0f} s",
                hint="try again later",
            )
        return seconds


def entries(items: list[dict[str, Any]]) -> Parsed:
    """The entries of a library's items (notes and attachments left out); an item's line is its
    place in the listing, 1 for the newest."""
    found: list[Entry | Skipped] = []
    for n, item in enumerate(items, start=1):
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(data, dict):
            found.append(Skipped(n, "not a Zotero item", bad=True))
            continue
        creators = data.get("creators") or []
        names = [_creator(c) for c in creators if isinstance(c, dict)]
        made = zotero_entry(n, data, [name for name in names if name])
        if isinstance(made, Skipped):
            made = Skipped(n, f"item {data.get('key', '?')}: {made.reason}", bad=True)
        if made is not None:
            found.append(made)
    return parsed("Zotero", found)


def _creator(creator: dict[str, Any]) -> str:
    if isinstance(name := creator.get("name"), str) and name.strip():
        return name.strip()
    parts = (creator.get("lastName"), creator.get("firstName"))
    return ", ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def _check(path: str, response: httpx.Response) -> None:
    status = response.status_code
    if status in (200, 304):
        return
    if status == 403:
        raise SourceError(
            f"zotero {path}: HTTP 403 forbidden", hint="the API key cannot read this library"
        )
    if status == 404:
        raise SourceError(f"zotero {path}: HTTP 404 not found", hint="check the library's id")
    raise SourceError(f"zotero {path}: HTTP {status}")


def _version(response: httpx.Response) -> int | None:
    value = response.headers.get("Last-Modified-Version", "").strip()
    return int(value) if value.isdigit() else None


def _page(path: str, response: httpx.Response) -> list[dict[str, Any]]:
    try:
        page = response.json()
    except ValueError:
        raise SourceError(f"zotero {path}: the answer is not JSON") from None
    if not isinstance(page, list):
        raise SourceError(f"zotero {path}: the answer is not a list of items")
    return page


def _seconds(value: str | None) -> float | None:
    text = (value or "").strip()
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
