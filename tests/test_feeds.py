"""RSS 2.0 and Atom 1.0 feeds (CONVENTIONS F-01..F-30, H-05, H-07).

Every feed a test builds goes through `feeds_of`, which parses it with feedparser (bozo 0, the
right version) and checks the structural MUSTs with ElementTree, because feedparser forgives
what feed readers do not (F-30).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import nh3
import pytest
from helpers import stored

from digest.errors import RenderError
from digest.models import Artifact, Digest, Profile, Scored, Site, StoredPaper, Term, paper_id
from digest.render import environment, shipped_templates
from digest.render.feeds import public_feeds, reader_feeds
from digest.render.links import Links
from digest.tokens import Signer

SITE = Site(title="Paper Digest", base_url="https://digest.example.org/", feed_items=50)
LINKS = Links(SITE.base_url, signer=Signer((b"a secret of at least 32 bytes ....",)))
ADA = Profile(name="ada", display_name="Ada", keywords=("pruning",))
DAY = date(2025, 8, 20)
A = "{http://www.w3.org/2005/Atom}"
NS = {"atom": "http://www.w3.org/2005/Atom"}
ALLOWED = {"p", "br", "em", "strong", "code", "sub", "sup", "ul", "ol", "li", "a"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def paper(title: str, abstract: str = "An abstract.", **fields: Any) -> StoredPaper:
    return stored(paper_id(fields.get("arxiv_id"), title), title, abstract, **fields)


def pick(item: StoredPaper, **fields: Any) -> Scored:
    terms = (Term("network pruning", 0.6), Term("pruning", 0.4))
    return Scored(item, fields.pop("score", 0.4321), terms, **fields)


def digest(day: date, *items: Scored, reader: Profile = ADA, hour: int = 7) -> Digest:
    return Digest(
        reader, day, items, candidates=81, generated=datetime(2025, 9, 1, hour, tzinfo=UTC)
    )


def build_reader(
    digests: list[Digest], *, reader: Profile = ADA, site: Site = SITE, env: Any = None
) -> dict[str, Any]:
    env = env or environment()
    return feeds_of(reader_feeds(digests, reader=reader, site=site, links=LINKS, env=env))


def build_public(
    days: list[tuple[date, list[StoredPaper]]], *, site: Site = SITE, env: Any = None
) -> dict[str, Any]:
    env = env or environment()
    return feeds_of(public_feeds(days, site=site, links=LINKS, env=env))


def feeds_of(artifacts: list[Artifact]) -> dict[str, Any]:
    """{"rss": (raw, parsed), "atom": (raw, parsed)}, each checked for F-01..F-13 and F-30."""
    assert [a.media_type for a in artifacts] == ["application/rss+xml", "application/atom+xml"]
    out = {}
    for artifact, kind, check in zip(
        artifacts, ("rss", "atom"), (check_rss, check_atom), strict=True
    ):
        raw = artifact.content
        check(raw)
        parsed = feedparser.parse(raw)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert parsed.version == {"rss": "rss20", "atom": "atom10"}[kind]
        assert parsed.entries
        assert not XML_ILLEGAL.search(raw.decode("utf-8"))  # F-08
        out[kind] = (raw, parsed)
    return out


def absolute(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class Markup(HTMLParser):
    """The tags and attributes of an HTML fragment, entities decoded."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(html: str) -> None:
    """H-05: only allow-listed tags; no event handlers; links absolute http(s) (F-06)."""
    markup = Markup(html)
    assert set(markup.tags) <= ALLOWED, markup.tags
    for name, value in markup.attrs:
        assert name in ("href", "rel"), name
        if name == "href":
            assert absolute(value), value


