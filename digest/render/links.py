"""Every URL the outputs link to, made in one place.

Absolute URLs from the site's base URL. The reader-specific ones (feedback, unsubscribe, the
reader's private feed) go to `digest serve` (`app`) with a token signed for the reader and the
purpose. Without a signer (no secret configured, as in the files default) no such link could
work: feedback and a private reader's feed are None, and every output leaves them out rather
than point somewhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal
from urllib.parse import quote, urlsplit

from digest.models import StoredPaper
from digest.render.filters import safe_url
from digest.tokens import Purpose, Signer

Format = Literal["rss", "atom"]
Verdict = Literal["like", "dislike"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = {"rss": "xml", "atom": "atom"}


@lru_cache(maxsize=1 << 14)  # a paper's anchor, once per paper of a send
def anchor(paper_id: str) -> str:
    """A paper's fragment id on a day page: `arxiv:2506.01234` -> `arxiv-2506.01234`."""
    return _UNSAFE.sub("-", paper_id).strip("-") or "paper"


@lru_cache(maxsize=1024)  # formatting a date is slow; a build has a few days
def day_path(day: date) -> str:
    """A day's page, relative to the site root: `2025/08/20/`."""
    return f"{day:%Y/%m/%d}/"


@dataclass(frozen=True, slots=True)
class Links:
    base: str  # the site's base URL, ending in /
    app: str = ""  # where `digest serve` answers, ending in /; default: `base`
    signer: Signer | None = None  # signs the reader links; None leaves them on the archive
    versions: dict[str, int] | None = None  # each reader's token version (0 when absent)

    def token(self, reader: str, purpose: Purpose) -> str | None:
        if self.signer is None:
            return None
        version = self.versions.get(reader, 0) if self.versions else 0
        return self.signer.token(reader, purpose, version)

    @property
    def served(self) -> str:
        return self.app or self.base

    def home(self) -> str:
        return self.base

    def page(self, number: int) -> str:
        """The archive index's page `number` (1 is the home page)."""
        return self.base if number <= 1 else f"{self.base}page/{number}/"

    def day(self, day: date) -> str:
        return f"{self.base}{day_path(day)}"

    def paper(self, day: date, paper_id: str) -> str:
        """A paper on its day's page."""
        return f"{self.day(day)}#{anchor(paper_id)}"

    def search(self) -> str:
        return f"{self.base}search/"

    def site_feed(self, fmt: Format) -> str:
        """The public feed of every day's papers."""
        return f"{self.base}feeds/all.{_EXTENSION[fmt]}"

    def reader_page(self, reader: str) -> str:
        """A public reader's page on the archive (readers marked `public: true` only)."""
        return f"{self.base}readers/{reader}/"

    def reader_feed(self, reader: str, fmt: Format) -> str:
        """A public reader's feed on the archive (also the id of any reader's feed)."""
        return f"{self.base}feeds/{reader}.{_EXTENSION[fmt]}"

    def feed_of(self, reader: str, fmt: Format, *, private: bool) -> str | None:
        """Where a reader follows their feed: a public reader's on the archive; a private
        reader's behind a feed token on `digest serve`, None without a signer (the archive never
        holds a private reader's feed)."""
        if not private:
            return self.reader_feed(reader, fmt)
        token = self.token(reader, "feed")
        return None if token is None else f"{self.served}feeds/{token}.{_EXTENSION[fmt]}"

    def feedback(self, reader: str, day: date, paper_id: str, verdict: Verdict) -> str | None:
        """Where a reader says more or less like this paper; None without a signer."""
        token = self.token(reader, "feedback")
        if token is None:
            return None
        return f"{self.served}f/{token}/{quote(paper_id, safe=':')}/{verdict}"

    def unsubscribe(self, reader: str) -> str:
        """The reader's unsubscribe page, also where they change their keywords and
        resubscribe (the archive's home when there is no signer)."""
        token = self.token(reader, "unsubscribe")
        return self.base if token is None else f"{self.served}u/{token}"

    def unsubscribe_mailto(self, reader: str, address: str) -> str | None:
        """`mailto:` for List-Unsubscribe, naming the reader by token in the subject."""
        token = self.token(reader, "unsubscribe")
        return None if token is None else f"mailto:{address}?subject=unsubscribe%20{token}"

    def confirm(self, reader: str) -> str | None:
        """The double opt-in link sent to a new subscriber."""
        token = self.token(reader, "confirm")
        return None if token is None else f"{self.served}c/{token}"

    def subscribe(self) -> str:
        return f"{self.served}subscribe"


def paper_links(paper: StoredPaper) -> list[tuple[str, str]]:
    """(label, URL) of each place a paper can be read, http(s) only, in a fixed order: the arXiv
    abstract (or the source's page), the PDF, code, project page, and its Daily Papers page."""
    arxiv = paper.arxiv_id
    found = [
        ("arXiv" if arxiv else "paper", f"https://arxiv.org/abs/{arxiv}" if arxiv else paper.url),
        ("PDF", paper.pdf_url or (f"https://arxiv.org/pdf/{arxiv}" if arxiv else None)),
        ("code", paper.code_url),
        ("project", paper.project_url),
    ]
    host = urlsplit(paper.url or "").netloc.lower()
    if host == "huggingface.co":
        found.append(("Daily Papers", paper.url))
    elif arxiv and paper.upvotes is not None:
        found.append(("Daily Papers", f"https://huggingface.co/papers/{arxiv}"))
    out: list[tuple[str, str]] = []
    for label, url in found:
        safe = safe_url(url)
        if safe and safe not in (u for _, u in out):
            out.append((label, safe))
    return out
