"""The newsletter commands: send, status, readers, serve."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import socket
import sys
import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from digest.app import flow, sending, wiring
from digest.app.alerts import HISTORY
from digest.app.jobs import standing
from digest.app.wiring import Run, Store
from digest.cli.arguments import count, existing_file, port, positive
from digest.cli.common import (
    config_of,
    current_time,
    progress_bar,
    reader_of,
    store_of,
    store_path,
)
from digest.cli.library import cmd_library
from digest.cli.progress import BAR
from digest.config import RESERVED_NAMES, Config, rules
from digest.errors import ConfigError, DeliveryError, StoreError
from digest.models import SETTLE, Profile, ReaderSettings


def send_date(store: Store, requested: date | None) -> date:
    """The date to send: the one asked for, else the newest date in the ledger."""
    if requested is not None:
        return requested
    dates = store.delivery_dates()
    if not dates:
        raise StoreError(f"{store.location}: nothing to send yet", hint="run `digest build` first")
    return dates[-1]


def cmd_send(args: argparse.Namespace) -> int:
    started, clock = current_time(), time.monotonic()
    config = config_of(args)
    with store_of(args, config) as store:
        if args.settle or args.settle_as:
            return _settle(args, store)
        if args.to or args.reader:
            return _preview(args, config, store)
        day = send_date(store, args.date)
        if args.resume and store.resume_sending(day):
            print(f"{day}: sending resumed", file=sys.stderr)
        if args.dry_run:
            plan = sending.due(store, day, current_time())
            for reader, what in plan:
                print(f"{reader}: {what}")
            print(f"digest send --dry-run: {day}: {len(plan)} waiting", file=sys.stderr)
            return 0
        progress = progress_bar if sys.stderr.isatty() and args.workers == 1 else None
        sent = flow.send(
            config, store, day, wait=args.wait, progress=progress, workers=args.workers
        )
        tally = flow.Tally("send", started)
        tally.add_send(sent)
        report = flow.conclude(
            config, store, tally.report(time.monotonic() - clock), now=current_time()
        )
    BAR.clear()  # a send that stopped early leaves its bar unfinished
    print(report.line(), file=sys.stderr)
    for failure in sent.failures:
        print(f"  {failure}", file=sys.stderr)
    return 0 if sent.ok else 1


def _settle(args: argparse.Namespace, store: Store) -> int:
    """An `unknown` row settled by hand, after the relay's log was read."""
    if not (args.settle and args.settle_as):
        raise ConfigError("--settle DATE READER needs --as sent or --as resend")
    text, reader = args.settle
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--settle: expected a date as YYYY-MM-DD, got {text!r}") from None
    row = store.settle_delivery(
        day, reader, action=args.settle_as, actor=_actor(), now=current_time(), note=args.note or ""
    )
    then = "the next `digest send` sends it" if row.status == "pending" else "not sent again"
    print(f"digest send: {day} {reader}: unknown -> {row.status} ({then})", file=sys.stderr)
    return 0


