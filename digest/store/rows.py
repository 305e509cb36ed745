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
