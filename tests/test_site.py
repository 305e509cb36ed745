"""The static archive site: pages, search index, links, accessibility basics, escaping, and the
incremental / full writer. Rule IDs from CONVENTIONS.md (A-01..A-05, H-01..H-07) name what a
test checks."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from helpers import stored

from digest.deliver.site import MARK, write_site
from digest.errors import DeliveryError, RenderError
from digest.models import Artifact, Digest, Profile, Scored, Site, StoredPaper, Term, paper_id
from digest.render import environment, shipped_templates
from digest.render.filters import oneline
from digest.render.links import Links, anchor
from digest.render.site import SiteDay, pages

BASE = "https://digest.example.org/"
SITE = Site(title="Paper Digest", base_url=BASE, intro="Papers *every* day.", days_per_page=2)
LINKS = Links(BASE)
D1, D2, D3 = date(2025, 7, 31), date(2025, 8, 1), date(2025, 8, 4)
KNOWN = "Rethinking the Value of Network Pruning"
# the feeds live under the site root too; another part renders them, so stand-ins here
FEEDS = [
    Artifact(Path(f"feeds/{name}"), b"<feed/>", "application/xml")
    for name in ("all.xml", "all.atom", "ada.xml", "ada.atom")
]


def paper(n: int, title: str, day: date, **fields: object) -> StoredPaper:
    arxiv = f"2507.{n:05d}"
    values: dict[str, object] = {
        "arxiv_id": arxiv,
        "authors": ("Zhuang Liu", f"Author {n}"),
        "upvotes": 40 - n,
        "categories": ("cs.LG",),
    }
    values.update(fields)
    return stored(f"arxiv:{arxiv}", title, f"Abstract of paper {n}. " * 8, day=day, **values)


PRUNING = paper(1, KNOWN, D1, code_url="https://github.com/Eric-mingjie/rethinking")
REPEAT = paper(2, "A paper seen on two days", D1)
DAYS = [
    SiteDay(D1, (PRUNING, REPEAT, paper(3, "Sparse attention at scale", D1))),
    SiteDay(D2, (paper(4, "Diffusion for tables", D2), REPEAT)),
    SiteDay(D3, (paper(5, "Title-only paper", D3, arxiv_id=None, upvotes=None),)),
]
ADA = Profile(name="ada", display_name="Ada", keywords=("pruning",), public=True)
BOB = Profile(name="bob", display_name="Bob Private", keywords=("secretword",), public=False)


def digest_for(reader: Profile, day: date, *items: Scored) -> Digest:
    return Digest(reader, day, items, candidates=3, generated=datetime(2025, 8, 1, tzinfo=UTC))


PICK = Scored(
    PRUNING,
    0.4321,
    (Term("network pruning", 0.6), Term("pruning", 0.4)),
    closest=stored("p:liked", "A liked paper", ""),
    closeness=0.41,
    popularity=0.12,
    authors=("Zhuang Liu",),
)
PUBLIC = {ADA: [digest_for(ADA, D1, PICK)], BOB: [digest_for(BOB, D1, PICK)]}


def build(
    days: Sequence[SiteDay] = DAYS, public: object = PUBLIC, site: Site = SITE, **kw: object
) -> dict[str, bytes]:
    artifacts = pages(days, public, site=site, links=Links(site.base_url), env=environment(), **kw)  # type: ignore[arg-type]
    return {a.path.as_posix(): a.content for a in artifacts}


def artifacts_of(tree: dict[str, bytes]) -> list[Artifact]:
    return [Artifact(Path(p), c, "") for p, c in tree.items()] + FEEDS


def html_pages(tree: dict[str, bytes]) -> dict[str, str]:
    return {p: c.decode() for p, c in tree.items() if p.endswith(".html")}


class Parsed(HTMLParser):
    """Start tags with their attributes, and the text inside <title>."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.title = ""
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if "id" in attrs}


def served_at(path: str) -> str:
    """The URL a page is served at: `2025/08/01/index.html` -> BASE + `2025/08/01/`."""
    return BASE + (path[: -len("index.html")] if path.endswith("index.html") else path)


# -- the file tree and links (A-01) -----------------------------------------------------------


