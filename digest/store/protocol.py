"""What the rest of digest may ask of a store, by aggregate; `Store` is all of them together.

Everything above the store is typed against these protocols. Two backends implement them, with
the same SQL (store/sql/): `SqliteStore` (store/sqlite/, the embedded default) and
`PostgresStore` (store/postgres/); `Store.open(location)` opens either. Both pass the contract
tests (tests/test_store_contract.py), one parameter of `backend` each.

Times given to a store are timezone-aware; dates are digest dates. A method that changes
anything changes it in one transaction, all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self

from digest.models import (
    Delivery,
    Digest,
    LedgerEvent,
    Paper,
    Profile,
    ReaderSettings,
    StoredPaper,
    Subscriber,
)
from digest.store.rows import (
    FetchState,
    IngestResult,
    LibraryItem,
    LibraryState,
    Matches,
    Run,
    RunSources,
)


class Papers(Protocol):
    """Papers kept once each, merged over every sighting (see store/merge.py)."""

    def add_papers(
        self, source: str, papers: Sequence[Paper], *, now: datetime, other_date: str = ...
    ) -> IngestResult: ...

    def digest_dates(self) -> list[date]: ...

    def latest_date(self) -> date | None: ...

    def papers(
        self, on: date | None = ..., *, since: date | None = ..., until: date | None = ...
    ) -> list[StoredPaper]: ...

    def find(self, refs: Iterable[str]) -> list[StoredPaper]: ...


class Feedback(Protocol):
    """What each reader said of a paper: liked or disliked, the newest word kept."""

    def record_feedback(
        self, reader: str, ref: str, *, liked: bool, now: datetime
    ) -> StoredPaper: ...

    def forget_feedback(self, reader: str, paper_id: str) -> bool: ...

    def feedback(self, reader: str) -> tuple[list[StoredPaper], list[StoredPaper]]: ...


class Libraries(Protocol):
    """Each reader's library (store/sql/library.py): entries matched to stored papers or kept
    as library papers, replaced whole by each import, read back as the reader's liked papers."""

    def match_papers(
        self,
        *,
        arxiv_ids: Collection[str] = ...,
        dois: Collection[str] = ...,
        title_keys: Collection[str] = ...,
    ) -> Matches: ...

    def replace_library(
        self,
        reader: str,
        items: Sequence[LibraryItem],
        *,
        origin: str,
        now: datetime,
        digest: str | None = ...,
        version: int | None = ...,
        unmatched: int = ...,
    ) -> None: ...

    def library(self, reader: str) -> list[StoredPaper]: ...

    def library_state(self, reader: str) -> LibraryState | None: ...


class BuiltDigests(Protocol):
    """The digests built, each reader's papers in order with why they were picked."""

    def save_digests(self, digests: Sequence[Digest]) -> None: ...

    def digests(self, reader: Profile, *, since: date | None = ...) -> list[Digest]: ...


class Sources(Protocol):
    """Each source's last attempt, and each URL's last fetch (for conditional GETs)."""

    def record_source(
        self, source: str, location: str, *, now: datetime, error: str | None
    ) -> None: ...

    def failing_sources(self) -> list[tuple[str, str]]: ...

    def source_failures(self, source: str) -> int: ...

    def fetch_state(self, url: str) -> FetchState | None: ...

    def record_fetch(self, state: FetchState, *, source: str) -> None: ...


class Runs(Protocol):
    """Every command's run: its summary line and its report."""

    def record_run(
        self,
        command: str,
        *,
        started: datetime,
        seconds: float,
        summary: str,
        report: dict[str, Any],
    ) -> None: ...

    def last_run(self, command: str | None = ...) -> Run | None: ...

    def runs(self, count: int, *, command: str | None = ...) -> list[Run]: ...

    def source_history(self, count: int) -> list[RunSources]: ...

    def last_good_run(self) -> datetime | None: ...


class Readers(Protocol):
    """Readers: config.yaml's and those who signed up, their status and their links' version,
    and what they set on their own page (put over their profile whenever they are read)."""

    def sync_readers(self, profiles: Sequence[Profile], *, now: datetime) -> int: ...

    def add_reader(
        self, profile: Profile, *, now: datetime, status: str = ..., origin: str = ...
    ) -> bool: ...

    def set_reader_status(self, name: str, status: str, *, now: datetime) -> bool: ...

    def set_profile(self, profile: Profile, *, now: datetime) -> bool: ...

    def set_reader_settings(
        self, name: str, settings: ReaderSettings, *, now: datetime
    ) -> bool: ...

    def revoke_tokens(self, name: str, *, now: datetime) -> bool: ...

    def subscriber(self, name: str) -> Subscriber | None: ...

    def subscribers(self, *status: str) -> list[Subscriber]: ...

    def readers_by_email(self, email: str) -> list[Subscriber]: ...

    def token_version(self, name: str) -> int | None: ...

    def token_versions(self) -> dict[str, int]: ...