def _actor() -> str:
    """Who runs the command, as user@host, for the ledger's history."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _preview(args: argparse.Namespace, config: Config, store: Store) -> int:
    if not (args.to and args.reader):
        raise ConfigError("a preview needs both --reader NAME and --to ADDRESS")
    profile = reader_of(config, store, args.reader)
    day = args.date or store.latest_date()
    if day is None:
        raise StoreError(f"{store.location}: no digests yet", hint="run `digest build` first")
    said = sending.preview(config, store, profile, day, args.to, now=current_time())
    print(f"digest send: preview of {profile.name}'s {day} digest to {', '.join(args.to)}: {said}")
    return 0 if said.startswith(("sent", "partial")) else 1


def cmd_status(args: argparse.Namespace) -> int:
    from digest import schedule  # APScheduler loads only for the commands that need it

    config = config_of(args)
    with wiring.open_store(store_path(args, config), now=current_time()) as store:
        damage = store.check()  # before anything else is read from the file
        if damage:
            return _damaged(store.location, damage, as_json=args.json)
        store.sync_readers(config.readers, now=current_time())
        dates = store.delivery_dates()
        day = args.date or (dates[-1] if dates else None)
        rows = store.deliveries(day) if day else []
        paused = store.sending_paused(day) if day else None
        due = store.next_due(day) if day else None
        history = store.ledger_history(day) if day else []
        runs = store.runs(args.runs)
        jobs = standing(store.runs(HISTORY))
        late = schedule.stale(config, store.last_good_run(), current_time())
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    problems = [r for r in rows if r.status not in ("sent", "pending")]
    if args.json:
        document = {
            "date": day,
            "method": config.delivery.method,
            "counts": counts,
            "paused": paused,
            "next_retry": due,
            "deliveries": [_row_json(asdict(r)) for r in rows],
            "history": [asdict(e) for e in history],
            "runs": runs,
            "jobs": {k: {"last_success": g, "failure": b} for k, (g, b) in jobs.items()},
            "stale": late,
        }
        json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    if late:
        print(f"WARNING: {late}")
    _print_jobs(jobs)
    if day is None:
        print(f"ledger: empty (delivery.method: {config.delivery.method})")
        return 0
    stands = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no rows"
    print(f"{day}: {len(rows)} messages: {stands}")
    if paused:
        print(f"  PAUSED: {paused} (resume with `digest send --date {day} --resume`)")
    if due:
        print(f"  next retry: {due:%Y-%m-%d %H:%M} UTC")
    for row in problems:
        code = f" {row.code}" if row.code else ""
        why = f":{code} {row.reply}" if row.reply or code else ""
        tries = f", {row.attempts} attempts" if row.attempts > 1 else ""
        print(f"  {row.reader} {row.status}{tries}{why}")
        for address, code_, reply in row.refused:
            print(f"    refused {address}: {code_} {reply}")
    if any(r.status == "unknown" for r in rows):
        print(
            f"  unknown rows: read the relay's log, then `digest send --settle {day} READER"
            " --as sent` (it arrived) or `--as resend`"
        )
    if history:
        print("  settled by hand:")
    for event in history:
        note = f" ({event.note})" if event.note else ""
        print(
            f"    {event.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC {event.reader}: "
            f"{event.from_status} -> {event.to_status} ({event.action}) by {event.actor}{note}"
        )
    return 0


def _damaged(location: str, damage: list[str], *, as_json: bool) -> int:
    """`digest status` of a store that fails its quick check: what SQLite found, and exit 1."""
    if as_json:
        json.dump({"store": location, "check": damage}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 1
    print(f"STORE DAMAGED: {location} fails its integrity check:")
    for problem in damage[:10]:
        print(f"  {problem}")
    if len(damage) > 10:
        print(f"  ... and {len(damage) - 10} more")
    print("  stop digest and restore the newest backup (`digest backup` makes them)")
    return 1


def _print_jobs(jobs: dict[str, tuple[Run | None, Run | None]]) -> None:
    """Each job kind's last success, and its newest failure while that is newer."""
    print("last runs, by job:" if jobs else "no runs yet")
    width = max((len(kind) for kind in jobs), default=0)
    for kind, (good, bad) in jobs.items():
        label = f"{kind:<{width}}"
        if good is None:
            print(f"  {label} never succeeded")
        for run in (good, bad):
            if run is None:
                continue
            outcome = "ok    " if run["ok"] else "FAILED"
            started = datetime.fromisoformat(run["started"]).astimezone(UTC)
            print(f"  {label} {started:%Y-%m-%d %H:%M} UTC {outcome} {run['summary']}")
            if not run["ok"]:
                for problem in _problems(run["report"])[:5]:
                    print(f"      {problem}")


def _problems(report: dict[str, Any]) -> list[str]:
    """What went wrong in a run, a line each: failed sources, then the other failures."""
    found = [f"{s['source']}: {s['error']}" for s in report.get("sources", []) if s.get("error")]
    return found + [f for f in report.get("failures", []) if f not in found]


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    row["refused"] = [{"address": a, "code": c, "reply": r} for a, c, r in row["refused"]]
    return row


def cmd_readers(args: argparse.Namespace) -> int:
    config = config_of(args)
    with store_of(args, config) as store:
        now = current_time()
        if args.action == "list":
            return _list(store, args.json)
        if args.action == "show":
            return _show(store, args.name, args.json)
        if args.action == "library":
            return cmd_library(args, store)
        if args.action == "add":
            profile = _new_profile(args.name, args.email, args.keywords, args.display_name)
            again = store.add_reader(profile, now=now, origin="cli")
            said = " again (links given before the removal stay dead)" if again else ""
            print(f"added {profile.name} <{profile.email}>{said}")
        elif args.action == "remove":
            if any(r.name == args.name for r in config.readers):
                raise ConfigError(
                    f"{args.name} is in config.yaml ({config.path})",
                    hint="delete them there; they are marked removed on the next run",
                )
            if not store.set_reader_status(args.name, "removed", now=now):
                raise StoreError(f"no reader named {args.name!r}")
            print(f"removed {args.name}: nothing more is built or sent for them")
        elif args.action == "revoke":
            if not store.revoke_tokens(args.name, now=now):
                raise StoreError(f"no reader named {args.name!r}")
            print(f"revoked every link given to {args.name}; the next digest carries new ones")
        else:
            return _import(store, args.file, now)
    return 0


