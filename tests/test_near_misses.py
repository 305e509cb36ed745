"""Near misses (Digest.near) in every output, and the one reason text (digest/render/why.py).

Each output (Markdown, the email's HTML and text parts, RSS, Atom, the archive's reader page)
shows the loosely related papers after the matches under their own heading, and nothing of them
when there are none; a hostile near-miss title is inert in all of them; each says why a paper is
there in the same words. The store keeps near misses, so feeds and the archive built from it
show them too, and a digest of near misses alone is mailed.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import markdown
import pytest
from helpers import stored
from pg import StoreLocation

from digest.app.build import message_path, plan_sends
from digest.cli.commands import _rank_json
from digest.config import load_config
from digest.models import Digest, Paper, Profile, Scored, Site, StoredPaper, Term
from digest.render import environment, render_markdown, why
from digest.render.email import render_email
from digest.render.email.context import preheader, subject, template_context
from digest.render.email.papers import MAX_PAPERS
from digest.render.feeds import reader_feeds
from digest.render.links import Links
from digest.render.site import SiteDay, pages
from digest.store import Store
from digest.tokens import Signer

DAY = date(2025, 8, 20)
NOW = datetime(2025, 8, 20, 6, 0, tzinfo=UTC)
SITE = Site(
    title="Paper Digest",
    base_url="https://digest.example.org/",
    sender="Paper Digest <digest@digest.example.org>",
)
LINKS = Links(SITE.base_url)
SIGNED = Links(SITE.base_url, signer=Signer((b"a secret of at least thirty-two bytes",)))
ADA = Profile(name="ada", display_name="Ada", email="ada@example.org", keywords=("graphs",))
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)> [x](javascript:alert(3)) *b*'
FOLLOWED = "Zhuang Liu"


def paper(n: int, title: str, **fields: Any) -> StoredPaper:
    arxiv = f"2508.{n:05d}"
    values: dict[str, Any] = {"arxiv_id": arxiv, "url": f"https://arxiv.org/abs/{arxiv}"}
    values.update(fields)
    return stored(f"arxiv:{arxiv}", title, f"An abstract about graphs, number {n}.", **values)


LIKED = paper(9, "A *liked* paper_on graphs [v2]")
MATCH = Scored(
    paper(1, "Graph nets for all", authors=(FOLLOWED, "Mingjie Sun")),
    0.4321,
    (Term("graph_nets & [GNN]*", 0.6), Term("message passing", 0.4)),
    closest=LIKED,
    closeness=0.4,
    popularity=0.123,
    authors=(FOLLOWED,),
)
NEAR = Scored(paper(2, "A loosely related paper"), 0.1234, (Term("graphs", 1.0),), loose=True)
EVIL = Scored(paper(3, HOSTILE, authors=(HOSTILE,)), 0.11, (Term(HOSTILE, 1.0),), loose=True)


def digest(papers: tuple[Scored, ...] = (MATCH,), near: tuple[Scored, ...] = (NEAR,)) -> Digest:
    return Digest(ADA, DAY, papers, candidates=81, generated=NOW, near=near)


def plain(markup: str) -> str:
    """Markup stripped of its tags and entities."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def outputs(d: Digest) -> dict[str, str]:
    """Every output of one digest, as text: Markdown, the email's two parts, RSS and Atom (their
    entries' HTML, unescaped once by feedparser), and the archive's reader page."""
    env = environment()
    text_md = render_markdown(d, title=SITE.title, env=env).content.decode()
    email_html, email_text = render_email(d, site=SITE, links=LINKS, env=env)
    rss, atom = reader_feeds([d], reader=ADA, site=SITE, links=LINKS, env=env)
    public = replace(ADA, public=True)
    tree = pages(
        [SiteDay(DAY, ())], [(public, [replace(d, reader=public)])], site=SITE, links=LINKS, env=env
    )
    page = next(a for a in tree if a.path == Path("readers/ada/index.html"))
    return {
        "markdown": text_md,
        "html": email_html,
        "text": email_text,
        "rss": rss.content.decode(),
        "atom": atom.content.decode(),
        "site": page.content.decode(),
    }


def entries(raw: str) -> list[Any]:
    parsed = feedparser.parse(raw.encode())
    assert parsed.bozo == 0
    return list(parsed.entries)


# -- one reason ----------------------------------------------------------------------------------


def test_the_reason_is_worded_once() -> None:
    said = why.text(MATCH)
    assert said == (
        "Score 0.432 · matched graph_nets & [GNN]* 60%, message passing 40% · by Zhuang Liu,"
        " whom you follow · closest to your liked paper “A *liked* paper_on graphs [v2]” (0.40)"
        " · popularity 12% of the score"
    )
    assert why.text(NEAR) == "Loosely related · Score 0.123 · matched graphs 100%"
    assert why.text(replace(NEAR, loose=False), True) == why.text(NEAR)
    assert str(why.html(MATCH)).count("<strong>") == 2  # the terms, nothing else
    assert "&amp; [GNN]" in why.html(MATCH)


