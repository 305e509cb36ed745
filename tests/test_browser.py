"""The archive site and the HTML email in a real browser: Debian's headless Chromium, driven by
Playwright (never a downloaded browser), against pages served from 127.0.0.1.

Skips without Chromium, unless CI is set: there it must run. The pages are built by `digest run`
on SQLite and on PostgreSQL (`store_location`).
Screenshots go to the test's own folder (tmp_path / "screenshots").
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import FIXTURES

from digest.cli import main

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
