"""Reading config.yaml: YAML with duplicate keys reported, and secrets refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from digest.config.checks import _ENV_NAME, _SECRET, _join
from digest.errors import ConfigError

MISSING_HINT = "run from the project directory or pass --config"


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
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, found up front
        where = f"character {exc.position + 1}: " if exc.position is not None else ""
        raise ConfigError(f"{path}: {where}invalid YAML: {_character(exc)}") from None
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
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def _character(exc: yaml.reader.ReaderError) -> str:
    """`control character U+001F not allowed`, on one line (YAML's own message has two)."""
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return f"character U+{code:04X} not allowed ({exc.reason})"


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
            name = key.encode("unicode_escape").decode()  # on one line, whatever is in it
            problems.append(f"{where}: {message}; use '{name}_env: ENV_VAR_NAME' instead")
        else:
            _secrets(item, where, problems, seen)


def _is_secret(key: str) -> bool:
    """`password`, `smtp_token`, `apiKey`, ...; never `*_env`, which names a variable."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower().replace("-", "_")
    return not words.endswith("_env") and _SECRET.search(words) is not None
