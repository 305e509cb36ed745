"""A reader's own pages, behind the tokens their emails carry: unsubscribe (RFC 8058 one-click),
resubscribe, their settings (keywords, excluded terms, followed authors, papers per digest, daily
or weekly, send time and zone, paused), the papers they liked and disliked with an undo for each,
and saying more or less like a paper.

GET only shows (link scanners and mail previews fetch URLs); every change is a POST, and every
POST but the one-click unsubscribe carries the page's form token (core.Web.form_sent): without
it, or with one that has run out, nothing changes and the page is shown again (403). The
one-click POST needs nothing but the URL: no cookie, no field beyond `List-Unsubscribe=One-Click`
(a POST with no `action` field unsubscribes), and the answer is a 200 page, never a redirect.
Repeating a POST changes nothing more.

Settings are saved in the store as the reader's own (Store.set_reader_settings), never in
config.yaml: each field they change is theirs from then on and wins over config.yaml's; the
next build uses them. Each is held to its config.yaml key's rule (forms.settings).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import cache, partial
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.models import WEEKDAYS, ReaderSettings, StoredPaper, Subscriber
from digest.render.links import Links, paper_links
from digest.store import Store
from digest.web import forms
from digest.web.core import Web, form_fields

# action -> (the states it applies to, the state it leaves); from any other state it does nothing
ACTIONS = {
    "unsubscribe": (("active", "pending"), "unsubscribed"),
    "resubscribe": (("unsubscribed",), "active"),
}
VERDICTS = ("like", "dislike")
PAPER_PREFIXES = ("arxiv:", "title:")  # the paper ids feedback links carry
FIELD_NAMES = {  # how the page names each setting (in "your own settings: ...")
    "keywords": "keywords",
    "exclude": "excluded terms",
    "authors": "followed authors",
    "top_k": "papers per digest",
    "time": "send time",
    "timezone": "time zone",
    "cadence": "daily or weekly",
    "paused": "paused",
}
NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_NAMES = dict(zip(WEEKDAYS, NAMES, strict=True))  # mon -> Monday


def routes(web: Web) -> list[Route]:
    return [
        Route("/u/{token}", partial(show, web), methods=["GET"]),
        Route("/u/{token}", partial(act, web), methods=["POST"]),
        Route("/u/{token}/settings", partial(save, web), methods=["POST"]),
        Route("/u/{token}/forget", partial(forget, web), methods=["POST"]),
        Route("/f/{token}/{paper:path}/{verdict}", partial(feedback, web), methods=["GET", "POST"]),
    ]


@dataclass(frozen=True, slots=True)
class Judged:
    """A paper the reader liked or disliked, as their page lists it."""

    paper: StoredPaper
    link: str | None  # where it is read (arXiv, the source's page)
    archive: str | None  # the paper on the archive


def _page(
    web: Web,
    store: Store,
    token: str,
    reader: Subscriber,
    *,
    status: int = 200,
    done: str | None = None,
    form: forms.SettingsForm | None = None,
    problems: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """The reader's page: `done` names what the request just did (unsubscribe, resubscribe,
    settings, reset, forget, refused); `form` is the settings form as sent when it is shown again
    with `problems` (field -> what is wrong)."""
    liked, disliked = store.feedback(reader.name)
    return web.page(
        "web/reader.html",
        status=status,
        reader=reader,
        here=web.url("u", token),
        form_token=web.form_token(store, reader.name),
        done=done,
        form=form or forms.SettingsForm.of(reader.profile),
        problems=problems or {},
        own=[FIELD_NAMES[name] for name in reader.own.changed],
        liked=[_judged(web, p) for p in liked],
        disliked=[_judged(web, p) for p in disliked],
        zones=_zones(),
        days=DAY_NAMES,
        limits={"keywords": forms.MAX_KEYWORDS, "terms": forms.MAX_TERMS},
        **context,
    )


def _judged(web: Web, paper: StoredPaper) -> Judged:
    links = paper_links(paper)
    archive = Links(web.config.site.base_url)
    return Judged(
        paper,
        links[0][1] if links else None,
        archive.paper(paper.dates[-1], paper.id) if paper.dates else None,
    )


@cache
def _zones() -> tuple[str, ...]:
    """The IANA zone names offered as the time zone field's suggestions."""
    return tuple(sorted(zoneinfo.available_timezones()))


