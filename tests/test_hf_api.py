"""digest.sources.hf_api: the Daily Papers API (`/api/daily_papers`) and broken mirror files."""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from helpers import FIXTURES

from digest.errors import SourceError
from digest.models import Origin, Paper
from digest.sources import hf_api

DAYS = FIXTURES / "hf_api"
BAD = FIXTURES / "hf_api_bad"
TODAY = date(2026, 1, 1)
DAY_COUNTS = {
    "2024-06-03.json": 6,
    "2024-11-18.json": 6,
    "2025-01-02.json": 3,
    "2025-03-17.json": 12,
    "2025-05-15.json": 3,
    "2025-06-10.json": 28,
}
BAD_FILES = sorted(path.name for path in BAD.glob("*.json"))


def origin(location: str = "hf_api/2025-01-02.json", day: date | None = None) -> Origin:
    return Origin(source="hf", location=location, today=TODAY, date=day)


def day_file(name: str, day: date | None = None) -> tuple[list[Paper], list[str]]:
    data = (DAYS / name).read_bytes()
    return hf_api.parse_with_warnings(data, origin=origin(f"hf_api/{name}", day))


def items(name: str) -> list[Any]:
    value: list[Any] = json.loads((DAYS / name).read_text("utf-8"))
    return value


def parse_items(value: object, location: str = "hf_api/2025-01-02.json", **kwargs: Any):
    data = json.dumps(value).encode()
    papers, warnings = hf_api.parse_with_warnings(data, origin=origin(location, **kwargs))
    assert all(w.startswith(f"{location}: ") and "\n" not in w for w in warnings)
    return papers, warnings


def error(data: bytes, location: str = "in/x.json") -> str:
    """The SourceError for `data`, checked to be one line starting with the location."""
    with pytest.raises(SourceError) as caught:
        hf_api.parse(data, origin=origin(location))
    message = str(caught.value)
    assert message.startswith(f"{location}: ")
    assert "\n" not in message and "\r" not in message
    return message


def by_id(papers: list[Paper], arxiv_id: str) -> Paper:
    (found,) = [paper for paper in papers if paper.arxiv_id == arxiv_id]
    return found


# Real days.


@pytest.mark.parametrize("name", sorted(DAY_COUNTS))
def test_every_real_day_parses_cleanly(name: str) -> None:
    papers, warnings = day_file(name)
    assert warnings == []
    assert len(papers) == DAY_COUNTS[name] == len(items(name))
    assert [p.arxiv_id for p in papers] == [item["paper"]["id"] for item in items(name)]
    assert {p.digest_date for p in papers} == {date.fromisoformat(name[:10])}
    for paper in papers:
        assert paper.title and paper.abstract and paper.authors and paper.published
        assert "\n" not in paper.title + paper.abstract + "".join(paper.authors)
        assert paper.url == f"https://arxiv.org/abs/{paper.arxiv_id}"
        assert paper.pdf_url == f"https://arxiv.org/pdf/{paper.arxiv_id}"


def test_a_2025_day_field_by_field() -> None:
    papers, _ = day_file("2025-06-10.json")
    assert (papers[0].arxiv_id, papers[-1].arxiv_id) == ("2506.08007", "2505.23473")
    first = papers[0]
    assert first.title == "Reinforcement Pre-Training"
    assert first.abstract.startswith(
        "In this work, we introduce Reinforcement Pre-Training (RPT) as a new scaling paradigm for "
        "large language models and reinforcement learning (RL). Specifically, we reframe"
    )
    assert first.authors == (
        "Qingxiu Dong", "Li Dong", "Yao Tang", "Tianzhu Ye", "Yutao Sun", "Zhifang Sui", "Furu Wei",
    )  # fmt: skip
    assert first.upvotes == 97
    assert first.published == datetime(2025, 6, 9, 17, 59, 53, tzinfo=UTC)
    assert first.digest_date == date(2025, 6, 10)  # submittedOnDailyAt 2025-06-10T00:43:01.816Z
    assert first.keywords[:2] == ("Reinforcement Pre-Training (RPT)", "next-token prediction")
    assert len(first.keywords) == 8 and first.code_url is None and first.project_url is None
    assert first.id == "arxiv:2506.08007"
    minicpm = by_id(papers, "2506.07900")
    assert minicpm.code_url == "https://github.com/openbmb/minicpm"
    assert minicpm.project_url == (
        "https://huggingface.co/collections/openbmb/minicpm4-6841ab29d180257e940baa9b"
    )
    assert by_id(papers, "2505.23473").upvotes == 0


