"""Records that cross stages. Frozen, slotted, and free of foreign shapes.

Nothing here does I/O. A feedparser entry, an httpx response or an SQL row never leaves the module
that made it: it becomes one of these first.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")
_ARXIV_OLD = re.compile(r"^([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?$")


def normalise_arxiv_id(raw: str) -> str | None:
    """`2506.08007v2` -> `2506.08007`; `hep-th/9901001v1` -> `hep-th/9901001`; else None."""
    text = raw.strip()
    for prefix in ("arXiv:", "arxiv:", "oai:arXiv.org:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        match = pattern.match(text)
        if match:
            return match.group(1)
    return None


def title_key(title: str) -> str:
    """A title reduced to what survives every source's rendering: letters and digits, casefolded.

    Different sources break lines, space punctuation and encode unicode differently; this key is
    equal for all of them, so a title-only paper can be recognised when it arrives again.
    """
    folded = unicodedata.normalize("NFKC", title).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


def paper_id(arxiv_id: str | None, title: str) -> str:
    """`arxiv:<id>` when an arXiv id is known, else `title:<hash of the normalised title>`."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    digest = hashlib.sha256(title_key(title).encode("utf-8")).hexdigest()[:16]
    return f"title:{digest}"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a source's bytes came from and what the run knows about them.

    `today` is the ingest date (used to infer the year of a `Aug 20` header); `date` is an explicit
    digest date (from `--date` or the source's `date:`) that wins over anything the bytes say.
    """

    source: str
    location: str
    today: date
    date: date | None = None


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a source announced it. Texts are kept as the source gave them, but cleaned at
    the source boundary (`sources.base.clean_paper`): no control characters, no bidi controls.

    `categories` are subject labels (arXiv `cs.LG`, the primary one first); `keywords` are the
    source's own topic words (Daily Papers' AI keywords); `upvotes` is the count when the source
    was read; `announce_type` is arXiv's `new`, `cross`, `replace` or `replace-cross`.
    """

    title: str
    abstract: str
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()
    url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    published: datetime | None = None
    digest_date: date | None = None
    upvotes: int | None = None
    announce_type: str | None = None

    @property
    def id(self) -> str:
        return paper_id(self.arxiv_id, self.title)


@dataclass(frozen=True, slots=True)
class StoredPaper:
    """A paper as the store holds it: merged over every source, with where and when it was seen."""

    id: str
    title: str
    abstract: str
    arxiv_id: str | None
    authors: tuple[str, ...]
    url: str | None
    pdf_url: str | None
    code_url: str | None
    project_url: str | None
    categories: tuple[str, ...]
    published: datetime | None
    dates: tuple[date, ...]
    sources: tuple[str, ...]
    upvotes: int | None = None
    keywords: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """What ranking reads: title and abstract."""
        return f"{self.title}\n{self.abstract}"


POPULARITY = 0.1  # a reader's default share of score from upvotes
DIVERSITY = 0.2  # a reader's default diversity (MMR's 1 - lambda)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class SendTime:
    """When a reader's digest goes out: a wall-clock time in their own time zone, every day or
    once a week (`weekday` set: a weekly digest of the week's best papers)."""

    time: str = "07:00"  # HH:MM, 24-hour
    timezone: str = "America/New_York"  # an IANA zone name; default: the schedule's default
    weekday: str | None = None  # mon ... sun for a weekly digest; None for daily
    empty: bool = False  # send a short "nothing today" email on days with no papers

    @property
    def weekly(self) -> bool:
        return self.weekday is not None


@dataclass(frozen=True, slots=True)
class Profile:
    """A reader and what they want to read."""

    name: str
    keywords: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()
    email: str | None = None
    display_name: str | None = None
    top_k: int = 10
    min_score: float = 0.0
    near_misses: int = 3  # papers below the reader's relevance floor shown as "loosely related"
    min_papers: int = 0  # always show at least this many (the extra ones as "loosely related")
    weights: tuple[float, ...] = ()  # one per keyword; none given means 1.0 each
    exclude: tuple[str, ...] = ()  # words or phrases: a paper that mentions one is never picked
    disliked: tuple[str, ...] = ()  # arXiv ids or titles, like `liked`
    authors: tuple[str, ...] = ()  # followed authors: their papers are boosted
    popularity: float = POPULARITY  # share of a score from Daily Papers upvotes (per day), 0..1
    diversity: float = DIVERSITY  # 0 = rank by score alone; toward 1, near-duplicates give way
    public: bool = False  # digests and feed published on the archive site (private by default)
    note: str = ""  # Markdown the operator writes for this reader, shown atop their digests
    send: SendTime = SendTime()  # when their digest goes out (by `digest schedule`)
    paused: bool = False  # no digest is built for them (so none is sent) until unpaused

    def weight(self, index: int) -> float:
        return self.weights[index] if index < len(self.weights) else 1.0


DAILY = "daily"  # a ReaderSettings cadence: a digest every day (else a weekday: once a week)


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    """What a reader set on their own page (`digest serve`): each field None until they change
    it. A set field wins over the newsletter's profile of the reader (config.yaml's entry, or what
    they subscribed with); the others follow it, so the operator's later changes still reach
    them. Never written into config.yaml."""

    keywords: tuple[str, ...] | None = None
    weights: tuple[float, ...] | None = None  # with `keywords`: one each, or () for 1.0 each
    exclude: tuple[str, ...] | None = None
    authors: tuple[str, ...] | None = None
    top_k: int | None = None
    time: str | None = None  # HH:MM, in their time zone
    timezone: str | None = None  # an IANA zone name
    cadence: str | None = None  # DAILY, or a weekly digest's weekday (`mon` ... `sun`)
    paused: bool | None = None

    @classmethod
    def of(cls, profile: Profile) -> ReaderSettings:
        """Every field as `profile` has it."""
        send = profile.send
        return cls(
            keywords=profile.keywords,
            weights=profile.weights,
            exclude=profile.exclude,
            authors=profile.authors,
            top_k=profile.top_k,
            time=send.time,
            timezone=send.timezone,
            cadence=send.weekday or DAILY,
            paused=profile.paused,
        )

    def kept(self, before: Profile, wanted: Profile) -> ReaderSettings:
        """These settings once the reader asked for `wanted` where `before` was their profile:
        a field they changed, or had set already, is theirs (the new value); the others go on
        following the newsletter's profile."""
        old, new = ReaderSettings.of(before), ReaderSettings.of(wanted)
        values: dict[str, Any] = {}
        for name in _SETTINGS:
            pair = ("keywords", "weights") if name in ("keywords", "weights") else (name,)
            moved = any(getattr(old, n) != getattr(new, n) for n in pair)
            if moved or any(getattr(self, n) is not None for n in pair):
                values[name] = getattr(new, name)
        return ReaderSettings(**values)

    @property
    def changed(self) -> tuple[str, ...]:
        """The names of the fields the reader set (`weights` goes with `keywords`)."""
        return tuple(
            name for name in _SETTINGS if name != "weights" and getattr(self, name) is not None
        )

    def applied(self, profile: Profile) -> Profile:
        """`profile` with the fields the reader set put over it. `min_papers` never exceeds
        the reader's own `top_k` (config.yaml's rule, kept whatever the operator changes)."""
        values: dict[str, Any] = {}
        if self.keywords is not None:
            values["keywords"], values["weights"] = self.keywords, self.weights or ()
        for name in ("exclude", "authors", "top_k", "paused"):
            if (value := getattr(self, name)) is not None:
                values[name] = value
        if self.top_k is not None:
            values["min_papers"] = min(profile.min_papers, self.top_k)
        send = profile.send
        if self.time is not None:
            send = replace(send, time=self.time)
        if self.timezone is not None:
            send = replace(send, timezone=self.timezone)
        if self.cadence is not None:
            send = replace(send, weekday=None if self.cadence == DAILY else self.cadence)
        return replace(profile, send=send, **values) if values or send != profile.send else profile


_SETTINGS = tuple(f.name for f in fields(ReaderSettings))


class Term(NamedTuple):
    """One term's share of a score. A named tuple rather than a dataclass: ranking 10,000 readers
    makes over a million of them, and a tuple is made in half the time."""

    term: str
    weight: float


@dataclass(frozen=True, slots=True)
class Scored:
    """A paper scored for one reader, with the terms that contributed most."""

    paper: StoredPaper
    score: float
    terms: tuple[Term, ...]
    closest: StoredPaper | None = None  # the liked paper this one is most like, if any
    closeness: float = 0.0  # ... and their cosine similarity
    popularity: float = 0.0  # share of the score that came from upvotes
    authors: tuple[str, ...] = ()  # followed authors among the paper's
    loose: bool = False  # below the reader's relevance floor: shown only as "loosely related"
    far: bool = False  # below even the near-miss floor: ranked, but never shown
    standing: float = 0.0  # standard deviations above the reader's usual score (rank/floor.py)


@dataclass(frozen=True, slots=True)
class Digest:
    """One reader's digest for one day, papers best first."""

    reader: Profile
    date: date
    papers: tuple[Scored, ...]
    candidates: int
    generated: datetime
    notice: str = ""  # one line atop the digest: a source failed, nothing was announced, ...
    near: tuple[Scored, ...] = ()  # below the floor, shown after the others as loosely related


@dataclass(frozen=True, slots=True)
class Site:
    """How the newsletter presents itself: its name, where its archive lives, who sends it."""

    title: str = "Paper Digest"
    base_url: str = "http://localhost:8000/"  # absolute URLs in feeds, emails and pages; ends in /
    intro: str = ""  # Markdown written by the operator, atop every email and the archive index
    sender: str = "Paper Digest <digest@localhost>"  # the From of every email
    days_per_page: int = 10  # days listed per archive index page
    feed_items: int = 50  # entries per feed, newest first
    list_id: str = ""  # the List-Id header (RFC 2919); default: made from the title and domain
    unsubscribe_mailto: str = ""  # the mailto: of List-Unsubscribe; default: the sender

    @property
    def address(self) -> str:
        """The sender's bare address."""
        return self.sender.rsplit("<", 1)[-1].rstrip(">").strip()

    @property
    def domain(self) -> str:
        """The sending domain, for Message-IDs: the sender address's domain."""
        return self.address.rsplit("@", 1)[-1] or "localhost"

    @property
    def list_header(self) -> str:
        """`Paper Digest <paper-digest.example.org>`: the configured List-Id, or one made from
        the title (an ASCII label) and the sending domain."""
        if self.list_id:
            return self.list_id
        plain = unicodedata.normalize("NFKD", self.title).encode("ascii", "ignore").decode()
        label = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:40] or "digest"
        phrase = self.title if self.title.isascii() and self.title.isprintable() else ""
        return f"{phrase} <{label}.{self.domain}>".strip()


