"""RSS and Atom feeds -> Papers: rss.arxiv.org, the arXiv API, Daily Papers mirrors, journal feeds.

feedparser always reads the bytes (never a URL or a string), with HTML sanitising on; a DOCTYPE
declaring anything beyond plain entities is refused before that. Bozo policy (CONVENTIONS I-08):
`CharacterEncodingOverride` and `NonXMLContentType` become warnings; any other bozo exception (a
real XML error) and a document that is not RSS or Atom are a SourceError.

Each entry is read by what it is, so a mixed feed works:
- rss.arxiv.org item (`arxiv:announce_type` or an `oai:arXiv.org:` guid): every announce type is
  returned (ingest filters by the source's `announce_types`); an empty weekend feed is no
  papers, not an error.
- arXiv API entry (id `arxiv.org/abs/...`): primary category first, PDF link; the error feed is a
  SourceError with arXiv's message.
- a Daily Papers mirror item (description with `Authors:`, `Upvotes:`, `Summary:` paragraphs).
- anything else: title, summary as text, link; an arXiv id when the link, guid or DOI shows one.
Titles and abstracts are plain text; titles are folded onto one line. Only http(s) URLs are kept.
One paper per id: the first entry wins, except that a `new` announcement replaces a `cross` one.

Digest date, first found: `origin.date` (--date or the source's `date:`); for rss.arxiv.org feeds,
the channel's pubDate, lastBuildDate or Atom `updated`; the entry's own published/updated date; the
feed's date. A date is the calendar day in the timezone the feed wrote it in, not in UTC: arXiv
stamps its channel `00:00:00 -0400`, midnight US/Eastern, when it announces, so that day is the
digest date. Without any of these the feed is a SourceError asking for --date.
"""

from __future__ import annotations

import dataclasses
import io
import re
import xml.sax
from collections.abc import Mapping
from datetime import date
from typing import Any

import feedparser

from digest.models import Origin, Paper
from digest.sources import feed_arxiv
from digest.sources.base import Problem, located, quote
from digest.sources.feed_arxiv import Entry, author_names, split_authors, tags, title
from digest.sources.feed_util import (
    Skip,
    arxiv_id_from,
    arxiv_urls,
    check_prolog,
    field_text,
    html_blocks,
    http_url,
    one_line,
    unique,
    when,
)

_SURVIVABLE = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_LABEL = re.compile(r"^(Authors|Upvotes|Summary|Abstract)\s*:\s*(.*)$", re.S | re.I)
_HTML_PAGE = re.compile(rb"<!doctype\s+html|<html[\s>]", re.I)


def parse(data: bytes, *, origin: Origin) -> list[Paper]:
    """The papers only; see `parse_with_warnings` for what was skipped or looks wrong."""
    return parse_with_warnings(data, origin=origin)[0]


def _parse(data: bytes, origin: Origin) -> tuple[list[Paper], list[str]]:
    warnings: list[str] = []
    parsed = _load(data, origin, sanitize=True, warnings=warnings)
    entries: list[Entry] = [e for e in parsed.get("entries") or [] if isinstance(e, Mapping)]
    if message := feed_arxiv.api_error(entries):
        raise Problem(f"arXiv API error: {quote(message)}")
    arxiv_rss = any(feed_arxiv.is_rss_entry(e) for e in entries)
    raws = _raw_descriptions(data, origin, entries) if arxiv_rss else []
    feed_day = _day(parsed.get("feed"))
    fixed_day = origin.date or (feed_day if arxiv_rss else None)
    dated: list[tuple[int, Paper]] = []
    for n, entry in enumerate(entries, 1):
        try:
            paper = _paper(entry, raws[n - 1] if len(raws) == len(entries) else None)
        except Skip as skip:
            warnings.append(f"entry {n}: {skip}; skipped")
            continue
        day = fixed_day or _day(entry) or feed_day
        if day is None:
            raise Problem(
                f"entry {n} ({quote(paper.title)}) has no date and neither has the feed; "
                "pass --date or set the source's `date:`"
            )
        dated.append((n, dataclasses.replace(paper, digest_date=day)))
    return _unique(dated, warnings), warnings


def _load(data: bytes, origin: Origin, *, sanitize: bool, warnings: list[str]) -> Any:
    """feedparser's reading of the bytes, after the bozo policy."""
    if not data.strip():
        raise Problem("empty file" + (" (only whitespace)" if data else ""))
    check_prolog(data)
    headers = {"content-location": origin.location, "content-type": "application/xml"}
    try:
        parsed = feedparser.parse(
            io.BytesIO(data),
            response_headers=headers,
            sanitize_html=sanitize,
            resolve_relative_uris=sanitize,
        )
    except Exception as exc:  # feedparser catches most errors itself; never let one through
        raise Problem(f"could not be parsed as a feed ({quote(repr(exc))})") from None
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.get("version"):
        html = " (an HTML page?)" if _HTML_PAGE.search(data[:4096]) else ""
        detail = f": {_describe(problem)}" if problem and not html else ""
        raise Problem(f"not an RSS or Atom feed{html}{detail}")
    if isinstance(problem, _SURVIVABLE):
        warnings.append(one_line(str(problem)))
    elif problem is not None:
        raise Problem(f"malformed feed XML ({_describe(problem)})")
    return parsed


