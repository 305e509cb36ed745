"""What every source kind shares: the Problem it raises, and the wrapper that turns a kind's
`_parse(data, origin) -> (papers, warnings)` into the public `parse_with_warnings`, where every
error and warning is one line that starts with the source's location, and every paper's texts
are clean (see `clean_paper`): the one boundary all sources pass through.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from digest.errors import SourceError
from digest.models import Origin, Paper

MESSAGE_CHARS = 160  # quoted source text in a message is cut to this length
CONTROL_MAX_SHARE = 0.01  # more control characters than this: binary, not text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In a paper's texts: every C0/C1 control (an abstract keeps its line breaks and tabs) and the
# Unicode line/paragraph separators become a space, runs of spaces one; the bidi embeddings,
# overrides, isolates and marks are removed, so no text can reorder what is shown around it.
_TEXT_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_ABSTRACT_CONTROL = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029"  # no \t, \n
_TEXT_CONTROLS = re.compile(rf" *[{_TEXT_CONTROL}][ {_TEXT_CONTROL}]*")
_ABSTRACT_CONTROLS = re.compile(rf" *[{_ABSTRACT_CONTROL}][ {_ABSTRACT_CONTROL}]*")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

Parsed = tuple[list[Paper], list[str]]


class Problem(Exception):
    """What is wrong with the input, without its location (`located` adds that)."""


def decode_text(data: bytes) -> str:
    """The bytes as UTF-8 text (a byte order mark dropped), or Problem: empty, or binary (NUL
    bytes or other control characters in more than a stray few)."""
    if data.count(b"\x00") > CONTROL_MAX_SHARE * len(data):  # a stray NUL is a control, cleaned
        raise Problem("not UTF-8 text (binary? it contains NUL bytes)")
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(f"not UTF-8 text (binary? invalid byte at offset {exc.start})") from None
    if not text.strip():
        raise Problem("empty file" + (" (only whitespace)" if text else ""))
    controls = len(_CONTROL.findall(text))
    if controls > CONTROL_MAX_SHARE * len(text):
        raise Problem(f"not text (binary? {controls} control characters)")
    return text


def quote(text: str, limit: int = MESSAGE_CHARS) -> str:
    """Source text quoted for a one-line message, shortened to `limit` characters."""
    flat = " ".join(clean_text(text[: limit * 4]).split())
    cut = flat if len(flat) <= limit else flat[: limit - 3] + "..."
    return f'"{cut}"'


def clean_text(text: str, *, breaks: bool = False) -> str:
    """Text safe to show anywhere: bidi controls removed, control characters (but line breaks
    and tabs when `breaks`, CRLF as one break) replaced by one space, the ends stripped."""
    text = _BIDI.sub("", text)
    if breaks:
        return _ABSTRACT_CONTROLS.sub(" ", text.replace("\r\n", "\n")).strip()
    return _TEXT_CONTROLS.sub(" ", text).strip()


def clean_paper(paper: Paper) -> Paper | None:
    """The paper with clean title, abstract, authors and keywords; None when no title is left."""
    title = clean_text(paper.title)
    if not title:
        return None
    names = tuple(name for raw in paper.authors if (name := clean_text(raw)))
    words = tuple(word for raw in paper.keywords if (word := clean_text(raw)))
    abstract = clean_text(paper.abstract, breaks=True)
    return dataclasses.replace(paper, title=title, abstract=abstract, authors=names, keywords=words)


def located(parse: Callable[[bytes, Origin], Parsed], what: str) -> Callable[..., Parsed]:
    """`parse` with Problems (and any bug, which no bytes may turn into a crash) raised as one
    SourceError line, and warnings prefixed, both with `origin.location`."""

    def parse_with_warnings(data: bytes, *, origin: Origin) -> Parsed:
        """The papers and one-line warnings, or SourceError naming `origin.location`."""
        try:
            papers, warnings = parse(data, origin)
        except Problem as problem:
            raise SourceError(f"{origin.location}: {problem}") from None
        except Exception as exc:
            detail = quote(f"{type(exc).__name__}: {exc}")
            raise SourceError(f"{origin.location}: could not read the {what} ({detail})") from None
        kept = []
        for paper in papers:
            if (clean := clean_paper(paper)) is None:
                warnings.append(f"{paper.id}: no title once control characters go; skipped")
            else:
                kept.append(clean)
        return kept, [f"{origin.location}: {warning}" for warning in warnings]

    return parse_with_warnings
