"""BibTeX (`.bib`), as Zotero, Better BibTeX, Mendeley, JabRef and Google Scholar export it,
read with bibtexparser 2: LaTeX decoded to text, co-authors split, a broken entry reported at the
line it starts on (bibtexparser goes on with the next `@`)."""

from __future__ import annotations

import logging

import bibtexparser
from bibtexparser.middlewares import (
    LatexDecodingMiddleware,
    NormalizeFieldKeys,
    SeparateCoAuthors,
)
from bibtexparser.model import DuplicateBlockKeyBlock, MiddlewareErrorBlock, ParsingFailedBlock
from bibtexparser.model import Entry as BibEntry

from digest.library.records import Entry, Parsed, Skipped, entry, parsed
from digest.sources.base import quote

# bibtexparser logs each broken block (several lines) on its own logger; the reasons below say
# the same in one line each, by the entry's line
_LOG = logging.getLogger("bibtexparser")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False

# where exports put an arXiv id: Better BibTeX's eprint, Zotero's note (`arXiv:1706.03762
# [cs]`), Google Scholar's journal (`arXiv preprint arXiv:1706.03762`), the URL, the DOI
_ID_FIELDS = ("eprint", "arxivid", "arxiv", "note", "journal", "howpublished", "number", "url")
_ARXIV_PREFIXES = ("arxiv", "")


def parse(text: str) -> Parsed:
    """Every entry of a BibTeX file, and each broken one with the line it starts on."""
    library = bibtexparser.parse_string(
        text,
        append_middleware=[NormalizeFieldKeys(), LatexDecodingMiddleware(), SeparateCoAuthors()],
    )
    found: list[Entry | Skipped] = []
    for block in library.blocks:
        line = (block.start_line or 0) + 1  # bibtexparser counts from 0
        if isinstance(block, BibEntry):
            found.append(_entry(block, line))
        elif isinstance(block, DuplicateBlockKeyBlock | MiddlewareErrorBlock) and isinstance(
            block.ignore_error_block, BibEntry
        ):  # a repeated key, or a field the LaTeX decoder gave up on: the entry is still there
            found.append(_entry(block.ignore_error_block, line))
        elif isinstance(block, ParsingFailedBlock):
            found.append(Skipped(line, _broken(block), bad=True))
        # comments, @string and @preamble are no entries
    return parsed("BibTeX", found)


def _entry(block: BibEntry, line: int) -> Entry | Skipped:
    fields = {f.key: f.value for f in block.fields}
    archive = _text(fields.get("archiveprefix") or fields.get("eprinttype")).lower()
    eprint = _text(fields.get("eprint"))
    ids = [f"arXiv:{eprint}" if eprint and archive in _ARXIV_PREFIXES else ""]
    ids += [_text(fields.get(key)) for key in _ID_FIELDS]
    authors = fields.get("author") or []
    return entry(
        line,
        title=_text(fields.get("title")),
        abstract=_text(fields.get("abstract")),
        ids=ids,
        doi=_text(fields.get("doi")),
        authors=authors if isinstance(authors, list) else [str(authors)],
        url=_text(fields.get("url")) or None,
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _broken(block: ParsingFailedBlock) -> str:
    error = block.error
    why = " ".join(str(getattr(error, "abort_reason", "") or error or "").split())
    raw = (block.raw or "").split(",", 1)[0]
    return f"a broken BibTeX entry {quote(raw, 60)}" + (f": {why}" if why else "")
