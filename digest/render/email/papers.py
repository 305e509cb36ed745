"""Each paper of an email, as the templates print it.

A send renders the same day's papers for thousands of readers, so what a paper shows whoever
reads it (title, authors, excerpt, links) is worked out once per paper and reused; what depends
on the reader (why it was picked, the highlighted excerpt, the feedback links) is made per digest
in plain Python, not in template loops. Scraped text reaches markup only through marks.escaped()
and why.py (which words the reason once for every output); the tags (links to links.py's URLs,
and marks.py's `<mark>`) are this module's own. The loosely related papers (`Digest.near`) are
entries too, unnumbered, after the matches.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from markupsafe import Markup

from digest.models import Digest, Scored, StoredPaper, Term
from digest.render import why
from digest.render.email.marks import escaped, highlight
from digest.render.filters import cut, oneline
from digest.render.links import Links, paper_links
from digest.render.why import percent

AUTHORS_SHOWN = 3  # a longer list shows the first three and "et al."
EXCERPT = 600  # characters of abstract per paper, fewer when a digest is long (E-15)
EXCERPT_MIN = 240
EXCERPT_BUDGET = 18_000  # characters of abstract per email, shared among its papers
MAX_PAPERS = 40  # per email, so it stays under Gmail's clipping (E-15); the rest are in the feed
# the excerpt digest.md's `|cut` makes; asked for the same way, filters.cut's memory serves both
_CUT_DEFAULT = inspect.signature(cut).parameters["limit"].default


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
    by_terms: dict[tuple[Term, ...], Markup]  # see marked()


class Entry(NamedTuple):
    """One paper of an email, ready to print: plain strings, URLs from links.py only, and markup
    made here. A named tuple, as one is made per paper of every digest; the parts of `why` are
    properties, worked out only for a template that lays them out itself."""

    number: int  # its place among the matches; 0 for a loosely related paper
    scored: Scored
    title: str  # one line
    href: str  # where the title links: the arXiv abstract or the first paper link; "" if none
    authors: str  # shortened: the first three and "et al."
    why: Markup  # `Score 0.432 · matched <strong>pruning</strong> 60%, …`, see why.py
    why_text: str  # ... as plain text
    excerpt: str  # the abstract, cut at a sentence or word
    marked: Markup  # the excerpt escaped, with each matched term in <mark class="hit">
    links: tuple[tuple[str, str], ...]  # (label, URL): arXiv, PDF, code, project, Daily Papers
    link_list: Markup  # the links, then More and Less like this, as `<a href="URL">label</a> · …`
    link_lines: str  # the links as text, a line `   label: URL` each
    like: str | None  # the feedback URLs; None where they could not work (no secret)
    dislike: str | None
    loose: bool  # loosely related: below the reader's relevance floor, shown after the matches

    @property
    def score(self) -> str:  # `0.432`
        return f"{self.scored.score:.3f}"

    @property
    def terms(self) -> tuple[tuple[str, int], ...]:  # matched terms, percent share of the match
        return why.reason(self.scored).terms

    @property
    def followed(self) -> str:  # followed authors on the paper, comma-separated; "" if none
        return ", ".join(why.reason(self.scored).followed)

    @property
    def closest(self) -> str:  # the title of the liked paper this one is most like; "" if none
        return why.reason(self.scored).closest

    @property
    def closeness(self) -> str:  # ... and their similarity, `0.40`
        return f"{self.scored.closeness:.2f}"

    @property
    def popularity(self) -> int:  # percent of the score from upvotes
        return percent(self.scored.popularity)


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


TERM_SETS_KEPT = 256  # sets of terms whose highlights a paper keeps; beyond, all are forgotten


def marked(paper: Shown, terms: tuple[Term, ...]) -> Markup:
    """The excerpt with the terms highlighted, once per paper and set of terms (readers with the
    same interests share them), remembered with the paper's Shown."""
    known = paper.by_terms.get(terms)
    if known is None:
        if len(paper.by_terms) >= TERM_SETS_KEPT:
            paper.by_terms.clear()
        known = paper.by_terms[terms] = highlight(paper.excerpt, terms)
    return known


def entries(digest: Digest, links: Links) -> tuple[list[Entry], list[Entry]]:
    """The email's matches, numbered, and its loosely related papers: at most MAX_PAPERS in all,
    the matches first."""
    matches = digest.papers[:MAX_PAPERS]
    near = digest.near[: MAX_PAPERS - len(matches)]
    limit = excerpt_limit(len(matches) + len(near))
    return (
        [_entry(digest, links, item, number, limit) for number, item in enumerate(matches, 1)],
        [_entry(digest, links, item, 0, limit) for item in near],
    )


def _entry(digest: Digest, links: Links, item: Scored, number: int, limit: int) -> Entry:
    reader, day, loose = digest.reader.name, digest.date, not number
    paper = shown(item.paper, limit)
    like = links.feedback(reader, day, item.paper.id, "like")
    dislike = links.feedback(reader, day, item.paper.id, "dislike")
    if like and dislike:
        link_list = (
            f'{paper.link_list}<a href="{escaped(like)}">More like this</a> · '
            f'<a href="{escaped(dislike)}">Less like this</a>'
        )
    else:
        link_list = paper.link_list.removesuffix(" · ")
    return Entry(  # positional, in the fields' order: this runs for every paper of every digest
        number,
        item,
        paper.title,
        paper.href,
        paper.authors,
        why.html(item, loose),
        why.text(item, loose),
        paper.excerpt,
        marked(paper, item.terms),
        paper.links,
        Markup(link_list),  # URLs escaped above
        paper.link_lines,
        like,
        dislike,
        loose,
    )
