"""The deliverer registry (digest/deliver/__init__.py): every entry answers every question the
program asks of a delivery method, what an entry says it needs is what config.yaml requires,
no code outside the registry and the config branches on a method's name, and a new entry is
all a new channel takes (its plan, send and alert through the store on SQLite and on
PostgreSQL, `store_location`)."""

from __future__ import annotations

import ast
import email
import email.policy
import shutil
import textwrap
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from helpers import FIXTURES
from pg import StoreLocation
from smtpserver import SmtpServer

import digest
from digest.app import alerts
from digest.app.jobs import Operator
from digest.config import Config, load_config
from digest.deliver import DELIVERERS, Deliverer, deliverer, smtp
from digest.errors import ConfigError
from digest.models import Artifact
from digest.sources import SOURCES
from digest.store import Store

PACKAGE = Path(digest.__file__).parent
NOW = datetime(2025, 8, 20, 5, 0, tzinfo=UTC)
CONFIG = """\
store: out/store.sqlite3
sources:
  - {{name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}}
delivery:
  method: {method}
  operator: ops@example.org
  from: "Paper Digest <digest@example.org>"
  base_url: {base_url}
  rate: 1000
{smtp}readers:
  - name: ada
    email: ada@example.org
    interests: {{keywords: [network pruning, quantization, knowledge distillation]}}
"""
SMTP = "  smtp: {{host: 127.0.0.1, port: {port}, security: {security}, timeout: 10{auth}}}\n"


def config_text(
    method: str,
    *,
    smtp_block: bool = True,
    base_url: str = "https://digest.example.org/",
    port: int = 25,
    auth: str = "",
    security: str = "none",
) -> str:
    block = SMTP.format(port=port, auth=auth, security=security) if smtp_block else ""
    return CONFIG.format(method=method, base_url=base_url, smtp=block)


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pages").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "pages" / "000_136fd171620bccff.txt", tmp_path / "pages")
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(project(tmp_path, text), kinds=SOURCES.keys())


# -- no branch on a method's name outside the registry --------------------------------------


