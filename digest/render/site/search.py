"""The site's search index: `search.json`, one record per paper, read by `search.js` in the browser.

A separate file fetched by the page, never inlined into HTML. Texts are folded to one line with
control characters dropped; `<`, `>` and `&` are written as `\\u003c`-style escapes so the file
stays inert even if something serves it as HTML. Record URLs are relative to the site root
(`2025/08/20/#arxiv-2506.01234`) and resolved by the script against the index's own URL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from digest.models import Artifact, StoredPaper
from digest.render.filters import cut, oneline
from digest.render.links import Links

ABSTRACT_CHARS = 240  # of each abstract kept in the index: enough to match on, small to load
AUTHORS = 12  # authors kept per paper; large collaborations list hundreds
_INERT = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def record(paper: StoredPaper, day: date, links: Links) -> dict[str, object]:
    authors = [oneline(a) for a in paper.authors[:AUTHORS]]
    if len(paper.authors) > AUTHORS:
        authors.append("et al.")
    return {
        "title": oneline(paper.title),
        "authors": authors,
        "abstract": cut(paper.abstract, ABSTRACT_CHARS),
        "date": day.isoformat(),
        "url": links.paper(day, paper.id)[len(links.base) :],
    }


def search_index(days: Sequence[tuple[date, Sequence[StoredPaper]]], links: Links) -> Artifact:
    """One record per paper, newest day first, each day in its given order; a paper seen on many
    days is listed once, on the first day it appeared (its record then never moves)."""
    first: dict[str, date] = {}
    for day, papers in sorted(days, key=lambda item: item[0]):
        for paper in papers:
            first.setdefault(paper.id, day)
    lines = []
    for day, papers in sorted(days, key=lambda item: item[0], reverse=True):
        for paper in papers:
            if first.get(paper.id) == day:
                del first[paper.id]  # once, even if a day lists it twice
                lines.append(json.dumps(record(paper, day, links), separators=(",", ":")))
    text = '{"version":1,"papers":[\n' + ",\n".join(lines) + "\n]}\n"
    for char, escape in _INERT.items():
        text = text.replace(char, escape)  # only inside strings: the structure has none of them
    return Artifact(Path("search.json"), text.encode("ascii"), "application/json")
