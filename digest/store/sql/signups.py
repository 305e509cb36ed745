"""The subscribe form's budgets, counted in the store so that every `digest serve` process (and
every restart) shares them: a row per request let through (one that may mail a confirmation),
kept a day. A request over a budget is not counted: nothing is stored for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.store.sql.base import Db, SqlBase, utc

HOUR = timedelta(hours=1)  # the window of the budget of all addresses together
DAY = timedelta(days=1)  # the window of one address's budget


def admit(
    conn: Db, address: str, *, now: datetime, per_hour: int, per_address: int
) -> timedelta | None:
    """Count one request for `address` and let it through (None), or refuse it: how long until
    the budget it is over has room again. Run inside a write transaction."""
    key = address.lower()
    conn.execute("DELETE FROM signup_requests WHERE at <= ?", ((now - DAY).isoformat(),))
    waits = [
        _wait(conn, "", (now - HOUR).isoformat(), per_hour, HOUR, now),
        _wait(conn, "AND address = ?", (now - DAY).isoformat(), per_address, DAY, now, key),
    ]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is None:
        conn.execute(
            "INSERT INTO signup_requests (at, address) VALUES (?, ?)", (now.isoformat(), key)
        )
    return wait


def _wait(
    conn: Db,
    only: str,
    since: str,
    budget: int,
    window: timedelta,
    now: datetime,
    *params: str,
) -> timedelta | None:
    """None when fewer than `budget` requests were counted since `since`; else how long until
    enough of them have left the window for one more."""
    found = conn.execute(
        f"SELECT at FROM signup_requests WHERE at > ? {only} ORDER BY at DESC LIMIT 1 OFFSET ?",
        (since, *params, budget - 1),
    ).fetchone()
    if found is None:
        return None
    return datetime.fromisoformat(found[0]) + window - now


class SqlSignups(SqlBase):
    """The `Signups` protocol in the SQL both backends run."""

    def admit_signup(
        self, address: str, *, now: datetime, per_hour: int, per_address: int
    ) -> timedelta | None:
        """Count a subscribe request and let it through (None), or how long until the budget it
        is over has room (see `admit`); shared by every process on this store."""
        with self._transaction():
            return admit(
                self._conn, address, now=utc(now), per_hour=per_hour, per_address=per_address
            )
