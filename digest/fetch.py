"""Getting a source's bytes. Paths are read from disk here; URLs join them in a later step."""

from __future__ import annotations

from pathlib import Path

from digest.errors import SourceError

MAX_BYTES = 50 * 1024 * 1024


def read_file(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """A file's bytes, or a one-line SourceError naming it (missing, unreadable, too large)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise SourceError(f"{path}: over the {max_bytes:,}-byte limit")
    return data
