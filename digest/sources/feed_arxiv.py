"""arXiv's own feeds -> Papers: rss.arxiv.org (RSS 2.0 and its Atom variant) and the
export.arxiv.org/api/query Atom responses. Entries are feedparser dicts; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digest.models import Paper
from digest.sources.feed_util import (
    Skip,
    arxiv_id_from,
    arxiv_urls,
    field_text,
    http_url,
    one_line,
    plain,
    unique,
    when,
)

Entry = Mapping[str, Any]

_ANNOUNCE = re.compile(r"Announce Type:\s*([\w-]+)", re.I)
_HEADER = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*[\w-]+\s*", re.I)
_API_ID = re.compile(r"^https?://(?:www\.|export\.)?arxiv\.org/abs/(.+)$")
_API_ERRORS = "arxiv.org/api/errors"
_GROUP = re.compile(  # words of a group's name, which `and` does not split
    r"\b(?:the|collaborations?|consortium|team|group|project|network|initiative|institutes?|"
    r"universit(?:y|ies)|lab(?:orator(?:y|ies))?s?|cent(?:er|re)s?)\b",
    re.I,
)
_SUFFIXES = re.compile(r"^(?:Jr|Sr|I{2,3}|IV)\.?$")  # `Smith, Jr.` is one author


def is_rss_entry(entry: Entry) -> bool:
    """An rss.arxiv.org item: it has `arxiv:announce_type` or an `oai:arXiv.org:` guid."""
    guid = entry.get("id")
    return bool(entry.get("arxiv_announce_type")) or (
        isinstance(guid, str) and guid.startswith("oai:arXiv.org:")
    )


def is_api_entry(entry: Entry) -> bool:
    """An /api/query entry: its id is an arxiv.org/abs URL, and it has a primary category or a
    plain-text summary (mirrors use abs URLs as guids too, with HTML descriptions)."""
    guid = entry.get("id")
    if not isinstance(guid, str) or not _API_ID.match(guid.strip()):
        return False
    return "arxiv_primary_category" in entry or "html" not in str(_kind(entry, "summary"))


def api_error(entries: list[Entry]) -> str | None:
    """arXiv's message when the response is its error feed (an entry with an api/errors id)."""
    for entry in entries:
        guid = entry.get("id")
        if isinstance(guid, str) and _API_ERRORS in guid:
            message = field_text(entry.get("summary")) or field_text(entry.get("title"))
            return one_line(message) or guid
    return None


def rss_paper(entry: Entry, raw_description: str | None) -> Paper:
    """An rss.arxiv.org item. `raw_description` is the description before HTML sanitising (the
    sanitiser would eat `$a<b$ ... $c>d$` spans and `<think>` tokens, which arXiv writes as text).
    """
    arxiv_id = arxiv_id_from([entry.get("id"), entry.get("link")])
    if arxiv_id is None:
        raise Skip("no arXiv id in its guid or link")
    description = raw_description if raw_description is not None else entry.get("summary")
    text = plain(description if isinstance(description, str) else "")
    _, found, abstract = text.partition("Abstract:")
    if not found:
        abstract = _HEADER.sub("", text)
    announce = entry.get("arxiv_announce_type")
    if not isinstance(announce, str) or not announce.strip():
        match = _ANNOUNCE.search(text)
        announce = match.group(1) if match else None
    url, pdf = arxiv_urls(arxiv_id)
    return Paper(
        title=title(entry),
        abstract=abstract.strip(),
        arxiv_id=arxiv_id,
        authors=unique(name for raw in author_names(entry) for name in split_authors(raw)),
        url=url,
        pdf_url=pdf,
        categories=tags(entry),
        published=when(entry.get("published"), entry.get("published_parsed")),
        announce_type=announce.strip().lower() if announce else None,
    )


def api_paper(entry: Entry) -> Paper:
    """An /api/query entry: primary category first; summary lines joined by single spaces."""
    match = _API_ID.match(str(entry.get("id", "")).strip())
    arxiv_id = arxiv_id_from([f"arXiv:{match.group(1)}"]) if match else None
    if arxiv_id is None:
        raise Skip(f"no arXiv id in its id {entry.get('id')!r}")
    summary = field_text(entry.get("summary"), _kind(entry, "summary"))
    primary = entry.get("arxiv_primary_category")
    first = primary.get("term") if isinstance(primary, Mapping) else None
    pdf = next(
        (
            http_url(link.get("href"))
            for link in entry.get("links") or []
            if isinstance(link, Mapping) and link.get("title") == "pdf"
        ),
        None,
    )
    return Paper(
        title=title(entry),
        abstract=" ".join(line.strip() for line in summary.splitlines() if line.strip()),
        arxiv_id=arxiv_id,
        authors=unique(author_names(entry)),
        url=arxiv_urls(arxiv_id)[0],
        pdf_url=pdf,
        categories=unique([first.strip() if isinstance(first, str) else "", *tags(entry)]),
        published=when(entry.get("published"), entry.get("published_parsed")),
    )


def title(entry: Entry) -> str:
    """The entry's title as plain text on one line; Skip when it has none."""
    text = one_line(field_text(entry.get("title"), _kind(entry, "title")))
    if not text:
        raise Skip("no title")
    return text


def author_names(entry: Entry) -> list[str]:
    """The names feedparser found (`author` elements, `dc:creator`), as plain text."""
    names = [a.get("name") for a in entry.get("authors") or [] if isinstance(a, Mapping)]
    return [text for name in names if (text := one_line(field_text(name)))]


def split_authors(text: str) -> list[str]:
    """`A, B, and C` / `A, B and C` -> [A, B, C]. An `and` is split only between two names of two
    words or more, neither naming a group (`The ATLAS and CMS Collaborations` stays whole);
    `Jr.` stays with its name."""
    pieces: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if _SUFFIXES.match(piece) and pieces:
            pieces[-1] = f"{pieces[-1]}, {piece}"
        elif piece:
            pieces.append(piece)
    if pieces and pieces[-1].startswith("and ") and len(pieces) > 1:
        pieces[-1] = pieces[-1][4:].strip()
    elif pieces:
        left, found, right = pieces[-1].rpartition(" and ")
        if found and all(
            len(side.split()) >= 2 and not _GROUP.search(side) for side in (left, right)
        ):
            pieces[-1:] = [left.strip(), right.strip()]
    return [p for p in pieces if p]


def tags(entry: Entry) -> tuple[str, ...]:
    """The entry's category terms (or labels), in order, each once."""
    terms = []
    for tag in entry.get("tags") or []:
        if isinstance(tag, Mapping):
            term = tag.get("term") or tag.get("label")
            terms.append(one_line(plain(term)) if isinstance(term, str) else "")
    return unique(terms)


def _kind(entry: Entry, field: str) -> object:
    detail = entry.get(f"{field}_detail")
    return detail.get("type") if isinstance(detail, Mapping) else None
