"""What every source kind shares: the Problem it raises, and the wrapper that turns a kind's
`_parse(data, origin) -> (papers, warnings)` into the public `parse_with_warnings`, where every
error and warning is one line that starts with the source's location.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from digest.errors import SourceError
from digest.models import Origin, Paper

MESSAGE_CHARS = 160  # quoted source text in a message is cut to this length
CONTROL_MAX_SHARE = 0.01  # more control characters than this: binary, not text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

Parsed = tuple[list[Paper], list[str]]


class Problem(Exception):
    """What is wrong with the input, without its location (`located` adds that)."""


def decode_text(data: bytes) -> str:
    """The bytes as UTF-8 text (a byte order mark dropped), or Problem: empty, or binary."""
    if b"\x00" in data:
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


def quote(text: str) -> str:
    """Source text quoted for a one-line message, shortened."""
    flat = " ".join(text[: MESSAGE_CHARS * 4].split())
    cut = flat if len(flat) <= MESSAGE_CHARS else flat[: MESSAGE_CHARS - 3] + "..."
    return f'"{cut}"'


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
        return papers, [f"{origin.location}: {warning}" for warning in warnings]

    return parse_with_warnings