def test_file_tree_for_three_days() -> None:
    assert sorted(build()) == [
        "2025/07/31/index.html",
        "2025/07/index.html",
        "2025/08/01/index.html",
        "2025/08/04/index.html",
        "2025/08/index.html",
        "2025/index.html",
        "favicon.svg",
        "index.html",
        "page/2/index.html",
        "readers/ada/index.html",
        "search.js",
        "search.json",
        "search/index.html",
        "site.css",
    ]


def test_every_internal_link_resolves_to_a_file_and_anchor(tmp_path: Path) -> None:
    root = tmp_path / "site"
    write_site(root, artifacts_of(build()))
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    parsed = {p: Parsed((root / p).read_text()) for p in files if p.endswith(".html")}
    checked = 0
    for path, page in parsed.items():
        refs = [a.get("href") for a in page.all("a") + page.all("link")]
        refs += [s.get("src") for s in page.all("script")]
        refs += [f.get("action") for f in page.all("form")]
        for ref in filter(None, refs):
            url = urljoin(served_at(path), ref)
            if not url.startswith(BASE):
                assert urlsplit(url).scheme == "https", (path, ref)  # external: papers' links
                continue
            rest, _, fragment = url[len(BASE) :].partition("#")
            rest = rest.split("?")[0]
            target = rest + "index.html" if rest == "" or rest.endswith("/") else rest
            assert target in files, f"{path}: {ref} -> {target} is not generated"
            if fragment:
                assert fragment in parsed[target].ids(), f"{path}: {ref}: no #{fragment}"
            checked += 1
    assert checked > 100


def test_relative_links_make_the_site_work_from_any_host() -> None:
    day = html_pages(build())["2025/08/01/index.html"]
    assert 'href="../../../2025/07/31/"' in day
    assert 'href="../../../site.css"' in day
    assert f'<link rel="canonical" href="{BASE}2025/08/01/">' in day  # absolute


# -- head, landmarks, accessibility (A-02, A-04) ------------------------------------------------


def test_every_page_has_head_links_landmarks_and_one_h1() -> None:
    titles = []
    for path, text in html_pages(build()).items():
        page = Parsed(text)
        assert text.startswith('<!doctype html>\n<html lang="en">'), path
        assert text.count("<h1") == 1, path
        for landmark in ("header", "nav", "main", "footer"):
            assert page.all(landmark), (path, landmark)
        assert page.all("a")[0] == {"class": "skip", "href": "#main"}, path
        assert "main" in page.ids()
        link = {(a.get("rel"), a.get("type"), a.get("href")) for a in page.all("link")}
        assert ("canonical", None, served_at(path)) in link
        assert ("alternate", "application/rss+xml", LINKS.site_feed("rss")) in link
        assert ("alternate", "application/atom+xml", LINKS.site_feed("atom")) in link
        viewport = [m for m in page.all("meta") if m.get("name") == "viewport"]
        assert viewport and "width=device-width" in viewport[0]["content"]
        inputs = [i for i in page.all("input") if i.get("id") == "search-input"]
        assert len(inputs) == 1 and inputs[0]["type"] == "search", path
        assert {"for": "search-input"} in page.all("label"), path
        titles.append(page.title)
    assert len(titles) == len(set(titles)) == 10  # unique titles


def test_pagination_marks_the_current_page() -> None:
    pages_ = html_pages(build())
    first, second = pages_["index.html"], pages_["page/2/index.html"]
    assert '<nav class="pagination" aria-label="Pagination">' in first
    assert re.search(r'<a href="\./" aria-current="page">', first)
    assert re.search(r'<a href="\.\./\.\./page/2/" aria-current="page">', second)
    assert first.count("aria-current") == 1
    assert 'rel="next" href="page/2/"' in first and 'rel="prev" href="../../"' in second


def test_index_lists_days_newest_first_with_time_and_intro() -> None:
    first = html_pages(build())["index.html"]
    assert first.index('datetime="2025-08-04"') < first.index('datetime="2025-08-01"')
    assert '<a href="2025/08/04/"><time datetime="2025-08-04">2025-08-04</time></a>' in first
    assert "<p>Papers <em>every</em> day.</p>" in first  # the intro, as sanitised Markdown
    assert "2025-07-31" not in first  # on page 2
    assert f'<a href="2025/07/31/#arxiv-2507.00001">{KNOWN}</a>' in html_pages(build())[
        "page/2/index.html"
    ].replace("../../", "")