@dataclass(frozen=True, slots=True)
class Artifact:
    """Rendered bytes and where they belong, relative to the output directory."""

    path: Path
    content: bytes
    media_type: str


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one source did in a run: `ok`, `empty` or `failed` (with the one-line reason)."""

    source: str
    status: str
    papers_seen: int = 0
    papers_new: int = 0
    dates: tuple[date, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()


READER_STATES = ("pending", "active", "unsubscribed", "removed")


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A reader as the store knows them: the profile, and whether mail goes to them.

    `pending` readers subscribed by the form and have not confirmed (nothing is sent to them);
    `active` readers get digests; `unsubscribed` ones asked to stop; `removed` ones were taken
    out by the operator (or from config.yaml). `token_version` is signed into their links:
    bumping it revokes every link given out before. `profile` is the one digests are built from:
    `base` (config.yaml's entry, or what they subscribed with) with the reader's `own` settings
    put over it."""

    profile: Profile
    status: str
    origin: str  # config, cli, import or form
    token_version: int
    created: datetime
    updated: datetime
    own: ReaderSettings = ReaderSettings()  # what the reader set on their page
    base: Profile | None = None  # the profile before `own`; None: `profile` itself

    @property
    def newsletter(self) -> Profile:
        """The newsletter's profile of the reader, before their own settings."""
        return self.base or self.profile

    @property
    def name(self) -> str:
        return self.profile.name


