"""Checkers: each takes a value and returns it cleaned, or raises `_Invalid` saying why."""

from __future__ import annotations

import contextlib
import datetime
import glob
import math
import re
import zoneinfo
from collections.abc import Callable, Collection
from email.utils import formataddr, parseaddr
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from digest.config import rules

_SLUG = rules.SLUG
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_SECRET = re.compile(r"pass(word|wd|phrase)|secret|api_?key|(^|_)token(_|$)")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")

T = TypeVar("T")
Check = Callable[[Any], T]


class _Invalid(Exception):
    """What is wrong with a value, as (key-path suffix, message) pairs; suffixes name items."""

    def __init__(self, message: str = "", found: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.found = found or (("", message),)


def _wrong(value: object, expected: str) -> _Invalid:
    got = "null" if value is None else _type_name(value)
    quote = isinstance(value, int | float | datetime.date) and "string" in expected
    return _Invalid(f"expected {expected}, got {got}" + (f" {value!r} (quote it)" if quote else ""))


def _typed(value: object, *, kind: type[T], expected: str) -> T:
    if isinstance(value, kind):
        return value
    raise _wrong(value, expected)


_mapping = partial(_typed, kind=dict, expected="a mapping")


def _str(value: object) -> str:
    """Stripped; never empty, never with control characters (newlines, tabs, ...)."""
    text = _typed(value, kind=str, expected="a string").strip()
    if not text:
        raise _Invalid("must not be empty")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text):
        raise _Invalid("must not contain control characters (newlines, tabs, ...)")
    return text


def _match(value: object, *, pattern: re.Pattern[str], message: str) -> str:
    text = _str(value)
    if pattern.fullmatch(text):
        return text
    raise _Invalid(message.format(repr(text)))


_slug = partial(_match, pattern=_SLUG, message="invalid name {} (use 1-64 of a-z 0-9 - _)")
_zotero_collection = partial(
    _match,
    pattern=re.compile(r"[A-Z0-9]{8}"),
    message="expected a collection key (ABCD2345), got {}",
)


def _zotero_id(value: object) -> str:
    """A Zotero user's or group's id: digits (as a number or a string)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else _str(value)
    if not re.fullmatch(r"\d{1,12}", text):
        raise _Invalid(f"expected a Zotero library id (digits), got {text!r}")
    return text


def _email(value: object, *, host_ok: bool = False) -> str:
    text = _str(value)
    if rules.is_email(text, host_ok=host_ok):
        return text
    raise _Invalid(f"not an email address: {text!r}")


# the operator's own address (alerts, List-Unsubscribe's mailto): a host alone will do
_operator_email = partial(_email, host_ok=True)


def _keyword(value: object) -> str:
    text = _str(value)
    problem = rules.keyword_problem(text)
    if problem is not None:
        raise _Invalid(problem)
    return text


def _text(value: object) -> str:
    """Text that may span lines (Markdown): no control characters besides newlines and tabs."""
    text = _typed(value, kind=str, expected="a string").strip()
    if any((ord(ch) < 32 and ch not in "\n\t\r") or 127 <= ord(ch) < 160 for ch in text):
        raise _Invalid("must not contain control characters")
    return text


def _sender(value: object) -> str:
    """`Name <address>` or a bare address, as an email From."""
    text = _str(value)
    name, address = parseaddr(text)
    if not rules.is_email(address, host_ok=True):
        raise _Invalid(f"expected `Name <address@domain>` or an address, got {text!r}")
    return formataddr((name, address)) if name else address


def _env_name(value: object) -> str:
    """The NAME of an environment variable (`_secrets` has already said so if it is not)."""
    text = _str(value)
    if not _ENV_NAME.fullmatch(text):
        raise _Invalid(f"expected an environment variable's name, got {text!r}")
    return text


def _list_id(value: object) -> str:
    """A List-Id (RFC 2919): `Name <list.id.domain>` or just the id."""
    text = _str(value)
    name, _, rest = text.rpartition("<")
    ident = rest.rstrip(">").strip() if rest.endswith(">") else text
    if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", ident):
        raise _Invalid(f"expected `Name <list.example.org>` or `list.example.org`, got {text!r}")
    name = name.strip() if rest.endswith(">") else ""
    return f"{name} <{ident}>" if name else f"<{ident}>"


def _clock(value: object) -> str:
    """A wall-clock time `HH:MM` (24-hour). YAML reads an unquoted 07:30 as a string here, but
    7:30 unquoted may become a number of minutes in YAML 1.1: quote it."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise _Invalid(f'expected a time as "HH:MM" in quotes, got {value!r}')
    text = _str(value)
    found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
    if not found:
        raise _Invalid(f"expected a time as HH:MM (00:00 to 23:59), got {text!r}")
    return f"{int(found[1]):02d}:{found[2]}"


