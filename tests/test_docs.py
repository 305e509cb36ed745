"""The documentation: README.md stays a page a newcomer reads, and every relative link and #anchor
in README.md, CONTRIBUTING.md and docs/*.md points at a file and a heading that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
README_LIMIT = 15_000  # bytes: past this the README is a reference again, which belongs in docs/
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def reference() -> list[Path]:
    return sorted((ROOT / "docs").glob("*.md"))


def pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *reference()]


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, inline code blanked out."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "``", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation dropped, spaces as -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated one gets -1, -2, ... as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.*)", line)):
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    """Each relative link of `page` whose file or #anchor does not exist, as `page: target`."""
    found = []
    for line in prose(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                found.append(f"{page.name}: {target} (no such file)")
            elif anchor and anchor not in anchors(file.read_text(encoding="utf-8")):
                found.append(f"{page.name}: {target} (no such heading)")
    return found


def test_the_readme_is_a_newcomers_page_under_its_size():
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) < README_LIMIT, f"README.md is {len(readme)} bytes; move reference to docs/"
    text = readme.decode("utf-8")
    assert "make run" in text and "make test" in text


def test_the_readme_links_every_reference_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    docs = {f"docs/{page.name}" for page in reference()}
    assert len(docs) >= 3
    assert docs <= linked, docs - linked


def test_every_relative_link_and_anchor_resolves():
    assert [problem for page in pages() for problem in broken_links(page)] == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    other = "# Other\n\n## Delivery: sending by SMTP\n"
    (tmp_path / "other.md").write_text(other, encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Step 1\n\n## Step 1\n\n"
        "[ok](other.md#delivery-sending-by-smtp) [ok](#step-1-1) [ok](https://example.org/#x)\n"
        "[bad](missing.md) [bad](other.md#delivery) [bad](#step-1-2)\n"
        "`[code](missing.md)`\n\n```\n[fenced](missing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#delivery (no such heading)",
        "page.md: #step-1-2 (no such heading)",
    ]


def test_anchors_follow_githubs_slugs():
    text = "# `digest serve`\n## Delivery: sending by SMTP\n## Figures (the dev cases, `x`)\n"
    text += "## A_b\n"
    assert anchors(text) == {
        "digest-serve",
        "delivery-sending-by-smtp",
        "figures-the-dev-cases-x",
        "a_b",
    }
