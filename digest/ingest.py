"""Ingesting: each configured source (or file given) becomes units of work, one per file or per
fetched URL; each unit is read, parsed and stored on its own, so one broken source never stops the
others and never harms what is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from digest import sources
from digest.config import Config, SourceConfig
from digest.errors import SourceError
from digest.fetch import Fetcher, Validators, read_file
from digest.models import Origin, Paper, SourceOutcome
from digest.store import FetchState, Store

log = logging.getLogger("digest")

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class Unit:
    """One file or URL to ingest, under the source name its sightings are recorded with.

    `date` is the digest date that wins over what the data says; `keep` the arXiv announce types
    to keep (None keeps every paper); `per_date` for a location filled in from a `{date}`
    template, whose every date is an announcement of its own (a paper read again at a fixed
    location keeps the date it was first seen with).
    """

    source: str
    kind: str | None
    location: str
    date: date | None = None
    keep: tuple[str, ...] | None = None
    per_date: bool = False

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))


def configured_units(
    config: Config,
    *,
    days: Sequence[date],
    override: date | None = None,
    names: Iterable[str] = (),
) -> list[Unit | SourceOutcome]:
    """The units of the configured sources (all, or those named).

    A `{date}` URL or path gives one unit per date in `days` (weekends skipped for sources that
    publish none). Every other source is read once, dated by its own `date:`, else by what its
    data says; `override` (`--date`) dates only the sources named: a page at a fixed address
    is not re-dated by a run for another day.
    """
    wanted = set(names)
    chosen = [s for s in config.sources if not wanted or s.name in wanted]
    units: list[Unit | SourceOutcome] = []
    for source in chosen:
        units += _source_units(source, days, override if wanted else None)
    return units


def _source_units(
    source: SourceConfig, days: Sequence[date], override: date | None
) -> list[Unit | SourceOutcome]:
    keep = source.announce_types
    template = source.url or (str(source.path) if source.path is not None else "")
    if "{date}" in template:
        dated = [d for d in days if source.weekends or d.weekday() < 5]
        return [
            Unit(source.name, source.kind, template.replace("{date}", d.isoformat()), d, keep, True)
            for d in dated
        ]
    day = override or source.date
    if source.url:
        return [Unit(source.name, source.kind, source.url, day, keep)]
    paths = source.files()
    if not paths:
        return [_failed(source.name, f"{source.path}: no files match")]
    return [Unit(source.name, source.kind, str(p), day, keep) for p in paths]


def file_units(paths: Sequence[Path], *, kind: str | None, day: date | None) -> list[Unit]:
    """Files named on the command line; each is its own source, `file:<name>`."""
    return [Unit(f"file:{p.name}", kind, str(p), day) for p in paths]


def days_between(first: date, last: date) -> list[date]:
    """Every date from `first` to `last`, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def ingest(
    store: Store,
    units: Sequence[Unit | SourceOutcome],
    *,
    today: date,
    now: datetime,
    fetcher: Fetcher | None = None,
    progress: Progress | None = None,
    redate: bool = False,
) -> list[SourceOutcome]:
    """Ingest each unit on its own; returns one outcome per unit. `redate` moves the papers a
    source announced before on another date to the date they are read with now."""
    outcomes = []
    for n, unit in enumerate(units, 1):
        if isinstance(unit, SourceOutcome):
            outcomes.append(unit)
            continue
        if progress is not None:
            progress(n, len(units), unit.location)
        outcomes.append(
            ingest_one(store, unit, today=today, now=now, fetcher=fetcher, redate=redate)
        )
    return outcomes