def test_day_page_lists_every_paper_in_order_with_anchors_and_neighbours() -> None:
    text = html_pages(build())["2025/08/01/index.html"]
    ids = [a["id"] for a in Parsed(text).all("article")]
    assert ids == [anchor(p.id) for p in DAYS[1].papers]
    assert '<a rel="prev" href="../../../2025/07/31/">' in text
    assert '<a rel="next" href="../../../2025/08/04/">' in text
    assert f'<link rel="prev" href="{BASE}2025/07/31/">' in text
    first = html_pages(build())["2025/07/31/index.html"]
    assert f'<h2><a href="https://arxiv.org/abs/2507.00001">{KNOWN}</a></h2>' in first
    assert "39 upvotes on Daily Papers" in first
    assert 'href="https://github.com/Eric-mingjie/rethinking"' in first
    assert 'rel="prev"' not in first  # the oldest day has no previous


def test_site_colours_meet_wcag_aa_contrast() -> None:
    css = (shipped_templates() / "site" / "site.css").read_text()
    light_block, dark_block = css.split("prefers-color-scheme: dark", 1)

    def colours(block: str) -> dict[str, str]:
        return dict(re.findall(r"--(\w+):\s*(#[0-9a-f]{6});", block))

    def luminance(hex_: str) -> float:
        rgb = [int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def ratio(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    for scheme in (colours(light_block), colours(dark_block)):
        for text in ("fg", "muted", "link", "visited", "focus"):
            for back in ("bg", "alt", "mark"):
                assert ratio(scheme[text], scheme[back]) >= 4.5, (text, back, scheme)
        assert ratio(scheme["bg"], scheme["link"]) >= 4.5  # the search button


# -- determinism (A-03) ---------------------------------------------------------------------------


def tree_hash(root: Path) -> dict[str, str]:
    """Every file under root but the writer's mark, by path."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MARK
    }


def test_two_builds_give_identical_trees(tmp_path: Path) -> None:
    write_site(tmp_path / "one", artifacts_of(build()))
    write_site(tmp_path / "two", artifacts_of(build(list(reversed(DAYS)))))
    assert tree_hash(tmp_path / "one") == tree_hash(tmp_path / "two")
    stamped = build(built=datetime(2025, 8, 4, 6, 0, tzinfo=UTC))
    changed = {p for p, content in stamped.items() if build()[p] != content}
    assert changed == {"index.html"}  # a build stamp only where it is asked for


# -- the writer: incremental, full, refusals ----------------------------------------------------


def a_year(days: int = 365) -> list[SiteDay]:
    start = date(2024, 8, 1)
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        out.append(SiteDay(day, (paper(2 * i, f"Paper {2 * i}", day), paper(2 * i + 1, "x", day))))
    return out


def stats(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and p.name != MARK
    }


def test_adding_a_day_rewrites_only_the_pages_that_change(tmp_path: Path) -> None:
    site = replace(SITE, days_per_page=10)
    year = a_year()
    root = tmp_path / "site"
    first = write_site(root, artifacts_of(build(year, {}, site)))
    assert first.full and first.written == len(build(year, {}, site)) + len(FEEDS)
    before = stats(root)
    new_day = date(2025, 8, 1)
    extra = SiteDay(new_day, (paper(9999, "The newest paper", new_day),))
    result = write_site(root, artifacts_of(build([*year, extra], {}, site)))
    after = stats(root)
    index_pages = {"index.html"} | {f"page/{n}/index.html" for n in range(2, 38)}
    expected = {
        "2025/08/01/index.html",  # the new day
        "2025/07/31/index.html",  # its neighbour gains a next link
        "2025/08/index.html",  # a new month
        "2025/index.html",  # the year lists it
        "search.json",
        *index_pages,
    }
    rewritten = {p for p in after if before.get(p) != after[p]}
    assert rewritten == expected
    assert not {p for p in expected if p in before and before[p][0] == after[p][0]}  # new inodes
    assert (result.written, result.removed, result.full) == (len(expected), 0, False)
    assert result.unchanged == len(after) - len(expected)
    assert "2025/07/index.html" not in rewritten and "2024/index.html" not in rewritten


def test_incremental_write_removes_stale_files_inside_root_only(tmp_path: Path) -> None:
    root, outside = tmp_path / "site", tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the site's")
    (outside / "victim.css").write_text("untouched")
    write_site(root, artifacts_of(build()))
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "site.css").unlink()
    (root / "site.css").symlink_to(outside / "victim.css")
    (root / "2025" / "08" / ".index.html.abc.tmp").write_text("left by a crash")
    result = write_site(root, artifacts_of(build(DAYS[:1])))  # one day: page 2 and August go
    assert not (root / "page").exists() and not (root / "2025" / "08").exists()
    assert not (root / "linked").exists() and not (root / "linked").is_symlink()
    assert (outside / "keep.txt").read_text() == "not the site's"
    assert (outside / "victim.css").read_text() == "untouched"
    assert not (root / "site.css").is_symlink()
    assert (root / "site.css").read_bytes() == build()["site.css"]
    assert result.removed == 6  # page 2, two days, August, the temp file, the link
    assert tree_hash(root) == {p: hashlib.sha256(c).hexdigest() for p, c in _with_feeds(DAYS[:1])}


def _with_feeds(days: Sequence[SiteDay]) -> list[tuple[str, bytes]]:
    return [(a.path.as_posix(), a.content) for a in artifacts_of(build(days))]


def test_full_rebuild_swaps_whole_and_keeps_the_old_tree_on_failure(tmp_path: Path) -> None:
    root = tmp_path / "site"
    write_site(root, artifacts_of(build(DAYS[:2])))
    old = tree_hash(root)

    def failing() -> Iterator[Artifact]:
        yield from artifacts_of(build())[:3]
        raise RenderError("site/day.html: boom")

    with pytest.raises(RenderError):
        write_site(root, failing(), full=True)
    assert tree_hash(root) == old
    (root / "stray.html").write_text("stale")
    result = write_site(root, artifacts_of(build()), full=True)
    assert result.full and result.removed == 1 and result.unchanged == 0
    assert tree_hash(root) == {p: hashlib.sha256(c).hexdigest() for p, c in _with_feeds(DAYS)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temp or old tree left
    assert oct((root / "index.html").stat().st_mode & 0o777) == "0o644"
    assert oct(root.stat().st_mode & 0o777) == "0o755"


@pytest.mark.parametrize("bad", ["../evil.html", "/etc/evil.html", "a/../../evil.html", "."])
def test_a_path_escaping_the_root_is_refused_before_anything_is_written(
    tmp_path: Path, bad: str
) -> None:
    root = tmp_path / "site"
    evil = Artifact(Path(bad), b"x", "text/html")
    with pytest.raises(DeliveryError, match="refusing"):
        write_site(root, [*artifacts_of(build()), evil])
    assert not root.exists() and not (tmp_path / "evil.html").exists()


def test_the_same_path_twice_is_refused(tmp_path: Path) -> None:
    twice = [Artifact(Path("a.html"), b"1", ""), Artifact(Path("a.html"), b"2", "")]
    with pytest.raises(DeliveryError, match="twice"):
        write_site(tmp_path / "site", twice)


# -- search (A-05) --------------------------------------------------------------------------------


def test_search_index_has_one_record_per_paper_and_finds_a_known_title() -> None:
    raw = build()["search.json"]
    records = json.loads(raw)["papers"]
    distinct = {p.id for day in DAYS for p in day.papers}
    assert len(records) == len(distinct) == 5
    assert len({r["url"] for r in records}) == 5
    found = [r for r in records if "network pruning" in r["title"].lower()]
    assert found == [
        {
            "title": KNOWN,
            "authors": ["Zhuang Liu", "Author 1"],
            "abstract": found[0]["abstract"],
            "date": "2025-07-31",
            "url": "2025/07/31/#arxiv-2507.00001",
        }
    ]
    repeat = [r for r in records if r["title"] == REPEAT.title]
    assert [r["date"] for r in repeat] == ["2025-07-31"]  # listed once, where it first appeared
    assert [r["date"] for r in records] == sorted((r["date"] for r in records), reverse=True)


def test_search_page_explains_javascript_and_wires_the_script() -> None:
    text = html_pages(build())["search/index.html"]
    page = Parsed(text)
    assert "needs JavaScript" in text
    assert page.all("script") == [{"src": "../search.js", "defer": ""}]
    assert {"id": "search-results", "class": "results"} in page.all("ol")
    form = next(f for f in page.all("form") if f.get("id") == "search-form")
    assert form["data-index"] == "../search.json" and form["method"] == "get"
    others = [p for p in html_pages(build()) if p != "search/index.html"]
    assert all("<script" not in html_pages(build())[p] for p in others)


def test_search_script_builds_results_with_dom_apis_only() -> None:  # H-03
    js = (shipped_templates() / "site" / "search.js").read_text()
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", js, flags=re.S)
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert banned not in code
    assert "new Function" not in code
    assert "textContent" in code and code.count("fetch(") == 1


# -- readers --------------------------------------------------------------------------------------


def test_public_reader_has_a_page_and_a_private_one_appears_nowhere() -> None:
    tree = build()
    assert "readers/ada/index.html" in tree and not any("bob" in p for p in tree)
    for content in tree.values():
        for secret in (b"Bob Private", b"secretword", b"readers/bob"):
            assert secret not in content
    text = tree["readers/ada/index.html"].decode()
    assert "Picks for Ada" in text and "Score 0.432" in text
    assert "matched <strong>network pruning</strong> 60%, <strong>pruning</strong> 40%" in text
    assert "by Zhuang Liu, whom you follow" in text
    assert "closest to your liked paper “A liked paper” (0.41)" in text
    assert "popularity 12% of the score" in text
    assert f'<a href="../../2025/07/31/#arxiv-2507.00001">{KNOWN}</a>' in text
    assert f'href="{LINKS.reader_feed("ada", "rss")}"' in text
    assert '<a href="readers/ada/">Ada</a>' in tree["index.html"].decode()


def test_no_public_readers_means_no_reader_pages_or_section() -> None:
    tree = build(public=[(BOB, [digest_for(BOB, D1, PICK)])])
    assert not any(p.startswith("readers/") for p in tree)
    assert b"Readers' picks" not in tree["index.html"]


# -- hostile input (H-01, H-02, H-05) -------------------------------------------------------------

HOSTILE = (
    '<script>alert(1)</script>"><img src=x onerror=alert(1)> &lt;script&gt;alert(2)&lt;/script&gt;'
    " &#106;avascript:alert(3)\x00\x07\r\nX-Injected: 1 \u2028end"
)
BAD_URLS = {
    "url": "javascript:alert(1)",
    "pdf_url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "code_url": " JaVaScRiPt:alert(1)",
    "project_url": "&#106;avascript:alert(1)",
}


def hostile_site() -> dict[str, bytes]:
    evil = stored(
        paper_id(None, HOSTILE),
        HOSTILE,
        "An abstract that ends </script><script>alert(4)</script> " + HOSTILE,
        day=D1,
        authors=('"><img src=x onerror=alert(5)>', "Eve\r\nBcc: x"),
        categories=("<b>cs.LG</b>",),
        upvotes=3,
        **BAD_URLS,
    )
    odd_id = replace(evil, id='x:"><svg onload=alert(6)>', title="Odd id")
    reader = Profile(name="eve", display_name=HOSTILE, keywords=(HOSTILE,), public=True)
    pick = Scored(evil, 0.5, (Term(HOSTILE, 1.0),), closest=evil, closeness=0.3, authors=(HOSTILE,))
    site = replace(SITE, title=HOSTILE, intro="<script>alert(7)</script> [x](javascript:alert(8))")
    days = [SiteDay(D1, (evil, odd_id)), SiteDay(D2, (evil,))]
    return build(days, {reader: [digest_for(reader, D1, pick)]}, site)


def test_hostile_text_and_urls_are_inert_on_every_page() -> None:  # H-02, H-05
    tree = hostile_site()
    for path, text in html_pages(tree).items():
        page = Parsed(text)
        ours = page.all("script")
        assert all(s.get("src", "").endswith("search.js") for s in ours), path
        assert len(re.findall(r"<script", text, re.I)) == len(ours), path
        assert len(re.findall(r"</script", text, re.I)) == len(ours), path
        assert "<img" not in text and "<svg" not in text and "<b>" not in text, path
        assert "javascript:" not in text.lower() and "data:" not in text.lower(), path
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\r\u2028]", text), path
        for tag, attrs in page.tags:
            assert not [name for name in attrs if name.startswith("on")], (path, tag)
            for name in ("href", "src", "action"):
                if name in attrs:
                    scheme = urlsplit(html.unescape(attrs[name]).strip().lower()).scheme
                    assert scheme in ("", "http", "https"), (path, attrs)
    day = tree["2025/07/31/index.html"].decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in day
    assert "&amp;lt;script&amp;gt;" in day and "&amp;#106;avascript:alert(3)" in day  # once only
    assert 'id="x-svg-onload-alert-6"' in day


def test_hostile_text_in_the_search_index_is_plain_json() -> None:  # H-01, A-05
    raw = hostile_site()["search.json"]
    assert b"<" not in raw and b">" not in raw and b"\r" not in raw
    records = json.loads(raw)["papers"]
    evil = [r for r in records if r["title"].startswith("<script>")]
    assert len(evil) == 1 and evil[0]["title"] == oneline(HOSTILE)
    assert all(not re.search(r"[\x00-\x1f]", json.dumps(r, ensure_ascii=False)) for r in records)
    assert all(not r["url"].lower().startswith(("javascript", "data")) for r in records)


# -- templates ------------------------------------------------------------------------------------


def test_a_user_template_and_asset_override_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "day.html").write_text(
        '{% extends "default:site/day.html" %}'
        "{% block title %}Custom {{ day.date.isoformat() }}{% endblock %}"
    )
    (tmp_path / "site" / "site.css").write_text("body { color: #000; }\n")
    artifacts = pages(DAYS, {}, site=SITE, links=LINKS, env=environment((tmp_path,)))
    tree = {a.path.as_posix(): a for a in artifacts}
    assert "<title>Custom 2025-08-01</title>" in tree["2025/08/01/index.html"].content.decode()
    assert tree["site.css"].content == b"body { color: #000; }\n"
    assert tree["site.css"].media_type.startswith("text/css")


def test_a_broken_template_is_a_render_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("{{ no_such_thing.x }}")
    with pytest.raises(RenderError, match=r"site/index\.html:1: 'no_such_thing' is undefined"):
        pages(DAYS, {}, site=SITE, links=LINKS, env=environment((tmp_path,)))
    (tmp_path / "site" / "index.html").write_text("{% if %}")
    with pytest.raises(RenderError, match=r"site/index\.html:1:"):
        pages(DAYS, {}, site=SITE, links=LINKS, env=environment((tmp_path,)))


def test_an_empty_site_still_has_a_home_page_and_an_empty_index() -> None:
    tree = build([], {})
    assert "No papers yet." in tree["index.html"].decode()
    assert "Pagination" not in tree["index.html"].decode()
    assert json.loads(tree["search.json"]) == {"version": 1, "papers": []}


def test_a_date_given_twice_is_refused() -> None:
    with pytest.raises(RenderError, match="given twice"):
        build([DAYS[0], DAYS[0]], {})


def test_a_directory_the_writer_did_not_make_is_never_pruned(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "precious.txt").write_text("someone else's")
    with pytest.raises(DeliveryError, match="did not write"):
        write_site(root, artifacts_of(build()))
    with pytest.raises(DeliveryError, match="did not write"):
        write_site(root, artifacts_of(build()), full=True)
    assert [p.name for p in root.iterdir()] == ["precious.txt"]
    (root / "precious.txt").unlink()
    write_site(root, artifacts_of(build()))  # an empty directory is fine
    assert (root / MARK).is_file() and (root / "index.html").is_file()
