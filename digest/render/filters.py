"""Escaping and shaping of untrusted text, one function per medium's need. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from digest.models import StoredPaper

# A newsletter renders the same day's papers for every reader: what depends on the paper alone is
# escaped once and remembered (every function here is pure).
_remembered = lru_cache(maxsize=1 << 16)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# Characters Markdown gives meaning to inside a line; `<`, `>` and `&` become entities instead,
# because Python-Markdown does not honour a backslash before `<`.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
_MD_LINE_START = re.compile(r"^(\d+)([.)])|^([-+=>])")
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


@_remembered
def oneline(text: str) -> str:
    """Whitespace (line breaks included) folded to single spaces; control characters dropped."""
    return " ".join(_CONTROL.sub(" ", text).split())


@_remembered
def md_escape(text: str) -> str:
    """Plain text made inert in Markdown: specials backslash-escaped, `<>&` as entities."""
    text = oneline(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # a line that starts like a list item, setext underline or quote must not become one
    return _MD_LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


@_remembered
def safe_url(url: str | None) -> str:
    """An http(s) URL fit for any output, or "" when the scheme is anything else."""
    if not url:
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return quote(url, safe="/:?#[]@!$&'*+,;=%~.-_")


@_remembered
def md_url(url: str | None) -> str:
    """A URL for a Markdown link target: parentheses and angle brackets percent-encoded."""
    return safe_url(url).replace("(", "%28").replace(")", "%29")


@_remembered
def cut(text: str, limit: int = 600) -> str:
    """A clean cut: whole sentences up to `limit` characters, else whole words and an ellipsis."""
    text = oneline(text)
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit + 1)]
    if ends and ends[-1] >= limit // 3:
        return text[: ends[-1]]
    head = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return head + " …"


@_remembered
def md_names(names: tuple[str, ...]) -> str:
    """Names (authors) for Markdown: each escaped, joined by commas."""
    return ", ".join(map(md_escape, names))


@_remembered
def md_links(paper: StoredPaper) -> str:
    """A paper's links as Markdown (`[paper](...) · [PDF](...)`); "" when it has none."""
    found = [
        ("paper", paper.url),
        ("PDF", paper.pdf_url),
        ("code", paper.code_url),
        ("project", paper.project_url),
    ]
    return " · ".join(f"[{label}]({url})" for label, href in found if (url := md_url(href)))


@dataclass(frozen=True, slots=True)
class MdPaper:
    """A paper's Markdown pieces that are the same in every reader's digest."""

    heading: str  # the title, linked when the paper has a URL
    authors: str
    links: str
    quote: str  # the abstract, cut cleanly


@_remembered
def md_paper(paper: StoredPaper) -> MdPaper:
    url = md_url(paper.url)
    title = md_escape(paper.title)
    return MdPaper(
        heading=f"[{title}]({url})" if url else title,
        authors=md_names(paper.authors),
        links=md_links(paper),
        quote=md_escape(cut(paper.abstract)),
    )


FILTERS = {
    "md_paper": md_paper,
    "oneline": oneline,
    "md": md_escape,
    "md_url": md_url,
    "md_names": md_names,
    "md_links": md_links,
    "safe_url": safe_url,
    "cut": cut,
}
