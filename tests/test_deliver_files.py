"""Files delivery: atomic writes under the output directory, never outside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest.deliver import DELIVERERS
from digest.deliver.files import deliver, target, write_atomic
from digest.errors import DeliveryError
from digest.models import Artifact


def artifact(path: str, content: bytes = b"x") -> Artifact:
    return Artifact(Path(path), content, "text/plain")


def test_writes_artifacts_under_root(tmp_path: Path) -> None:
    written = DELIVERERS["files"]([artifact("digests/ada/2025-08-20.md", b"# hi\n")], tmp_path)
    assert written == [tmp_path / "digests/ada/2025-08-20.md"]
    assert written[0].read_bytes() == b"# hi\n"


@pytest.mark.parametrize(
    "bad",
    [
        "../escape.md",
        "digests/../../x",
        "/etc/passwd",
        "",
        ".",
        "digests/ada/../../../x",
        "a//b/..",
    ],
)
def test_path_escapes_are_refused(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "out"
    with pytest.raises(DeliveryError):
        deliver([artifact(bad)], root)
    assert not (tmp_path / "escape.md").exists()


def test_symlink_out_of_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(DeliveryError, match="outside"):
        target(root, Path("link/evil.md"))


def test_rewrite_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "d" / "f.md"
    write_atomic(path, b"first version, longer")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["f.md"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.md"
    write_atomic(path, b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(DeliveryError, match="No space left"):
        deliver([artifact("f.md", b"new")], tmp_path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.md"]
