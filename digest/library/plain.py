"""A plain list, one paper a line: arXiv ids (with or without a version, `arXiv:` or not),
arXiv URLs (abs or pdf), DOIs (bare, `doi:` or as a doi.org URL) or titles. Blank lines and
lines starting with `#` are skipped."""

from __future__ import annotations

from urllib.parse import urlsplit

from digest.library.records import (
    Entry,
    Parsed,
    Skipped,
    arxiv_in_text,
    entry,
    find_doi,
    parsed,
)


def parse(text: str) -> Parsed:
    lines = [(number, raw.strip()) for number, raw in enumerate(text.splitlines(), start=1)]
    return parsed("plain list", [_line(n, line) for n, line in lines if _is_entry(line)])


def _is_entry(line: str) -> bool:
    return bool(line) and not line.startswith("#")


def _line(number: int, line: str) -> Entry | Skipped:
    if arxiv := arxiv_in_text(line):
        return entry(number, ids=[f"arXiv:{arxiv}"])
    if (doi := find_doi(line)) and (line.lower().startswith(("10.", "doi:")) or _is_url(line)):
        return entry(number, doi=doi)
    if _is_url(line):
        return Skipped(number, "a link that names no arXiv paper or DOI", bad=True)
    return entry(number, title=line)


def _is_url(line: str) -> bool:
    try:
        parts = urlsplit(line)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in line