def _list(store: Store, as_json: bool) -> int:
    readers = store.subscribers()
    if as_json:
        document = [
            {
                "name": s.name,
                "email": s.profile.email,
                "status": s.status,
                "origin": s.origin,
                "keywords": list(s.profile.keywords),
            }
            for s in readers
        ]
        json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    for s in readers:
        keywords = ", ".join(s.profile.keywords)
        print(f"{s.name:<20} {s.status:<12} {s.origin:<7} {s.profile.email or '-':<32} {keywords}")
    print(f"digest readers: {len(readers)} readers", file=sys.stderr)
    return 0


SHOWN = {  # the settings a reader can change on their own page, as `readers show` names them
    "keywords": "keywords",
    "exclude": "excluded terms",
    "authors": "followed authors",
    "top_k": "papers at most",
    "cadence": "daily or weekday",
    "time": "send time",
    "timezone": "time zone",
    "paused": "paused",
}


def _show(store: Store, name: str, as_json: bool) -> int:
    """One reader: each setting of their own page as digests use it, whether it is the reader's
    own (set on their page: it wins over config.yaml's) and the newsletter's value beneath."""
    found = store.subscriber(name)
    if found is None:
        known = ", ".join(s.name for s in store.subscribers()) or "none"
        raise ConfigError(f"unknown reader {name!r} (known: {known})")
    used = ReaderSettings.of(found.profile)
    beneath = ReaderSettings.of(found.newsletter)
    own = set(found.own.changed)
    liked, disliked = store.feedback(name)
    rows = {
        field: {
            "value": _plain(getattr(used, field)),
            "own": field in own,
            "newsletter": _plain(getattr(beneath, field)),
        }
        for field in SHOWN
    }
    if as_json:
        document = {
            "name": name,
            "email": found.profile.email,
            "status": found.status,
            "origin": found.origin,
            "settings": rows,
            "feedback": {"liked": len(liked), "disliked": len(disliked)},
        }
        json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    source = "config.yaml" if found.origin == "config" else f"as added ({found.origin})"
    print(f"{name} <{found.profile.email or '-'}>: {found.status}, from {source}")
    print(f"settings (* their own, from their page: it wins over {source}):")
    for field, row in rows.items():
        mark = "*" if row["own"] else " "
        under = f"   [{source}: {_words(row['newsletter'])}]" if row["own"] else ""
        print(f"  {mark} {SHOWN[field]:<17} {_words(row['value'])}{under}")
    print(f"feedback: {len(liked)} liked, {len(disliked)} disliked")
    return 0


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _words(value: object) -> str:
    if isinstance(value, list):
        return "; ".join(map(str, value)) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _new_profile(
    name: str, email: str | None, keywords: str, display: str | None = None
) -> Profile:
    """A profile from the command line or a CSV row; a ConfigError says what is wrong."""
    name = name.strip()
    if not rules.is_slug(name) or name in RESERVED_NAMES:
        raise ConfigError(f"reader name {name!r}: use lowercase letters, digits, - and _")
    email = (email or "").strip() or None
    if email and not rules.is_email(email):
        raise ConfigError(f"{name}: not an email address: {email!r}")
    words = tuple(w.strip() for w in keywords.replace(";", ",").split(",") if w.strip())
    if not words:
        raise ConfigError(f"{name}: needs at least one keyword")
    if any(rules.keyword_problem(w) for w in words):
        raise ConfigError(f"{name}: keywords must be printable and at most 100 characters")
    return Profile(
        name=name, email=email, keywords=words, display_name=(display or "").strip() or None
    )


