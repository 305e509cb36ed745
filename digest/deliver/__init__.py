"""Deliverers: where rendered Artifacts go. Adding one is one module and one entry in DELIVERERS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from digest.deliver import files
from digest.models import Artifact

Deliverer = Callable[[Iterable[Artifact], Path], list[Path]]

DELIVERERS: dict[str, Deliverer] = {
    "files": files.deliver,
}
