"""A shard of a sharded build (`digest build --shard K/N`): which readers it builds.

A reader belongs to the shard their name's stable hash falls in (the first 8 bytes of its
SHA-256, modulo N), the same in every process and on every host, whatever PYTHONHASHSEED is; the
N shards of a day together build every reader once. What the shards share (the model, which of
them are done) goes through the store; build.py's `build_shard` builds one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHARD = re.compile(r"([0-9]{1,9})/([0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `number` (from 1) of `of`."""

    number: int
    of: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= self.of:
            raise ValueError(f"expected K/N with 1 <= K <= N, got {self}")

    def __str__(self) -> str:
        return f"{self.number}/{self.of}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`K/N` as a shard; ValueError (one line, saying what was given) otherwise."""
        found = _SHARD.fullmatch(text.strip())
        if found is None or not 1 <= int(found[1]) <= int(found[2]):
            raise ValueError(f"expected K/N with 1 <= K <= N, got {text!r}")
        return cls(int(found[1]), int(found[2]))

    def holds(self, reader: str) -> bool:
        """Whether this shard builds `reader`'s digest."""
        return of_reader(reader, self.of) == self.number


def of_reader(reader: str, shards: int) -> int:
    """The shard (from 1) of `shards` that `reader` belongs to: stable across processes and
    hosts (never Python's hash(), which is salted per process)."""
    digest = hashlib.sha256(reader.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1