def test_titles_with_hard_line_breaks_are_joined_with_one_space() -> None:
    papers, _ = day_file("2025-06-10.json")
    # raw: "Lingshu: ... Unified Multimodal Medical\n  Understanding and Reasoning"
    assert by_id(papers, "2506.07044").title == (
        "Lingshu: A Generalist Foundation Model for Unified Multimodal Medical Understanding and "
        "Reasoning"
    )
    old, _ = day_file("2024-06-03.json")
    assert by_id(old, "2405.21060").title == (
        "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured "
        "State Space Duality"
    )


@pytest.mark.parametrize("name", sorted(DAY_COUNTS))
def test_abstract_line_breaks_become_one_space_and_nothing_else_changes(name: str) -> None:
    papers, _ = day_file(name)
    for item, paper in zip(items(name), papers, strict=True):
        assert paper.abstract == re.sub(r"\s*\n\s*", " ", item["paper"]["summary"]).strip()


def test_the_video_mme_abstract_keeps_its_project_page_on_the_same_line() -> None:
    papers, _ = day_file("2024-06-03.json")
    video_mme = by_id(papers, "2405.21075")
    assert video_mme.abstract.endswith(
        "multi-modal data. Project Page: https://video-mme.github.io"
    )
    assert video_mme.title.startswith("Video-MME: The First-Ever Comprehensive Evaluation")


def test_a_2024_day_takes_its_date_from_the_file_name() -> None:
    papers, warnings = day_file("2024-06-03.json")
    assert warnings == []
    assert [p.arxiv_id for p in papers] == [
        "2405.21060", "2405.21075", "2405.21048", "2405.20674", "2405.20541", "2405.18144",
    ]  # fmt: skip
    assert [p.upvotes for p in papers] == [27, 10, 8, 6, 5, 4]
    assert {p.digest_date for p in papers} == {date(2024, 6, 3)}
    assert all(p.keywords == () and p.code_url is None for p in papers)  # not in 2024 data


def test_hidden_authors_keep_their_names() -> None:
    papers, _ = day_file("2024-11-18.json")  # Siyuan Hu is `hidden: true`
    assert by_id(papers, "2411.10323").authors == (
        "Siyuan Hu",
        "Mingyu Ouyang",
        "Difei Gao",
        "Mike Zheng Shou",
    )


def test_urls_are_kept_trimmed() -> None:
    papers, warnings = day_file("2025-03-17.json")
    assert warnings == []
    adc = by_id(papers, "2503.11646")  # projectPage " https://sites.google.com/view/adc-robot"
    assert (adc.code_url, adc.project_url) == (None, "https://sites.google.com/view/adc-robot")
    assert adc.keywords[0] == "Adversarial Data Collection" and len(adc.keywords) == 12
    flowtok = by_id(papers, "2503.10772")
    assert flowtok.code_url == "https://github.com/bytedance/1d-tokenizer/"
    assert flowtok.project_url == "https://tacju.github.io/projects/flowtok.html"


# Digest dates.


def test_the_given_date_wins_over_submitted_on_daily_at() -> None:
    papers, _ = day_file("2025-06-10.json", date(2025, 6, 11))
    assert {p.digest_date for p in papers} == {date(2025, 6, 11)}


def test_submitted_on_daily_at_wins_over_the_file_name() -> None:
    papers, _ = parse_items(items("2025-05-15.json"), "downloads/2025-01-01.json")
    assert {p.digest_date for p in papers} == {date(2025, 5, 15)}


def test_a_url_with_the_date_in_its_query_names_the_day() -> None:
    url = "https://huggingface.co/api/daily_papers?date=2024-06-03"
    papers, _ = parse_items(items("2024-06-03.json"), url)
    assert {p.digest_date for p in papers} == {date(2024, 6, 3)}


def test_without_any_date_the_file_asks_for_one() -> None:
    message = error((DAYS / "2024-06-03.json").read_bytes(), "downloads/today.json")
    assert "no digest date" in message and "--date" in message
    papers, _ = parse_items(items("2024-06-03.json"), "today.json", day=date(2024, 6, 4))
    assert len(papers) == 6


