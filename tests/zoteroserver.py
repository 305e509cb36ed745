"""A real HTTP server on 127.0.0.1 that speaks the part of the Zotero Web API (v3) digest uses:
a user's or a group's top-level items (or one collection's), a page at a time (`start`,
`limit`), newest first, behind the `Zotero-API-Key` header; `Total-Results` and
`Last-Modified-Version` on every answer, 304 for `If-Modified-Since-Version` at or past the
library's version; and, when a test asks, a `Backoff` header, a 429 with `Retry-After`, or an
edit of the library between two pages."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Library:
    """What the server holds and how it behaves next; `requests` records what it was asked."""

    key: str | None
    items: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    collections: dict[str, list[str]] = field(default_factory=dict)  # key -> item keys
    backoff: list[int] = field(default_factory=list)  # seconds, one per answer, in turn
    too_many: list[int] = field(default_factory=list)  # answer 429 with Retry-After, in turn
    edit_after_page: int | None = None  # the library changes once this many pages were read
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    base: str = ""

    def add(self, item: dict[str, Any]) -> None:
        """An item added (newest first), the library's version moved on."""
        self.version += 1
        self.items.insert(0, {**item, "version": self.version})


def _handler(library: Library) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            library.requests.append((parts.path, params, headers))
            if library.too_many:
                self._answer(
                    429, b"Too many requests", {"Retry-After": str(library.too_many.pop(0))}
                )
                return
            if library.key is not None and headers.get("zotero-api-key") != library.key:
                self._answer(403, b"Forbidden", {})
                return
            items = self._items(parts.path)
            if items is None:
                self._answer(404, b"Not found", {})
                return
            since = headers.get("if-modified-since-version")
            if since is not None and int(since) >= library.version:
                self._answer(304, b"", {"Last-Modified-Version": str(library.version)})
                return
            start, limit = int(params.get("start", 0)), min(int(params.get("limit", 25)), 100)
            page = items[start : start + limit]
            answer = {
                "Total-Results": str(len(items)),
                "Last-Modified-Version": str(library.version),
                "Content-Type": "application/json",
            }
            if library.backoff:
                answer["Backoff"] = str(library.backoff.pop(0))
            self._answer(200, json.dumps(page).encode(), answer)
            pages = sum(1 for _, p, _ in library.requests if "start" in p)
            if library.edit_after_page is not None and pages >= library.edit_after_page:
                library.edit_after_page = None
                library.version += 1  # someone edited the library meanwhile

        def _items(self, path: str) -> list[dict[str, Any]] | None:
            steps = path.strip("/").split("/")
            if (
                len(steps) < 4
                or steps[0] not in ("users", "groups")
                or steps[-2:] != ["items", "top"]
            ):
                return None
            if len(steps) == 4:
                return library.items
            if steps[2] != "collections" or steps[3] not in library.collections:
                return None
            wanted = library.collections[steps[3]]
            return [i for i in library.items if i["key"] in wanted]

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(library: Library) -> Iterator[Library]:
    """The server running for `library` (its `base` set); stopped on exit."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(library))
    httpd.daemon_threads = True
    library.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield library
    finally:
        httpd.shutdown()
        httpd.server_close()
