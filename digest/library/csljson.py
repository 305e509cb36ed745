"""CSL JSON, as Zotero and Mendeley export it: a JSON array of CSL items (or an object with an
`items` array). Each item's line is where it starts in the JSON text; a syntax error is reported
at its line, and the items before it can still be imported with a partial import."""

from __future__ import annotations

import json
from typing import Any

from digest.library.records import Entry, Parsed, Skipped, entry, parsed

_ID_FIELDS = ("number", "note", "container-title", "archive_location", "archive-id", "URL")
_DECODER = json.JSONDecoder()


def parse(text: str) -> Parsed:
    items, broken = _items(text)
    found: list[Entry | Skipped] = [
        _entry(line, item)
        if isinstance(item, dict)
        else Skipped(line, "not a CSL item (a JSON object)", bad=True)
        for line, item in items
    ]
    return parsed("CSL JSON", [*found, *broken])


def _items(text: str) -> tuple[list[tuple[int, Any]], list[Skipped]]:
    """Each item of the top-level array with the line it starts on; a syntax error ends the
    walk (one bad entry at its line)."""
    at = _skip(text, 0)
    if text.startswith("{", at):  # `{"items": [...]}` (the Zotero Web API's csljson)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [_syntax(exc)]
        found = document.get("items") if isinstance(document, dict) else None
        if not isinstance(found, list):
            return [], [Skipped(1, "a JSON object without an `items` list of CSL items", bad=True)]
        return [(1, item) for item in found], []
    if not text.startswith("[", at):
        return [], [Skipped(_line(text, at), "not a JSON array of CSL items", bad=True)]
    items: list[tuple[int, Any]] = []
    at = _skip(text, at + 1)
    while not text.startswith("]", at):
        try:
            item, end = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            return items, [_syntax(exc)]
        items.append((_line(text, at), item))
        at = _skip(text, end)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
        elif not text.startswith("]", at):
            return items, [Skipped(_line(text, at), "not valid JSON: expected , or ]", bad=True)]
    return items, []


def _entry(line: int, item: dict[str, Any]) -> Entry | Skipped:
    authors = [_name(a) for a in item.get("author") or [] if isinstance(a, dict)]
    return entry(
        line,
        title=_text(item.get("title")),
        abstract=_text(item.get("abstract")),
        ids=[_text(item.get(key)) for key in _ID_FIELDS],
        doi=_text(item.get("DOI")),
        authors=[a for a in authors if a],
        url=_text(item.get("URL")) or None,
    )


def _name(author: dict[str, Any]) -> str:
    if literal := _text(author.get("literal")):
        return literal
    return " ".join(p for p in (_text(author.get("given")), _text(author.get("family"))) if p)


def _text(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _syntax(exc: json.JSONDecodeError) -> Skipped:
    return Skipped(exc.lineno, f"not valid JSON: {exc.msg}", bad=True)
