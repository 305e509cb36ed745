"""digest.sources.hf_text: text renderings of Hugging Face Daily Papers pages."""

from __future__ import annotations

import json
import random
import time
from datetime import date
from pathlib import Path

import pytest

from digest import sources
from digest.errors import SourceError
from digest.models import Origin, Paper
from digest.sources import hf_text

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
BAD = FIXTURES / "bad"
PAGE_000 = "000_136fd171620bccff.txt"
PAGE_002 = "002_3cd0b1d1c34a916a.txt"
PAGE_003 = "003_76e8db34f89bd5b9.txt"
TODAY = date(2025, 9, 1)
ABSTRACT = (
    "We study a problem in depth and propose a simple method that works well across many "
    "settings. Experiments on four benchmarks show that it beats strong baselines by a wide margin."
)


def origin(location: str = "examples/page.txt", *, today: date = TODAY, day: date | None = None):
    return Origin(source="hf", location=location, today=today, date=day)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def parse_page(name: str, **kwargs: date) -> tuple[list[Paper], list[str]]:
    return hf_text.parse_with_warnings(page(name), origin=origin(f"pages/{name}", **kwargs))


def error(data: bytes, location: str = "examples/x.txt", **kwargs: date) -> str:
    """The SourceError message for `data`, checked to be one line naming the location."""
    with pytest.raises(SourceError) as caught:
        hf_text.parse(data, origin=origin(location, **kwargs))
    message = str(caught.value)
    assert message.startswith(f"{location}: ")
    assert "\n" not in message and "\r" not in message
    return message


def by_title(papers: list[Paper], title: str) -> Paper:
    (found,) = [paper for paper in papers if paper.title == title]
    return found


# The bundled pages.


@pytest.mark.parametrize(
    ("name", "count", "first", "last"),
    [
        (
            PAGE_000,
            81,
            "MixtureGrowth: Growing Neural Networks by Recombining Learned Parameters",
            "KaLM-Embedding-V2: Superior Training Techniques and Data Inspire A Versatile "
            "Embedding Model",
        ),
        (
            PAGE_002,
            129,
            "TextMonkey: An OCR-Free Large Multimodal Model for Understanding Document",
            "Infinite products and zero-one laws in categorical probability",
        ),
        (
            PAGE_003,
            75,
            "Learning to Collocate Visual-Linguistic Neural Modules for Image Captioning",
            "ELECTRA: Pre-training Text Encoders as Discriminators Rather Than Generators",
        ),
    ],
)
def test_bundled_pages(name: str, count: int, first: str, last: str) -> None:
    papers, warnings = parse_page(name, day=date(2025, 1, 2))
    assert len(papers) == count
    assert (papers[0].title, papers[-1].title) == (first, last)
    assert warnings == []
    assert len({paper.title for paper in papers}) == count
    for paper in papers:
        assert paper.arxiv_id is None and paper.url is None
        assert paper.digest_date == date(2025, 1, 2)
        assert len(paper.abstract) > 300 and paper.title.strip() == paper.title
        assert not paper.title.startswith("Subscribe")


def test_abstract_kept_whole_and_exact() -> None:
    papers, _ = parse_page(PAGE_000)
    abstract = papers[0].abstract
    assert abstract.startswith("Most deep neural networks are trained under fixed network")
    assert abstract.endswith(
        "to a larger network trained from scratch. Code is available at "
        "https://github.com/chaudatascience/mixturegrowth."
    )
    assert abstract in page(PAGE_000).decode()
    last = papers[-1].abstract
    assert last.startswith("In this paper, we propose KaLM-Embedding-V2, a versatile")
    assert last.endswith("versatile and compact embedding model with less than 1B parameters.")


def test_latex_and_backslashes_kept() -> None:
    papers, _ = parse_page(PAGE_002, day=TODAY)
    assert r"with a 10.9\% increase" in papers[0].abstract
    assert "bigotimes_{i in J} X_i" in papers[-1].abstract


