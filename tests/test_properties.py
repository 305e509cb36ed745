"""Properties of every parser and escaper, on generated input (hypothesis, the fixed-seed profile
of conftest.py): no input raises anything but the project's one-line errors, every paper that
comes out has clean texts, and escaped output holds no live tag or `javascript:` URL, as a real
HTML parser reads it.
"""

from __future__ import annotations

import base64
import html
import json
import re
import tempfile
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import markdown
import yaml
from helpers import stored
from hypothesis import given, settings
from hypothesis import strategies as st

from digest import sources
from digest.config import load_config
from digest.errors import ConfigError, SourceError
from digest.models import Digest, Origin, Paper, Profile, Scored, Site, Term
from digest.render import environment, render_markdown
from digest.render.email import render_email
from digest.render.filters import md_escape, md_paper, safe_url
from digest.render.links import Links
from digest.render.markup import SCHEMES, TAGS, markdown_html
from digest.tokens import Signer

DAY = date(2025, 8, 20)
ORIGIN = Origin("prop", "prop/source", today=DAY)
DATED = Origin("prop", "prop/source", today=DAY, date=DAY)
CONTROLS = [chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]] + ["\u2028", "\u2029"]
BIDI = list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
UNCLEAN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)

# Text that leans toward what breaks parsers and escapers: markup, entities, URLs, controls, bidi.
NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "&lt;b&gt;",
    "&#106;avascript:",
    "]]>",
    "<![CDATA[",
    "[x](javascript:alert(1))",
    "<a href='javascript:x'>",
    "\r",
    "\r\n",
    "\n",
    "\t",
    "\x00",
    "\x1b[2J",
    "\x85",
    "\u202e",
    "\u2066",
    "\ufeff",
    "`",
    "*",
    "_",
    "#",
    "|",
    "1.",
    "- ",
    "> ",
    "&",
    '"',
    "'",
    "\\",
    "%",
    "{{ x }}",
    "{% raw %}",
    "\ud7ff",
]
nasty_text = st.lists(
    st.one_of(st.sampled_from(NASTY), st.text(max_size=8), st.sampled_from(CONTROLS + BIDI)),
    max_size=8,
).map("".join)
plain_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def assert_clean(papers: list[Paper]) -> None:
    for paper in papers:
        assert paper.title and paper.title == paper.title.strip()
        for text in (paper.title, *paper.authors, *paper.keywords):
            assert not UNCLEAN.search(text) and "\t" not in text and "\n" not in text, text
        assert not UNCLEAN.search(paper.abstract), paper.abstract


def parse_or_one_line_error(kind: str, data: bytes, origin: Origin = ORIGIN) -> list[Paper]:
    """The papers, or [] when the source failed with a one-line SourceError that names where and
    is one of the parser's own (not the net under every parser: that is a bug)."""
    try:
        papers, warnings = sources.parse_with_warnings(kind, data, origin=origin)
    except SourceError as exc:
        message = str(exc)
        assert message.startswith(f"{origin.location}: ") and "\n" not in message
        assert "\r" not in message and not UNCLEAN.search(message), message
        assert "could not read the" not in message, message
        return []
    assert all(w.startswith(f"{origin.location}: ") and "\n" not in w for w in warnings)
    assert_clean(papers)
    return papers


# -- text pages ---------------------------------------------------------------------------------

word = st.text("abcdefghijklmnopqrstuvwxyzäßé", min_size=2, max_size=9)


def spoiled(words: list[str], stray: list[str]) -> str:
    """The words joined by spaces, with a stray character inserted into the first few words."""
    spoilt = [w[:1] + c + w[1:] for w, c in zip(words, stray, strict=False)]
    return " ".join(spoilt + words[len(spoilt) :])


def shown(text: str) -> list[str]:
    """The words a reader should see: bidi controls gone, other controls separating words."""
    kept = "".join("" if ch in BIDI else " " if ch in CONTROLS else ch for ch in text)
    return kept.split()


