"""Delivery end to end: the list headers of a signed message (CONVENTIONS E-01..E-08), and
`digest run` / `send` / `status` / `readers` against a real SMTP server with STARTTLS and AUTH,
the commands that touch the store on SQLite and on PostgreSQL (`store_location`)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import FIXTURES
from smtpserver import SmtpServer, ca_pem
from test_email import NOW, SITE, digest, paper
from webapp import TestClient  # imported there without the httpx2 warning of Starlette

from digest.app import sending, wiring
from digest.cli import main
from digest.config import load_config
from digest.models import Profile, Site
from digest.render import environment
from digest.render.email import artifacts
from digest.render.links import Links
from digest.sources import SOURCES
from digest.store import Store
from digest.tokens import Signer
from digest.web import create_app

SECRET = "correct horse battery staple, twice over"
SIGNER = Signer.from_text(SECRET)


def signed(site: Site = SITE, base: str = "https://digest.example.org/") -> Links:
    return Links(site.base_url, app=base, signer=SIGNER, versions={"ada": 0})


def eml(d, links: Links, site: Site = SITE) -> bytes:
    found = artifacts(d, site=site, links=links, env=environment(), now=NOW)
    return next(a.content for a in found if a.path.suffix == ".eml")


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def header_lines(raw: bytes, name: bytes) -> list[bytes]:
    """The physical lines of one header in the serialised message (first line + folds)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.lower().startswith(name.lower() + b":"))
    end = start + 1
    while end < len(head) and head[end][:1] in (b" ", b"\t"):
        end += 1
    return head[start:end]


def unsubscribe_uris(msg: EmailMessage) -> list[str]:
    return [part.strip() for part in str(msg["List-Unsubscribe"]).split(",")]


def test_a_signed_message_carries_one_click_unsubscribe_and_list_id() -> None:
    raw = eml(digest(paper(1)), signed())
    msg = parse(raw)
    uris = unsubscribe_uris(msg)
    # E-01: angle-bracketed URIs, one https; mailto first (E-06)
    assert all(re.fullmatch(r"<[^<>\s]+>", u) for u in uris)
    assert uris[0].startswith("<mailto:") and uris[1].startswith("<https://digest.example.org/u/")
    # E-02: exactly one one-click header
    assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    # E-03: an opaque token naming the reader, not the address
    https = uris[1][1:-1]
    assert "ada@example.org" not in https and "ada%40example.org" not in https
    token = https.rsplit("/", 1)[1]
    assert SIGNER.reader(token, "unsubscribe") == "ada"
    assert SIGNER.reader(token[:-2] + "AA", "unsubscribe") is None
    # E-06: never encoded words; each physical line fits; the URL survives byte for byte
    lines = header_lines(raw, b"List-Unsubscribe")
    assert all(b"=?" not in line and len(line) <= 998 for line in lines)
    assert https.encode() in b"".join(lines)
    # E-07
    assert re.fullmatch(r".*<[A-Za-z0-9.-]+>", str(msg["List-Id"]))
    assert str(msg["List-Id"]) == "Paper Digest <paper-digest.digest.example.org>"
    # E-08: the same https URL visible in both parts
    text, html = (p.get_content() for p in msg.iter_parts())
    assert https in text and f'href="{https}"' in html


def test_feedback_and_feed_links_are_signed_for_their_own_purpose() -> None:
    msg = parse(eml(digest(paper(1)), signed()))
    html = msg.get_body(("html",)).get_content()
    likes = re.findall(
        r'href="https://digest\.example\.org/f/([^/"]+)/arxiv:2508\.00001/like"', html
    )
    assert likes and SIGNER.reader(likes[0], "feedback") == "ada"
    assert SIGNER.reader(likes[0], "unsubscribe") is None
    feeds = re.findall(r'href="https://digest\.example\.org/feeds/([^/".]+\.[^/".]+)\.xml"', html)
    assert feeds and SIGNER.reader(feeds[0], "feed") == "ada"


def test_long_addresses_fold_only_between_the_uris() -> None:
    site = Site(
        title="Ünïcode Digest — Weekly",
        base_url="https://digest.example.org/",
        sender="Paper Digest <a-rather-long-sending-address@newsletters.example.org>",
    )
    reader = Profile(
        "a-very-long-reader-name-that-goes-on-and-on", keywords=("x",), email="x@y.org"
    )
    links = Links(
        site.base_url, app="https://very.long.host.name.example.org/digest/", signer=SIGNER
    )
    raw = eml(digest(paper(1), reader=reader), links, site)
    lines = header_lines(raw, b"List-Unsubscribe")
    assert len(lines) == 2 and lines[0].endswith(b">,") and lines[1].startswith(b" <https://")
    msg = parse(raw)
    assert [u[1:-1] for u in unsubscribe_uris(msg)][1].startswith("https://very.long.host")
    assert str(msg["List-Id"]) == "<unicode-digest-weekly.newsletters.example.org>"
    assert b"=?" not in b"".join(lines)