@pytest.mark.parametrize(
    ("name", "title", "code_url", "project_url"),
    [
        (
            PAGE_000,
            "MixtureGrowth: Growing Neural Networks by Recombining Learned Parameters",
            "https://github.com/chaudatascience/mixturegrowth",
            None,
        ),
        (
            PAGE_000,
            "SC-GS: Sparse-Controlled Gaussian Splatting for Editable Dynamic Scenes",
            None,
            "https://yihua7.github.io/SC-GS-web/",
        ),
        (
            PAGE_000,
            "Transformers learn in-context by gradient descent",
            "https://github.com/google-research/self-organising-systems/tree/master/"
            "transformers_learn_icl_by_gd",
            None,
        ),
        (
            PAGE_000,
            "Consistent Time-of-Flight Depth Denoising via Graph-Informed Geometric Attention",
            "https://github.com/davidweidawang/GIGA-ToF",
            None,
        ),
        (
            PAGE_002,
            "Accelerate High-Quality Diffusion Models with Inner Loop Feedback",
            None,
            "https://mgwillia.github.io/ilf",
        ),
        (
            PAGE_002,
            "Generative Logic: A New Computer Architecture for Deterministic Reasoning and "
            "Knowledge Generation",
            "https://github.com/Generative-Logic/GL/tree/35a111ea9ba53afe051703d6050be0c3923e9724",
            None,
        ),
        (
            PAGE_003,
            "Learning to Collocate Visual-Linguistic Neural Modules for Image Captioning",
            "https://github.com/GCYZSL/CVLMN",
            None,
        ),
        (
            PAGE_003,
            "Regularized Mask Tuning: Uncovering Hidden Knowledge in Pre-trained "
            "Vision-Language Models",
            None,
            "https://wuw2019.github.io/R-AMT/",
        ),
    ],
)
def test_code_and_project_links(
    name: str, title: str, code_url: str | None, project_url: str | None
) -> None:
    papers, _ = parse_page(name, day=TODAY)
    paper = by_title(papers, title)
    assert (paper.code_url, paper.project_url) == (code_url, project_url)


def test_abstract_keeps_url_text() -> None:
    papers, _ = parse_page(PAGE_000)
    assert papers[0].abstract.endswith("https://github.com/chaudatascience/mixturegrowth.")


def test_links_in_inline_page() -> None:
    abstract = (
        f"{ABSTRACT} Demo at https://huggingface.co/spaces/lab/demo, code at "
        "gitlab.com/lab/tool/-/tree/main/src; see also https://github.com/lab/other."
    )
    data = f"Subscribe\nAug 20\nA Tool for Things\n{abstract}\n".encode()
    (paper,) = hf_text.parse(data, origin=origin())
    assert paper.code_url == "https://gitlab.com/lab/tool/-/tree/main/src"
    assert paper.project_url == "https://huggingface.co/spaces/lab/demo"
    assert paper.abstract == abstract


# Dates.


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 9, 1), date(2025, 8, 20)),
        (date(2025, 8, 20), date(2025, 8, 20)),
        (date(2025, 8, 19), date(2024, 8, 20)),
        (date(2026, 1, 3), date(2025, 8, 20)),
    ],
)
def test_date_header_year_inferred_from_today(today: date, expected: date) -> None:
    papers, _ = parse_page(PAGE_000, today=today)
    assert {paper.digest_date for paper in papers} == {expected}


def test_origin_date_wins_over_header() -> None:
    papers, _ = parse_page(PAGE_003, day=date(2023, 3, 11))
    assert {paper.digest_date for paper in papers} == {date(2023, 3, 11)}
    papers, _ = parse_page(PAGE_003)
    assert {paper.digest_date for paper in papers} == {date(2025, 3, 12)}


def test_page_without_date_needs_origin_date() -> None:
    message = error(page(PAGE_002), location=f"pages/{PAGE_002}")
    assert "--date" in message and "date:" in message


@pytest.mark.parametrize(
    ("header", "today", "expected"),
    [
        ("Feb 29", date(2025, 9, 1), date(2024, 2, 29)),
        ("Feb 29", date(2024, 2, 28), date(2020, 2, 29)),
        ("Aug 20, 2023", date(2025, 9, 1), date(2023, 8, 20)),
        ("August 20", date(2025, 9, 1), date(2025, 8, 20)),
        ("Sept 3", date(2025, 9, 1), date(2024, 9, 3)),
    ],
)
def test_date_header_forms(header: str, today: date, expected: date) -> None:
    data = f"Subscribe\n{header}\nA Tool for Things\n{ABSTRACT}\n".encode()
    (paper,) = hf_text.parse(data, origin=origin(today=today))
    assert paper.digest_date == expected


# Header and text handling.


def test_subscribe_glued_to_first_title_is_split() -> None:
    data = f"Get trending papers in your email inbox!\nSubscribeA Tool for Things\n{ABSTRACT}"
    (paper,) = hf_text.parse(data.encode(), origin=origin(day=TODAY))
    assert paper.title == "A Tool for Things"


def test_subscribe_in_a_later_title_is_kept() -> None:
    data = f"Subscribe\nAug 20\nA Tool\n{ABSTRACT}\nSubscribeNet: Feeds at Scale\n{ABSTRACT}"
    papers = hf_text.parse(data.encode(), origin=origin())
    assert [paper.title for paper in papers] == ["A Tool", "SubscribeNet: Feeds at Scale"]


