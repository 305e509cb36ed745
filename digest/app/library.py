"""A reader's library as their liked papers: an export of their reference manager (or their
Zotero library, through its Web API) read (digest/library/), each entry matched to the papers
the store holds, the reader's library replaced whole by what was found.

An entry is matched by its arXiv id (any version), then its DOI, then its title (the store's
`title_key`). An entry nothing matches becomes a library paper when it has a title and an
abstract: a text for the reader's profile that no digest ever shows. Others are skipped, each
with the line it starts on and the reason. A file with bad entries (ones that cannot be read)
changes nothing unless the import is `partial`. Likes and dislikes given by feedback are kept
apart and stay.

`import_library` is what `digest readers library` and the reader's own page call; `refresh` is
what each build calls for the libraries config.yaml names (`library:` or `zotero:`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest import library
from digest.config import Config, LibrarySource
from digest.errors import DigestError, SourceError, StoreError
from digest.library import Entry, Parsed, Skipped
from digest.library.zotero import ZOTERO_API, ZoteroClient, items_path
from digest.library.zotero import entries as zotero_entries
from digest.models import Profile, paper_id, title_key
from digest.store import LibraryItem, LibraryPaper, Matches, Store

log = logging.getLogger("digest")

MAX_PAPERS = 2000  # papers kept of one library: the ranking reads every one at each build


@dataclass(frozen=True, slots=True)
class LibraryReport:
    """What an import did: how many entries matched stored papers, how many were added as
    library papers, and those skipped, each with its line and reason. `changed` is False when
    the reader's library was left as it was (bad entries in a whole import)."""

    reader: str
    name: str  # the file's name, or `zotero:<library>`
    format: str
    matched: int
    added: int
    skipped: tuple[Skipped, ...]
    changed: bool

    @property
    def bad(self) -> tuple[Skipped, ...]:
        """The entries that could not be read."""
        return tuple(s for s in self.skipped if s.bad)

    def as_json(self) -> dict[str, Any]:
        """`{"matched": <count>, "added": <count>, "skipped": [{"line": <n>, "reason": "..."}]}`"""
        return {
            "matched": self.matched,
            "added": self.added,
            "skipped": [{"line": s.line, "reason": s.reason} for s in self.skipped],
        }

    def line(self) -> str:
        """The import in one line."""
        if not self.changed:
            bad = len(self.bad)
            return (
                f"{self.name}: {bad} bad {'entry' if bad == 1 else 'entries'}; "
                f"{self.reader}'s library is unchanged"
            )
        return (
            f"{self.reader}'s library from {self.name} ({self.format}): {self.matched} matched, "
            f"{self.added} added, {len(self.skipped)} skipped"
        )

    def reasons(self) -> list[str]:
        """Each skipped entry as `<name>:<line>: <reason>`."""
        return [f"{self.name}:{s.line}: {s.reason}" for s in self.skipped]


def import_library(
    store: Store, reader: str, name: str, data: bytes, *, partial: bool, now: datetime
) -> LibraryReport:
    """The reader's library replaced by the one in `data` (a file called `name`, whose
    extension and content say its format). With bad entries, nothing changes unless `partial`.
    SourceError (one line naming the file) for a file of no known format; StoreError for an
    unknown reader."""
    if store.subscriber(reader) is None:
        raise StoreError(f"no reader named {reader!r}")
    found = library.read(name, data)
    digest = hashlib.sha256(data).hexdigest()
    return apply(store, reader, found, origin=name, partial=partial, now=now, digest=digest)


def apply(
    store: Store,
    reader: str,
    found: Parsed,
    *,
    origin: str,
    partial: bool,
    now: datetime,
    digest: str | None = None,
    version: int | None = None,
) -> LibraryReport:
    """The entries read made the reader's library (see `import_library`)."""
    if found.bad and not partial:
        return LibraryReport(reader, origin, found.format, 0, 0, found.bad, changed=False)
    resolved = resolve(found.entries, store.match_papers(**keys(found.entries)))
    store.replace_library(
        reader,
        resolved.items,
        origin=origin,
        now=now,
        digest=digest,
        version=version,
        unmatched=resolved.unmatched,
    )
    skipped = tuple(sorted([*found.bad, *resolved.skipped], key=lambda s: s.line))
    return LibraryReport(
        reader, origin, found.format, resolved.matched, resolved.added, skipped, changed=True
    )


def keys(entries: Sequence[Entry]) -> dict[str, set[str]]:
    """What the store is asked about the entries: their arXiv ids, DOIs and title keys."""
    return {
        "arxiv_ids": {e.arxiv_id for e in entries if e.arxiv_id},
        "dois": {e.doi for e in entries if e.doi},
        "title_keys": {k for e in entries if (k := title_key(e.title))},
    }


@dataclass(frozen=True, slots=True)
class Resolved:
    """Entries made library items: how many matched, how many were added, which were skipped
    (and how many of those only because nothing matched them yet)."""

    items: tuple[LibraryItem, ...]
    matched: int
    added: int
    skipped: tuple[Skipped, ...]
    unmatched: int


