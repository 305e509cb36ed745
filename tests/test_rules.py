"""One rule for an address, one for a keyword, one for each setting: config.yaml, `digest readers
add` (and `import`), the subscribe form and the reader's page accept and refuse the same values,
hostile ones included."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.cli.newsletter import _new_profile
from digest.config import load_config
from digest.errors import ConfigError
from digest.models import Profile, Subscriber
from digest.web import forms

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)

EMAILS = [
    ("ada@example.org", True),
    ("a@b.c", True),
    ("ada.lovelace+digest@mail.example.org", True),
    ("  ada@example.org  ", True),  # every caller strips
    ("üser@exämple.org", True),
    ("a@localhost", False),  # a domain of one label
    ("a@b..c", False),
    ("a@b.c\nBcc: x@y.z", False),  # header injection
    ("a@b.c\rBcc: x@y.z", False),
    ("a b@c.org", False),
    ("a@b.c, d@e.f", False),
    ("Ada <a@b.c>", False),
    ("a@@b.c", False),
    ("@b.c", False),
    ("a\x00@b.c", False),
    ("a\x7f@b.c", False),
    ("a\x1b[31m@b.c", False),
    ("a\u2028@b.c", False),
    ("a\x85@b.c", False),
    ("a@b." + "c" * 251, False),  # longer than 254
]

KEYWORDS = [
    ("graph neural networks", True),
    ("Schrödinger bridges", True),
    ("量子", True),
    ("x" * 100, True),
    ("x" * 101, False),
    ("tab\tinside", False),
    ("nul\x00inside", False),
    ("a\rBcc: x", False),
    ("line\u2028separator", False),
    ("del\x7f", False),
]


def _config_accepts(tmp_path: Path, email: str = "ada@example.org", keyword: str = "GNN") -> bool:
    path = tmp_path / "config.yaml"
    # JSON strings are YAML strings: every character above arrives as it is
    path.write_text(
        f"readers:\n  - name: ada\n    email: {json.dumps(email)}\n"
        f"    interests: {{keywords: [{json.dumps(keyword)}]}}\n",
        encoding="utf-8",
    )
    try:
        load_config(path, kinds={"feed"})
    except ConfigError:
        return False
    return True


def _cli_accepts(email: str = "ada@example.org", keyword: str = "GNN") -> bool:
    try:
        _new_profile("ada", email, keyword)
    except ConfigError:
        return False
    return True


def _form_accepts(email: str = "ada@example.org", keyword: str = "GNN") -> bool:
    try:
        forms.signup({"email": email, "display_name": "", "keywords": keyword})
    except forms.FormError:
        return False
    return True


@pytest.mark.parametrize(("email", "valid"), EMAILS)
def test_config_the_cli_and_the_form_agree_on_an_address(tmp_path, email, valid):
    found = {
        "config": _config_accepts(tmp_path, email=email),
        "readers add": _cli_accepts(email=email),
        "subscribe form": _form_accepts(email=email),
    }
    assert found == dict.fromkeys(found, valid)


@pytest.mark.parametrize(("keyword", "valid"), KEYWORDS)
def test_config_the_cli_and_the_form_agree_on_a_keyword(tmp_path, keyword, valid):
    found = {
        "config": _config_accepts(tmp_path, keyword=keyword),
        "readers add": _cli_accepts(keyword=keyword),
        "subscribe form": _form_accepts(keyword=keyword),
    }
    assert found == dict.fromkeys(found, valid)


@pytest.mark.parametrize(
    ("address", "valid"),
    [("root@localhost", True), ("ops@example.org", True), ("a\nBcc: x@localhost", False)],
)
def test_the_operators_own_addresses_may_name_a_host_alone(tmp_path, address, valid):
    """The sender and the alerts' address may be a local host's (`digest@localhost`, the
    documented default sender); a reader's address may not (above)."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"newsletter: {{from: {json.dumps(f'Digest <{address}>')}}}\n"
        f"delivery: {{operator: {json.dumps(address)},"
        f" unsubscribe_mailto: {json.dumps(address)}}}\n"
        "readers:\n  - name: ada\n    email: ada@example.org\n    interests: {keywords: [GNN]}\n",
        encoding="utf-8",
    )
    if valid:
        config = load_config(path, kinds={"feed"})
        assert config.delivery.operator == address
    else:
        with pytest.raises(ConfigError):
            load_config(path, kinds={"feed"})


SETTINGS = [  # (config.yaml key under readers[], the page's field, the value, valid)
    ("top_k", "top_k", 1, True),
    ("top_k", "top_k", 100, True),
    ("top_k", "top_k", 0, False),
    ("top_k", "top_k", 101, False),
    ("send.time", "time", "07:30", True),
    ("send.time", "time", "7:05", True),
    ("send.time", "time", "24:00", False),
    ("send.time", "time", "noon", False),
    ("send.timezone", "timezone", "Europe/Berlin", True),
    ("send.timezone", "timezone", "UTC", True),
    ("send.timezone", "timezone", "Mars/Olympus", False),
    ("send.timezone", "timezone", "../../etc/passwd", False),
    ("send.weekday", "weekday", "fri", True),
    ("send.weekday", "weekday", "friday", False),
    ("interests.exclude", "exclude", "survey", True),
    ("interests.exclude", "exclude", "bad\x1bescape", False),
    ("interests.authors", "authors", "Ada Lovelace", True),
    ("interests.authors", "authors", "nul\x00inside", False),
]


def _page_accepts(field: str, value: object) -> bool:
    """Whether the reader's page saves `value` in `field` (forms.settings, as the page calls it)."""
    profile = Profile(name="ada", keywords=("GNN",))
    reader = Subscriber(profile, "active", "config", 0, NOW, NOW)
    sent = replace(forms.SettingsForm.of(profile), **{field: str(value)})
    if field == "weekday":
        sent = replace(sent, cadence="weekly")
    try:
        forms.settings(sent, reader, liked=False)
    except forms.FormError:
        return False
    return True


def _config_with(tmp_path: Path, key: str, value: object) -> bool:
    *parents, name = key.split(".")
    entry: dict[str, object] = {"name": "ada", "interests": {"keywords": ["GNN"]}}
    node = entry
    for parent in parents:
        node = node.setdefault(parent, {})  # type: ignore[assignment]
    node[name] = [value] if key.startswith("interests.") else value
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({"readers": [entry]}), encoding="utf-8")  # JSON is YAML
    try:
        load_config(path, kinds={"feed"})
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize(("key", "field", "value", "valid"), SETTINGS)
def test_config_and_the_readers_page_agree_on_a_setting(tmp_path, key, field, value, valid):
    found = {
        "config": _config_with(tmp_path, key, value),
        "reader's page": _page_accepts(field, value),
    }
    assert found == dict.fromkeys(found, valid)


@pytest.mark.parametrize(("keyword", "valid"), KEYWORDS)
def test_config_and_the_readers_page_agree_on_a_keyword(tmp_path, keyword, valid):
    assert _page_accepts("keywords", keyword) is valid
    assert _config_accepts(tmp_path, keyword=keyword) is valid
