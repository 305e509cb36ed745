"""A text rendering of a Hugging Face Daily Papers page -> Papers.

The page is a short header (`Get trending papers in your email inbox!`, `Subscribe`, `byAK and the
research community`, maybe a date like `Aug 20`) and then strictly alternating title and abstract
lines, with or without blank lines between them. Titles and abstracts are kept as written (their
control characters, a stray CR among them, cleaned by `base.located` like every source's).
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from digest.models import Origin, Paper
from digest.sources.base import Problem, decode_text, located, quote

TITLE_MAX_CHARS = 400  # a title is one line of at most this many characters
ABSTRACT_MIN_CHARS = 100  # an abstract is at least this long ...
ABSTRACT_MIN_WORDS = 12  # ... has at least this many words ...
ABSTRACT_TITLE_RATIO = 1.5  # ... and is at least this many times as long as its title
STRONG_MIN_PAPERS = 2  # a page without a header must have at least this many papers,
STRONG_MIN_CHARS = 250  # each abstract this long, several sentences,
STRONG_TITLE_RATIO = 3.0  # and this many times as long as its title,
STRONG_TITLE_WORDS = 3  # titles of this many words, not ending in `.` or starting with markup
HEADER_SCAN_LINES = 12  # the header is within the first lines

Line = tuple[int, str]  # (1-based line number, stripped text)

_STRONG_HEADERS = ("subscribe", "daily papers")
_MONTHS = "january february march april may june july august september october november december"
_DATE = re.compile(r"([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?")
_CODE_HOST = re.compile(r"(?:[\w-]+\.)*(?:github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)")
_NOT_PROJECT_HOST = re.compile(r"(?:[\w-]+\.)*(?:doi\.org|arxiv\.org)")  # archives, not pages
_URL = re.compile(
    r"(?:https?://|(?<![\w./@-])(?:www\.|(?:github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)/))"
    r"[^\s<>\"'{}|\\^`\[\]]+"
)
_URL_TAIL = ".,;:!?\u3002\uff0c\uff1b\uff1a\u3001"  # and their CJK full-width forms
_SENTENCE_ENDS = (".", "!", "?", ")", '"', "'", "\u201d", "\u2019", "\u00bb")


@dataclass(frozen=True, slots=True)
class _Header:
    body: list[Line]
    recognised: bool
    dates: list[tuple[int, int, int | None]]
    unknown: list[Line]


@dataclass(frozen=True, slots=True)
class _Pair:
    line: int
    title: str
    abstract: str


def parse(data: bytes, *, origin: Origin) -> list[Paper]:
    """The papers only; see `parse_with_warnings` for what was skipped or looks wrong."""
    return parse_with_warnings(data, origin=origin)[0]


def _parse(data: bytes, origin: Origin) -> tuple[list[Paper], list[str]]:
    header = _split_header(_lines(data))
    warnings = [f"line {n}: unknown header line {_q(text)} dropped" for n, text in header.unknown]
    try:
        pairs = _pairs(header.body, warnings)
    except Problem as problem:
        if header.recognised:
            raise
        raise Problem(f"not a Daily Papers page (no header, and {problem})") from None
    if not header.recognised and not _strong(pairs):
        raise Problem("not a Daily Papers page (no header, and no clear title/abstract pairs)")
    if not pairs:
        return [], warnings
    day = origin.date or _header_date(header.dates, origin.today)
    if day is None:
        raise Problem("no date header (like `Aug 20`); pass --date or set the source's `date:`")
    return [_paper(pair, day) for pair in pairs], warnings


def _lines(data: bytes) -> list[Line]:
    """The non-blank lines, stripped, with their 1-based numbers. Lines end in LF or CRLF (or CR
    in a file with no LF at all); a stray CR inside a line is text, cleaned like any control."""
    text = decode_text(data).replace("\r\n", "\n")
    split = text.split("\n" if "\n" in text else "\r")
    return [(n, s) for n, raw in enumerate(split, 1) if (s := raw.strip())]


def _split_header(lines: list[Line]) -> _Header:
    """The header is the known lines (and stray short ones between them) before the first paper."""
    end, strong, first = 0, False, None
    for i, (n, text) in enumerate(lines[:HEADER_SCAN_LINES]):
        kind = _header_kind(text)
        if not kind and text.startswith("Subscribe") and (strong or text[9:10].isupper()):
            # `SubscribeTitle...`: the first title, however long, glued to the button's text
            end, strong, first = i, True, (n, text[9:].strip())
            break
        if _is_abstract(text):
            break
        if kind:
            end, strong = i + 1, strong or kind == "strong"
    body = lines[end:] if first is None else [first, *lines[end + 1 :]]
    dates = [d for _, text in lines[:end] if (d := _parse_date(text))]
    unknown = [line for line in lines[:end] if not _header_kind(line[1])]
    return _Header(body, strong, dates, unknown)


def _header_kind(text: str) -> str | None:
    key = " ".join(text.casefold().split()).rstrip("!.:")
    if key in _STRONG_HEADERS or key.startswith("get trending papers"):
        return "strong"
    if key.startswith("by") and key.endswith("research community"):
        return "strong"
    if key == "new":
        return "weak"
    return "date" if _parse_date(text) else None


def _parse_date(text: str) -> tuple[int, int, int | None] | None:
    """`Aug 20`, `August 20th`, `Aug 20, 2025` -> (month, day, year or None)."""
    match = _DATE.fullmatch(text)
    if not match:
        return None
    name, day, year = match.group(1).lower(), int(match.group(2)), match.group(3)
    months = [m for m, full in enumerate(_MONTHS.split(), 1) if full.startswith(name)]
    try:
        date(int(year or 2000), months[0], day)
    except (IndexError, ValueError):
        return None
    return months[0], day, int(year) if year else None


def _header_date(dates: list[tuple[int, int, int | None]], today: date) -> date | None:
    """The first date header; without a year, the latest such date not after `today`."""
    if not dates:
        return None
    month, day, year = dates[0]
    for candidate_year in [year] if year else range(today.year, today.year - 9, -1):
        with suppress(ValueError):  # Feb 29 exists in leap years only
            if (candidate := date(candidate_year, month, day)) <= today or year:
                return candidate
    return None


def _pairs(body: list[Line], warnings: list[str]) -> list[_Pair]:
    """Alternating title/abstract lines; a last paper cut short by truncation is skipped."""
    pairs: list[_Pair] = []
    for i in range(0, len(body), 2):
        (n, title), last = body[i], i + 2 >= len(body)
        abstract = body[i + 1][1] if i + 1 < len(body) else ""
        problem = _pair_problem(title, abstract)
        cut = last and pairs and not _paragraph(title, abstract) and not _ends_sentence(abstract)
        if problem and cut:
            warnings.append(f"line {n}: {problem} (file truncated?); skipped")
            break
        if problem:
            raise Problem(f"line {n}: {problem}")
        if last and not _ends_sentence(abstract):
            warnings.append(f"line {body[i + 1][0]}: abstract of {_q(title)} looks truncated")
        pairs.append(_Pair(n, title, abstract))
    return pairs


def _pair_problem(title: str, abstract: str) -> str | None:
    if _paragraph(title, abstract):
        return f"expected a title, found a paragraph of {len(title)} characters: {_q(title)}"
    if not _is_abstract(abstract) or len(abstract) < ABSTRACT_TITLE_RATIO * len(title):
        after = f" (the next line, {_q(abstract)}, is too short for one)" if abstract else ""
        return f"title {_q(title)} has no abstract{after}"
    return None


def _paragraph(title: str, after: str) -> bool:
    """Whether the line where a title belongs is a paragraph (longer than the line after it)."""
    return len(title) > TITLE_MAX_CHARS or (_is_abstract(title) and len(after) < len(title))


def _ends_sentence(text: str) -> bool:
    """Whether a text ends like a finished sentence (or with a URL), not cut mid-way."""
    words = text[-1000:].split()
    return bool(words) and (words[-1].endswith(_SENTENCE_ENDS) or bool(_URL.match(words[-1])))


def _is_abstract(text: str) -> bool:
    return len(text) >= ABSTRACT_MIN_CHARS and len(text[:4000].split()) >= ABSTRACT_MIN_WORDS


def _strong(pairs: list[_Pair]) -> bool:
    """Without a header, only a clear run of title/abstract pairs makes a page."""
    return len(pairs) >= STRONG_MIN_PAPERS and all(
        len(p.abstract) >= max(STRONG_MIN_CHARS, STRONG_TITLE_RATIO * len(p.title))
        and ". " in p.abstract
        and len(p.title.split()) >= STRONG_TITLE_WORDS
        and not p.title.endswith(".")
        and not p.title.startswith(("#", "*", "-", ">", "|", "`", "$", "[", "!", "="))
        for p in pairs
    )


def _paper(pair: _Pair, day: date) -> Paper:
    """The paper, with the first URL on a code host as code and the first other as project page."""
    code = project = None
    for match in _URL.finditer(pair.abstract):
        url = _clean_url(match.group())
        with suppress(ValueError):  # urlsplit rejects some malformed hosts
            host = (urlsplit(url).hostname or "").removeprefix("www.")
            if _CODE_HOST.fullmatch(host):
                code = code or url
            elif "." in host and not _NOT_PROJECT_HOST.fullmatch(host):
                project = project or url
    return Paper(pair.title, pair.abstract, code_url=code, project_url=project, digest_date=day)


def _clean_url(url: str) -> str:
    """Drop sentence punctuation and an unbalanced `)` after a URL; add a scheme if missing."""
    url = url.rstrip(_URL_TAIL)
    if url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1].rstrip(_URL_TAIL)
    return url if "://" in url else f"https://{url}"


def _q(text: str) -> str:
    """A page's text quoted for a one-line message, shorter than other sources' quotes."""
    return quote(text, 60)


parse_with_warnings = located(_parse, "page")