def check_rss(raw: bytes) -> None:
    root = ET.fromstring(raw)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for tag in ("title", "link", "description"):  # F-01
        assert (channel.findtext(tag) or "").strip(), tag
    assert absolute(channel.findtext("link"))
    selves = [x for x in channel.findall("atom:link", NS) if x.get("rel") == "self"]  # F-05
    assert len(selves) == 1 and absolute(selves[0].get("href"))
    assert selves[0].get("type") == "application/rss+xml"
    built = rfc822(channel.findtext("lastBuildDate"))
    items = channel.findall("item")
    assert items  # never empty
    for item in items:
        for tag in ("title", "link", "guid", "pubDate", "description"):  # F-02
            assert (item.findtext(tag) or "").strip(), tag
        guid = item.find("guid")
        assert guid is not None
        assert guid.get("isPermaLink") == "false" or absolute(guid.text)  # F-03
        assert absolute(item.findtext("link"))  # F-06
        assert_inert(item.findtext("description") or "")
    ids = [item.findtext("guid") for item in items]
    assert len(set(ids)) == len(ids)  # F-13
    dates = [rfc822(item.findtext("pubDate")) for item in items]
    assert dates == sorted(dates, reverse=True)  # F-09
    assert built == max(dates)  # the newest entry's date, not the build time


def rfc822(text: str | None) -> datetime:
    """F-04: RFC 822 with a 4-digit year and a numeric zone."""
    assert text and re.search(r"\b\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$", text), text
    return parsedate_to_datetime(text)


def rfc3339(text: str | None) -> datetime:
    assert text and RFC3339.match(text), text
    return datetime.fromisoformat(text)


def check_atom(raw: bytes) -> None:
    root = ET.fromstring(raw)
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):  # F-10
        assert len(root.findall(f"{A}{tag}")) == 1, tag
    assert (root.findtext(f"{A}author/{A}name") or "").strip()
    links = root.findall(f"{A}link")
    assert [x.get("rel") for x in links].count("self") == 1  # F-05
    alternates = [(x.get("type"), x.get("hreflang")) for x in links if x.get("rel") == "alternate"]
    assert len(set(alternates)) == len(alternates)
    assert all(absolute(x.get("href")) for x in links)  # F-06
    updated = rfc3339(root.findtext(f"{A}updated"))
    entries = root.findall(f"{A}entry")
    assert entries
    for entry in entries:
        for tag in ("id", "title", "updated"):  # F-11, F-12
            assert len(entry.findall(f"{A}{tag}")) == 1, tag
        rfc3339(entry.findtext(f"{A}published"))
        content = entry.find(f"{A}content")
        assert content is not None and content.get("type") == "html" and content.get("src") is None
        assert_inert(content.text or "")
        assert [x.get("rel") for x in entry.findall(f"{A}link")] == ["alternate"]
        assert all(absolute(x.get("href")) for x in entry.findall(f"{A}link"))
    ids = [entry.findtext(f"{A}id") for entry in entries]
    assert len(set(ids)) == len(ids)  # F-13
    dates = [rfc3339(entry.findtext(f"{A}updated")) for entry in entries]
    assert dates == sorted(dates, reverse=True)  # F-09
    assert updated == max(dates)


def ids(feed: Any) -> list[str]:
    return [entry.id for entry in feed.entries]


def days_of(feed: Any) -> list[date]:
    return [date(*entry.published_parsed[:3]) for entry in feed.entries]


def html_of(entry: Any) -> str:
    """The entry's decoded HTML: Atom content or RSS description."""
    return entry.content[0].value if "content" in entry else entry.summary


# --- a reader's feed -------------------------------------------------------------------------


def test_reader_feed_paths_media_types_and_channel() -> None:
    artifacts = reader_feeds([], reader=ADA, site=SITE, links=LINKS, env=environment())
    assert [a.path for a in artifacts] == [Path("feeds/ada.xml"), Path("feeds/ada.atom")]
    built = feeds_of(artifacts)
    for kind, fmt in (("rss", "rss"), ("atom", "atom")):
        head = built[kind][1].feed
        assert head.title == "Paper Digest for Ada"
        assert head.link == "https://digest.example.org/"  # a private reader has no page
        assert head.language == "en"
        selves = [x.href for x in head.links if x.rel == "self"]
        assert selves == [LINKS.feed_of("ada", fmt, private=True)]  # F-05


def test_public_reader_feed_links_to_their_page() -> None:
    reader = replace(ADA, public=True)
    built = build_reader([], reader=reader)
    assert built["rss"][1].feed.link == "https://digest.example.org/readers/ada/"


