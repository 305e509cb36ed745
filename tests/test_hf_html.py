"""digest.sources.hf_html: huggingface.co/papers pages, read from their DailyPapers data."""

from __future__ import annotations

import html
import json
import random
from datetime import date
from typing import Any

import pytest
from helpers import FIXTURES

from digest.errors import SourceError
from digest.models import Origin, Paper
from digest.sources import hf_api, hf_html

PAGE = FIXTURES / "hf_html" / "papers_date_2025-06-10.synthetic.html"
DAYS = FIXTURES / "hf_api"
TODAY = date(2026, 1, 1)


def origin(location: str = "pages/papers.html", day: date | None = None) -> Origin:
    return Origin(source="hf", location=location, today=TODAY, date=day)


def items(name: str) -> list[Any]:
    value: list[Any] = json.loads((DAYS / name).read_text("utf-8"))
    return value


def element(props: object, target: str = "DailyPapers", before: str = "") -> str:
    """A hydrater element as the site writes it: the JSON HTML-escaped in a quoted attribute."""
    escaped = html.escape(json.dumps(props), quote=True)
    return (
        f'<div class="SVELTE_HYDRATER contents" {before}data-target="{target}" '
        f'data-props="{escaped}"></div>'
    )


def page(*elements: str) -> bytes:
    head = "<!doctype html><html><head><title>Daily Papers</title></head>"
    return f"{head}<body>{chr(10).join(elements)}</body></html>".encode()


def parse(data: bytes, location: str = "pages/papers.html", **kwargs: Any):
    papers, warnings = hf_html.parse_with_warnings(data, origin=origin(location, **kwargs))
    assert all(w.startswith(f"{location}: ") and "\n" not in w for w in warnings)
    return papers, warnings


def error(data: bytes, location: str = "pages/papers.html") -> str:
    """The SourceError for `data`, checked to be one line starting with the location."""
    with pytest.raises(SourceError) as caught:
        hf_html.parse(data, origin=origin(location))
    message = str(caught.value)
    assert message.startswith(f"{location}: ")
    assert "\n" not in message and "\r" not in message
    return message


def test_the_sample_page_gives_the_papers_of_its_api_day() -> None:
    from_page, warnings = parse(PAGE.read_bytes(), f"hf_html/{PAGE.name}")
    from_api = hf_api.parse((DAYS / "2025-06-10.json").read_bytes(), origin=origin("x.json"))
    assert warnings == [] and len(from_page) == 28
    assert [(p.id, p.title) for p in from_page] == [(p.id, p.title) for p in from_api]
    assert from_page == from_api
    first: Paper = from_page[0]
    assert (first.arxiv_id, first.title, first.upvotes) == (
        "2506.08007",
        "Reinforcement Pre-Training",
        97,
    )
    assert first.digest_date == date(2025, 6, 10)


def test_the_page_date_string_dates_items_without_submitted_on_daily_at() -> None:
    props = {
        "dateString": "2024-06-03",
        "periodType": "day",
        "dailyPapers": items("2024-06-03.json"),
    }
    papers, _ = parse(page(element(props)), "https://huggingface.co/papers")
    assert len(papers) == 6 and {p.digest_date for p in papers} == {date(2024, 6, 3)}
    del props["dateString"]
    papers, _ = parse(page(element(props)), "https://huggingface.co/papers/date/2024-06-04")
    assert {p.digest_date for p in papers} == {date(2024, 6, 4)}
    assert "no digest date" in error(page(element(props)), "https://huggingface.co/papers")


def test_a_week_page_keeps_each_items_own_day() -> None:
    props = {
        "dateString": "2025-W24",
        "periodType": "week",
        "dailyPapers": items("2025-05-15.json")[:1] + items("2025-06-10.json")[:1],
    }
    papers, _ = parse(page(element(props)), "https://huggingface.co/papers/week/2025-W24")
    assert [p.digest_date for p in papers] == [date(2025, 5, 15), date(2025, 6, 10)]


def test_the_element_is_found_whatever_the_attribute_order_and_quoting() -> None:
    item = items("2025-01-02.json")[0]
    props = json.dumps({"dailyPapers": [item], "dateString": "2025-01-02"})
    single = props.replace("&", "&amp;").replace("'", "&#39;")
    pages = [
        f"<div data-props='{single}' class=\"SVELTE_HYDRATER contents\" data-target=DailyPapers>",
        f"<DIV DATA-TARGET='DailyPapers' DATA-PROPS='{single}'/>",
        f'<section data-target="DailyPapers" data-props="{html.escape(props)}" hidden></section>',
    ]
    for markup in pages:
        (paper,), warnings = parse(f"<html><body>{markup}</body></html>".encode())
        assert (paper.arxiv_id, paper.digest_date, warnings) == ("2412.19723", date(2025, 1, 2), [])


