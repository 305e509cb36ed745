"""Files: each Artifact written atomically under the output directory, never outside it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from digest.errors import DeliveryError
from digest.models import Artifact


def target(root: Path, relative: Path) -> Path:
    """`root / relative`, refusing absolute paths, `..`, and anything that resolves outside root."""
    parts = PurePosixPath(relative.as_posix()).parts
    if relative.is_absolute() or not parts or any(p in ("", ".", "..") for p in parts):
        raise DeliveryError(f"refusing to write {relative}: not a plain path under {root}")
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise DeliveryError(f"refusing to write {relative}: it resolves outside {root}")
    return path


def write_atomic(path: Path, content: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it in one step. The file
    is readable by all (`mode`), as a web server serving the output may run as another user.
    `durable=False` skips the fsync, for files a rebuild makes again (previews, pages): the
    rename still means a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def deliver(artifacts: Iterable[Artifact], root: Path, *, durable: bool = True) -> list[Path]:
    """Write every artifact under `root`; returns the paths written. `durable`: fsync each file
    (see write_atomic)."""
    written = []
    for artifact in artifacts:
        path = target(root, artifact.path)
        try:
            write_atomic(path, artifact.content, durable=durable)
        except OSError as exc:
            raise DeliveryError(f"{path}: cannot write: {exc.strerror or exc}") from None
        written.append(path)
    return written
