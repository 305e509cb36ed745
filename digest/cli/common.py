"""What every command shares: config.yaml read, the store opened with its readers, a reader
looked up, the clock, the progress bar, JSON on stdout. Public names, so that no CLI module
reaches into another's private ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from digest.app import wiring
from digest.app.wiring import Store
from digest.cli import progress
from digest.config import Config
from digest.errors import ConfigError
from digest.models import Profile

log = logging.getLogger("digest")


def config_of(args: argparse.Namespace) -> Config:
    return wiring.load(getattr(args, "config", None))


def store_of(args: argparse.Namespace, config: Config) -> Store:
    """The store, with config.yaml's readers loaded into it."""
    return wiring.open_store(store_path(args, config), config, now=current_time())


def store_path(args: argparse.Namespace, config: Config) -> Path | str:
    return getattr(args, "store", None) or config.store


def reader_of(config: Config, store: Store, name: str) -> Profile:
    """A reader the store knows (config.yaml's, or added later); ConfigError otherwise."""
    found = store.subscriber(name)
    if found is None:
        known = ", ".join(s.name for s in store.subscribers()) or "none"
        raise ConfigError(f"unknown reader {name!r} (known: {known})")
    return found.profile


current_time = wiring.now


def _warn_if_empty(store: Store, day: date) -> None:
    """One warning line when a digest date asked for has no papers: its digests will be empty."""
    dates = store.digest_dates()
    if not dates:
        log.warning("%s: the store has no papers yet; its digests will be empty", day)
    elif day < dates[0]:
        log.warning(
            "%s is before the store's first day (%s); its digests will be empty", day, dates[0]
        )
    elif day not in dates:
        log.warning(
            "no papers were announced on %s (the store has %s to %s); its digests will be empty",
            day,
            dates[0],
            dates[-1],
        )


def digest_day(store: Store, requested: date | None) -> date:
    """The date asked for (warned about when it has no papers), else the newest in the store."""
    day = wiring.digest_day(store, requested)
    if requested is not None:
        _warn_if_empty(store, requested)
    return day


def progress_for(total: int) -> Callable[[int, int, str], None] | None:
    """A progress bar for long work, on a terminal only (never in a log)."""
    return progress_bar if total > 1 and sys.stderr.isatty() else None


progress_bar = progress.BAR.step


def print_json(document: object) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
