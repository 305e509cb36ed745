"""Crash points: one call at each step that leaves a mark on disk or on the wire, so a test can
kill the process at any one of them and check that a rerun ends where a clean run would.

`step(name)` is called right before each store COMMIT, each atomic file replace, each SMTP
command that starts a message (MAIL, RCPT, DATA) and right after the end of a message's DATA
was handed to the socket. Two environment variables, read once (at the first step), turn it
on; unset, a step costs one test of a module global:

- DIGEST_CRASH_COUNT=PATH appends `<n> <name>` to PATH at each step (a run lists its steps);
- DIGEST_CRASH_AT=N kills the process with SIGKILL at step N (no cleanup, no flush: as a power
  cut would, short of the page cache).
"""

from __future__ import annotations

import os
import signal

_at: int | None = None  # None until the environment was read; then 0 when off
_count_file: str | None = None
_done = 0


def step(name: str) -> None:
    """One write step; see the module docstring."""
    global _at, _count_file, _done
    if _at == 0:
        return
    if _at is None:
        _count_file = os.environ.get("DIGEST_CRASH_COUNT") or None
        _at = int(os.environ.get("DIGEST_CRASH_AT") or 0) or (-1 if _count_file else 0)
        if _at == 0:
            return
    _done += 1
    if _count_file is not None:
        with open(_count_file, "a", encoding="utf-8") as out:
            out.write(f"{_done} {name}\n")
    if _done == _at:
        os.kill(os.getpid(), signal.SIGKILL)
