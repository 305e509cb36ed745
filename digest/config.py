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
import glob
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from digest.errors import ConfigError
from digest.models import Profile

MISSING_HINT = "run from the project directory or pass --config"

_TOP_KEYS = ("store", "out_dir", "templates", "newsletter", "sources", "readers")
_NEWSLETTER_KEYS = ("title",)
_SOURCE_KEYS = ("name", "kind", "path", "url", "date")
_READER_KEYS = ("name", "display_name", "email", "interests", "top_k", "min_score")
_INTEREST_KEYS = ("keywords", "liked")

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_SECRET = re.compile(r"pass(word|wd|phrase)|secret|api_?key|(^|_)token(_|$)")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}

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

    def files(self) -> list[Path]:
        """The files `path` names (itself, the visible files in it, or its matches), sorted."""
        return _expand(self.path) if self.path is not None else []


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


class _Loader(yaml.SafeLoader):
    """safe_load, but duplicate keys are found (with their key path and lines), and an impossible
    date such as 2025-13-01 stays a string for validation to report."""

    def lenient_timestamp(self, node: yaml.ScalarNode) -> object:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def duplicate_keys(self, node: yaml.Node, path: str, seen: set[int]) -> Iterator[str]:
        if id(node) in seen:  # an alias of a node already walked
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                yield from self.duplicate_keys(item, f"{path}[{index}]", seen)
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    where, line = _join(path, key.value), key.start_mark.line + 1
                    if (key.tag, key.value) in first:
                        was = first[key.tag, key.value]
                        yield f"{where}: duplicate key (line {line}; first on line {was})"
                    first.setdefault((key.tag, key.value), line)
                    yield from self.duplicate_keys(value, where, seen)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.lenient_timestamp)


def _read(path: Path) -> tuple[object, list[str]]:
    """The parsed document and its duplicate-key problems; ConfigError if it cannot be parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file", hint=MISSING_HINT) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        duplicates = list(loader.duplicate_keys(node, "", set()))  # before merges rewrite nodes
        return loader.construct_document(node), duplicates
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: {where}invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()


class _Validator:
    """Reads each mapping of the schema, collecting `<key path>: <message>` problems."""

    def __init__(self, base: Path, kinds: frozenset[str], problems: list[str]) -> None:
        self.base, self.kinds, self.problems = base, kinds, problems

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
        news = self.get(data, "newsletter", _mapping) or {}
        self.keys(news, "newsletter", _NEWSLETTER_KEYS)
        return Config(
            path=path,
            store=self.get(data, "store", self.path("store")) or self.base / "out/digest.sqlite3",
            out_dir=self.get(data, "out_dir", self.path("out_dir")) or self.base / "out",
            templates=self.get(data, "templates", _list_of(self.path("templates"))) or (),
            title=self.get(news, "title", _str, "newsletter") or "Paper Digest",
            sources=self.entries(data, "sources", self.source),
            readers=self.entries(data, "readers", self.reader),
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
        )

    def reader(self, node: dict[Any, Any], path: str) -> Profile:
        self.keys(node, path, _READER_KEYS, "name", "interests")
        name = self.get(node, "name", _slug, path) or ""
        interests = self.get(node, "interests", _mapping, path)
        keywords, liked = self.interests(interests, _join(path, "interests"))
        top_k = self.get(node, "top_k", partial(_int, low=1, high=100), path)
        min_score = self.get(node, "min_score", partial(_number, low=0.0), path)
        return Profile(
            name=name,
            keywords=keywords,
            liked=liked,
            email=self.get(node, "email", _email, path),
            display_name=self.get(node, "display_name", _str, path),
            top_k=10 if top_k is None else top_k,
            min_score=0.0 if min_score is None else min_score,
        )

    def interests(self, node: dict[Any, Any] | None, path: str) -> tuple[tuple[str, ...], ...]:
        if node is None:
            return (), ()
        self.keys(node, path, _INTEREST_KEYS)
        before = len(self.problems)
        found = tuple(self.get(node, key, _list_of(_str), path) or () for key in _INTEREST_KEYS)
        if len(self.problems) == before and not any(found):
            self.problems.append(f"{path}: needs keywords or liked papers")
        return found


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


def _secrets(value: object, path: str, problems: list[str], seen: set[int]) -> None:
    """Anywhere in the tree: no secret-like keys, and `*_env` keys hold a variable's NAME."""
    if id(value) in seen or not isinstance(value, dict | list):
        return
    seen.add(id(value))
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        where = f"{path}[{key}]" if isinstance(value, list) else _join(path, str(key))
        if isinstance(key, str) and key.endswith("_env"):
            if not (isinstance(item, str) and _ENV_NAME.fullmatch(item.strip())):
                message = "expected the NAME of an environment variable (like SMTP_PASSWORD)"
                problems.append(f"{where}: {message}, not its value")
        elif isinstance(key, str) and _is_secret(key):
            message = "secrets do not belong in the config file"
            problems.append(f"{where}: {message}; use '{key}_env: ENV_VAR_NAME' instead")
        else:
            _secrets(item, where, problems, seen)


def _is_secret(key: str) -> bool:
    """`password`, `smtp_token`, `apiKey`, ...; never `*_env`, which names a variable."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower().replace("-", "_")
    return not words.endswith("_env") and _SECRET.search(words) is not None


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
_email = partial(_match, pattern=_EMAIL, message="not an email address: {}")


def _choice(value: object, *, known: Collection[str]) -> str:
    if (text := _str(value)) in known:
        return text
    raise _Invalid(f"unknown kind {text!r} (known: {', '.join(sorted(known))})")


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
    "out_dir": lambda p: "not a directory" if p.exists() and not p.is_dir() else "",
    "templates": lambda p: "" if p.is_dir() else "no such directory",
    "sources": lambda p: "" if _expand(p) else _no_files(p),
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
    return f"{path}.{key}" if path else key