async def show(web: Web, request: Request) -> Response:
    token = request.path_params["token"]

    def work(store: Store) -> Response:
        return _page(web, store, token, web.subscriber(store, token, "unsubscribe"))

    return await web.run(work)


async def act(web: Web, request: Request) -> Response:
    """Unsubscribe or resubscribe: by the page's buttons (`action`, with the form token), or
    by a one-click POST (no `action`)."""
    token = request.path_params["token"]
    fields = await form_fields(request)
    action = fields.get("action")

    def work(store: Store) -> Response:
        reader = web.subscriber(store, token, "unsubscribe")
        if action is not None and action not in ACTIONS:
            raise HTTPException(400)
        if action is not None and not web.form_sent(store, fields, reader.name):
            return _page(web, store, token, reader, status=403, done="refused")
        before, after = ACTIONS[action or "unsubscribe"]
        if reader.status in before:
            store.set_reader_status(reader.name, after, now=web.clock())
        now = store.subscriber(reader.name) or reader
        return _page(web, store, token, now, done=action or "unsubscribe")

    return await web.run(work)


async def save(web: Web, request: Request) -> Response:
    """The settings form: saved when every field is right (or, with `action=reset`, the
    reader's own settings dropped); otherwise shown again with what is wrong, nothing saved."""
    token = request.path_params["token"]
    fields = await form_fields(request)
    sent = forms.SettingsForm.sent(fields)

    def work(store: Store) -> Response:
        reader = web.subscriber(store, token, "unsubscribe")
        if reader.status == "removed":
            raise HTTPException(400)
        if not web.form_sent(store, fields, reader.name):
            return _page(web, store, token, reader, status=403, done="refused", form=sent)
        reset = fields.get("action") == "reset"
        if reset:
            own = ReaderSettings()
        else:
            liked = bool(reader.profile.liked) or bool(store.feedback(reader.name)[0])
            try:
                own = forms.settings(sent, reader, liked=liked)
            except forms.SettingsError as exc:
                return _page(
                    web, store, token, reader, status=400, form=sent, problems=exc.problems
                )
        store.set_reader_settings(reader.name, own, now=web.clock())
        saved = store.subscriber(reader.name) or reader
        return _page(web, store, token, saved, done="reset" if reset else "settings")

    return await web.run(work)


async def forget(web: Web, request: Request) -> Response:
    """Undo: what the reader said of one paper taken back."""
    token = request.path_params["token"]
    fields = await form_fields(request)
    ref = fields.get("paper", "")

    def work(store: Store) -> Response:
        reader = web.subscriber(store, token, "unsubscribe")
        if not web.form_sent(store, fields, reader.name):
            return _page(web, store, token, reader, status=403, done="refused")
        liked, disliked = store.feedback(reader.name)
        said = next((p for p in [*liked, *disliked] if p.id == ref), None)
        if said is not None:
            store.forget_feedback(reader.name, said.id)
        return _page(web, store, token, reader, done="forget", forgotten=said)

    return await web.run(work)


async def feedback(web: Web, request: Request) -> Response:
    """GET: a page asking to confirm; POST: the verdict recorded (again: the last one counts)."""
    token, ref, verdict = (request.path_params[k] for k in ("token", "paper", "verdict"))
    if verdict not in VERDICTS or not ref.startswith(PAPER_PREFIXES):
        raise HTTPException(404)
    posted = await form_fields(request) if request.method == "POST" else None

    def work(store: Store) -> Response:
        reader = web.subscriber(store, token, "feedback")
        found = store.find([ref])
        if not found:
            raise HTTPException(404)
        paper = found[0]
        refused = posted is not None and not web.form_sent(store, posted, reader.name)
        done = posted is not None and not refused
        if done:
            store.record_feedback(reader.name, paper.id, liked=verdict == "like", now=web.clock())
        archive = Links(web.config.site.base_url)
        return web.page(
            "web/feedback.html",
            status=403 if refused else 200,
            paper=paper,
            verdict=verdict,
            done=done,
            refused=refused,
            form_token=web.form_token(store, reader.name),
            here=web.url("f", token, quote(ref, safe=":"), verdict),
            archive=archive.paper(paper.dates[-1], paper.id) if paper.dates else archive.home(),
        )

    return await web.run(work)
