"""RSS 2.0 and Atom 1.0 feeds: each reader's picks, and every day's papers for the public.

Feeds come from Jinja2 templates (`feed.rss.xml`, `feed.atom.xml`; a user's copy wins). What a
template prints is prepared here: texts are plain, on one line and free of XML-illegal characters;
URLs are absolute http(s); an entry's HTML is built here, sanitised with nh3 and handed over as a
plain string, so autoescape encodes it exactly once.

A reader's feed lists their matches and, after them, their loosely related papers (Digest.near):
such an entry's reason starts with "Loosely related", and it carries that as a category too.

Nothing reads the clock. An entry's id is a tag URI minted from the day its paper was first listed
(RFC 4151), its date is that day at 00:00 UTC, and a feed's date is its newest entry's: two
builds of the same data give the same bytes, and an entry keeps its id and date from build to
build whatever the template or the paper's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from html import escape
from operator import attrgetter
from typing import TypeVar
from urllib.parse import quote, urlsplit

import jinja2
import nh3

from digest import PROJECT_URL, __version__, layout
from digest.errors import RenderError
from digest.models import Artifact, Digest, Profile, Scored, Site, StoredPaper
from digest.render import render, template_for, why
from digest.render.filters import cut, oneline
from digest.render.links import Links, paper_links

RSS = "application/rss+xml"
ATOM = "application/atom+xml"
TEMPLATES = (("feed.rss.xml", "xml", RSS), ("feed.atom.xml", "atom", ATOM))  # name, file, type
PUBLIC = layout.PUBLIC_FEED  # the public feed's file stem: feeds/all.xml, feeds/all.atom
EPOCH = date(1970, 1, 1)  # the date of a feed that has never listed a paper

# XML 1.0 forbids C0 controls but tab and line breaks, lone surrogates and U+FFFE/U+FFFF; C1
# controls are legal but "discouraged" and never meant in a title.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_TAG = re.compile(r"<[A-Za-z/!?][^<>]*>")  # what an HTML parser would take for a tag
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_SCHEME = re.compile(r"\b((?:javascript|vbscript|data)\s*):", re.IGNORECASE)
_TAG_SAFE = ":/@!$'()*+,;=-._~"
# Feed readers render entry HTML: the email allow-list, absolute http(s)/mailto links only.
_CLEANER = nh3.Cleaner(
    tags={"p", "br", "em", "strong", "code", "sub", "sup", "ul", "ol", "li", "a"},
    attributes={"a": {"href"}},
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="noopener noreferrer",
    strip_comments=True,
)

T = TypeVar("T")
_PICK_ID: Callable[[Scored], str] = attrgetter("paper.id")
_PAPER_ID: Callable[[StoredPaper], str] = attrgetter("id")


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry, ready to print: plain texts, absolute URLs, sanitised HTML."""

    id: str  # a tag URI, never a URL: RSS guids carry isPermaLink="false"
    title: str
    link: str
    day: date  # the day the paper was first listed; the entry's published and updated date
    html: str  # sanitised HTML as a plain string; the template escapes it once
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def rfc822(self) -> str:
        return _rfc822(self.day)

    @property
    def rfc3339(self) -> str:
        return _rfc3339(self.day)


@dataclass(frozen=True, slots=True)
class Feed:
    """A whole feed, for either template. `entries` is never empty, newest first."""

    id: str  # Atom's feed id
    title: str
    link: str  # the HTML page the feed stands for
    description: str
    rss_url: str | None  # the self links; None for a private feed that has no URL yet
    atom_url: str | None
    author: str
    entries: tuple[Entry, ...]
    language: str = "en"
    generator: str = "digest"
    generator_uri: str = PROJECT_URL
    generator_version: str = __version__

    @property
    def day(self) -> date:
        """The newest entry's day: the feed's lastBuildDate and updated."""
        return max(entry.day for entry in self.entries)

    @property
    def rfc822(self) -> str:
        return _rfc822(self.day)

    @property
    def rfc3339(self) -> str:
        return _rfc3339(self.day)


def reader_feeds(
    digests: Sequence[Digest], *, reader: Profile, site: Site, links: Links, env: jinja2.Environment
) -> list[Artifact]:
    """A reader's recent picks, one entry per paper, as `feeds/<reader>.xml` and `.atom`."""
    return _render(reader_feed(digests, reader=reader, site=site, links=links), reader.name, env)


