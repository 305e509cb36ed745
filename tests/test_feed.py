"""digest.sources.feed: RSS and Atom (rss.arxiv.org, arXiv API, Daily Papers mirrors, others)."""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import Origin, Paper
from digest.sources import feed

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
TODAY = date(2026, 5, 1)
EDT = timezone(timedelta(hours=-4))

RSS_LG = "arxiv_rss/jmamath-distill_arxiv_cs_lg.rss.xml"
RSS_AI = "arxiv_rss/jmamath-distill_arxiv_cs_ai.rss.xml"
RSS_CL = "arxiv_rss/jmamath-distill_arxiv_cs_cl.rss.xml"
RSS_MULTI = "arxiv_rss/msudars-laya-reader_arxiv_rss_multi_cat.rss.xml"
RSS_ATOM = "arxiv_rss/paper-forge_rss.arxiv.org_atom_cs.LG.atom.xml"
API_BREVIO = "arxiv_api/crsamson-brevio_api_cat_csLG_OR_csAI_2026-04-30.xml"
API_EMPTY = "arxiv_api/lukasschwab_2026_id_0000.0000_s0_m100_8b51d9633a68.xml"
API_TWO_IDS = "arxiv_api/lukasschwab_2026_id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml"
API_ERROR = "arxiv_api/lukasschwab_2026_id_abc_s0_m100_b79c8dcf6bc3.xml"
API_OLD_ID = "arxiv_api/lukasschwab_2026_id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"
API_Q100 = "arxiv_api/lukasschwab_2026_q_testing_s0_m100_cfe7536492ca.xml"
API_Q10 = "arxiv_api/lukasschwab_2026_q_testing_s0_m10_bc5a6c384fe9.xml"
API_LEGACY = "arxiv_api/lukasschwab_legacy_id_list_1111.2011v2.xml"
API_MAESTRO = "arxiv_api/lukasschwab_legacy_search_au_del_maestro.xml"
API_ANDNOT = "arxiv_api/lukasschwab_legacy_search_au_del_maestro_andnot.xml"
HF_HUANG = "hf_rss/huangboming_hf_daily_feed_2026-04-30.rss.xml"
HF_TAKARA = "hf_rss/takara_papers_feed_2026-04-30.rss.xml"

# file -> (papers, first arXiv id, last arXiv id)
COUNTS: dict[str, tuple[int, str | None, str | None]] = {
    RSS_LG: (3, "2604.21952", "2604.21956"),
    RSS_AI: (3, "2604.21935", "2604.21937"),
    RSS_CL: (3, "2604.22002", "2604.22038"),
    RSS_MULTI: (4, "2609.26811", "2009.13987"),
    RSS_ATOM: (3, "2609.28553", "2401.08875"),
    API_BREVIO: (20, "2604.26951", "2604.26835"),
    API_EMPTY: (0, None, None),
    API_TWO_IDS: (1, "1707.08567", "1707.08567"),
    API_OLD_ID: (1, "astro-ph/0601001", "astro-ph/0601001"),
    API_Q100: (100, "2202.12139", "gr-qc/0103067"),
    API_Q10: (10, "2202.12139", "1812.11470"),
    API_LEGACY: (1, "1111.2011", "1111.2011"),
    API_MAESTRO: (10, "1201.4869", "0807.2873"),
    API_ANDNOT: (10, "1201.4869", "1111.2011"),
    HF_HUANG: (22, "2604.21003", "2604.25917"),
    HF_TAKARA: (50, "2604.26238", "2604.26444"),
    "hf_rss/daily/feed_2025-04-25_6f008a951a.xml": (15, "2504.15921", "2504.17789"),
    "hf_rss/daily/feed_2025-05-07_082f215625.xml": (22, "2505.01441", "2505.02835"),
    "hf_rss/daily/feed_2025-05-18_040236f90e.xml": (27, "2505.06027", "2505.10566"),
    "hf_rss/daily/feed_2025-05-29_26a471f51d.xml": (73, "2505.11277", "2505.21505"),
    "hf_rss/daily/feed_2025-06-09_e48f324938.xml": (46, "2505.20914", "2506.05349"),
    "hf_rss/daily/feed_2025-06-20_ed7182e4f3.xml": (19, "2506.06279", "2506.15682"),
}
ERRORS = {API_ERROR: 'arXiv API error: "incorrect id format for abc"'}
# one Daily Papers mirror's versions over time: papers, sum of upvotes, last paper's upvotes
DAILY = {
    "feed_2025-04-25_6f008a951a.xml": (15, 178, 4),
    "feed_2025-05-07_082f215625.xml": (22, 366, 17),
    "feed_2025-05-18_040236f90e.xml": (27, 436, 6),
    "feed_2025-05-29_26a471f51d.xml": (73, 1043, 15),
    "feed_2025-06-09_e48f324938.xml": (46, 639, 22),
    "feed_2025-06-20_ed7182e4f3.xml": (19, 155, 0),
}


