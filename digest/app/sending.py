"""Delivery wired from config.yaml: the day's send, previews, and the mails outside the ledger
(the confirmation mail of the subscribe form, an operator alert), through the configured
deliverer (deliver/__init__.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from digest import layout, render
from digest.app.senders import send_day as send_day
from digest.app.wiring import links_for
from digest.config import Config
from digest.deliver import deliverer, smtp
from digest.deliver.sender import Transport, stamp_date
from digest.errors import DeliveryError
from digest.models import WAITING, Artifact, Profile
from digest.render import email
from digest.render.email.mime import POLICY
from digest.store import Store

log = logging.getLogger("digest")


def due(store: Store, day: date, now: datetime) -> list[tuple[str, str]]:
    """(reader, why) of what a send would do now, changing nothing (`--dry-run`)."""
    active = {s.name for s in store.subscribers("active")}
    paused = store.sending_paused(day)
    plan = []
    for row in store.deliveries(day):
        if row.status not in WAITING:
            continue
        if row.reader not in active:
            plan.append((row.reader, "suppressed (no longer subscribed)"))
        elif paused:
            plan.append((row.reader, f"paused: {paused}"))
        elif row.next_attempt > now:
            plan.append((row.reader, f"retry at {row.next_attempt:%Y-%m-%d %H:%M} UTC"))
        else:
            plan.append((row.reader, f"send to {', '.join(row.recipients)}"))
    return plan


def preview(
    config: Config,
    store: Store,
    profile: Profile,
    day: date,
    to: Sequence[str],
    *,
    now: datetime,
    transport: Transport | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Send `profile`'s digest of `day` to the `to` addresses, outside the ledger and by SMTP
    whichever the delivery method; returns the server's outcome in words."""
    built = [d for d in store.digests(profile, since=day) if d.date == day]
    if not built:
        raise DeliveryError(f"no digest of {day} for {profile.name}", hint="run `digest build`")
    digest = replace(built[0], reader=replace(profile, email=to[0]))
    links = links_for(config, store, environ)
    env = render.environment(config.templates)
    files = email.artifacts(digest, site=config.site, links=links, env=env, now=now)
    message = next(a.content for a in files if a.path.suffix == ".eml")
    transport = transport or smtp.connect(config, environ)
    try:
        outcome = transport.send(config.site.address, list(to), stamp_date(message, now))
    finally:
        transport.close()
    refused = "; ".join(f"{a}: {c} {r}" for a, (c, r) in outcome.refused.items())
    words = f"{outcome.kind}: {outcome.code or ''} {outcome.reply}".strip()
    return f"{words}; refused {refused}" if refused else words


def plain_message(
    config: Config, to: str, subject: str, text: str, *, now: datetime, kind: str
) -> bytes:
    """A short plain-text mail from the newsletter's sender: the subscribe confirmation, an
    operator alert. `kind` starts its Message-ID."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = config.site.sender
    msg["To"] = to
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(kind, domain=config.site.domain)
    msg.set_content(text)
    return msg.as_bytes()


def send_one(
    config: Config,
    to: str,
    message: bytes,
    *,
    file: Path,
    transport: Transport | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """One mail outside the ledger: sent when the method sends (smtp), else written to `file`
    under the output directory (files). A DeliveryError when the server did not take it."""
    chosen = deliverer(config)
    if not chosen.sends:
        chosen.write([Artifact(file, message, "message/rfc822")], config.out_dir)
        return
    transport = transport or chosen.transport(config, environ)
    try:
        outcome = transport.send(config.site.address, [to], message)
    finally:
        transport.close()
    if outcome.kind not in ("sent", "partial"):
        raise DeliveryError(f"mail to {file.stem}: {outcome.kind}: {outcome.reply}")


def confirmation(config: Config, profile: Profile, url: str, *, now: datetime) -> bytes:
    """The double opt-in mail: the only mail a subscriber gets before confirming."""
    hours = config.delivery.confirm_hours
    text = (
        f"Someone, probably you, asked to receive {config.title} at this address.\n\n"
        f"To confirm, open this link within {hours:g} hours and press the button:\n\n{url}\n\n"
        "If it was not you, ignore this mail: nothing more will be sent.\n"
    )
    subject = f"Confirm your subscription to {config.title}"
    return plain_message(config, profile.email or "", subject, text, now=now, kind="confirm")


def send_confirmation(
    config: Config,
    profile: Profile,
    url: str,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Send (SMTP) or write (files: `out/mail/confirm/<reader>.eml`) the confirmation mail."""
    message = confirmation(config, profile, url, now=now)
    file = layout.confirm_path(profile.name)
    send_one(config, profile.email or "", message, file=file, environ=environ)
