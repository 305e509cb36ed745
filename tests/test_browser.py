"""The archive site, the HTML email and a reader's own page in a real browser: Debian's headless
Chromium, driven by Playwright (never a downloaded browser), against pages served from 127.0.0.1
(the reader's page by a real `digest serve`).

Skips without Chromium, unless CI is set: there it must run. The pages are built by `digest run`
on SQLite and on PostgreSQL (`store_location`).
Screenshots go to the test's own folder (tmp_path / "screenshots").
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import FIXTURES

from digest import web
from digest.app import wiring
from digest.cli import main
from digest.store import Store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AUG = "000_136fd171620bccff.txt"
SECRET = "a-browser-test-secret-of-32-chars"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium (apt install chromium); CI installs it and runs this",
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`out/` served on 127.0.0.1; yields (the site's base URL, the out dir)."""
    out = tmp_path / "out"
    out.mkdir()
    handler = functools.partial(_Quiet, directory=str(out))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/site/", out
    finally:
        server.shutdown()
        server.server_close()


def build(project: Path, base_url: str) -> None:
    (project / "pages").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "pages" / AUG, project / "pages" / AUG)
    (project / "config.yaml").write_text(
        f"""\
store: out/store.sqlite3
newsletter:
  title: Browser Digest
  intro: Good morning, *readers*.
site: {{base_url: "{base_url}"}}
sources:
  - {{name: aug, kind: hf_text, path: pages/{AUG}, date: 2025-08-20}}
readers:
  - name: ada
    public: true
    interests: {{keywords: [network pruning, quantization, knowledge distillation]}}
""",
        encoding="utf-8",
    )
    assert main(["--config", str(project / "config.yaml"), "run"]) == 0


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module's tests (each opens pages of its own): a launch is seconds."""
    if not Path(CHROMIUM).exists():
        pytest.fail("CI is set but chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.usefixtures("store_location")
def test_search_finds_a_known_paper_and_day_links_work(served, browser, tmp_path: Path) -> None:
    base, out = served
    build(out.parent, base)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base)
    assert page.locator("h1").count() == 1
    page.screenshot(path=str(shots / "archive-index.png"), full_page=True)

    # search: a title known to be on the fixture page
    title = "CNN Filter DB: An Empirical Investigation of Trained Convolutional Filters"
    page.fill("#search-input", "filter db")
    page.keyboard.press("Enter")
    result = page.locator("#search-results a", has_text=title).first
    result.wait_for(timeout=10_000)
    result.click()
    page.wait_for_load_state()
    assert re.search(r"/2025/08/20/(index\.html)?#", page.url), page.url
    target = page.url.split("#", 1)[1]
    assert page.locator(f"[id='{target}']").count() == 1

    # a day link from the index leads to that day's page
    page.goto(base)
    day = page.locator("a", has_text="2025-08-20").first
    day.click()
    page.wait_for_load_state()
    assert page.url.rstrip("/").endswith("2025/08/20") or "/2025/08/20/" in page.url
    assert page.locator("article").count() > 10
    page.screenshot(path=str(shots / "archive-day.png"))

    # on a phone, nothing scrolls sideways
    phone = browser.new_page(viewport={"width": 360, "height": 740})
    phone.goto(base + "2025/08/20/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    phone.screenshot(path=str(shots / "archive-day-phone.png"))
    assert errors == []


@pytest.mark.usefixtures("store_location")
def test_the_email_in_light_and_dark(served, browser, tmp_path: Path) -> None:
    base, out = served
    build(out.parent, base)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    preview = f"{base.removesuffix('site/')}digests/ada/{date(2025, 8, 20).isoformat()}.html"
    colours = {}
    for scheme in ("light", "dark"):
        page = browser.new_page(color_scheme=scheme, viewport={"width": 700, "height": 900})
        page.goto(preview)
        assert page.locator("table[role=presentation]").count() > 0
        colours[scheme] = page.evaluate(
            "getComputedStyle(document.querySelector('table[role=presentation] td')"
            " || document.body).backgroundColor"
        )
        page.screenshot(path=str(shots / f"email-{scheme}.png"), full_page=True)
    assert colours["light"] != colours["dark"]  # the dark-mode styles survived inlining
    assert (shots / "email-light.png").stat().st_size > 10_000


NEXT = "002_3cd0b1d1c34a916a.txt"  # the next day's page: machine translation among much else
TRANSLATION = ("Translation", "Multilingual", "Cross-lingual")


@pytest.fixture
def serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A project whose links point at a `digest serve` on 127.0.0.1 (its port chosen first, so
    config.yaml can name it), built for 2025-08-20 by `digest run`; yields (the server's base URL,
    config.yaml) while the server answers."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    (tmp_path / "pages").mkdir()
    for page in (AUG, NEXT):
        shutil.copy(FIXTURES / "pages" / page, tmp_path / "pages" / page)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""\
store: out/store.sqlite3
newsletter: {{title: Browser Digest}}
site: {{base_url: "{base}"}}
delivery: {{base_url: "{base}"}}
sources:
  - {{name: aug, kind: hf_text, path: pages/{AUG}, date: 2025-08-20}}
  - {{name: next, kind: hf_text, path: pages/{NEXT}, date: 2025-08-21}}
readers:
  - name: ada
    email: ada@example.org
    interests: {{keywords: [network pruning, quantization, knowledge distillation]}}
""",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "run", "--source", "aug"]) == 0
    loaded = wiring.load(config)  # DIGEST_STORE too
    signer = wiring.signer(loaded, needed_by="the test")
    assert signer is not None
    running = web.server(loaded, host="127.0.0.1", port=0, signer=signer, confirm=lambda *a: None)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not running.started and time.monotonic() < deadline:
            time.sleep(0.01)
        yield base, config
    finally:
        running.should_exit = True
        thread.join(10)
        listener.close()


def digest_of(config: Path, day: date) -> list[str]:
    """The titles of ada's digest of `day`, best first, as the store keeps it."""
    with Store.open(wiring.load(config).store) as store:
        ada = store.subscriber("ada")
        assert ada is not None
        (built,) = [d for d in store.digests(ada.profile, since=day) if d.date == day]
    return [s.paper.title for s in (*built.papers, *built.near)]


@pytest.mark.usefixtures("store_location")
def test_the_reader_changes_their_settings_in_a_browser_and_tomorrows_digest_follows(
    serving, browser, tmp_path: Path
) -> None:
    base, config = serving
    shots = tmp_path / "screenshots"
    shots.mkdir()
    # ada follows the link in her email (the one every email carries) to her own page
    email = (config.parent / "out" / "digests" / "ada" / "2025-08-20.html").read_text("utf-8")
    link = re.search(rf'href="({re.escape(base)}u/[^"]+)"', email)
    assert link is not None
    # the next day's papers arrive; built with config.yaml's keywords, translation is not first
    assert main(["--config", str(config), "ingest", "--source", "next"]) == 0
    assert main(["--config", str(config), "build", "--date", "2025-08-21"]) == 0
    old = digest_of(config, date(2025, 8, 21))
    assert not any(word in old[0] for word in TRANSLATION), old[0]

    page = browser.new_page(viewport={"width": 360, "height": 740})  # a phone
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(link[1])
    assert page.locator("h1").inner_text() == "Your subscription"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width  # one column: nothing scrolls sideways
    page.screenshot(path=str(shots / "reader-page-phone.png"), full_page=True)
    page.get_by_label("Keywords, one a line").fill("machine translation\nmultilingual")
    page.get_by_label("Papers per digest, at most").fill("3")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    assert "Your settings are saved" in page.locator("[role=status]").inner_text()
    assert page.get_by_label("Papers per digest, at most").input_value() == "3"
    page.screenshot(path=str(shots / "reader-page-saved.png"), full_page=True)
    # a bad value is shown beside its field, and nothing is saved
    page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    assert "unknown time zone" in page.locator("#timezone-error").inner_text()
    assert page.get_by_label("Time zone").get_attribute("aria-invalid") == "true"
    assert errors == []

    # tomorrow's build: ranked by the new keywords, three papers at most
    assert main(["--config", str(config), "build", "--date", "2025-08-21"]) == 0
    new = digest_of(config, date(2025, 8, 21))
    assert 1 <= len(new) <= 3
    assert any(word in new[0] for word in TRANSLATION), new
    with Store.open(wiring.load(config).store) as store:
        ada = store.subscriber("ada")
        assert ada is not None and ada.profile.send.timezone == "America/New_York"
    assert "machine translation" not in config.read_text(encoding="utf-8")  # never written there