def origin(location: str = "examples/feed.xml", *, day: date | None = None) -> Origin:
    return Origin(source="feed", location=location, today=TODAY, date=day)


def raw(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def load(name: str, *, day: date | None = None) -> tuple[list[Paper], list[str]]:
    return feed.parse_with_warnings(raw(name), origin=origin(f"feeds/{name}", day=day))


def papers(data: bytes, *, day: date | None = None) -> list[Paper]:
    return feed.parse(data, origin=origin(day=day))


def error(data: bytes, location: str = "examples/feed.xml") -> str:
    """The SourceError message for `data`, checked to be one line naming the location."""
    with pytest.raises(SourceError) as caught:
        feed.parse(data, origin=origin(location))
    message = str(caught.value)
    assert message.startswith(f"{location}: ")
    assert "\n" not in message and "\r" not in message
    return message


def rss(items: str, channel: str = "<pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Feed</title><link>https://journal.example.org/</link>{channel}"
        f"{items}</channel></rss>"
    ).encode()


def arxiv_item(n: int, announce: str = "new", abstract: str = "A result.", **tags: str) -> str:
    fields = {
        "title": f"Paper {n}",
        "link": f"https://arxiv.org/abs/2604.{n:05d}",
        "description": f"arXiv:2604.{n:05d}v1 Announce Type: {announce} \nAbstract: {abstract}",
        "guid": f"oai:arXiv.org:2604.{n:05d}v1",
        "dc:creator": "Alice Smith, Bob Jones",
        "arxiv:announce_type": announce,
        **tags,
    }
    return "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items() if v) + "</item>"


def all_text(found: list[Paper]) -> str:
    return "\n".join(
        "\n".join([p.title, p.abstract, *p.authors, *p.categories, p.url or "", p.pdf_url or ""])
        for p in found
    )


# -- every fixture -------------------------------------------------------------------------------


def test_every_fixture_file_is_checked() -> None:
    files = {p.relative_to(FEEDS).as_posix() for p in FEEDS.rglob("*") if p.is_file()}
    assert files == set(COUNTS) | set(ERRORS)
    assert sum(p.stat().st_size for p in FEEDS.rglob("*") if p.is_file()) < 1_200_000


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_fixture_counts_and_shape(name: str) -> None:
    found, warnings = load(name)
    count, first, last = COUNTS[name]
    assert warnings == []
    assert len(found) == count
    if found:
        assert (found[0].arxiv_id, found[-1].arxiv_id) == (first, last)
    assert len({p.id for p in found}) == count
    for paper in found:
        assert paper.arxiv_id and paper.title and paper.abstract
        assert paper.title == " ".join(paper.title.split())
        assert paper.abstract == paper.abstract.strip()
        assert paper.url and paper.url.startswith("https://")
        assert paper.pdf_url is None or paper.pdf_url.startswith(("http://", "https://"))
        assert paper.digest_date is not None and paper.published is not None
        assert paper.published.tzinfo is not None
        assert not re.search(r"</?(?:p|b|img|br|script)\b", paper.abstract + paper.title)


@pytest.mark.parametrize(("name", "message"), sorted(ERRORS.items()))
def test_fixture_errors(name: str, message: str) -> None:
    assert error(raw(name), f"feeds/{name}") == f"feeds/{name}: {message}"


# -- rss.arxiv.org ---------------------------------------------------------------------------------


def test_arxiv_rss_first_item_fields() -> None:
    paper = load(RSS_LG)[0][0]
    assert paper.title == (
        "Focus Session: Hardware and Software Techniques for Accelerating Multimodal "
        "Foundation Models"
    )
    assert paper.abstract.startswith(
        "This work presents a multi-layered methodology for efficiently"
    )
    assert paper.abstract.endswith("conclude with extensions toward energy-efficient spiking-MFMs.")
    assert "visual resolution & stride" in paper.abstract
    assert "Announce Type" not in paper.abstract and "arXiv:" not in paper.abstract
    assert paper.authors == (
        "Muhammad Shafique",
        "Abdul Basit",
        "Muhammad Abdullah Hanif",
        "Alberto Marchisio",
        "Rachmad Vidya Wicaksana Putra",
        "Minghao Shao",
    )
    assert paper.categories == ("cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO")
    assert paper.url == "https://arxiv.org/abs/2604.21952"
    assert paper.pdf_url == "https://arxiv.org/pdf/2604.21952"
    assert paper.announce_type == "new"
    assert paper.published == datetime(2026, 4, 27, tzinfo=EDT)
    assert paper.digest_date == date(2026, 4, 27)
    assert paper.upvotes is None


def test_arxiv_rss_other_categories() -> None:
    ai, _ = load(RSS_AI)
    assert ai[0].authors == ("Michael Cooper", "Samuel Cooper")
    assert [p.categories[0] for p in ai] == ["cs.AI"] * 3
    cl, _ = load(RSS_CL)
    assert cl[0].authors == (
        "Anamta Khan",
        "Ratna Kandala",
        "Deepti",
        "Sheza Munir",
        "Joyojeet Pal",
    )


def test_arxiv_rss_multi_category_feed_returns_every_announce_type() -> None:
    found, _ = load(RSS_MULTI)
    assert Counter(p.announce_type for p in found) == {"new": 2, "cross": 1, "replace": 1}
    cross = next(p for p in found if p.announce_type == "cross")
    assert (cross.arxiv_id, cross.categories) == ("2205.06398", ("stat.ME", "stat.AP", "stat.ML"))
    assert cross.authors == ("Pritam Dey", "Zhengwu Zhang", "David B. Dunson")
    # the channel's pubDate (midnight -0400), not its lastBuildDate 08:58 UTC
    assert {p.digest_date for p in found} == {date(2026, 9, 24)}


def test_arxiv_atom_variant() -> None:
    found, _ = load(RSS_ATOM)
    assert [p.announce_type for p in found] == ["new", "cross", "replace"]
    assert found[1].categories == ("hep-ph", "cs.LG", "hep-ex")
    assert found[1].abstract.startswith("In collider experiments, the kinematic reconstruction")
    assert found[0].authors[-1] == "Trong Nghia Nguyen" and len(found[0].authors) == 6
    assert found[2].pdf_url == "https://arxiv.org/pdf/2401.08875"
    # the feed's `updated` 2026-09-25T04:00:11+00:00: the day it announces
    assert {p.digest_date for p in found} == {date(2026, 9, 25)}


def test_explicit_date_wins() -> None:
    found, _ = load(RSS_LG, day=date(2026, 1, 2))
    assert {p.digest_date for p in found} == {date(2026, 1, 2)}


def test_empty_weekend_feed_is_no_papers() -> None:
    data = re.sub(rb"<item>.*?</item>", b"", raw(RSS_LG), flags=re.S)
    assert feed.parse_with_warnings(data, origin=origin()) == ([], [])
    no_date = re.sub(rb"<(pubDate|lastBuildDate)>.*?</\1>", b"", data)
    assert papers(no_date) == []


def test_digest_date_from_last_build_date_and_in_the_feeds_timezone() -> None:
    channel_date = rb"<pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>\s*<skipDays>"
    data = re.sub(channel_date, b"<skipDays>", raw(RSS_LG))
    assert b"<lastBuildDate>Mon, 27 Apr 2026 04:00:01 +0000" in data
    assert {p.digest_date for p in papers(data)} == {date(2026, 4, 27)}
    late = rss(arxiv_item(1), "<pubDate>Mon, 27 Apr 2026 23:30:00 -0400</pubDate>")
    assert papers(late)[0].digest_date == date(2026, 4, 27)  # 28 Apr in UTC


def test_announce_type_from_description_when_the_element_is_missing() -> None:
    data = re.sub(rb"<arxiv:announce_type>.*?</arxiv:announce_type>", b"", raw(RSS_MULTI))
    found = papers(data)
    assert [p.announce_type for p in found] == ["new", "new", "cross", "replace"]
    replace_cross = rss(arxiv_item(7, "replace-cross", **{"arxiv:announce_type": ""}))
    assert papers(replace_cross)[0].announce_type == "replace-cross"


def test_duplicates_keep_one_paper_and_prefer_new() -> None:
    items = arxiv_item(1, "cross", "First.") + arxiv_item(1, "new", "Second.")
    items += arxiv_item(2, "new", "Kept.") + arxiv_item(2, "cross", "Dropped.")
    found, warnings = feed.parse_with_warnings(rss(items), origin=origin())
    assert [(p.arxiv_id, p.announce_type, p.abstract) for p in found] == [
        ("2604.00001", "new", "Second."),
        ("2604.00002", "new", "Kept."),
    ]
    assert warnings == [
        "examples/feed.xml: entry 2: duplicate of arxiv:2604.00001 (entry 1); kept entry 2",
        "examples/feed.xml: entry 4: duplicate of arxiv:2604.00002 (entry 3); kept entry 3",
    ]


def test_arxiv_abstract_keeps_math_and_tokens_but_not_html() -> None:
    abstract = (
        "For $a&lt;b$ and $c&gt;d$ we emit &lt;think&gt; tokens, R&amp;D &lt;b&gt;bold&lt;/b&gt;"
        "&lt;script&gt;alert(1)&lt;/script&gt; and p&lt;0.05."
    )
    paper = papers(rss(arxiv_item(3, abstract=abstract)))[0]
    assert paper.abstract == "For $a<b$ and $c>d$ we emit <think> tokens, R&D bold and p<0.05."


@pytest.mark.parametrize(
    ("creators", "authors"),
    [
        ("Alice Smith, Bob Jones, and Carol King", ("Alice Smith", "Bob Jones", "Carol King")),
        ("Alice Smith, Bob Jones and Carol King", ("Alice Smith", "Bob Jones", "Carol King")),
        ("Alice Smith and Bob Jones", ("Alice Smith", "Bob Jones")),
        ("The ATLAS and CMS Collaborations", ("The ATLAS and CMS Collaborations",)),
        ("Alexander Anderson, Sandra Andrews", ("Alexander Anderson", "Sandra Andrews")),
        ("John Smith, Jr., Jane Doe", ("John Smith, Jr.", "Jane Doe")),
        (" Deepti , ,Ann Lee ", ("Deepti", "Ann Lee")),
    ],
)
def test_arxiv_authors_are_split(creators: str, authors: tuple[str, ...]) -> None:
    assert papers(rss(arxiv_item(4, **{"dc:creator": creators})))[0].authors == authors


# -- arXiv API -----------------------------------------------------------------------------------


def test_api_entry_fields() -> None:
    paper = load(API_BREVIO)[0][0]
    assert paper.title == (
        "Turning the TIDE: Cross-Architecture Distillation for Diffusion Large Language Models"
    )
    assert paper.categories == ("cs.CL", "cs.AI", "cs.LG")  # primary cs.CL first
    assert paper.pdf_url == "https://arxiv.org/pdf/2604.26951v1"
    assert paper.url == "https://arxiv.org/abs/2604.26951"
    assert paper.authors == ("Gongbo Zhang", "Wen Wang", "Ye Tian", "Li Yuan")
    assert paper.published == datetime(2026, 4, 29, 17, 59, 1, tzinfo=UTC)
    assert paper.digest_date == date(2026, 4, 29)
    assert paper.announce_type is None
    assert paper.abstract.endswith(
        "where HumanEval scores reach 48.78 compared to 32.3 for the AR baseline."
    )


def test_api_legacy_format_joins_hard_line_breaks() -> None:
    paper = load(API_LEGACY)[0][0]
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert paper.abstract.startswith(
        "Theoretical description of anisotropic systems, such as layered superconductors and "
        "coupled spin chains"
    )
    assert paper.abstract.endswith(
        "adding a single extra dimension to the theory describing a single node."
    )
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert paper.categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert paper.pdf_url == "http://arxiv.org/pdf/1111.2011v2"
    assert paper.authors == ("James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic")


def test_api_old_style_id_and_plain_text_summary() -> None:
    paper = load(API_OLD_ID)[0][0]
    assert paper.url == "https://arxiv.org/abs/astro-ph/0601001"
    assert paper.pdf_url == "https://arxiv.org/pdf/astro-ph/0601001v1"
    assert "Gould & Morgan (2003)" in paper.abstract
    assert "spectroscopic-followup limit of V_max<17.5." in paper.abstract  # text, not a tag
    assert paper.abstract.startswith("We derive the frequencies of hot Jupiters")


def test_api_many_authors_and_pages() -> None:
    paper = load(API_TWO_IDS)[0][0]
    assert len(paper.authors) == 34
    assert (paper.authors[4], paper.authors[-1]) == ("Peter H. N. de With", "Hirosuke Yamamoto")
    first_ten = [p.arxiv_id for p in load(API_Q100)[0][:10]]
    assert first_ten == [p.arxiv_id for p in load(API_Q10)[0]]
    maestro = {p.arxiv_id for p in load(API_MAESTRO)[0]}
    assert len(maestro & {p.arxiv_id for p in load(API_ANDNOT)[0]}) == 8


def test_api_empty_result_is_no_papers() -> None:
    assert load(API_EMPTY) == ([], [])


# -- Daily Papers mirrors --------------------------------------------------------------------------


def test_mirror_item_fields() -> None:
    found, _ = load(HF_HUANG)
    paper = found[0]
    assert paper.title == "The Last Harness You'll Ever Build"
    assert paper.authors == ("Haebin Seong", "Li Yin", "Haoran Zhang")
    assert paper.upvotes == 1
    assert paper.abstract.startswith("AI agents are increasingly deployed on complex")
    assert paper.abstract.endswith("automating the design of the automation itself.")
    assert paper.url == "https://arxiv.org/abs/2604.21003"
    assert paper.pdf_url == "https://arxiv.org/pdf/2604.21003"
    assert paper.digest_date == date(2026, 4, 22)  # the item's own date
    assert found[-1].upvotes == 123 and len(found[-1].authors) == 12
    for paper in found:
        assert not re.search(r"Authors:|Upvotes:|Summary:|thumbnail", paper.abstract)


@pytest.mark.parametrize("name", sorted(DAILY))
def test_mirror_versions_over_time(name: str) -> None:
    found, _ = load(f"hf_rss/daily/{name}")
    count, total, last = DAILY[name]
    assert (len(found), sum(p.upvotes or 0 for p in found), found[-1].upvotes) == (
        count,
        total,
        last,
    )
    assert all(isinstance(p.upvotes, int) and p.authors for p in found)


def test_mirror_versions_hold_distinct_papers() -> None:
    ids = [p.arxiv_id for name in DAILY for p in load(f"hf_rss/daily/{name}")[0]]
    assert len(ids) == len(set(ids)) == 202


def test_takara_mirror_is_a_plain_feed_with_arxiv_ids_in_links() -> None:
    found, _ = load(HF_TAKARA)
    assert found[0].url == "https://tldr.takara.ai/p/2604.26238"
    assert found[0].pdf_url == "https://arxiv.org/pdf/2604.26238"
    assert all(p.upvotes is None and p.authors == () for p in found)
    calibrated = next(p for p in found if p.title.startswith("Calibrated Surprise"))
    assert "separate goals.\n  We use Shannon's mutual information" in calibrated.abstract
    assert found[0].digest_date == date(2026, 4, 29)


# -- any other feed --------------------------------------------------------------------------------


def test_journal_feed() -> None:
    items = (
        "<item><title>A &lt;i&gt;Study&lt;/i&gt;\n   of  Things</title>"
        "<link>https://journal.example.org/a/1</link>"
        "<description>&lt;p&gt;First &amp;amp; best.&lt;/p&gt;"
        "&lt;p&gt;Second.&lt;/p&gt;</description>"
        "<guid>https://journal.example.org/a/1</guid><category>Physics</category>"
        "<pubDate>Tue, 28 Apr 2026 10:00:00 +0200</pubDate></item>"
        "<item><title>Reprint</title><link>https://doi.org/10.48550/arXiv.2501.01234</link>"
        "<pubDate>Tue, 28 Apr 2026 23:30:00 -0700</pubDate></item>"
    )
    first, second = papers(rss(items, channel=""))
    assert first.title == "A Study of Things"
    assert first.abstract == "First & best.\n\nSecond."
    assert (first.arxiv_id, first.url, first.categories) == (
        None,
        "https://journal.example.org/a/1",
        ("Physics",),
    )
    assert first.id.startswith("title:")
    assert first.digest_date == date(2026, 4, 28)
    assert (second.arxiv_id, second.pdf_url) == ("2501.01234", "https://arxiv.org/pdf/2501.01234")
    assert second.digest_date == date(2026, 4, 28)  # the day where it was written, not UTC


def test_atom_feed_with_html_title() -> None:
    data = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>J</title>'
        b"<updated>2026-04-28T12:00:00Z</updated><entry><id>tag:j,2026:1</id>"
        b'<title type="html">Spin &lt;sup&gt;3&lt;/sup&gt;He &amp;amp; more</title>'
        b'<link href="https://j.example.org/1"/><author><name>Ann Lee</name></author>'
        b'<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hi <b>there</b></p>'
        b"</div></summary></entry></feed>"
    )
    paper = papers(data)[0]
    assert (paper.title, paper.abstract, paper.authors) == (
        "Spin 3He & more",
        "Hi there",
        ("Ann Lee",),
    )
    assert paper.digest_date == date(2026, 4, 28)  # the feed's date: the entry has none