title_stray = st.lists(st.sampled_from([c for c in CONTROLS if c != "\n"] + BIDI), max_size=1)
pair = st.tuples(
    st.lists(word, min_size=4, max_size=8), title_stray, st.lists(word, min_size=40, max_size=60)
)


@given(st.lists(pair, min_size=1, max_size=4), st.sampled_from(["\n", "\r\n", "\n\n"]))
@settings(max_examples=60)
def test_a_text_page_keeps_every_paper_whatever_stray_character_a_title_holds(
    pairs: list[tuple[list[str], list[str], list[str]]], newline: str
) -> None:
    lines = ["Daily Papers", "Aug 20"]
    expected = []
    for words, stray, abstract in pairs:
        title = spoiled(["Paper", *words], stray)
        lines += [title, " ".join(abstract).capitalize() + "."]
        expected.append(shown(title))
    data = newline.join(lines).encode("utf-8")
    papers = parse_or_one_line_error("hf_text", data)
    assert [paper.title.split() for paper in papers] == expected


@given(st.binary(max_size=400) | nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
@settings(max_examples=150)
def test_any_bytes_as_a_text_page_give_papers_or_one_line(data: bytes) -> None:
    parse_or_one_line_error("hf_text", b"Daily Papers\nAug 20\n" + data)
    parse_or_one_line_error("hf_text", data)


# -- HF API JSON and the HTML props page -------------------------------------------------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=12,
)
field = st.one_of(json_value, nasty_text)


@st.composite
def hf_items(draw: st.DrawFn) -> list[Any]:
    """Daily Papers items, each field either plausible or arbitrary."""
    items = []
    for _ in range(draw(st.integers(0, 3))):
        paper = {
            "id": draw(st.sampled_from(["2508.00001", "2508.00002", "x"]) | field),
            "title": draw(nasty_text | field),
            "summary": draw(nasty_text | field),
            "authors": draw(
                st.lists(st.fixed_dictionaries({"name": nasty_text}), max_size=3) | field
            ),
            "ai_keywords": draw(st.lists(nasty_text, max_size=3) | field),
            "upvotes": draw(st.integers(-5, 10**12) | field),
            "githubRepo": draw(st.sampled_from(["https://github.com/a/b", "javascript:x"]) | field),
            "submittedOnDailyAt": draw(st.sampled_from(["2025-08-20T00:00:00Z"]) | field),
        }
        keep = draw(st.lists(st.sampled_from(sorted(paper)), unique=True))
        items.append({"paper": {key: paper[key] for key in keep} if keep else draw(field)})
    return items


@given(hf_items(), st.booleans(), st.sampled_from([ORIGIN, DATED]))
@settings(max_examples=60)
def test_any_hf_api_json_gives_clean_papers_or_one_line(
    items: list[Any], wrapped: bool, origin: Origin
) -> None:
    body = {"data": items} if wrapped else items
    parse_or_one_line_error("hf_api", json.dumps(body).encode("utf-8"), origin)


@given(json_value)
@settings(max_examples=40)
def test_any_json_document_as_hf_api_gives_papers_or_one_line(value: Any) -> None:
    parse_or_one_line_error("hf_api", json.dumps(value).encode("utf-8"), DATED)


@given(hf_items(), json_value, nasty_text, st.sampled_from([ORIGIN, DATED]))
@settings(max_examples=40)
def test_any_hf_html_props_page_gives_clean_papers_or_one_line(
    items: list[Any], date_string: Any, around: str, origin: Origin
) -> None:
    props = html.escape(json.dumps({"dailyPapers": items, "dateString": date_string}))
    page = f'<html>{around}<div data-target="DailyPapers" data-props="{props}"></div>{around}'
    parse_or_one_line_error("hf_html", page.encode("utf-8", "surrogatepass"), origin)
    parse_or_one_line_error("hf_html", around.encode("utf-8", "surrogatepass"), origin)


