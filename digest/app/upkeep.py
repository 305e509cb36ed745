"""The store as a whole, for the operator: moving an install from one store to another (SQLite
to PostgreSQL and back). The CLI asks here; the copy itself is the store's (store/copy.py)."""

from __future__ import annotations

from pathlib import Path

from digest.store.copy import Progress
from digest.store.copy import copy_store as _copy_store


def copy_store(
    source: Path | str, target: Path | str, *, progress: Progress | None = None
) -> dict[str, int]:
    """Every table of the store at `source` copied into the empty store at `target` (an SQLite
    path or a postgresql:// URL each), all or nothing; the rows per table, counted on the
    target. A StoreError names the store and what failed, the target left as it was."""
    return _copy_store(source, target, progress=progress)


__all__ = ["Progress", "copy_store"]
