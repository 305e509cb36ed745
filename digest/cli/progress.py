"""The progress bar of long work, on a terminal only: one line redrawn in place.

A log or error line printed while the bar shows would land on the bar's line; `BAR.clear()`
(which the log handler calls before each record) blanks the bar first, so the line starts on a
line of its own, and the next step draws the bar again below it.
"""

from __future__ import annotations

import sys

WIDTH = 90  # the bar's line, padded so a shorter label leaves nothing of a longer one


class Bar:
    def __init__(self) -> None:
        self.showing = False  # drawn, and its line not ended yet

    def step(self, done: int, total: int, label: str) -> None:
        filled = 30 * done // total
        text = f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {label[-40:]}"
        ended = done == total
        print(text.ljust(WIDTH), end="\n" if ended else "", file=sys.stderr, flush=True)
        self.showing = not ended

    def clear(self) -> None:
        if self.showing:
            print("\r" + " " * WIDTH + "\r", end="", file=sys.stderr, flush=True)
            self.showing = False


BAR = Bar()
