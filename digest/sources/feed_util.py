"""Helpers for the feed parser: plain text from feed fields, URLs, arXiv ids, dates, a DTD guard.

Everything here is pure and never raises on odd input except `check_prolog` (Problem).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

from digest.models import normalise_arxiv_id
from digest.sources.base import Problem

PROLOG_SCAN_BYTES = 1 << 16  # the DOCTYPE must be complete within the first bytes


class Skip(Exception):
    """One entry cannot become a paper; the reason becomes a warning."""


# -- XML guard ------------------------------------------------------------------------------------

_BOM_BYTES = b"\xef\xbb\xbf\xfe\xff\x00"  # UTF-8, -16 and -32 byte order marks
_PROLOG_SKIP = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)
_DOCTYPE = re.compile(
    r"<!DOCTYPE\s+[^\s\[>]+(?:\s+(?:SYSTEM|PUBLIC)(?:\s+(?:\"[^\"]*\"|'[^']*'))+)?\s*(\[)?", re.S
)
# An entity whose value is one character reference or a short plain text (feedparser's "safe" kind,
# shortened: feedparser's loose parser expands long ones in full, however often they are used).
_SAFE_DECL = re.compile(
    r"\s*(?:<!ENTITY\s+[\w.:-]+\s+(?:\"(?:&#\w+;|[^&%\"<]{0,32})\"|'(?:&#\w+;|[^&%'<]{0,32})')\s*>"
    r"|<!--.*?-->)",
    re.S,
)
_SUBSET_END = re.compile(r"\s*\]\s*>")


def check_prolog(data: bytes) -> None:
    """Refuse a DOCTYPE whose internal subset declares more than short plain entities.

    feedparser turns off external entities, but only strips entity declarations that start a line,
    and then relies on expat's amplification limit. External, parameter and nested entities have no
    place in a feed, so a document declaring them is refused before it reaches the XML parser.
    """
    text = _head_text(data[:PROLOG_SCAN_BYTES])
    start = _PROLOG_SKIP.match(text)
    pos = start.end() if start else 0
    doctype = _DOCTYPE.match(text, pos)
    if doctype is None or doctype.group(1) is None:
        return
    pos = doctype.end()
    while declaration := _SAFE_DECL.match(text, pos):
        pos = declaration.end()
    if not _SUBSET_END.match(text, pos):
        raise Problem(
            "refused: its DOCTYPE declares external, parameter, nested or long entities "
            "(could read local files or expand without bound)"
        )


def _head_text(head: bytes) -> str:
    """The markup of the head: ASCII-compatible encodings spell it alike, and UTF-16/32 do too once
    their zero bytes are dropped."""
    return head.lstrip(_BOM_BYTES).replace(b"\x00", b"").decode("latin-1")


# -- text -----------------------------------------------------------------------------------------

_TAGS = (
    "a|abbr|applet|article|audio|b|base|big|blockquote|body|br|button|center|cite|code|dd|del|div|"
    "dl|dt|em|embed|figcaption|figure|font|footer|form|frame|frameset|h[1-6]|head|header|hr|html|i|"
    "iframe|img|input|ins|label|li|link|main|mark|math|meta|nav|noscript|object|ol|option|p|"
    "picture|pre|q|s|script|section|select|small|source|span|strike|strong|style|sub|sup|svg|"
    "table|tbody|td|textarea|th|thead|time|tr|tt|u|ul|video|wbr"
)
_SKIPPED = "script|style|iframe|object|embed|applet|noscript|textarea|svg"
_SKIPPED_OPEN = re.compile(rf"<!--|<({_SKIPPED})(?=[\s/>])", re.I)
_TAG = re.compile(rf"</?(?:{_TAGS})(?=[\s/>])[^<>]*>", re.I)
_OPENER = re.compile(rf"<(?=\s*/?\s*(?:{_SKIPPED}|img|meta|link|base|form)\b)", re.I)
_BLOCK_TAGS = frozenset(
    re.findall(
        r"\w+",
        "address article blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
        "header hr li main nav ol p pre section table tbody td th thead tr ul",
    )
)
_SKIPPED_TAGS = frozenset(_SKIPPED.split("|"))
BREAK = "\x00"  # marks a block boundary in extracted HTML; XML text cannot contain it


def plain(value: str) -> str:
    """Text that may carry stray markup -> plain text: entities decoded, HTML tags dropped.

    Only known HTML tags count as markup, so `$x<y$ and $z>w$` or `<think>` tokens survive.
    """
    return _OPENER.sub("", _TAG.sub("", _drop_skipped(html.unescape(value))))


def _drop_skipped(text: str) -> str:
    """Comments and script-like elements removed with their content, when they are closed.

    Linear: once a closer is missing after some point, it is missing after any later point too.
    """
    kept: list[str] = []
    pos, unclosed = 0, set()
    while opener := _SKIPPED_OPEN.search(text, pos):
        name = (opener.group(1) or "--").lower()
        closer = None if name in unclosed else _closer(name).search(text, opener.end())
        if closer is None:
            unclosed.add(name)
            kept.append(text[pos : opener.end()])
        else:
            kept.append(text[pos : opener.start()])
        pos = closer.end() if closer else opener.end()
    return "".join(kept) + text[pos:]


def _closer(name: str) -> re.Pattern[str]:
    return re.compile("-->" if name == "--" else rf"</{name}\s*>", re.I)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(BREAK)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(BREAK)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_blocks(value: str) -> list[str]:
    """The text of an HTML fragment, one string per block (paragraph, list item, ...)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(value)
        extractor.close()
        text = "".join(extractor.parts)
    except Exception:  # html.parser has asserted on odd input in the past; fall back to regexes
        text = _TAG.sub(BREAK, value)
    blocks = (plain(block.replace(BREAK, "")).strip() for block in text.split(BREAK))
    return [block for block in blocks if block]