def _import(store: Store, path: Path, now: Any) -> int:
    """Readers from a CSV file with a header row: name, email, keywords (separated by `;` or
    `,` inside the field), and optionally display_name. Bad rows are reported by line; the
    others are added; a name already in the store is skipped."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DeliveryError(f"{path}: cannot read: {exc}") from None
    if rows and not {"name", "keywords"} <= set(rows[0]):
        raise ConfigError(f"{path}: needs a header row with name, email and keywords columns")
    added = skipped = bad = 0
    for line, row in enumerate(rows, start=2):
        try:
            profile = _new_profile(
                row.get("name") or "",
                row.get("email"),
                row.get("keywords") or "",
                row.get("display_name"),
            )
            store.add_reader(profile, now=now, origin="import")
            added += 1
        except ConfigError as exc:
            print(f"error: {path}:{line}: {exc}", file=sys.stderr)
            bad += 1
        except StoreError as exc:
            print(f"warning: {path}:{line}: {exc}; skipped", file=sys.stderr)
            skipped += 1
    print(f"digest readers import: {added} added, {skipped} skipped, {bad} bad", file=sys.stderr)
    return 1 if bad else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from digest.web import serve  # Starlette and uvicorn load only for this command

    config = config_of(args)
    why = "`digest serve` signs and checks the links in emails with it"
    made = wiring.signer(config, needed_by=why)
    assert made is not None  # signer() raised otherwise
    with store_of(args, config):
        pass  # migrated, config.yaml's readers loaded

    def confirm(profile: Profile, url: str) -> None:
        sending.send_confirmation(config, profile, url, now=current_time())

    serve(config, host=args.host, port=args.port, signer=made, confirm=confirm)
    return 0


COMMANDS = {
    "send": cmd_send,
    "status": cmd_status,
    "readers": cmd_readers,
    "serve": cmd_serve,
}


def add_parsers(command: Any, day: Any, common: argparse.ArgumentParser) -> None:
    """The newsletter commands' arguments, on the main parser's `command(name, help)` factory."""
    send = command("send", "send the digests due by SMTP (the newest date by default)")
    send.add_argument("--date", type=day, help="the digest date to send")
    send.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    send.add_argument("--wait", action="store_true", help="stay to retry temporary failures")
    send.add_argument(
        "--workers",
        type=positive,
        default=1,
        metavar="N",
        help="N sender processes side by side, each with its own SMTP connection (default 1)",
    )
    send.add_argument("--resume", action="store_true", help="resume a paused day first")
    send.add_argument("--reader", metavar="NAME", help="preview: this reader's digest ...")
    send.add_argument(
        "--to", action="append", default=[], metavar="ADDRESS", help="... to this address only"
    )
    send.add_argument(
        "--settle",
        nargs=2,
        metavar=("DATE", "READER"),
        help="settle an unknown row by hand, after reading the relay's log ...",
    )
    send.add_argument(
        "--as",
        dest="settle_as",
        choices=sorted(SETTLE),
        help="... as sent (it arrived) or resend (send it again)",
    )
    send.add_argument("--note", help="what the relay's log said (kept in the ledger's history)")

    status = command("status", "show the send ledger: counts, failures and why")
    status.add_argument("--date", type=day, help="default: the newest date in the ledger")
    status.add_argument(
        "--json", action="store_true", help="print the ledger and the runs as one JSON document"
    )
    status.add_argument(
        "--runs", type=count, default=8, metavar="N", help="how many recent runs --json lists"
    )

    readers = command("readers", "list, show, add, remove or import readers, or import a library")
    actions = readers.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, text: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, parents=[common], help=text, description=text)

    listing = action("list", "every reader with status and address")
    listing.add_argument("--json", action="store_true", help="print them as one JSON document")
    show = action("show", "one reader's settings: their own (from their page) and config.yaml's")
    show.add_argument("name", help="the reader's name")
    show.add_argument("--json", action="store_true", help="print them as one JSON document")
    add = action("add", "add an active reader")
    add.add_argument("name", help="the reader's name: lowercase letters, digits, - and _")
    add.add_argument("--email", required=True, help="where their digest is sent")
    add.add_argument("--keywords", required=True, help="separated by commas")
    add.add_argument("--display-name", help="how the digest greets them (default: the name)")
    remove = action("remove", "stop building and sending for a reader")
    remove.add_argument("name", help="the reader's name")
    revoke = action("revoke", "invalidate every link given to a reader")
    revoke.add_argument("name", help="the reader's name")
    importing = action("import", "add readers from a CSV file")
    importing.add_argument(
        "file",
        type=existing_file,
        metavar="FILE.csv",
        help="a header row (name, email, keywords, optionally display_name), then a reader a row",
    )

    shelf = action("library", "import a reader's library as their liked papers")
    shelf.add_argument("reader", help="the reader's name")
    shelf.add_argument(
        "file",
        type=existing_file,
        metavar="FILE",
        help="BibTeX .bib, RIS .ris, CSL JSON .json, Zotero's CSV .csv, or a plain list .txt "
        "(arXiv ids, DOIs, arXiv URLs or titles, one a line)",
    )
    shelf.add_argument(
        "--partial", action="store_true", help="import the entries read even if others are bad"
    )
    shelf.add_argument(
        "--json", action="store_true", help='print {"matched", "added", "skipped"} as JSON'
    )

    serve = command("serve", "serve the archive, unsubscribe, feedback and private feeds")
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=port, default=8000, help="1-65535, or 0 for any free port (default 8000)"
    )