def test_no_date_anywhere_asks_for_one() -> None:
    data = rss("<item><title>Undated</title><link>https://x.example.org/1</link></item>", "")
    assert "pass --date" in error(data)
    assert papers(data, day=date(2026, 4, 30))[0].digest_date == date(2026, 4, 30)


def test_entries_without_title_are_skipped_with_a_warning() -> None:
    data = rss("<item><description>No title</description></item>" + arxiv_item(5))
    found, warnings = feed.parse_with_warnings(data, origin=origin())
    assert [p.arxiv_id for p in found] == ["2604.00005"]
    assert warnings == ["examples/feed.xml: entry 1: no title; skipped"]


def test_only_http_urls_are_kept() -> None:
    items = "".join(
        f"<item><title>T{n}</title><link>{link}</link></item>"
        for n, link in enumerate(
            ["javascript:alert(1)", "ftp://x.example.org/a", "data:,x", "/rel"]
        )
    )
    found = papers(rss(items), day=TODAY)
    assert [p.url for p in found] == [None, None, None, None]


def test_wrong_declared_encoding_is_a_warning() -> None:
    data = rss("<item><title>Caf\xe9</title><link>https://x.example.org/1</link></item>")
    found, warnings = feed.parse_with_warnings(
        data.replace("Caf\xe9".encode(), b"Caf\xe9"), origin=origin()
    )
    assert found[0].title == "Café"
    assert len(warnings) == 1 and warnings[0].startswith("examples/feed.xml: document declared as")


