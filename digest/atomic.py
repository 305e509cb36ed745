"""Atomic file writing, in one place: a file is written beside its target and renamed over it,
so a reader (or a rerun after a crash) sees the old file or the new one, never half of one.

Every writer of a file under the output directory, the model cache and `digest eval --scores-out`
goes through `write_atomic`. Its temporary names say which process made them
(`.<name>.<pid>.<random>.tmp`, see `temporary`), so the first write into a folder sweeps what
killed writers left there (`sweep`); deliver/site.py names its temporary trees the same way.
Each rename is a crash point (crashpoint.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from digest import crashpoint

# what a writer leaves beside its target until the rename: `.<name>.<pid>.<random>.<kind>`
_LEFT = re.compile(r"\..+\.(?P<pid>\d+)\.[a-z0-9_]+\.(?:tmp|new|old)")
_swept: set[Path] = set()  # folders this process has already swept


def write_atomic(path: Path, content: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it in one step. The file
    is readable by all (`mode`), as a web server serving the output may run as another user.
    `durable=False` skips the fsync, for files a rebuild makes again (previews, pages): the
    rename still means a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent not in _swept:
        _swept.add(path.parent)
        sweep(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary(path.name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        crashpoint.step(f"replace {path.name}")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temporary(name: str) -> str:
    """The start of a temporary name for `name`: it says which process it belongs to."""
    return f".{name}.{os.getpid()}."


def sweep(folder: Path) -> int:
    """Remove the temporary files and trees that writers killed before their rename left in
    `folder` (those of processes that no longer run); returns how many."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    removed = 0
    for entry in entries:
        left = _LEFT.fullmatch(entry.name)
        if left is None or _running(int(left["pid"])):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        removed += 1
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a pid at all: leave it be
    return True
