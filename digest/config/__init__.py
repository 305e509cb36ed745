"""config.yaml, read once: parsed, validated in full, returned as frozen records.

Every key is declared once, in `keys.KEYS`: its path, type, default, check and help. Checkers
(`checks.py`: `_str`, `_int`, `_list_of`, `_path`, ...) are pure: they return a value cleaned or
raise `_Invalid`. `_Validator` walks the schema, reading each key through the table, adds key paths
(`readers[1].interests.keywords`) and collects every problem, so all are reported at once. A new
key is one entry in the table plus one `value` (or `get`) line where its record is built.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from digest import layout
from digest.config import rules
from digest.config.checks import _expand, _Invalid, _join, _type_name, _zone
from digest.config.keys import BY_PATH, Key, children, default
from digest.config.reading import MISSING_HINT as MISSING_HINT
from digest.config.reading import _is_secret, _read, _secrets
from digest.deliver import DELIVERERS
from digest.errors import ConfigError
from digest.models import Profile, SendTime, Site

WINDOW_DAYS = default("ranking.window_days")
RESERVED_NAMES = layout.RESERVED_NAMES  # names that land on another entry of out/


T = TypeVar("T")
N = TypeVar("N", "SourceConfig", Profile)
Check = Callable[[Any], T]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One configured source: a local file, directory or glob (`path`) or a URL (`url`)."""

    name: str
    kind: str
    path: Path | None = None
    url: str | None = None
    date: datetime.date | None = None
    announce_types: tuple[str, ...] = default("sources[].announce_types")
    weekends: bool = default("sources[].weekends")

    def files(self) -> list[Path]:
        """The files `path` names (itself, the visible files in it, or its matches), sorted."""
        return _expand(self.path) if self.path is not None else []


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to hand messages to an SMTP server. Credentials stay in the environment:
    the config names the variables."""

    host: str
    port: int = default("delivery.smtp.port")
    security: str = default(
        "delivery.smtp.security"
    )  # starttls (587), tls (465) or none (a local relay only)
    username_env: str | None = None
    password_env: str | None = None
    timeout: float = default(
        "delivery.smtp.timeout"
    )  # seconds; short timeouts after DATA make duplicates (RFC 5321 4.5.3.2)
    per_connection: int = default(
        "delivery.smtp.per_connection"
    )  # messages per SMTP session before a new one is opened
    helo: str | None = None  # the name given in EHLO (default: this host's name)


@dataclass(frozen=True, slots=True)
class JobTime:
    """A scheduled job's wall-clock time and days (names: `mon-fri`, `mon,wed,fri`, `*`)."""

    time: str
    days: str = "*"

    @property
    def hour(self) -> int:
        return int(self.time.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.time.split(":")[1])


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """When `digest schedule` ingests and builds (readers' send times are on each reader).
    arXiv announces at midnight US Eastern time on weekdays, hence the defaults."""

    timezone: str = default("schedule.timezone")
    ingest: JobTime = JobTime(default("schedule.ingest.time"), default("schedule.ingest.days"))
    build: JobTime = JobTime(default("schedule.build.time"), default("schedule.build.days"))
    grace_hours: float = default(
        "schedule.grace_hours"
    )  # a run missed (the scheduler was down) still runs this late, once
    stale_hours: float | None = (
        None  # status warns when the last good run is older; None: from the schedule
    )
    heartbeat_url_env: str | None = None  # a URL requested after each successful run
    lock: Path | None = None  # the one-scheduler lock file; default: beside the store


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How digests reach readers: files (.eml under out/mail, the default) or SMTP."""

    method: str = default("delivery.method")
    base_url: str | None = None  # where `digest serve` answers; default: the site's base_url
    secret_env: str = default(
        "delivery.secret_env"
    )  # the variable holding the token-signing secret
    previous_secrets_env: str | None = None  # secrets still accepted after a rotation
    smtp: SmtpConfig | None = None
    rate: float = default("delivery.rate")  # messages per second, at most
    max_failures: int = default(
        "delivery.max_failures"
    )  # consecutive failed sends that pause the day's sending
    retry_hours: float = default(
        "delivery.retry_hours"
    )  # temporary failures are retried until this long after the build
    confirm_hours: float = default(
        "delivery.confirm_hours"
    )  # how long a subscribe confirmation link works
    confirm_per_hour: int = default(
        "delivery.confirm_per_hour"
    )  # subscribe requests let through an hour, all addresses together
    confirm_per_address: int = default(
        "delivery.confirm_per_address"
    )  # ... and a day for one address
    operator: str | None = None  # where alerts go: a failing source, a failed run, a pause


@dataclass(frozen=True, slots=True)
class ZoteroConfig:
    """A Zotero library read through the Web API: a user's or a group's, or one collection of
    it; the API key comes from the environment variable `key_env` (none: a public library)."""

    user: str | None = None
    group: str | None = None
    key_env: str | None = None
    collection: str | None = None

    @property
    def origin(self) -> str:
        """How a library imported from it is named: `zotero:users/123[/collections/KEY]`."""
        owner = f"users/{self.user}" if self.user else f"groups/{self.group}"
        return f"zotero:{owner}" + (f"/collections/{self.collection}" if self.collection else "")


@dataclass(frozen=True, slots=True)
class LibrarySource:
    """Where a reader's library is read from at each build: a file, or a Zotero library."""

    reader: str
    path: Path | None = None
    zotero: ZoteroConfig | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated config. Every path is absolute."""

    path: Path
    store: Path | str  # an SQLite file, or a postgresql:// URL (see checks.store_location)
    out_dir: Path
    templates: tuple[Path, ...]
    title: str
    sources: tuple[SourceConfig, ...]
    readers: tuple[Profile, ...]
    window_days: int = WINDOW_DAYS  # the corpus TF-IDF is fitted on: this many days back
    site: Site = field(default_factory=Site)  # name, intro, sender, archive address
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    libraries: tuple[LibrarySource, ...] = ()  # readers' libraries, read at each build

    @property
    def app_url(self) -> str:
        """Where `digest serve` answers: the links in emails and private feeds point here."""
        return self.delivery.base_url or self.site.base_url

    def reader(self, name: str) -> Profile:
        """The reader called `name`; ConfigError listing the known names otherwise."""
        for profile in self.readers:
            if profile.name == name:
                return profile
        known = ", ".join(sorted(profile.name for profile in self.readers))
        raise ConfigError(f"unknown reader {name!r} (known: {known})")


def load_config(path: Path, *, kinds: Collection[str]) -> Config:
    """Read and validate `path`; a ConfigError carries every problem found, one line each."""
    data, duplicates = _read(path)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else _type_name(data)
        raise ConfigError(f"{path}: expected a mapping at the top level, got {got}")
    check = _Validator(path.resolve().parent, frozenset(kinds), duplicates)
    _secrets(data, "", check.problems, set())
    config = check.config(data, path.resolve())
    if check.problems:
        problems = tuple(f"{path}: {problem}" for problem in check.problems)
        raise ConfigError(f"{path}: {len(problems)} problem(s) in config", problems=problems)
    return config


class _Validator:
    """Reads each mapping of the schema, collecting `<key path>: <message>` problems. Keys are
    named by their path in the table (`readers[].top_k`), problems by where they are
    (`readers[2].top_k`)."""

    def __init__(self, base: Path, kinds: frozenset[str], problems: list[str]) -> None:
        self.base, self.kinds, self.problems = base, kinds, problems
        self.zone: str = default("schedule.timezone")  # readers' default zone: the schedule's
        self.libraries: list[LibrarySource] = []  # readers' libraries, as the readers are read

    def check(self, key: Key) -> Check[Any]:
        """The key's check, given what it needs besides the value."""
        given = {"base": self.base, "known": self.kinds}
        return partial(key.check, **{need: given[need] for need in key.needs})

    def get(self, node: Mapping[Any, Any], key: str, path: str = "") -> Any:
        """The value of the table's `key` in `node` checked, or None when it is left out or is
        invalid (a problem at `path`.<name> then)."""
        spec = BY_PATH[key]
        try:
            return self.check(spec)(node[spec.name]) if spec.name in node else None
        except _Invalid as exc:
            where = _join(path, spec.name)
            self.problems.extend(f"{where}{sub}: {message}" for sub, message in exc.found)
            return None

    def value(self, node: Mapping[Any, Any], key: str, path: str = "") -> Any:
        """`get`, or the key's default (a default path resolved against the config's folder)."""
        found = self.get(node, key, path)
        if found is not None:
            return found
        spec = BY_PATH[key]
        return self.base / spec.default if "base" in spec.needs and spec.default else spec.default

    def keys(self, node: Mapping[Any, Any], path: str, key: str) -> None:
        """Unknown keys (see `_check_keys`) and missing required ones, of the mapping `key`."""
        known = children(key)
        _check_keys(node, [spec.name for spec in known], path, self.problems)
        need = [spec.name for spec in known if spec.required]
        self.problems.extend(f"{_join(path, name)}: required" for name in need if name not in node)

    def config(self, data: dict[Any, Any], path: Path) -> Config:
        self.keys(data, "", "")
        schedule = data.get("schedule")
        if isinstance(schedule, dict) and isinstance(schedule.get("timezone"), str):
            with contextlib.suppress(_Invalid):
                self.zone = _zone(schedule["timezone"])
        news = self.get(data, "newsletter") or {}
        self.keys(news, "newsletter", "newsletter")
        ranking = self.get(data, "ranking") or {}
        self.keys(ranking, "ranking", "ranking")
        window = self.value(ranking, "ranking.window_days", "ranking")
        title = self.value(news, "newsletter.title", "newsletter")
        return Config(
            path=path,
            store=self.value(data, "store"),
            out_dir=self.value(data, "out_dir"),
            templates=self.value(data, "templates"),
            title=title,
            sources=self.entries(data, "sources", self.source),
            readers=self.entries(data, "readers", self.reader),
            window_days=window,
            site=self.site(data, news, title),
            delivery=self.delivery(data),
            schedule=self.schedule(data),
            libraries=tuple(self.libraries),
        )

    def schedule(self, data: dict[Any, Any]) -> ScheduleConfig:
        node = self.get(data, "schedule") or {}
        where = "schedule"
        self.keys(node, where, "schedule")
        return ScheduleConfig(
            timezone=self.value(node, "schedule.timezone", where),
            ingest=self.job(node, "schedule.ingest"),
            build=self.job(node, "schedule.build"),
            grace_hours=self.value(node, "schedule.grace_hours", where),
            stale_hours=self.get(node, "schedule.stale_hours", where),
            heartbeat_url_env=self.get(node, "schedule.heartbeat_url_env", where),
            lock=self.get(node, "schedule.lock", where),
        )

    def job(self, node: Mapping[Any, Any], key: str) -> JobTime:
        job = self.get(node, key, "schedule") or {}
        self.keys(job, key, key)
        return JobTime(
            time=self.value(job, f"{key}.time", key), days=self.value(job, f"{key}.days", key)
        )

    def send_time(self, node: Mapping[Any, Any], path: str, zone: str) -> SendTime:
        where = _join(path, "send")
        send = self.get(node, "readers[].send", path)
        if send is None:
            return SendTime(timezone=zone)
        self.keys(send, where, "readers[].send")
        return SendTime(
            time=self.value(send, "readers[].send.time", where),
            timezone=self.get(send, "readers[].send.timezone", where) or zone,
            weekday=self.get(send, "readers[].send.weekday", where),
            empty=self.value(send, "readers[].send.empty", where),
        )

    def delivery(self, data: dict[Any, Any]) -> DeliveryConfig:
        node = self.get(data, "delivery") or {}
        self.keys(node, "delivery", "delivery")
        where = "delivery"
        method = self.get(node, "delivery.method", where)
        smtp_node = self.get(node, "delivery.smtp", where)
        smtp = self.smtp(smtp_node) if smtp_node is not None else None
        entry = DELIVERERS.get(method or default("delivery.method"))
        if entry is not None and entry.needs_smtp and smtp is None and "smtp" not in node:
            self.problems.append(f"delivery.smtp: required when delivery.method is {method}")
        base_url = self.get(node, "delivery.base_url", where)
        if (
            entry is not None
            and entry.needs_https
            and base_url
            and not base_url.startswith("https://")
        ):
            self.problems.append(
                "delivery.base_url: must be https when sending by SMTP (one-click unsubscribe)"
            )
        return DeliveryConfig(
            method=method or default("delivery.method"),
            base_url=base_url,
            secret_env=self.value(node, "delivery.secret_env", where),
            previous_secrets_env=self.get(node, "delivery.previous_secrets_env", where),
            smtp=smtp,
            rate=self.value(node, "delivery.rate", where),
            max_failures=self.value(node, "delivery.max_failures", where),
            retry_hours=self.value(node, "delivery.retry_hours", where),
            confirm_hours=self.value(node, "delivery.confirm_hours", where),
            confirm_per_hour=self.value(node, "delivery.confirm_per_hour", where),
            confirm_per_address=self.value(node, "delivery.confirm_per_address", where),
            operator=self.get(node, "delivery.operator", where),
        )

    def smtp(self, node: Mapping[Any, Any]) -> SmtpConfig:
        where = "delivery.smtp"
        self.keys(node, where, where)
        security = self.value(node, "delivery.smtp.security", where)
        port = self.get(node, "delivery.smtp.port", where)
        config = SmtpConfig(
            host=self.get(node, "delivery.smtp.host", where) or "",
            port=port or (465 if security == "tls" else default("delivery.smtp.port")),
            security=security,
            username_env=self.get(node, "delivery.smtp.username_env", where),
            password_env=self.get(node, "delivery.smtp.password_env", where),
            timeout=self.value(node, "delivery.smtp.timeout", where),
            per_connection=self.value(node, "delivery.smtp.per_connection", where),
            helo=self.get(node, "delivery.smtp.helo", where),
        )
        if security == "none" and (config.username_env or config.password_env):
            self.problems.append(
                f"{where}.security: none sends the password unencrypted; use starttls or tls"
            )
        return config

    def site(self, data: dict[Any, Any], news: Mapping[Any, Any], title: str) -> Site:
        site = self.get(data, "site") or {}
        self.keys(site, "site", "site")
        per_page = self.value(site, "site.days_per_page", "site")
        items = self.value(site, "site.feed_items", "site")
        # the From: `delivery.from`, or `newsletter.from` as before
        delivery = data.get("delivery")
        sending: Mapping[Any, Any] = delivery if isinstance(delivery, dict) else {}
        return Site(
            title=title,
            base_url=self.value(site, "site.base_url", "site"),
            intro=self.value(news, "newsletter.intro", "newsletter"),
            sender=self.get(sending, "delivery.from", "delivery")
            or self.get(news, "newsletter.from", "newsletter")
            or f"{title} <digest@localhost>",
            days_per_page=per_page,
            feed_items=items,
            list_id=self.value(sending, "delivery.list_id", "delivery"),
            unsubscribe_mailto=self.value(sending, "delivery.unsubscribe_mailto", "delivery"),
        )

    def entries(
        self, data: dict[Any, Any], key: str, build: Callable[[Any, str], N]
    ) -> tuple[N, ...]:
        """The mappings listed under `key`, each built; names must be unique."""
        items = self.get(data, key)
        if items == [] and key == "readers":
            self.problems.append(f"{key}: needs at least one reader")
        built: list[N] = []
        first: dict[str, int] = {}
        for index, item in enumerate(items or ()):
            where = f"{key}[{index}]"
            if not isinstance(item, dict):
                self.problems.append(f"{where}: expected a mapping, got {_type_name(item)}")
                continue
            built.append(entry := build(item, where))
            if (was := first.setdefault(entry.name, index)) != index and entry.name:
                self.problems.append(f"{where}.name: duplicate name {entry.name!r} ({key}[{was}])")
        return tuple(built)

    def source(self, node: dict[Any, Any], path: str) -> SourceConfig:
        self.keys(node, path, "sources[]")
        if ("path" in node) == ("url" in node):
            got = "both" if "path" in node else "neither"
            self.problems.append(f"{path}: needs exactly one of 'path' or 'url' (got {got})")
        return SourceConfig(
            name=self.get(node, "sources[].name", path) or "",
            kind=self.get(node, "sources[].kind", path) or "",
            path=self.get(node, "sources[].path", path),
            url=self.get(node, "sources[].url", path),
            date=self.get(node, "sources[].date", path),
            # an empty list keeps the default types
            announce_types=self.get(node, "sources[].announce_types", path)
            or default("sources[].announce_types"),
            weekends=self.value(node, "sources[].weekends", path),
        )

    def reader(self, node: dict[Any, Any], path: str) -> Profile:
        self.keys(node, path, "readers[]")
        name = self.get(node, "readers[].name", path) or ""
        if name in RESERVED_NAMES:
            taken = layout.RESERVED[name]
            self.problems.append(f"{_join(path, 'name')}: {name!r} is reserved ({taken})")
        interests = self.get(node, "readers[].interests", path) or {}
        where = _join(path, "interests")
        self.keys(interests, where, "readers[].interests")
        before = len(self.problems)
        # keywords and their weights (none: 1.0 each)
        keywords, weights = self.get(interests, "readers[].interests.keywords", where) or ((), ())
        liked = self.value(interests, "readers[].interests.liked", where)
        authors = self.value(interests, "readers[].interests.authors", where)
        disliked = self.value(interests, "readers[].interests.disliked", where)
        exclude = self.value(interests, "readers[].interests.exclude", where)
        library = self.library(node, path, name)
        if "interests" in node and len(self.problems) == before:
            problem = rules.interests_problem(
                keywords, weights, liked=bool(liked), authors=bool(authors), library=library
            )
            if problem is not None:
                at = f"{where}.keywords" if keywords else where
                self.problems.append(f"{at}: {problem}")
        top_k, near_misses, min_papers = self.shown(node, path)
        min_score = self.value(node, "readers[].min_score", path)
        popularity = self.value(node, "readers[].popularity", path)
        diversity = self.value(node, "readers[].diversity", path)
        return Profile(
            name=name,
            keywords=keywords,
            weights=weights,
            liked=liked,
            disliked=disliked,
            exclude=exclude,
            authors=authors,
            email=self.get(node, "readers[].email", path),
            display_name=self.get(node, "readers[].display_name", path),
            top_k=top_k,
            min_score=min_score,
            near_misses=near_misses,
            min_papers=min_papers,
            popularity=popularity,
            diversity=diversity,
            public=self.value(node, "readers[].public", path),
            note=self.value(node, "readers[].note", path),
            send=self.send_time(node, path, self.zone),
            paused=self.value(node, "readers[].paused", path),
        )

    def library(self, node: Mapping[Any, Any], path: str, name: str) -> bool:
        """The reader's `library` file or `zotero` library, noted in `libraries`; whether they
        have one."""
        file = self.get(node, "readers[].library", path)
        zotero = self.zotero(node, path)
        if file is not None and zotero is not None:
            self.problems.append(f"{path}: library and zotero: give one of them")
        elif file is not None or zotero is not None:
            self.libraries.append(LibrarySource(name, file, zotero))
        return file is not None or zotero is not None

    def zotero(self, node: Mapping[Any, Any], path: str) -> ZoteroConfig | None:
        found = self.get(node, "readers[].zotero", path)
        if found is None:
            return None
        where = _join(path, "zotero")
        self.keys(found, where, "readers[].zotero")
        user = self.get(found, "readers[].zotero.user", where)
        group = self.get(found, "readers[].zotero.group", where)
        if ("user" in found) == ("group" in found):
            got = "both" if "user" in found else "neither"
            self.problems.append(f"{where}: needs exactly one of 'user' or 'group' (got {got})")
        return ZoteroConfig(
            user=user,
            group=group,
            key_env=self.get(found, "readers[].zotero.key_env", where),
            collection=self.get(found, "readers[].zotero.collection", where),
        )

    def shown(self, node: Mapping[Any, Any], path: str) -> tuple[int, int, int]:
        """How many papers a reader's digest shows: `top_k` at most, up to `near_misses` of them
        loosely related, and at least `min_papers` (no more than `top_k`) when there are any."""
        top_k = self.value(node, "readers[].top_k", path)
        near_misses = self.value(node, "readers[].near_misses", path)
        min_papers = self.value(node, "readers[].min_papers", path)
        if min_papers > top_k:
            where = _join(path, "min_papers")
            self.problems.append(f"{where}: must be at most top_k ({top_k}), got {min_papers}")
        return top_k, near_misses, min_papers


def _check_keys(
    node: Mapping[Any, Any], allowed: Collection[str], path: str, problems: list[str]
) -> None:
    """Report unknown keys, suggesting a close one. Secret-like keys are left to `_secrets`."""
    for key in node:
        if not isinstance(key, str):
            problems.append(f"{_join(path, repr(key))}: keys must be strings")
        elif key not in allowed and not _is_secret(key):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(allowed))}"
            )
            problems.append(f"{_join(path, key)}: unknown key ({hint})")