def test_the_wrapped_form_gives_its_date_to_items_without_one() -> None:
    wrapped = {
        "status": "success",
        "date": "2024-06-03",
        "count": 6,
        "data": items("2024-06-03.json"),
    }
    papers, warnings = parse_items(wrapped, "https://mirror.example/api")
    assert len(papers) == 6 and warnings == []
    assert {p.digest_date for p in papers} == {date(2024, 6, 3)}
    wrapped["count"] = 7
    _, warnings = parse_items(wrapped, "https://mirror.example/api")
    assert warnings == [
        "https://mirror.example/api: the wrapper's `count` is 7 but `data` has 6 items"
    ]


# The mirror's broken files: every item a Python repr string.


@pytest.mark.parametrize("name", BAD_FILES)
def test_every_bad_file_is_read_back_cleanly(name: str) -> None:
    raw = json.loads((BAD / name).read_text("utf-8"))
    stored = raw["data"] if isinstance(raw, dict) else raw
    papers, warnings = hf_api.parse_with_warnings(
        (BAD / name).read_bytes(), origin=origin(f"hf_api_bad/{name}")
    )
    assert all(isinstance(item, str) for item in stored)
    assert len(papers) == len(stored)
    assert warnings == [
        f"hf_api_bad/{name}: {len(stored)} of {len(stored)} items are objects stored as strings "
        "(Python repr), not JSON objects; read them back as literals"
    ]
    assert all(p.arxiv_id and p.title and p.abstract and p.authors for p in papers)
    assert {p.digest_date for p in papers} == {date.fromisoformat(name[:10])}


def test_a_bad_file_gives_the_same_papers_as_the_good_copy_of_its_day() -> None:
    bad = hf_api.parse((BAD / "2025-01-02.json").read_bytes(), origin=origin())
    good = hf_api.parse((DAYS / "2025-01-02.json").read_bytes(), origin=origin())
    assert bad == good and len(good) == 3


def test_the_wrapped_bad_file_uses_its_date() -> None:
    papers = hf_api.parse((BAD / "2025-01-10.json").read_bytes(), origin=origin("bad.json"))
    assert len(papers) == 9 and {p.digest_date for p in papers} == {date(2025, 1, 10)}


def test_strings_that_are_not_objects_make_no_usable_items() -> None:
    message = error(b'["(", "{1: (2", "2506.08007", "{\'a\': __import__(\'os\')}"]')
    assert message == "in/x.json: no usable items: 4 items are strings, not objects"
    message = error(b'["{\'paper\': 1}", "("]')
    assert message == (
        "in/x.json: no usable items: 1 item has no `paper` object, "
        "1 item is a string, not an object"
    )


def test_some_unreadable_strings_among_good_items_are_skipped() -> None:
    good = items("2025-01-02.json")
    mixed = [repr(good[0]), "not an item", json.dumps(good[1]), good[2]]
    papers, warnings = parse_items(mixed)
    assert [p.arxiv_id for p in papers] == ["2412.19723", "2412.19638", "2412.20735"]
    assert warnings[0].endswith("2 of 4 items are objects stored as strings (Python repr), "
                                "not JSON objects; read them back as literals")  # fmt: skip
    assert warnings[1] == (
        'hf_api/2025-01-02.json: item 1 ("not an item"): skipped, it is a string, not an object'
    )


# Items: skipped, duplicated, wrong types.


def test_items_without_id_or_title_or_not_objects_are_skipped_with_a_warning() -> None:
    value = items("2025-01-02.json")
    del value[0]["paper"]["id"]
    value[1]["paper"]["title"] = "  "
    value[1]["title"] = None
    value += [42, None, {"title": "no paper"}]
    papers, warnings = parse_items(value)
    assert [p.arxiv_id for p in papers] == ["2412.20735"]
    assert [w.split(": ", 1)[1] for w in warnings] == [
        'item 0 ("OS-Genesis: Automating GUI Agent Trajectory Construction via Reverse Task '
        'Synthesis"): '
        "skipped, it has no `paper.id` string",
        "item 1 (2412.19638): skipped, it has no title",
        "item 3: skipped, it is a number, not an object",
        "item 4: skipped, it is null, not an object",
        'item 5 ("no paper"): skipped, it has no `paper` object',
    ]


