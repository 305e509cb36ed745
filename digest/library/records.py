"""What a library file holds, once read: entries, each with the line it starts on, and the
entries that could not be read, each with one reason. Nothing here does I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from digest.sources.base import clean_text
from digest.sources.feed_util import arxiv_id_from

TITLE_CHARS = 500  # a longer "title" is not one (a pasted abstract, a whole file on one line)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", re.I)
_ARXIV_IN_TEXT = re.compile(
    r"arxiv[\s:./]*(?:abs/|pdf/)?((?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?)", re.I
)
_BRACES = re.compile(r"[{}]")


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper of a reader's library as its export describes it. `line` is where the entry
    starts in the file (1-based; an item's position for the Zotero Web API)."""

    line: int
    title: str = ""
    abstract: str = ""
    arxiv_id: str | None = None  # version-less
    doi: str | None = None  # lower case, no `https://doi.org/` or `doi:`
    authors: tuple[str, ...] = ()
    url: str | None = None

    @property
    def named(self) -> str:
        """How a reason names the entry: its arXiv id, DOI or title."""
        if self.arxiv_id:
            return f"arXiv {self.arxiv_id}"
        if self.doi:
            return f"DOI {self.doi}"
        short = self.title if len(self.title) <= 60 else self.title[:57] + "..."
        return f"“{short}”"


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry left out, and why. `bad`: it could not be read at all (a broken entry, no title
    or id): a file with one changes nothing unless the import is partial. Others were read but
    are of no use (nothing matches them and they have no abstract, or they repeat an entry)."""

    line: int
    reason: str
    bad: bool = False


@dataclass(frozen=True, slots=True)
class Parsed:
    """A library file read: its format, the entries read and the bad ones, each by line."""

    format: str
    entries: tuple[Entry, ...]
    bad: tuple[Skipped, ...] = ()


def parsed(format: str, found: Iterable[Entry | Skipped]) -> Parsed:
    """The entries and the bad ones of a file, each in the order found."""
    items = list(found)
    return Parsed(
        format,
        tuple(e for e in items if isinstance(e, Entry)),
        tuple(s for s in items if isinstance(s, Skipped)),
    )


def entry(
    line: int,
    *,
    title: str = "",
    abstract: str = "",
    ids: Iterable[object] = (),
    doi: object = None,
    authors: Iterable[str] = (),
    url: object = None,
) -> Entry | Skipped:
    """An entry from an export's fields, its texts cleaned; the arXiv id is the first that
    `ids` (eprint fields, URLs, DOIs, notes such as `arXiv:2506.08007 [cs]`) reveal, the DOI the
    one given (an arXiv DOI is taken as the arXiv id). A Skipped (bad) when it names nothing:
    no title, arXiv id or DOI."""
    found_doi = find_doi(doi)
    values = [*ids, found_doi, url]
    arxiv = arxiv_id_from(values) or _arxiv_in_text(values)
    if found_doi and found_doi.startswith("10.48550/arxiv."):
        found_doi = None  # an arXiv DOI says no more than the arXiv id
    name = clean_title(title)
    if len(name) > TITLE_CHARS:
        return Skipped(line, f"a title of {len(name):,} characters is not a title", bad=True)
    if not (name or arxiv or found_doi):
        return Skipped(line, "no title, arXiv id or DOI", bad=True)
    return Entry(
        line=line,
        title=name,
        abstract=clean_text(_BRACES.sub("", abstract or ""), breaks=True),
        arxiv_id=arxiv,
        doi=found_doi,
        authors=tuple(a for raw in authors if (a := clean_text(raw))),
        url=url.strip() if isinstance(url, str) and url.strip().startswith("http") else None,
    )


def clean_title(title: str) -> str:
    """A title on one line, without the braces BibTeX keeps capitals in."""
    return " ".join(clean_text(_BRACES.sub("", title or "")).split())


def find_doi(value: object) -> str | None:
    """The DOI in a field (`10.1000/xyz`, `doi:10.1000/xyz`, `https://doi.org/10.1000/xyz`),
    lower case (DOIs are case-insensitive), trailing punctuation dropped; None without one."""
    if not isinstance(value, str):
        return None
    found = _DOI.search(value)
    return found.group(1).rstrip(".,;)]}").lower() if found else None


def _arxiv_in_text(values: Iterable[object]) -> str | None:
    """An arXiv id written in prose: `arXiv preprint arXiv:1706.03762`, `arXiv: 2506.08007`."""
    for value in values:
        if isinstance(value, str) and (found := _ARXIV_IN_TEXT.search(value)):
            return arxiv_id_from([f"arXiv:{found.group(1)}"])
    return None


def arxiv_in_text(*values: object) -> str | None:
    """The first arXiv id the values show, as ids, URLs, DOIs or in prose."""
    return arxiv_id_from(values) or _arxiv_in_text(values)
