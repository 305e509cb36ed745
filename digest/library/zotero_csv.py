"""Zotero's CSV export (File > Export Library > CSV): a header row of Zotero's column names
(`Key`, `Item Type`, `Publication Year`, `Author`, `Title`, `Publication Title`, ..., `DOI`,
`Url`, `Abstract Note`, ..., `Extra`, ...), then an item a row; a row's line is where it starts
(an abstract may run over several lines). `zotero_entry` reads an item in Zotero's own field
names, as the Web API gives them too (zotero.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from digest.library.records import Entry, Parsed, Skipped, entry, parsed

# Zotero's CSV columns, by the field names of its Web API
COLUMNS = {
    "Key": "key",
    "Item Type": "itemType",
    "Title": "title",
    "Abstract Note": "abstractNote",
    "DOI": "DOI",
    "Url": "url",
    "Extra": "extra",
    "Publication Title": "publicationTitle",
    "Number": "number",
    "Archive ID": "archiveID",
    "Archive Location": "archiveLocation",
}
REQUIRED = ("Key", "Item Type", "Title")
SKIPPED_TYPES = frozenset({"note", "attachment", "annotation"})  # not papers
# where Zotero keeps an arXiv id: Extra (`arXiv: 1706.03762`), the preprint's Archive ID
# (`arXiv:1706.03762`), the URL, the DOI (10.48550/arXiv....), older items' Publication Title
_ID_FIELDS = ("extra", "archiveID", "number", "publicationTitle", "archiveLocation", "url")


def parse(text: str) -> Parsed:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        return Parsed("Zotero CSV", (), (Skipped(1, f"no header row ({exc})", bad=True),))
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        why = f"not Zotero's CSV export: no {', '.join(missing)} column"
        return Parsed("Zotero CSV", (), (Skipped(1, why, bad=True),))
    found: list[Entry | Skipped] = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            found.append(Skipped(start, f"not a CSV row: {exc}", bad=True))
            break
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        cells = zip(header, row, strict=False)  # a short row: its missing cells are empty
        fields = {COLUMNS[name]: value for name, value in cells if name in COLUMNS}
        authors = [a.strip() for a in _column(header, row, "Author").split(";")]
        if (item := zotero_entry(line, fields, authors)) is not None:
            found.append(item)
    return parsed("Zotero CSV", found)


def zotero_entry(
    line: int, fields: Mapping[str, object], authors: list[str]
) -> Entry | Skipped | None:
    """An entry from a Zotero item's fields (by the Web API's names); None for a note or an
    attachment, which are no papers."""
    kind = fields.get("itemType")
    if isinstance(kind, str) and kind.strip() in SKIPPED_TYPES:
        return None
    return entry(
        line,
        title=_text(fields.get("title")),
        abstract=_text(fields.get("abstractNote")),
        ids=[_text(fields.get(key)) for key in _ID_FIELDS],
        doi=_text(fields.get("DOI")),
        authors=authors,
        url=_text(fields.get("url")) or None,
    )


def _column(header: list[str], row: list[str], name: str) -> str:
    at = header.index(name) if name in header else -1
    return row[at] if 0 <= at < len(row) else ""


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
