"""A reader's own pages, behind the tokens their emails carry: unsubscribe (RFC 8058 one-click),
resubscribe, edit keywords, and say more or less like a paper.

GET only shows (link scanners and mail previews fetch URLs); every change is a POST. The one-click
POST needs nothing but the URL: no cookie, no field beyond `List-Unsubscribe=One-Click` (a POST
with no `action` field unsubscribes), and the answer is a 200 page, never a redirect.
Repeating a POST changes nothing more.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.models import StoredPaper, Subscriber
from digest.render.links import Links
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


def routes(web: Web) -> list[Route]:
    return [
        Route("/u/{token}", partial(show, web), methods=["GET"]),
        Route("/u/{token}", partial(act, web), methods=["POST"]),
        Route("/u/{token}/keywords", partial(keywords, web), methods=["POST"]),
        Route("/f/{token}/{paper:path}/{verdict}", partial(feedback, web), methods=["GET", "POST"]),
    ]


def _page(
    web: Web,
    token: str,
    reader: Subscriber,
    *,
    done: str | None = None,
    error: str | None = None,
    text: str | None = None,
) -> Response:
    """The reader's page; `done` names what the request just did, `error` what was wrong with
    the keywords sent (`text`, shown again)."""
    return web.page(
        "web/reader.html",
        status=400 if error else 200,
        reader=reader,
        here=web.url("u", token),
        done=done,
        error=error,
        keywords="\n".join(reader.profile.keywords) if text is None else text,
    )


async def show(web: Web, request: Request) -> Response:
    token = request.path_params["token"]
    reader = await web.run(lambda store: web.subscriber(store, token, "unsubscribe"))
    return _page(web, token, reader)


async def act(web: Web, request: Request) -> Response:
    token = request.path_params["token"]
    action = (await form_fields(request)).get("action", "unsubscribe")

    def work(store: Store) -> Subscriber:
        reader = web.subscriber(store, token, "unsubscribe")
        if action not in ACTIONS:
            raise HTTPException(400)
        before, after = ACTIONS[action]
        if reader.status in before:
            store.set_reader_status(reader.name, after, now=web.clock())
        return store.subscriber(reader.name) or reader

    return _page(web, token, await web.run(work), done=action)


async def keywords(web: Web, request: Request) -> Response:
    token = request.path_params["token"]
    text = (await form_fields(request)).get("keywords", "")

    def work(store: Store) -> tuple[Subscriber, str | None]:
        reader = web.subscriber(store, token, "unsubscribe")
        try:
            words = forms.keywords(text)
        except forms.FormError as exc:
            return reader, str(exc)
        store.set_profile(forms.with_keywords(reader.profile, words), now=web.clock())
        return store.subscriber(reader.name) or reader, None

    reader, error = await web.run(work)
    if error:
        return _page(web, token, reader, error=error, text=text)
    return _page(web, token, reader, done="keywords")


async def feedback(web: Web, request: Request) -> Response:
    """GET: a page asking to confirm; POST: the verdict recorded (again: the last one counts)."""
    token, ref, verdict = (request.path_params[k] for k in ("token", "paper", "verdict"))
    if verdict not in VERDICTS or not ref.startswith(PAPER_PREFIXES):
        raise HTTPException(404)
    record = request.method == "POST"

    def work(store: Store) -> StoredPaper:
        reader = web.subscriber(store, token, "feedback")
        found = store.find([ref])
        if not found:
            raise HTTPException(404)
        if record:
            store.record_feedback(
                reader.name, found[0].id, liked=verdict == "like", now=web.clock()
            )
        return found[0]

    paper = await web.run(work)
    archive = Links(web.config.site.base_url)
    return web.page(
        "web/feedback.html",
        paper=paper,
        verdict=verdict,
        done=record,
        here=web.url("f", token, quote(ref, safe=":"), verdict),
        archive=archive.paper(paper.dates[-1], paper.id) if paper.dates else archive.home(),
    )