def test_header_variants_and_unknown_header_lines() -> None:
    data = (
        "new\n\nGet trending papers in your inbox\n\nSign in\n\nSubscribe\n\n"
        f"by AK and the research community\n\nAug 20\n\nA Tool for Things\n\n{ABSTRACT}\n"
    )
    papers, warnings = hf_text.parse_with_warnings(data.encode(), origin=origin())
    assert [paper.title for paper in papers] == ["A Tool for Things"]
    assert warnings == ['examples/page.txt: line 5: unknown header line "Sign in" dropped']


def test_text_kept_verbatim() -> None:
    title = "Attention for j<i & k>j: Ünïcödé — “Quotes” and $\\alpha_{t}$"
    abstract = (
        "We show that masking j<i & k>j keeps 100% of the signal when $\\mathcal{L} = "
        "\\sum_i x_i^2$ is small, even with <tags> and &amp; entities left as they are. "
        "Résumé: ça marche très bien, 漢字 too."
    )
    data = f"Subscribe\nAug 20\n  {title}  \n\t{abstract} \n".encode()
    (paper,) = hf_text.parse(data, origin=origin())
    assert (paper.title, paper.abstract) == (title, abstract)


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_crlf_and_cr_line_endings(newline: bytes) -> None:
    expected = hf_text.parse(page(PAGE_000), origin=origin())
    converted = page(PAGE_000).replace(b"\n", newline)
    assert hf_text.parse(converted, origin=origin()) == expected


def test_bom_is_stripped() -> None:
    expected = hf_text.parse(page(PAGE_002), origin=origin(day=TODAY))
    papers = hf_text.parse(b"\xef\xbb\xbf" + page(PAGE_002), origin=origin(day=TODAY))
    assert papers == expected


def test_page_without_header_but_clear_structure() -> None:
    lines = page(PAGE_003).decode().splitlines()
    body = "\n".join(lines[lines.index("Mar 12") + 1 :])
    papers = hf_text.parse(body.encode(), origin=origin(day=TODAY))
    assert len(papers) == 75


def test_header_only_page_is_empty() -> None:
    assert hf_text.parse(b"new\n\nSubscribe\n\nAug 20\n", origin=origin()) == []


def test_registry_uses_this_parser() -> None:
    papers = sources.parse("hf_text", page(PAGE_003), origin=origin())
    assert papers == hf_text.parse(page(PAGE_003), origin=origin())


# Truncated pages.


def test_truncated_mid_abstract_keeps_paper_with_warning() -> None:
    data = (BAD / "truncated_mid_abstract.txt").read_bytes()
    papers, warnings = hf_text.parse_with_warnings(data, origin=origin("bad/mid.txt"))
    assert len(papers) == 3
    assert papers[-1].abstract.endswith("within one of the true count in only")
    assert papers[0].code_url == "https://github.com/example-lab/tiny-experts"
    assert papers[1].project_url == "https://calibrated-retrieval.example.org/"
    (warning,) = warnings
    assert warning.startswith("bad/mid.txt: line 23: ")
    assert 'abstract of "A Benchmark for Counting Objects in Cluttered Scenes" looks truncated' in (
        warning
    )


def test_real_page_truncated_mid_abstract() -> None:
    data = page(PAGE_000)
    papers, warnings = hf_text.parse_with_warnings(data[:-300], origin=origin())
    assert len(papers) == 81
    assert len(warnings) == 1 and "looks truncated" in warnings[0]


def test_truncated_after_title_skips_last_paper_with_warning() -> None:
    data = (BAD / "truncated_after_title.txt").read_bytes()
    papers, warnings = hf_text.parse_with_warnings(data, origin=origin("bad/t.txt", day=TODAY))
    assert [paper.title for paper in papers] == [
        "Sparse Mixtures of Tiny Experts for On-Device Speech Recognition",
        "Calibrated Retrieval for Long-Context Question Answering",
    ]
    (warning,) = warnings
    assert warning.startswith("bad/t.txt: line 7: ")
    assert '"A Benchmark for Counting Objects in Cluttered Scenes" has no abstract' in warning


def test_real_page_truncated_after_title() -> None:
    text = page(PAGE_002).decode()
    cut = text[: text.index("\nMarkov categories are a recent")]
    papers, warnings = hf_text.parse_with_warnings(cut.encode(), origin=origin(day=TODAY))
    assert len(papers) == 128
    assert len(warnings) == 1 and "Infinite products and zero-one laws" in warnings[0]


def test_single_title_without_abstract_is_an_error() -> None:
    message = error(b"Subscribe\nAug 20\nA Tool for Things\n")
    assert message == 'examples/x.txt: line 3: title "A Tool for Things" has no abstract'


# Bad inputs.


def test_empty_file() -> None:
    assert error(b"") == "examples/x.txt: empty file"
    assert error(b"\xef\xbb\xbf") == "examples/x.txt: empty file"


