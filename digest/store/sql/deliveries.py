"""The `Ledger` protocol in SQL: each change one transaction over the ledger's rows
(ledger.py, whose docstring walks through the send's states and every crash case)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from digest.models import Delivery, LedgerEvent
from digest.store.sql import ledger
from digest.store.sql.base import SqlBase, utc

PLAN_CHUNK = 2000  # ledger rows planned per transaction (see `plan_deliveries`)


class SqlLedger(SqlBase):
    """The send ledger: one row per (digest date, reader), sent exactly once."""

    def plan_deliveries(
        self,
        day: date,
        readers: Sequence[tuple[str, Sequence[str]]],
        *,
        now: datetime,
        give_up: datetime,
    ) -> int:
        """A ledger row per (reader, addresses) for `day`, for those not already in it; PLAN_CHUNK
        rows per transaction (another writer of the store waits a moment, not the whole plan;
        planning again adds only what is missing)."""
        added = 0
        for start in range(0, len(readers), PLAN_CHUNK):
            with self._transaction():
                part = readers[start : start + PLAN_CHUNK]
                added += ledger.plan(self._conn, day, part, now=utc(now), give_up=utc(give_up))
        return added

    def claim_delivery(
        self,
        day: date,
        *,
        by: str,
        now: datetime,
        reader: str | None = None,
        retries_only: bool = False,
    ) -> Delivery | None:
        found = self.claim_deliveries(
            day, by=by, now=now, limit=1, reader=reader, retries_only=retries_only
        )
        return found[0] if found else None

    def claim_deliveries(
        self,
        day: date,
        *,
        by: str,
        now: datetime,
        limit: int,
        reader: str | None = None,
        retries_only: bool = False,
    ) -> list[Delivery]:
        with self._transaction(shared=True):
            return ledger.claim(
                self._conn,
                day,
                by=by,
                now=utc(now),
                limit=limit,
                reader=reader,
                retries_only=retries_only,
                lock=self.dialect.claim_lock,
            )

    def take_send_slots(self, *, now: datetime, interval: timedelta, count: int) -> datetime:
        with self._transaction(shared=True):
            return ledger.take_slots(
                self._conn, now=utc(now), interval=interval, count=count, lock=self.dialect.row_lock
            )

    def mark_transmitting(self, day: date, reader: str, *, by: str) -> bool:
        with self._transaction(shared=True, single=True):
            return ledger.transmitting(self._conn, day, reader, by=by)

    def finish_delivery(
        self,
        day: date,
        reader: str,
        *,
        by: str,
        status: str,
        now: datetime,
        **outcome: Any,
    ) -> bool:
        """Record how an attempt ended (see ledger.finish for the outcome's keys)."""
        if isinstance(outcome.get("next_attempt"), datetime):
            outcome["next_attempt"] = utc(outcome["next_attempt"])
        # one UPDATE unless addresses were refused (then a locked read of those refused before)
        with self._transaction(shared=True, single=not outcome.get("refused")):
            return ledger.finish(
                self._conn,
                day,
                reader,
                by=by,
                status=status,
                now=utc(now),
                lock=self.dialect.row_lock,
                **outcome,
            )

    def recover_deliveries(
        self, day: date, *, now: datetime, lease: timedelta, gone: Callable[[str], bool]
    ) -> int:
        with self._transaction():
            return ledger.recover(
                self._conn, day, now=utc(now), lease=lease, gone=gone, lock=self.dialect.row_lock
            )

    def expire_deliveries(self, day: date, *, now: datetime) -> int:
        with self._transaction():
            return ledger.expire(self._conn, day, now=utc(now))

    def deliveries(self, day: date) -> list[Delivery]:
        return ledger.rows(self._conn, day)

    def settle_delivery(
        self, day: date, reader: str, *, action: str, actor: str, now: datetime, note: str = ""
    ) -> Delivery:
        """Settle an `unknown` row by hand (see ledger.settle); a StoreError for any other."""
        with self._transaction():
            return ledger.settle(
                self._conn, day, reader, action=action, actor=actor, now=utc(now), note=note
            )

    def ledger_history(self, day: date) -> list[LedgerEvent]:
        return ledger.history(self._conn, day, order=self.dialect.insertion_order)

    def next_due(self, day: date) -> datetime | None:
        return ledger.next_due(self._conn, day)

    def delivery_dates(self) -> list[date]:
        return ledger.dates(self._conn)

    def pause_sending(self, day: date, *, reason: str, now: datetime) -> None:
        with self._transaction():
            ledger.pause(self._conn, day, reason=reason, now=utc(now))

    def resume_sending(self, day: date) -> bool:
        with self._transaction():
            return ledger.resume(self._conn, day)

    def sending_paused(self, day: date) -> str | None:
        return ledger.paused(self._conn, day)
