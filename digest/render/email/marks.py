"""Where a reader's terms occur in a paper's text, and the text as HTML with them highlighted.

A term matches as whole words, singular or plural, with anything between its words. The text is
escaped piece by piece; the `<mark class="hit">` tags around the matches are this module's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from markupsafe import Markup

from digest.models import Term
from digest.render.filters import oneline


def escaped(text: str) -> str:
    """markupsafe.escape(text) as a plain str, for pieces joined into one Markup: the replacements
    markupsafe makes, without making a Markup of every piece."""
    return (
        text.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def _word(word: str) -> str:
    """A word of a term as a pattern that also matches its plural."""
    if len(word) > 3 and word.endswith("y"):
        return re.escape(word[:-1]) + "(?:y|ies)"
    return re.escape(word) + "(?:e?s)?"


@lru_cache(maxsize=8192)
def _term_pattern(term: str) -> re.Pattern[str] | None:
    """A term, plural or singular, with anything between its words, for lower-cased text (which
    searches several times faster than a case-blind pattern). One per term of several words
    (_found needs none for one word): readers share terms."""
    words = term.lower().split()
    return re.compile(r"[\W_]+".join(map(_word, words))) if words else None


@lru_cache(maxsize=8192)
def _one_word(term: str) -> tuple[str, tuple[str, ...]] | None:
    """A one-word term as its _term_pattern reads it: the stem, then the endings the pattern
    tries after it, in the order it tries them; None for a term of more words or none."""
    words = term.lower().split()
    if len(words) != 1:
        return None
    word = words[0]
    if len(word) > 3 and word.endswith("y"):
        return word[:-1], ("y", "ies")
    return word, ("es", "s", "")


def _found(lower: str, term: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each match of _term_pattern(term) in lower-cased text, as finditer gives
    them. A one-word term is found with str.find the way its pattern would match, the stem and the
    first ending that follows, the search going on after each match: no pattern compiled."""
    word = _one_word(term)
    if word is None:
        pattern = _term_pattern(term)
        yield from (match.span() for match in pattern.finditer(lower)) if pattern else ()
        return
    stem, endings = word
    start = lower.find(stem)
    while start >= 0:
        after = start + len(stem)
        ending = next((e for e in endings if lower.startswith(e, after)), None)
        if ending is None:  # a stem whose endings are all missing is no match
            start = lower.find(stem, start + 1)
        else:
            yield start, after + len(ending)
            start = lower.find(stem, after + len(ending))


def marks(text: str, terms: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """`text` cut into pieces, True where one of the terms occurs as whole words; where matches
    overlap, the one that starts first wins, then the longer."""
    lower = text.lower()
    if len(lower) != len(text):  # a letter whose lower case is longer: keep positions aligned
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    spans = []
    for term in terms:
        for start, end in _found(lower, oneline(term)):
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


def highlight(text: str, terms: tuple[Term, ...]) -> Markup:
    """`text` escaped, each matched term wrapped in `<mark class="hit">`. Scraped text only ever
    passes through escaped(); the tags are this function's own."""
    return _highlight(text, tuple([term for term, _ in terms]))


@lru_cache(maxsize=4096)
def _highlight(text: str, terms: tuple[str, ...]) -> Markup:
    """highlight(), once per excerpt and set of terms, whatever their shares."""
    marked = "".join(
        f'<mark class="hit">{escaped(piece)}</mark>' if hit else escaped(piece)
        for piece, hit in marks(text, terms)
    )
    return Markup(marked)  # escaped piece by piece above