# -- feeds (and the arXiv shapes of feed_arxiv) ------------------------------------------------

xml_text = nasty_text.map(lambda t: xml_escape(t))  # escaped, but controls left in: often bozo
raw_or_escaped = xml_text | nasty_text


@st.composite
def feeds(draw: st.DrawFn) -> str:
    """An RSS 2.0 (arXiv RSS-like) or Atom (arXiv API-like) document with arbitrary fields."""
    text = draw(raw_or_escaped)
    rss = draw(st.booleans())
    entries = []
    for n in range(draw(st.integers(0, 3))):
        guid = draw(st.sampled_from([f"oai:arXiv.org:2508.0000{n}v1", f"g{n}"]) | xml_text)
        if rss:
            entries.append(
                f"<item><title>{draw(raw_or_escaped)}</title><link>{draw(xml_text)}</link>"
                f"<guid>{guid}</guid><dc:creator>{draw(raw_or_escaped)}</dc:creator>"
                f"<description>{draw(raw_or_escaped)}</description>"
                f"<arxiv:announce_type>{draw(st.sampled_from(['new', 'cross']) | xml_text)}"
                f"</arxiv:announce_type><pubDate>{draw(xml_text)}</pubDate></item>"
            )
        else:
            entries.append(
                f"<entry><id>http://arxiv.org/abs/2508.0000{n}v1</id>"
                f"<title>{draw(raw_or_escaped)}</title><summary>{draw(raw_or_escaped)}</summary>"
                f"<author><name>{draw(raw_or_escaped)}</name></author>"
                f'<arxiv:primary_category term="{draw(xml_text)}"/>'
                f"<published>{draw(st.sampled_from(['2025-08-20T00:00:00Z']) | xml_text)}"
                f"</published></entry>"
            )
    if rss:
        return (
            '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom"><channel>'
            f"<title>{text}</title>{''.join(entries)}</channel></rss>"
        )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xmlns:arxiv="http://arxiv.org/schemas/atom"><title>{text}</title>{"".join(entries)}</feed>'
    )


@given(feeds(), st.sampled_from([ORIGIN, DATED]))
@settings(max_examples=50)
def test_any_feed_gives_clean_papers_or_one_line(document: str, origin: Origin) -> None:
    parse_or_one_line_error("feed", document.encode("utf-8", "surrogatepass"), origin)


@given(st.binary(max_size=300))
@settings(max_examples=60)
def test_any_bytes_as_a_feed_give_papers_or_one_line(data: bytes) -> None:
    parse_or_one_line_error("feed", b'<?xml version="1.0"?><rss><channel>' + data, DATED)
    parse_or_one_line_error("feed", data, DATED)


# -- config.yaml --------------------------------------------------------------------------------

VALID = {
    "store": "out/store.sqlite3",
    "newsletter": {"title": "Digest", "intro": "Hello"},
    "site": {"base_url": "https://digest.example.org/"},
    "sources": [{"name": "api", "kind": "hf_api", "url": "https://example.org/{date}"}],
    "readers": [{"name": "ada", "email": "ada@example.org", "interests": {"keywords": ["x"]}}],
}
yaml_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | plain_text
yaml_tree = st.recursive(
    yaml_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_text, inner, max_size=3),
    max_leaves=10,
)


def load_or_config_error(text: str) -> None:
    """Loading `text` as config.yaml succeeds or raises a ConfigError of one-line problems."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path, kinds=sources.SOURCES.keys())
        except ConfigError as exc:
            for line in (str(exc), *exc.problems):
                assert line and "\n" not in line and "\r" not in line, line


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a tree of dicts and lists."""
    found = [prefix]
    items = (
        tree.items()
        if isinstance(tree, dict)
        else enumerate(tree)
        if isinstance(tree, list)
        else []
    )
    for key, value in items:
        found += paths(value, (*prefix, key))
    return found


