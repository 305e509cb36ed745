"""A hostile corpus through ingest and every renderer (H-05, E-12, F-07, F-08): script tags,
`javascript:` and `data:` links, event handlers, entity-encoded variants, `]]>`, control
characters, CR/LF with `Bcc:`, Markdown link injection, a stray CR inside a title of a text page,
bidi overrides, isolates and marks. Nothing executable or structural survives in any output, no
text can reorder what is shown around it, and no header is injected.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
import shutil
from pathlib import Path

import feedparser
import pytest
from helpers import FIXTURES

from digest.cli import main
from digest.store import Store

HOSTILE = FIXTURES / "hostile"
# what must never appear in any output, once decoded for its medium
FORBIDDEN = [
    re.compile(r"<script(?![^>]*\bsrc=\"[^\"]*search\.js\")", re.I),  # only the site's own script
    re.compile(r"<(iframe|svg|object|embed|img|textarea)\b", re.I),
    re.compile(r"<form(?![^>]*\bid=\"search-form\")", re.I),  # only the site's own search box
    re.compile(r"<input(?![^>]*\bid=\"search-input\")", re.I),
    re.compile(r"<[^>]*\son\w+\s*=", re.I),  # an event handler inside a tag
    # a script or data URL where something would load or follow it; as plain text it is harmless
    re.compile(r"(href|src|action|style)\s*=\s*[\"']?[^\"'>]*?(javascript|vbscript|data):", re.I),
    re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]"),
    re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"),  # bidi: spoofs the text
]
# the text page's titles, as every output shows them: a CR became a space, bidi controls went
PAGE_TITLES = [
    "Structured network pruning with a stray carriage return in its title",
    "GNINURP KROWTEN spoofed by a right-to-left override",
    "Pruning with isolates and marks hidden in the title",
    "Pruning sparse networks with a [31m terminal escape in the title",
]
FEED_TITLE = "Network pruning txt.exe by an entity-encoded override"  # from &#x202E; and &#x202C;


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_run(tmp_path_factory.mktemp("hostile"))


def hostile_run(project: Path) -> Path:
    """`digest run` of the hostile pages and feed into `project`; its output directory."""
    shutil.copytree(HOSTILE, project / "hostile")
    (project / "config.yaml").write_text(
        """\
store: out/store.sqlite3
newsletter:
  title: "Hostile <b>Digest</b>"
  intro: "Hello [there](javascript:alert(20)) <script>alert(21)</script>"
site: {base_url: "https://digest.example.org/"}
sources:
  - {name: api, kind: hf_api, path: hostile/2025-08-20.json, date: 2025-08-20}
  - {name: rss, kind: feed, path: hostile/feed.xml, date: 2025-08-20}
  - {name: page, kind: hf_text, path: hostile/2025-08-20.txt, date: 2025-08-20}
readers:
  - name: ada
    public: true
    email: ada@example.org
    note: "Your [note](javascript:alert(22)) <img src=x onerror=alert(23)>"
    interests: {keywords: [network pruning], authors: [Mallory]}
  - name: bob
    email: bob@example.org
    interests: {keywords: [pruning]}
