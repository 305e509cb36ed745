"""What the email templates are given: the digest's lines worked out once, as plain text.

Each paper's lines, and the markup made for them, come from papers.py. The one piece of markup
made here is the operator's Markdown, sanitised by markup.py.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from html import unescape

from markupsafe import Markup

from digest.models import Digest
from digest.render.dates import MONTHS, WEEKDAYS
from digest.render.email.marks import highlight
from digest.render.email.papers import MAX_PAPERS, entries, percent
from digest.render.filters import oneline
from digest.render.links import Format, Links, paper_links
from digest.render.markup import markdown_html
from digest.render.why import LOOSE, LOOSE_NOTE

__all__ = [
    "highlight",
    "inert",
    "long_date",
    "markdown",
    "markdown_text",
    "preheader",
    "short_date",
    "subject",
    "template_context",
]

FEED_FORMATS: tuple[tuple[str, Format], ...] = (("RSS", "rss"), ("Atom", "atom"))
PREHEADER = 140  # characters of the hidden preview line (E-43)

# nh3's output is well-formed: a link, or any other tag
_TAGS = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"[^>]*>(.*?)</a>|<[^>]*>', re.S)
_BREAK = re.compile(r"<br\s*/?>|</(?:p|li|pre|blockquote|ul|ol)>")
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


def long_date(day: date) -> str:
    """`Wednesday, 20 August 2025`, the same in every locale."""
    return f"{WEEKDAYS[day.weekday()]}, {day.day} {MONTHS[day.month - 1]} {day.year}"


def short_date(day: date) -> str:
    """`20 Aug 2025`, the same in every locale."""
    return f"{day.day} {MONTHS[day.month - 1][:3]} {day.year}"


def inert(value: object) -> object:
    """What the plain-text part prints: a `<` that would open a tag becomes U+2039, so a client that
    shows text as HTML finds no markup in a scraped title. Used as the text template's finalize;
    its values are already one line each, without control characters."""
    if isinstance(value, str) and "<" in value:
        return _TAG_OPEN.sub("\u2039", value)
    return value


@lru_cache(maxsize=256)
def markdown(text: str) -> tuple[Markup, str]:
    """Markdown written by the operator, as sanitised HTML and as plain text."""
    html = markdown_html(text)
    return html, markdown_text(html)


def markdown_text(html: Markup) -> str:
    """Sanitised Markdown HTML (markup.markdown_html) as plain text; links as `text (URL)`."""

    def plain(match: re.Match[str]) -> str:
        if match[1] is None:
            return ""
        label = _TAGS.sub("", match[2])
        return match[1] if unescape(label) == unescape(match[1]) else f"{label} ({match[1]})"

    text = _TAGS.sub(plain, _BREAK.sub("\n", str(html)))
    lines = (oneline(unescape(line)) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def preheader(digest: Digest) -> str:
    """The preview line mail clients show beside the subject, at most 140 characters."""
    who = oneline(digest.reader.display_name or digest.reader.name)
    count = len(digest.papers)
    if not count and not digest.near:
        return f"No new papers matched your interests on {short_date(digest.date)}."
    if count:
        head = f"{count} paper{'s' if count != 1 else ''} for {who} today: "
    else:
        head = f"No close matches on {short_date(digest.date)}; loosely related: "
    text = head + " · ".join(oneline(s.paper.title) for s in (digest.papers or digest.near)[:3])
    if len(text) <= PREHEADER:
        return text
    return text[: PREHEADER - 1].rsplit(" ", 1)[0].rstrip(" ·,;:") + "…"


def subject(digest: Digest, title: str) -> str:
    """`Paper Digest: 12 papers for 20 Aug 2025`, from configured and counted values only; a
    digest of loosely related papers alone says so (`3 loosely related papers`)."""
    count = len(digest.papers) or len(digest.near)
    plural = "s" if count != 1 else ""
    if not count:
        papers = "no papers"
    elif digest.papers:
        papers = f"{count} paper{plural}"
    else:
        papers = f"{count} loosely related paper{plural}"
    return oneline(f"{title}: {papers} for {short_date(digest.date)}")


def template_context(digest: Digest, *, title: str, intro: str, links: Links) -> dict[str, object]:
    """Everything a digest.html or digest.txt template may use; `entries` (the numbered matches)
    and `near` (the loosely related papers) are papers.Entry."""
    reader = digest.reader
    matches, near = entries(digest, links)
    intro_html, intro_text = markdown(intro)
    note_html, note_text = markdown(reader.note)
    private = not reader.public
    feeds = {
        label: url
        for label, fmt in FEED_FORMATS
        if (url := links.feed_of(reader.name, fmt, private=private)) is not None
    }
    return {
        "digest": digest,
        "reader": reader,
        "who": oneline(reader.display_name or reader.name),
        "newsletter_title": oneline(title),
        "subject": subject(digest, title),
        "long_date": long_date(digest.date),
        "preheader": preheader(digest),
        "intro": intro_html,
        "intro_text": intro_text,
        "note": note_html,
        "note_text": note_text,
        "notice": oneline(digest.notice),
        "entries": matches,
        "near": near,
        "loose_heading": LOOSE,
        "loose_note": LOOSE_NOTE,
        "more": max(0, len(digest.papers) + len(digest.near) - MAX_PAPERS),  # left out of the email
        "interests": tuple(oneline(k) for k in reader.keywords),
        "links": links,
        "paper_links": paper_links,
        "percent": percent,
        "day_url": links.day(digest.date),
        "feed_url": feeds.get("Atom"),  # None where the reader has no feed to follow
        "feed_urls": tuple(feeds.items()),  # (label, URL); empty then
        "unsubscribe_url": links.unsubscribe(reader.name),
    }