def test_the_item_title_and_summary_stand_in_for_the_papers() -> None:
    value = items("2025-01-02.json")[:1]
    paper = value[0]["paper"]
    value[0]["title"], paper["title"] = "Item\n  title", 7
    value[0]["summary"], paper["summary"] = "Item summary.", None
    (found,), warnings = parse_items(value)
    assert (found.title, found.abstract) == ("Item title", "Item summary.")
    assert warnings == []


def test_wrong_types_in_optional_fields_are_dropped_with_warnings() -> None:
    value = items("2025-01-02.json")[:1]
    paper = value[0]["paper"]
    paper.update(
        upvotes="many",
        authors=[{"name": "A. Author"}, {"name": 3}, "B. Author", {"hidden": True}],
        githubRepo="javascript:alert(1)",
        projectPage=["https://x.org"],
        ai_keywords=["ok", 1, None, "also\nok"],
        publishedAt="yesterday",
    )
    del paper["summary"]
    (found,), warnings = parse_items(value)
    assert found.upvotes is None and found.code_url is None and found.project_url is None
    assert found.authors == ("A. Author",) and found.keywords == ("ok", "also ok")
    assert found.published is None and found.abstract == ""
    assert found.title.startswith("OS-Genesis: Automating GUI Agent Trajectory Construction")
    assert [w.split(": ", 2)[2] for w in warnings] == [
        "no `summary`; the abstract is empty",
        "`authors`: 3 of 4 are not names/words",
        '`githubRepo` "javascript:alert(1)" is not an http(s) URL; dropped',
        "`projectPage` is a list, not a string; ignored",
        "`ai_keywords`: 2 of 4 are not names/words",
        '`publishedAt` "yesterday" is not an ISO 8601 time; ignored',
        "`upvotes` is a string, not a whole number; ignored",
    ]
    assert all(w.startswith("hf_api/2025-01-02.json: item 0 (2412.19723): ") for w in warnings)


@pytest.mark.parametrize(
    ("upvotes", "warning"),
    [(True, "is a boolean"), (1.5, "is a number, not a whole number"), (-1, "-1 is not a count"),
     (10**40, "(huge) is not a count"), (float("inf"), "is a number")],
)  # fmt: skip
def test_odd_upvotes_are_dropped(upvotes: object, warning: str) -> None:
    value = items("2025-01-02.json")[:1]
    value[0]["paper"]["upvotes"] = upvotes
    (found,), warnings = parse_items(value)
    assert found.upvotes is None and len(warnings) == 1 and warning in warnings[0]


def test_a_naive_published_time_is_read_as_utc() -> None:
    value = items("2025-01-02.json")[:1]
    value[0]["paper"]["publishedAt"] = "2024-12-27T16:21:58"
    (found,), _ = parse_items(value)
    assert found.published == datetime(2024, 12, 27, 16, 21, 58, tzinfo=UTC)


def test_an_id_that_is_not_arxiv_keeps_the_paper_by_its_title() -> None:
    value = items("2025-01-02.json")[:1]
    value[0]["paper"]["id"] = "hf-internal-123"
    (found,), warnings = parse_items(value)
    assert found.arxiv_id is None and found.url is None and found.pdf_url is None
    assert found.id.startswith("title:")
    assert warnings == [
        'hf_api/2025-01-02.json: item 0 ("hf-internal-123"): `paper.id` is not an arXiv id; '
        "kept without one (known by its title)"
    ]


def test_duplicate_items_are_one_paper() -> None:
    value = items("2025-01-02.json")
    papers, warnings = parse_items(value + value[:1])
    assert [p.arxiv_id for p in papers] == ["2412.19723", "2412.19638", "2412.20735"]
    assert warnings == [
        "hf_api/2025-01-02.json: item 3: skipped, a second item for arxiv:2412.19723"
    ]
    versioned = copy.deepcopy(value[:1])
    versioned[0]["paper"]["id"] = "2412.19723v2"
    papers, _ = parse_items(value + versioned)
    assert len(papers) == 3


def test_unpaired_surrogates_become_replacement_characters() -> None:
    value = items("2025-01-02.json")[:1]
    value[0]["paper"]["title"] = "Broken \ud83d title"
    (found,), _ = parse_items(value)
    assert found.title == "Broken \ufffd title"
    found.title.encode("utf-8")


