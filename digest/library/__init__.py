"""A reader's library, read from what reference managers export: the papers they keep, which
become their liked papers (digest/app/library.py matches them to the store).

Each format is a module with `parse(text) -> Parsed` (records.py): the entries, each with the
line it starts on, and the bad ones, each with one reason. Pure: no I/O. `read` picks the format
by the file's content where it says (a JSON array, a `TY  - ` record, an `@entry{`, Zotero's CSV
header), else by the file's extension.

    bibtex.py      BibTeX (.bib), with bibtexparser
    ris.py         RIS (.ris), with rispy
    csljson.py     CSL JSON (.json): Zotero's and Mendeley's export
    zotero_csv.py  Zotero's CSV export (.csv)
    plain.py       a plain list (.txt): arXiv ids, arXiv URLs, DOIs or titles, one a line
    zotero.py      the Zotero Web API: a user's or group's library, or one collection
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath

from digest.errors import SourceError
from digest.library import bibtex, csljson, plain, ris, zotero_csv
from digest.library.records import Entry, Parsed, Skipped
from digest.sources.base import Problem, decode_text

MAX_BYTES = 20 * 1024 * 1024  # a library of 10,000 papers with abstracts is about 15 MB

FORMATS: dict[str, Callable[[str], Parsed]] = {
    "bibtex": bibtex.parse,
    "ris": ris.parse,
    "csljson": csljson.parse,
    "zotero_csv": zotero_csv.parse,
    "plain": plain.parse,
}
BY_EXTENSION = {
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".ris": "ris",
    ".json": "csljson",
    ".csljson": "csljson",
    ".csv": "zotero_csv",
    ".txt": "plain",
    ".list": "plain",
    "": "plain",
}
KNOWN = "BibTeX .bib, RIS .ris, CSL JSON .json, Zotero's CSV .csv or a plain list .txt"

_RIS = re.compile(r"^TY  - ", re.M)
_BIBTEX = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M)


def read(name: str, data: bytes) -> Parsed:
    """The library in `data` (a file called `name`), by its format; SourceError naming the file
    when it is of no format read here, not text, too large, or holds no entry at all."""
    if len(data) > MAX_BYTES:
        raise SourceError(f"{name}: {len(data):,} bytes is over the {MAX_BYTES:,}-byte limit")
    try:
        text = decode_text(data)
    except Problem as problem:
        raise SourceError(f"{name}: {problem}", hint=f"a library is {KNOWN}") from None
    found = FORMATS[which(name, text)](text)
    if not found.entries and not found.bad:
        raise SourceError(f"{name}: no entries in this {found.format} file")
    return Parsed(found.format, found.entries, tuple(sorted(found.bad, key=lambda s: s.line)))


def which(name: str, text: str) -> str:
    """The format of a library file: what its content shows, else its extension."""
    head = text.lstrip()[:4096]
    if head.startswith(("[", "{")):
        return "csljson"
    if _RIS.search(head):
        return "ris"
    first = head.partition("\n")[0]
    if all(f'"{column}"' in first or column in first.split(",") for column in zotero_csv.REQUIRED):
        return "zotero_csv"
    if _BIBTEX.search(head):
        return "bibtex"
    suffix = PurePath(name).suffix.lower()
    if suffix in BY_EXTENSION:
        return BY_EXTENSION[suffix]
    raise SourceError(f"{name}: not a library file digest reads", hint=f"give {KNOWN}")


__all__ = ["FORMATS", "KNOWN", "MAX_BYTES", "Entry", "Parsed", "Skipped", "read", "which"]