@given(st.lists(st.sampled_from(list("{}[]:,-#&*!|>'\"%@`\n\t ")) | plain_text, max_size=12))
@settings(max_examples=80)
def test_any_yamlish_text_loads_or_gives_one_line_problems(pieces: list[str]) -> None:
    load_or_config_error("".join(pieces))


@given(yaml_tree)
@settings(max_examples=60)
def test_any_structure_loads_or_gives_one_line_problems(tree: Any) -> None:
    load_or_config_error(yaml.safe_dump(tree))


@given(st.data())
@settings(max_examples=100)
def test_a_valid_config_with_any_value_replaced_loads_or_gives_one_line_problems(
    data: st.DataObject,
) -> None:
    config = json.loads(json.dumps(VALID))
    where = data.draw(st.sampled_from(paths(config)[1:]))
    node = config
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = data.draw(yaml_tree)
    load_or_config_error(yaml.safe_dump(config))


# -- tokens -------------------------------------------------------------------------------------

SIGNER = Signer.from_text("correct horse battery staple 42", ["an older secret, rotated out 7"])
PURPOSES = ["unsubscribe", "feedback", "feed", "confirm"]
reader_name = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)


@given(st.text(max_size=60), st.sampled_from(PURPOSES))
def test_an_arbitrary_string_never_names_a_reader(token: str, purpose: Any) -> None:
    assert SIGNER.reader(token, purpose) is None


@given(reader_name, st.sampled_from(PURPOSES), st.sampled_from(PURPOSES), st.integers(0, 10**6))
def test_a_signed_token_names_its_reader_for_its_purpose_and_version_only(
    name: str, purpose: Any, other: Any, version: int
) -> None:
    token = SIGNER.token(name, purpose, version)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)
    assert SIGNER.reader(token, purpose, lambda _: version) == name
    assert SIGNER.reader(token, purpose, lambda _: version + 1) is None
    assert SIGNER.reader(token, purpose, lambda _: None) is None
    if other != purpose:
        assert SIGNER.reader(token, other, lambda _: version) is None
    stranger = Signer.from_text("another secret entirely, 16+ bytes")
    assert stranger.reader(token, purpose, lambda _: version) is None


@given(reader_name, st.sampled_from(PURPOSES), st.integers(0, 60), st.characters())
def test_a_changed_token_names_nobody(name: str, purpose: Any, at: int, ch: str) -> None:
    token = SIGNER.token(name, purpose)
    at %= len(token)
    changed = token[:at] + ch + token[at + 1 :]
    if changed != token:
        assert SIGNER.reader(changed, purpose) in (None, name)  # base64 padding bits: same bytes
        if SIGNER.reader(changed, purpose) == name:
            assert _same_bytes(changed, token)


def _same_bytes(a: str, b: str) -> bool:
    def raw(t: str) -> list[bytes]:
        return [base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in t.split(".")]

    try:
        return raw(a) == raw(b)
    except ValueError:
        return False


# -- escaping: Markdown, HTML email, the operator's Markdown -------------------------------------


