"""The send ledger as rows: one per (digest date, reader), made when the day's digests are built.

Every change is one short write transaction (BEGIN IMMEDIATE), so two senders on one SQLite file
take turns rather than fail, and a crash loses at most the message in flight, whose row says how
far it got: `sending` (claimed, nothing handed to the server yet: safe to try again) or
`transmitting` (the server may have it: `unknown`, never sent twice). An `unknown` row leaves
that state only by hand (`settle`, once the relay's log has been read), and each such change is
kept in the row's history (`delivery_events`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from digest.errors import StoreError
from digest.models import SETTLE, WAITING, Delivery, LedgerEvent
from digest.store.sql.base import Db, Row


def plan(
    conn: Db,
    day: date,
    readers: Sequence[tuple[str, Sequence[str]]],
    *,
    now: datetime,
    give_up: datetime,
) -> int:
    """A pending row for each (reader, addresses) not already in the ledger for `day`; returns
    how many were added. Rebuilding a day never resets a row."""
    if not readers:
        return 0
    stamp = now.isoformat()
    added = conn.executemany(
        """INSERT INTO deliveries (digest_date, reader, status, recipients, next_attempt,
               give_up, created, updated)
           VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)
           ON CONFLICT (digest_date, reader) DO NOTHING""",
        [
            (day.isoformat(), name, json.dumps(list(to)), stamp, give_up.isoformat(), stamp, stamp)
            for name, to in readers
        ],
    )
    return added.rowcount


def claim(
    conn: Db,
    day: date,
    *,
    by: str,
    now: datetime,
    limit: int = 1,
    reader: str | None = None,
    retries_only: bool = False,
    lock: str = "",
) -> list[Delivery]:
    """Claim up to `limit` rows due on `day` for sender `by`, in the order they fall due (only
    `reader`'s, or only rows waiting for a retry, when asked); rows of readers no longer active
    are marked suppressed on the way (unsubscribes are honoured at send time). Empty when
    nothing is due. Run inside a transaction; `lock` makes other senders skip the rows read
    (PostgreSQL's `FOR UPDATE SKIP LOCKED`), so senders side by side never claim one row twice."""
    stamp = now.isoformat()
    only = ""
    if reader is not None:
        only += " AND d.reader = :reader"
    if retries_only:
        only += " AND d.status = 'deferred'"
    claimed: list[Delivery] = []
    while len(claimed) < limit:
        # the statuses written out, not bound: SQLite uses the partial index `deliveries_waiting`
        # only for the literal condition it was made with
        rows = conn.execute(
            f"""SELECT d.*, r.status AS reader_status FROM deliveries d
                LEFT JOIN readers r ON r.name = d.reader
                WHERE d.digest_date = :day AND d.status IN ('pending', 'deferred')
                  AND d.next_attempt <= :now AND (d.status = 'pending' OR d.give_up > :now)
                  {only}
                ORDER BY d.next_attempt, d.reader LIMIT :limit{lock}""",
            {"day": day.isoformat(), "now": stamp, "reader": reader, "limit": limit - len(claimed)},
        ).fetchall()
        if not rows:
            break
        mine = []
        for row in rows:
            if row["reader_status"] != "active":
                why = f"reader {row['reader_status'] or 'deleted'} before sending"
                _settle(conn, row, "suppressed", now, reply=why)
            else:
                mine.append(row)
        if mine:  # one statement for the batch: the rows are locked, their status as read
            conn.execute(
                f"""UPDATE deliveries SET status = 'sending', claimed_by = ?, claimed_at = ?,
                        updated = ?
                    WHERE digest_date = ? AND reader IN ({_marks(mine)})
                      AND status IN ('pending', 'deferred')""",
                (by, stamp, stamp, day.isoformat(), *(r["reader"] for r in mine)),
            )
            claimed += [delivery(r, status="sending") for r in mine]
    return claimed


def take_slots(conn: Db, *, now: datetime, interval: timedelta, count: int, lock: str) -> datetime:
    """Reserve `count` send slots `interval` apart, shared by every sender on the store (the
    newsletter's rate limit, whichever process or host sends): returns when the first one
    starts, no sooner than `now`. Run inside a transaction; `lock` holds the pacing row."""
    found = conn.execute(f"SELECT next_slot FROM send_pacing WHERE one = 1{lock}").fetchone()
    start = max(now, datetime.fromisoformat(found["next_slot"])) if found else now
    after = (start + interval * count).isoformat()
    conn.execute(
        "INSERT INTO send_pacing (one, next_slot) VALUES (1, ?)"
        " ON CONFLICT (one) DO UPDATE SET next_slot = excluded.next_slot",
        (after,),
    )
    return start


def transmitting(conn: Db, day: date, reader: str, *, by: str) -> bool:
    """Mark a claimed row as being handed to the server; False if it is no longer ours."""
    cursor = conn.execute(
        """UPDATE deliveries SET status = 'transmitting'
           WHERE digest_date = ? AND reader = ? AND status = 'sending' AND claimed_by = ?""",
        (day.isoformat(), reader, by),
    )
    return cursor.rowcount == 1


def finish(
    conn: Db,
    day: date,
    reader: str,
    *,
    by: str,
    status: str,
    now: datetime,
    recipients: Sequence[str] = (),
    next_attempt: datetime | None = None,
    message_id: str | None = None,
    code: int | None = None,
    reply: str = "",
    refused: Sequence[tuple[str, int, str]] = (),
    attempted: bool = True,
    lock: str = "",
) -> bool:
    """Record how an attempt ended. `recipients` are those still owed (for a retry);
    `refused` adds to those refused for good. `attempted` False gives a claim back untried
    (no session could be opened). False if the row is no longer ours."""
    stamp = now.isoformat()
    kept = None  # the addresses refused for good so far, with those refused now
    if refused:
        row = conn.execute(
            "SELECT refused FROM deliveries WHERE digest_date = ? AND reader = ?"
            f" AND claimed_by = ? AND status IN ('sending', 'transmitting'){lock}",
            (day.isoformat(), reader, by),
        ).fetchone()
        if row is None:
            return False
        kept = json.dumps(json.loads(row["refused"]) + [list(r) for r in refused])
    # one statement when nothing more was refused (the usual case): the row is ours only while
    # it is claimed by `by`, which the WHERE checks
    changed = conn.execute(
        """UPDATE deliveries SET status = ?, recipients = ?, attempts = attempts + ?,
               next_attempt = COALESCE(?, next_attempt), message_id = COALESCE(?, message_id),
               code = ?, reply = ?, refused = COALESCE(?, refused), claimed_by = NULL,
               claimed_at = NULL, updated = ?,
               sent_at = CASE WHEN ? IN ('sent', 'partial') THEN ? ELSE sent_at END
           WHERE digest_date = ? AND reader = ? AND claimed_by = ?
             AND status IN ('sending', 'transmitting')""",
        (
            status,
            json.dumps(list(recipients)),
            1 if attempted else 0,
            next_attempt.isoformat() if next_attempt else None,
            message_id,
            code,
            reply,
            kept,
            stamp,
            status,
            stamp,
            day.isoformat(),
            reader,
            by,
        ),
    )
    return changed.rowcount == 1


def recover(
    conn: Db,
    day: date,
    *,
    now: datetime,
    lease: timedelta,
    gone: Callable[[str], bool],
    lock: str = "",
) -> int:
    """Rows left claimed by a sender that stopped (`gone(claimed_by)`, or claimed longer ago than
    `lease`): a claim that never reached the server is waiting again; one that may have is
    `unknown`. Returns how many rows were recovered. Run inside a transaction; `lock` holds the
    rows read until it ends, so a sender still at work (a claim past the lease) cannot mark one
    `transmitting` or record its outcome between the read and the write: it waits, then finds
    the row no longer its own, or had done so before, and the row is read as it left it."""
    stale = (now - lease).isoformat()
    rows = conn.execute(
        f"""SELECT * FROM deliveries WHERE digest_date = ?
            AND status IN ('sending', 'transmitting'){lock}""",
        (day.isoformat(),),
    ).fetchall()
    count = 0
    for row in rows:
        if not (row["claimed_at"] < stale or gone(row["claimed_by"] or "")):
            continue
        if row["status"] == "sending":
            status = "deferred" if row["attempts"] else "pending"
            _settle(conn, row, status, now, reply=row["reply"])
        else:
            why = "the sender stopped while the server had the message; not sent again"
            _settle(conn, row, "unknown", now, reply=why)
        count += 1
    return count


def expire(conn: Db, day: date, *, now: datetime) -> int:
    """Deferred rows past their give-up time are given up (`expired`); returns how many."""
    cursor = conn.execute(
        """UPDATE deliveries SET status = 'expired', updated = ?,
               reply = 'gave up retrying: ' || reply
           WHERE digest_date = ? AND status = 'deferred' AND give_up <= ?""",
        (now.isoformat(), day.isoformat(), now.isoformat()),
    )
    return cursor.rowcount


def settle(
    conn: Db,
    day: date,
    reader: str,
    *,
    action: str,
    actor: str,
    now: datetime,
    note: str = "",
) -> Delivery:
    """Settle an `unknown` row by hand (see models.SETTLE): `sent` marks it delivered (at the
    time the attempt was recorded); `resend` makes it pending, due now, so the next send
    transmits it (same Message-ID, same recipients). Kept in the row's history. A StoreError
    for a row that is missing or not `unknown`. Run inside a write transaction."""
    to = SETTLE[action]
    row = conn.execute(
        "SELECT * FROM deliveries WHERE digest_date = ? AND reader = ?", (day.isoformat(), reader)
    ).fetchone()
    if row is None:
        raise StoreError(
            f"{day} {reader}: no such row in the ledger", hint=f"see `digest status --date {day}`"
        )
    if row["status"] != "unknown":
        raise StoreError(
            f"{day} {reader}: the row is {row['status']}, not unknown",
            hint="only unknown rows are settled by hand",
        )
    stamp = now.isoformat()
    said = f"settled by {actor}: {action}" + (f" ({note})" if note else "")
    conn.execute(
        """UPDATE deliveries SET status = ?, reply = ?, updated = ?,
               next_attempt = CASE WHEN ? = 'pending' THEN ? ELSE next_attempt END,
               sent_at = CASE WHEN ? = 'sent' THEN updated ELSE sent_at END
           WHERE digest_date = ? AND reader = ? AND status = 'unknown'""",
        (to, said, stamp, to, stamp, to, day.isoformat(), reader),
    )
    conn.execute(
        """INSERT INTO delivery_events (digest_date, reader, at, actor, action, from_status,
               to_status, note)
           VALUES (?, ?, ?, ?, ?, 'unknown', ?, ?)""",
        (day.isoformat(), reader, stamp, actor, action, to, note),
    )
    found = conn.execute(
        "SELECT * FROM deliveries WHERE digest_date = ? AND reader = ?", (day.isoformat(), reader)
    ).fetchone()
    return delivery(found)


def history(conn: Db, day: date, *, order: str = "rowid") -> list[LedgerEvent]:
    """What was done by hand to `day`'s rows, oldest first (`order`: the column that orders
    rows as they were inserted, see Dialect)."""
    found = conn.execute(
        f"SELECT * FROM delivery_events WHERE digest_date = ? ORDER BY at, {order}",
        (day.isoformat(),),
    ).fetchall()
    return [
        LedgerEvent(
            day=date.fromisoformat(r["digest_date"]),
            reader=r["reader"],
            at=datetime.fromisoformat(r["at"]),
            actor=r["actor"],
            action=r["action"],
            from_status=r["from_status"],
            to_status=r["to_status"],
            note=r["note"],
        )
        for r in found
    ]


def rows(conn: Db, day: date) -> list[Delivery]:
    found = conn.execute(
        "SELECT * FROM deliveries WHERE digest_date = ? ORDER BY reader", (day.isoformat(),)
    ).fetchall()
    return [delivery(r) for r in found]


def next_due(conn: Db, day: date) -> datetime | None:
    """When the next waiting row of `day` comes due, if any."""
    row = conn.execute(
        f"""SELECT MIN(next_attempt) FROM deliveries
            WHERE digest_date = ? AND status IN ({_marks(WAITING)})""",
        (day.isoformat(), *WAITING),
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def dates(conn: Db) -> list[date]:
    found = conn.execute("SELECT DISTINCT digest_date FROM deliveries ORDER BY 1").fetchall()
    return [date.fromisoformat(r[0]) for r in found]


def pause(conn: Db, day: date, *, reason: str, now: datetime) -> None:
    conn.execute(
        """INSERT INTO send_days (digest_date, paused, reason) VALUES (?, ?, ?)
           ON CONFLICT (digest_date) DO UPDATE SET paused = excluded.paused,
               reason = excluded.reason""",
        (day.isoformat(), now.isoformat(), reason),
    )


def resume(conn: Db, day: date) -> bool:
    cursor = conn.execute(
        "UPDATE send_days SET paused = NULL WHERE digest_date = ? AND paused IS NOT NULL",
        (day.isoformat(),),
    )
    return cursor.rowcount == 1


def paused(conn: Db, day: date) -> str | None:
    """Why sending `day` is paused, or None when it is not."""
    row = conn.execute(
        "SELECT paused, reason FROM send_days WHERE digest_date = ?", (day.isoformat(),)
    ).fetchone()
    return row["reason"] or "paused" if row and row["paused"] else None


def delivery(row: Row, *, status: str | None = None) -> Delivery:
    return Delivery(
        day=date.fromisoformat(row["digest_date"]),
        reader=row["reader"],
        status=status or row["status"],
        recipients=tuple(json.loads(row["recipients"])),
        attempts=row["attempts"],
        next_attempt=datetime.fromisoformat(row["next_attempt"]),
        give_up=datetime.fromisoformat(row["give_up"]),
        updated=datetime.fromisoformat(row["updated"]),
        message_id=row["message_id"],
        code=row["code"],
        reply=row["reply"],
        refused=tuple((a, c, r) for a, c, r in json.loads(row["refused"])),
        sent_at=datetime.fromisoformat(row["sent_at"]) if row["sent_at"] else None,
    )


def _settle(conn: Db, row: Row, status: str, now: datetime, *, reply: str) -> None:
    conn.execute(
        """UPDATE deliveries SET status = ?, reply = ?, claimed_by = NULL, claimed_at = NULL,
               updated = ?
           WHERE digest_date = ? AND reader = ?""",
        (status, reply, now.isoformat(), row["digest_date"], row["reader"]),
    )


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" * len(items))
