"""What the email templates are given: each paper's lines worked out once, as plain text.

The one piece of markup made here is the highlighted excerpt: the text is escaped piece by piece
and only this module's own `<mark>` tags are added. What a paper shows whoever reads it is made
once per paper and reused across a send's digests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from html import unescape

from markupsafe import Markup, escape

from digest.models import Digest, Scored, StoredPaper, Term
from digest.render.filters import cut, oneline
from digest.render.links import Links, paper_links
from digest.render.markup import markdown_html

AUTHORS_SHOWN = 3  # a longer list shows the first three and "et al."
PREHEADER = 140  # characters of the hidden preview line (E-43)
EXCERPT = 600  # characters of abstract per paper, fewer when a digest is long (E-15)
EXCERPT_MIN = 240
EXCERPT_BUDGET = 18_000  # characters of abstract per email, shared among its papers
MAX_PAPERS = 40  # per email, so it stays under Gmail's clipping (E-15); the rest are in the feed

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = tuple(
    "January February March April May June July August September October November December".split()  # noqa: SIM905
)
# nh3's output is well-formed: a link, or any other tag
_TAGS = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"[^>]*>(.*?)</a>|<[^>]*>', re.S)
_BREAK = re.compile(r"<br\s*/?>|</(?:p|li|pre|blockquote|ul|ol)>")
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper of an email, ready to print: plain strings, URLs from links.py only."""

    number: int
    scored: Scored
    title: str  # one line
    href: str  # where the title links: the arXiv abstract or the first paper link; "" if none
    authors: str  # shortened: the first three and "et al."
    score: str  # `0.432`
    terms: tuple[tuple[str, int], ...]  # matched terms and their percent share of the match
    followed: str  # followed authors on the paper, comma-separated; "" if none
    closest: str  # the title of the liked paper this one is most like; "" if none
    closeness: str  # ... and their similarity, `0.40`
    popularity: int  # percent of the score from upvotes
    excerpt: str  # the abstract, cut at a sentence or word
    marked: Markup  # the excerpt escaped, with each matched term in <mark class="hit">
    links: tuple[tuple[str, str], ...]  # (label, URL): arXiv, PDF, code, project, Daily Papers
    like: str
    dislike: str


@dataclass(frozen=True, slots=True)
class _Paper:
    """What an email shows of a paper whoever reads it; made once per paper in a send."""

    title: str
    authors: str
    excerpt: str
    links: tuple[tuple[str, str], ...]


def long_date(day: date) -> str:
    """`Wednesday, 20 August 2025`, the same in every locale."""
    return f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def short_date(day: date) -> str:
    """`20 Aug 2025`, the same in every locale."""
    return f"{day.day} {_MONTHS[day.month - 1][:3]} {day.year}"


def percent(share: float) -> int:
    return int(share * 100 + 0.5)


def shorten_authors(names: tuple[str, ...]) -> str:
    shown = [oneline(n) for n in names]
    if len(shown) > AUTHORS_SHOWN + 1:
        return ", ".join(shown[:AUTHORS_SHOWN]) + " et al."
    return ", ".join(shown)


def inert(value: object) -> object:
    """What the plain-text part prints: a `<` that would open a tag becomes U+2039, so a client that
    shows text as HTML finds no markup in a scraped title. Used as the text template's finalize;
    its values are already one line each, without control characters."""
    if isinstance(value, str) and "<" in value:
        return _TAG_OPEN.sub("\u2039", value)
    return value


def _word(word: str) -> str:
    """A word of a term as a pattern that also matches its plural."""
    if len(word) > 3 and word.endswith("y"):
        return re.escape(word[:-1]) + "(?:y|ies)"
    return re.escape(word) + "(?:e?s)?"


@lru_cache(maxsize=8192)
def _term_pattern(term: str) -> re.Pattern[str] | None:
    """A term, plural or singular, with anything between its words, for lower-cased text (which
    searches several times faster than a case-blind pattern). One per term: readers share terms,
    and a paper's set of terms is rarely seen twice."""
    words = term.lower().split()
    return re.compile(r"[\W_]+".join(map(_word, words))) if words else None


@lru_cache(maxsize=4096)
def _paper(paper: StoredPaper, limit: int) -> _Paper:
    return _Paper(
        title=oneline(paper.title),
        authors=shorten_authors(paper.authors),
        excerpt=cut(paper.abstract, limit),
        links=tuple(paper_links(paper)),
    )