# -- hostile input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b" \n\t", "empty file (only whitespace)"),
        (b"\x00\x01\x02\xff" * 100, "not an RSS or Atom feed"),
        (bytes(random.Random(5).randrange(256) for _ in range(4096)), "not an RSS or Atom feed"),
        (b'{"papers": []}', "not an RSS or Atom feed"),
        (
            b"<!DOCTYPE html><html><head><title>Daily Papers</title></head>"
            b"<body><p>Sign in</p></body></html>",
            "not an RSS or Atom feed (an HTML page?)",
        ),
    ],
)
def test_not_a_feed(data: bytes, message: str) -> None:
    assert error(data).startswith(f"examples/feed.xml: {message}")


def test_truncated_xml_is_an_error() -> None:
    data = raw(RSS_LG)
    message = error(data[: len(data) // 2])
    assert re.fullmatch(
        r"examples/feed\.xml: malformed feed XML \(line \d+, column \d+: .+\)", message
    )


def test_markup_and_scripts_never_reach_a_field() -> None:
    hostile = (
        "&lt;script&gt;alert(1)&lt;/script&gt;Hello &lt;img src=x onerror=alert(2)&gt;"
        '&lt;a href="javascript:alert(3)"&gt;World&lt;/a&gt; &amp;lt;script&amp;gt;x &lt;script'
    )
    items = (
        f"<item><title>{hostile}</title><description>{hostile}</description>"
        "<link>javascript:alert(4)</link>"
        "<dc:creator>Eve &lt;script&gt;x()&lt;/script&gt;</dc:creator>"
        "</item>" + arxiv_item(6, abstract=hostile, title=hostile)
    )
    found = papers(rss(items))
    # closed scripts go with their content; an unclosed one loses only its markup
    assert [p.title for p in found] == ["Hello World x script", "Hello World x script"]
    text = all_text(found).lower()
    for bad in ("<script", "onerror", "javascript:", "<img", "<a ", "alert"):
        assert bad not in text


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4711")
    uri = secret.as_uri()
    body = (
        "<rss version='2.0'><channel><title>t</title><item><title>A &xxe;</title>"
        "<description>&xxe;</description><pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>"
        "</item></channel></rss>"
    )
    for doctype in (
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>',
        f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{uri}">\n]>',
        f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{uri}"> %p;]>',
    ):
        message = error(f'<?xml version="1.0"?>\n{doctype}\n{body}'.encode())
        assert "refused" in message and "TOPSECRET" not in message
    external_dtd = f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{uri}">\n'
    found = papers((external_dtd + body.replace("&xxe;", "x")).encode())
    assert "TOPSECRET" not in all_text(found)


def test_entity_expansion_is_refused_quickly() -> None:
    levels = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    long = '<!ENTITY big "' + "a" * 5000 + '">'  # a "plain" entity, used many times
    for subset, use in ((levels, "&lol9;"), (f"\n{long}\n", "&big;" * 20_000)):
        data = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [{subset}]>\n<rss version="2.0"><channel>'
            f"<title>t</title><item><title>T</title><description>{use}</description></item>"
            "</channel></rss>"
        ).encode()
        started = time.perf_counter()
        assert "refused" in error(data)
        assert time.perf_counter() - started < 2


def test_short_plain_entities_are_allowed() -> None:
    data = rss(arxiv_item(8, title="A&nbsp;B")).replace(
        b"<rss", b'<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n]>\n<rss', 1
    )
    assert papers(data)[0].title == "A B"


@pytest.mark.parametrize("junk", ["<script ", '<p "', "a<b", "<!--", '<a href="'])
def test_unclosed_markup_stays_fast(junk: str) -> None:
    escaped = junk.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    data = rss(
        f"<item><title><![CDATA[T {junk * 5000}]]></title>"
        f"<description>{escaped * 5000}</description></item>"
    )
    started = time.perf_counter()
    found = papers(data)
    assert time.perf_counter() - started < 10
    assert "<script" not in all_text(found).lower()


def test_mutated_fixtures_only_ever_raise_source_error() -> None:
    rng = random.Random(20260501)
    sources = [raw(RSS_MULTI), raw(HF_HUANG), raw(API_LEGACY), raw(RSS_ATOM)]
    junk = [b"<", b"&", b"]]>", b"\x00", b"&#0;", b"<item>", b"</entry>", b"&lt;script&gt;"]
    for _ in range(150):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            data[at:at] = rng.choice(junk)
            if rng.random() < 0.1:
                del data[at:]
        try:
            found = papers(bytes(data), day=TODAY)
        except SourceError as exc:
            assert str(exc).startswith("examples/feed.xml: ") and "\n" not in str(exc)
        else:
            assert "<script" not in all_text(found).lower()


def test_ten_thousand_items_parse_in_reasonable_time() -> None:
    items = "".join(
        f"<item><title>Paper {n}</title><link>https://arxiv.org/abs/2601.{n:05d}</link>"
        f"<description>Abstract {n}.</description></item>"
        for n in range(10_000)
    )
    started = time.perf_counter()
    found = papers(rss(items))
    assert time.perf_counter() - started < 60
    assert len(found) == 10_000
    assert (found[0].arxiv_id, found[-1].arxiv_id) == ("2601.00000", "2601.09999")