class Signups(Protocol):
    """The subscribe form's budgets, shared by every process on the store."""

    def admit_signup(
        self, address: str, *, now: datetime, per_hour: int, per_address: int
    ) -> timedelta | None: ...


class Ledger(Protocol):
    """The send ledger: one row per (digest date, reader), sent exactly once (sqlite/ledger.py)."""

    def plan_deliveries(
        self,
        day: date,
        readers: Sequence[tuple[str, Sequence[str]]],
        *,
        now: datetime,
        give_up: datetime,
    ) -> int: ...

    def claim_delivery(
        self,
        day: date,
        *,
        by: str,
        now: datetime,
        reader: str | None = ...,
        retries_only: bool = ...,
    ) -> Delivery | None: ...

    def claim_deliveries(
        self,
        day: date,
        *,
        by: str,
        now: datetime,
        limit: int,
        reader: str | None = ...,
        retries_only: bool = ...,
    ) -> list[Delivery]: ...

    def take_send_slots(self, *, now: datetime, interval: timedelta, count: int) -> datetime: ...

    def mark_transmitting(self, day: date, reader: str, *, by: str) -> bool: ...

    def finish_delivery(
        self, day: date, reader: str, *, by: str, status: str, now: datetime, **outcome: Any
    ) -> bool: ...

    def recover_deliveries(
        self, day: date, *, now: datetime, lease: timedelta, gone: Callable[[str], bool]
    ) -> int: ...

    def expire_deliveries(self, day: date, *, now: datetime) -> int: ...

    def deliveries(self, day: date) -> list[Delivery]: ...

    def settle_delivery(
        self, day: date, reader: str, *, action: str, actor: str, now: datetime, note: str = ...
    ) -> Delivery: ...

    def ledger_history(self, day: date) -> list[LedgerEvent]: ...

    def next_due(self, day: date) -> datetime | None: ...

    def delivery_dates(self) -> list[date]: ...

    def pause_sending(self, day: date, *, reason: str, now: datetime) -> None: ...

    def resume_sending(self, day: date) -> bool: ...

    def sending_paused(self, day: date) -> str | None: ...


class Models(Protocol):
    """Fitted ranking models shared by the shards of a build: pickled, by corpus key
    (modelcache.corpus_key); only the newest few are kept."""

    def load_model(self, key: str) -> bytes | None: ...

    def save_model(self, key: str, data: bytes) -> None: ...

    def model_lock(self, key: str) -> AbstractContextManager[None]:
        """Held while the model of `key` is fitted: another process asking for it waits until
        it is released (and then finds the model saved)."""
        ...


class Shards(Protocol):
    """Which shards of a day's sharded build are done (store/sql/shards.py)."""

    def finish_shard(self, day: date, shard: int, shards: int, *, now: datetime) -> list[int]: ...


class Upkeep(Protocol):
    """The store as a whole: where it is, whether it is sound, a copy of it, closing it."""

    location: str  # where the store is, for messages: a file's path, or a URL without password

    def check(self) -> list[str]: ...

    def backup(self, target: Path, *, force: bool = ...) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None: ...


class StorePool(Protocol):
    """Stores for a process that uses several at a time (`digest serve`'s request threads):
    each `store()` block has one of its own. Made by `pool` (below)."""

    def store(self) -> AbstractContextManager[Store]: ...

    def close(self) -> None: ...


class Store(
    Papers,
    Feedback,
    Libraries,
    BuiltDigests,
    Sources,
    Runs,
    Readers,
    Signups,
    Ledger,
    Models,
    Shards,
    Upkeep,
    Protocol,
):
    """Everything a store keeps. `Store.open(location)` opens the store there; `pool` (below)
    gives stores to a process that uses several at a time."""

    @staticmethod
    def open(location: str | Path) -> Store:
        """The store at `location`: a `postgresql://` (or `postgres://`) URL opens the
        PostgreSQL store (store/postgres/), anything else is the path of an SQLite file
        (store/sqlite/). The one place that names a backend, so everything else is written
        against the protocol."""
        from digest.store.postgres.connection import is_url

        if is_url(location):
            from digest.store.postgres import PostgresStore

            return PostgresStore.open(str(location))
        from digest.store.sqlite import SqliteStore

        return SqliteStore.open(Path(location))


def pool(location: str | Path, *, size: int) -> StorePool:
    """Stores at `location` for up to `size` threads at a time: PostgreSQL connections
    kept open and lent (store/postgres/pool.py); an SQLite file opened for each block (a
    local file has no connection worth keeping, and its connections belong to one thread).
    The store is checked (and migrated) once, here."""
    from digest.store.postgres.connection import is_url

    if is_url(location):
        from digest.store.postgres.pool import PostgresPool

        return PostgresPool(str(location), size=size)
    from digest.store.sqlite import SqlitePool

    return SqlitePool(Path(location))
