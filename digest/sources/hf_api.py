"""The Daily Papers API (`GET https://huggingface.co/api/daily_papers?date=YYYY-MM-DD`) -> Papers.

The body is a JSON list of items (see `hf_items`), or the wrapped `{"status", "date", "count",
"data": [...]}` form some mirrors save, whose `date` is the digest date of items without
`submittedOnDailyAt`. Some mirrors stored each item as its Python repr (`"{'paper': {'id': ...}}"`)
instead of an object; such a string is read back with `ast.literal_eval` (literals only, never
code) and the file warns once. A string that is not a literal object is skipped like any other
unusable item; a non-empty list with no usable item is a SourceError, never zero papers.
"""

from __future__ import annotations

import ast
import json
from datetime import date
from typing import Any

from digest.models import Origin, Paper
from digest.sources.base import Problem, decode_text, located, quote
from digest.sources.hf_items import day_in, kind, load_json, papers_from_items

MAX_REPR_CHARS = 1_000_000  # a longer string is not read as a literal (the largest real: 23k)
SHOWN_KEYS = 6  # an unexpected object's keys named in the error


def parse(data: bytes, *, origin: Origin) -> list[Paper]:
    """The papers only; see `parse_with_warnings` for what was skipped or looks wrong."""
    return parse_with_warnings(data, origin=origin)[0]


def _parse(data: bytes, origin: Origin) -> tuple[list[Paper], list[str]]:
    items, day, warnings = _items(load_json(decode_text(data)))
    items = _objects_from_strings(items, warnings)
    papers, more = papers_from_items(items, origin=origin, fallback_date=day)
    return papers, warnings + more


def _items(document: object) -> tuple[list[Any], date | None, list[str]]:
    """The items, the wrapper's date and warnings about the wrapper; Problem for other shapes."""
    if isinstance(document, list):
        return document, None, []
    if not isinstance(document, dict):
        raise Problem(f"the JSON is {kind(document)}, not a list of Daily Papers items")
    data = document.get("data")
    if isinstance(data, list):
        count, warnings = document.get("count"), []
        if isinstance(count, int) and not isinstance(count, bool) and count != len(data):
            warnings.append(f"the wrapper's `count` is {count} but `data` has {len(data)} items")
        return data, day_in(document.get("date")), warnings
    error = document.get("error")
    if isinstance(error, str):
        raise Problem(f"an API error, not papers: {quote(error)}")
    keys = ", ".join(f"`{quote(key)[1:-1]}`" for key in list(document)[:SHOWN_KEYS]) or "none"
    more = ", ..." if len(document) > SHOWN_KEYS else ""
    raise Problem(
        f"a JSON object without a `data` list (keys: {keys}{more}), not a Daily Papers response"
    )


def _objects_from_strings(items: list[Any], warnings: list[str]) -> list[Any]:
    """Items stored as a Python repr (or JSON text) of an object, read back; others unchanged."""
    read = [_object_from_string(item) if isinstance(item, str) else None for item in items]
    found = sum(value is not None for value in read)
    if found:
        warnings.append(
            f"{found} of {len(items)} items are objects stored as strings (Python repr), "
            "not JSON objects; read them back as literals"
        )
    return [item if value is None else value for item, value in zip(items, read, strict=True)]


def _object_from_string(text: str) -> dict[Any, Any] | None:
    """The object a string spells as a Python or JSON literal, else None. Never runs code."""
    text = text.strip()
    if len(text) > MAX_REPR_CHARS or not text.startswith("{"):
        return None
    for reader in (json.loads, ast.literal_eval):
        try:
            value = reader(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue  # json.JSONDecodeError is a ValueError
        return value if isinstance(value, dict) else None
    return None


parse_with_warnings = located(_parse, "response")
