"""RIS (`.ris`), as Zotero, Mendeley, EndNote and publishers export it, each record read with
rispy. Records are found here first (a `TY  - ` line to its `ER  - `), so that each keeps the
line it starts on and a broken one (never closed, or text outside any record) is reported alone.
"""

from __future__ import annotations

import re

import rispy

from digest.library.records import Entry, Parsed, Skipped, entry, parsed
from digest.sources.base import quote

_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: |$)")
_ID_FIELDS = ("notes", "note", "journal_name", "secondary_title", "alternate_title3", "number")


def parse(text: str) -> Parsed:
    return parsed(
        "RIS",
        [
            Skipped(line, problem, bad=True) if problem else _entry(line, record)
            for line, record, problem in _records(text.splitlines())
        ],
    )


def _records(lines: list[str]) -> list[tuple[int, list[str], str]]:
    """(the line a record starts on, its lines, "" or what is wrong with it), in order."""
    found: list[tuple[int, list[str], str]] = []
    start, record = 0, list[str]()
    for number, raw in enumerate(lines, start=1):
        tag = _TAG.match(raw.lstrip("\ufeff"))
        name = tag.group(1) if tag else None
        if name == "TY":
            if record:
                found.append((start, record, "a record not closed by an `ER  - ` line"))
            start, record = number, [raw.lstrip("\ufeff")]
        elif record:
            record.append(raw)
            if name == "ER":
                found.append((start, record, ""))
                record = []
        elif raw.strip():
            found.append((number, [], f"text outside any record: {quote(raw, 60)}"))
    if record:
        found.append((start, record, "a record not closed by an `ER  - ` line"))
    return found


def _entry(line: int, lines: list[str]) -> Entry | Skipped:
    (record,) = rispy.loads("\n".join(lines), skip_unknown_tags=True) or [{}]
    title = _first(record, "title", "primary_title", "translated_title", "short_title")
    authors = [*record.get("authors", []), *record.get("first_authors", [])]
    urls = record.get("urls", [])
    ids = [_first(record, key) for key in _ID_FIELDS] + list(urls)
    return entry(
        line,
        title=title,
        abstract=_first(record, "abstract", "notes_abstract"),
        ids=ids,
        doi=_first(record, "doi"),
        authors=authors,
        url=urls[0] if urls else None,
    )


def _first(record: dict[str, object], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
