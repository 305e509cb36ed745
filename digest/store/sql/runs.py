"""Every command's run: its summary line and its report, kept as JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from digest.store.rows import Run, RunSources
from digest.store.sql.base import Row, SqlBase


class SqlRuns(SqlBase):
    """The `Runs` protocol in the SQL both backends run."""

    def record_run(
        self,
        command: str,
        *,
        started: datetime,
        seconds: float,
        summary: str,
        report: dict[str, Any],
    ) -> None:
        with self._transaction():
            self._conn.execute(
                "INSERT INTO runs (command, started, seconds, summary, report)"
                " VALUES (?, ?, ?, ?, ?)",
                (command, started.isoformat(), seconds, summary, json.dumps(report, default=str)),
            )

    def last_run(self, command: str | None = None) -> Run | None:
        """The newest run (of `command`, if given): command, started (ISO), seconds, summary
        line, and `ok`: False when a source or a digest failed, or the run said it failed."""
        runs = self.runs(1, command=command)
        return runs[0] if runs else None

    def runs(self, count: int, *, command: str | None = None) -> list[Run]:
        """The newest `count` runs, newest first (see `last_run`), with their reports."""
        where, params = ("WHERE command = ?", (command,)) if command else ("", ())
        rows = self._conn.execute(
            f"SELECT command, started, seconds, summary, report FROM runs {where}"
            " ORDER BY id DESC LIMIT ?",
            (*params, count),
        ).fetchall()
        return [_run(row) for row in rows]

    def source_history(self, count: int) -> list[RunSources]:
        """The `sources` and `alerts` of the newest `count` runs' reports, newest first (read
        in SQL: a build's report lists every file it wrote)."""
        rows = self._conn.execute(
            f"SELECT {self.dialect.json_text('report', 'sources')},"
            f" {self.dialect.json_text('report', 'alerts')} FROM runs ORDER BY id DESC LIMIT ?",
            (count,),
        ).fetchall()
        return [
            RunSources(sources=json.loads(sources or "[]"), alerts=json.loads(sent or "[]"))
            for sources, sent in rows
        ]

    def last_good_run(self) -> datetime | None:
        """When the newest run that went well started."""
        for run in self.runs(50):
            if run["ok"]:
                return datetime.fromisoformat(run["started"])
        return None


def _run(row: Row) -> Run:
    """A run as a dict; `ok` is False when a source or a digest failed, or the run said so."""
    report = json.loads(row["report"])
    failed = report.get("failures") or any(
        s.get("status") == "failed" for s in report.get("sources", [])
    )
    return Run(
        command=row["command"],
        started=row["started"],
        seconds=row["seconds"],
        summary=row["summary"],
        ok=bool(report.get("ok", True)) and not failed,
        report=report,
    )
