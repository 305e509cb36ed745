"""Files: each Artifact written atomically under the output directory, never outside it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from digest.atomic import sweep as sweep
from digest.atomic import temporary as temporary
from digest.atomic import write_atomic as write_atomic
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