""",
        encoding="utf-8",
    )
    assert main(["--config", str(project / "config.yaml"), "run"]) == 0
    return project / "out"


def outputs(out: Path, *suffixes: str) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in suffixes)


def assert_harmless(text: str, where: str) -> None:
    for pattern in FORBIDDEN:
        found = pattern.search(text)
        assert found is None, f"{where}: {found.group(0)!r} survived" if found else ""
    bidi = FORBIDDEN[-1].search(html.unescape(text))  # nor as a character reference
    assert bidi is None, f"{where}: {bidi.group(0)!r} survived as an entity" if bidi else ""


def test_a_stray_cr_in_one_title_keeps_every_paper_of_the_text_page(out: Path) -> None:
    with Store.open(out / "store.sqlite3") as store:
        titles = {paper.title for paper in store.papers() if "page" in paper.sources}
    assert titles == set(PAGE_TITLES)


def test_the_spoofing_titles_reach_the_outputs_as_plain_text(out: Path) -> None:
    """The checks for bidi controls below look at outputs that do show these papers."""
    digest = (out / "digests" / "bob" / "2025-08-20.md").read_text(encoding="utf-8")
    assert all(title in digest for title in (PAGE_TITLES[1], PAGE_TITLES[2], FEED_TITLE))
    mails = "".join(
        part.get_content()
        for path in outputs(out / "mail", ".eml")
        for part in email.message_from_bytes(path.read_bytes(), policy=email.policy.default).walk()
        if part.get_content_maintype() == "text"
    )
    assert mails.count(PAGE_TITLES[1]) >= 2  # the text part and the HTML part
    for feed in outputs(out / "feeds", ".xml", ".atom"):
        titles = [entry.title for entry in feedparser.parse(feed.read_bytes()).entries]
        assert any(title == PAGE_TITLES[1] for title in titles), feed


def test_every_output_was_made_and_lists_the_hostile_papers(out: Path) -> None:
    digest = (out / "digests" / "ada" / "2025-08-20.md").read_text(encoding="utf-8")
    assert "Network pruning" in digest and "alert" in digest  # the text is kept, as text
    for suffix in (".md", ".html", ".eml", ".xml", ".atom", ".json"):
        assert outputs(out, suffix), suffix


def test_markdown_html_site_and_json_outputs_are_harmless(out: Path) -> None:
    for path in outputs(out, ".md", ".html", ".json", ".js", ".txt"):
        assert_harmless(path.read_text(encoding="utf-8"), str(path))


def test_markdown_digest_stays_harmless_when_turned_into_html(out: Path) -> None:
    import markdown

    for path in outputs(out / "digests", ".md"):
        assert_harmless(markdown.markdown(path.read_text(encoding="utf-8")), str(path))


def test_emails_have_no_injected_headers_and_harmless_parts(out: Path) -> None:
    mails = outputs(out / "mail", ".eml")
    assert len(mails) == 2
    for path in mails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["Bcc"] is None and message["Cc"] is None
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
        assert_harmless(str(message["Subject"]), f"{path} Subject")
        assert len(message.get_all("To") or []) <= 1
        for part in message.walk():
            if part.get_content_maintype() == "text":
                assert_harmless(part.get_content(), f"{path} {part.get_content_type()}")


def test_feeds_parse_cleanly_and_their_content_is_harmless(out: Path) -> None:
    feeds = outputs(out / "feeds", ".xml", ".atom")
    assert len(feeds) == 6  # all, ada and bob, each in RSS and Atom
    for path in feeds:
        raw = path.read_bytes()
        parsed = feedparser.parse(raw)
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert parsed.entries, path
        for entry in parsed.entries:
            for field in ("title", "summary", "link", "id"):
                assert_harmless(str(entry.get(field, "")), f"{path} {field}")
            for content in entry.get("content", []):
                assert_harmless(content.value, f"{path} content")
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", raw.decode("utf-8")), path


def test_the_hostile_papers_pass_through_a_postgresql_store_as_harmlessly(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same run with the store on PostgreSQL (which refuses a NUL in text that SQLite
    keeps): every paper of the text page is stored, and every output is as harmless."""
    monkeypatch.setenv("DIGEST_STORE", pg_url)
    out = hostile_run(tmp_path)
    with Store.open(pg_url) as store:
        titles = {paper.title for paper in store.papers() if "page" in paper.sources}
    assert titles == set(PAGE_TITLES)
    made = outputs(out, ".md", ".html", ".xml", ".atom", ".json", ".eml")
    assert len(made) > 10 and not (out / "store.sqlite3").exists()
    for path in made:
        assert_harmless(path.read_text("utf-8", errors="replace"), str(path))
