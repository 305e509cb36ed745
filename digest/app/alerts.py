"""Alerts to the operator (`delivery.operator`), by the same rules whichever path ran the work:
`digest run`, `digest send` and the scheduled jobs all end in `conclude`.

- A run whose own work failed (an error, a digest that did not render, a paused send) alerts.
- A source alerts once when it has failed ALERT_AFTER runs in a row, and once more when it
  recovers. The count comes from the store's run history, so runs by any command count (a
  manual `digest ingest` too), and a streak that began before is alerted on at its next
  failure; a run that did not try the source neither breaks nor extends its streak.

The alerts a run sent are kept in its report (`alerts`), which is how a later run knows a streak
has been alerted on already.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from digest import layout
from digest.app import sending
from digest.config import Config
from digest.deliver import deliverer, sender
from digest.errors import DigestError
from digest.store import RunSources, Store

log = logging.getLogger("digest")

ALERT_AFTER = 2  # a source failing this many runs in a row gets an alert (once)
HISTORY = 500  # runs read back to find where a source's streak began

Transport = Callable[[], sender.Transport]


@dataclass(frozen=True, slots=True)
class Alert:
    """One mail to the operator; `source` and `kind` ("failing", "recovered") for a source's."""

    subject: str
    text: str
    source: str | None = None
    kind: str = "failed"


def source_alerts(history: Iterable[RunSources], sources: Sequence[dict[str, Any]]) -> list[Alert]:
    """The alerts a run's sources call for (as its report keeps them: `source`, `status`,
    `error`), given the reports of the runs before it, newest first (Store.source_history)."""
    history = list(history)
    found = []
    for name in dict.fromkeys(s["source"] for s in sources):
        mine = [s for s in sources if s["source"] == name]
        streak, alerted = _streak(history, name)
        failed = next((s for s in mine if s["status"] == "failed"), None)
        if failed is not None and streak + 1 >= ALERT_AFTER and not alerted:
            subject = f"source {name} failed {streak + 1} runs in a row"
            found.append(Alert(subject, f"{name}: {failed['error']}", name, "failing"))
        elif failed is None and alerted:
            subject = f"source {name} recovered after {streak} failed runs"
            found.append(Alert(subject, f"{name}: {mine[0]['status']} again", name, "recovered"))
    return found


def _streak(history: Sequence[RunSources], name: str) -> tuple[int, bool]:
    """How many runs in a row `source` failed before this one, and whether that streak has been
    alerted on (a streak longer than the history read is taken as alerted)."""
    streak, alerted = 0, False
    for report in history:
        tried = [s for s in report.get("sources", []) if s.get("source") == name]
        if not tried:
            continue
        if not any(s.get("status") == "failed" for s in tried):
            return streak, alerted
        streak += 1
        alerted = alerted or any(
            a.get("source") == name and a.get("kind") == "failing" for a in report.get("alerts", [])
        )
    return streak, alerted or (len(history) >= HISTORY and streak > 0)


def conclude(
    config: Config,
    store: Store | None,
    job: str,
    *,
    started: datetime,
    seconds: float,
    summary: str,
    report: dict[str, Any],
    failures: Sequence[str] = (),
    record: bool = True,
    now: datetime,
    transport: Transport | None = None,
) -> list[Alert]:
    """The end of every run: decide its alerts, record the run (with them) in the store, then
    mail them. The report's `sources` are the run's source outcomes, `failures` its own
    failures; `record` False records the run only if it alerts (a quiet job)."""
    history = store.source_history(HISTORY) if store is not None else []
    found = source_alerts(history, report.get("sources", []))
    if failures:  # "build failed" for the scheduled build as for `digest build`
        found.append(Alert(f"{job.removeprefix('schedule:')} failed", "\n".join(failures)))
    if store is not None and (record or found):
        kept = [{k: v for k, v in asdict(a).items() if k != "text"} for a in found]
        try:
            store.record_run(
                job,
                started=started,
                seconds=seconds,
                summary=summary,
                report=report | {"alerts": kept},
            )
        except DigestError as exc:
            log.error("%s: the run was not recorded: %s", job, exc)
    for alert in found:
        send(config, alert.subject, alert.text, now=now, transport=transport)
    return found


def send(
    config: Config,
    subject: str,
    text: str,
    *,
    now: datetime,
    transport: Transport | None = None,
) -> None:
    """Mail the operator, by SMTP or as a file under out/mail/operator/; logged either way.
    Never raises."""
    log.error("alert: %s: %s", subject, text)
    to = config.delivery.operator
    if not to:
        return
    try:
        message = sending.plain_message(
            config,
            to,
            f"[{config.title}] {subject}",
            f"{text}\n\nSee `digest status` on the host for the whole picture.\n",
            now=now,
            kind="alert",
        )
        stamp = now.strftime("%Y%m%dT%H%M%S")
        mark = hashlib.sha256(subject.encode()).hexdigest()[:8]
        file = layout.operator_path(stamp, mark)
        made = transport() if transport and deliverer(config).sends else None
        sending.send_one(config, to, message, file=file, transport=made)
    except (DigestError, OSError) as exc:
        log.error("alert to %s not delivered: %s", to, exc)