def test_without_a_secret_no_list_unsubscribe_is_claimed() -> None:
    msg = parse(eml(digest(paper(1)), Links(SITE.base_url)))
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None


# -- the commands, against a real server -------------------------------------------------------

PAGES = FIXTURES / "pages"
USER, PASSWORD = "digest", "s3cret-password"
CONFIG = """\
store: out/store.sqlite3
sources:
  - {{name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}}
delivery:
  method: smtp
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  rate: {rate}
  smtp: {{host: 127.0.0.1, port: {port}, security: {security}{auth}, timeout: 10}}
readers:
  - name: ada
    email: ada@example.org
    interests: {{keywords: [network pruning, quantization, knowledge distillation]}}
  - name: grace
    email: grace@example.org
    interests: {{keywords: [gaussian splatting, novel view synthesis, 3D reconstruction]}}
  - name: alan
    email: alan@example.org
    interests: {{keywords: [large language models, reasoning, in-context learning]}}
  - name: nomail
    interests: {{keywords: [diffusion]}}
"""
STORE = Path("out/store.sqlite3")  # config.yaml's store:, unless DIGEST_STORE names another
AUTH = ", username_env: SMTP_USER, password_env: SMTP_PASSWORD"
DAY = date(2025, 8, 20)


def project(
    tmp_path: Path, server: SmtpServer, *, security: str = "starttls", rate: float = 1000
) -> Path:
    shutil.copytree(PAGES, tmp_path / "pages", dirs_exist_ok=True)
    auth = AUTH if security != "none" else ""
    text = CONFIG.format(port=server.port, security=security, auth=auth, rate=rate)
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def environment_for_smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret and the credentials in the environment; the test CA trusted the way an
    operator's system trusts theirs (OpenSSL reads SSL_CERT_FILE)."""
    ca = tmp_path / "ca.pem"
    ca.write_text(ca_pem(), encoding="ascii")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)


def run(project_dir: Path, *args: str) -> int:
    """`digest --config <project>/config.yaml ARGS...`, in this process."""
    return main(["--config", str(project_dir / "config.yaml"), *args])


@pytest.mark.usefixtures("store_location")
def test_run_ingests_builds_and_sends_each_reader_once_over_starttls(
    tmp_path, environment_for_smtp, capsys
) -> None:
    with SmtpServer(tls="starttls", auth=(USER, PASSWORD)) as server:
        home = project(tmp_path, server)
        assert run(home, "run") == 0
        err = capsys.readouterr().err
        assert "sending 2025-08-20: 3 sent (ledger: 3 sent)" in err
        got = Counter(r for m in server.messages for r in m.recipients)
        assert got == Counter({"ada@example.org": 1, "grace@example.org": 1, "alan@example.org": 1})
        assert all(m.tls for m in server.messages)
        assert all(a.tls for a in server.auth_attempts)
        assert [a.username for a in server.auth_attempts if a.ok] == [USER]
        msg = parse(server.messages[0].content)
        assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
        assert "https://digest.example.org/u/" in str(msg["List-Unsubscribe"])
        assert PASSWORD.encode() not in server.messages[0].content
        # again: built again, nothing sent twice
        assert run(home, "run") == 0
        assert len(server.messages) == 3
        capsys.readouterr()
        assert run(home, "status") == 0
        out = capsys.readouterr().out
        assert "2025-08-20: 3 messages: 3 sent" in out


