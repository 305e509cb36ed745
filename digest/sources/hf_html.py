"""A huggingface.co/papers list page -> Papers, from the data the page embeds for its list.

Every list page (`/papers/date/YYYY-MM-DD`, `/papers/week/...`, `/papers/month/...`, trending)
carries its papers in one element, `<div class="SVELTE_HYDRATER contents" data-target="DailyPapers"
data-props="{HTML-escaped JSON}">`; the JSON's `dailyPapers` are items shaped like the API's (see
`hf_items`) and its `dateString` is the digest date of items without `submittedOnDailyAt`. Other
hydrated elements (`MainHeader`, ...) are not the papers, and the visible card markup (which changes
every year and has no abstracts) is never scraped. A page without the element is a SourceError.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from digest.models import Origin, Paper
from digest.sources.base import Problem, decode_text, located, quote
from digest.sources.hf_items import day_in, kind, load_json, papers_from_items

TARGET = "DailyPapers"
SHOWN_TARGETS = 5  # other hydrated elements named in the error


class _Hydrated(HTMLParser):
    """Collects the `data-target` and `data-props` of every element that has a `data-target`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, str | None] = {}
        for name, value in attrs:
            values.setdefault(name, value)  # a repeated attribute: the first wins, as in browsers
        target = values.get("data-target")
        if target is not None:
            self.found.append((target, values.get("data-props")))

    def parse_html_declaration(self, i: int) -> int:
        """`<![foo ...>` is a bogus comment in HTML; the stdlib asserts on it instead."""
        try:
            return super().parse_html_declaration(i)
        except AssertionError:
            return self.parse_bogus_comment(i)


def parse(data: bytes, *, origin: Origin) -> list[Paper]:
    """The papers only; see `parse_with_warnings` for what was skipped or looks wrong."""
    return parse_with_warnings(data, origin=origin)[0]


def _parse(data: bytes, origin: Origin) -> tuple[list[Paper], list[str]]:
    props, warnings = _props(decode_text(data))
    items = props.get("dailyPapers")
    if not isinstance(items, list):
        raise Problem(f"the {TARGET} data has no `dailyPapers` list")
    papers, more = papers_from_items(
        items, origin=origin, fallback_date=day_in(props.get("dateString"))
    )
    return papers, warnings + more


def _props(text: str) -> tuple[dict[Any, Any], list[str]]:
    """The JSON object of the first DailyPapers element, and warnings; Problem without one."""
    parser = _Hydrated()
    parser.feed(text)
    parser.close()
    props = [value for target, value in parser.found if target == TARGET]
    if not props:
        others = sorted({target for target, _ in parser.found})
        named = ", ".join(quote(t) for t in others[:SHOWN_TARGETS]) + (
            ", ..." if others[SHOWN_TARGETS:] else ""
        )
        seen = f"; hydrated elements: {named}" if others else ""
        raise Problem(f"no {TARGET} data in page (not a huggingface.co/papers list page?{seen})")
    if not props[0] or not props[0].strip():
        raise Problem(f"the {TARGET} element has no `data-props`")
    value = load_json(props[0], what=f"the {TARGET} `data-props` are not JSON")
    if not isinstance(value, dict):
        raise Problem(f"the {TARGET} `data-props` are {kind(value)}, not a JSON object")
    extra = [f"{len(props)} {TARGET} elements in page; read the first"] if len(props) > 1 else []
    return value, extra


parse_with_warnings = located(_parse, "page")
