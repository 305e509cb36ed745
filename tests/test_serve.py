"""`digest serve`: the reader links (E-03, E-04), the subscribe form, health, the archive.

A real store (an SQLite file in tmp_path, and a PostgreSQL schema: every test of a project runs on
both, see `store_location`), the real app through Starlette's TestClient, and once a real uvicorn
on 127.0.0.1. Time comes from a clock the test moves.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pg import StoreLocation
from webapp import DAY, HOSTILE, NOW, OTHER, SECRET, Project, TestClient, path, project_in

from digest.errors import StoreError
from digest.models import Profile
from digest.tokens import Signer
from digest.web import create_app, forms, server


@pytest.fixture
def project(tmp_path: Path, store_location: StoreLocation) -> Iterator[Project]:
    with project_in(tmp_path) as made:
        yield made


# --- one-click unsubscribe (E-04) -------------------------------------------------------------


def one_click(project: Project, url: str, encoding: str) -> httpx.Response:
    if encoding == "multipart":  # a field, not a file: RFC 8058 says multipart/form-data
        return project.client.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    return project.client.post(url, data={"List-Unsubscribe": "One-Click"})


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_without_cookies_or_redirect(project, encoding):
    url = path(project.links.unsubscribe("alice"))
    response = one_click(project, url, encoding)
    sent_type = response.request.headers["content-type"]
    assert sent_type.startswith(
        "multipart/form-data" if encoding == "multipart" else "application/x-www-form-urlencoded"
    )
    assert "cookie" not in response.request.headers
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert project.status("alice") == "unsubscribed"
    assert "You are unsubscribed" in response.text
    again = one_click(project, url, encoding)  # idempotent
    assert (again.status_code, project.status("alice")) == (200, "unsubscribed")
    assert project.status("bob") == "active"


def test_get_shows_the_page_and_changes_nothing(project):
    url = path(project.links.unsubscribe("bob"))
    for _ in range(2):
        response = project.client.get(url)
        assert response.status_code == 200
    assert project.status("bob") == "active"
    assert project.client.head(url).status_code == 200
    assert project.status("bob") == "active"
    page = response.text
    assert "Bob" in page and "bob@example.org" in page
    assert f'<form method="post" action="{url}">' in page
    assert 'name="action" value="unsubscribe"' in page
    assert f'action="{url}/settings"' in page
    assert ">\ntransformers</textarea>" in page


def test_resubscribe_only_from_unsubscribed(project):
    url = path(project.links.unsubscribe("alice"))
    project.submit(url, action="unsubscribe")
    assert 'value="resubscribe"' in project.client.get(url).text
    response = project.submit(url, action="resubscribe")
    assert response.status_code == 200
    assert "subscribed again" in response.text
    assert project.status("alice") == "active"
    assert project.submit(url, action="shred").status_code == 400
    assert project.status("alice") == "active"


def test_a_removed_reader_stays_removed(project):
    project.store.set_reader_status("alice", "removed", now=NOW)
    url = path(project.links.unsubscribe("alice"))
    for action in ("unsubscribe", "resubscribe"):
        data = {"action": action, "form": project.form_token("alice")}
        assert project.client.post(url, data=data).status_code == 200
        assert project.status("alice") == "removed"
    page = project.client.get(url).text
    assert "closed by the newsletter's operator" in page
    assert "<button" not in page


def test_a_removed_reader_added_again_gets_new_links_and_the_old_ones_stay_dead(project):
    carol = Profile("carol", keywords=("graphs",), email="carol@example.org")
    assert project.store.add_reader(carol, now=NOW) is False
    write(project.config.out_dir, "feeds/carol.xml", "<rss>carol's papers</rss>")
    before = project.links
    old = [
        ("post", path(before.unsubscribe("carol")), {"List-Unsubscribe": "One-Click"}),
        ("get", path(before.unsubscribe("carol")), None),
        ("post", path(before.feedback("carol", DAY, "arxiv:2506.01234", "like")), None),
        ("get", path(before.feed_of("carol", "rss", private=True)), None),
    ]
    assert project.client.get(old[3][1]).status_code == 200
    project.store.set_reader_status("carol", "removed", now=NOW)
    project.clock.now += timedelta(days=1)
    again = Profile("carol", keywords=("pruning",), email="carol@example.net")
    assert project.store.add_reader(again, now=project.clock.now, origin="cli") is True
    found = project.store.subscriber("carol")
    assert found is not None and found.status == "active" and found.profile == again
    for method, url, data in old:
        assert project.client.request(method, url, data=data).status_code == 404, url
    assert project.status("carol") == "active"
    assert project.store.feedback("carol") == ([], [])
    after = project.links
    assert project.client.get(path(after.unsubscribe("carol"))).status_code == 200
    assert project.client.get(path(after.feed_of("carol", "rss", private=True))).text == (
        "<rss>carol's papers</rss>"
    )
    with pytest.raises(StoreError, match="already exists"):  # only a removed reader comes back
        project.store.add_reader(again, now=project.clock.now)


def test_a_reader_put_back_in_config_gets_new_links(project):
    old = path(project.links.unsubscribe("alice"))
    alice, bob = project.config.readers
    project.store.sync_readers([bob], now=NOW)
    assert project.status("alice") == "removed"
    project.store.sync_readers([alice, bob], now=NOW)
    assert project.status("alice") == "active"
    assert project.client.get(old).status_code == 404
    assert project.client.get(path(project.links.unsubscribe("alice"))).status_code == 200


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_get_asks_and_post_records(project):
    like = path(project.links.feedback("alice", DAY, "arxiv:2506.01234", "like"))
    assert like.endswith("/arxiv:2506.01234/like")
    page = project.client.get(like)
    assert page.status_code == 200
    assert "Graph pruning" in page.text
    assert f'action="{like}"' in page.text
    assert project.store.feedback("alice") == ([], [])
    done = project.submit(like)
    assert done.status_code == 200
    assert "Thank you" in done.text
    liked, disliked = project.store.feedback("alice")
    assert [p.id for p in liked] == ["arxiv:2506.01234"] and disliked == []
    dislike = path(project.links.feedback("alice", DAY, "arxiv:2506.01234", "dislike"))
    assert project.submit(dislike).status_code == 200
    liked, disliked = project.store.feedback("alice")
    assert liked == [] and [p.id for p in disliked] == ["arxiv:2506.01234"]


def test_feedback_for_an_unknown_paper_or_verdict_is_a_404(project):
    good = path(project.links.feedback("alice", DAY, "arxiv:2506.01234", "like"))
    token = good.split("/")[2]
    for url in (
        path(project.links.feedback("alice", DAY, "arxiv:2501.99999", "like")),
        f"/f/{token}/arxiv:2506.01234/love",
        f"/f/{token}/Graph%20pruning/like",  # a title is not a paper id
    ):
        assert project.client.get(url).status_code == 404
        assert project.client.post(url).status_code == 404
    assert project.store.feedback("alice") == ([], [])


# --- tokens that must not work (E-03) ---------------------------------------------------------


def bad_tokens(project: Project) -> dict[str, str]:
    good = project.signer.token("alice", "unsubscribe")
    name, _, signature = good.partition(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return {
        "forged": "YWxpY2U.AAAAAAAAAAAAAAAA",
        "tampered": f"{name}.{flipped}",
        "other reader's name": good.replace(name, "Ym9i"),
        "wrong purpose": project.signer.token("alice", "feed"),
        "other secret": Signer.from_text(OTHER).token("alice", "unsubscribe"),
        "not a token": "nonsense",
    }


def test_bad_tokens_are_404_and_change_nothing(project):
    not_found = project.client.get("/no/such/page")
    assert not_found.status_code == 404
    for why, token in bad_tokens(project).items():
        for method, url, data in (
            ("GET", f"/u/{token}", None),
            ("POST", f"/u/{token}", {"List-Unsubscribe": "One-Click"}),
            ("POST", f"/u/{token}", {"action": "resubscribe"}),
            ("POST", f"/u/{token}/settings", {"keywords": "hijacked"}),
            ("POST", f"/u/{token}/forget", {"paper": "arxiv:2506.01234"}),
            ("POST", f"/f/{token}/arxiv:2506.01234/like", None),
            ("POST", f"/c/{token}", None),
        ):
            response = project.client.request(method, url, data=data)
            assert response.status_code == 404, (why, method, url)
            assert response.text == not_found.text, why  # the same page as any 404
    assert project.status("alice") == project.status("bob") == "active"
    assert project.store.feedback("alice") == ([], [])
    found = project.store.subscriber("alice")
    assert found is not None and found.profile.keywords == ("graphs", "pruning")


def test_revoked_and_deleted_readers_tokens_are_404(project):
    url = path(project.links.unsubscribe("alice"))
    feedback = path(project.links.feedback("alice", DAY, "arxiv:2506.01234", "like"))
    assert project.store.revoke_tokens("alice", now=NOW)
    assert project.client.get(url).status_code == 404
    assert project.client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert project.client.post(feedback).status_code == 404
    assert project.status("alice") == "active"
    assert project.store.feedback("alice") == ([], [])
    fresh = path(project.links.unsubscribe("alice"))  # made with the new version
    assert fresh != url
    assert project.client.get(fresh).status_code == 200
    ghost = project.signer.token("nobody", "unsubscribe")
    assert project.client.post(f"/u/{ghost}").status_code == 404


def test_tokens_signed_with_a_previous_secret_still_work(project):
    rotated = Signer.from_text(OTHER, [SECRET])
    app = create_app(
        project.config, signer=rotated, confirm=lambda p, link: None, clock=project.clock
    )
    old = path(project.links.unsubscribe("alice"))  # signed with SECRET, now the previous one
    with TestClient(app) as client:
        assert client.get(old).status_code == 200
        assert client.post(old, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert project.status("alice") == "unsubscribed"
    assert project.client.get(f"/u/{rotated.token('bob', 'unsubscribe')}").status_code == 404


# --- feeds and the archive --------------------------------------------------------------------


def write(root: Path, relative: str, text: str) -> None:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def test_private_feeds_are_served_behind_a_feed_token(project):
    out = project.config.out_dir
    write(out, "feeds/alice.xml", "<rss>alice's papers</rss>")
    write(out, "feeds/alice.atom", "<feed>alice's papers</feed>")
    rss = project.client.get(path(project.links.feed_of("alice", "rss", private=True)))
    assert rss.status_code == 200
    assert rss.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert rss.text == "<rss>alice's papers</rss>"
    assert "public" not in rss.headers["cache-control"]
    atom = project.client.get(path(project.links.feed_of("alice", "atom", private=True)))
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert atom.text == "<feed>alice's papers</feed>"
    # the private feed is not on the archive, nor behind another purpose's token
    assert project.client.get("/feeds/alice.xml").status_code == 404
    wrong = project.signer.token("alice", "unsubscribe")
    assert project.client.get(f"/feeds/{wrong}.xml").status_code == 404
    # a reader who left gets no feed
    project.store.set_reader_status("alice", "unsubscribed", now=NOW)
    assert (
        project.client.get(path(project.links.feed_of("alice", "rss", private=True))).status_code
        == 404
    )


def test_the_archive_is_served_and_its_feeds_fall_back_to_it(project):
    assert project.client.get("/").status_code == 404  # not built yet: a 404, not a crash
    assert project.client.get("/feeds/all.xml").status_code == 404
    site = project.config.out_dir / "site"
    write(site, "index.html", "<!doctype html><title>Archive</title>")
    write(site, "2025/08/20/index.html", "<!doctype html><title>Day</title>")
    write(site, "feeds/all.xml", "<rss>everyone</rss>")
    write(site, "feeds/all.atom", "<feed>everyone</feed>")
    home = project.client.get("/")
    assert home.status_code == 200 and "Archive" in home.text
    assert "Day" in project.client.get("/2025/08/20/").text
    feed = project.client.get("/feeds/all.xml")
    assert feed.status_code == 200 and feed.text == "<rss>everyone</rss>"
    assert feed.headers["content-type"] == "application/rss+xml; charset=utf-8"
    atom = project.client.get("/feeds/all.atom")
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert project.client.get("/feeds/none.xml").status_code == 404
    assert project.client.get("/feeds/..%2F..%2Fdigest.sqlite3").status_code == 404


# --- subscribing (double opt-in) --------------------------------------------------------------


def subscribe(
    project: Project, email: str, keywords: str = "diffusion\nrobotics"
) -> httpx.Response:
    return project.client.post(
        "/subscribe", data={"email": email, "display_name": "Ada", "keywords": keywords}
    )


def test_subscribing_makes_a_pending_reader_and_sends_a_confirmation(project):
    form = project.client.get("/subscribe")
    assert form.status_code == 200 and 'action="/subscribe"' in form.text
    response = subscribe(project, "Ada.Lovelace@Example.org")
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    (reader,) = project.store.readers_by_email("ada.lovelace@example.org")
    assert reader.status == "pending" and reader.origin == "form"
    assert reader.name.startswith("ada-lovelace-")
    assert reader.profile.keywords == ("diffusion", "robotics")
    assert reader.profile.display_name == "Ada"
    ((profile, link),) = project.sent
    assert profile == reader.profile
    assert link.startswith("https://app.example.org/c/")
    assert "lovelace@" not in link.lower() and "%40" not in link
    token = link.rsplit("/", 1)[1]
    assert project.signer.reader(token, "confirm", project.store.token_version) == reader.name
    assert project.signer.reader(token, "unsubscribe", project.store.token_version) is None


def test_the_answer_does_not_tell_who_is_subscribed(project):
    new = subscribe(project, "carol@example.org")
    active = subscribe(project, "alice@example.org")
    assert new.status_code == active.status_code == 200
    assert new.text == active.text
    (carol,) = project.store.readers_by_email("carol@example.org")
    assert [p.name for p, _ in project.sent] == [carol.name]  # nothing for alice, already active
    assert len(project.store.readers_by_email("alice@example.org")) == 1
    soon = subscribe(project, "carol@example.org")  # minutes later: the same page, no mail
    assert soon.text == new.text and len(project.sent) == 1
    project.clock.now += timedelta(minutes=11)
    again = subscribe(project, "CAROL@example.org")  # still pending: the confirmation again
    assert again.text == new.text
    (carol,) = project.store.readers_by_email("carol@example.org")
    assert [p.name for p, _ in project.sent] == [carol.name, carol.name]


def test_reader_names_made_from_addresses():
    names = [
        forms.reader_name("Jörg.O'Brien@example.org"),
        forms.reader_name("___@example.org"),
        forms.reader_name("x" * 64 + "@example.org"),
        forms.reader_name("ada@example.org", attempt=1),
    ]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name) for name in names)
    assert names[0].startswith("jorg-o-brien-")
    assert names[1].startswith("reader-")
    assert names[3] == forms.reader_name("ada@example.org") + "-2"
    assert forms.reader_name("ada@example.org") != forms.reader_name("ada@example.com")
    assert forms.reader_name("Ada@Example.org") == forms.reader_name("ada@example.org")


def test_an_unsubscribed_address_can_subscribe_again(project):
    project.store.set_reader_status("alice", "unsubscribed", now=NOW)
    subscribe(project, "alice@example.org")
    readers = project.store.readers_by_email("alice@example.org")
    assert sorted(r.status for r in readers) == ["pending", "unsubscribed"]
    ((profile, _),) = project.sent
    assert profile.name != "alice"


def test_a_removed_address_can_subscribe_again_with_new_links(project):
    subscribe(project, "ada@example.org")
    ((profile, link),) = project.sent
    assert project.submit(path(link)).status_code == 200
    unsubscribe = path(project.links.unsubscribe(profile.name))
    project.store.set_reader_status(profile.name, "removed", now=NOW)
    project.clock.now += timedelta(days=2)
    subscribe(project, "Ada@example.org", "pruning")
    (again, fresh) = project.sent[-1]
    assert again.name == profile.name and again.keywords == ("pruning",)
    assert project.status(profile.name) == "pending"
    assert fresh != link and project.client.get(path(link)).status_code == 404
    assert project.client.get(unsubscribe).status_code == 404
    assert project.submit(path(fresh)).status_code == 200
    assert project.status(profile.name) == "active"
    assert len(project.store.readers_by_email("ada@example.org")) == 1


@pytest.mark.parametrize(
    ("email", "keywords", "error"),
    [
        ("not-an-address", "x", "enter an email address"),
        ("a@localhost", "x", "enter an email address"),
        ("a@b.org\r\nBcc: c@d.org", "x", "enter an email address"),
        ("a@example.org", "", "at least one keyword"),
        ("a@example.org", "\n".join(map(str, range(60))), "at most 50 keywords"),
    ],
)
def test_an_invalid_subscription_is_refused(project, email, keywords, error):
    response = subscribe(project, email, keywords)
    assert response.status_code == 400
    assert error in response.text
    assert project.sent == []
    assert [r.name for r in project.store.subscribers()] == ["alice", "bob"]


def test_confirming_makes_the_reader_active(project):
    subscribe(project, "ada@example.org")
    ((profile, link),) = project.sent
    url = path(link)
    page = project.client.get(url)
    assert page.status_code == 200 and 'action="' + url + '"' in page.text
    assert project.status(profile.name) == "pending"  # a GET changes nothing
    done = project.submit(url)
    assert done.status_code == 200 and "confirmed" in done.text
    assert project.status(profile.name) == "active"
    again = project.client.post(url, data={"form": project.form_token(profile.name)})
    assert again.status_code == 200 and "confirmed" in again.text  # twice is fine
    subscribe(project, "ada@example.org")
    assert len(project.sent) == 1  # active now: nothing more is sent


def test_a_late_confirmation_is_refused(project):
    subscribe(project, "ada@example.org")
    ((profile, link),) = project.sent
    project.clock.now = NOW + timedelta(hours=48, seconds=1)
    assert project.client.get(path(link)).status_code == 410
    token = project.form_token(profile.name)
    late = project.client.post(path(link), data={"form": token})
    assert late.status_code == 410 and "expired" in late.text
    assert project.status(profile.name) == "pending"
    subscribe(project, "ada@example.org")  # a new confirmation restarts the time
    assert project.submit(path(project.sent[-1][1])).status_code == 200
    assert project.status(profile.name) == "active"


def test_a_confirmation_never_brings_back_a_reader_who_left(project):
    subscribe(project, "ada@example.org")
    ((profile, link),) = project.sent
    unsubscribe = path(project.links.unsubscribe(profile.name))
    assert (
        project.client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    )
    token = project.form_token(profile.name)
    assert project.client.post(path(link), data={"form": token}).status_code == 410
    assert project.status(profile.name) == "unsubscribed"


# --- health -----------------------------------------------------------------------------------


def test_healthz_says_only_whether_the_last_run_went_well(project):
    never = project.client.get("/healthz")
    assert (never.status_code, never.json()) == (200, {"ok": True})
    project.store.record_run(
        "run", started=NOW, seconds=1.5, summary="2 sources ok", report={"ok": True}
    )
    ok = project.client.get("/healthz")
    assert (ok.status_code, ok.json()) == (200, {"ok": True})
    project.store.record_run(
        "run",
        started=NOW,
        seconds=2.0,
        summary="alice: 1 source failed",
        report={"sources": [{"status": "failed", "source": "/srv/digest/pages/a.txt"}]},
    )
    failing = project.client.get("/healthz")
    assert (failing.status_code, failing.json()) == (503, {"ok": False})


# --- headers, escaping, limits ----------------------------------------------------------------


def test_security_headers(project):
    write(project.config.out_dir / "site", "index.html", "<!doctype html>")
    page = project.client.get(path(project.links.unsubscribe("alice")))
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "form-action 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "script-src" not in policy
    assert "https://archive.example.org" in policy  # its stylesheet
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    for response in (
        page,
        project.client.get("/"),
        project.client.get("/no/such/page"),
        project.client.get("/healthz"),
        project.client.post("/u/forged", data={"List-Unsubscribe": "One-Click"}),
        project.client.put("/subscribe"),
    ):
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in response.headers
    assert project.client.get("/no/such/page").headers["cache-control"] == "no-store"


def test_hostile_keywords_and_titles_are_escaped(project):
    url = path(project.links.unsubscribe("alice"))
    hostile = {"keywords": HOSTILE, "exclude": HOSTILE, "authors": HOSTILE, "timezone": HOSTILE}
    shown = project.submit(url, url + "/settings", **hostile)  # a bad zone: all shown again
    assert shown.status_code == 400 and "unknown time zone" in shown.text
    fine = hostile | {"timezone": "UTC", "top_k": "5", "time": "07:00", "cadence": "daily"}
    assert project.submit(url, url + "/settings", **fine).status_code == 200
    (paper,) = project.store.find([HOSTILE])
    like = path(project.links.feedback("alice", DAY, paper.id, "like"))
    pages = [
        shown.text,
        project.client.get(url).text,
        project.client.get(like).text,
        project.submit(like).text,
        project.client.get(url).text,  # now listing the hostile paper as liked
        subscribe(project, "x@example.org", keywords="x" * 101 + "\n" + HOSTILE).text,
    ]
    for page in pages:
        assert "<script>" not in page and "<img" not in page
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_request_bodies_are_capped(project):
    url = path(project.links.unsubscribe("alice"))
    big = project.client.post(url + "/settings", data={"keywords": "x\n" * 40_000})
    assert big.status_code == 413
    assert (
        project.client.post(
            url,
            content=b"List-Unsubscribe=One-Click" + b"&x=1" * 20_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        ).status_code
        == 413
    )
    upload = project.client.post(url, files={"List-Unsubscribe": ("a.txt", b"One-Click")})
    assert upload.status_code == 400
    assert project.status("alice") == "active"


# --- a real server ----------------------------------------------------------------------------


def test_a_real_server_answers_one_click_and_logs_no_token(project, capfd):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    running = server(
        project.config,
        host="127.0.0.1",
        port=port,
        signer=project.signer,
        confirm=lambda p, link: None,
    )
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not running.started and time.monotonic() < deadline:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}{path(project.links.unsubscribe('bob'))}"
        with httpx.Client() as client:
            response = client.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    finally:
        running.should_exit = True
        thread.join(5)
        listener.close()
    assert response.status_code == 200
    assert "location" not in response.headers
    assert project.status("bob") == "unsubscribed"
    err = capfd.readouterr().err
    assert "Application startup complete" in err  # it logs, to stderr
    assert url.rsplit("/", 1)[1] not in err and "/u/" not in err  # no access log
