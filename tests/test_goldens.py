"""Every output of a build, byte for byte, against golden files in tests/fixtures/golden.

A small fixed project (a Daily Papers text page kept as older history, two Daily Papers API days,
three readers) is run through `digest run` twice, as a user runs it: once with a fixed
link-signing secret and once without. The clock is fixed with DIGEST_NOW; every address and
domain an output names comes from config.yaml; nothing in an output depends on where the project
lives. From the signed run: alan's email of the newest day (alan has loosely related papers on
both days), split into its headers, its text part and its HTML part; his Markdown digest; his
feeds (RSS and Atom; a private reader's, so their self links are signed); the public feeds; the
archive's day page, index and public reader page. From the unsigned run: alan's email and feeds
again, where the links that need a secret are left out.

A move that leaves the outputs alone passes; any changed byte fails with a short diff.
Regenerate after an intended change with `DIGEST_UPDATE_GOLDEN=1` and review the diff.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES

from digest.cli import main

GOLDEN = FIXTURES / "golden"
NOW = "2025-01-02T06:30:00+00:00"
SECRET = "a fixed test secret, never a real one"
DAY = "2025-01-02"
PAGES = {
    "aug.txt": FIXTURES / "pages" / "000_136fd171620bccff.txt",
    "2024-11-18.json": FIXTURES / "hf_api" / "2024-11-18.json",
    "2025-01-02.json": FIXTURES / "hf_api" / "2025-01-02.json",
}
# The text page is dated into the corpus window, so the model is fitted on more than the two
# small API days (and uses its latent space, which needs 60 papers).
CONFIG = """\
store: out/store.sqlite3
newsletter:
  title: Paper Digest
  intro: "New papers, picked for you. [About this digest](https://digest.example.org/about/)"
  from: "Paper Digest <digest@example.org>"
site:
  base_url: https://digest.example.org/
  feed_items: 10
delivery:
  base_url: https://app.example.org/
sources:
  - {name: aug, kind: hf_text, path: pages/aug.txt, date: 2024-11-04}
  - {name: nov, kind: hf_api, path: pages/2024-11-18.json}
  - {name: jan, kind: hf_api, path: pages/2025-01-02.json}
readers:
  - name: ada
    display_name: Ada
    email: ada@example.org
    interests:
      keywords: [GUI agents, data synthesis, theorem proving]
      authors: [Qiushi Sun]
  - name: grace
    email: grace@example.org
    public: true
    interests: {keywords: [gaussian splatting, 3D generation, point cloud]}
  - name: alan
    display_name: Alan
    email: alan@example.org
    note: "Agents *and* reasoning, as you asked."
    interests:
      keywords: [large language models, reasoning, agents]
      authors: [Wang Qun]