def test_reader_entry_round_trip_ids_titles_dates_links() -> None:  # F-20, F-30
    first = paper("A & B: x < y, \"q\" 'O(n)' ]]>", arxiv_id="2506.01234", authors=("Ann", "Bob"))
    plain = paper("No arXiv id here", url="https://example.org/paper")
    bare = paper("Nowhere to read it")
    built = build_reader([digest(DAY, pick(first), pick(plain), pick(bare))])
    for kind in ("rss", "atom"):
        feed = built[kind][1]
        assert ids(feed) == [
            "tag:digest.example.org,2025-08-20:readers/ada/arxiv:2506.01234",
            f"tag:digest.example.org,2025-08-20:readers/ada/{plain.id}",
            f"tag:digest.example.org,2025-08-20:readers/ada/{bare.id}",
        ]
        assert [e.title for e in feed.entries] == [first.title, plain.title, bare.title]
        assert [e.link for e in feed.entries] == [
            "https://arxiv.org/abs/2506.01234",
            "https://example.org/paper",
            LINKS.paper(DAY, bare.id),  # nothing else to link to: its place on the archive
        ]
        assert days_of(feed) == [DAY] * 3
        assert feed.entries[0].published_parsed[3:6] == (0, 0, 0)  # 00:00 UTC, not build time
        assert feed.feed.updated_parsed[:6] == (2025, 8, 20, 0, 0, 0)
    atom = built["atom"][1].entries[0]
    assert [a.name for a in atom.authors] == ["Ann", "Bob"]
    assert atom.title_detail.type == "text/plain"
    assert built["rss"][1].entries[0].author == "Ann, Bob"


def test_reader_entry_says_why_it_was_picked() -> None:
    liked = paper("A paper Ada liked")
    item = paper(
        "Rethinking the Value of Network Pruning",
        "Network pruning is widely used. " * 40,
        arxiv_id="1810.05270",
        authors=("Zhuang Liu", "Mingjie Sun"),
        code_url="https://github.com/Eric-mingjie/rethinking-network-pruning",
        categories=("cs.LG", "cs.CV"),
        upvotes=12,
    )
    scored = pick(item, closest=liked, closeness=0.4, popularity=0.123, authors=("Zhuang Liu",))
    built = build_reader([digest(DAY, scored)])
    for kind in ("rss", "atom"):
        entry = built[kind][1].entries[0]
        html = html_of(entry)
        for said in (
            "Score 0.432 · matched <strong>network pruning</strong> 60%, <strong>pruning</strong>",
            "by Zhuang Liu, whom you follow",
            "closest to your liked paper “A paper Ada liked” (0.40)",
            "popularity 12% of the score",
            "<strong>Authors:</strong> Zhuang Liu, Mingjie Sun",
            "<strong>Upvotes:</strong> 12",
            '<a href="https://arxiv.org/abs/1810.05270" rel="noopener noreferrer">arXiv</a>',
            '<a href="https://arxiv.org/pdf/1810.05270" rel="noopener noreferrer">PDF</a>',
            'href="https://github.com/Eric-mingjie/rethinking-network-pruning"',
            f'href="{LINKS.paper(DAY, item.id)}"',
        ):
            assert said in html, said
        assert "Network pruning is widely used." in html
        assert len(html) < 2000  # the abstract is cut, not copied whole
        assert [t.term for t in entry.tags] == ["cs.LG", "cs.CV"]


def test_same_paper_on_two_days_is_one_entry_at_its_first_day() -> None:  # F-13
    again = paper("Picked twice", arxiv_id="2506.00001")
    once = paper("Picked once", arxiv_id="2506.00002")
    later = DAY + timedelta(days=1)
    built = build_reader([digest(later, pick(again), pick(once)), digest(DAY, pick(again))])
    feed = built["atom"][1]
    assert [e.title for e in feed.entries] == ["Picked once", "Picked twice"]
    assert days_of(feed) == [later, DAY]
    assert ids(feed)[1] == "tag:digest.example.org,2025-08-20:readers/ada/arxiv:2506.00001"


def test_digests_of_another_reader_are_refused() -> None:
    bob = Profile(name="bob")
    with pytest.raises(ValueError, match="bob"):
        reader_feeds(
            [digest(DAY, reader=bob)], reader=ADA, site=SITE, links=LINKS, env=environment()
        )


def test_reader_named_like_the_public_feed_is_refused() -> None:
    with pytest.raises(RenderError, match="public feed"):
        reader_feeds([], reader=Profile(name="all"), site=SITE, links=LINKS, env=environment())


