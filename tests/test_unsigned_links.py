"""Without a signing secret no reader link could work: feedback and a private reader's feed are
left out of every output (Markdown, HTML email, its text part, feeds, archive), never pointed
somewhere else. With a secret they are there, so the checks below can see them."""

from __future__ import annotations

import email
import re
import shutil
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from helpers import FIXTURES
from pg import StoreLocation

from digest.cli import main

CONFIG = """\
store: out/store.sqlite3
site: {base_url: "https://digest.example.org/"}
sources:
  - {name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}
readers:
  - name: ada
    email: ada@example.org
    interests: {keywords: [network pruning, quantization, knowledge distillation]}
"""
FEEDBACK = re.compile(r"More like this|Less like this|/f/[^/\s\"]+/")
PRIVATE_FEED = re.compile(r"feeds/ada\.(?:xml|atom)\b")  # where no private feed is ever served
SELF = re.compile(r'<(?:atom:)?link\b[^>]*rel="self"[^>]*>')


def _outputs(out: Path) -> dict[str, str]:
    """Every output as the text a reader meets: Markdown, the HTML preview, each part of the
    message, the feeds, the archive's pages."""
    found: dict[str, str] = {}
    for path in sorted(out.rglob("*")):
        name = path.relative_to(out).as_posix()
        if path.suffix in (".md", ".html", ".xml", ".atom"):
            found[name] = path.read_text("utf-8")
        elif path.suffix == ".eml":
            msg = email.message_from_bytes(path.read_bytes(), policy=default)
            assert isinstance(msg, EmailMessage)
            for part in msg.iter_parts():
                found[f"{name} {part.get_content_type()}"] = part.get_content()
    return found


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_location: StoreLocation) -> Path:
    """The fixture pages ingested and built, on SQLite and on PostgreSQL."""
    shutil.copytree(FIXTURES / "pages", tmp_path / "pages")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    assert main(["ingest"]) == 0
    assert main(["build"]) == 0
    return tmp_path


def test_without_a_secret_no_output_carries_a_link_that_cannot_work(built: Path) -> None:
    outputs = _outputs(built / "out")
    kinds = {name.rsplit(".", 1)[-1] for name in outputs}
    assert {"md", "html", "eml text/plain", "eml text/html", "xml", "atom"} <= kinds
    assert any(name.startswith("site/") for name in outputs)
    assert "\n## 1. " in outputs["digests/ada/2025-08-20.md"]  # papers are there
    for name, text in outputs.items():
        assert not FEEDBACK.search(text), name
        links = " ".join(SELF.findall(text)) if name.startswith("feeds/") else text
        assert not PRIVATE_FEED.search(links), name
    # the email still says where the day's papers are, and how to leave
    text_part = outputs["mail/ada/2025-08-20.eml text/plain"]
    assert "All papers of the day: https://digest.example.org/2025/08/20/" in text_part
    assert "Your feed" not in text_part
    assert "Your feed" not in outputs["mail/ada/2025-08-20.eml text/html"]


def test_with_a_secret_the_same_outputs_carry_them(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", "a secret of at least thirty-two bytes")
    assert main(["build"]) == 0
    outputs = _outputs(built / "out")
    for part in ("text/plain", "text/html"):
        text = outputs[f"mail/ada/2025-08-20.eml {part}"]
        assert "More like this" in text and "Less like this" in text
        assert re.search(r"https://digest\.example\.org/f/[^/\s\"]+/[^/\s\"]+/like", text)
        assert re.search(r"https://digest\.example\.org/feeds/[^/\s\"]+\.atom", text)
    for name in ("feeds/ada.xml", "feeds/ada.atom"):
        (self_link,) = SELF.findall(outputs[name])
        assert "https://digest.example.org/feeds/" in self_link
        assert not PRIVATE_FEED.search(self_link)
