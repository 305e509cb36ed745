"""`digest serve`: the reader links of emails and feeds answered, and the archive served.

Routes (tokens from digest.tokens, each signed for one purpose; every POST but the one-click
unsubscribe also carries the page's form token):
  /u/<token>                  the reader's page: unsubscribe (one-click), resubscribe, settings,
                              liked and disliked papers (/u/<token>/settings, /forget)
  /f/<token>/<paper>/<verdict> more or less like a paper
  /feeds/<token>.xml|.atom    the reader's private feed; else the archive's file of that name
  /subscribe, /c/<token>      the subscribe form and its confirmation (double opt-in), which
                              asks what interests the new reader
  /healthz                    {"ok": true} (200) or {"ok": false} (503), nothing more
  everything else             the static archive `digest build` wrote to out_dir/site
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from digest import layout
from digest.config import Config, rules
from digest.errors import StoreError
from digest.render import environment
from digest.store import Store
from digest.tokens import Signer
from digest.web import reader, signup
from digest.web.core import Confirm, Stores, Web
from digest.web.guard import Guard

log = logging.getLogger("digest")
FEED_TYPES = {
    "xml": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}


class _Archive(StaticFiles):
    """Files of a directory that a build may not have made yet: 404s until it has."""

    async def check_config(self) -> None:
        if self.directory is None or not Path(self.directory).is_dir():
            raise HTTPException(404)
        await super().check_config()


def create_app(
    config: Config,
    *,
    signer: Signer,
    confirm: Confirm,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The app: `signer` checks every token (serve refuses to start without a secret);
    `confirm(profile, link)` mails a new subscriber their confirmation link; `clock` gives the
    time (timezone-aware; now by default)."""
    web = Web(
        config,
        signer,
        confirm,
        clock or partial(datetime.now, UTC),
        environment(config.templates),
        Stores(config.store),
    )
    site = _Archive(directory=config.out_dir / layout.SITE, html=True, check_dir=False)
    # private feeds: served by name, behind their token
    feeds = StaticFiles(directory=config.out_dir / layout.FEEDS, check_dir=False)
    routes = [
        *reader.routes(web),
        *signup.routes(web),
        Route("/feeds/{file}", partial(feed, web, site, feeds), methods=["GET"]),
        Route("/healthz", partial(health, web), methods=["GET"]),
        Mount("/", app=site),  # last: it answers every path
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard)],
        exception_handlers={HTTPException: partial(_error, web)},
        lifespan=partial(_lifespan, web),
    )


@asynccontextmanager
async def _lifespan(web: Web, app: Starlette) -> AsyncIterator[None]:
    """The store's pooled connections closed when the server stops."""
    try:
        yield
    finally:
        web.stores.close()


def server(
    config: Config, *, host: str, port: int, signer: Signer, confirm: Confirm
) -> uvicorn.Server:
    """The uvicorn server for the app. It logs to stderr, and no access log: URLs hold tokens."""
    app = create_app(config, signer=signer, confirm=confirm)
    settings = uvicorn.Config(
        app, host=host, port=port, access_log=False, server_header=False, log_level="info"
    )
    return uvicorn.Server(settings)


def serve(config: Config, *, host: str, port: int, signer: Signer, confirm: Confirm) -> None:
    """Answer on host:port until stopped (Ctrl-C, SIGTERM)."""
    server(config, host=host, port=port, signer=signer, confirm=confirm).run()


async def _error(web: Web, request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return web.error(exc.status_code, exc.headers)


async def feed(web: Web, site: StaticFiles, feeds: StaticFiles, request: Request) -> Response:
    """A reader's private feed when the name is a feed token of an active reader; otherwise the
    archive's file (`feeds/all.xml`, public readers' feeds), or a 404."""
    file = request.path_params["file"]
    token, _, extension = file.rpartition(".")
    media_type = FEED_TYPES.get(extension)
    name = await web.run(partial(_feed_reader, web, token)) if media_type and token else None
    if name is not None:
        response = await feeds.get_response(f"{name}.{extension}", request.scope)
        response.headers["Cache-Control"] = "private, no-cache"
    else:
        response = await site.get_response(f"feeds/{file}", request.scope)
    if media_type and response.status_code == 200:
        response.headers["Content-Type"] = media_type
    return response


def _feed_reader(web: Web, token: str, store: Store) -> str | None:
    """The reader a feed token names, if they are active (a feed left by a reader who left is
    not served)."""
    name = web.signer.reader(token, "feed", store.token_version)
    found = store.subscriber(name) if name is not None else None
    if found is None or found.status != "active" or not rules.is_slug(found.name):
        return None
    return found.name


async def health(web: Web, request: Request) -> Response:
    """`{"ok": true}` (200) while the store passes its quick check and the last run (if any)
    went well, else `{"ok": false}` (503). Nothing more: the page is public; the details are
    for `digest status` on the host."""
    try:
        ok = await web.run(_healthy)
    except StoreError as exc:
        log.warning("healthz: %s", exc)
        ok = False
    return JSONResponse(
        {"ok": ok}, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"}
    )


def _healthy(store: Store) -> bool:
    damage = store.check()
    if damage:
        log.warning("healthz: %s fails its quick check: %s", store.location, damage[0])
        return False
    run = store.last_run()
    return run is None or bool(run["ok"])
