"""The flow, in order: ingest sources into the store, rank each reader's papers, curate, render,
deliver. Each step is an explicit call to its stage; nothing is shared but the arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from digest import curate, rank, render, sources
from digest.config import Config
from digest.deliver import files
from digest.errors import DigestError, SourceError
from digest.fetch import read_file
from digest.models import Artifact, Digest, Origin, Profile, SourceOutcome, StoredPaper
from digest.store import Store

log = logging.getLogger("digest")


@dataclass(frozen=True, slots=True)
class Unit:
    """One file to ingest, under the source name its sightings are recorded with."""

    source: str
    kind: str | None
    path: Path
    date: date | None


@dataclass(frozen=True, slots=True)
class BuildResult:
    written: tuple[Path, ...]
    failures: tuple[str, ...]


# -- ingest ---------------------------------------------------------------------------------------


def configured_units(config: Config, *, day: date | None) -> list[Unit | SourceOutcome]:
    """Every file of every configured source; a source matching no file is a failed outcome."""
    units: list[Unit | SourceOutcome] = []
    for source in config.sources:
        if source.path is None:
            units.append(_failed(source.name, f"{source.name}: URL sources are not supported yet"))
            continue
        paths = source.files()
        if not paths:
            units.append(_failed(source.name, f"{source.path}: no files match"))
        units += [Unit(source.name, source.kind, p, day or source.date) for p in paths]
    return units


def file_units(paths: Sequence[Path], *, kind: str | None, day: date | None) -> list[Unit]:
    """Files named on the command line; each is its own source, `file:<name>`."""
    return [Unit(f"file:{p.name}", kind, p, day) for p in paths]


def ingest(
    store: Store, units: Sequence[Unit | SourceOutcome], *, today: date, now: datetime
) -> list[SourceOutcome]:
    """Ingest each unit on its own: one broken file never stops the others."""
    return [
        u if isinstance(u, SourceOutcome) else ingest_one(store, u, today=today, now=now)
        for u in units
    ]


def ingest_one(store: Store, unit: Unit, *, today: date, now: datetime) -> SourceOutcome:
    location = str(unit.path)
    try:
        kind = _kind(unit)
        data = read_file(unit.path)
        origin = Origin(source=unit.source, location=location, today=today, date=unit.date)
        papers, warnings = sources.parse_with_warnings(kind, data, origin=origin)
    except SourceError as exc:
        store.record_source(unit.source, location, now=now, error=str(exc))
        log.error("%s", exc)
        return _failed(unit.source, str(exc))
    for warning in warnings:
        log.warning("%s", warning)
    result = store.add_papers(unit.source, papers, now=now)
    store.record_source(unit.source, location, now=now, error=None)
    return SourceOutcome(
        source=unit.source,
        status="ok" if papers else "empty",
        papers_seen=result.seen,
        papers_new=result.new,
        dates=result.dates,
        warnings=tuple(warnings),
    )


def _kind(unit: Unit) -> str:
    kind = unit.kind or sources.KIND_BY_EXTENSION.get(unit.path.suffix.lower())
    if kind is None:
        raise SourceError(
            f"{unit.path}: cannot tell the kind from the extension "
            f"(pass --kind: {', '.join(sorted(sources.SOURCES))})"
        )
    if kind not in sources.SOURCES:
        raise SourceError(f"{unit.path}: kind {kind!r} is not supported by this digest")
    return kind


def _failed(source: str, error: str) -> SourceOutcome:
    return SourceOutcome(source=source, status="failed", error=error)


# -- rank, curate, render, deliver ------------------------------------------------------------


def make_digests(
    store: Store,
    profiles: Sequence[Profile],
    *,
    day: date,
    now: datetime,
    model: rank.Model | None = None,
) -> list[Digest]:
    """Each reader's digest for one day, ranked against the whole stored corpus."""
    model = model if model is not None else rank.fit(store.papers())
    papers = store.papers(on=day)
    readers = [(p, liked_papers(store, p)) for p in profiles]
    # curation needs only the best few of each reader's ranking; explain just those
    limit = 2 * max((p.top_k for p in profiles), default=0) + 5
    ranked = rank.rank_many(model, readers, papers, limit=limit)
    return [
        curate.curate(ranked[p.name], p, day=day, now=now, candidates=len(papers)) for p in profiles
    ]


def liked_papers(store: Store, profile: Profile) -> list[StoredPaper]:
    found = store.find(profile.liked)
    if len(found) < len(profile.liked):
        log.info(
            "%s: %d liked papers are not in the store yet",
            profile.name,
            len(profile.liked) - len(found),
        )
    return found


def build(config: Config, store: Store, *, days: Sequence[date], now: datetime) -> BuildResult:
    """Write every reader's digest for each day; a failing reader is reported, not fatal."""
    model = rank.fit(store.papers())
    env = render.environment(config.templates)
    written: list[Path] = []
    failures: list[str] = []
    for day in days:
        for digest in make_digests(store, config.readers, day=day, now=now, model=model):
            try:
                artifact: Artifact = render.render_markdown(digest, title=config.title, env=env)
                written += files.deliver([artifact], config.out_dir)
            except DigestError as exc:
                failures.append(f"{digest.reader.name} {day}: {exc}")
                log.error("%s %s: %s", digest.reader.name, day, exc)
    return BuildResult(tuple(written), tuple(failures))


def summary(
    command: str, outcomes: Sequence[SourceOutcome], build: BuildResult | None, seconds: float
) -> str:
    """The one line every run ends with."""
    parts = []
    if outcomes:
        ok = sum(o.status != "failed" for o in outcomes)
        failed = len(outcomes) - ok
        seen = sum(o.papers_seen for o in outcomes)
        new = sum(o.papers_new for o in outcomes)
        parts.append(f"{ok} sources ok, {failed} failed; {seen} papers seen, {new} new")
    if build is not None:
        parts.append(f"{len(build.written)} digests written, {len(build.failures)} failed")
    parts.append(f"{seconds:.2f} s")
    return f"digest {command}: " + "; ".join(parts)