def field_text(value: object, kind: object = None) -> str:
    """A feed field as plain text; `kind` is feedparser's content type (`text/html`, ...)."""
    if not isinstance(value, str):
        return ""
    if isinstance(kind, str) and ("html" in kind or "xml" in kind):
        return "\n\n".join(html_blocks(value))
    return plain(value).strip()


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- URLs and arXiv ids ---------------------------------------------------------------------------

_ARXIV_HOSTS = frozenset({"arxiv.org", "export.arxiv.org", "browse.arxiv.org"})
_ARXIV_PATHS = ("/abs/", "/pdf/", "/html/")
_MIRROR_HOSTS = ("huggingface.co", "alphaxiv.org", "takara.ai")  # paths ending in an arXiv id
_NEW_STYLE = re.compile(r"\d{4}\.\d{4,5}(?:v\d+)?")
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(\S+)", re.I)


def http_url(value: object) -> str | None:
    """The value if it is an absolute http(s) URL, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        return None
    return url


def arxiv_id_from(values: Iterable[object]) -> str | None:
    """The first version-less arXiv id any of the values (URLs, guids, DOIs) reveals."""
    for value in values:
        if isinstance(value, str) and (found := _arxiv_id(value.strip())):
            return found
    return None


def _arxiv_id(value: str) -> str | None:
    if value.lower().startswith(("arxiv:", "oai:arxiv.org:")) or _NEW_STYLE.fullmatch(value):
        return normalise_arxiv_id(value)
    if doi := _ARXIV_DOI.search(value):
        return normalise_arxiv_id(doi.group(1))
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return None
    path = parts.path.removesuffix("/").removesuffix(".pdf")
    if host in _ARXIV_HOSTS:
        prefix = next((p for p in _ARXIV_PATHS if path.startswith(p)), None)
        return normalise_arxiv_id(path[len(prefix) :]) if prefix else None
    if any(host == h or host.endswith("." + h) for h in _MIRROR_HOSTS):
        return normalise_arxiv_id(path.rsplit("/", 1)[-1])
    return None


def arxiv_urls(arxiv_id: str) -> tuple[str, str]:
    """The abstract page and PDF of an arXiv id."""
    return f"https://arxiv.org/abs/{arxiv_id}", f"https://arxiv.org/pdf/{arxiv_id}"


# -- dates ----------------------------------------------------------------------------------------


def when(raw: object, parsed: object = None) -> datetime | None:
    """A feed date, keeping the offset it was written with (UTC when it names none).

    RFC 822 and ISO 8601 are read from the raw string, so the day is the one the feed meant;
    other formats fall back to feedparser's reading, which is in UTC.
    """
    if isinstance(raw, str) and raw.strip():
        text = raw.strip()
        for reader in (parsedate_to_datetime, datetime.fromisoformat):
            with suppress(TypeError, ValueError, IndexError, OverflowError):
                value = reader(text)
                return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(parsed, time.struct_time):
        with suppress(TypeError, ValueError, OverflowError):
            return datetime(*parsed[:6], tzinfo=UTC)
    return None


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """Non-empty values, first occurrence kept, in order."""
    return tuple(dict.fromkeys(v for v in values if v))