def _describe(problem: object) -> str:
    if isinstance(problem, xml.sax.SAXParseException):
        where = f"line {problem.getLineNumber()}, column {problem.getColumnNumber()}"
        return f"{where}: {one_line(str(problem.getMessage()))}"
    return quote(f"{type(problem).__name__}: {problem}")


def _raw_descriptions(data: bytes, origin: Origin, entries: list[Entry]) -> list[str | None]:
    """The descriptions before HTML sanitising, when sanitising could have changed one."""
    html = any("html" in str((e.get("summary_detail") or {}).get("type")) for e in entries)
    if not html or (b"&lt;" not in data and b"<![CDATA[" not in data):
        return []
    parsed = _load(data, origin, sanitize=False, warnings=[])
    raw = [e.get("summary") for e in parsed.get("entries") or []]
    return [value if isinstance(value, str) else None for value in raw]


def _paper(entry: Entry, raw_description: str | None) -> Paper:
    if feed_arxiv.is_rss_entry(entry):
        return feed_arxiv.rss_paper(entry, raw_description)
    if feed_arxiv.is_api_entry(entry):
        return feed_arxiv.api_paper(entry)
    summary, kind = entry.get("summary"), (entry.get("summary_detail") or {}).get("type")
    if isinstance(summary, str) and "html" in str(kind):
        labels = _labels(html_blocks(summary))
        if "summary" in labels or "upvotes" in labels:
            return _mirror_paper(entry, labels)
    return _generic_paper(entry)


def _labels(blocks: list[str]) -> dict[str, str]:
    """`Authors: ...`, `Upvotes: ...`, `Summary: ...` paragraphs of a mirror's description."""
    found = [match.groups() for block in blocks if (match := _LABEL.match(block))]
    return {label.lower(): value.strip() for label, value in reversed(found)}  # first one wins


def _mirror_paper(entry: Entry, labels: dict[str, str]) -> Paper:
    """A Daily Papers mirror item: authors, upvotes and the summary from its description."""
    link = http_url(entry.get("link"))
    arxiv_id = arxiv_id_from([entry.get("link"), entry.get("id")])
    votes = labels.get("upvotes", "").replace(",", "")
    url, pdf = arxiv_urls(arxiv_id) if arxiv_id else (link, None)
    return Paper(
        title=title(entry),
        abstract=labels.get("summary") or labels.get("abstract") or "",
        arxiv_id=arxiv_id,
        authors=unique(split_authors(labels.get("authors", ""))),
        url=link or url,
        pdf_url=pdf,
        categories=tags(entry),
        published=when(entry.get("published"), entry.get("published_parsed")),
        upvotes=int(votes) if votes.isascii() and votes.isdigit() else None,
    )


def _generic_paper(entry: Entry) -> Paper:
    """Any feed's entry: the full content if given, else the summary, as text."""
    contents = [c for c in entry.get("content") or [] if isinstance(c, Mapping)]
    body = contents[0] if contents else entry.get("summary_detail") or {}
    links = [link.get("href") for link in entry.get("links") or [] if isinstance(link, Mapping)]
    doi = [entry.get(key) for key in ("arxiv_doi", "prism_doi", "dc_identifier")]
    arxiv_id = arxiv_id_from([entry.get("link"), entry.get("id"), *links, *doi])
    link = http_url(entry.get("link")) or http_url(entry.get("id"))
    return Paper(
        title=title(entry),
        abstract=field_text(body.get("value"), body.get("type")),
        arxiv_id=arxiv_id,
        authors=unique(author_names(entry)),
        url=link or (arxiv_urls(arxiv_id)[0] if arxiv_id else None),
        pdf_url=arxiv_urls(arxiv_id)[1] if arxiv_id else None,
        categories=tags(entry),
        published=when(entry.get("published"), entry.get("published_parsed"))
        or when(entry.get("updated"), entry.get("updated_parsed")),
    )


def _day(fields: object) -> date | None:
    """An entry's or a channel's published date (RSS pubDate), else its updated date (RSS
    lastBuildDate, Atom `updated`), as the calendar day it was written in."""
    if not isinstance(fields, Mapping):
        return None
    for key in ("published", "updated"):
        if found := when(fields.get(key), fields.get(f"{key}_parsed")):
            return found.date()
    return None


def _unique(dated: list[tuple[int, Paper]], warnings: list[str]) -> list[Paper]:
    """One paper per id: the first, unless a later entry announces it as `new` and it was not."""
    kept: dict[str, tuple[int, Paper]] = {}
    for n, paper in dated:
        first = kept.get(paper.id)
        if first is None:
            kept[paper.id] = (n, paper)
            continue
        better = paper.announce_type == "new" and first[1].announce_type != "new"
        if better:
            kept[paper.id] = (n, paper)  # a dict keeps the first key's position
        which = f"entry {n}" if better else f"entry {first[0]}"
        warnings.append(f"entry {n}: duplicate of {paper.id} (entry {first[0]}); kept {which}")
    return [paper for _, paper in kept.values()]


parse_with_warnings = located(_parse, "feed")
