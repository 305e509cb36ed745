"""Each paper of an email, as the templates print it.

A send renders the same day's papers for thousands of readers, so what a paper shows whoever
reads it (title, authors, excerpt, links) is worked out once per paper and reused; what depends
on the reader (why it was picked, the highlighted excerpt, the feedback links) is made per digest
in plain Python, not in template loops. Scraped text reaches markup only through marks.escaped();
the tags (`<strong>`, links to links.py's URLs, and marks.py's `<mark>`) are this module's own.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from markupsafe import Markup

from digest.models import Digest, Scored, StoredPaper, Term
from digest.render.email.marks import escaped, highlight
from digest.render.filters import cut, oneline
from digest.render.links import Links, paper_links

AUTHORS_SHOWN = 3  # a longer list shows the first three and "et al."
EXCERPT = 600  # characters of abstract per paper, fewer when a digest is long (E-15)
EXCERPT_MIN = 240
EXCERPT_BUDGET = 18_000  # characters of abstract per email, shared among its papers
MAX_PAPERS = 40  # per email, so it stays under Gmail's clipping (E-15); the rest are in the feed
# the excerpt digest.md's `|cut` makes; asked for the same way, filters.cut's memory serves both
_CUT_DEFAULT = inspect.signature(cut).parameters["limit"].default


class Matched(NamedTuple):
    """What a reader's terms make of a paper: the excerpt with the terms highlighted, and the
    `matched` part of why() (` · matched <strong>pruning</strong> 60%, …`; "" without terms)."""

    marked: Markup
    html: str
    text: str


class Shown(NamedTuple):
    """What an email shows of a paper whoever reads it; made once per paper in a send."""

    paper: StoredPaper
    title: str
    href: str
    authors: str
    excerpt: str
    links: tuple[tuple[str, str], ...]
    link_list: str  # the links as HTML, each `<a href="URL">label</a> · `
    link_lines: str
    by_terms: dict[tuple[Term, ...], Matched]  # see matched()


class Entry(NamedTuple):
    """One paper of an email, ready to print: plain strings, URLs from links.py only, and markup
    made here. A named tuple, as one is made per paper of every digest; the parts of `why` are
    properties, worked out only for a template that lays them out itself."""

    number: int
    scored: Scored
    title: str  # one line
    href: str  # where the title links: the arXiv abstract or the first paper link; "" if none
    authors: str  # shortened: the first three and "et al."
    why: Markup  # `Score 0.432 · matched <strong>pruning</strong> 60%, …`, see why()
    why_text: str  # ... as plain text
    excerpt: str  # the abstract, cut at a sentence or word
    marked: Markup  # the excerpt escaped, with each matched term in <mark class="hit">
    links: tuple[tuple[str, str], ...]  # (label, URL): arXiv, PDF, code, project, Daily Papers
    link_list: Markup  # the links, then More and Less like this, as `<a href="URL">label</a> · …`
    link_lines: str  # the links as text, a line `   label: URL` each
    like: str  # the feedback URLs
    dislike: str

    @property
    def score(self) -> str:  # `0.432`
        return f"{self.scored.score:.3f}"

    @property
    def terms(self) -> tuple[tuple[str, int], ...]:  # matched terms, percent share of the match
        return term_shares(self.scored.terms)

    @property
    def followed(self) -> str:  # followed authors on the paper, comma-separated; "" if none
        return followed_authors(self.scored)

    @property
    def closest(self) -> str:  # the title of the liked paper this one is most like; "" if none
        return closest_title(self.scored)

    @property
    def closeness(self) -> str:  # ... and their similarity, `0.40`
        return f"{self.scored.closeness:.2f}"

    @property
    def popularity(self) -> int:  # percent of the score from upvotes
        return percent(self.scored.popularity)


def percent(share: float) -> int:
    return int(share * 100 + 0.5)


def term_shares(terms: tuple[Term, ...]) -> tuple[tuple[str, int], ...]:
    return tuple((oneline(term), percent(weight)) for term, weight in terms)


def followed_authors(item: Scored) -> str:
    return ", ".join(map(oneline, item.authors))


def closest_title(item: Scored) -> str:
    return oneline(item.closest.title) if item.closest else ""


def shorten_authors(names: tuple[str, ...]) -> str:
    if len(names) > AUTHORS_SHOWN + 1:
        return ", ".join(map(oneline, names[:AUTHORS_SHOWN])) + " et al."
    return ", ".join(map(oneline, names))


def excerpt_limit(count: int) -> int:
    return max(EXCERPT_MIN, min(EXCERPT, EXCERPT_BUDGET // max(count, 1)))


SHOWN_KEPT = 4096  # papers whose Shown is kept (a day has far fewer); beyond, all are forgotten
_shown: dict[tuple[str, int], Shown] = {}


def shown(paper: StoredPaper, limit: int) -> Shown:
    """What the email shows of `paper`, remembered by paper id: hashing a whole StoredPaper for a
    cache key would take longer than the look-up it saves."""
    known = _shown.get((paper.id, limit))
    if known is not None and (known.paper is paper or known.paper == paper):
        return known
    links = tuple(paper_links(paper))
    listed = "".join(f'<a href="{escaped(url)}">{escaped(label)}</a> · ' for label, url in links)
    made = Shown(
        paper=paper,
        title=oneline(paper.title),
        href=links[0][1] if links else "",
        authors=shorten_authors(paper.authors),
        excerpt=cut(paper.abstract) if limit == _CUT_DEFAULT else cut(paper.abstract, limit),
        links=links,
        link_list=listed,
        link_lines="\n".join(f"   {label}: {url}" for label, url in links),
        by_terms={},
    )
    if len(_shown) >= SHOWN_KEPT:
        _shown.clear()
    _shown[paper.id, limit] = made
    return made


TERM_SETS_KEPT = 256  # sets of terms whose Matched a paper keeps; beyond, all are forgotten


def matched(paper: Shown, terms: tuple[Term, ...]) -> Matched:
    """Matched, once per paper and set of terms (readers with the same interests share them),
    remembered with the paper's Shown."""
    known = paper.by_terms.get(terms)
    if known is None:
        if len(paper.by_terms) >= TERM_SETS_KEPT:
            paper.by_terms.clear()
        known = paper.by_terms[terms] = _matched(paper.excerpt, terms)
    return known