def reader_feed(digests: Sequence[Digest], *, reader: Profile, site: Site, links: Links) -> Feed:
    """What a reader's feed lists, for either template."""
    name = reader.name
    if name == PUBLIC:
        raise RenderError(f"reader name {name!r} is taken by the public feed", hint="rename it")
    strangers = sorted({d.reader.name for d in digests if d.reader.name != name})
    if strangers:
        raise ValueError(f"digests of {', '.join(strangers)} given for {name}'s feed")
    host = _host(site)
    who = _text(reader.display_name or "") or name
    home = links.reader_page(name) if reader.public else links.home()
    near = {(d.date, item.paper.id) for d in digests for item in d.near}
    shown = [(d.date, d.papers + d.near) for d in digests]
    picks = _first_listed(shown, _PICK_ID, site.feed_items)
    entries = [
        _pick_entry(day, item, name, host, links, loose=(day, item.paper.id) in near)
        for day, item in picks
    ]
    if not entries:
        newest = max((d.date for d in digests), default=EPOCH)
        said = f"up to {newest.isoformat()} " if digests else ""
        note = f"No papers {said}have matched {who}'s interests yet; new picks will appear here."
        entries = [_nothing(host, newest, f"readers/{name}", home, note)]
    title = _text(site.title)
    return Feed(
        id=links.reader_feed(name, "atom"),
        title=f"{title} for {who}",
        link=home,
        description=f"The papers {title} picked for {who}, newest first, and why each was picked.",
        rss_url=links.feed_of(name, "rss", private=not reader.public),
        atom_url=links.feed_of(name, "atom", private=not reader.public),
        author=title,
        entries=tuple(entries),
    )


def public_feeds(
    days: Sequence[tuple[date, Sequence[StoredPaper]]],
    *,
    site: Site,
    links: Links,
    env: jinja2.Environment,
) -> list[Artifact]:
    """Every day's papers, each once at the first day it was listed: `feeds/all.xml`, `.atom`."""
    return _render(public_feed(days, site=site, links=links), PUBLIC, env)


def public_feed(
    days: Sequence[tuple[date, Sequence[StoredPaper]]], *, site: Site, links: Links
) -> Feed:
    """What the public feed lists, for either template."""
    host = _host(site)
    listed = _first_listed(days, _PAPER_ID, site.feed_items)
    entries = [_paper_entry(day, paper, host, links) for day, paper in listed]
    title = _text(site.title)
    if not entries:
        newest = max((day for day, _ in days), default=EPOCH)
        note = f"{title} has no papers yet; each day's papers will appear here."
        entries = [_nothing(host, newest, "papers", links.home(), note)]
    return Feed(
        id=links.site_feed("atom"),
        title=title,
        link=links.home(),
        description=f"Every paper {title} has listed, day by day, newest first.",
        rss_url=links.site_feed("rss"),
        atom_url=links.site_feed("atom"),
        author=title,
        entries=tuple(entries),
    )


def _first_listed(
    days: Sequence[tuple[date, Sequence[T]]], key: Callable[[T], str], limit: int
) -> list[tuple[date, T]]:
    """Each item once, at the earliest day it was listed; newest day first, the given order
    within a day (days given twice keep their order); at most `limit` of them."""
    first: dict[str, date] = {}
    for day, items in sorted(days, key=lambda pair: pair[0]):
        for item in items:
            first.setdefault(key(item), day)
    out: list[tuple[date, T]] = []
    for day, items in sorted(days, key=lambda pair: -pair[0].toordinal()):
        for item in items:
            k = key(item)
            if first.get(k) == day:
                del first[k]  # listed now; a repeat later on the same day is skipped
                out.append((day, item))
                if len(out) >= max(1, limit):
                    return out
    return out


def _pick_entry(
    day: date, item: Scored, reader: str, host: str, links: Links, *, loose: bool
) -> Entry:
    paper = item.paper
    found = paper_links(paper)
    archive = links.paper(day, paper.id)
    body = _why(item, loose) + _paper_html(
        paper, [*found, (f"All papers of {day.isoformat()}", archive)]
    )
    return Entry(
        id=_tag(host, day, f"readers/{reader}/{paper.id}"),
        title=_title(paper),
        link=found[0][1] if found else archive,
        day=day,
        html=_clean(body),
        authors=_texts(paper.authors),
        categories=(why.LOOSE, *_texts(paper.categories)) if loose else _texts(paper.categories),
    )