# --- the public feed ---------------------------------------------------------------------------


def test_public_feed_paths_channel_and_entries() -> None:
    first = paper("Popular", arxiv_id="2506.00003", upvotes=40)
    second = paper("Quiet", url="https://example.org/quiet")
    artifacts = public_feeds([(DAY, [first, second])], site=SITE, links=LINKS, env=environment())
    assert [a.path for a in artifacts] == [Path("feeds/all.xml"), Path("feeds/all.atom")]
    built = feeds_of(artifacts)
    for kind, fmt in (("rss", "rss"), ("atom", "atom")):
        feed = built[kind][1]
        assert feed.feed.title == "Paper Digest"
        assert [x.href for x in feed.feed.links if x.rel == "self"] == [LINKS.site_feed(fmt)]
        assert ids(feed) == [
            "tag:digest.example.org,2025-08-20:papers/arxiv:2506.00003",
            f"tag:digest.example.org,2025-08-20:papers/{second.id}",
        ]
        assert [e.link for e in feed.entries] == [
            "https://digest.example.org/2025/08/20/#arxiv-2506.00003",
            LINKS.paper(DAY, second.id),
        ]
        html = html_of(feed.entries[0])
        assert "<strong>Upvotes:</strong> 40" in html
        assert f'href="{LINKS.paper(DAY, first.id)}"' in html  # the day's page, in the content
        assert "https://arxiv.org/abs/2506.00003" in html
        assert "Upvotes" not in html_of(feed.entries[1])  # unknown, not zero


def test_public_feed_is_newest_first_bounded_and_without_repeats() -> None:  # F-09, F-13
    day1, day2, day3 = DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)
    old = paper("Seen on day 1 and day 3")
    days = [
        (day1, [paper("d1 a"), old, paper("d1 c")]),
        (day3, [paper("d3 a"), old, paper("d3 c")]),  # any order in, newest first out
        (day2, [paper("d2 a"), paper("d2 b"), paper("d2 c")]),
    ]
    feed = build_public(days, site=replace(SITE, feed_items=6))["rss"][1]
    assert [e.title for e in feed.entries] == ["d3 a", "d3 c", "d2 a", "d2 b", "d2 c", "d1 a"]
    everything = build_public(days)["atom"][1]
    assert len(everything.entries) == 8
    titles = [e.title for e in everything.entries]
    assert titles.index(old.title) == 6 and titles.count(old.title) == 1
    assert days_of(everything)[6] == day1  # listed at the first day it appeared


# --- never empty -------------------------------------------------------------------------------


def test_an_empty_reader_feed_still_has_one_stable_entry() -> None:
    for kind in ("rss", "atom"):
        feed = build_reader([])[kind][1]
        (entry,) = feed.entries
        assert entry.title == "No papers yet"
        assert entry.id == "tag:digest.example.org,1970-01-01:readers/ada/no-papers"
        assert days_of(feed) == [date(1970, 1, 1)]
        assert "Ada" in html_of(entry)
    # digests that picked nothing: dated by the newest of them, and the same on every build
    quiet = [digest(DAY), digest(DAY + timedelta(days=3))]
    twice = [build_reader(quiet)["atom"][0], build_reader(quiet)["atom"][0]]
    assert twice[0] == twice[1]
    feed = feedparser.parse(twice[0])
    assert ids(feed) == ["tag:digest.example.org,2025-08-23:readers/ada/no-papers"]
    assert "up to 2025-08-23" in html_of(feed.entries[0])


def test_an_empty_public_feed_still_has_one_entry() -> None:
    for days in ([], [(DAY, [])]):
        built = build_public(days)
        expected = "1970-01-01" if not days else "2025-08-20"
        for kind in ("rss", "atom"):
            assert ids(built[kind][1]) == [f"tag:digest.example.org,{expected}:papers/no-papers"]


# --- stability (F-20) --------------------------------------------------------------------------


def test_builds_are_reproducible_whatever_the_build_time() -> None:
    items = (pick(paper("One", arxiv_id="2506.00004")), pick(paper("Two")))
    early = build_reader([digest(DAY, *items, hour=1)])
    late = build_reader([replace(digest(DAY, *items), generated=datetime(2031, 1, 1, tzinfo=UTC))])
    assert early["rss"][0] == late["rss"][0]
    assert early["atom"][0] == late["atom"][0]


