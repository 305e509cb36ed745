"""The subscribe form's limits: a budget for all addresses together and one per address, counted
in the store (so every process shares them), 429 with Retry-After when one is spent, and a hidden
field that only bots fill in. A real store in tmp_path, the real app, a clock the test moves."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pg import store_rows
from webapp import CONFIG, NOW, SECRET, Clock, TestClient

from digest.app import wiring
from digest.config import Config
from digest.errors import ConfigError
from digest.models import Profile
from digest.store import Store
from digest.tokens import Signer
from digest.web import create_app

# every test on SQLite and on PostgreSQL: the budgets live in the store, shared by every process
pytestmark = pytest.mark.usefixtures("store_location")


@dataclass
class Form:
    config: Config
    client: TestClient
    clock: Clock
    sent: list[tuple[Profile, str]] = field(default_factory=list)

    def post(self, email: str, **extra: str) -> httpx.Response:
        data = {"email": email, "display_name": "", "keywords": "diffusion"} | extra
        return self.client.post("/subscribe", data=data)

    def readers(self) -> list[str]:
        with Store.open(self.config.store) as store:
            return [s.name for s in store.subscribers()]

    def counted(self) -> int:
        return int(store_rows(self.config.store, "SELECT COUNT(*) FROM signup_requests")[0][0])


@contextmanager
def form_app(tmp_path: Path, budgets: str = "") -> Iterator[Form]:
    text = textwrap.dedent(CONFIG)
    if budgets:
        text = text.replace("confirm_hours: 48}", f"confirm_hours: 48, {budgets}}}")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    config = wiring.load(tmp_path / "config.yaml")  # as digest serve reads it: DIGEST_STORE too
    with Store.open(config.store) as store:
        store.sync_readers(config.readers, now=NOW)
    clock = Clock()
    sent: list[tuple[Profile, str]] = []
    app = create_app(
        config,
        signer=Signer.from_text(SECRET),
        confirm=lambda p, link: sent.append((p, link)),
        clock=clock,
    )
    with TestClient(app, follow_redirects=False) as client:
        yield Form(config, client, clock, sent)


@pytest.fixture
def form(tmp_path: Path) -> Iterator[Form]:
    with form_app(tmp_path) as made:
        yield made


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429
    return int(response.headers["Retry-After"])


def test_a_burst_of_new_addresses_is_stopped_by_the_budget_of_the_hour(form):
    answers = []
    for i in range(60):
        answers.append(form.post(f"stranger{i}@example.net"))
        form.clock.now += timedelta(seconds=0.03)  # 60 addresses in under two seconds
    assert [a.status_code for a in answers] == [200] * 20 + [429] * 40
    assert len(form.sent) == 20  # the default: 20 confirmations an hour
    assert 3590 <= retry_after(answers[20]) <= 3600
    assert "Too many" in answers[20].text
    # nothing stored for the refused: no reader, no count
    assert len(form.readers()) == 2 + 20 and form.counted() == 20
    form.clock.now = NOW + timedelta(hours=1, seconds=1)
    assert form.post("latecomer@example.net").status_code == 200
    assert form.sent[-1][0].email == "latecomer@example.net"


def test_one_address_gets_its_budget_a_day_whatever_its_state(form):
    start = form.clock.now
    for i in range(3):  # each more than RESEND_AFTER apart: a confirmation each time
        form.clock.now = start + timedelta(minutes=11 * i)
        assert form.post("ADA@example.org" if i else "ada@example.org").status_code == 200
    assert len(form.sent) == 3
    form.clock.now = start + timedelta(minutes=33)
    wait = retry_after(form.post("Ada@Example.org"))
    assert wait == (timedelta(days=1) - timedelta(minutes=33)).total_seconds()
    assert len(form.sent) == 3
    # an address that already reads the newsletter meets the same budget: a 429 tells nothing
    assert [form.post("alice@example.org").status_code for _ in range(4)] == [200] * 3 + [429]
    assert form.post("bob@example.org").status_code == 200  # another address has its own
    form.clock.now = start + timedelta(days=1, seconds=1)
    assert form.post("ada@example.org").status_code == 200
    assert len(form.sent) == 4


def test_the_budgets_come_from_config_yaml(tmp_path):
    with form_app(tmp_path, "confirm_per_hour: 2, confirm_per_address: 1") as form:
        assert form.config.delivery.confirm_per_hour == 2
        assert form.post("a@example.net").status_code == 200
        assert retry_after(form.post("a@example.net")) == 86400
        assert form.post("b@example.net").status_code == 200
        assert retry_after(form.post("c@example.net")) == 3600
        assert len(form.sent) == 2


def test_budgets_that_are_not_positive_whole_numbers_are_refused(tmp_path):
    bad = "confirm_per_hour: 0, confirm_per_address: many"
    with pytest.raises(ConfigError) as raised, form_app(tmp_path, bad):
        pass
    problems = "\n".join(raised.value.problems)
    assert "delivery.confirm_per_hour: must be between 1 and" in problems
    assert "delivery.confirm_per_address: expected an integer" in problems


def test_the_budget_holds_across_processes(tmp_path):
    """Another process spends the hour's budget on the same store; this one is refused."""
    with form_app(tmp_path, "confirm_per_hour: 2") as form:
        script = textwrap.dedent(
            f"""
            import datetime, warnings
            from pathlib import Path
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
            from digest.app import wiring
            from digest.tokens import Signer
            from digest.web import create_app
            config = wiring.load(Path({str(form.config.path)!r}))
            now = datetime.datetime.fromisoformat({NOW.isoformat()!r})
            app = create_app(config, signer=Signer.from_text({SECRET!r}),
                             confirm=lambda p, link: None, clock=lambda: now)
            with TestClient(app) as client:
                for who in ("x", "y", "z"):
                    data = {{"email": who + "@example.net", "keywords": "robots"}}
                    print(client.post("/subscribe", data=data).status_code)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
        )
        assert done.stdout.split() == ["200", "200", "429"], done.stderr
        assert retry_after(form.post("here@example.org")) == 3600
        assert form.sent == [] and form.counted() == 2


def test_a_filled_hidden_field_is_refused_quietly(form):
    page = form.client.get("/subscribe").text
    assert 'name="website"' in page and 'class="trap" aria-hidden="true"' in page
    honest = form.post("ada@example.org")
    bot = form.post("bot@example.net", website="https://spam.example.net/")
    assert bot.status_code == honest.status_code == 200
    assert bot.text == honest.text  # the usual answer ...
    assert [p.email for p, _ in form.sent] == ["ada@example.org"]  # ... but nothing sent
    assert not any(name.startswith("bot-") for name in form.readers())  # nothing stored
    assert form.counted() == 1  # nor counted against the budgets