def test_an_untrusted_certificate_stops_the_send_and_nothing_is_lost(
    tmp_path, environment_for_smtp, monkeypatch, capsys, store_location
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    with SmtpServer(tls="starttls", auth=(USER, PASSWORD)) as server:
        home = project(tmp_path, server)
        assert run(home, "run") == 1
        assert server.messages == [] and server.auth_attempts == []
        err = capsys.readouterr().err
        assert "certificate" in err and PASSWORD not in err
    with Store.open(store_location(home / STORE)) as store:
        assert Counter(d.status for d in store.deliveries(DAY)) == Counter(pending=3)


def test_unsubscribed_before_the_send_gets_nothing_and_status_says_why(
    tmp_path, environment_for_smtp, capsys, store_location
) -> None:
    with SmtpServer(tls="starttls", auth=(USER, PASSWORD)) as server:
        home = project(tmp_path, server)
        assert run(home, "ingest") == run(home, "build") == 0
        with Store.open(store_location(home / STORE)) as store:
            assert store.set_reader_status("grace", "unsubscribed", now=NOW)
        capsys.readouterr()
        assert run(home, "send", "--dry-run") == 0
        assert "grace: suppressed" in capsys.readouterr().out
        assert server.messages == []
        assert run(home, "send") == 0
        assert sorted(r for m in server.messages for r in m.recipients) == [
            "ada@example.org",
            "alan@example.org",
        ]
        capsys.readouterr()
        assert run(home, "status") == 0
        out = capsys.readouterr().out
        assert "2 sent, 1 suppressed" in out and "grace suppressed" in out


def test_a_preview_goes_to_the_given_address_outside_the_ledger(
    tmp_path, environment_for_smtp, capsys, store_location
) -> None:
    with SmtpServer(tls="starttls", auth=(USER, PASSWORD)) as server:
        home = project(tmp_path, server)
        assert run(home, "ingest") == run(home, "build") == 0
        assert run(home, "send", "--reader", "ada", "--to", "me@example.net") == 0
        (only,) = server.messages
        assert only.recipients == ("me@example.net",)
        assert parse(only.content)["To"] == "me@example.net"
    with Store.open(store_location(home / STORE)) as store:
        assert Counter(d.status for d in store.deliveries(DAY)) == Counter(pending=3)


def test_smtp_without_the_secret_is_a_clear_config_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    with SmtpServer() as server:
        home = project(tmp_path, server, security="none")
        assert run(home, "run") == 1
        assert server.messages == []
    err = capsys.readouterr().err
    assert "delivery.secret_env: the environment variable DIGEST_SECRET is not set" in err


def test_two_send_processes_at_once_deliver_each_reader_once(
    tmp_path, monkeypatch, store_location
) -> None:
    """Two `digest send` processes on one store: every reader gets exactly one message."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    with SmtpServer() as server:
        # paced to 15 a second, so that both processes are still sending when the other starts
        home = project(tmp_path, server, security="none", rate=15)
        assert run(home, "ingest") == run(home, "build") == 0
        with Store.open(store_location(home / STORE)) as store:
            # more readers, so the two processes overlap: copies of ada's message
            source = home / "out/mail/ada/2025-08-20.eml"
            extra = [f"reader{i:02d}" for i in range(40)]
            for name in extra:
                store.add_reader(
                    Profile(name, keywords=("x",), email=f"{name}@example.org"), now=NOW
                )
                target = home / "out/mail" / name / "2025-08-20.eml"
                target.parent.mkdir(parents=True)
                target.write_bytes(source.read_bytes())
            store.plan_deliveries(
                DAY,
                [(n, [f"{n}@example.org"]) for n in extra],
                now=NOW,
                give_up=NOW + timedelta(hours=1),
            )
        command = [
            sys.executable,
            "-c",
            "import sys; from digest.cli import main; sys.exit(main())",
            "--config",
            str(home / "config.yaml"),
            "send",
        ]
        procs = [subprocess.Popen(command, stderr=subprocess.PIPE) for _ in range(2)]
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        got = Counter(r for m in server.messages for r in m.recipients)
        assert len(got) == 43 and set(got.values()) == {1}
        assert server.sessions == 2
    with Store.open(store_location(home / STORE)) as store:
        assert Counter(d.status for d in store.deliveries(DAY)) == Counter(sent=43)


def test_readers_add_list_remove_and_import(tmp_path, monkeypatch, capsys, store_location) -> None:
    with SmtpServer() as server:
        home = project(tmp_path, server, security="none")
    assert (
        run(home, "readers", "add", "bob", "--email", "bob@example.org", "--keywords", "a, b") == 0
    )
    csv_file = home / "readers.csv"
    csv_file.write_text(
        "name,email,keywords,display_name\n"
        "carol,carol@example.org,graph neural networks;molecules,Carol\n"
        "Bad Name,x@example.org,a,\n"
        "bob,bob2@example.org,c,\n"
        "dave,not-an-address,a,\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert run(home, "readers", "import", str(csv_file)) == 1
    err = capsys.readouterr().err
    assert (
        f"{csv_file}:3:" in err and f"{csv_file}:5:" in err and "1 added, 1 skipped, 2 bad" in err
    )
    assert run(home, "readers", "remove", "alan") == 1
    assert "alan is in config.yaml" in capsys.readouterr().err
    assert run(home, "readers", "remove", "carol") == 0
    capsys.readouterr()
    assert run(home, "readers", "list", "--json") == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["carol"]["keywords"] == ["graph neural networks", "molecules"]
    assert listed["carol"]["status"] == "removed" and listed["carol"]["origin"] == "import"
    assert listed["bob"]["email"] == "bob@example.org" and listed["bob"]["origin"] == "cli"
    assert listed["ada"]["origin"] == "config" and listed["ada"]["status"] == "active"
    assert "dave" not in listed and "Bad Name" not in listed
    assert run(home, "readers", "add", "ada", "--email", "a@b.org", "--keywords", "x") == 1
    assert "a reader named 'ada' already exists" in capsys.readouterr().err
    # a removed reader can be added again, with new links
    assert run(home, "readers", "add", "carol", "--email", "c@b.org", "--keywords", "x") == 0
    assert "added carol <c@b.org> again" in capsys.readouterr().out
    with Store.open(store_location(home / STORE)) as store:
        carol = store.subscriber("carol")
        assert carol is not None and carol.status == "active" and carol.origin == "cli"
        assert carol.token_version == 1 and carol.profile.email == "c@b.org"


def test_the_links_in_a_sent_email_work_on_digest_serve(
    tmp_path, environment_for_smtp, capsys, store_location
) -> None:
    """The whole loop: the unsubscribe and feedback links of a message the server received,
    followed on `digest serve`'s app; the next send leaves the reader out."""
    with SmtpServer(tls="starttls", auth=(USER, PASSWORD)) as server:
        home = project(tmp_path, server)
        assert run(home, "run") == 0
        mails = {m.recipients[0]: parse(m.content) for m in server.messages}
    config = wiring.load(home / "config.yaml")  # as `digest serve` reads it: DIGEST_STORE too
    app = create_app(config, signer=SIGNER, confirm=lambda profile, url: None)
    ada = mails["ada@example.org"]
    unsubscribe = unsubscribe_uris(ada)[1][1:-1]
    html = ada.get_body(("html",)).get_content()
    like = re.search(r'href="(https://digest\.example\.org/f/[^"]+/like)"', html)
    assert like is not None
    with TestClient(app, base_url="https://digest.example.org") as client:
        page = client.get(like[1])
        assert page.status_code == 200
        token = re.search(r'name="form" value="([^"]+)"', page.text)  # the page's form token
        assert token is not None
        assert client.post(like[1], data={"form": token[1]}).status_code == 200
        # RFC 8058: what a mailbox provider POSTs, no cookies, no redirect
        done = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "location" not in done.headers
    with Store.open(store_location(home / STORE)) as store:
        assert store.subscriber("ada").status == "unsubscribed"
        liked, _ = store.feedback("ada")
        assert len(liked) == 1 and liked[0].id in html
        # a rebuild of the day plans nothing new for ada; a new ledger row would be suppressed
        store.plan_deliveries(
            date(2025, 8, 21), [("ada", ["ada@example.org"])], now=NOW, give_up=NOW
        )
    with SmtpServer(tls="starttls", auth=(USER, PASSWORD)) as server:
        home = project(tmp_path, server)
        assert run(home, "send", "--date", "2025-08-21") == 0
        assert server.messages == []
    with Store.open(store_location(home / STORE)) as store:
        assert [d.status for d in store.deliveries(date(2025, 8, 21))] == ["suppressed"]


def test_a_run_of_several_dates_mails_only_the_newest(
    tmp_path, environment_for_smtp, store_location
) -> None:
    with SmtpServer(tls="starttls", auth=(USER, PASSWORD)) as server:
        home = project(tmp_path, server)
        config = home / "config.yaml"
        older = (
            "  - {name: jun, kind: hf_text, path: pages/002_3cd0b1d1c34a916a.txt,"
            " date: 2025-06-02}\n"
        )
        config.write_text(
            config.read_text("utf-8").replace("delivery:\n", older + "delivery:\n"), "utf-8"
        )
        assert run(home, "run") == 0
        assert len(server.messages) == 3
        assert all(b"2025-08-20" in m.content for m in server.messages)
    with Store.open(store_location(home / STORE)) as store:
        assert store.delivery_dates() == [DAY]  # June was built, kept and written, not mailed
    assert (home / "out/digests/ada/2025-06-02.md").exists()


def test_the_confirmation_mail_is_sent_or_written_with_its_link(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    newcomer = Profile("carol-1a2b3c", keywords=("x",), email="carol@example.org")
    link = "https://digest.example.org/c/TOKEN"
    with SmtpServer() as server:
        home = project(tmp_path, server, security="none")
        config = load_config(home / "config.yaml", kinds=SOURCES.keys())
        sending.send_confirmation(config, newcomer, link, now=NOW)
        (sent,) = server.messages
    assert sent.recipients == ("carol@example.org",)
    msg = parse(sent.content)
    assert msg["Subject"] == "Confirm your subscription to Paper Digest"
    assert link in msg.get_content() and msg["Message-ID"].endswith("@example.org>")
    files = replace(config, delivery=replace(config.delivery, method="files"))
    sending.send_confirmation(files, newcomer, link, now=NOW)
    written = parse((config.out_dir / "mail/confirm/carol-1a2b3c.eml").read_bytes())
    assert written["To"] == "carol@example.org" and link in written.get_content()