def test_ids_and_dates_survive_a_template_change_and_a_new_abstract(tmp_path: Path) -> None:
    shipped = shipped_templates()
    for name, extra in (
        ("feed.rss.xml", "<ttl>60</ttl>"),
        ("feed.atom.xml", "<rights>CC</rights>"),
    ):
        text = (shipped / name).read_text(encoding="utf-8")
        text = text.replace("<generator", f"{extra}\n    <generator", 1)
        (tmp_path / name).write_text(text, encoding="utf-8")
    item = paper("Stable", "First abstract.", arxiv_id="2506.00005")
    before = build_reader([digest(DAY, pick(item))])
    changed = replace(item, abstract="A corrected abstract.")
    after = build_reader([digest(DAY, pick(changed))], env=environment((tmp_path,)))
    for kind in ("rss", "atom"):
        assert before[kind][0] != after[kind][0]  # the template and the content did change
        old, new = before[kind][1], after[kind][1]
        assert ids(old) == ids(new)
        assert days_of(old) == days_of(new)
        assert old.entries[0].published_parsed == new.entries[0].published_parsed
        assert "A corrected abstract." in html_of(new.entries[0])
    updated = [
        ET.fromstring(b["atom"][0]).findtext(f"{A}entry/{A}updated") for b in (before, after)
    ]
    assert updated == ["2025-08-20T00:00:00Z"] * 2  # F-12: the day it was first listed
    assert b"<ttl>60</ttl>" in after["rss"][0]


def test_template_errors_become_render_errors(tmp_path: Path) -> None:
    (tmp_path / "feed.rss.xml").write_text("<rss>{{ feed.nope }}</rss>\n", encoding="utf-8")
    (tmp_path / "feed.atom.xml").write_text("<feed>\n{% for %}\n", encoding="utf-8")
    env = environment((tmp_path,))
    with pytest.raises(RenderError, match=r"feed\.rss\.xml") as caught:
        public_feeds([], site=SITE, links=LINKS, env=env)
    assert "\n" not in str(caught.value)
    (tmp_path / "feed.rss.xml").unlink()
    with pytest.raises(RenderError, match=r"feed\.atom\.xml:2"):
        public_feeds([], site=SITE, links=LINKS, env=env)


# --- escaping (F-07, F-08, H-05, H-07) ---------------------------------------------------------

HOSTILE_TITLES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "&lt;script&gt;alert(2)&lt;/script&gt; &#106;avascript:alert(3)",
    "Ends the CDATA ]]> here\x00\x0b\x1b\x7f\r\nBcc: evil@example.org",
]
HOSTILE_ABSTRACT = (
    '<a href="javascript:alert(4)">x</a> <img src=x onerror=alert(5)> <svg onload=alert(6)>'
    ' <form action="https://evil.example/"><input></form> &lt;script&gt;alert(7)&lt;/script&gt;'
    ' <a href="&#106;avascript:alert(8)">y</a> [md](javascript:alert(9)) ![i](data:image/png,x)'
    " ]]> \x00\x0b\x1b\x7f\ufffe\r\nBcc: evil"
)


def hostile_papers() -> list[StoredPaper]:
    return [
        paper(
            title,
            HOSTILE_ABSTRACT,
            authors=(title, "Mallory\r\nBcc: x"),
            categories=('cs.LG"><script>alert(9)</script>', "\x00"),
            url="javascript:alert(10)",
            pdf_url="data:text/html,<script>alert(11)</script>",
            code_url=" JaVaScRiPt:alert(12)",
            project_url="&#106;avascript:alert(13)",
            upvotes=1,
        )
        for title in HOSTILE_TITLES
    ]


def hostile_builds() -> list[dict[str, Any]]:
    papers = hostile_papers()
    liked = paper(HOSTILE_TITLES[1])
    picks = [pick(p, closest=liked, closeness=0.5, authors=p.authors) for p in papers]
    evil = replace(
        ADA, display_name="<b>Ada</b>\x00\r\nBcc: x", name="ada", keywords=(HOSTILE_TITLES[0],)
    )
    site = replace(SITE, title="Hostile <script>alert(14)</script> & Co\x0b")
    return [
        build_reader([digest(DAY, *picks, reader=evil)], reader=evil, site=site),
        build_public([(DAY, papers)], site=site),
    ]