def test_every_output_gives_the_same_reason_text() -> None:
    out = outputs(digest())
    found = {
        "markdown": plain(markdown.markdown(reason_in(r"^(Score .*)$", out["markdown"]))),
        "text": reason_in(r"^ +(Score .*)$", out["text"]),
        "html": plain(reason_in(r'<p class="small"[^>]*>(Score .*?)</p>', out["html"])),
        "site": plain(reason_in(r'<p class="why">(Score .*?)</p>', out["site"])),
        "rank": _rank_json(digest())["papers"][0]["why"],
    }
    for kind in ("rss", "atom"):
        entry = next(e for e in entries(out[kind]) if e.title == MATCH.paper.title)
        body = entry.content[0].value if kind == "atom" else entry.description
        found[kind] = plain(reason_in(r"<p>(Score .*?)</p>", body))
    assert found == dict.fromkeys(found, why.text(MATCH))


def reason_in(pattern: str, text: str) -> str:
    """The one reason `pattern` finds in `text` (its group 1)."""
    (found,) = re.findall(pattern, text, re.MULTILINE)
    return str(found)


# -- near misses in every output -----------------------------------------------------------------


def test_every_output_shows_near_misses_after_the_matches_under_their_heading() -> None:
    out = outputs(digest())
    title, reason = NEAR.paper.title, why.text(NEAR)
    md = out["markdown"]
    assert md.index("## 1. [Graph nets for all]") < md.index("## Loosely related")
    assert md.index("## Loosely related") < md.index(f"### [{title}]")
    assert f"\n{why.LOOSE_NOTE}\n" in md and "## 2." not in md
    text = out["text"]
    assert text.index("1. Graph nets for all") < text.index("LOOSELY RELATED") < text.index(title)
    assert f"-  {title}\n" in text and "2. " not in text and reason in text
    email_html = out["html"]
    heading = re.search(r'<h2 class="section"[^>]*>Loosely related</h2>', email_html)
    assert heading is not None and email_html.index("Graph nets for all") < heading.start()
    assert email_html.index(title) > heading.start() and why.LOOSE_NOTE in email_html
    for kind in ("rss", "atom"):
        match, near = entries(out[kind])
        assert (match.title, near.title) == (MATCH.paper.title, title)
        assert [t.term for t in near.tags] == ["Loosely related"]
        assert not [t.term for t in match.get("tags", [])]
        body = near.content[0].value if kind == "atom" else near.description
        assert plain(body).startswith(reason)
    site = out["site"]
    assert (
        site.index('<ol class="picks">') < site.index('class="loose-heading"') < site.index(title)
    )
    assert why.LOOSE_NOTE in site and plain(site).count(reason) == 1


def test_only_near_misses_say_none_matched_closely() -> None:
    out = outputs(digest(papers=()))
    assert "matched Ada's interests closely" in out["markdown"]
    assert "matched Ada's interests closely" in out["text"]
    assert "matched Ada's interests closely" in out["html"]
    assert "None of the 81 papers matched closely." in out["site"]
    for kind in ("rss", "atom"):
        (entry,) = entries(out[kind])
        assert entry.title == NEAR.paper.title  # not "no papers yet"


def test_no_near_misses_no_heading() -> None:
    for kind, text in outputs(digest(near=())).items():
        assert "loosely related" not in text.lower(), kind
        assert why.LOOSE_NOTE not in text, kind


def test_near_misses_keep_their_feedback_links() -> None:
    _, email_text = render_email(digest(), site=SITE, links=SIGNED, env=environment())
    near = email_text[email_text.index("LOOSELY RELATED") :]
    assert f"More like this: {SIGNED.feedback('ada', DAY, NEAR.paper.id, 'like')}" in near
    assert f"Less like this: {SIGNED.feedback('ada', DAY, NEAR.paper.id, 'dislike')}" in near
    assert "/f/" in near


