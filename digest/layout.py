"""The output directory's layout, named once: every file a run writes under `out/` lives at a
path built here, relative to the output directory (an Artifact's path) unless said otherwise.

    out/
      digest.sqlite3                  the store (its default place; `store:` moves it)
      digests/<reader>/<date>.md      a reader's digest, and its HTML preview (.html)
      mail/<reader>/<date>.eml        the message that is sent (or, with `files`, delivered)
      mail/operator/<time>-<id>.eml   an alert to the operator, when nothing sends it
      mail/confirm/<reader>.eml       a subscribe confirmation, when nothing sends it
      feeds/<reader>.xml|.atom        a reader's feeds; feeds/all.* is the public one
      site/                           the archive site (owned by deliver/site.py)
      cache/                          models kept between runs (modelcache.py)

A reader's name becomes a folder under digests/ and mail/ and a file stem under feeds/, so the
names that would land on one of the other entries there are reserved (RESERVED_NAMES).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

OUT = "out"  # the output directory's default, beside config.yaml
STORE = "digest.sqlite3"  # the store's default file name, in the output directory
DIGESTS = Path("digests")
MAIL = Path("mail")
FEEDS = Path("feeds")
SITE = Path("site")
CACHE = Path("cache")
OPERATOR = MAIL / "operator"
CONFIRM = MAIL / "confirm"
PUBLIC_FEED = "all"  # the public feed's file stem: feeds/all.xml, feeds/all.atom

# what a reader's name must not be (the other entries of the folders it names files in), and
# the entry it would land on
RESERVED = {
    PUBLIC_FEED: f"{(FEEDS / PUBLIC_FEED).as_posix()}.xml",
    OPERATOR.name: f"{OPERATOR.as_posix()}/",
    CONFIRM.name: f"{CONFIRM.as_posix()}/",
}
RESERVED_NAMES = tuple(RESERVED)


def digest_path(reader: str, day: date, ext: str) -> Path:
    """A reader's digest of a day: `digests/<reader>/<date>.<ext>` (md, html)."""
    return DIGESTS / reader / f"{day.isoformat()}.{ext}"


def mail_path(reader: str, day: date) -> Path:
    """A reader's message of a day: `mail/<reader>/<date>.eml`."""
    return MAIL / reader / f"{day.isoformat()}.eml"


def feed_path(stem: str, ext: str) -> Path:
    """A feed: `feeds/<stem>.<ext>` (a reader's name, or PUBLIC_FEED)."""
    return FEEDS / f"{stem}.{ext}"


def operator_path(stamp: str, mark: str) -> Path:
    """An alert kept as a file: `mail/operator/<stamp>-<mark>.eml`."""
    return OPERATOR / f"{stamp}-{mark}.eml"


def confirm_path(reader: str) -> Path:
    """A subscribe confirmation kept as a file: `mail/confirm/<reader>.eml`."""
    return CONFIRM / f"{reader}.eml"
