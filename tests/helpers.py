"""Helpers for tests: records built by hand, fixture paths."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from digest.models import StoredPaper

FIXTURES = Path(__file__).parent / "fixtures"


def stored(
    pid: str, title: str, abstract: str = "", *, day: date = date(2025, 8, 20), **fields: object
) -> StoredPaper:
    """A StoredPaper as the store would return it."""
    values: dict[str, object] = {
        "arxiv_id": None,
        "authors": (),
        "url": None,
        "pdf_url": None,
        "code_url": None,
        "project_url": None,
        "categories": (),
        "published": None,
        "dates": (day,),
        "sources": ("test",),
    }
    values.update(fields)
    return StoredPaper(id=pid, title=title, abstract=abstract, **values)  # type: ignore[arg-type]