def resolve(entries: Sequence[Entry], found: Matches) -> Resolved:
    """Each entry as the stored paper it matches (arXiv id, then DOI, then title), or a library
    paper: one stored before, or made of its title and abstract. Pure."""
    items: list[LibraryItem] = []
    skipped: list[Skipped] = []
    first: dict[str, int] = {}  # a paper's id -> the line of the entry that named it first
    matched = added = unmatched = 0
    for e in entries:
        item = _item(e, found)
        if item is None:
            unmatched += 1
            lacks = "abstract" if e.title else "title and abstract"
            why = f"nothing stored matches {e.named}, and it has no {lacks} to add it by"
            skipped.append(Skipped(e.line, why))
            continue
        named = item.paper_id or item.library_paper or ""
        if named in first:
            skipped.append(Skipped(e.line, f"the same paper as line {first[named]}"))
            continue
        if len(items) >= MAX_PAPERS:
            skipped.append(Skipped(e.line, f"past the first {MAX_PAPERS:,} papers of a library"))
            continue
        first[named] = e.line
        items.append(item)
        if item.paper is None:
            matched += 1
        else:
            added += 1
    return Resolved(tuple(items), matched, added, tuple(skipped), unmatched)


def _item(e: Entry, found: Matches) -> LibraryItem | None:
    wanted = [("arxiv", e.arxiv_id), ("doi", e.doi), ("title", title_key(e.title))]
    named = [(kind, value) for kind, value in wanted if value]
    if pid := next((found.papers[k] for k in named if k in found.papers), None):
        return LibraryItem(e.line, paper_id=pid)
    if e.title and e.abstract:
        paper = LibraryPaper(
            id=paper_id(e.arxiv_id, e.title),
            title=e.title,
            abstract=e.abstract,
            arxiv_id=e.arxiv_id,
            doi=e.doi,
            authors=e.authors,
            url=e.url or (f"https://arxiv.org/abs/{e.arxiv_id}" if e.arxiv_id else None),
        )
        return LibraryItem(e.line, paper=paper)
    if kept := next((found.library[k] for k in named if k in found.library), None):
        return LibraryItem(e.line, library_id=kept)
    return None


# -- at each build: the libraries config.yaml names -------------------------------------------


def refresh(
    config: Config,
    store: Store,
    profiles: Sequence[Profile],
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    zotero_api: str = ZOTERO_API,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """The libraries config.yaml names for these readers, read again where they changed (a file
    whose bytes differ, a Zotero library at a new version) or where entries waited for their
    papers. A library that cannot be read, or has bad entries, is left as last imported: one
    warning line each, also returned."""
    environ = os.environ if environ is None else environ
    names = {p.name for p in profiles}
    problems: list[str] = []
    for source in config.libraries:
        if source.reader not in names:
            continue
        try:
            if source.path is not None:
                report = _refresh_file(store, source, now=now)
            else:
                report = _refresh_zotero(store, source, now, environ, zotero_api, sleep)
        except DigestError as exc:
            problems.append(f"{source.reader}'s library: {exc}; kept as last imported")
            continue
        if report is not None and report.changed:
            log.info("%s", report.line())
        elif report is not None:
            first = report.bad[0]
            more = f" (and {len(report.bad) - 1} more bad entries)" if len(report.bad) > 1 else ""
            problems.append(
                f"{report.name}:{first.line}: {first.reason}{more}; "
                f"{source.reader}'s library kept as last imported"
            )
    for problem in problems:
        log.warning("%s", problem)
    return problems


def _refresh_file(store: Store, source: LibrarySource, *, now: datetime) -> LibraryReport | None:
    assert source.path is not None
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{source.path}: cannot read: {exc.strerror or exc}") from None
    state = store.library_state(source.reader)
    digest = hashlib.sha256(data).hexdigest()
    name = str(source.path)
    if state and (state.origin, state.digest, state.unmatched) == (name, digest, 0):
        return None  # the same file, every entry found
    return import_library(store, source.reader, name, data, partial=False, now=now)


def _refresh_zotero(
    store: Store,
    source: LibrarySource,
    now: datetime,
    environ: Mapping[str, str],
    api: str,
    sleep: Callable[[float], None],
) -> LibraryReport | None:
    zotero = source.zotero
    assert zotero is not None
    key = None
    if zotero.key_env:
        key = environ.get(zotero.key_env, "").strip()
        if not key:
            raise SourceError(f"{zotero.origin}: the variable {zotero.key_env} is not set")
    state = store.library_state(source.reader)
    since = None
    if state and state.origin == zotero.origin and not state.unmatched:
        since = state.version
    path = items_path(user=zotero.user, group=zotero.group, collection=zotero.collection)
    with ZoteroClient(key=key, base=api, sleep=sleep) as client:
        found = client.items(path, since=since)
    if found.items is None:
        return None  # unchanged since the last import
    items = zotero_entries(found.items)
    return apply(
        store,
        source.reader,
        items,
        origin=zotero.origin,
        partial=True,  # the API's items are records: a bad one is skipped, not the whole read
        now=now,
        version=found.version,
    )