_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"


def _days(value: object) -> str:
    """Weekdays by name, as cron has them: `*`, `mon-fri`, `mon,wed,fri`, `sat-sun` (names, never
    numbers: APScheduler 3 counts weekdays from Monday = 0, unlike cron)."""
    text = _str(value).lower().replace(" ", "")
    if text in ("*", "daily", "every day"):
        return "*"
    item = rf"{_DAY}(-{_DAY})?"
    if not re.fullmatch(rf"{item}(,{item})*", text):
        raise _Invalid(f"expected weekday names such as mon-fri or mon,wed,fri, got {text!r}")
    return text


def _zone(value: object) -> str:
    """An IANA time zone name (Europe/Berlin, America/Los_Angeles, UTC)."""
    text = _str(value)
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Invalid(f"unknown time zone {text!r} (use a name such as Europe/Berlin)") from None
    return text


def _base_url(value: object) -> str:
    """An http(s) URL with no query or fragment, ending in `/`."""
    text = _str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise _Invalid(f"expected an http(s) URL such as https://digest.example.org/, got {text!r}")
    return text if text.endswith("/") else text + "/"


def _choice(value: object, *, known: Collection[str], what: str = "kind") -> str:
    if (text := _str(value)) in known:
        return text
    raise _Invalid(f"unknown {what} {text!r} (known: {', '.join(sorted(known))})")


def _announce_types(value: object) -> tuple[str, ...]:
    return _list_of(partial(_choice, known=ANNOUNCE_TYPES, what="announce type"))(value)


def _url(value: object) -> str:
    """http(s) only; `{date}` is the one placeholder."""
    text = _str(value)
    with contextlib.suppress(ValueError):
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.netloc and " " not in text:
            unknown = [name for name in _PLACEHOLDER.findall(text) if name != "date"]
            if unknown:
                raise _Invalid(f"unknown placeholder {{{unknown[0]}}} (only {{date}} is known)")
            return text
    raise _Invalid(f"expected an http(s) URL, got {text!r}")


