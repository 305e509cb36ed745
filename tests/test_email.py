"""The HTML email, its plain-text part and the complete message (E-10..E-15, E-40..E-43, H-01,
H-02, H-05): headers, MIME structure, inlined CSS, dark mode, preheader, hostile input, user
templates, errors and determinism. Digests are built by hand; nothing is read from the network.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import stored

from digest.errors import RenderError
from digest.models import Digest, Profile, Scored, Site, Term
from digest.render import environment
from digest.render.email import artifacts, message, render_email
from digest.render.email.context import highlight, markdown_text, preheader, template_context
from digest.render.email.inline import inline, inlining, preinline
from digest.render.links import Format, Links, Verdict
from digest.render.markup import markdown_html

DAY = date(2025, 8, 20)
NOW = datetime(2025, 8, 20, 6, 30, tzinfo=UTC)
SITE = Site(
    title="Paper Digest",
    base_url="https://digest.example.org/",
    intro="Today's picks. See [the guide](https://digest.example.org/guide?a=1&b=2).",
    sender="Paper Digest <digest@digest.example.org>",
)
ADA = Profile(
    name="ada",
    display_name="Ada Lovelace",
    email="ada@example.org",
    keywords=("network pruning", "quantization"),
    note="Welcome, *Ada*.",
)
ABSTRACT = (
    "We study network pruning for large language models and show that structured sparsity with "
    "quantization keeps accuracy while cutting memory. Our method prunes attention heads, learns "
    "per-layer budgets and distils the dense teacher. Experiments on twelve benchmarks show 2.1x "
    "speedups at 50% sparsity with under one point of accuracy loss. "
) * 5
TERMS = (Term("network pruning", 0.5), Term("quantization", 0.3), Term("sparsity", 0.2))


class SignedLinks(Links):
    """Links as delivery will make them: distinct per verdict, with a token and an `&`."""

    def feedback(self, reader: str, day: date, paper_id: str, verdict: Verdict) -> str:
        return f"{self.base}feedback/{reader}/{day}/{paper_id.replace(':', '-')}/{verdict}?t=x&v=1"

    def unsubscribe(self, reader: str) -> str:
        return f"{self.base}unsubscribe/{reader}?t=tok&v=1"

    def feed_of(self, reader: str, fmt: Format, *, private: bool) -> str:
        return f"{self.base}feeds/tok-{reader}.{fmt}"


LINKS = SignedLinks(SITE.base_url)
Mail = tuple[EmailMessage, str, str, bytes]  # the parsed message, its HTML, its text, its bytes


def paper(n: int, **fields: object) -> Scored:
    arxiv = f"2508.{n:05d}"
    values: dict[str, object] = {
        "arxiv_id": arxiv,
        "authors": tuple(f"Author {a}" for a in range(12)),
        "url": f"https://huggingface.co/papers/{arxiv}",
        "code_url": f"https://github.com/org/repository-{n}",
        "project_url": f"https://org.github.io/project-{n}/",
        "upvotes": 7,
    }
    values.update(fields)
    title = str(values.pop("title", f"Structured pruning of language models, part {n}"))
    abstract = str(values.pop("abstract", ABSTRACT))
    found = stored(f"arxiv:{arxiv}", title, abstract, **values)
    return Scored(found, 0.4321, TERMS, popularity=0.12, authors=("Author 1",))


def digest(*papers: Scored, reader: Profile = ADA) -> Digest:
    return Digest(reader, DAY, papers, candidates=81, generated=NOW)


def render(d: Digest, dirs: tuple[Path, ...] = (), site: Site = SITE) -> tuple[str, str]:
    return render_email(d, site=site, links=LINKS, env=environment(dirs))


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def mail(d: Digest, site: Site = SITE) -> Mail:
    html, text = render(d, site=site)
    raw = message(d, html, text, site=site, now=NOW)
    return parse(raw), html, text, raw


class Tags(HTMLParser):
    """Every start tag of an HTML document, with its attributes (entities decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def hrefs(self) -> list[str]:
        return [a["href"] for t, a in self.tags if t == "a" and "href" in a]


@pytest.fixture(scope="module")
def thirty() -> Mail:
    return mail(digest(*(paper(n) for n in range(30))))


# -- the message: E-10..E-13 -----------------------------------------------------------------


def test_e10_one_aware_date_from_now(thirty: Mail) -> None:
    msg = thirty[0]
    assert len(msg.get_all("Date") or []) == 1
    sent = parsedate_to_datetime(msg["Date"])
    assert sent.tzinfo is not None and sent == NOW
    with pytest.raises(RenderError, match="timezone"):
        message(digest(), "", "", site=SITE, now=NOW.replace(tzinfo=None))


def test_e11_message_id_per_reader_and_day_on_the_site_domain() -> None:
    ids = set()
    for name in ("ada", "bob", "a da", "a-da", "<x>@evil\r\n.com", "..", "é"):
        reader = Profile(name=name, email="x@example.org")
        msg = parse(message(digest(reader=reader), "<p>x</p>", "x", site=SITE, now=NOW))
        assert len(msg.get_all("Message-ID") or []) == 1
        assert re.fullmatch(r"<[^@\s<>]+@digest\.example\.org>", msg["Message-ID"])
        ids.add(msg["Message-ID"])
    assert len(ids) == 7  # unique across a batch, even where names differ only in odd characters
    assert parse(message(digest(), "", "", site=SITE, now=NOW))["Message-ID"] == (
        "<digest-2025-08-20.ada@digest.example.org>"
    )
    next_day = replace(digest(), date=DAY + timedelta(days=1))
    assert "2025-08-21" in parse(message(next_day, "", "", site=SITE, now=NOW))["Message-ID"]


def test_e12_subject_from_config_and_counts_one_line_and_no_injected_header() -> None:
    evil = "\r\nBcc: evil@example.com\x00\x0b\x1b"
    hostile = paper(1, title=f"Pruning{evil}", authors=(f"Mallory{evil}",))
    site = replace(SITE, title="Paper\r\nBcc: evil@example.com Digest")
    reader = replace(ADA, display_name=f"Ada{evil}")
    msg, _, text, raw = mail(digest(hostile, reader=reader), site=site)
    assert msg["Subject"] == "Paper Bcc: evil@example.com Digest: 1 paper for 20 Aug 2025"
    assert "Bcc" not in msg and b"\nBcc:" not in raw
    assert all("\n" not in v and "\r" not in v for v in msg.values())
    assert msg["From"] == SITE.sender
    assert msg["To"].addresses[0].addr_spec == "ada@example.org"
    assert not re.search(r"^Bcc:", text, re.M)


def test_non_ascii_headers_are_encoded_and_read_back() -> None:
    site = replace(
        SITE, title="Revue des papiers · été", sender="Digëst <digest@digest.example.org>"
    )
    reader = replace(ADA, display_name="Ada Łovelace, Countess")
    msg, _, _, raw = mail(digest(paper(1), reader=reader), site=site)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head
    assert msg["Subject"] == "Revue des papiers · été: 1 paper for 20 Aug 2025"
    assert msg["From"].addresses[0].display_name == "Digëst"
    assert msg["To"].addresses[0].display_name == "Ada Łovelace, Countess"


def test_e12_reader_without_address_has_no_to_and_bad_address_is_a_render_error() -> None:
    msg = parse(message(digest(reader=Profile(name="solo")), "", "", site=SITE, now=NOW))
    assert "To" not in msg and msg["From"] and msg["Message-ID"]
    with pytest.raises(RenderError, match="To"):
        message(
            digest(reader=Profile(name="x", email="not an address")), "", "", site=SITE, now=NOW
        )


def test_e13_multipart_alternative_text_first_both_utf8(thirty: Mail) -> None:
    msg, html, text, _ = thirty
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert parts[0].get_content().replace("\r\n", "\n") == text
    assert parts[1].get_content().replace("\r\n", "\n") == html + "\n"
    assert not msg.defects and not any(p.defects for p in parts)


def test_serialised_with_crlf_and_no_line_over_998_octets() -> None:
    long_intro = replace(SITE, intro="word " * 1000)  # one 5,000-character paragraph
    msg, _, text, raw = mail(digest(paper(1)), site=long_intro)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    plain = next(msg.iter_parts())
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"  # its line was too long
    assert plain.get_content().replace("\r\n", "\n") == text


def test_content_cannot_forge_a_mime_boundary() -> None:
    forged = "--=_digest-alt-0\nContent-Type: text/html\n\n<script>alert(1)</script>"
    msg, *_ = mail(digest(paper(1, abstract=forged, title=forged)))
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg.get_boundary() != "=_digest-alt-0"


# -- the parts: E-14, E-15 -------------------------------------------------------------------


def test_e14_text_part_has_every_title_and_every_url_of_the_html(thirty: Mail) -> None:
    _, html, text, _ = thirty
    hrefs = Tags(html).hrefs()
    assert len(hrefs) > 30 * 7  # paper links, feedback, and the footer's
    for href in hrefs:
        assert href in text
    for n in range(30):
        assert f"Structured pruning of language models, part {n}\n" in text


def test_feedback_and_unsubscribe_links_in_both_parts(thirty: Mail) -> None:
    _, html, text, _ = thirty
    hrefs = Tags(html).hrefs()
    for verdict in ("like", "dislike"):
        url = LINKS.feedback("ada", DAY, "arxiv:2508.00007", verdict)  # type: ignore[arg-type]
        assert url in hrefs and url in text
    assert LINKS.unsubscribe("ada") in hrefs and LINKS.unsubscribe("ada") in text
    assert LINKS.day(DAY) in hrefs and LINKS.feed_of("ada", "atom", private=True) in text
    assert ">More like this</a>" in html and ">Less like this</a>" in html


def test_e15_thirty_papers_with_long_abstracts_fit_under_gmail_clipping(thirty: Mail) -> None:
    html_part = list(thirty[0].iter_parts())[1]
    assert len(html_part.get_content().encode("utf-8")) < 90_000


def test_e15_a_long_digest_is_capped_and_points_to_the_feed() -> None:
    long_titles = [paper(n, title=f"A long title about pruning, {n}, " * 5) for n in range(45)]
    msg, html, text, _ = mail(digest(*long_titles))
    assert msg["Subject"] == "Paper Digest: 45 papers for 20 Aug 2025"
    assert html.count('<td class="paper"') == 40 and len(html.encode()) < 90_000
    feed = LINKS.feed_of("ada", "atom", private=True)
    assert "5 more papers of your digest did not fit in this email" in html
    assert (
        f"5 more papers of your digest did not fit in this email; your feed has them all: {feed}"
        in text
    )


def test_paper_lines_shorten_authors_and_give_the_reasons(thirty: Mail) -> None:
    _, html, text, _ = thirty
    assert "Author 0, Author 1, Author 2 et al." in text and "Author 3" not in text
    assert "Score 0.432 · matched network pruning 50%, quantization 30%, sparsity 20%" in text
    assert "by Author 1, whom you follow" in text and "popularity 12% of the score" in text
    liked = stored("arxiv:1810.05270", "Rethinking the Value of Network Pruning")
    closest = replace(paper(1), closest=liked, closeness=0.4)
    html, text = render(digest(closest))
    said = "closest to your liked paper “Rethinking the Value of Network Pruning” (0.40)"
    assert said in html and said in text
    assert 'href="https://arxiv.org/abs/2508.00001"' in html  # the title links to arXiv


# -- HTML conventions: E-40..E-43 ------------------------------------------------------------


def test_e40_css_inlined_and_dark_mode_kept(thirty: Mail) -> None:
    html = thirty[1]
    styled = {"top", "paper", "title", "small", "abstract", "end", "sheet", "frame"}
    tags = Tags(html).tags
    classed = [(a["class"], a) for _, a in tags if set(a.get("class", "").split()) & styled]
    assert len(classed) > 30 * 4
    assert all("style" in a for _, a in classed)
    assert "@media (prefers-color-scheme: dark)" in html
    assert ".hit { background-color" in html  # the highlight colours, kept in a <style>
    assert "<style>\n.page" not in html  # the inlined rules are gone from the head


def test_e40_inlining_never_loads_a_remote_stylesheet(tmp_path: Path) -> None:
    # nothing listens on port 9: loading it would fail the render
    (tmp_path / "digest.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        "<style>p { color: #123456; }</style></head><body><p>{{ who }}</p></body></html>",
        encoding="utf-8",
    )
    html, _ = render(digest(), (tmp_path,))
    assert '<p style="color: #123456;">Ada Lovelace</p>' in html
    assert "127.0.0.1:9" not in html


def test_e41_table_layout_and_nothing_active(thirty: Mail) -> None:
    html = thirty[1]
    tags = Tags(html).tags
    tables = [a for t, a in tags if t == "table"]
    assert tables and all(a.get("role") == "presentation" for a in tables)
    container = next(a for a in tables if a.get("width") == "600")
    assert "max-width: 600px" in container["style"] and "width: 100%" in container["style"]
    assert {t for t, _ in tags}.isdisjoint({"script", "form", "input", "iframe", "object"})
    assert all("alt" in a for t, a in tags if t == "img")
    assert tags[0][0] == "html" and tags[0][1]["lang"] == "en"
    assert not re.search(r"display:\s*(flex|grid)|position:\s*(absolute|fixed)", html)


def test_e42_color_scheme_meta_and_root(thirty: Mail) -> None:
    meta = {a.get("name"): a.get("content") for t, a in Tags(thirty[1]).tags if t == "meta"}
    assert meta["color-scheme"] == "light dark"
    assert meta["supported-color-schemes"] == "light dark"
    assert ":root { color-scheme: light dark; }" in thirty[1]


def test_e43_preheader_first_hidden_and_short(thirty: Mail) -> None:
    html = thirty[1]
    body = html[html.index("<body") :]
    first = re.search(r"<body[^>]*>\s*<div style=\"([^\"]*)\">([^<]*)</div>", body)
    assert first is not None
    style, text = first[1], unescape(first[2])
    assert "display:none" in style and "mso-hide:all" in style
    assert text.startswith("30 papers for Ada Lovelace today: Structured pruning")
    assert len(text) <= 140 and text.endswith("…")
    assert preheader(digest()) == "No new papers matched your interests on 20 Aug 2025."


# -- hostile input: H-01, H-02, H-05 ---------------------------------------------------------

HOSTILE_TITLES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "&lt;script&gt;alert(2)&lt;/script&gt;",
    "&#106;avascript:alert(3) ]]> <![CDATA[x]]>",
    "ctrl\x00\x0b\x1bchars\r\nBcc: evil@example.com",
]
SAFE_TAGS = {"html", "head", "meta", "title", "style", "body", "div", "table", "tbody", "tr"}
SAFE_TAGS |= {"td", "p", "h1", "h2", "a", "strong", "em", "mark", "code", "ul", "ol", "li", "br"}


def test_hostile_input_is_inert_in_both_parts() -> None:
    bad_urls = {"url": "javascript:alert(1)", "pdf_url": "&#106;avascript:x", "code_url": "data:x"}
    papers = [
        paper(n, title=t, abstract=f"{t} {ABSTRACT[:200]}", authors=(t, "B"), **bad_urls)
        for n, t in enumerate(HOSTILE_TITLES)
    ]
    site = replace(SITE, intro="[x](javascript:alert(1)) <script>alert(5)</script>")
    reader = replace(ADA, note='[n](javascript:alert(6)) <img src=x onerror="alert(7)">')
    msg, html, text, _ = mail(digest(*papers, reader=reader), site=site)
    tags = Tags(html).tags
    assert {t for t, _ in tags} <= SAFE_TAGS
    assert all(not name.startswith("on") for _, a in tags for name in a)
    assert all(re.match(r"https?://", href) for href in Tags(html).hrefs())
    for part in (html, text):
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", part)
        assert "javascript:alert" not in part.replace("&#106;avascript", "")
        assert not re.search(r"^Bcc:", part, re.M)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, escaped once
    assert "&amp;lt;script&amp;gt;" in html  # an entity in a title stays text, not markup
    assert "\u2039script>alert(1)\u2039/script>" in text  # no tag opens in the plain text either
    assert "<script" not in text and "<img" not in text
    assert "Bcc" not in msg and len(msg["Subject"].splitlines()) == 1


def test_highlighting_escapes_before_marking() -> None:
    terms = (Term("script", 0.6), Term("network pruning", 0.4))
    marked = highlight("<script>alert(1)</script> Network  pruning and networks pruning.", terms)
    assert str(marked) == (
        '&lt;<mark class="hit">script</mark>&gt;alert(1)&lt;/<mark class="hit">script</mark>&gt; '
        '<mark class="hit">Network  pruning</mark> and <mark class="hit">networks pruning</mark>.'
    )
    assert str(highlight("prunes, pruned, reprune", (Term("prune", 1.0),))) == (
        '<mark class="hit">prunes</mark>, pruned, reprune'  # plurals only, whole words only
    )
    odd = highlight("theories & a <b>", (Term("theory", 1.0), Term("<b>", 1.0)))
    assert str(odd) == (  # a term that looks like a tag matches as text, escaped too
        '<mark class="hit">theories</mark> &amp; a <mark class="hit">&lt;b&gt;</mark>'
    )


def test_matched_terms_are_highlighted_in_the_email() -> None:
    hostile = paper(1, title="<script>x</script>", abstract="A <script> tag about network pruning.")
    html, text = render(digest(replace(hostile, terms=(Term("script", 1.0),))))
    assert '&lt;<mark class="hit">script</mark>&gt; tag' in html
    assert "<script" not in html and "A \u2039script> tag about network pruning." in text


def test_operator_markdown_is_sanitised_and_kept_in_text() -> None:
    html = markdown_html("See [docs](https://x.org/?a=1&b=2), [bad](javascript:alert(1)).")
    assert markdown_text(html) == "See docs (https://x.org/?a=1&b=2), bad."
    _, html, text, _ = mail(digest(paper(1)))
    assert "Welcome, <em>Ada</em>." in html and "Welcome, Ada." in text
    assert "the guide (https://digest.example.org/guide?a=1&b=2)" in text


# -- an empty digest, user templates, errors, determinism -------------------------------------


def test_an_empty_digest_is_a_short_sensible_email() -> None:
    msg, html, text, _ = mail(digest())
    assert msg["Subject"] == "Paper Digest: no papers for 20 Aug 2025"
    assert "None of the day's 81 papers matched Ada Lovelace's interests." in html
    assert "Your interests: network pruning, quantization." in text
    assert LINKS.unsubscribe("ada") in text and len(html) < 10_000


def test_user_template_extending_the_shipped_one_is_used_and_styled(tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_text(
        '{% extends "default:digest.html" %}{% block footer %}<p class="x">Bye {{ who }}</p>'
        "{% endblock %}",
        encoding="utf-8",
    )
    (tmp_path / "digest.txt").write_text("Plain for {{ who }}\n", encoding="utf-8")
    html, text = render(digest(paper(1)), (tmp_path,))
    assert "All papers of the day" not in html
    # inlined after rendering, the user's block as well as the shipped parent
    assert '<p class="x" style="margin: 0 0 8px;">Bye Ada Lovelace</p>' in html
    assert re.search(r'<td class="paper" style="[^"]*padding', html)
    assert text == "Plain for Ada Lovelace\n"


def test_reader_template_is_inlined_once_and_cached_per_environment(tmp_path: Path) -> None:
    (tmp_path / "digest-ada.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><style>.n { color: #010203; }</style></head>'
        '<body><table role="presentation"><tbody>{% for e in entries %}<tr><td class="n">'
        "{{ e.title }}</td></tr>{% endfor %}</tbody></table></body></html>",
        encoding="utf-8",
    )
    env = environment((tmp_path,))
    html, _ = render_email(digest(paper(1), paper(2)), site=SITE, links=LINKS, env=env)
    assert html.count('<td class="n" style="color: #010203;">Structured') == 2
    fast, loader = inlining(env)
    assert loader.inlined == {"digest-ada.html": True}
    assert inlining(env) == (fast, loader)  # one overlay per environment
    assert inlining(environment())[1] is not loader
    render_email(digest(reader=Profile(name="bob")), site=SITE, links=LINKS, env=env)
    assert loader.inlined == {"digest-ada.html": True, "digest.html": True}


def test_preinlining_gives_what_inlining_each_email_would() -> None:
    d = digest(paper(1), replace(paper(2), closest=stored("x", "Liked"), closeness=0.5))
    env = environment()
    pre, _ = render_email(d, site=SITE, links=LINKS, env=env)
    values = template_context(d, title=SITE.title, intro=SITE.intro, links=LINKS)
    assert pre == inline(env.get_template("digest.html").render(values))


@pytest.mark.parametrize(
    "source",
    [
        '<html><body><p style="color: {{ c }}">x</p></body></html>',  # Jinja in a style
        "<html><body><p {{ attrs }}>x</p></body></html>",  # ... or in a tag
        "<html><head><style>p { color: {{ c }} }</style></head></html>",  # ... or a <style>
        # an implied <tbody> would leave the loop outside it
        "<html><body><table>{% for r in rs %}<tr><td>x</td></tr>{% endfor %}</table></body></html>",
        '{% extends "default:digest.html" %}',  # its CSS lives in the parent
        '<html><body>{% include "part.html" %}</body></html>',  # markup it does not show
    ],
)
def test_templates_that_cannot_be_preinlined_fall_back(source: str) -> None:
    assert preinline(source) is None


def test_preinline_keeps_jinja_where_it_stood() -> None:
    source = (
        "<!DOCTYPE html>{# c #}<html><head><title>{{ t }}</title><style>.a { color: red; }</style>"
        '</head><body><table><tbody>{% for x in xs %}<tr><td class="a" title="{{ x }}">{{ x }}'
        "</td></tr>{% endfor %}</tbody></table></body></html>"
    )
    out = preinline(source)
    assert out is not None
    assert "<title>{{ t }}</title>" in out
    assert '<tbody>{% for x in xs %}<tr><td class="a" title="{{ x }}" style="color: red;">' in out
    assert "{{ x }}</td></tr>{% endfor %}</tbody>" in out


def test_template_errors_are_render_errors_naming_the_template(tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_text("<html><body>{{ nope.x }}</body></html>", "utf-8")
    with pytest.raises(RenderError, match=r"/digest\.html:1: 'nope' is undefined$"):
        render(digest(), (tmp_path,))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "digest.html").write_text(
        '<!DOCTYPE html>\n<html lang="en">\n<body>\n{% for %}\n</body></html>', "utf-8"
    )
    with pytest.raises(RenderError, match=r"digest\.html:4"):  # the line the author wrote
        render(digest(), (broken,))
    (broken / "digest.html").unlink()
    (broken / "digest.txt").write_text("{{ digest.nope }}", "utf-8")
    with pytest.raises(RenderError, match=r"/broken/digest\.txt:1: .* has no attribute 'nope'"):
        render(digest(), (broken,))


def test_artifacts_paths_media_types_and_determinism() -> None:
    d = digest(paper(1), paper(2, upvotes=None))
    first = artifacts(d, site=SITE, links=LINKS, env=environment(), now=NOW)
    assert [(a.path, a.media_type) for a in first] == [
        (Path("digests/ada/2025-08-20.html"), "text/html; charset=utf-8"),
        (Path("mail/ada/2025-08-20.eml"), "message/rfc822"),
    ]
    fresh = environment.__wrapped__(())  # a new environment: nothing cached
    again = artifacts(d, site=SITE, links=LINKS, env=fresh, now=NOW)
    assert first == again
    assert parse(first[1].content)["Date"] == "Wed, 20 Aug 2025 06:30:00 +0000"
    later = artifacts(d, site=SITE, links=LINKS, env=environment(), now=NOW + timedelta(hours=1))
    assert later[0] == first[0] and later[1] != first[1]  # only the Date differs
    other_zone = NOW.astimezone(timezone(timedelta(hours=2)))
    assert parse(message(d, "", "", site=SITE, now=other_zone))["Date"].endswith("+0200")
