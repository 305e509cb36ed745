"""Rendering: Markdown digests from templates, escaped for Markdown, user templates first.

Golden files live in tests/fixtures/golden; regenerate them with DIGEST_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import markdown
import pytest
from helpers import FIXTURES, stored

from digest.errors import RenderError
from digest.models import Digest, Profile, Scored, Term, paper_id
from digest.render import environment, render_markdown
from digest.render.filters import cut, md_escape, safe_url

DAY = date(2025, 8, 20)
HOSTILE = "[x](javascript:alert(1)) <script>alert(1)</script> & *bold* `code`\r\nBcc: evil"


def digest(*papers: Scored, reader: Profile | None = None) -> Digest:
    reader = reader or Profile(name="ada", display_name="Ada", keywords=("pruning", "quantization"))
    return Digest(
        reader, DAY, tuple(papers), candidates=81, generated=datetime(2025, 8, 20, tzinfo=UTC)
    )


def scored(title: str, abstract: str, **fields: object) -> Scored:
    paper = stored(paper_id(None, title), title, abstract, **fields)
    return Scored(paper, 0.4321, (Term("network pruning", 0.6), Term("pruning", 0.4)))


def render(d: Digest, dirs: tuple[Path, ...] = ()) -> str:
    return render_markdown(d, title="Paper Digest", env=environment(dirs)).content.decode()


def test_golden_digest() -> None:
    first = scored(
        "Rethinking the Value of Network Pruning",
        "Network pruning is widely used. " * 30,
        url="https://arxiv.org/abs/1810.05270",
        authors=("Zhuang Liu", "Mingjie Sun"),
        code_url="https://github.com/Eric-mingjie/rethinking-network-pruning",
    )
    liked = stored("p:liked", "A *liked* paper [x](javascript:alert(1))\r\nBcc: evil", "")
    d = digest(
        replace(first, closest=liked, closeness=0.4, popularity=0.123, authors=("Zhuang Liu",)),
        scored("A title-only paper with j<i & LaTeX $\\mathcal{O}(n)$", "Short abstract, j<i."),
    )
    near = scored(
        "A loosely related paper", "Far from pruning.", url="https://arxiv.org/abs/2501.1"
    )
    d = replace(d, near=(replace(near, score=0.1234, loose=True),))
    text = render(d)
    golden = FIXTURES / "golden" / "digest.md"
    if os.environ.get("DIGEST_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_artifact_path_and_media_type() -> None:
    artifact = render_markdown(digest(), title="T", env=environment())
    assert artifact.path == Path("digests/ada/2025-08-20.md")
    assert artifact.media_type.startswith("text/markdown")


def test_empty_digest_says_nothing_matched() -> None:
    assert "None of the 81 papers" in render(digest())


def test_hostile_text_is_inert_in_markdown_and_in_its_html() -> None:
    d = digest(
        scored(
            HOSTILE,
            HOSTILE,
            url="javascript:alert(1)",
            code_url="data:text/html,x",
            authors=(HOSTILE,),
        )
    )
    text = render(d)
    html = markdown.markdown(text)
    assert "<script" not in html
    assert 'href="javascript' not in html and "data:text" not in text
    assert "\nBcc: evil" not in text
    assert not re.search(r"(?<!\\)\]\(javascript", text)


def test_user_template_wins_and_can_extend_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "digest.md").write_text('{% extends "default:digest.md" %}', encoding="utf-8")
    (tmp_path / "digest-grace.md").write_text(
        "Just for {{ digest.reader.name }} on {{ digest.date }}\n", encoding="utf-8"
    )
    assert render(digest(), (tmp_path,)) == render(digest())
    grace = digest(reader=Profile(name="grace", keywords=("splats",)))
    assert render(grace, (tmp_path,)) == "Just for grace on 2025-08-20\n"


def test_template_errors_are_render_errors(tmp_path: Path) -> None:
    (tmp_path / "digest.md").write_text("{{ digest.nope }}", encoding="utf-8")
    with pytest.raises(RenderError, match=r"digest\.md"):
        render(digest(), (tmp_path,))
    (tmp_path / "digest.md").write_text("{% for %}", encoding="utf-8")
    with pytest.raises(RenderError, match=r"digest\.md:1"):
        render(digest(), (tmp_path / "x", tmp_path))


def test_html_and_xml_templates_autoescape() -> None:
    env = environment()
    assert env.from_string("{{ t }}").render(t="<b>") == "&lt;b&gt;"
    assert env.autoescape("digest.html") and env.autoescape("feed.xml")
    assert env.autoescape("digest.html.j2") and not env.autoescape("digest.md")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a <b> & c", "a &lt;b&gt; &amp; c"),
        ("[x](y)", "\\[x\\](y)"),
        ("snake_case *x*", "snake\\_case \\*x\\*"),
        ("1. item", "1\\. item"),
        ("- item", "\\- item"),
        ("two\nlines\x0b", "two lines"),
    ],
)
def test_md_escape(text: str, expected: str) -> None:
    assert md_escape(text) == expected


def test_safe_url_only_http() -> None:
    assert safe_url("https://x.org/a b") == "https://x.org/a%20b"
    for bad in ("javascript:alert(1)", "data:text/html,x", "ftp://x", "//x.org", "", None):
        assert safe_url(bad) == ""


def test_cut_keeps_whole_sentences_or_words() -> None:
    text = "First sentence here. " * 50
    assert cut(text, 100).endswith("here.")
    assert len(cut(text, 100)) <= 100
    long_word_run = "word " * 300
    assert cut(long_word_run, 50).endswith(" …")
    assert cut("short") == "short"