def _date(value: object) -> datetime.date:
    """A YAML date or a 'YYYY-MM-DD' string; not a date and time."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    text = _str(str(value) if isinstance(value, datetime.datetime) else value)
    with contextlib.suppress(ValueError):
        if _ISO_DATE.fullmatch(text):
            return datetime.date.fromisoformat(text)
    raise _Invalid(f"invalid date {text!r} (expected YYYY-MM-DD)")


def _int(value: object, *, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(value, "an integer")
    if not low <= value <= high:
        raise _Invalid(f"must be between {low} and {high}, got {value}")
    return value


def _number(value: object, *, low: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _wrong(value, "a number")
    if not (math.isfinite(value) and value >= low):
        raise _Invalid(f"must be a number >= {low}, got {value}")
    return float(value)


def _share(value: object) -> float:
    """A number from 0 to 1."""
    number = _number(value, low=0.0)
    if number > 1:
        raise _Invalid(f"must be between 0 and 1, got {value}")
    return number


def _keywords(value: object) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """A list of keywords, or a mapping of keyword to weight (a positive number, 1 by default)."""
    if isinstance(value, list):
        words = _list_of(_keyword)(value)
        return words, ()  # 1.0 each
    if not isinstance(value, dict):
        raise _wrong(value, "a list of strings or a mapping of keyword to weight")
    terms: list[str] = []
    weights: list[float] = []
    found: list[tuple[str, str]] = []
    for key, weight in value.items():
        try:
            terms.append(_keyword(key))
            weights.append(1.0 if weight is None else _number(weight, low=0.0))
        except _Invalid as exc:
            found += [(f"[{key!r}]{sub}", message) for sub, message in exc.found]
    if found:
        raise _Invalid(found=tuple(found))
    return tuple(terms), tuple(weights)


def _list_of(item: Check[T]) -> Check[tuple[T, ...]]:
    """A checker for a list whose entries pass `item`; each bad entry is reported at `[index]`."""

    def check(value: object) -> tuple[T, ...]:
        clean, found = [], []
        for index, entry in enumerate(_typed(value, kind=list, expected="a list of strings")):
            try:
                clean.append(item(entry))
            except _Invalid as exc:
                found += [(f"[{index}]{sub}", message) for sub, message in exc.found]
        if found:
            raise _Invalid(found=tuple(found))
        return tuple(clean)

    return check


_PATH_PROBLEMS: dict[str, Callable[[Path], str]] = {
    "store": lambda p: "is a directory" if p.is_dir() else "",
    "schedule.lock": lambda p: "is a directory" if p.is_dir() else "",
    "out_dir": lambda p: "not a directory" if p.exists() and not p.is_dir() else "",
    "templates": lambda p: "" if p.is_dir() else "no such directory",
    # a library file is read at each build, which reports it missing; config.yaml stays valid
    "library": lambda p: "is a directory" if p.is_dir() else "",
    # a `{date}` path names a file per digest date, read when that date is ingested
    "sources": lambda p: "" if "{date}" in str(p) or _expand(p) else _no_files(p),
}


def _no_files(path: Path) -> str:
    if path.is_dir():
        return "no such file in directory"
    return "no such file matches" if _is_glob(str(path)) else "no such file or directory"


def _path(value: object, *, base: Path, role: str) -> Path:
    """Relative to `base`, the config's directory. A source path may be a glob pattern."""
    text = _str(value)
    raw = Path(text).expanduser()
    if role == "sources" and _is_glob(text):  # escape `base` so only `text` is a pattern
        resolved = raw if raw.is_absolute() else Path(glob.escape(str(base))) / raw
    else:
        resolved = (base / raw).resolve()
    if wrong := _PATH_PROBLEMS[role](resolved):
        raise _Invalid(f"{wrong}: {resolved}")
    return resolved


STORE_SCHEMES = ("postgresql", "postgres")
_NO_PASSWORD = (
    "the password comes from the environment (PGPASSWORD) or ~/.pgpass, never from the URL"
)


def store_location(text: str, *, base: Path) -> Path | str:
    """Where the store is: a `postgresql://` (or `postgres://`) URL, as it is, or the path of
    an SQLite file relative to `base`. The same rule for `store:`, DIGEST_STORE and --store;
    ValueError says what is wrong."""
    text = text.strip()
    scheme, sep, _ = text.partition("://")
    if not sep:
        if not text:
            raise ValueError("expected a file path or a postgresql:// URL, got nothing")
        path = (base / Path(text).expanduser()).resolve()
        if path.is_dir():
            raise ValueError(f"is a directory: {path}")
        return path
    if scheme.lower() not in STORE_SCHEMES:
        raise ValueError(f"expected a file path or a postgresql:// URL, got a {scheme}:// URL")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as exc:
        raise ValueError(f"not a PostgreSQL URL: {exc}") from None
    if parts.password is not None or "password=" in parts.query.lower():
        raise ValueError(f"a password in the URL: {_NO_PASSWORD}")
    return f"postgresql://{text.partition('://')[2]}"


def _store(value: object, *, base: Path) -> Path | str:
    try:
        return store_location(_str(value), base=base)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _expand(path: Path) -> list[Path]:
    """A file -> itself; a directory -> its visible files; a glob -> the files it matches."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if _is_glob(str(path)):
        return sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    return []


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _type_name(value: object) -> str:
    return (
        "mapping" if isinstance(value, dict) else _TYPE_NAMES.get(type(value), type(value).__name__)
    )


def _join(path: str, key: str) -> str:
    """`path.key`; a key with a newline or another unprintable character is shown quoted."""
    name = key if key.isprintable() else repr(key)
    return f"{path}.{name}" if path else name
