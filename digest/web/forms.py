"""What the web forms accept: keywords, an address, a display name, the reader name made for a new
subscriber, and the settings of a reader's page. Pure: text in, clean values out, or a FormError
whose message the page shows.

A setting is held to the rule of its config.yaml key (`keys.checked`: the key's own check, one
rule set), so the page accepts exactly what config.yaml would; the form adds only what a form
needs: one item a line (a problem named by its line), and a cap on how many.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from digest.config import rules
from digest.config.keys import Invalid, checked
from digest.models import DAILY, Profile, ReaderSettings, Subscriber

MAX_KEYWORDS = 50  # keywords on a form, at most
MAX_TERMS = 50  # excluded terms, and followed authors, at most
MAX_KEYWORD = rules.MAX_KEYWORD
MAX_EMAIL = rules.MAX_EMAIL
MAX_DISPLAY_NAME = 100
NAME_STEM = 40  # characters of the address's local part kept in a reader name
CADENCES = (DAILY, "weekly")

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_WHOLE_NUMBER = re.compile(r"[+-]?\d{1,9}")
_ITEM = re.compile(r"\[(\d+)\]")


class FormError(ValueError):
    """What is wrong with a form, in one line for the page that shows it again."""


class SettingsError(FormError):
    """What is wrong with the settings sent: a message for each field that is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {text}" for field, text in problems.items()))
        self.problems = dict(problems)


@dataclass(frozen=True, slots=True)
class Signup:
    """A filled-in subscribe form."""

    email: str
    display_name: str | None
    keywords: tuple[str, ...]


def keywords(text: str) -> tuple[str, ...]:
    """One keyword a line, at least one (the subscribe form)."""
    found = terms(text, "readers[].interests.keywords", limit=MAX_KEYWORDS, what="keywords")
    if not found:
        raise FormError("give at least one keyword")
    return found


def terms(text: str, key: str, *, limit: int, what: str) -> tuple[str, ...]:
    """One item a line, held to the rule of config.yaml's `key`: blank lines skipped, spaces
    folded, repeats (in any case) dropped; a problem names its line; at most `limit` items."""
    found: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        item = line.strip()
        if not item:
            continue
        if not rules.control(item):
            item = " ".join(item.split())
        found.setdefault(item.casefold(), (number, item))
    if len(found) > limit:
        raise FormError(f"at most {limit} {what}, please (got {len(found)})")
    lines = [number for number, _ in found.values()]
    items = [item for _, item in found.values()]
    try:
        value = checked(key, items)
    except Invalid as exc:
        raise FormError(_first(exc, lines)) from None
    return value[0] if key == "readers[].interests.keywords" else tuple(value)


def _first(problem: Invalid, lines: list[int]) -> str:
    """The first problem of a list's items, named by the line the item is on."""
    where, message = problem.found[0]
    item = _ITEM.match(where)
    return f"line {lines[int(item[1])]}: {message}" if item else message


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


# -- the settings of a reader's page ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettingsForm:
    """The settings form's fields as text: as a profile fills them in, or as they were sent."""

    keywords: str = ""
    exclude: str = ""
    authors: str = ""
    top_k: str = ""
    cadence: str = DAILY  # daily or weekly
    weekday: str = "mon"  # a weekly digest's day
    time: str = ""
    timezone: str = ""
    paused: bool = False

    @classmethod
    def of(cls, profile: Profile) -> SettingsForm:
        send = profile.send
        return cls(
            keywords="\n".join(profile.keywords),
            exclude="\n".join(profile.exclude),
            authors="\n".join(profile.authors),
            top_k=str(profile.top_k),
            cadence="weekly" if send.weekly else DAILY,
            weekday=send.weekday or "mon",
            time=send.time,
            timezone=send.timezone,
            paused=profile.paused,
        )

    @classmethod
    def sent(cls, fields: Mapping[str, str]) -> SettingsForm:
        """The form as posted; a field left out is empty (an unticked box is not sent)."""
        return cls(
            **{name: fields.get(name, "") for name in TEXT_FIELDS},
            paused=fields.get("paused", "") != "",
        )


TEXT_FIELDS = ("keywords", "exclude", "authors", "top_k", "cadence", "weekday", "time", "timezone")


def settings(sent: SettingsForm, reader: Subscriber, *, liked: bool) -> ReaderSettings:
    """The reader's own settings once `sent` is saved (see ReaderSettings.kept), each field held
    to its config.yaml key's rule; `liked`: whether the reader likes any paper (then keywords may
    be left empty). A SettingsError names every field that is wrong; nothing is half-saved."""
    problems: dict[str, str] = {}

    def field(name: str, parse: Any) -> Any:
        try:
            return parse()
        except (FormError, Invalid) as exc:
            problems[name] = str(exc)
            return None

    words = field("keywords", lambda: _listed(sent, "keywords"))
    exclude = field("exclude", lambda: _listed(sent, "exclude"))
    authors = field("authors", lambda: _listed(sent, "authors"))
    top_k = field("top_k", lambda: checked("readers[].top_k", _whole_number(sent.top_k)))
    time = field("time", lambda: checked("readers[].send.time", sent.time))
    zone = field("timezone", lambda: checked("readers[].send.timezone", sent.timezone))
    cadence = field("weekday", lambda: _cadence(sent.cadence, sent.weekday))
    paused = checked("readers[].paused", sent.paused)
    profile = reader.profile
    if words is not None and authors is not None:
        wanted = with_keywords(profile, words)
        problem = rules.interests_problem(
            wanted.keywords, wanted.weights, liked=liked, authors=bool(authors)
        )
        if problem is not None:
            problems["keywords"] = (
                problem if words else "give at least one keyword, or follow an author"
            )
    if problems:
        raise SettingsError(problems)
    send = replace(
        profile.send, time=time, timezone=zone, weekday=None if cadence == DAILY else cadence
    )
    wanted = replace(
        with_keywords(profile, words),
        exclude=exclude,
        authors=authors,
        top_k=top_k,
        send=send,
        paused=paused,
    )
    return reader.own.kept(profile, wanted)


# each list field: its config.yaml key, how many it may hold, and what the items are called
_LISTS = {
    "keywords": ("readers[].interests.keywords", MAX_KEYWORDS, "keywords"),
    "exclude": ("readers[].interests.exclude", MAX_TERMS, "excluded terms"),
    "authors": ("readers[].interests.authors", MAX_TERMS, "authors"),
}


def _listed(sent: SettingsForm, name: str) -> tuple[str, ...]:
    key, limit, what = _LISTS[name]
    text: str = getattr(sent, name)
    return terms(text, key, limit=limit, what=what)


def _whole_number(text: str) -> int:
    """A number field's text as an integer (the key's own check then says which are allowed)."""
    text = text.strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        raise FormError(f"expected a whole number, got {text!r}" if text else "enter a number")
    return int(text)


def _cadence(cadence: str, weekday: str) -> str:
    """DAILY, or the weekday a weekly digest comes on (checked as `send.weekday` is)."""
    if cadence == DAILY:
        return DAILY
    if cadence != "weekly":
        raise FormError("choose daily or weekly")
    day: str = checked("readers[].send.weekday", weekday)
    return day