def marks(text: str, terms: tuple[Term, ...]) -> tuple[tuple[str, bool], ...]:
    """`text` cut into pieces, True where one of the terms occurs as whole words; where matches
    overlap, the one that starts first wins, then the longer."""
    lower = text.lower()
    if len(lower) != len(text):  # a letter whose lower case is longer: keep positions aligned
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    spans = []
    for term in terms:
        pattern = _term_pattern(oneline(term.term))
        for match in pattern.finditer(lower) if pattern else ():
            start, end = match.span()
            if not (lower[start - 1 : start].isalnum() or lower[end : end + 1].isalnum()):
                spans.append((start, -end))
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, negative_end in sorted(spans):
        if start < at:
            continue
        if start > at:
            pieces.append((text[at:start], False))
        at = -negative_end
        pieces.append((text[start:at], True))
    if at < len(text):
        pieces.append((text[at:], False))
    return tuple(pieces)


@lru_cache(maxsize=4096)
def highlight(text: str, terms: tuple[Term, ...]) -> Markup:
    """`text` escaped, each matched term wrapped in `<mark class="hit">`. Scraped text only ever
    passes through escape(); the tags are this function's own."""
    return Markup("").join(
        Markup('<mark class="hit">%s</mark>') % piece if hit else escape(piece)
        for piece, hit in marks(text, terms)
    )


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
    if not count:
        return f"No new papers matched your interests on {short_date(digest.date)}."
    head = f"{count} paper{'s' if count != 1 else ''} for {who} today: "
    text = head + " · ".join(oneline(s.paper.title) for s in digest.papers[:3])
    if len(text) <= PREHEADER:
        return text
    return text[: PREHEADER - 1].rsplit(" ", 1)[0].rstrip(" ·,;:") + "…"


def excerpt_limit(count: int) -> int:
    return max(EXCERPT_MIN, min(EXCERPT, EXCERPT_BUDGET // max(count, 1)))


def entries(digest: Digest, links: Links) -> list[Entry]:
    reader, day = digest.reader.name, digest.date
    limit = excerpt_limit(min(len(digest.papers), MAX_PAPERS))
    out = []
    for number, item in enumerate(digest.papers[:MAX_PAPERS], 1):
        paper = item.paper
        shown = _paper(paper, limit)
        out.append(
            Entry(
                number=number,
                scored=item,
                title=shown.title,
                href=shown.links[0][1] if shown.links else "",
                authors=shown.authors,
                score=f"{item.score:.3f}",
                terms=tuple((oneline(t.term), percent(t.weight)) for t in item.terms),
                followed=", ".join(oneline(a) for a in item.authors),
                closest=oneline(item.closest.title) if item.closest else "",
                closeness=f"{item.closeness:.2f}",
                popularity=percent(item.popularity),
                excerpt=shown.excerpt,
                marked=highlight(shown.excerpt, item.terms),
                links=shown.links,
                like=links.feedback(reader, day, paper.id, "like"),
                dislike=links.feedback(reader, day, paper.id, "dislike"),
            )
        )
    return out


def subject(digest: Digest, title: str) -> str:
    """`Paper Digest: 12 papers for 20 Aug 2025`, from configured and counted values only."""
    count = len(digest.papers)
    papers = f"{count} paper{'s' if count != 1 else ''}" if count else "no papers"
    return oneline(f"{title}: {papers} for {short_date(digest.date)}")


def template_context(digest: Digest, *, title: str, intro: str, links: Links) -> dict[str, object]:
    """Everything a digest.html or digest.txt template may use."""
    reader = digest.reader
    intro_html, intro_text = markdown(intro)
    note_html, note_text = markdown(reader.note)
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
        "entries": entries(digest, links),
        "more": max(0, len(digest.papers) - MAX_PAPERS),  # papers left out of the email
        "interests": tuple(oneline(k) for k in reader.keywords),
        "links": links,
        "paper_links": paper_links,
        "percent": percent,
        "day_url": links.day(digest.date),
        "feed_url": links.reader_feed(reader.name, "atom"),
        "feed_urls": (
            ("RSS", links.reader_feed(reader.name, "rss")),
            ("Atom", links.reader_feed(reader.name, "atom")),
        ),
        "unsubscribe_url": links.unsubscribe(reader.name),
    }
