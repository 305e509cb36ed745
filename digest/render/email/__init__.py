"""The digest as an HTML email with a plain-text part, and as a complete message (.eml).

Templates `digest-<reader>.html` then `digest.html` (and `.txt` likewise), user directories
first. The HTML template's CSS is inlined once per template (see inline.py); each email then
only renders. Pure: the clock comes in as `now`, and the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

import jinja2

from digest import layout
from digest.models import Artifact, Digest, Site
from digest.render import render, template_for
from digest.render.email.context import inert, template_context
from digest.render.email.inline import inline, inlining
from digest.render.email.mime import list_headers, message, message_id
from digest.render.links import Links

__all__ = [
    "artifacts",
    "list_headers",
    "message",
    "message_id",
    "render_email",
    "render_html",
    "render_text",
    "template_context",
]


def _render(template: jinja2.Template, values: dict[str, object]) -> str:
    return render(template, values)


def _html(env: jinja2.Environment, names: Sequence[str], values: dict[str, object]) -> str:
    fast, loader = inlining(env)
    template = template_for(fast, names)
    if loader.inlined.get(str(template.name)):
        return _render(template, values)
    return inline(_render(template_for(env, names), values))


@lru_cache(maxsize=8)
def _plain(env: jinja2.Environment) -> jinja2.Environment:
    """An overlay of `env` for the plain-text part: every printed value made inert."""
    return env.overlay(finalize=inert)


def render_email(
    digest: Digest, *, site: Site, links: Links, env: jinja2.Environment
) -> tuple[str, str]:
    """(HTML, plain text) of a reader's digest email."""
    values = template_context(digest, title=site.title, intro=site.intro, links=links)
    return render_html(digest, values, env), render_text(digest, values, env)


def render_html(digest: Digest, values: dict[str, object], env: jinja2.Environment) -> str:
    """The HTML part, from `template_context`'s values."""
    name = digest.reader.name
    return _html(env, [f"digest-{name}.html", "digest.html"], values)


def render_text(digest: Digest, values: dict[str, object], env: jinja2.Environment) -> str:
    """The plain-text part, from `template_context`'s values."""
    name = digest.reader.name
    return _render(template_for(_plain(env), [f"digest-{name}.txt", "digest.txt"]), values)


def artifacts(
    digest: Digest, *, site: Site, links: Links, env: jinja2.Environment, now: datetime
) -> list[Artifact]:
    """The HTML preview `digests/<reader>/<date>.html`; the message `mail/<reader>/<date>.eml`."""
    html, text = render_email(digest, site=site, links=links, env=env)
    name = digest.reader.name
    extra = b""
    if links.signer is not None and digest.reader.email:
        mailto = links.unsubscribe_mailto(name, site.unsubscribe_mailto or site.address)
        extra = list_headers(site, links.unsubscribe(name), mailto)
    return [
        Artifact(
            path=layout.digest_path(name, digest.date, "html"),
            content=html.encode("utf-8"),
            media_type="text/html; charset=utf-8",
        ),
        Artifact(
            path=layout.mail_path(name, digest.date),
            content=message(digest, html, text, site=site, now=now, extra=extra),
            media_type="message/rfc822",
        ),
    ]
