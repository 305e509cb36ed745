"""Every config.yaml key, declared once: its dotted path, type, default, check and one line of help.

A path names a key by where it sits: `delivery.smtp.port`; `[]` stands for any item of a list
(`readers[].send.time`). A mapping's own key (`delivery.smtp`) is listed too, so the keys allowed
in a mapping are the ones under it here, and those marked `required` must be there.

`type` is the type as README.md's config reference states it; `default` is the value a left-out
key gets (None: none), and `shown` says the default in words when it is made from other keys.
A check takes the value, plus what `needs` names: `base` (the config's directory, for paths) and
`known` (the source kinds). tests/test_config_table.py holds README.md's reference to this table.
A new key is one entry here and one `value` line where its record is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from digest import layout
from digest.config.checks import (
    _announce_types,
    _base_url,
    _choice,
    _clock,
    _date,
    _days,
    _email,
    _env_name,
    _int,
    _Invalid,
    _keywords,
    _list_id,
    _list_of,
    _mapping,
    _number,
    _operator_email,
    _path,
    _sender,
    _share,
    _slug,
    _store,
    _str,
    _text,
    _typed,
    _url,
    _zone,
    _zotero_collection,
    _zotero_id,
)
from digest.deliver import DELIVERERS
from digest.models import WEEKDAYS, Profile, SendTime, Site

SECURITY = ("starttls", "tls", "none")
_bool = partial(_typed, kind=bool, expected="true or false")
_list = partial(_typed, kind=list, expected="a list")
_PROFILE, _SITE, _SEND = Profile(name=""), Site(), SendTime()  # readers' and the site's defaults


def _paths(value: object, *, base: Any) -> tuple[Any, ...]:
    return _list_of(partial(_path, base=base, role="templates"))(value)


@dataclass(frozen=True, slots=True)
class Key:
    """One key of config.yaml."""

    path: str
    type: str
    default: Any = None
    check: Callable[..., Any] = _mapping
    help: str = ""
    shown: str | None = None  # the default in words, when it is made from other keys
    required: bool = False
    needs: tuple[str, ...] = ()  # given to the check besides the value: `base`, `known`

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]


def _int_in(low: int, high: int) -> Callable[[object], int]:
    return partial(_int, low=low, high=high)


def _at_least(low: float) -> Callable[[object], float]:
    return partial(_number, low=low)


KEYS: tuple[Key, ...] = (
    Key("store", "path or URL", f"{layout.OUT}/{layout.STORE}", _store,
        "the store: an SQLite file, or a postgresql:// URL", needs=("base",)),
    Key("out_dir", "path", layout.OUT, partial(_path, role="out_dir"),
        "where outputs are written", needs=("base",)),
    Key("templates", "list of directories", (), _paths,
        "template directories searched before the shipped ones", needs=("base",)),
    Key("newsletter", "mapping", help="the newsletter's name, intro and sender"),
    Key("newsletter.title", "string", _SITE.title, _str, "the newsletter's name"),
    Key("newsletter.intro", "Markdown", "", _text, "a few lines atop every email and archive"),
    Key("newsletter.from", "`Name <address>`", None, _sender, "the sender of every email",
        shown="`<title> <digest@localhost>`"),
    Key("site", "mapping", help="the archive site"),
    Key("site.base_url", "http(s) URL", _SITE.base_url, _base_url, "where the archive is served"),
    Key("site.days_per_page", "integer 1-366", _SITE.days_per_page, _int_in(1, 366),
        "days per archive index page"),
    Key("site.feed_items", "integer 1-1000", _SITE.feed_items, _int_in(1, 1000),
        "entries per feed"),
    Key("ranking", "mapping", help="how papers are ranked"),
    Key("ranking.window_days", "integer ≥ 1", 90, _int_in(1, 36500),
        "days of papers TF-IDF is fitted on"),
    Key("sources", "list", (), _list, "where papers come from"),
    Key("sources[].name", "slug, required", None, _slug, "the source's unique name",
        required=True),
    Key("sources[].kind", "required", None, _choice, "what the source is", required=True,
        needs=("known",)),
    Key("sources[].path", "path", None, partial(_path, role="sources"),
        "a file, directory or glob", needs=("base",)),
    Key("sources[].url", "http(s) URL", None, _url, "fetched over HTTP; `{date}` filled in"),
    Key("sources[].date", "`YYYY-MM-DD`", None, _date, "the digest date of the source's data"),
    Key("sources[].announce_types", "list", ("new", "cross"), _announce_types,
        "arXiv announce types to keep"),
    Key("sources[].weekends", "boolean", True, _bool, "whether a `{date}` source has weekends"),
    Key("readers", "list, required", None, _list, "who gets a digest", required=True),
    Key("readers[].name", "slug, required", None, _slug, "the reader's unique name",
        required=True),
    Key("readers[].display_name", "string", None, _str, "how digests address the reader",
        shown="the name"),
    Key("readers[].email", "address", None, _email, "the reader's address"),
    Key("readers[].interests", "mapping", help="what the reader wants to read", required=True),
    Key("readers[].interests.keywords", "list of strings, or mapping keyword → weight", (),
        _keywords, "words and phrases, each with a weight"),
    Key("readers[].interests.exclude", "list of strings", (), _list_of(_str),
        "words that rule a paper out"),
    Key("readers[].interests.liked", "list of strings", (), _list_of(_str),
        "papers the reader liked"),
    Key("readers[].interests.disliked", "list of strings", (), _list_of(_str),
        "papers the reader disliked"),
    Key("readers[].interests.authors", "list of strings", (), _list_of(_str),
        "followed authors"),
    Key("readers[].library", "path", None, partial(_path, role="library"),
        "a library file, read again at each build", needs=("base",)),
    Key("readers[].zotero", "mapping", help="a Zotero library, read through its Web API"),
    Key("readers[].zotero.user", "id", None, _zotero_id, "a user's library"),
    Key("readers[].zotero.group", "id", None, _zotero_id, "a group's library"),
    Key("readers[].zotero.key_env", "variable name", None, _env_name,
        "the variable holding the API key"),
    Key("readers[].zotero.collection", "collection key", None, _zotero_collection,
        "one collection", shown="the whole library"),
    Key("readers[].top_k", "integer 1-100", _PROFILE.top_k, _int_in(1, 100),
        "papers in a digest, at most"),
    Key("readers[].min_score", "number ≥ 0", _PROFILE.min_score, _at_least(0.0),
        "papers scoring no more are left out"),
    Key("readers[].near_misses", "integer 0-100", _PROFILE.near_misses, _int_in(0, 100),
        "loosely related papers shown, at most"),
    Key("readers[].min_papers", "integer 0-`top_k`", _PROFILE.min_papers, _int_in(0, 100),
        "papers shown at least, when there are any"),
    Key("readers[].popularity", "number 0-1", _PROFILE.popularity, _share,
        "the share of a score from upvotes"),
    Key("readers[].diversity", "number 0-1", _PROFILE.diversity, _share,
        "how far near-duplicates give way"),
    Key("readers[].public", "boolean", _PROFILE.public, _bool, "published on the archive site"),
    Key("readers[].paused", "boolean", _PROFILE.paused, _bool,
        "no digest is built or sent until unpaused"),
    Key("readers[].note", "Markdown", _PROFILE.note, _text, "a note atop the reader's emails"),
    Key("readers[].send", "mapping", help="when the reader's digest is sent"),
    Key("readers[].send.time", "`\"HH:MM\"`", _SEND.time, _clock, "when the digest is sent"),
    Key("readers[].send.timezone", "IANA zone", None, _zone, "the reader's own zone",
        shown="`schedule.timezone`"),
    Key("readers[].send.weekday", "`mon` ... `sun`", None,
        partial(_choice, known=WEEKDAYS, what="weekday"), "the day of a weekly digest"),
    Key("readers[].send.empty", "boolean", _SEND.empty, _bool, "also send empty digests"),
    Key("delivery", "mapping", help="how digests reach readers"),
    Key("delivery.method", "`files` or `smtp`", "files",
        partial(_choice, known=tuple(DELIVERERS), what="method"), "write .eml files, or send"),
    Key("delivery.from", "`Name <address>`", None, _sender, "the sender",
        shown="`newsletter.from`"),
    Key("delivery.base_url", "http(s) URL", None, _base_url, "where `digest serve` answers",
        shown="`site.base_url`"),
    Key("delivery.secret_env", "variable name", "DIGEST_SECRET", _env_name,
        "the variable holding the link-signing secret"),
    Key("delivery.previous_secrets_env", "variable name", None, _env_name,
        "secrets still accepted after a rotation"),
    Key("delivery.smtp", "mapping", help="the SMTP server"),
    Key("delivery.rate", "number > 0", 10.0, _at_least(0.001), "messages per second, at most"),
    Key("delivery.max_failures", "integer ≥ 1", 20, _int_in(1, 1_000_000),
        "failed sends in a row that pause sending"),
    Key("delivery.retry_hours", "number ≥ 0", 20.0, _at_least(0.0),
        "how long after the build temporary failures are retried"),
    Key("delivery.list_id", "`Name <id.domain>`", _SITE.list_id, _list_id, "the List-Id header",
        shown="title and sender's domain"),
    Key("delivery.unsubscribe_mailto", "address", _SITE.unsubscribe_mailto, _operator_email,
        "the mailto: of List-Unsubscribe", shown="the sender"),
    Key("delivery.confirm_hours", "number > 0", 72.0, _at_least(0.01),
        "how long a subscribe confirmation link works"),
    Key("delivery.confirm_per_hour", "integer ≥ 1", 20, _int_in(1, 1_000_000),
        "subscribe requests let through an hour"),
    Key("delivery.confirm_per_address", "integer ≥ 1", 3, _int_in(1, 1000),
        "subscribe requests let through a day for one address"),
    Key("delivery.operator", "address", None, _operator_email, "where alerts go"),
    Key("delivery.smtp.host", "string, required", None, _str, "the SMTP server", required=True),
    Key("delivery.smtp.port", "integer", 587, _int_in(1, 65535), "its port",
        shown="587 (465 for `tls`)"),
    Key("delivery.smtp.security", "`starttls`, `tls`, `none`", "starttls",
        partial(_choice, known=SECURITY, what="security"), "STARTTLS, implicit TLS or plain"),
    Key("delivery.smtp.username_env", "variable name", None, _env_name,
        "the variable holding the user name"),
    Key("delivery.smtp.password_env", "variable name", None, _env_name,
        "the variable holding the password"),
    Key("delivery.smtp.timeout", "seconds ≥ 1", 120.0, _at_least(1.0), "the socket timeout"),
    Key("delivery.smtp.per_connection", "integer ≥ 1", 100, _int_in(1, 100_000),
        "messages per connection"),
    Key("delivery.smtp.helo", "string", None, _str, "the name given in EHLO",
        shown="this host's name"),
    Key("schedule", "mapping", help="when `digest schedule` ingests and builds"),
    Key("schedule.timezone", "IANA zone", "America/New_York", _zone,
        "the zone of the jobs' times, and readers' default zone"),
    Key("schedule.ingest", '`{time: "HH:MM", days: mon-fri}`', help="when the ingest job runs"),
    Key("schedule.ingest.time", '`"HH:MM"`', "00:30", _clock, "the ingest job's time"),
    Key("schedule.ingest.days", "weekday names", "mon-fri", _days, "the ingest job's days"),
    Key("schedule.build", '`{time: "HH:MM", days: mon-fri}`', help="when the build job runs"),
    Key("schedule.build.time", '`"HH:MM"`', "01:00", _clock, "the build job's time"),
    Key("schedule.build.days", "weekday names", "mon-fri", _days, "the build job's days"),
    Key("schedule.grace_hours", "number ≥ 0", 6.0, _at_least(0.0),
        "how late a missed run still runs"),
    Key("schedule.stale_hours", "number ≥ 1", None, _at_least(1.0),
        "status warns when the last good run is older", shown="from the schedule"),
    Key("schedule.heartbeat_url_env", "variable name", None, _env_name,
        "a URL requested after each run that went well"),
    Key("schedule.lock", "path", None, partial(_path, role="schedule.lock"),
        "the one-scheduler lock file", shown="`<store>.schedule.lock`", needs=("base",)),
)  # fmt: skip
BY_PATH = {key.path: key for key in KEYS}


class Invalid(ValueError):
    """What is wrong with a value for a key, as `(where, message)` pairs: `where` names an item
    of a list (`[2]`, the third) or is empty for the value as a whole."""

    def __init__(self, found: tuple[tuple[str, str], ...]) -> None:
        super().__init__(
            "; ".join(f"{where}: {message}" if where else message for where, message in found)
        )
        self.found = found


def checked(path: str, value: object) -> Any:
    """`value` checked and cleaned by the check of the key at `path`, the rule config.yaml's value
    meets (for keys whose check needs nothing besides the value): the reader's page
    (digest/web/forms.py) holds its fields to config.yaml's rules this way. Invalid otherwise."""
    key = BY_PATH[path]
    if key.needs:
        raise ValueError(f"{path}: its check needs {', '.join(key.needs)}")
    try:
        return key.check(value)
    except _Invalid as exc:
        raise Invalid(exc.found) from None


def default(path: str) -> Any:
    """The default of the key at `path`."""
    return BY_PATH[path].default


def children(path: str) -> tuple[Key, ...]:
    """The keys of the mapping at `path` ("" for the top level)."""
    return tuple(key for key in KEYS if key.parent == path)
