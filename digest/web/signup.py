"""Subscribing by the form, with double opt-in.

`POST /subscribe` makes a `pending` reader and mails them a confirmation link (`/c/<token>`); only
the POST behind that link makes them `active`, and nothing else is ever sent to a pending reader.
The answer to the form is the same page whatever the address (new, pending or already active), so
the form cannot be used to learn who reads the newsletter; the email is sent after the answer,
so its time does not tell either. A confirmation works for `delivery.confirm_hours` from when it
was last sent (submitting the form again for a pending address sends it again, restarting that
time).

Two budgets stop the form being used to mail strangers in bulk (`delivery.confirm_per_hour` for
all addresses together, `delivery.confirm_per_address` a day for one address): a request over
either is answered 429 with `Retry-After`, and nothing is stored or sent for it. They count every
request let through, whatever the address's state, so a 429 does not tell who reads the
newsletter either; the counts are in the store, shared by every `digest serve` process. A hidden
field that people leave empty (`website`) catches form-filling bots: a filled one gets the usual
answer, and nothing is stored or sent.

The confirmation page asks what interests the new reader (the cold start): it offers STARTERS
papers of the store's last RECENT_DAYS days, as unlike one another as can be (rank.assorted:
MMR over their TF-IDF vectors), each with a box to tick; the papers ticked when they confirm
become their likes (feedback, as a "more like this" link records it). Its form carries the
page's form token (core.Web.form_sent). A store without papers offers none.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from functools import lru_cache, partial

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.errors import DigestError, StoreError
from digest.models import Profile, StoredPaper, Subscriber
from digest.store import Store
from digest.web import forms
from digest.web.core import Web, form_fields, form_items
from digest.web.reader import PAPER_PREFIXES

log = logging.getLogger("digest")

NAME_ATTEMPTS = 20  # reader names tried for a new subscriber before giving up
STARTERS = 10  # papers the confirmation page offers to tick
RECENT_DAYS = 7  # ... from the store's newest digest date and the days before it
STARTER_POOL = 300  # ... chosen among this many, the most upvoted first
RESEND_AFTER = timedelta(minutes=10)  # a pending address gets at most one confirmation per 10 min
EMPTY = {"email": "", "display_name": "", "keywords": ""}
HONEYPOT = "website"  # the form's hidden field: a person leaves it empty, a bot fills it in


def routes(web: Web) -> list[Route]:
    return [
        Route("/subscribe", partial(subscribe_page, web), methods=["GET"]),
        Route("/subscribe", partial(subscribe, web), methods=["POST"]),
        Route("/c/{token}", partial(confirm, web), methods=["GET", "POST"]),
    ]


def _form(web: Web, *, fields: dict[str, str], error: str | None = None) -> Response:
    return web.page(
        "web/subscribe.html",
        status=400 if error else 200,
        action=web.url("subscribe"),
        fields=EMPTY | fields,
        error=error,
        sent=False,
        hours=web.config.delivery.confirm_hours,
    )


async def subscribe_page(web: Web, request: Request) -> Response:
    return _form(web, fields={})


async def subscribe(web: Web, request: Request) -> Response:
    fields = await form_fields(request)
    if fields.get(HONEYPOT, "").strip():
        return _accepted(web)  # a bot: the usual answer, nothing stored, nothing sent
    try:
        signup = forms.signup(fields)
    except forms.FormError as exc:
        return _form(web, fields=fields, error=str(exc))
    outgoing = await web.run(partial(_register, web, signup))
    if isinstance(outgoing, timedelta):
        seconds = max(1, math.ceil(outgoing.total_seconds()))
        return web.error(429, {"Retry-After": str(seconds)})
    response = _accepted(web)
    if outgoing is not None:
        response.background = BackgroundTask(_send, web, *outgoing)
    return response


def _accepted(web: Web) -> Response:
    """The answer to a form let through: the same whatever the address."""
    return web.page(
        "web/subscribe.html",
        action=web.url("subscribe"),
        fields=EMPTY,
        error=None,
        sent=True,
        hours=web.config.delivery.confirm_hours,
    )


def _register(
    web: Web, signup: forms.Signup, store: Store
) -> tuple[Profile, str] | timedelta | None:
    """The reader to send a confirmation to, and the link: a new pending reader, or the pending
    one the address already has; None when the address already gets the digest, or was sent a
    confirmation less than RESEND_AFTER ago; how long to wait when the request is over a budget
    (then nothing is stored)."""
    now = web.clock()
    delivery = web.config.delivery
    wait = store.admit_signup(
        signup.email,
        now=now,
        per_hour=delivery.confirm_per_hour,
        per_address=delivery.confirm_per_address,
    )
    if wait is not None:
        log.warning("subscribe form over its budget: refused for %.0f s", wait.total_seconds())
        return wait
    readers = store.readers_by_email(signup.email)
    if any(r.status == "active" for r in readers):
        return None
    waiting = next((r for r in readers if r.status == "pending"), None)
    if waiting is not None and now - waiting.updated < RESEND_AFTER:
        return None  # sent moments ago: the form cannot be used to flood an inbox
    pending = waiting.profile if waiting is not None else None
    if pending is not None:
        store.set_reader_status(pending.name, "pending", now=now)  # restarts confirm_hours
    profile = pending or _new_reader(store, signup, now=now)
    link = web.links(store, profile.name).confirm(profile.name)
    assert link is not None  # serve always has a signer
    return profile, link


def _new_reader(store: Store, signup: forms.Signup, *, now: datetime) -> Profile:
    for attempt in range(NAME_ATTEMPTS):
        profile = Profile(
            name=forms.reader_name(signup.email, attempt),
            keywords=signup.keywords,
            email=signup.email,
            display_name=signup.display_name,
        )
        try:
            store.add_reader(profile, now=now, status="pending", origin="form")
        except StoreError:
            continue  # the name is taken (an earlier reader with this address, or a collision)
        return profile
    raise StoreError(f"no free reader name for a new subscriber after {NAME_ATTEMPTS} tries")


def _send(web: Web, profile: Profile, link: str) -> None:
    """Runs after the answer has gone: a failure is logged (the link never is), not shown."""
    try:
        web.confirm(profile, link)
    except DigestError as exc:
        log.warning("confirmation to reader %s not sent: %s", profile.name, exc)


def _state(web: Web, reader: Subscriber) -> str:
    """ask: pending and in time; done: already active; late: pending too long; gone: the
    reader unsubscribed or was removed since (a confirmation never brings them back)."""
    if reader.status == "active":
        return "done"
    if reader.status != "pending":
        return "gone"
    deadline = reader.updated + timedelta(hours=web.config.delivery.confirm_hours)
    return "late" if web.clock() > deadline else "ask"


async def confirm(web: Web, request: Request) -> Response:
    """GET: a page with a button (mail scanners fetch links) and papers to tick; POST (with the
    page's form token): pending -> active, and the papers ticked liked."""
    token = request.path_params["token"]
    posted = await form_items(request) if request.method == "POST" else None

    def work(store: Store) -> Response:
        reader = web.subscriber(store, token, "confirm")
        state = _state(web, reader)
        fields = dict(posted or ())
        refused = posted is not None and not web.form_sent(store, fields, reader.name)
        liked: list[StoredPaper] = []
        if posted is not None and not refused and state == "ask":
            now = web.clock()
            store.set_reader_status(reader.name, "active", now=now)
            ticked = [value for key, value in posted if key == "like"][:STARTERS]
            for paper in store.find([ref for ref in ticked if ref.startswith(PAPER_PREFIXES)]):
                liked.append(store.record_feedback(reader.name, paper.id, liked=True, now=now))
            state = "done"
        return web.page(
            "web/confirm.html",
            status=410 if state in ("late", "gone") else 403 if refused else 200,
            reader=reader,
            state=state,
            refused=refused,
            liked=liked,
            starters=starters(store) if state == "ask" else [],
            form_token=web.form_token(store, reader.name),
            here=web.url("c", token),
            subscribe=web.url("subscribe"),
            hours=web.config.delivery.confirm_hours,
        )

    return await web.run(work)


def starters(store: Store) -> list[StoredPaper]:
    """The papers a new reader is offered: STARTERS of the last RECENT_DAYS days' (those with an
    abstract, the STARTER_POOL most upvoted), as unlike one another as can be; none without
    papers. The same for every reader until the store's papers change, so it is worked out once
    for them."""
    latest = store.latest_date()
    if latest is None:
        return []
    recent = store.papers(since=latest - timedelta(days=RECENT_DAYS - 1), until=latest)
    with_text = [p for p in recent if p.abstract.strip()]
    pool = sorted(with_text, key=lambda p: (-(p.upvotes or 0), p.id))[:STARTER_POOL]
    return list(_assorted(tuple(pool)))


@lru_cache(maxsize=4)
def _assorted(pool: tuple[StoredPaper, ...]) -> tuple[StoredPaper, ...]:
    from digest import rank  # scikit-learn loads when a confirmation page is first asked for

    return tuple(rank.assorted(pool, STARTERS))
