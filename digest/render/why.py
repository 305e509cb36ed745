"""Why a paper is in a reader's digest: the reason's parts taken from a Scored once, and worded
once. Pure.

`reason()` gathers the parts (score, matched terms with their shares, followed authors, the
closest liked paper, the popularity share, whether the paper is only loosely related); `say()`
words them, and each medium passes only how it escapes scraped text and marks a part strong:

    text       Score 0.432 · matched network pruning 72%, lottery 28% · by Zhuang Liu, whom you
               follow · closest to your liked paper “A liked paper” (0.40) · popularity 12% of
               the score
    html       ... matched <strong>network pruning</strong> 60%, ...
    markdown   ... matched **network pruning** 60%, ...

A loosely related paper's reason starts with `Loosely related · `. The Markdown digest, the
email (both parts), the feeds, the archive and `digest rank` all print this one text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from markupsafe import Markup, escape

from digest.models import Scored
from digest.render.filters import md_escape, oneline

LOOSE = "Loosely related"  # the heading of the near misses, and the first word of their reasons
LOOSE_NOTE = "Below your relevance floor; shown because this digest had few matches."


@dataclass(frozen=True, slots=True)
class Reason:
    """The parts of a reason, as plain text on one line each."""

    score: float
    terms: tuple[tuple[str, int], ...]  # matched terms and their percent share of the match
    followed: tuple[str, ...]  # followed authors on the paper
    closest: str  # the title of the liked paper this one is most like; "" if none
    closeness: float  # ... and their similarity
    popularity: int  # percent of the score from upvotes; 0 is not said
    loose: bool  # below the reader's relevance floor


class Style(NamedTuple):
    """How a medium prints a reason: `escape` makes scraped text safe, `strong` marks a piece
    already escaped."""

    escape: Callable[[str], str]
    strong: Callable[[str], str]


def percent(share: float) -> int:
    """A share as a whole percent, halves rounded up: 0.125 -> 13."""
    return int(share * 100 + 0.5)


def reason(item: Scored, *, loose: bool = False) -> Reason:
    """The parts of why `item` was picked; `loose` marks it loosely related whatever it says."""
    return Reason(
        score=item.score,
        terms=tuple((oneline(term), percent(weight)) for term, weight in item.terms),
        followed=tuple(name for name in map(oneline, item.authors) if name),
        closest=oneline(item.closest.title) if item.closest else "",
        closeness=item.closeness,
        popularity=percent(item.popularity),
        loose=loose or item.loose,
    )


def _same(text: str) -> str:
    return text


PLAIN = Style(_same, _same)
HTML = Style(lambda text: str(escape(text)), lambda text: f"<strong>{text}</strong>")
MARKDOWN = Style(md_escape, lambda text: f"**{text}**")


def say(why: Reason, style: Style = PLAIN) -> str:
    """The one wording of a reason, its scraped parts escaped and its terms marked by `style`."""
    escape_, strong = style
    parts = [strong(LOOSE)] if why.loose else []
    parts.append(f"Score {why.score:.3f}")
    if why.terms:
        shares = (f"{strong(escape_(term))} {share}%" for term, share in why.terms)
        parts.append(f"matched {', '.join(shares)}")
    if why.followed:
        parts.append(f"by {', '.join(map(escape_, why.followed))}, whom you follow")
    if why.closest:
        liked = escape_(why.closest)
        parts.append(f"closest to your liked paper “{liked}” ({why.closeness:.2f})")
    if why.popularity:
        parts.append(f"popularity {why.popularity}% of the score")
    return " · ".join(parts)


def text(item: Scored, loose: bool = False) -> str:
    """The reason as plain text."""
    return say(reason(item, loose=loose))


def html(item: Scored, loose: bool = False) -> Markup:
    """The reason as HTML: scraped text escaped, terms in <strong>."""
    return Markup(say(reason(item, loose=loose), HTML))  # every scraped part escaped by HTML


def markdown(item: Scored, loose: bool = False) -> str:
    """The reason as Markdown: scraped text escaped for Markdown, terms in bold."""
    return say(reason(item, loose=loose), MARKDOWN)


# the template filters: `{{ item | md_why }}`, `{{ item | why_html(true) }}` for a near miss
FILTERS = {"md_why": markdown, "why_html": html, "why_text": text}
GLOBALS = {"loose_heading": LOOSE, "loose_note": LOOSE_NOTE}
