"""Small pure helpers the site pages share: English dates, page-relative URLs, pagination.

Dates are spelled from the fixed tables of `digest.render.dates`, never from the process locale.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from digest.render.dates import MONTHS, WEEKDAYS

T = TypeVar("T")


def long_date(day: date) -> str:
    """`Wednesday 20 August 2025`."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def month_name(month: int) -> str:
    return MONTHS[month - 1]


def page_dir(path: str) -> str:
    """The directory a page is served as, relative to the site root: `page/2/index.html` ->
    `page/2/`, `index.html` -> ``."""
    head, _, _ = path.rpartition("/")
    return f"{head}/" if head else ""


def relative(url: str, *, base: str, here: str) -> str:
    """A site URL made relative to the page at directory `here`, so the site works from any host,
    port or folder; URLs outside the site are returned as they are."""
    if not url.startswith(base):
        return url
    rest = url[len(base) :]
    return "../" * here.count("/") + rest or "./"


def window(current: int, last: int, span: int = 2) -> list[int | None]:
    """Page numbers to offer around `current`: the first, the last, `span` either side, and None
    where numbers are left out (`[1, None, 4, 5, 6, 7, 8, None, 20]`)."""
    keep = {1, last, *range(current - span, current + span + 1)}
    out: list[int | None] = []
    previous = 0
    for number in sorted(n for n in keep if 1 <= n <= last):
        if number - previous > 1:
            out.append(None)
        out.append(number)
        previous = number
    return out


def chunks(items: list[T], size: int) -> list[list[T]]:
    """`items` in runs of `size`; one empty run for no items, so a site always has a first page."""
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