# Hostile input: one-line SourceErrors, never anything else.


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file"),
        (b" \n\t", "empty file (only whitespace)"),
        (b"\xff\xfe[\x00]\x00", "not UTF-8 text (binary? it contains NUL bytes)"),
        (b"\xff\xfe[]", "not UTF-8 text (binary? invalid byte at offset 0)"),
        (bytes(range(32)) * 4, "not UTF-8 text (binary? it contains NUL bytes)"),
        (bytes(range(1, 32)) * 4, "not text (binary?"),
        (b"<html>nope</html>", "not JSON (line 1 column 1: Expecting value)"),
        (b"[{]", "not JSON (line 1 column 3"),
        (b"{}", "a JSON object without a `data` list (keys: none), not a Daily Papers response"),
        (b'{"papers": [], "a": 1}', "without a `data` list (keys: `papers`, `a`)"),
        (b'{"error": "Invalid date"}', 'an API error, not papers: "Invalid date"'),
        (b'"str"', "the JSON is a string, not a list of Daily Papers items"),
        (b"null", "the JSON is null, not a list"),
        (b"[" * 100_000, "not JSON (nested too deeply to read)"),
        (b"9" * 100_000, "not JSON (\"Exceeds the limit"),
        (b"[1e999999, true, []]", "no usable items: 1 item is a number, not an object, "
         "1 item is a boolean, not an object, 1 item is a list, not an object"),
        (b"[{}]", "no usable items: 1 item has no `paper` object"),
        (b'[{"paper": {"id": 2506.08007, "title": "T"}}]', "1 item has no `paper.id` string"),
        (b'[{"paper": {"id": "2506.08007"}}, {"paper": {"id": "2506.08008"}}]',
         "no usable items: 2 items have no title"),
    ],
)  # fmt: skip
def test_hostile_input_is_a_one_line_source_error(data: bytes, expected: str) -> None:
    assert expected in error(data)


def test_an_empty_list_is_zero_papers() -> None:
    assert hf_api.parse_with_warnings(b"[]", origin=origin("today.json")) == ([], [])
    assert hf_api.parse(b'{"status": "success", "data": []}', origin=origin()) == []


def test_deeply_nested_repr_strings_are_refused_quietly() -> None:
    deep = ["{'a': " + "-" * 100_000 + "1}", "{'a': " + "[" * 100_000 + "}", "{" * 2_000_000]
    assert "3 items are strings, not objects" in error(json.dumps(deep).encode())


_ODD_VALUES: list[object] = [
    None, True, 0, -5, 1.5, 10**30, "", "  ", "x\ny", "\ud800", [], [None], {}, {"name": 1},
    "ftp://x", "https://ok.example/a b", "2025-13-45", "2025-06-10T25:00:00Z",
]  # fmt: skip


def _mutate(value: Any, rng: random.Random) -> Any:
    """The value with one random node (at any depth) replaced by an odd value."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate(value[index], rng), *value[index + 1 :]]
    return rng.choice(_ODD_VALUES)


def test_random_odd_values_anywhere_in_real_items_never_crash() -> None:
    rng = random.Random(20250610)
    base = items("2025-06-10.json")[:4]
    for _ in range(1500):
        mutated = base
        for _ in range(rng.randint(1, 6)):
            mutated = _mutate(mutated, rng)
        data = json.dumps(mutated).encode()
        try:
            papers, warnings = hf_api.parse_with_warnings(data, origin=origin("m/2025-06-10.json"))
        except SourceError as exc:
            assert str(exc).startswith("m/2025-06-10.json: ") and "\n" not in str(exc)
            assert "could not read" not in str(exc)  # the last-resort catch: a bug
            continue
        assert all(w.startswith("m/2025-06-10.json: ") and "\n" not in w for w in warnings)
        assert all(isinstance(p.title, str) and p.title for p in papers)


def test_random_damage_to_the_bytes_never_crashes() -> None:
    rng = random.Random(7)
    data = (DAYS / "2025-01-02.json").read_bytes()
    for _ in range(400):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cut = bytes(damaged[: rng.randrange(len(damaged) + 1)]) if rng.random() < 0.3 else damaged
        try:
            hf_api.parse(bytes(cut), origin=origin())
        except SourceError as exc:
            assert str(exc).startswith("hf_api/2025-01-02.json: ") and "\n" not in str(exc)
            assert "could not read" not in str(exc)