class Elements(HTMLParser):
    """Every element, and every URL-valued attribute, as a browser's tokenizer would see them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.handlers: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction", "xlink:href", "background"):
                self.urls.append(value or "")
            if name.startswith("on"):
                self.handlers.append(name)

    handle_startendtag = handle_starttag


def assert_no_script_url(urls: list[str]) -> None:
    for url in urls:
        squeezed = re.sub(r"[\x00-\x20]", "", url).lower()  # browsers skip these in a scheme
        assert not squeezed.startswith(("javascript:", "vbscript:", "data:")), url


@given(nasty_text)
@settings(max_examples=100)
def test_escaped_markdown_text_is_only_text(text: str) -> None:
    found = Elements(markdown.markdown(md_escape(text)))
    assert found.tags <= {"p"} and not found.urls and not found.handlers


@given(
    nasty_text, nasty_text, st.lists(nasty_text, max_size=3), nasty_text | st.sampled_from(NASTY)
)
@settings(max_examples=100)
def test_a_papers_markdown_has_no_tag_but_its_link(
    title: str, abstract: str, authors: list[str], url: str
) -> None:
    pieces = md_paper(stored("arxiv:2508.00001", title, abstract, authors=tuple(authors), url=url))
    text = f"## {pieces.heading}\n\n{pieces.authors}\n\n{pieces.links}\n\n> {pieces.quote}\n"
    found = Elements(markdown.markdown(text))
    assert found.tags <= {"h2", "p", "a", "blockquote"} and not found.handlers
    assert all(u.startswith(("http://", "https://")) for u in found.urls), found.urls


@given(nasty_text | st.sampled_from(NASTY))
def test_a_safe_url_is_http_or_nothing(url: str) -> None:
    safe = safe_url(url)
    assert safe == "" or re.match(r"https?://[^\s\"'<>]+$", safe, re.I), safe


@given(nasty_text)
@settings(max_examples=100)
def test_the_operators_markdown_keeps_only_allowed_tags_and_schemes(text: str) -> None:
    found = Elements(markdown_html(text))
    assert found.tags <= TAGS and not found.handlers
    assert all(u.split(":", 1)[0].lower() in SCHEMES for u in found.urls if ":" in u), found.urls
    assert_no_script_url(found.urls)


SITE = Site(base_url="https://digest.example.org/")
READER = Profile(name="ada", keywords=("pruning",), email="ada@example.org")
ENV = environment()


def render_all(scored: list[Scored]) -> tuple[str, str, str]:
    """The HTML email, its text part and the Markdown digest of one digest."""
    digest = Digest(READER, DAY, tuple(scored), 10, datetime(2025, 8, 20, 6, tzinfo=UTC))
    page, text = render_email(digest, site=SITE, links=Links(SITE.base_url), env=ENV)
    md = render_markdown(digest, title=SITE.title, env=ENV).content.decode("utf-8")
    return page, text, md


def scored(n: int, title: str, abstract: str, authors: tuple[str, ...], url: str) -> Scored:
    paper = stored(
        f"arxiv:2508.0000{n}",
        title,
        abstract,
        arxiv_id=f"2508.0000{n}",
        authors=authors,
        url=url,
        pdf_url=url,
        code_url=url,
        project_url=url,
        keywords=(title,),
    )
    return Scored(paper, 0.5, (Term("pruning", 0.5),), authors=authors[:1])


BENIGN = scored(1, "Pruning", "Pruning works. " * 20, ("Ada",), "https://example.org/p")
TEMPLATE_TAGS = Elements(render_all([BENIGN])[0]).tags
TEMPLATE_MD_TAGS = Elements(markdown.markdown(render_all([BENIGN])[2])).tags


@given(
    nasty_text, nasty_text, st.lists(nasty_text, max_size=2), nasty_text | st.sampled_from(NASTY)
)
@settings(max_examples=40)
def test_a_hostile_paper_adds_no_element_and_no_script_url_to_any_rendering(
    title: str, abstract: str, authors: list[str], url: str
) -> None:
    page, text, md = render_all([BENIGN, scored(2, title, abstract, tuple(authors), url)])
    email_html = Elements(page)
    assert email_html.tags <= TEMPLATE_TAGS, email_html.tags - TEMPLATE_TAGS
    assert_no_script_url(email_html.urls)
    md_html = Elements(markdown.markdown(md))
    assert md_html.tags <= TEMPLATE_MD_TAGS, md_html.tags - TEMPLATE_MD_TAGS
    assert_no_script_url(md_html.urls)
    assert not email_html.handlers and not md_html.handlers
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text)


def test_the_renderings_baseline_shows_the_papers_links() -> None:
    """The element sets the hostile paper is held to are those of a paper with every link."""
    assert {"a", "html"} <= TEMPLATE_TAGS and "a" in TEMPLATE_MD_TAGS
    page, _, md = render_all([BENIGN])
    assert "https://example.org/p" in page and "https://example.org/p" in md