"""
# golden file -> where the build wrote it, under out/
SIGNED = {
    "email": f"mail/alan/{DAY}.eml",
    "digest-run.md": f"digests/alan/{DAY}.md",
    "feed.rss.xml": "feeds/alan.xml",
    "feed.atom.xml": "feeds/alan.atom",
    "feed-all.rss.xml": "feeds/all.xml",
    "feed-all.atom.xml": "feeds/all.atom",
    "site-day.html": "site/2025/01/02/index.html",
    "site-index.html": "site/index.html",
    "site-reader.html": "site/readers/grace/index.html",
}
UNSIGNED = {
    "email-unsigned": f"mail/alan/{DAY}.eml",
    "feed-unsigned.rss.xml": "feeds/alan.xml",
    "feed-unsigned.atom.xml": "feeds/alan.atom",
}
MESSAGE_PARTS = ("headers", "txt", "html")
# a message is kept as three golden files (see message_parts), every other output as one
NAMES = [
    *(f"{stem}.{part}" for stem in ("email", "email-unsigned") for part in MESSAGE_PARTS),
    *(name for name, path in [*SIGNED.items(), *UNSIGNED.items()] if not path.endswith(".eml")),
]


def run(home: Path, *, secret: str | None) -> Path:
    """`digest run` on a fresh copy of the project in `home`; its output directory."""
    (home / "pages").mkdir(parents=True)
    for name, source in PAGES.items():
        shutil.copy(source, home / "pages" / name)
    (home / "config.yaml").write_text(CONFIG, encoding="utf-8")
    loggers = [logging.getLogger(name) for name in ("digest", "apscheduler")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DIGEST_NOW", NOW)
            if secret is None:
                env.delenv("DIGEST_SECRET", raising=False)
            else:
                env.setenv("DIGEST_SECRET", secret)
            code = main(["--quiet", "--config", str(home / "config.yaml"), "run"])
    finally:  # main() points the loggers at this fixture's stderr
        for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            logger.handlers, logger.level, logger.propagate = handlers, level, propagate
    assert code == 0, "digest run failed (its error is in the captured stderr)"
    return home / "out"


def message_parts(raw: bytes, stem: str) -> dict[str, bytes]:
    """A message as three files, with LF line ends: `<stem>.headers` (the message's headers, each
    part's headers and the boundaries, each body replaced by a line naming its file),
    `<stem>.txt` and `<stem>.html` (the bodies). The message must end every line with CRLF, so
    nothing is lost on the way."""
    bare = re.search(rb"\r(?!\n)|(?<!\r)\n", raw)
    assert bare is None, f"{stem}: a line not ended by CRLF at byte {bare.start()}"
    text = raw.replace(b"\r\n", b"\n")
    found = re.search(rb'^Content-Type: multipart/alternative; boundary="([^"]+)"$', text, re.M)
    assert found is not None, f"{stem}: not a multipart/alternative message"
    delimiter = b"\n--" + found.group(1)
    first, *parts, last = text.split(delimiter)
    assert len(parts) == 2 and last == b"--\n", f"{stem}: expected a text and an HTML part"
    files, skeleton = {}, [first]
    for part, kind in zip(parts, (b"text/plain", b"text/html"), strict=True):
        head, _, body = part.partition(b"\n\n")
        assert f"Content-Type: {kind.decode()};".encode() in head, f"{stem}: parts out of order"
        name = f"{stem}.{'txt' if kind == b'text/plain' else 'html'}"
        files[name] = body
        skeleton.append(head + b"\n\n[the body is " + name.encode() + b"]\n")
    files[f"{stem}.headers"] = delimiter.join([*skeleton, last])
    return files


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Golden file name -> the bytes the build gave for it, both runs."""
    found: dict[str, bytes] = {}
    for secret, wanted in ((SECRET, SIGNED), (None, UNSIGNED)):
        home = tmp_path_factory.mktemp("signed" if secret else "unsigned")
        out = run(home, secret=secret)
        for name, path in wanted.items():
            data = (out / path).read_bytes()
            assert str(home).encode() not in data, f"{path} names the project's directory"
            found |= message_parts(data, name) if path.endswith(".eml") else {name: data}
        found[f"{'signed' if secret else 'unsigned'} preview"] = (
            out / f"digests/alan/{DAY}.html"
        ).read_bytes()
    return found


def differences(expected: bytes, actual: bytes, name: str, limit: int = 30) -> str:
    """A short unified diff of two versions of a golden file, and the first byte that differs."""
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    lines = list(
        difflib.unified_diff(
            expected.decode("utf-8", "backslashreplace").splitlines(keepends=True),
            actual.decode("utf-8", "backslashreplace").splitlines(keepends=True),
            f"golden/{name}",
            "built",
            n=2,
        )
    )
    shown = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
    cut = "".join(shown.splitlines(keepends=True)[:limit])
    more = f"... {len(lines) - limit} more diff lines\n" if len(lines) > limit else ""
    return (
        f"{name} differs from its golden file at byte {at} ({len(expected)} bytes golden, "
        f"{len(actual)} built); if the change is intended, regenerate with "
        f"DIGEST_UPDATE_GOLDEN=1 and review the diff\n{cut}{more}"
    )


def check(name: str, actual: bytes, *, update: bool = True) -> None:
    """`actual` is the golden file `name`, byte for byte (written first with DIGEST_UPDATE_GOLDEN,
    unless `update` is off)."""
    golden = GOLDEN / name
    if update and os.environ.get("DIGEST_UPDATE_GOLDEN"):
        golden.write_bytes(actual)
    expected = golden.read_bytes()
    if actual != expected:
        pytest.fail(differences(expected, actual, name), pytrace=False)


@pytest.mark.parametrize("name", NAMES)
def test_output_is_its_golden_file(outputs: dict[str, bytes], name: str) -> None:
    check(name, outputs[name])


@pytest.mark.parametrize("signed", ["signed", "unsigned"])
def test_the_html_preview_is_the_email_html_part(outputs: dict[str, bytes], signed: str) -> None:
    """digests/<reader>/<date>.html is the HTML part as a file: LF line ends, no final one."""
    stem = "email" if signed == "signed" else "email-unsigned"
    check(f"{stem}.html", outputs[f"{signed} preview"] + b"\n", update=False)


def test_the_goldens_show_what_they_are_meant_to_pin() -> None:
    """The project exercises what the goldens are for: loosely related papers, a followed author,
    signed links in one run and none in the other, the reader's note and the newsletter's intro."""
    read = {name: (GOLDEN / name).read_text("utf-8") for name in NAMES}
    for name in ("email.txt", "email.html", "digest-run.md", "feed.rss.xml", "feed.atom.xml"):
        assert "Loosely related" in read[name], name
    assert "Wang Qun, whom you follow" in read["email.txt"]
    assert "Agents and reasoning, as you asked." in read["email.txt"]
    assert "New papers, picked for you." in read["email.txt"]
    assert "About this digest" in read["site-index.html"]
    for name in ("email.headers", "email.txt", "email.html", "feed.rss.xml", "feed.atom.xml"):
        assert "https://app.example.org/" in read[name], name
    for name in ("email-unsigned.txt", "email-unsigned.html", "feed-unsigned.rss.xml"):
        assert "app.example.org" not in read[name], name
        assert "More like this" not in read[name], name
    assert "Message-ID: <digest-2025-01-02.alan@example.org>" in read["email.headers"]
    assert "Date: Thu, 02 Jan 2025 06:30:00 +0000" in read["email.headers"]


def test_a_run_on_postgresql_writes_every_file_a_run_on_sqlite_writes(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's backend shows in no output: the same run on PostgreSQL writes every file of
    out/ (digests, messages, feeds, the archive) byte for byte as on SQLite."""
    monkeypatch.delenv("DIGEST_STORE", raising=False)
    on_sqlite = files(run(tmp_path / "sqlite", secret=SECRET))
    monkeypatch.setenv("DIGEST_STORE", pg_url)
    on_postgresql = files(run(tmp_path / "postgresql", secret=SECRET))
    assert not any(name.endswith(".sqlite3") for name in on_postgresql)  # the store is elsewhere
    assert len(on_sqlite) > 20 and sorted(on_postgresql) == sorted(on_sqlite)
    differing = [name for name in on_sqlite if on_postgresql[name] != on_sqlite[name]]
    assert differing == []


def files(out: Path) -> dict[str, bytes]:
    """Every file under `out`, by its path there, but for the store and the model cache."""
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
        and not path.name.startswith("store.sqlite3")
        and path.relative_to(out).parts[0] != "cache"
    }
