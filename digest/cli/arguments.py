"""Argument types for the command line: each turns a word into a value or raises
argparse.ArgumentTypeError, so a bad argument is argparse's own usage error (exit 2)."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path

from digest.app.shards import Shard
from digest.config.checks import store_location

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def day(text: str) -> date:
    """A date as YYYY-MM-DD (not the other forms ISO 8601 allows: `20250820`, `2025-W34-3`)."""
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}")


def positive(text: str) -> int:
    """A whole number from 1."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def shard(text: str) -> Shard:
    """A shard of a sharded build, as K/N with 1 <= K <= N."""
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def count(text: str) -> int:
    """A whole number from 0."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number (0 or more), got {text!r}")
    return int(text)


def port(text: str) -> int:
    """A TCP port, 1-65535, or 0 for any free one."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535 (or 0), got {text!r}")
    return int(text)


def existing_file(text: str) -> Path:
    """A file that is there to be read."""
    path = Path(text)
    if not path.is_file():
        said = "is a directory" if path.is_dir() else "no such file"
        raise argparse.ArgumentTypeError(f"{text}: {said}")
    return path


def existing_dir(text: str) -> Path:
    """A directory that is there."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    return path


def store(text: str) -> Path | str:
    """--store: an SQLite file or a postgresql:// URL, by config.yaml's `store:` rule."""
    try:
        return store_location(text, base=Path.cwd())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None  # never echo a password back


def writable_path(text: str) -> Path:
    """A file to write, or an existing directory: its directory must be there."""
    path = Path(text)
    if not text or not (path.is_dir() or path.parent.is_dir()):
        raise argparse.ArgumentTypeError(f"{text}: no such directory {str(path.parent)!r}")
    return path