# pending: built, not yet tried; sending: claimed by a sender; transmitting: the message is being
# handed to the server; deferred: a temporary failure, tried again from next_attempt on
WAITING = ("pending", "deferred")
# The settled states: sent; partial: some recipients refused for good; failed: refused for good;
# unknown: the server's answer was lost after it had the message (never re-sent automatically);
# suppressed: the reader unsubscribed before it went; expired: still deferred at the give-up time


@dataclass(frozen=True, slots=True)
class Delivery:
    """One reader's digest of one day in the send ledger."""

    day: date
    reader: str
    status: str
    recipients: tuple[str, ...]  # the addresses still owed the message
    attempts: int
    next_attempt: datetime
    give_up: datetime  # retries stop here; a first attempt is made whenever sending runs
    updated: datetime
    message_id: str | None = None
    code: int | None = None  # the server's deciding reply code, if any
    reply: str = ""  # ... and its text, or the local reason
    refused: tuple[tuple[str, int, str], ...] = ()  # (address, code, reply) refused for good
    sent_at: datetime | None = None


# How an `unknown` row is settled by hand, once the relay's log has been read: `sent` marks it
# delivered; `resend` puts it back to waiting (pending) so the next send transmits it
SETTLE = {"sent": "sent", "resend": "pending"}


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """A change made to a ledger row by hand: who, when, what (from one status to another)."""

    day: date
    reader: str
    at: datetime
    actor: str  # user@host of whoever ran the command
    action: str  # a key of SETTLE
    from_status: str
    to_status: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one run did, whichever path ran it (`digest ingest|build|run|send`, or a scheduled
    job, whose command is `schedule:<job>`); the store keeps `record()` as JSON and `line()` as
    the one summary line every run ends with. Both have one shape whichever path ran it.
    """

    command: str
    started: datetime
    seconds: float
    sources: tuple[SourceOutcome, ...] = ()
    built: bool = False  # a build step ran (its part of the line shows, even at 0 digests)
    digests: int = 0  # digests built and written
    written: tuple[Path, ...] = ()  # every file the build wrote
    build_failures: int = 0  # of `failures`, those of the build
    sent: Mapping[str, int] | None = None  # messages sent, by outcome (None: no send step)
    ledger: Mapping[str, int] | None = None  # the ledger's rows by status after sending
    sending: str | None = None  # the send step's own line (SendReport.line)
    failures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """The run's own work went well (a failing source alone does not make a run fail)."""
        return not self.failures

    @property
    def sources_failed(self) -> int:
        return sum(s.status == "failed" for s in self.sources)

    @property
    def scheduled(self) -> bool:
        return self.command.startswith("schedule:")

    def record(self) -> dict[str, Any]:
        """The run's report as the store keeps it (`digest status --json` shows it): one shape
        whichever path ran it."""
        return {
            "sources": [asdict(s) for s in self.sources],
            "papers_new": sum(s.papers_new for s in self.sources),
            "digests": self.digests,
            "files": len(self.written),
            "sent": dict(self.sent or {}),
            "ledger": dict(self.ledger) if self.ledger is not None else None,
            "failures": list(self.failures),
            "ok": self.ok,
        }

    def line(self) -> str:
        """The one line every run ends with: what each step it ran did, then its problems."""
        parts = []
        if self.sources:
            counts = {
                s: sum(o.status == s for o in self.sources) for s in ("not modified", "failed")
            }
            ok = len(self.sources) - sum(counts.values())
            unchanged = f", {counts['not modified']} not modified" if counts["not modified"] else ""
            seen = sum(o.papers_seen for o in self.sources)
            new = sum(o.papers_new for o in self.sources)
            parts.append(
                f"{ok} sources ok{unchanged}, {counts['failed']} failed; "
                f"{seen} papers seen, {new} new"
            )
        if self.built:
            parts.append(f"{self.digests} digests written, {self.build_failures} failed")
        if self.sending is not None:
            parts.append(f"sending {self.sending}")
        if (problems := len(self.failures) - self.build_failures) > 0:
            parts.append(f"{problems} {'problem' if problems == 1 else 'problems'}")
        label = self.command.replace(":", " ", 1) if self.scheduled else self.command
        return f"digest {label}: {'; '.join(parts) or 'nothing to do'}; {self.seconds:.2f} s"
