"""Reading a source from disk: a path, or a `file:` URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from digest.errors import SourceError
from digest.fetch.limits import MAX_BYTES


def path_from_location(location: str) -> Path | None:
    """The path of a `file:` URL (`file:///x/y`, `file:y`); None for anything else."""
    if not location.startswith("file:"):
        return None
    return Path(unquote(urlsplit(location).path))


def read_file(location: Path | str, *, max_bytes: int = MAX_BYTES) -> bytes:
    """A file's bytes (a path or a `file:` URL), or a one-line SourceError naming it."""
    path = location if isinstance(location, Path) else _path(location)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit")
        with path.open("rb") as handle:
            # read what stat promised plus a little: a read(n) allocates n bytes up front,
            # and a file growing while it is read still cannot pass the cap
            data = handle.read(size + 1)
            while len(data) <= max_bytes and (more := handle.read(1 << 20)):
                data += more
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise SourceError(f"{path}: over the {max_bytes:,}-byte limit")
    return data


def _path(location: str) -> Path:
    return path_from_location(location) or Path(location)
