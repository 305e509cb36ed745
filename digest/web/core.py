"""What every page of `digest serve` shares: the config, the token check, the store, the pages.

Each request uses the store in a worker thread, on a store of its own from the store's pool
(`Stores`): SQLite connections belong to one thread, and waiting for the write lock (a build or
a send may hold it) must not stall the event loop. A token
that does not verify, for whatever reason, is a 404 like any other, so nobody can tell a forged
token from a revoked one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.config import Config
from digest.models import Profile, Subscriber
from digest.render.links import Links
from digest.store import Store, StorePool, pool
from digest.tokens import Purpose, Signer

T = TypeVar("T")
Confirm = Callable[[Profile, str], None]  # sends the confirmation link to a new subscriber
MAX_FIELDS = 20  # fields in a posted form; ours have eleven at most
FORM_FIELD = "form"  # the hidden field holding a form token (digest.tokens)
FORM_LIFETIME = timedelta(hours=12)  # how long a page's forms can be sent

# what each error page says; anything else gets the generic one
ERRORS = {
    400: ("Bad request", "The form sent could not be read."),
    404: ("Not found", "There is nothing here. The link may be mistyped, or no longer valid."),
    405: ("Not allowed", "This address does not answer to that method."),
    413: ("Too large", "The form sent was too large."),
    429: ("Too many requests", "Too many subscriptions were asked for just now. Try again later."),
}


POOL_SIZE = 8  # store connections kept for the requests (PostgreSQL; SQLite opens per request)


class Stores:
    """The pool of stores the requests use (store.pool), made at the first request, so that
    serve starts, and says so on /healthz, while the store cannot be opened yet; each request
    that finds it so gets the StoreError, and the next one tries again."""

    def __init__(self, location: str | Path, *, size: int = POOL_SIZE) -> None:
        self.location, self.size = location, size
        self._pool: StorePool | None = None
        self._lock = threading.Lock()

    @contextmanager
    def store(self) -> Iterator[Store]:
        with self._lock:
            if self._pool is None:
                self._pool = pool(self.location, size=self.size)
            stores = self._pool
        with stores.store() as store:
            yield store

    def close(self) -> None:
        with self._lock:
            stores, self._pool = self._pool, None
        if stores is not None:
            stores.close()


@dataclass(frozen=True, slots=True)
class Web:
    config: Config
    signer: Signer
    confirm: Confirm
    clock: Callable[[], datetime]
    env: jinja2.Environment
    stores: Stores

    @property
    def app_path(self) -> str:
        """The path serve answers under (`/`, or `/digest/` behind a proxy), for form actions:
        relative to the page's own origin, so they work whatever host name the reader used."""
        return urlsplit(self.config.app_url).path or "/"

    def url(self, *parts: str) -> str:
        return self.app_path + "/".join(parts)

    def links(self, store: Store, reader: str) -> Links:
        """The links made for `reader`, as the build makes them."""
        version = store.token_version(reader) or 0
        return Links(self.config.site.base_url, self.config.app_url, self.signer, {reader: version})

    async def run(self, work: Callable[[Store], T]) -> T:
        """`work(store)` in a worker thread, on a store of its own while it runs."""
        return await run_in_threadpool(self._with_store, work)

    def _with_store(self, work: Callable[[Store], T]) -> T:
        with self.stores.store() as store:
            return work(store)

    def subscriber(self, store: Store, token: str, purpose: Purpose) -> Subscriber:
        """The reader `token` names for `purpose`; a 404 for a forged, tampered, wrong-purpose or
        revoked token, and for a reader since deleted."""
        name = self.signer.reader(token, purpose, store.token_version)
        found = store.subscriber(name) if name is not None else None
        if found is None:
            raise HTTPException(404)
        return found

    def form_token(self, store: Store, reader: str) -> str:
        """The token the forms of `reader`'s pages carry, good for FORM_LIFETIME."""
        version = store.token_version(reader) or 0
        until = self.clock() + FORM_LIFETIME
        return self.signer.form_token(reader, until=until, version=version)

    def form_sent(self, store: Store, fields: Mapping[str, str], reader: str) -> bool:
        """Whether a posted form came from one of `reader`'s pages, recently: its token names
        them, still works, and was signed for their current links. Every POST that changes
        something checks it (the one-click unsubscribe alone cannot: RFC 8058)."""
        token = fields.get(FORM_FIELD, "")
        found = self.signer.form_reader(token, now=self.clock(), version_of=store.token_version)
        return found == reader

    def page(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """A page rendered from `web/...html`, with the headers every page carries."""
        html = self.env.get_template(template).render(
            site=self.config.site, base=self.config.site.base_url, app=self.app_path, **context
        )
        return HTMLResponse(html, status_code=status, headers=page_headers(self.config))

    def error(self, status: int, headers: Mapping[str, str] | None = None) -> HTMLResponse:
        heading, text = ERRORS.get(status, ("Error", "Something went wrong."))
        response = self.page("web/error.html", status=status, heading=heading, text=text)
        response.headers.update(headers or {})
        return response


def page_headers(config: Config) -> dict[str, str]:
    """A strict policy: nothing runs, styles only from here and the archive (whose stylesheet the
    pages link) plus the small inline one, forms post only here, no framing. Pages hold tokens
    (in their URL and forms), so nothing keeps them."""
    parts = urlsplit(config.site.base_url)
    archive = f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""
    policy = (
        f"default-src 'none'; style-src 'self'{archive} 'unsafe-inline'; img-src 'self'{archive}; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "X-Robots-Tag": "noindex, nofollow",
    }


async def form_items(request: Request) -> list[tuple[str, str]]:
    """The text fields of a posted form, URL-encoded or multipart (a file in it is a 400), each
    time a field is given (ticked boxes of one name)."""
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


async def form_fields(request: Request) -> dict[str, str]:
    """The text fields of a posted form; a field given twice counts once, the last time."""
    return dict(await form_items(request))
