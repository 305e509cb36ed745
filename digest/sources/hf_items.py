"""Daily Papers items -> Papers: the items of `/api/daily_papers` and of huggingface.co/papers.

An item is `{"paper": {"id", "title", "summary", "authors": [{"name", "hidden"}], "publishedAt",
"upvotes", "submittedOnDailyAt", "githubRepo", "projectPage", "ai_keywords", ...}, "title", ...}`.
Texts are kept as given, except that each hard line break (with the spaces around it) becomes one
space. `hidden` authors are kept: the flag hides the paper on that author's Hugging Face profile.
Unknown fields are ignored; a wrong-typed optional field or a non-http(s) URL is dropped with a
warning; an item without `paper.id` or a title is skipped with one. A non-arXiv id gives a paper
without arXiv id (known by its title). One paper per id: the first item wins.

Digest date, first found: `origin.date`; the item's `paper.submittedOnDailyAt` (absent in 2024
data); the container's (API wrapper `date`, page `dateString`); a `YYYY-MM-DD` in the last segment
of `origin.location`. Else Problem.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from digest.models import Origin, Paper, normalise_arxiv_id
from digest.sources.base import Problem, quote
from digest.sources.feed_util import arxiv_urls, http_url

MAX_UPVOTES = 10**9  # a larger "count" is not one

_BREAK = re.compile(r"\s*[\r\n]\s*")
_SURROGATE = re.compile("[\ud800-\udfff]")  # unpaired `\ud83d` escapes in JSON: not text
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_KINDS = dict(
    dict="object", list="list", str="string", bool="boolean", int="number", float="number"
)
_WANTED = {str: "a string", list: "a list", int: "a whole number"}
Reason = tuple[str, str]  # why an item was skipped: (singular, plural) predicate


def load_json(text: str, what: str = "not JSON") -> Any:
    """The parsed JSON, or Problem `what (where and why)`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Problem(f"{what} (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise Problem(f"{what} (nested too deeply to read)") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise Problem(f"{what} ({quote(str(exc))})") from None


def kind(value: object, plural: bool = False) -> str:
    """The value's JSON type for messages: `a string`, `a number`, `null`, (plural) `strings`."""
    if value is None:
        return "null"
    noun = _KINDS.get(type(value).__name__, f"Python {type(value).__name__}")
    return f"{noun}s" if plural else f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def day_in(value: object) -> date | None:
    """The date a string starts with (`2025-06-10`, `2025-06-10T00:43:01.816Z`), else None."""
    return _day(_DAY.match(value)) if isinstance(value, str) else None


def location_day(location: str) -> date | None:
    """The first valid `YYYY-MM-DD` in the last segment of a path or URL, else None."""
    for match in _DAY.finditer(location.replace("\\", "/").rsplit("/", 1)[-1]):
        if found := _day(match):
            return found
    return None


def _day(match: re.Match[str] | None) -> date | None:
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def join_lines(text: str) -> str:
    """Each hard line break with the spaces around it -> one space; outer whitespace dropped."""
    return _BREAK.sub(" ", _SURROGATE.sub("\ufffd", text)).strip()


def papers_from_items(
    items: list[Any], *, origin: Origin, fallback_date: date | None
) -> tuple[list[Paper], list[str]]:
    """The items' papers (first of each id) and warnings; Problem if no item is usable."""
    fallback = fallback_date or location_day(origin.location)
    papers: dict[str, Paper] = {}
    warnings: list[str] = []
    skipped: Counter[Reason] = Counter()
    for index, item in enumerate(items):
        if reason := _skip_reason(item):
            skipped[reason] += 1
            warnings.append(f"item {index}{_identify(item)}: skipped, it {reason[0]}")
            continue
        paper = _paper(item, _Fields(f"item {index} ({_show_id(item['paper']['id'])})", warnings))
        day = origin.date or day_in(item["paper"].get("submittedOnDailyAt")) or fallback
        if day is None:
            raise Problem(
                "no digest date (no `submittedOnDailyAt`, and no YYYY-MM-DD in the name); "
                "pass --date or set the source's `date:`"
            )
        if paper.id in papers:
            warnings.append(f"item {index}: skipped, a second item for {paper.id}")
            continue
        papers[paper.id] = dataclasses.replace(paper, digest_date=day)
    if items and not papers:
        counts = (f"{n} item {r[0]}" if n == 1 else f"{n} items {r[1]}" for r, n in skipped.items())
        raise Problem(f"no usable items: {', '.join(counts)}")
    return list(papers.values()), warnings


def _skip_reason(item: object) -> Reason | None:
    if not isinstance(item, dict):
        return f"is {kind(item)}, not an object", f"are {kind(item, plural=True)}, not objects"
    paper = item.get("paper")
    if not isinstance(paper, dict):
        return "has no `paper` object", "have no `paper` object"
    if not isinstance(paper.get("id"), str) or not paper["id"].strip():
        return "has no `paper.id` string", "have no `paper.id` string"
    return None if _title(item) else ("has no title", "have no title")


def _identify(item: object) -> str:
    """What identifies a skipped item: its id and title, or the start of a string."""
    if isinstance(item, str):
        return f" ({quote(item)})"
    paper = item.get("paper") if isinstance(item, dict) else None
    pid = paper.get("id") if isinstance(paper, dict) else None
    title = _title(item) if isinstance(item, dict) else ""
    known = [_show_id(pid)] if isinstance(pid, str) and pid.strip() else []
    known += [quote(title)] if title else []
    return f" ({', '.join(known)})" if known else ""


def _show_id(pid: str) -> str:
    """An id for a message: as is if it is an arXiv id, else quoted (and shortened)."""
    return pid.strip() if normalise_arxiv_id(pid) else quote(pid)


def _title(item: dict[Any, Any]) -> str:
    """`paper.title`, else the item's `title`, lines joined; empty if neither is a text."""
    paper = item.get("paper")
    for title in (paper.get("title") if isinstance(paper, dict) else None, item.get("title")):
        if isinstance(title, str) and title.strip():
            return join_lines(title)
    return ""


def _author_name(author: object) -> object:
    return author.get("name") if isinstance(author, dict) else None


class _Fields:
    """Reads an item's optional fields; a wrong type is a warning naming `where`, not a crash."""

    def __init__(self, where: str, warnings: list[str]) -> None:
        self.where, self.warnings = where, warnings

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.where}: {message}")

    def get(self, obj: dict[Any, Any], key: str, wanted: type) -> Any:
        """`obj[key]` if it is a `wanted` (bools are not numbers), None if absent or not."""
        value = obj.get(key)
        if value is None or (isinstance(value, wanted) and not isinstance(value, bool)):
            return value
        self.warn(f"`{key}` is {kind(value)}, not {_WANTED[wanted]}; ignored")
        return None

    def url(self, obj: dict[Any, Any], key: str) -> str | None:
        value = self.get(obj, key, str)
        url = http_url(value)
        if value and value.strip() and url is None:
            self.warn(f"`{key}` {quote(value)} is not an http(s) URL; dropped")
        return url

    def texts(self, values: list[Any] | None, key: str, pick: Any = None) -> tuple[str, ...]:
        """The non-blank strings among `values` (or `pick(value)`), lines joined."""
        picked = [pick(v) if pick else v for v in values or []]
        kept = tuple(join_lines(v) for v in picked if isinstance(v, str) and v.strip())
        if len(kept) < len(picked):
            self.warn(f"`{key}`: {len(picked) - len(kept)} of {len(picked)} are not names/words")
        return kept

    def upvotes(self, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_UPVOTES:
            self.warn(f"`upvotes` {value if abs(value) < 10**12 else '(huge)'} is not a count")
            return None
        return value

    def published(self, value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            self.warn(f"`publishedAt` {quote(value)} is not an ISO 8601 time; ignored")
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _paper(item: dict[Any, Any], fields: _Fields) -> Paper:
    """The paper of a usable item (see `_skip_reason`), without its digest date."""
    paper: dict[Any, Any] = item["paper"]
    arxiv_id = normalise_arxiv_id(paper["id"])
    if arxiv_id is None:
        fields.warn("`paper.id` is not an arXiv id; kept without one (known by its title)")
    abstract = fields.get(paper, "summary", str) or fields.get(item, "summary", str)
    if not abstract:
        fields.warn("no `summary`; the abstract is empty")
    url, pdf_url = arxiv_urls(arxiv_id) if arxiv_id else (None, None)
    return Paper(
        title=_title(item),
        abstract=join_lines(abstract or ""),
        arxiv_id=arxiv_id,
        authors=fields.texts(fields.get(paper, "authors", list), "authors", _author_name),
        url=url,
        pdf_url=pdf_url,
        code_url=fields.url(paper, "githubRepo"),
        project_url=fields.url(paper, "projectPage"),
        keywords=fields.texts(fields.get(paper, "ai_keywords", list), "ai_keywords"),
        published=fields.published(fields.get(paper, "publishedAt", str)),
        upvotes=fields.upvotes(fields.get(paper, "upvotes", int)),
    )
