"""The archive site written under one root directory: in place, file by file, or swapped in whole.

`write_site` owns its root: afterwards the root holds exactly the artifacts given (pages, search
index, assets, and the feeds when they are served from the site) and nothing else.

Incremental (the default): files no longer given are removed (then directories left empty), and
a file is written only when its bytes differ, each one atomically (a temporary file beside it,
fsync, rename), so unchanged files keep their inode and mtime. Nothing outside the root is touched:
an artifact path that escapes it is refused before anything is written, and a symlink found in
the root is replaced or removed as a link, never followed.

Full (`full=True`, or when the root does not exist yet): the site is written to a temporary
directory beside the root and swapped in with two renames (the old root into a holding directory,
the new one into place), then the old tree is deleted. A reader sees the old site or the new one,
never a mix; between the two renames the root is absent for an instant. If anything fails before
the swap, the old root is left as it was and the temporary directory is removed.

Files get mode 0644 and directories 0755 whatever the umask: the site is published, and a web
server running as another user must read it.

Because it removes whatever it did not write, `write_site` marks its root with a `.digest-site`
file and refuses to take over a non-empty directory without that mark.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from digest import crashpoint
from digest.atomic import sweep, temporary, write_atomic
from digest.deliver.files import target
from digest.errors import DeliveryError
from digest.models import Artifact

FILE_MODE = 0o644
DIR_MODE = 0o755
MARK = ".digest-site"  # in the root: a directory write_site made and may prune
MARK_TEXT = b"Written by digest: files here that a build does not produce are removed.\n"


@dataclass(frozen=True, slots=True)
class SiteWrite:
    """What a site write did: files written, left as they were, and removed."""

    written: int
    unchanged: int
    removed: int
    full: bool


def write_site(root: Path, artifacts: Iterable[Artifact], *, full: bool = False) -> SiteWrite:
    """Make `root` hold exactly `artifacts`, incrementally or (full) by swapping in a new tree."""
    given = _checked(root, artifacts)
    if root.exists() and not root.is_dir():
        raise DeliveryError(f"{root}: exists and is not a directory")
    if root.is_dir() and not (root / MARK).is_file() and any(root.iterdir()):
        raise DeliveryError(
            f"{root}: refusing to replace a directory digest did not write (no {MARK} in it)",
            hint="empty it or give the site another directory",
        )
    try:
        if full or not root.exists():
            return _swap(root, given)
        return _update(root, given)
    except OSError as exc:
        where = exc.filename or root
        raise DeliveryError(f"{where}: cannot write the site: {exc.strerror or exc}") from None


def _checked(root: Path, artifacts: Iterable[Artifact]) -> dict[str, Artifact]:
    """Artifacts by path, all taken before anything is written; escapes and duplicates refused."""
    given: dict[str, Artifact] = {}
    for artifact in artifacts:
        _place(root, artifact.path)
        key = PurePosixPath(artifact.path.as_posix()).as_posix()
        if key in given or key == MARK:
            why = "twice" if key in given else "over the site's mark"
            raise DeliveryError(f"refusing to write {key} {why}")
        given[key] = artifact
    return dict(sorted(given.items()))


def _place(root: Path, relative: Path) -> Path:
    """Where an artifact goes under root. `target`'s checks hold for its directory; the file
    itself is not resolved, so a symlink in its place is replaced as a link, not written through."""
    if relative.is_absolute() or relative.name in ("", ".", ".."):
        raise DeliveryError(f"refusing to write {relative}: not a plain path under {root}")
    folder = target(root, relative.parent) if relative.parent.parts else root.resolve()
    return folder / relative.name


def _update(root: Path, given: dict[str, Artifact]) -> SiteWrite:
    # stale files and symlinks go first, so none stands where a directory is now needed
    removed = _prune(root.resolve(), {*given, MARK})
    if not _holds(root / MARK, MARK_TEXT):
        write_atomic(root.resolve() / MARK, MARK_TEXT, FILE_MODE)
    written = unchanged = 0
    for artifact in given.values():
        path = _place(root, artifact.path)
        if _holds(path, artifact.content):
            unchanged += 1
            continue
        _make_dirs(root.resolve(), path.parent)
        write_atomic(path, artifact.content, FILE_MODE)
        written += 1
    return SiteWrite(written=written, unchanged=unchanged, removed=removed, full=False)


def _holds(path: Path, content: bytes) -> bool:
    """Whether `path` is a regular file (not a symlink) with exactly these bytes."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size != len(content):
        return False
    return path.read_bytes() == content


def _make_dirs(base: Path, folder: Path) -> None:
    missing = []
    while folder != base and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        path.chmod(DIR_MODE)


def _prune(base: Path, keep: set[str]) -> int:
    """Remove every file and symlink under `base` not in `keep`, then emptied directories.
    Walks without following symlinks; a symlink is unlinked, its target never touched."""
    removed = 0
    for folder, dirs, files in os.walk(base, topdown=False, followlinks=False):
        here = Path(folder)
        links = [name for name in dirs if (here / name).is_symlink()]
        for name in sorted([*files, *links]):
            path = here / name
            if path.relative_to(base).as_posix() not in keep:
                path.unlink()
                removed += 1
        if here != base and not any(here.iterdir()):
            here.rmdir()
    return removed


def _swap(root: Path, given: dict[str, Artifact]) -> SiteWrite:
    root = root.resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    sweep(root.parent)  # a tree a killed build left beside the root
    fresh = Path(tempfile.mkdtemp(dir=root.parent, prefix=temporary(root.name), suffix=".new"))
    try:
        _write_new(fresh / MARK, MARK_TEXT)
        for artifact in given.values():
            path = _place(fresh, artifact.path)
            _make_dirs(fresh, path.parent)
            _write_new(path, artifact.content)
        fresh.chmod(DIR_MODE)
        old = _files(root)
        _exchange(root, fresh)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    removed = len(old - {*given, MARK})
    return SiteWrite(written=len(given), unchanged=0, removed=removed, full=True)


def _write_new(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fchmod(handle.fileno(), FILE_MODE)
        os.fsync(handle.fileno())


def _files(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {
        (Path(folder) / name).relative_to(root).as_posix()
        for folder, _, names in os.walk(root, followlinks=False)
        for name in names
    }


def _exchange(root: Path, fresh: Path) -> None:
    """Put `fresh` in `root`'s place; the old tree is moved aside first and deleted after."""
    if not root.exists():
        crashpoint.step(f"swap in {root.name}")
        os.rename(fresh, root)
        _sync_dir(root.parent)
        return
    holder = Path(tempfile.mkdtemp(dir=root.parent, prefix=temporary(root.name), suffix=".old"))
    aside = holder / root.name
    crashpoint.step(f"move aside {root.name}")
    os.rename(root, aside)
    try:
        crashpoint.step(f"swap in {root.name}")
        os.rename(fresh, root)
    except BaseException:
        os.rename(aside, root)
        holder.rmdir()
        raise
    _sync_dir(root.parent)
    shutil.rmtree(holder, ignore_errors=True)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
