"""config.yaml, read once: parsed, validated in full, returned as frozen records.

Checkers (`_str`, `_match`, `_int`, `_list_of`, `_path`, ...) are pure: they return a value cleaned
or raise `_Invalid`. `_Validator` walks the schema, adds key paths (`readers[1].interests.keywords`)
and collects every problem, so all are reported at once. A new key is a name in its `_*_KEYS` tuple
plus one `get` line where its mapping is read.
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

from digest.config.checks import (
    _announce_types,
    _base_url,
    _choice,
    _clock,
    _date,
    _days,
    _email,
    _env_name,
    _expand,
    _int,
    _Invalid,
    _join,
    _keywords,
    _list_id,
    _list_of,
    _mapping,
    _number,
    _path,
    _sender,
    _share,
    _slug,
    _str,
    _text,
    _type_name,
    _typed,
    _url,
    _zone,
)
from digest.config.reading import MISSING_HINT as MISSING_HINT
from digest.config.reading import _is_secret, _read, _secrets
from digest.errors import ConfigError
from digest.models import DIVERSITY, POPULARITY, WEEKDAYS, Profile, SendTime, Site

_TOP_KEYS = (
    "store",
    "out_dir",
    "templates",
    "newsletter",
    "site",
    "ranking",
    "sources",
    "readers",
    "delivery",
    "schedule",
)
_RANKING_KEYS = ("window_days",)
_NEWSLETTER_KEYS = ("title", "intro", "from")
_SITE_KEYS = ("base_url", "days_per_page", "feed_items")
_DELIVERY_KEYS = (
    "method",
    "from",
    "base_url",
    "secret_env",
    "previous_secrets_env",
    "smtp",
    "rate",
    "max_failures",
    "retry_hours",
    "list_id",
    "unsubscribe_mailto",
    "confirm_hours",
    "confirm_per_hour",
    "confirm_per_address",
    "operator",
)
_SMTP_KEYS = (
    "host",
    "port",
    "security",
    "username_env",
    "password_env",
    "timeout",
    "per_connection",
    "helo",
)
_SOURCE_KEYS = ("name", "kind", "path", "url", "date", "announce_types", "weekends")
_READER_KEYS = (
    "name",
    "display_name",
    "email",
    "interests",
    "top_k",
    "min_score",
    "near_misses",
    "min_papers",
    "popularity",
    "diversity",
    "public",
    "note",
    "send",
)
_SEND_KEYS = ("time", "timezone", "weekday", "empty")
_SCHEDULE_KEYS = (
    "timezone",
    "ingest",
    "build",
    "grace_hours",
    "stale_hours",
    "heartbeat_url_env",
    "lock",
)
_JOB_KEYS = ("time", "days")
_INTEREST_KEYS = ("keywords", "exclude", "liked", "disliked", "authors")
WINDOW_DAYS = 90
SECURITY = ("starttls", "tls", "none")
RESERVED_NAMES = ("all",)  # feeds/all.xml is the public feed
_bool = partial(_typed, kind=bool, expected="true or false")
_PROFILE = Profile(name="")  # a reader's defaults, for keys that are left out


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
    announce_types: tuple[str, ...] = ("new", "cross")
    weekends: bool = True

    def files(self) -> list[Path]:
        """The files `path` names (itself, the visible files in it, or its matches), sorted."""
        return _expand(self.path) if self.path is not None else []


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to hand messages to an SMTP server. Credentials stay in the environment:
    the config names the variables."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls (587), tls (465) or none (a local relay only)
    username_env: str | None = None
    password_env: str | None = None
    timeout: float = 120.0  # seconds; short timeouts after DATA make duplicates (RFC 5321 4.5.3.2)
    per_connection: int = 100  # messages per SMTP session before a new one is opened
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

    timezone: str = "America/New_York"
    ingest: JobTime = JobTime("00:30", "mon-fri")
    build: JobTime = JobTime("01:00", "mon-fri")
    grace_hours: float = 6.0  # a run missed (the scheduler was down) still runs this late, once
    stale_hours: float | None = (
        None  # status warns when the last good run is older; None: from the schedule
    )
    heartbeat_url_env: str | None = None  # a URL requested after each successful run
    lock: Path | None = None  # the one-scheduler lock file; default: beside the store


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How digests reach readers: files (.eml under out/mail, the default) or SMTP."""

    method: str = "files"
    base_url: str | None = None  # where `digest serve` answers; default: the site's base_url
    secret_env: str = "DIGEST_SECRET"  # the variable holding the token-signing secret
    previous_secrets_env: str | None = None  # secrets still accepted after a rotation
    smtp: SmtpConfig | None = None
    rate: float = 10.0  # messages per second, at most
    max_failures: int = 20  # consecutive failed sends that pause the day's sending
    retry_hours: float = 20.0  # temporary failures are retried until this long after the build
    confirm_hours: float = 72.0  # how long a subscribe confirmation link works
    confirm_per_hour: int = 20  # subscribe requests let through an hour, all addresses together
    confirm_per_address: int = 3  # ... and a day for one address
    operator: str | None = None  # where alerts go: a failing source, a failed run, a pause


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated config. Every path is absolute."""

    path: Path
    store: Path
    out_dir: Path
    templates: tuple[Path, ...]
    title: str
    sources: tuple[SourceConfig, ...]
    readers: tuple[Profile, ...]
    window_days: int = WINDOW_DAYS  # the corpus TF-IDF is fitted on: this many days back
    site: Site = field(default_factory=Site)  # name, intro, sender, archive address
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

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
    """Reads each mapping of the schema, collecting `<key path>: <message>` problems."""

    def __init__(self, base: Path, kinds: frozenset[str], problems: list[str]) -> None:
        self.base, self.kinds, self.problems = base, kinds, problems
        self.zone = ScheduleConfig().timezone  # readers' default zone: the schedule's

    def get(self, node: Mapping[Any, Any], key: str, check: Check[T], path: str = "") -> T | None:
        """`check(node[key])`, or None when the key is absent or its value is invalid."""
        try:
            return check(node[key]) if key in node else None
        except _Invalid as exc:
            where = _join(path, key)
            self.problems.extend(f"{where}{sub}: {message}" for sub, message in exc.found)
            return None

    def keys(
        self, node: Mapping[Any, Any], path: str, allowed: tuple[str, ...], *need: str
    ) -> None:
        """Unknown keys (see `_check_keys`) and missing required ones."""
        _check_keys(node, allowed, path, self.problems)
        self.problems.extend(f"{_join(path, key)}: required" for key in need if key not in node)

    def path(self, role: str) -> Check[Path]:
        return partial(_path, base=self.base, role=role)

    def config(self, data: dict[Any, Any], path: Path) -> Config:
        self.keys(data, "", _TOP_KEYS, "readers")
        schedule = data.get("schedule")
        if isinstance(schedule, dict) and isinstance(schedule.get("timezone"), str):
            with contextlib.suppress(_Invalid):
                self.zone = _zone(schedule["timezone"])
        news = self.get(data, "newsletter", _mapping) or {}
        self.keys(news, "newsletter", _NEWSLETTER_KEYS)
        ranking = self.get(data, "ranking", _mapping) or {}
        self.keys(ranking, "ranking", _RANKING_KEYS)
        window = self.get(ranking, "window_days", partial(_int, low=1, high=36500), "ranking")
        title = self.get(news, "title", _str, "newsletter") or "Paper Digest"
        return Config(
            path=path,
            store=self.get(data, "store", self.path("store")) or self.base / "out/digest.sqlite3",
            out_dir=self.get(data, "out_dir", self.path("out_dir")) or self.base / "out",
            templates=self.get(data, "templates", _list_of(self.path("templates"))) or (),
            title=title,
            sources=self.entries(data, "sources", self.source),
            readers=self.entries(data, "readers", self.reader),
            window_days=window or WINDOW_DAYS,
            site=self.site(data, news, title),
            delivery=self.delivery(data),
            schedule=self.schedule(data),
        )

    def schedule(self, data: dict[Any, Any]) -> ScheduleConfig:
        node = self.get(data, "schedule", _mapping) or {}
        where = "schedule"
        self.keys(node, where, _SCHEDULE_KEYS)
        default = ScheduleConfig()
        zone = self.get(node, "timezone", _zone, where) or default.timezone
        return ScheduleConfig(
            timezone=zone,
            ingest=self.job(node, "ingest", default.ingest),
            build=self.job(node, "build", default.build),
            grace_hours=_or(
                self.get(node, "grace_hours", partial(_number, low=0.0), where), default.grace_hours
            ),
            stale_hours=self.get(node, "stale_hours", partial(_number, low=1.0), where),
            heartbeat_url_env=self.get(node, "heartbeat_url_env", _env_name, where),
            lock=self.get(node, "lock", self.path("schedule.lock"), where),
        )

    def job(self, node: Mapping[Any, Any], key: str, default: JobTime) -> JobTime:
        where = f"schedule.{key}"
        job = self.get(node, key, _mapping, "schedule")
        if job is None:
            return default
        self.keys(job, where, _JOB_KEYS)
        return JobTime(
            time=self.get(job, "time", _clock, where) or default.time,
            days=self.get(job, "days", _days, where) or default.days,
        )

    def send_time(self, node: Mapping[Any, Any], path: str, zone: str) -> SendTime:
        where = _join(path, "send")
        send = self.get(node, "send", _mapping, path)
        if send is None:
            return SendTime(timezone=zone)
        self.keys(send, where, _SEND_KEYS)
        return SendTime(
            time=self.get(send, "time", _clock, where) or "07:00",
            timezone=self.get(send, "timezone", _zone, where) or zone,
            weekday=self.get(
                send, "weekday", partial(_choice, known=WEEKDAYS, what="weekday"), where
            ),
            empty=self.get(send, "empty", _bool, where) is True,
        )

    def delivery(self, data: dict[Any, Any]) -> DeliveryConfig:
        node = self.get(data, "delivery", _mapping) or {}
        self.keys(node, "delivery", _DELIVERY_KEYS)
        where = "delivery"
        method = self.get(
            node, "method", partial(_choice, known=("files", "smtp"), what="method"), where
        )
        smtp_node = self.get(node, "smtp", _mapping, where)
        smtp = self.smtp(smtp_node) if smtp_node is not None else None
        if method == "smtp" and smtp is None and "smtp" not in node:
            self.problems.append("delivery.smtp: required when delivery.method is smtp")
        base_url = self.get(node, "base_url", _base_url, where)
        if method == "smtp" and base_url and not base_url.startswith("https://"):
            self.problems.append(
                "delivery.base_url: must be https when sending by SMTP (one-click unsubscribe)"
            )
        default = DeliveryConfig()
        return DeliveryConfig(
            method=method or default.method,
            base_url=base_url,
            secret_env=self.get(node, "secret_env", _env_name, where) or default.secret_env,
            previous_secrets_env=self.get(node, "previous_secrets_env", _env_name, where),
            smtp=smtp,
            rate=self.get(node, "rate", partial(_number, low=0.001), where) or default.rate,
            max_failures=self.get(node, "max_failures", partial(_int, low=1, high=1_000_000), where)
            or default.max_failures,
            retry_hours=self.get(node, "retry_hours", partial(_number, low=0.0), where)
            or default.retry_hours,
            confirm_hours=self.get(node, "confirm_hours", partial(_number, low=0.01), where)
            or default.confirm_hours,
            confirm_per_hour=self.get(
                node, "confirm_per_hour", partial(_int, low=1, high=1_000_000), where
            )
            or default.confirm_per_hour,
            confirm_per_address=self.get(
                node, "confirm_per_address", partial(_int, low=1, high=1000), where
            )
            or default.confirm_per_address,
            operator=self.get(node, "operator", _email, where),
        )

    def smtp(self, node: Mapping[Any, Any]) -> SmtpConfig:
        where = "delivery.smtp"
        self.keys(node, where, _SMTP_KEYS, "host")
        security = (
            self.get(node, "security", partial(_choice, known=SECURITY, what="security"), where)
            or "starttls"
        )
        port = self.get(node, "port", partial(_int, low=1, high=65535), where)
        config = SmtpConfig(
            host=self.get(node, "host", _str, where) or "",
            port=port or (465 if security == "tls" else 587),
            security=security,
            username_env=self.get(node, "username_env", _env_name, where),
            password_env=self.get(node, "password_env", _env_name, where),
            timeout=self.get(node, "timeout", partial(_number, low=1.0), where) or 120.0,
            per_connection=self.get(
                node, "per_connection", partial(_int, low=1, high=100_000), where
            )
            or 100,
            helo=self.get(node, "helo", _str, where),
        )
        if security == "none" and (config.username_env or config.password_env):
            self.problems.append(
                f"{where}.security: none sends the password unencrypted; use starttls or tls"
            )
        return config

    def site(self, data: dict[Any, Any], news: Mapping[Any, Any], title: str) -> Site:
        site = self.get(data, "site", _mapping) or {}
        self.keys(site, "site", _SITE_KEYS)
        default = Site()
        per_page = self.get(site, "days_per_page", partial(_int, low=1, high=366), "site")
        items = self.get(site, "feed_items", partial(_int, low=1, high=1000), "site")
        # the From: `delivery.from`, or `newsletter.from` as before
        delivery = data.get("delivery")
        sending: Mapping[Any, Any] = delivery if isinstance(delivery, dict) else {}
        return Site(
            title=title,
            base_url=self.get(site, "base_url", _base_url, "site") or default.base_url,
            intro=self.get(news, "intro", _text, "newsletter") or "",
            sender=self.get(sending, "from", _sender, "delivery")
            or self.get(news, "from", _sender, "newsletter")
            or f"{title} <digest@localhost>",
            days_per_page=per_page or default.days_per_page,
            feed_items=items or default.feed_items,
            list_id=self.get(sending, "list_id", _list_id, "delivery") or "",
            unsubscribe_mailto=self.get(sending, "unsubscribe_mailto", _email, "delivery") or "",
        )

    def entries(
        self, data: dict[Any, Any], key: str, build: Callable[[Any, str], N]
    ) -> tuple[N, ...]:
        """The mappings listed under `key`, each built; names must be unique."""
        items = self.get(data, key, partial(_typed, kind=list, expected="a list"))
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
        self.keys(node, path, _SOURCE_KEYS, "name", "kind")
        if ("path" in node) == ("url" in node):
            got = "both" if "path" in node else "neither"
            self.problems.append(f"{path}: needs exactly one of 'path' or 'url' (got {got})")
        return SourceConfig(
            name=self.get(node, "name", _slug, path) or "",
            kind=self.get(node, "kind", partial(_choice, known=self.kinds), path) or "",
            path=self.get(node, "path", self.path("sources"), path),
            url=self.get(node, "url", _url, path),
            date=self.get(node, "date", _date, path),
            announce_types=self.get(node, "announce_types", _announce_types, path)
            or ("new", "cross"),
            weekends=self.get(node, "weekends", _bool, path) is not False,
        )

    def reader(self, node: dict[Any, Any], path: str) -> Profile:
        self.keys(node, path, _READER_KEYS, "name", "interests")
        name = self.get(node, "name", _slug, path) or ""
        if name in RESERVED_NAMES:
            self.problems.append(f"{_join(path, 'name')}: {name!r} is reserved (feeds/{name}.xml)")
        interests = self.get(node, "interests", _mapping, path) or {}
        where = _join(path, "interests")
        self.keys(interests, where, _INTEREST_KEYS)
        before = len(self.problems)
        keywords, weights = self.get(interests, "keywords", _keywords, where) or ((), ())
        liked = self.get(interests, "liked", _list_of(_str), where) or ()
        authors = self.get(interests, "authors", _list_of(_str), where) or ()
        disliked = self.get(interests, "disliked", _list_of(_str), where) or ()
        exclude = self.get(interests, "exclude", _list_of(_str), where) or ()
        if "interests" in node and len(self.problems) == before:
            if not (keywords or liked or authors):
                self.problems.append(f"{where}: needs keywords, liked papers or authors")
            elif weights and not any(weights) and not liked and not authors:
                self.problems.append(f"{where}.keywords: needs a keyword with a weight above 0")
        top_k, near_misses, min_papers = self.shown(node, path)
        min_score = self.get(node, "min_score", partial(_number, low=0.0), path)
        popularity = self.get(node, "popularity", _share, path)
        diversity = self.get(node, "diversity", _share, path)
        return Profile(
            name=name,
            keywords=keywords,
            weights=weights,
            liked=liked,
            disliked=disliked,
            exclude=exclude,
            authors=authors,
            email=self.get(node, "email", _email, path),
            display_name=self.get(node, "display_name", _str, path),
            top_k=top_k,
            min_score=0.0 if min_score is None else min_score,
            near_misses=near_misses,
            min_papers=min_papers,
            popularity=POPULARITY if popularity is None else popularity,
            diversity=DIVERSITY if diversity is None else diversity,
            public=self.get(node, "public", _bool, path) is True,
            note=self.get(node, "note", _text, path) or "",
            send=self.send_time(node, path, self.zone),
        )

    def shown(self, node: Mapping[Any, Any], path: str) -> tuple[int, int, int]:
        """How many papers a reader's digest shows: `top_k` at most, up to `near_misses` of them
        loosely related, and at least `min_papers` (no more than `top_k`) when there are any."""
        top_k = self.get(node, "top_k", partial(_int, low=1, high=100), path)
        near_misses = self.get(node, "near_misses", partial(_int, low=0, high=100), path)
        min_papers = self.get(node, "min_papers", partial(_int, low=0, high=100), path)
        top_k = _or(top_k, _PROFILE.top_k)
        if min_papers is not None and min_papers > top_k:
            where = _join(path, "min_papers")
            self.problems.append(f"{where}: must be at most top_k ({top_k}), got {min_papers}")
        return (
            top_k,
            _or(near_misses, _PROFILE.near_misses),
            _or(min_papers, _PROFILE.min_papers),
        )


def _or(value: T | None, default: T) -> T:
    """`value` unless it is None (unlike `or`, keeps a 0)."""
    return default if value is None else value


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
