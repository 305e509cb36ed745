"""The merge of a new sighting into a paper already stored: a pure decision, records in, the row
to write out. The store finds the stored paper and applies the result; nothing here reads or
writes the database.

The rules: a paper moves to its arXiv id once a source gives one (the title-only id it had stays
an alias); what the stored paper lacks is filled from the new sighting, what it has is kept;
the latest upvotes count; categories and keywords are the union, stored order first.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.models import Paper


@dataclass(frozen=True, slots=True)
class PaperRow:
    """The mergeable fields of a stored paper, as the papers table keeps them (`published` as
    the ISO text stored; the title never changes once stored, so it is not here)."""

    id: str
    arxiv_id: str | None
    abstract: str
    authors: tuple[str, ...]
    url: str | None
    pdf_url: str | None
    code_url: str | None
    project_url: str | None
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    published: str | None
    upvotes: int | None


@dataclass(frozen=True, slots=True)
class Merge:
    """What to write: the merged row (under its new id), and the id it leaves behind when it
    moves to its arXiv id (None when it keeps its id)."""

    row: PaperRow
    renamed_from: str | None = None


def merge(old: PaperRow, paper: Paper) -> Merge:
    """The stored paper `old` with the new sighting `paper` merged in."""
    new_id = paper.id if paper.arxiv_id else old.id
    row = PaperRow(
        id=new_id,
        arxiv_id=old.arxiv_id or paper.arxiv_id,
        abstract=old.abstract or paper.abstract,
        authors=old.authors or paper.authors,
        url=old.url or paper.url,
        pdf_url=old.pdf_url or paper.pdf_url,
        code_url=old.code_url or paper.code_url,
        project_url=old.project_url or paper.project_url,
        categories=union(old.categories, paper.categories),
        keywords=union(old.keywords, paper.keywords),
        published=old.published or (paper.published.isoformat() if paper.published else None),
        upvotes=paper.upvotes if paper.upvotes is not None else old.upvotes,
    )
    return Merge(row, renamed_from=old.id if new_id != old.id else None)


def union(stored: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    """The stored items, then those of `more` not among them, in order."""
    items = list(stored)
    items += [item for item in more if item not in items]
    return tuple(items)
