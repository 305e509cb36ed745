"""The config table: docs/configuration.md's config reference lists its keys with their defaults,
the records default to what it says, and the keys it declares are read."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from digest.config import DeliveryConfig, ScheduleConfig, SmtpConfig, SourceConfig, load_config
from digest.config.keys import BY_PATH, KEYS, Key, children
from digest.errors import ConfigError
from digest.models import Profile, SendTime, Site

KINDS = {"hf_text", "hf_api", "hf_html", "feed"}
README = Path(__file__).parents[1] / "docs" / "configuration.md"
READER = """
readers:
  - name: alice
    interests:
      keywords: [graph neural networks]
"""


def load(directory: Path, text: str) -> object:
    path = directory / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, kinds=KINDS)


# --- README.md's reference against the table --------------------------------------------------


def reference(readme: str) -> list[tuple[list[str], str, str]]:
    """The rows of the `## config.yaml reference` table: (key paths, type, default)."""
    section = readme.split("\n## config.yaml reference\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        names = re.findall(r"`([^`]+)`", cells[0])
        parent = names[0].rpartition(".")[0]  # `delivery.smtp.username_env`, `password_env`
        paths = [name if "." in name or not parent else f"{parent}.{name}" for name in names]
        rows.append((paths, cells[1], cells[2]))
    return rows


def stated(key: Key) -> str:
    """The default as the reference should state it."""
    if key.shown is not None:
        return key.shown
    if kids := children(key.path):  # `schedule.ingest`: its keys' defaults
        return ", ".join(f"`{kid.default}`" for kid in kids)
    return "" if key.default in (None, "") else "`value`"


def same_default(key: Key, cell: str) -> bool:
    want = stated(key)
    if want != "`value`":
        return cell == want
    if not re.fullmatch(r"`[^`]+`", cell):
        return False
    value = key.default
    return bool(yaml.safe_load(cell.strip("`")) == (list(value) if type(value) is tuple else value))


def disagreements(readme: str) -> list[str]:
    """Where the reference and the table differ: a key missing or extra, a default or a type."""
    found: list[str] = []
    documented: set[str] = set()
    for paths, kind, cell in reference(readme):
        for path in paths:
            documented.add(path)
            key = BY_PATH.get(path)
            if key is None:
                found.append(f"{path}: in README.md, not in the table")
                continue
            if not same_default(key, cell):
                found.append(f"{path}: README.md's default {cell!r}, the table's {stated(key)!r}")
            if len(paths) == 1 and kind != key.type:
                found.append(f"{path}: README.md's type {kind!r}, the table's {key.type!r}")
            if key.required != ("required" in kind):
                found.append(f"{path}: required in one of README.md and the table only")
    # a key needs a row of its own unless it holds others or its mapping has a row
    needed = [k.path for k in KEYS if not children(k.path) and k.parent not in documented]
    found += [f"{path}: not in README.md" for path in needed if path not in documented]
    return found


def test_the_readme_reference_lists_every_key_with_its_default():
    assert disagreements(README.read_text(encoding="utf-8")) == []


def test_the_comparison_finds_a_key_missing_one_extra_and_a_default_changed():
    readme = README.read_text(encoding="utf-8")
    rate = "| `delivery.rate` | number > 0 | `10` | messages per second, at most |\n"
    assert rate in readme
    missing = readme.replace(rate, "")
    extra = readme.replace(rate, rate + "| `delivery.speed` | number | `1` | how fast |\n")
    changed = readme.replace(rate, rate.replace("`10`", "`12`"))
    words = readme.replace("| this host's name |", "| the host |")
    assert disagreements(missing) == ["delivery.rate: not in README.md"]
    assert disagreements(extra) == ["delivery.speed: in README.md, not in the table"]
    assert disagreements(changed) == [
        "delivery.rate: README.md's default '`12`', the table's '`value`'"
    ]
    assert disagreements(words) == [
        "delivery.smtp.helo: README.md's default 'the host', the table's \"this host's name\""
    ]


def test_every_key_sits_in_a_mapping_or_list_the_table_declares():
    for key in KEYS:
        parent = key.parent.removesuffix("[]")
        assert parent == "" or parent in BY_PATH, key.path
        assert key.help, key.path


# --- the table's defaults are the records' ----------------------------------------------------


def test_a_config_of_required_keys_only_loads_the_records_defaults(tmp_path):
    config = load(tmp_path, "sources:\n  - {name: s, kind: feed, url: 'https://a.org/'}\n" + READER)
    assert config.sources == (SourceConfig(name="s", kind="feed", url="https://a.org/"),)
    assert config.readers == (
        Profile(name="alice", keywords=("graph neural networks",), send=SendTime()),
    )
    assert config.site == Site()
    assert config.delivery == DeliveryConfig()
    assert config.schedule == ScheduleConfig()
    assert config.window_days == BY_PATH["ranking.window_days"].default
    assert config.store == tmp_path / "out/digest.sqlite3"
    smtp = load(tmp_path, "delivery: {smtp: {host: h}}\n" + READER).delivery.smtp
    assert smtp == SmtpConfig(host="h")


# --- keys read as declared -----------------------------------------------------------------------


def test_a_retry_hours_of_zero_is_kept_not_replaced_by_the_default(tmp_path):
    config = load(tmp_path, "delivery: {retry_hours: 0}\n" + READER)
    assert config.delivery.retry_hours == 0.0


def test_schedule_lock_is_a_path_beside_the_config(tmp_path):
    config = load(tmp_path, "schedule: {lock: run/x.lock}\n" + READER)
    assert config.schedule.lock == tmp_path / "run/x.lock"
    (tmp_path / "run").mkdir()
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "schedule: {lock: run}\n" + READER)
    assert caught.value.problems == (
        f"{tmp_path / 'config.yaml'}: schedule.lock: is a directory: {tmp_path / 'run'}",
    )


def test_a_key_with_a_newline_is_named_on_one_line(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, '"\\n": 1\nsite: {"a\\nb": 1, "my\\npassword": x}\n' + READER)
    assert caught.value.problems == (
        f"{tmp_path / 'config.yaml'}: site.'my\\npassword': secrets do not belong in the"
        " config file; use 'my\\npassword_env: ENV_VAR_NAME' instead",
        f"{tmp_path / 'config.yaml'}: '\\n': unknown key (known: delivery, newsletter, out_dir,"
        " ranking, readers, schedule, site, sources, store, templates)",
        f"{tmp_path / 'config.yaml'}: site.'a\\nb': unknown key (known: base_url, days_per_page,"
        " feed_items)",
    )
