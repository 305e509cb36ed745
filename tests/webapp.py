"""What the tests of `digest serve` share (test_serve.py, test_reader_page.py): a project with two
readers from config.yaml and two papers, in a real store (each test once on SQLite and once on
PostgreSQL, see `store_location`), the real app behind Starlette's TestClient, a clock the test
moves, and a way to send a page's forms as a browser would (with the page's form token).
"""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.exceptions import StarletteDeprecationWarning

from digest.app import wiring
from digest.config import Config
from digest.models import Paper, Profile
from digest.render.links import Links
from digest.store import Store
from digest.tokens import Signer
from digest.web import create_app

# Starlette 1.10 would rather drive its test client with httpx2, which is not installed; httpx
# still works, so its deprecation warning is silenced for this one import
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
DAY = date(2025, 8, 20)
SECRET = "first-secret-of-32-characters-xx"
OTHER = "another-secret-of-32-characters!"
HOSTILE = '<img src=x onerror="alert(1)"> & <script>alert(2)</script>'
FORM_TOKEN = re.compile(r'<input type="hidden" name="form" value="([^"]+)">')
CONFIG = """
store: out/digest.sqlite3
out_dir: out
newsletter: {title: "Paper Digest", from: "Digest <digest@example.org>"}
site: {base_url: "https://archive.example.org/"}
delivery: {base_url: "https://app.example.org/", confirm_hours: 48}
readers:
  - name: alice
    email: alice@example.org
    interests: {keywords: {graphs: 2.0, pruning: 0.5}}
  - name: bob
    email: bob@example.org
    display_name: Bob
    interests: {keywords: [transformers]}
"""


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Project:
    config: Config
    store: Store
    client: TestClient
    clock: Clock
    signer: Signer
    sent: list[tuple[Profile, str]] = field(default_factory=list)

    @property
    def links(self) -> Links:
        return Links(
            self.config.site.base_url, self.config.app_url, self.signer, self.store.token_versions()
        )

    def status(self, name: str) -> str:
        found = self.store.subscriber(name)
        assert found is not None
        return found.status

    def form_token(self, reader: str, hours: float = 1) -> str:
        """A form token for `reader`'s pages, as a page shown now would carry."""
        until = self.clock.now + timedelta(hours=hours)
        return self.signer.form_token(
            reader, until=until, version=self.store.token_version(reader) or 0
        )

    def submit(self, page: str, to: str | None = None, /, **data: Any) -> httpx.Response:
        """Send a form of the page at `page` (to `to`, by default the page itself) as a browser
        would: the page fetched, its form token sent with the fields in `data`."""
        shown = self.client.get(page)
        assert shown.status_code == 200, shown.status_code
        found = FORM_TOKEN.search(shown.text)
        assert found is not None, "the page has no form token"
        return self.client.post(to or page, data={"form": found[1], **data})


def path(url: str | None) -> str:
    """The path of a link made for app.example.org, to ask the test client for."""
    assert url is not None
    parts = urlsplit(url)
    assert parts.netloc == "app.example.org"
    return parts.path


def paper(title: str, arxiv_id: str | None = None) -> Paper:
    return Paper(title=title, abstract="An abstract.", arxiv_id=arxiv_id, digest_date=DAY)


@contextmanager
def project_in(tmp_path: Path, *, papers: bool = True) -> Iterator[Project]:
    """The project, its app started (call from a test's fixture that asks for `store_location`);
    `papers`: with its two papers."""
    config_path = tmp_path / "config.yaml"
    config_path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    config = wiring.load(config_path)  # as `digest serve` reads it: DIGEST_STORE too
    signer = Signer.from_text(SECRET)
    clock = Clock()
    with Store.open(config.store) as store:
        store.sync_readers(config.readers, now=NOW)
        if papers:
            two = [paper("Graph pruning", "2506.01234"), paper(HOSTILE)]
            store.add_papers("test", two, now=NOW)
        sent: list[tuple[Profile, str]] = []
        app = create_app(
            config, signer=signer, confirm=lambda p, link: sent.append((p, link)), clock=clock
        )
        with TestClient(app, follow_redirects=False) as client:
            yield Project(config, store, client, clock, signer, sent)
