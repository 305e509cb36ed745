"""What the web forms accept: keywords, an address, a display name, and the reader name made for
a new subscriber. Pure: text in, clean values out, or a FormError whose message the page shows.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

from digest.config import rules
from digest.models import Profile

MAX_KEYWORDS = 50
MAX_KEYWORD = rules.MAX_KEYWORD
MAX_EMAIL = rules.MAX_EMAIL
MAX_DISPLAY_NAME = 100
NAME_STEM = 40  # characters of the address's local part kept in a reader name

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class FormError(ValueError):
    """What is wrong with a form, in one line for the page that shows it again."""


@dataclass(frozen=True, slots=True)
class Signup:
    """A filled-in subscribe form."""

    email: str
    display_name: str | None
    keywords: tuple[str, ...]


def keywords(text: str) -> tuple[str, ...]:
    """One keyword a line; blank lines skipped, spaces folded, repeats (in any case) dropped."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        word = line.strip()
        if not word:
            continue
        if not rules.control(word):
            word = " ".join(word.split())
        problem = rules.keyword_problem(word)
        if problem is not None:
            raise FormError(f"line {number}: {problem}")
        found.setdefault(word.casefold(), word)
    if not found:
        raise FormError("give at least one keyword")
    if len(found) > MAX_KEYWORDS:
        raise FormError(f"at most {MAX_KEYWORDS} keywords, please (got {len(found)})")
    return tuple(found.values())


def with_keywords(profile: Profile, words: tuple[str, ...]) -> Profile:
    """The profile with new keywords: a keyword kept keeps its weight, a new one weighs 1."""
    if not profile.weights:
        return replace(profile, keywords=words)
    old = {word.casefold(): profile.weight(i) for i, word in enumerate(profile.keywords)}
    weights = tuple(old.get(word.casefold(), 1.0) for word in words)
    return replace(
        profile, keywords=words, weights=() if all(w == 1.0 for w in weights) else weights
    )


def email(text: str) -> str:
    address = text.strip()
    if not rules.is_email(address):
        raise FormError("enter an email address, such as ada@example.org")
    return address


def display_name(text: str) -> str | None:
    name = " ".join(text.split())
    if rules.control(text.strip()) or len(name) > MAX_DISPLAY_NAME:
        raise FormError(f"a name is one line of at most {MAX_DISPLAY_NAME} characters")
    return name or None


def signup(fields: Mapping[str, str]) -> Signup:
    """The subscribe form's fields checked: the first problem found is the error."""
    return Signup(
        email=email(fields.get("email", "")),
        display_name=display_name(fields.get("display_name", "")),
        keywords=keywords(fields.get("keywords", "")),
    )


def reader_name(address: str, attempt: int = 0) -> str:
    """A reader name for a new subscriber: the address's local part as a slug and a short hash
    of the address (`ada-lovelace-1f3a9c`); later attempts, if that name is taken, add `-2`,
    `-3`, ... The hash keeps names apart; the whole address never appears in a name."""
    local = address.rpartition("@")[0]
    ascii_local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    stem = _NOT_SLUG.sub("-", ascii_local.lower())[:NAME_STEM].strip("-") or "reader"
    short = hashlib.sha256(address.lower().encode("utf-8")).hexdigest()[:6]
    return f"{stem}-{short}" if attempt == 0 else f"{stem}-{short}-{attempt + 1}"