def _paper_entry(day: date, paper: StoredPaper, host: str, links: Links) -> Entry:
    archive = links.paper(day, paper.id)
    found = [*paper_links(paper), (f"All papers of {day.isoformat()}", archive)]
    return Entry(
        id=_tag(host, day, f"papers/{paper.id}"),
        title=_title(paper),
        link=archive,
        day=day,
        html=_clean(_paper_html(paper, found)),
        authors=_texts(paper.authors),
        categories=_texts(paper.categories),
    )


def _nothing(host: str, day: date, scope: str, link: str, note: str) -> Entry:
    """The one entry of a feed with nothing to list: its id and date follow the newest day known,
    so it stays put until a paper arrives."""
    return Entry(
        id=_tag(host, day, f"{scope}/no-papers"),
        title="No papers yet",
        link=link,
        day=day,
        html=_clean(f"<p>{_h(note)}</p>"),
    )


def _why(item: Scored, loose: bool) -> str:
    """Why a paper was picked, worded as every output words it (why.py)."""
    return f"<p>{why.say(why.reason(item, loose=loose), _STYLE)}</p>"


def _paper_html(paper: StoredPaper, found: Sequence[tuple[str, str]]) -> str:
    """Authors, upvotes, the abstract's opening and the links, as HTML built from escaped text."""
    out = []
    if paper.authors:
        out.append(f"<p><strong>Authors:</strong> {', '.join(map(_h, paper.authors))}</p>")
    if paper.upvotes is not None:
        out.append(f"<p><strong>Upvotes:</strong> {paper.upvotes}</p>")
    abstract = escape(_XML_ILLEGAL.sub("", cut(paper.abstract)))  # as given: HTML shows it
    if abstract:
        out.append(f"<p>{abstract}</p>")
    anchors = [f'<a href="{escape(url)}">{_h(label)}</a>' for label, url in found]
    if anchors:
        out.append(f"<p>{' · '.join(anchors)}</p>")
    return "".join(out)


def _render(feed: Feed, stem: str, env: jinja2.Environment) -> list[Artifact]:
    return [
        Artifact(layout.feed_path(stem, ext), render_feed(env, name, feed), media_type)
        for name, ext, media_type in TEMPLATES
    ]


def render_feed(env: jinja2.Environment, name: str, feed: Feed) -> bytes:
    """`feed` through the template `name` (one of TEMPLATES)."""
    template = template_for(env, [name])
    text = render(template, {"feed": feed})
    # a user's template may print something unprepared: the document stays well-formed
    return _XML_ILLEGAL.sub("", text).lstrip().encode("utf-8")


def _clean(html: str) -> str:
    """nh3's allow-list, then a script or data scheme left in text gets its colon as `&#58;`:
    it reads the same, and no later conversion (to Markdown and back) can make a link of it."""
    return _SCHEME.sub(r"\1&#58;", _XML_ILLEGAL.sub("", _CLEANER.clean(html)))


def _text(text: str) -> str:
    """Plain text for a feed's text fields: one line, XML-legal, and holding nothing an HTML
    parser would take for a tag, because many readers show RSS titles as HTML. Whole tags go
    (CONVENTIONS H-01); a lone `<` before a letter stays, a space after it: `j<i` -> `j< i`."""
    text = _XML_ILLEGAL.sub("", oneline(text))
    while (stripped := _TAG.sub("", text)) != text:
        text = stripped
    return " ".join(_TAG_START.sub("< ", text).split())


def _texts(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(t for t in map(_text, texts) if t)


def _h(text: str) -> str:
    return escape(_text(text))


_STYLE = why.Style(_h, lambda text: f"<strong>{text}</strong>")  # a reason in an entry's HTML


def _title(paper: StoredPaper) -> str:
    return _text(paper.title) or paper.id


def _host(site: Site) -> str:
    return urlsplit(site.base_url).hostname or "localhost"


def _tag(host: str, day: date, specific: str) -> str:
    """A tag URI (RFC 4151): `tag:digest.example.org,2025-08-20:papers/arxiv:2506.01234`."""
    return f"tag:{host},{day.isoformat()}:{quote(specific, safe=_TAG_SAFE)}"


def _rfc822(day: date) -> str:
    """`Wed, 20 Aug 2025 00:00:00 +0000`: English names, 4-digit year, whatever the locale."""
    return format_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"
