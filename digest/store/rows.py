"""Records the store hands out, whatever the backend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypedDict


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What storing one source's papers changed."""

    seen: int
    new: int
    dates: tuple[date, ...]  # the dates the papers were stored under
    kept: int = 0  # papers the source had announced before on another date, which they kept


@dataclass(frozen=True, slots=True)
class FetchState:
    """The last fetch of one URL: validators for a conditional GET, status, permanent move."""

    url: str
    etag: str | None
    last_modified: str | None
    status: int | None
    moved_to: str | None
    fetched: datetime


class Run(TypedDict):
    """One run of a command as the store keeps it. A dict, as `digest status --json` prints it;
    `ok` is False when a source or a digest failed, or the run said it failed. The report is the
    run's own (its `sources`, `failures`, `digests`, `send`, `alerts`), kept as it was given."""

    command: str
    started: str  # ISO 8601
    seconds: float
    summary: str
    ok: bool
    report: dict[str, Any]


class RunSources(TypedDict):
    """What one run's report says of its sources and of the alerts it sent."""

    sources: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class LibraryPaper:
    """A paper of a reader's library that no source announced: its texts, for their profile
    only (it is never a candidate of a digest). `id` is made as a stored paper's is."""

    id: str
    title: str
    abstract: str
    arxiv_id: str | None = None
    doi: str | None = None
    authors: tuple[str, ...] = ()
    url: str | None = None


@dataclass(frozen=True, slots=True)
class LibraryItem:
    """One entry of a reader's library as kept: the stored paper it matched (`paper_id`), a
    library paper stored before (`library_id`), or the library paper made of it (`paper`);
    `line` is where the entry was in its file."""

    line: int
    paper_id: str | None = None
    library_id: str | None = None
    paper: LibraryPaper | None = None

    @property
    def library_paper(self) -> str | None:
        """The id of the library paper it names, if it names one."""
        return self.paper.id if self.paper is not None else self.library_id


@dataclass(frozen=True, slots=True)
class LibraryState:
    """A reader's library as last imported: from where (a file's name, or `zotero:<library>`),
    the file's digest or the Zotero library's version, its size, and how many entries nothing
    matched (a later import may match them, once their papers are stored)."""

    reader: str
    origin: str
    digest: str | None
    version: int | None
    entries: int
    unmatched: int
    imported: datetime


@dataclass(frozen=True, slots=True)
class Matches:
    """What stored papers and library papers some ids and titles name: by arXiv id, DOI and
    title key (models.title_key), each the id of the paper found."""

    papers: dict[tuple[str, str], str]  # ("arxiv" | "doi" | "title", value) -> papers.id
    library: dict[tuple[str, str], str]  # the same, of library_papers