def test_a_hostile_near_miss_is_inert_in_every_output() -> None:
    out = outputs(digest(near=(EVIL,)))
    as_html = {kind: out[kind] for kind in ("html", "site")}
    as_html["markdown"] = markdown.markdown(out["markdown"])
    for kind in ("rss", "atom"):
        as_html[kind] = "".join(
            (e.content[0].value if kind == "atom" else e.description) for e in entries(out[kind])
        )
        title = entries(out[kind])[1].title  # the near miss: a feed title holds no tags
        assert "[x](javascript:alert(3))" in title and "<" not in title
    for kind, text in as_html.items():
        tags = Tags(text)
        assert not {"script", "img"} & set(tags.names) or kind == "site", kind
        assert tags.names.count("script") == len(tags.scripts), kind  # the site's own, with src
        assert not [name for name, _ in tags.attrs if name.startswith("on")], kind
        assert not [v for n, v in tags.attrs if n == "href" and "javascript" in v.lower()], kind
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out["site"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out["markdown"]
    assert "\u2039script>alert(1)" in out["text"] and not re.search(r"<[a-z/]", out["text"])


class Tags(HTMLParser):
    """The start tags of an HTML document and their attributes (entities decoded)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.names: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.scripts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        self.attrs += [(name, value or "") for name, value in attrs]
        if tag == "script" and (src := dict(attrs).get("src")):
            self.scripts.append(src)


# -- the store, and sending ----------------------------------------------------------------------


def test_near_misses_go_through_the_store_to_the_feeds_and_the_archive(
    tmp_path: Path, store_location: StoreLocation
) -> None:
    with Store.open(store_location(tmp_path / "digest.sqlite3")) as store:
        store.add_papers(
            "page",
            [Paper(title=t, abstract="About graphs.", digest_date=DAY) for t in ("Match", "Near")],
            now=NOW,
        )
        match, near = sorted(store.papers(), key=lambda p: p.title)
        built = digest((Scored(match, 0.5, (Term("graphs", 1.0),)),), (replace(NEAR, paper=near),))
        store.save_digests([built])
        (again,) = store.digests(ADA)
    assert again == built
    out = outputs(again)
    for kind in ("rss", "atom"):
        assert [e.title for e in entries(out[kind])] == ["Match", "Near"]
        assert entries(out[kind])[1].tags[0].term == "Loosely related"
    assert out["site"].index("loose-heading") < out["site"].index(">Near<")


def test_a_digest_of_near_misses_alone_is_mailed_and_an_empty_one_is_not(
    tmp_path: Path, store_location: StoreLocation
) -> None:
    (tmp_path / "config.yaml").write_text(
        "delivery:\n  method: smtp\n  smtp: {host: 127.0.0.1}\n"
        "readers:\n"
        "  - {name: ada, email: ada@example.org, interests: {keywords: [graphs]}}\n"
        "  - {name: bob, email: bob@example.org, interests: {keywords: [graphs]}}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "config.yaml", kinds=())
    ada, bob = config.readers
    digests = [
        Digest(ada, DAY, (), 81, NOW, near=(NEAR,)),
        Digest(bob, DAY, (), 81, NOW),
    ]
    written = {message_path(config, name, DAY) for name in ("ada", "bob")}
    with Store.open(store_location(config.store)) as store:
        store.sync_readers(config.readers, now=NOW)
        store.add_papers("page", [Paper(title="Near", abstract="x", digest_date=DAY)], now=NOW)
        plan_sends(config, store, digests, written, day=DAY, now=NOW)
        assert [d.reader for d in store.deliveries(DAY)] == ["ada"]


@pytest.mark.parametrize(("papers", "near"), [((MATCH,), (NEAR,)), ((), (NEAR,)), ((MATCH,), ())])
def test_rank_json_marks_near_misses(papers: tuple[Scored, ...], near: tuple[Scored, ...]) -> None:
    ranked = _rank_json(digest(papers, near))["papers"]
    assert [p["loose"] for p in ranked] == [False] * len(papers) + [True] * len(near)
    assert [p["why"] for p in ranked] == [why.text(s) for s in (*papers, *near)]


def test_subject_and_preheader_of_a_digest_of_near_misses_alone() -> None:
    alone = digest(papers=())
    assert subject(alone, "Paper Digest") == "Paper Digest: 1 loosely related paper for 20 Aug 2025"
    assert preheader(alone) == (
        "No close matches on 20 Aug 2025; loosely related: A loosely related paper"
    )
    assert subject(digest(), "Paper Digest") == "Paper Digest: 1 paper for 20 Aug 2025"
    assert subject(digest((), ()), "Paper Digest") == "Paper Digest: no papers for 20 Aug 2025"


def test_an_email_holds_at_most_max_papers_the_matches_first() -> None:
    many = tuple(replace(MATCH, paper=paper(100 + n, f"Match {n}")) for n in range(MAX_PAPERS - 1))
    context = template_context(digest(many, (NEAR, EVIL)), title="T", intro="", links=LINKS)
    assert len(context["entries"]) == MAX_PAPERS - 1
    assert [e.scored for e in context["near"]] == [NEAR]
    assert [e.number for e in context["near"]] == [0]
    assert context["more"] == 1