def ingest_one(
    store: Store,
    unit: Unit,
    *,
    today: date,
    now: datetime,
    fetcher: Fetcher | None = None,
    redate: bool = False,
) -> SourceOutcome:
    """Read, parse and store one unit; a SourceError becomes a failed outcome."""
    try:
        kind = _kind(unit)
        read = _fetch(store, unit, fetcher, now) if unit.is_url else _read(unit)
        if read is None:
            store.record_source(unit.source, unit.location, now=now, error=None)
            return SourceOutcome(unit.source, "not modified")
        data, state = read
        origin = Origin(source=unit.source, location=unit.location, today=today, date=unit.date)
        papers, warnings = sources.parse_with_warnings(kind, data, origin=origin)
    except SourceError as exc:
        store.record_source(unit.source, unit.location, now=now, error=str(exc))
        log.error("%s", exc)
        return _failed(unit.source, str(exc))
    for warning in warnings:
        log.warning("%s", warning)
    kept = _keep(papers, unit.keep)
    other = "move" if redate else "add" if unit.per_date else "keep"
    result = store.add_papers(unit.source, kept, now=now, other_date=other)
    if result.kept:
        log.info(
            "%s: %d papers keep the date they were first announced on (--redate moves them)",
            unit.location,
            result.kept,
        )
    if state is not None:  # validators are kept only once the content is safely stored
        store.record_fetch(state, source=unit.source)
    store.record_source(unit.source, unit.location, now=now, error=None)
    return SourceOutcome(
        source=unit.source,
        status="ok" if kept else "empty",
        papers_seen=result.seen,
        papers_new=result.new,
        dates=result.dates,
        warnings=tuple(warnings),
    )


def _keep(papers: list[Paper], keep: tuple[str, ...] | None) -> list[Paper]:
    """Papers of the announce types a source keeps (papers without a type are always kept)."""
    if keep is None:
        return papers
    return [p for p in papers if p.announce_type is None or p.announce_type in keep]


def _read(unit: Unit) -> tuple[bytes, None]:
    path = Path(unit.location)  # config paths and command-line files are plain paths
    return read_file(path), None


def _fetch(
    store: Store, unit: Unit, fetcher: Fetcher | None, now: datetime
) -> tuple[bytes, FetchState] | None:
    """The URL's new content and the state to keep, or None when it is not modified (304)."""
    if fetcher is None:
        raise SourceError(f"{unit.location}: fetching URLs is not available here")
    state = store.fetch_state(unit.location)
    if state is not None and state.status == 410:
        raise SourceError(
            f"{unit.location}: gone (HTTP 410 on {state.fetched.date()})",
            hint="change or remove the source in config.yaml",
        )
    url = state.moved_to if state is not None and state.moved_to else unit.location
    validators = Validators(state.etag, state.last_modified) if state is not None else None
    try:
        fetched = fetcher.fetch(url, validators)
    except SourceError as exc:
        if getattr(exc, "status", None) == 410:
            store.record_fetch(_state(unit.location, None, 410, None, now), source=unit.source)
        raise
    moved = fetched.permanent_url or (state.moved_to if state is not None else None)
    if fetched.permanent_url:
        log.warning(
            "%s: moved permanently to %s (update config.yaml)", unit.location, fetched.permanent_url
        )
    new_state = _state(unit.location, fetched.validators, fetched.status, moved, now)
    if fetched.content is None:
        store.record_fetch(new_state, source=unit.source)
        return None
    return fetched.content, new_state


def _state(
    url: str, validators: Validators | None, status: int, moved: str | None, now: datetime
) -> FetchState:
    v = validators or Validators()
    return FetchState(url, v.etag, v.last_modified, status, moved, now)


def _kind(unit: Unit) -> str:
    name = urlsplit(unit.location).path if unit.is_url else unit.location
    suffix = Path(name).suffix.lower()
    kind = unit.kind or sources.KIND_BY_EXTENSION.get(suffix)
    if kind is None:
        raise SourceError(
            f"{unit.location}: cannot tell the kind from the extension "
            f"(pass --kind: {', '.join(sorted(sources.SOURCES))})"
        )
    if kind not in sources.SOURCES:
        raise SourceError(f"{unit.location}: kind {kind!r} is not supported by this digest")
    return kind


def _failed(source: str, error: str) -> SourceOutcome:
    return SourceOutcome(source=source, status="failed", error=error)
