"""Limits on fetching: the size cap, and a minimum interval between requests to one host."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

MAX_BYTES = 50 * 1024 * 1024
# arXiv API terms of use: at most one request every 3 s (the rule covers export., rss., ...).
ARXIV_INTERVALS: Mapping[str, float] = MappingProxyType({"arxiv.org": 3.0})


@dataclass
class HostLimiter:
    """A minimum interval between requests to one host.

    A domain's rule covers its subdomains, and all of them share one clock (the widest matching
    domain's): `rss.arxiv.org` waits for `export.arxiv.org`. The most specific matching rule gives
    the interval. Hosts without a rule get `default`, each on its own clock. The first request to
    a host never waits.
    """

    intervals: Mapping[str, float]
    default: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    last: dict[str, float] = field(default_factory=dict)

    def rule(self, host: str) -> tuple[str, float]:
        """(the key of the clock `host` shares, the interval it must keep)."""
        host = host.lower().rstrip(".")
        matches = [d for d in self.intervals if host == d or host.endswith("." + d)]
        if not matches:
            return host, self.default
        return min(matches, key=len), self.intervals[max(matches, key=len)]

    def interval(self, host: str) -> float:
        return self.rule(host)[1]

    def wait(self, host: str) -> None:
        """Sleep until `host` may be asked again, then note the request."""
        key, seconds = self.rule(host)
        last = self.last.get(key)
        if last is not None:
            remaining = last + seconds - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self.last[key] = self.clock()