def _matched(excerpt: str, terms: tuple[Term, ...]) -> Matched:
    marked = highlight(excerpt, terms)
    if not terms:
        return Matched(marked, "", "")
    shares = term_shares(terms)
    html = ", ".join(f"<strong>{escaped(term)}</strong> {share}%" for term, share in shares)
    text = ", ".join(f"{term} {share}%" for term, share in shares)
    return Matched(marked, f" · matched {html}", f" · matched {text}")


def why(item: Scored, terms: Matched) -> tuple[Markup, str]:
    """Why a reader got the paper, as HTML and as plain text: score, matched terms and their
    shares (from matched()), followed authors, the closest liked paper, the share from
    popularity."""
    score = f"Score {item.score:.3f}"
    html, text = score + terms.html, score + terms.text
    if item.authors and (authors := followed_authors(item)):
        html += f" · by {escaped(authors)}, whom you follow"
        text += f" · by {authors}, whom you follow"
    if item.closest and (liked := closest_title(item)):
        html += f" · close to your liked “{escaped(liked)}” ({item.closeness:.2f})"
        text += f' · close to your liked "{liked}" ({item.closeness:.2f})'
    if popularity := percent(item.popularity):
        share = f" · popularity {popularity}% of the score"
        html += share
        text += share
    return Markup(html), text  # the scraped parts escaped above


def entries(digest: Digest, links: Links) -> list[Entry]:
    reader, day = digest.reader.name, digest.date
    limit = excerpt_limit(min(len(digest.papers), MAX_PAPERS))
    out = []
    for number, item in enumerate(digest.papers[:MAX_PAPERS], 1):
        paper = shown(item.paper, limit)
        terms = matched(paper, item.terms)
        why_html, why_text = why(item, terms)
        like = links.feedback(reader, day, item.paper.id, "like")
        dislike = links.feedback(reader, day, item.paper.id, "dislike")
        link_list = (
            f'{paper.link_list}<a href="{escaped(like)}">More like this</a> · '
            f'<a href="{escaped(dislike)}">Less like this</a>'
        )
        out.append(
            Entry(  # positional, in the fields' order: this runs for every paper of every digest
                number,
                item,
                paper.title,
                paper.href,
                paper.authors,
                why_html,
                why_text,
                paper.excerpt,
                terms.marked,
                paper.links,
                Markup(link_list),  # URLs escaped above
                paper.link_lines,
                like,
                dislike,
            )
        )
    return out
