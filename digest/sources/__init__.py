"""Source kinds: each a module with `parse(data: bytes, *, origin: Origin) -> list[Paper]`, and
`parse_with_warnings`, the same returning the warnings (skipped items, suspect fields) beside.

Adding a kind is one module and one entry in SOURCES. A parser is pure: it gets bytes and an
Origin, returns Papers or raises SourceError naming `origin.location` and what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

from digest.models import Origin, Paper
from digest.sources import feed, hf_api, hf_html, hf_text

ParseWithWarnings = Callable[..., tuple[list[Paper], list[str]]]

SOURCES: dict[str, ParseWithWarnings] = {
    "hf_text": hf_text.parse_with_warnings,
    "hf_api": hf_api.parse_with_warnings,
    "hf_html": hf_html.parse_with_warnings,
    "feed": feed.parse_with_warnings,
}

# `digest ingest FILE` without --kind picks the kind from the file's extension.
KIND_BY_EXTENSION: dict[str, str] = {
    ".txt": "hf_text",
    ".json": "hf_api",
    ".html": "hf_html",
    ".htm": "hf_html",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}


def parse_with_warnings(kind: str, data: bytes, *, origin: Origin) -> tuple[list[Paper], list[str]]:
    """Parse `data` with the parser registered for `kind`; papers and warnings."""
    return SOURCES[kind](data, origin=origin)


def parse(kind: str, data: bytes, *, origin: Origin) -> list[Paper]:
    """Parse `data` with the parser registered for `kind`."""
    return parse_with_warnings(kind, data, origin=origin)[0]