def test_whitespace_only_file() -> None:
    assert "empty file" in error(b"  \n\r\n\t \n")


def test_binary_file() -> None:
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(4096)) + b"\x00"
    assert "binary" in error(data)


def test_invalid_utf8() -> None:
    data = page(PAGE_000).decode().replace("network's", "network\u2019s").encode("cp1252")
    assert "not UTF-8 text" in error(data)


def test_control_characters() -> None:
    data = bytes(random.Random(3).choice(b"\x01\x02\x03\x1b abc") for _ in range(2000))
    assert "binary" in error(data)


def test_titles_only() -> None:
    message = error((BAD / "titles_only.txt").read_bytes())
    assert "line 11" in message and "Sparse Mixtures of Tiny Experts" in message
    assert "has no abstract" in message


def test_missing_title_names_line_and_text() -> None:
    message = error((BAD / "missing_title.txt").read_bytes())
    assert "line 15: expected a title" in message


def test_readme_is_not_a_page() -> None:
    assert "not a Daily Papers page" in error((BAD / "readme.txt").read_bytes())


def test_prose_with_headings_is_not_a_page() -> None:
    data = "\n\n".join(["Installation", ABSTRACT * 2, "Usage", ABSTRACT * 2])
    assert "not a Daily Papers page" in error(data.encode(), day=TODAY)


def test_random_lines_of_similar_length_are_not_a_page() -> None:
    rng = random.Random(11)
    words = ["model", "data", "learning", "the", "of", "we", "results", "network", "show", "a"]
    lines = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(200)]
    assert "not a Daily Papers page" in error("\n".join(lines).encode(), day=TODAY)


@pytest.mark.parametrize("separator", ["\n", " "])
def test_five_megabytes_of_random_words_fail_fast(separator: str) -> None:
    rng = random.Random(5)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10)))]
    vocabulary += ["".join(rng.choices("etaoinshrdlu", k=rng.randint(2, 10))) for _ in range(999)]
    chunks, size = [], 0
    while size < 5_000_000:
        line = " ".join(rng.choices(vocabulary, k=12))
        chunks.append(line)
        size += len(line) + 1
    data = separator.join(chunks).encode()
    started = time.perf_counter()
    message = error(data, day=TODAY)
    # a bound on the kind of work (a scan that went quadratic takes minutes), not a speed target:
    # the parser gives up on such a page in well under a second on an idle machine
    assert time.perf_counter() - started < 10.0
    assert "not a Daily Papers page" in message


def test_a_long_first_title_glued_to_subscribe_is_split_off() -> None:
    title = (
        "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured "
        "State Space Duality"
    )
    abstract = "While Transformers have been the main architecture behind deep learning. " * 8
    page = "\n".join(
        [
            "Get trending papers in your email inbox once a day!",
            "Get trending papers in your email inbox!",
            "Subscribe" + title,
            abstract.strip(),
            "A Second Paper About Something Else Entirely",
            abstract.strip(),
        ]
    ).encode()
    origin = Origin("s", "page.txt", date(2025, 6, 4), date(2024, 6, 3))
    papers = hf_text.parse(page, origin=origin)
    assert [p.title for p in papers] == [title, "A Second Paper About Something Else Entirely"]


def _render_page(pairs: list[tuple[str, str]], layout: int) -> bytes:
    """A Daily Papers text page in one of the two layouts seen in the wild."""
    if layout == 1:
        lines = ["new", "", "Get trending papers in your email inbox!", "", "Subscribe", ""]
        lines += ["Daily Papers", "", "byAK and the research community", "", "Jun 10", ""]
        for title, abstract in pairs:
            lines += [title, "", abstract, ""]
    else:
        lines = [
            "Get trending papers in your email inbox once a day!",
            "Get trending papers in your email inbox!",
        ]
        for n, (title, abstract) in enumerate(pairs):
            lines += ["Subscribe" + title if n == 0 else title, abstract]
    return "\n".join(lines).encode()


@pytest.mark.parametrize("layout", [1, 2])
@pytest.mark.parametrize("day", sorted((FIXTURES / "hf_api").glob("*.json")), ids=lambda p: p.stem)
def test_pages_rendered_from_real_days_parse_exactly(day: Path, layout: int) -> None:
    items = json.loads(day.read_text("utf-8"))
    pairs = [
        (" ".join(i["paper"]["title"].split()), " ".join(i["paper"]["summary"].split()))
        for i in items
    ]
    origin = Origin("s", "page.txt", date(2026, 1, 1), date(2025, 6, 10))
    papers = hf_text.parse(_render_page(pairs, layout), origin=origin)
    assert [(p.title, p.abstract) for p in papers] == pairs