def test_hostile_corpus_parses_and_nothing_live_survives() -> None:
    for built in hostile_builds():
        for kind in ("rss", "atom"):
            raw, feed = built[kind]
            text = raw.decode("utf-8")
            assert "<script" not in text.lower()
            assert "\r" not in text and "\n" not in feed.feed.title  # CR/LF folded to spaces
            tree = ET.fromstring(raw)
            for element in tree.iter():
                assert not any(name.lower().startswith("on") for name in element.attrib)
                for value in element.attrib.values():
                    assert not value.lower().lstrip().startswith(("javascript:", "data:"))
            assert len(feed.entries) == len(HOSTILE_TITLES)
            for entry in feed.entries:
                html = html_of(entry)
                assert_inert(html)  # H-05, on what a reader decodes
                # nor as text that a later conversion to Markdown could make a link of
                assert not re.search(r"(?i)(javascript|vbscript|data)\s*:", html)
                assert absolute(entry.link)
                assert "\x00" not in entry.title and "\n" not in entry.title
            titles = [e.title for e in feed.entries]
            assert titles[0] == "alert(1)"  # H-01: tags dropped from plain-text fields
            assert titles[3] == "Ends the CDATA ]]> here Bcc: evil@example.org"


def test_script_schemes_in_text_read_the_same_but_link_nowhere() -> None:
    text = "Big data: a survey. [x](javascript:alert(1)) VBScript : no"
    html = html_of(build_public([(DAY, [paper("T", text)])])["atom"][1].entries[0])
    assert "data&#58; a survey" in html and "](javascript&#58;" in html
    assert "VBScript &#58; no" in html
    reader = Markup(html)
    assert text in "".join(reader.text)  # what a reader shows is unchanged


def test_titles_and_names_are_plain_text_without_tags() -> None:  # H-01
    titles = {
        "<b>Bold</b> claim": "Bold claim",
        "x </title><script>alert(10)</script>": "x alert(10)",
        "<<script>script>alert(1)<</script>/script>": "alert(1)",
        "j<i & LaTeX $O(n)$": "j< i & LaTeX $O(n)$",  # a lone `<` stays, never a tag's start
        "x<img src=x onerror=alert(1)": "x< img src=x onerror=alert(1)",
        "&lt;script&gt; stays &amp; text": "&lt;script&gt; stays &amp; text",  # never unescaped
        "k < n, m > 2": "k < n, m > 2",
    }
    papers = [paper(t, authors=(f"{t} Jr",), categories=(t,)) for t in titles]
    built = build_public([(DAY, papers)])
    for kind in ("rss", "atom"):
        entries = built[kind][1].entries
        assert [e.title for e in entries] == list(titles.values())
    atom = built["atom"][1].entries
    assert {e.title_detail.type for e in atom} == {"text/plain"}
    assert [e.authors[0].name for e in atom] == [f"{t} Jr" for t in titles.values()]
    assert [e.tags[0].term for e in atom] == list(titles.values())


def test_html_is_escaped_exactly_once() -> None:  # H-07, F-07
    item = paper(
        "A & B", "x < y && z > w; &amp; stays text ]]>", arxiv_id="2506.00006", authors=("Å & Ø",)
    )
    built = build_public([(DAY, [item])])
    for kind, find in (("rss", "channel/item/description"), ("atom", f"{A}entry/{A}content")):
        raw, feed = built[kind]
        given = ET.fromstring(raw).findtext(find) or ""  # the string the template was handed
        decoded = html_of(feed.entries[0])
        assert decoded == given  # feedparser returns the sanitised HTML unchanged
        assert "&amp;amp;" not in decoded.replace("&amp;amp; stays", "")
        assert "x &lt; y &amp;&amp; z &gt; w; &amp;amp; stays text ]]&gt;" in decoded
        assert "Å &amp; Ø" in decoded
        assert nh3.clean(decoded, tags=ALLOWED, attributes={"a": {"href"}}) == decoded
        assert feed.entries[0].title == "A & B"