def test_other_hydrated_elements_are_not_the_papers() -> None:
    header = element({"dailyPapers": items("2025-01-02.json")}, target="MainHeader")
    message = error(page(header, element({}, target="DailyPapersX")))
    assert message == (
        "pages/papers.html: no DailyPapers data in page (not a huggingface.co/papers list page?; "
        'hydrated elements: "DailyPapersX", "MainHeader")'
    )
    props = {"dailyPapers": items("2025-01-02.json"), "dateString": "2025-01-02"}
    papers, _ = parse(page(header, element(props)))
    assert len(papers) == 3


def test_two_daily_papers_elements_use_the_first_with_a_warning() -> None:
    one = {"dailyPapers": items("2025-01-02.json")[:1]}
    two = {"dailyPapers": items("2025-01-02.json")}
    papers, warnings = parse(page(element(one), element(two)), "p/2025-01-02.html")
    assert len(papers) == 1
    assert warnings == ["p/2025-01-02.html: 2 DailyPapers elements in page; read the first"]


def test_an_empty_list_is_zero_papers_but_no_element_is_an_error() -> None:
    assert parse(page(element({"dailyPapers": []})), "p/2025-01-02.html") == ([], [])
    assert "no DailyPapers data in page" in error(b"<html><body><p>Hello</p></body></html>")


def test_markup_the_stdlib_parser_chokes_on_does_not_hide_the_data() -> None:
    props = {"dailyPapers": items("2025-01-02.json")}
    papers, _ = parse(page("<![foo bar]>", "<![ x]>", element(props)), "p/2025-01-02.html")
    assert len(papers) == 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", "not UTF-8 text"),
        (page(element({}, target="MainHeader")), 'no DailyPapers data in page (not a '
         'huggingface.co/papers list page?; hydrated elements: "MainHeader")'),
        (b'<div data-target="DailyPapers"></div>', "the DailyPapers element has no `data-props`"),
        (b'<div data-target="DailyPapers" data-props="{not json"></div>',
         "the DailyPapers `data-props` are not JSON (line 1 column 2"),
        (b'<div data-target="DailyPapers" data-props="[1]"></div>',
         "the DailyPapers `data-props` are a list, not a JSON object"),
        (b'<div data-target="DailyPapers" data-props="{}"></div>',
         "the DailyPapers data has no `dailyPapers` list"),
        (b'<div data-target="DailyPapers" data-props="' + b"[" * 100_000 + b'"></div>',
         "not JSON (nested too deeply to read)"),
        (page(element({"dailyPapers": ["{'paper': 1}", 3]})),
         "no usable items: 1 item is a string, not an object, 1 item is a number, not an object"),
        (b'<script>x = \'<div data-target="DailyPapers" data-props="{}">\'</script>',
         "no DailyPapers data in page"),
    ],
)  # fmt: skip
def test_pages_without_usable_data_are_one_line_errors(data: bytes, expected: str) -> None:
    assert expected in error(data)


def test_random_markup_never_crashes() -> None:
    rng = random.Random(11)
    pieces = [
        "<", "</", ">", "<!", "<![", "<!--", "-->", "<?", "]]>", "<![CDATA[", "div", " ", "=",
        "'", '"', "&", "&#", "&#x", "&amp;", ";", "\x00", "<script>", "</script>", "<!DOCTYPE",
        "[", "]", "/", 'data-target="DailyPapers"', "data-props=", "&quot;", "{", "}", "<![foo",
    ]  # fmt: skip
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        try:
            hf_html.parse(text.encode(), origin=origin())
        except SourceError as exc:
            assert str(exc).startswith("pages/papers.html: ") and "\n" not in str(exc)
            assert "could not read" not in str(exc)  # the last-resort catch: a bug


def test_random_damage_to_the_sample_page_never_crashes() -> None:
    rng = random.Random(3)
    data = PAGE.read_bytes()
    for _ in range(100):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 10)):
            damaged[rng.randrange(len(damaged))] = rng.choice(b"<>\"'&;{}[]x\x00")
        try:
            papers, _ = hf_html.parse_with_warnings(bytes(damaged), origin=origin())
        except SourceError as exc:
            assert "\n" not in str(exc) and "could not read" not in str(exc)
            continue
        assert all(p.title for p in papers)
