"""What a name, an address, a keyword and a reader's interests may be, stated once: config.yaml,
`digest readers add` and `import`, the subscribe form and the reader's page accept exactly the
same values (each says no in its own words). Callers strip surrounding space first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

MAX_EMAIL = 254  # RFC 5321's limit on a path, less the brackets
MAX_KEYWORD = 100  # characters

# a reader's or a source's name: safe in a file name and a URL
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# one local part, `@`, a domain of at least two labels; nothing that ends or splits a header
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\".]+(\.[^@\s<>,;\".]+)+")
# the operator's own addresses (the sender, alerts) may name a host alone: `digest@localhost`
_HOST_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\".]+(\.[^@\s<>,;\".]+)*")


def control(text: str) -> bool:
    """Whether `text` holds a control character (a newline, a tab, NUL, DEL, C1, ...) or a
    Unicode line or paragraph separator: anything that would break a line or a header."""
    return any(unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029" for ch in text)


def is_slug(text: str) -> bool:
    return SLUG.fullmatch(text) is not None


def is_email(text: str, *, host_ok: bool = False) -> bool:
    """One plain address (`ada@example.org`): no display name, no list, no control character.
    `host_ok` also lets a domain of one label through (`root@localhost`), for the operator's own
    addresses in config.yaml (the sender, alerts), never a reader's."""
    pattern = _HOST_EMAIL if host_ok else _EMAIL
    return len(text) <= MAX_EMAIL and not control(text) and pattern.fullmatch(text) is not None


def keyword_problem(word: str) -> str | None:
    """What is wrong with one keyword, or None: it is one line of 1 to MAX_KEYWORD characters
    without control characters."""
    if not word:
        return "must not be empty"
    if control(word):
        return "keywords must not contain control characters"
    if len(word) > MAX_KEYWORD:
        return f"a keyword is at most {MAX_KEYWORD} characters long"
    return None


def interests_problem(
    keywords: Sequence[str],
    weights: Sequence[float],
    *,
    liked: bool,
    authors: bool,
    library: bool = False,
) -> str | None:
    """What is wrong with a reader's interests as a whole, or None: a reader needs something to
    rank by (keywords, liked papers, followed authors or a library), and keywords alone need one
    whose weight is above 0."""
    if not (keywords or liked or authors or library):
        return "needs keywords, liked papers, authors or a library"
    if weights and not any(weights) and not liked and not authors:
        return "needs a keyword with a weight above 0"
    return None