def method_names_compared(source: str, names: set[str]) -> list[int]:
    """Lines of `source` that compare a value with one of `names` (`==`, `!=`, `in`, `not in`,
    a `case`), or look one up by name in DELIVERERS."""

    def named(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(named(element) for element in node.elts)
        return False

    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(named(n) for n in [node.left, *node.comparators]):
            lines.append(node.lineno)
        elif isinstance(node, ast.MatchValue) and named(node.value):
            lines.append(node.value.lineno)
        elif isinstance(node, ast.Subscript) and named(node.slice):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_finder_sees_every_shape_of_branch_on_a_method() -> None:
    source = textwrap.dedent(
        """\
        if config.delivery.method == "smtp":
            pass
        ok = "files" != method
        ok = method in ("files", "smtp")
        write = DELIVERERS["files"]
        match method:
            case "smtp":
                pass
        fine = method == "feed" or {"smtp": 1}.get(method)
        """
    )
    assert method_names_compared(source, {"files", "smtp"}) == [1, 3, 4, 5, 7]


def test_no_code_outside_the_registry_and_the_config_branches_on_a_method_name() -> None:
    allowed = (PACKAGE / "deliver", PACKAGE / "config")
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(allowed[0]) or path.is_relative_to(allowed[1]):
            continue
        lines = method_names_compared(path.read_text(encoding="utf-8"), set(DELIVERERS))
        found += [f"{path.relative_to(PACKAGE.parent)}:{line}" for line in lines]
    assert found == [], "ask deliverer(config) instead of comparing the method's name"


# -- every entry answers every question -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(DELIVERERS))
def test_each_entry_answers_every_question(name: str, tmp_path: Path) -> None:
    entry = DELIVERERS[name]
    assert isinstance(entry, Deliverer) and entry.name == name
    assert isinstance(entry.plans_ledger, bool) and isinstance(entry.sends, bool)
    assert isinstance(entry.needs_smtp, bool) and isinstance(entry.needs_https, bool)
    assert entry.needs_secret is None or entry.needs_secret.strip()
    # a ledger row is a promise to send: no method plans rows it cannot send
    assert entry.sends or not entry.plans_ledger
    # every method writes its artifacts under the output directory, and nowhere else
    message = Artifact(Path("mail/ada/2025-08-20.eml"), b"x\r\n", "message/rfc822")
    written = entry([message], tmp_path)
    assert written == [tmp_path / "mail/ada/2025-08-20.eml"]
    assert written[0].read_bytes() == b"x\r\n"
    # the configured method chooses the entry
    config = load(tmp_path, config_text(name))
    assert deliverer(config) is entry


def test_files_sends_nothing_and_says_so(tmp_path: Path) -> None:
    config = load(tmp_path, config_text("files"))
    files = deliverer(config)
    assert (files.sends, files.plans_ledger, files.needs_secret) == (False, False, None)
    with pytest.raises(ConfigError) as caught:
        files.transport(config, {})
    assert str(caught.value) == (
        "delivery.method: files writes .eml files and sends nothing "
        "(set delivery.method: smtp to send)"
    )


def test_smtp_sends_through_the_server_config_yaml_names(tmp_path: Path) -> None:
    with SmtpServer() as server:
        config = load(tmp_path, config_text("smtp", port=server.port))
        chosen = deliverer(config)
        assert (chosen.sends, chosen.plans_ledger, chosen.needs_smtp) == (True, True, True)
        assert chosen.needs_https and chosen.needs_secret
        transport = chosen.transport(config, {})
        try:
            outcome = transport.send("digest@example.org", ["ada@example.org"], b"Hi\r\n")
        finally:
            transport.close()
        assert outcome.kind == "sent"
        assert [m.recipients for m in server.messages] == [("ada@example.org",)]


def test_smtp_credentials_come_from_the_variables_config_yaml_names(tmp_path: Path) -> None:
    auth = ", username_env: SMTP_USER, password_env: SMTP_PASSWORD"
    config = load(tmp_path, config_text("smtp", port=587, auth=auth, security="starttls"))
    with pytest.raises(ConfigError, match="username_env: the environment variable SMTP_USER"):
        deliverer(config).transport(config, {})
    made = smtp.settings(config, {"SMTP_USER": "u", "SMTP_PASSWORD": "p"})
    assert (made.username, made.password, made.port) == ("u", "p", 587)


def test_an_unknown_method_is_one_config_error(tmp_path: Path) -> None:
    config = load(tmp_path, config_text("files"))
    unknown = replace(config, delivery=replace(config.delivery, method="pigeon"))
    with pytest.raises(ConfigError) as caught:
        deliverer(unknown)
    assert str(caught.value) == (
        f"delivery.method: unknown method pigeon (one of {', '.join(DELIVERERS)})"
    )


# -- what an entry needs is what config.yaml requires ---------------------------------------


@pytest.mark.parametrize("name", sorted(DELIVERERS))
def test_what_an_entry_needs_is_what_the_config_requires(name: str, tmp_path: Path) -> None:
    entry = DELIVERERS[name]
    load(tmp_path / "all", config_text(name))  # everything given: every method loads

    def refused(text: str, key: str) -> bool:
        try:
            load(tmp_path / key, text)
        except ConfigError as exc:
            assert any(f"delivery.{key}:" in line for line in exc.problems), exc.problems
            return True
        return False

    assert refused(config_text(name, smtp_block=False), "smtp") == entry.needs_smtp
    http = config_text(name, base_url="http://digest.example.org/")
    assert refused(http, "base_url") == entry.needs_https


# -- a new channel is a new entry ------------------------------------------------------------


def test_a_new_entry_is_planned_sent_and_alerted_through_with_no_other_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_location: StoreLocation
) -> None:
    """A `relay` method (SMTP without signed links) added to the registry alone: the build
    plans its ledger, the send job sends through it, an alert goes by it."""
    relay = Deliverer("relay", plans_ledger=True, connect=smtp.connect)
    monkeypatch.setitem(DELIVERERS, "relay", relay)
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    with SmtpServer() as server:
        loaded = load(tmp_path, config_text("smtp", port=server.port))
        config = replace(
            loaded,
            store=store_location(Path(loaded.store)),
            delivery=replace(loaded.delivery, method="relay"),
        )
        jobs = Operator(config, clock=lambda: NOW, environ={})
        jobs.ingest()
        jobs.build()
        with Store.open(config.store) as store:
            assert [d.reader for d in store.deliveries(date(2025, 8, 20))] == ["ada"]
        jobs.send("ada")
        alerts.send(config, "a test alert", "nothing is wrong", now=NOW)
        got = Counter(r for m in server.messages for r in m.recipients)
        subjects = [
            email.message_from_bytes(m.content, policy=email.policy.default)["Subject"]
            for m in server.messages
        ]
    assert got == Counter({"ada@example.org": 1, "ops@example.org": 1})
    assert subjects[-1] == "[Paper Digest] a test alert"
    assert not (config.out_dir / "mail" / "operator").exists()
