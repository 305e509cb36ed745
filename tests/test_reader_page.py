"""A reader's own page on `digest serve`: their settings (held to config.yaml's rules, kept in the
store as their own, winning over config.yaml's and never written into it, used by the next
build), their liked and disliked papers with an undo each, the form token every POST carries;
and the confirmation page's cold start (papers unlike one another, the ticked ones liked).

Each test on SQLite and on PostgreSQL (`store_location`), through Starlette's TestClient.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

import pytest
from pg import StoreLocation
from webapp import DAY, NOW, Project, path, project_in

from digest.app import wiring
from digest.cli import main
from digest.models import Paper, ReaderSettings
from digest.web import forms, signup


@pytest.fixture
def project(tmp_path: Path, store_location: StoreLocation) -> Iterator[Project]:
    with project_in(tmp_path) as made:
        yield made


def page_of(project: Project, reader: str) -> str:
    return path(project.links.unsubscribe(reader))


def settings(project: Project, reader: str, **changes: str) -> dict[str, str]:
    """The settings form as the reader's page fills it in, with `changes` made."""
    found = project.store.subscriber(reader)
    assert found is not None
    shown = asdict(forms.SettingsForm.of(found.profile))
    fields = {k: v for k, v in shown.items() if k != "paused"}
    if shown["paused"]:
        fields["paused"] = "on"
    return fields | changes


def save(project: Project, reader: str, **changes: str):
    url = page_of(project, reader)
    return project.submit(url, url + "/settings", **settings(project, reader, **changes))


# --- settings ---------------------------------------------------------------------------------


def test_the_page_shows_every_setting_on_one_column_for_a_phone(project):
    page = project.client.get(page_of(project, "alice")).text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    for field in ("keywords", "exclude", "authors", "top_k", "weekday", "time", "timezone"):
        assert f'<label for="{field}"' in page, field
        assert f'id="{field}" name="{field}"' in page, field
    assert 'name="cadence" value="daily" checked' in page
    assert 'id="time" name="time" value="07:00"' in page
    assert 'value="America/New_York"' in page and '<option value="Europe/Berlin">' in page
    assert "graphs\npruning</textarea>" in page
    assert "<script" not in page


def test_settings_are_saved_as_the_readers_own_and_config_yaml_is_untouched(project):
    config = project.config.path.read_bytes()
    response = save(
        project,
        "alice",
        keywords="pruning\r\nGraph   Transformers\r\ngraph transformers\r\n",
        exclude="survey\n\nSurvey",
        authors="Ada Lovelace",
        top_k="5",
        cadence="weekly",
        weekday="fri",
        time="7:30",
        timezone="Europe/Berlin",
        paused="on",
    )
    assert response.status_code == 200 and "settings are saved" in response.text
    found = project.store.subscriber("alice")
    assert found is not None
    profile = found.profile
    assert (profile.keywords, profile.weights) == (("pruning", "Graph Transformers"), (0.5, 1.0))
    assert (profile.exclude, profile.authors, profile.top_k) == (("survey",), ("Ada Lovelace",), 5)
    assert (profile.send.weekday, profile.send.time, profile.send.timezone) == (
        "fri",
        "07:30",
        "Europe/Berlin",
    )
    assert profile.paused and found.status == "active"
    assert found.newsletter == project.config.reader("alice")  # config.yaml's, as it was
    assert project.config.path.read_bytes() == config
    assert "Set by you: keywords, excluded terms, followed authors" in response.text
    assert 'name="cadence" value="weekly" checked' in response.text
    assert '<option value="fri" selected>Friday</option>' in response.text
    assert "but you have paused them" in response.text
    # paused: no digest is built or sent for alice
    assert [p.name for p in wiring.readers(project.store)] == ["bob"]


def test_only_what_the_reader_changed_is_theirs_and_config_yaml_still_reaches_the_rest(project):
    assert save(project, "bob", top_k="3").status_code == 200
    found = project.store.subscriber("bob")
    assert found is not None and found.own == ReaderSettings(top_k=3)
    # the operator changes bob's keywords and top_k in config.yaml: keywords reach him, top_k not
    alice, bob = project.config.readers
    project.store.sync_readers([alice, replace(bob, keywords=("agents",), top_k=20)], now=NOW)
    (bob_now,) = [p for p in wiring.readers(project.store) if p.name == "bob"]
    assert (bob_now.keywords, bob_now.top_k) == (("agents",), 3)
    # back to the newsletter's settings
    url = page_of(project, "bob")
    reset = project.submit(url, url + "/settings", action="reset")
    assert reset.status_code == 200 and "the newsletter's again" in reset.text
    found = project.store.subscriber("bob")
    assert found is not None and (found.own, found.profile.top_k) == (ReaderSettings(), 20)


def test_keywords_may_be_left_empty_by_a_reader_who_follows_authors(project):
    assert save(project, "bob", keywords="", authors="Grace Hopper").status_code == 200
    found = project.store.subscriber("bob")
    assert found is not None and found.profile.keywords == ()
    refused = save(project, "bob", keywords="", authors="")
    assert refused.status_code == 400
    assert "give at least one keyword, or follow an author" in refused.text


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("keywords", "\n".join(f"k{i}" for i in range(51)), "at most 50 keywords, please (got 51)"),
        ("keywords", "x" * 101, "line 1: a keyword is at most 100 characters long"),
        ("keywords", "ok\n\nbad\x00word", "line 3: must not contain control characters"),
        ("keywords", "tab\tinside", "line 1: must not contain control characters"),
        ("exclude", "fine\nbad\x1b[31m", "line 2: must not contain control characters"),
        ("authors", "\n".join(f"Author {i}" for i in range(51)), "at most 50 authors"),
        ("top_k", "0", "must be between 1 and 100, got 0"),
        ("top_k", "101", "must be between 1 and 100, got 101"),
        ("top_k", "ten", "expected a whole number, got &#39;ten&#39;"),
        ("time", "25:00", "expected a time as HH:MM (00:00 to 23:59)"),
        ("time", "", "must not be empty"),
        ("timezone", "Mars/Olympus_Mons", "unknown time zone &#39;Mars/Olympus_Mons&#39;"),
        ("weekday", "someday", "unknown weekday &#39;someday&#39;"),
    ],
)
def test_a_bad_value_is_shown_beside_its_field_and_nothing_is_saved(project, field, value, error):
    changes = {field: value} | ({"cadence": "weekly"} if field == "weekday" else {})
    response = save(project, "bob", **changes)
    assert response.status_code == 400
    assert f'<p class="field-error" id="{field}-error">{error}' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Not saved: 1 setting needs a change" in response.text
    found = project.store.subscriber("bob")
    assert found is not None and found.own == ReaderSettings()
    assert found.profile == project.config.reader("bob")


def test_every_bad_field_is_named_at_once_and_the_values_sent_are_shown_again(project):
    response = save(project, "bob", keywords="fine\nnew one", top_k="0", timezone="Nowhere")
    assert response.status_code == 400
    assert "Not saved: 2 settings need a change" in response.text
    assert 'id="top_k-error"' in response.text and 'id="timezone-error"' in response.text
    assert ">\nfine\nnew one</textarea>" in response.text  # what was typed is kept
    assert 'value="Nowhere"' in response.text


# --- liked and disliked papers, undo ----------------------------------------------------------


def test_liked_and_disliked_papers_are_listed_and_each_can_be_taken_back(project):
    (graphs,) = project.store.find(["2506.01234"])
    (hostile,) = [p for p in project.store.papers(on=DAY) if p.id != graphs.id]
    project.store.record_feedback("alice", graphs.id, liked=True, now=NOW)
    project.store.record_feedback("alice", hostile.id, liked=False, now=NOW)
    url = page_of(project, "alice")
    page = project.client.get(url).text
    liked, disliked = page.split('id="judged-1"')[1].split('id="judged-2"')
    assert '<a href="https://arxiv.org/abs/2506.01234">Graph pruning</a>' in liked
    assert 'href="https://archive.example.org/2025/08/20/#arxiv-2506.01234"' in liked
    assert "&lt;script&gt;" in disliked and "<script>" not in page
    taken = project.submit(url, url + "/forget", paper=graphs.id)
    assert taken.status_code == 200
    assert "Taken back: <cite>Graph pruning</cite>" in taken.text
    assert project.store.feedback("alice") == ([], [hostile])
    assert "None yet" in taken.text.split('id="judged-1"')[1].split('id="judged-2"')[0]
    # someone else's paper, or one never judged: nothing to take back, nothing changes
    again = project.submit(url, url + "/forget", paper=graphs.id)
    assert again.status_code == 200 and "Taken back" not in again.text
    assert project.store.feedback("alice") == ([], [hostile])


# --- form tokens ------------------------------------------------------------------------------


def test_every_post_but_the_one_click_needs_the_pages_form_token(project):
    url = page_of(project, "bob")
    like = path(project.links.feedback("bob", DAY, "arxiv:2506.01234", "like"))
    fields = settings(project, "bob", top_k="2")
    expired = project.form_token("bob", hours=-1)
    stranger = project.form_token("alice")
    for token in ("", "nonsense", expired, stranger, project.form_token("bob")[:-2] + "AA"):
        for target, data in (
            (url + "/settings", fields),
            (url + "/settings", {"action": "reset"}),
            (url + "/forget", {"paper": "arxiv:2506.01234"}),
            (url, {"action": "unsubscribe"}),
            (like, {}),
        ):
            response = project.client.post(target, data={**data, "form": token})
            assert response.status_code == 403, (token, target)
            assert "Nothing was" in response.text
    found = project.store.subscriber("bob")
    assert found is not None and (found.status, found.own) == ("active", ReaderSettings())
    assert project.store.feedback("bob") == ([], [])


def test_a_form_left_open_too_long_is_shown_again_with_what_was_typed(project):
    url = page_of(project, "bob")
    token = project.form_token("bob", hours=12)
    project.clock.now += timedelta(hours=12)
    data = settings(project, "bob", keywords="diffusion models")
    response = project.client.post(url + "/settings", data=data | {"form": token})
    assert response.status_code == 403
    assert ">\ndiffusion models</textarea>" in response.text
    found = project.store.subscriber("bob")
    assert found is not None and found.profile.keywords == ("transformers",)
    # the page shown again carries a fresh token: sending it again works
    assert project.submit(url, url + "/settings", **data).status_code == 200


def test_a_removed_reader_cannot_change_settings(project):
    project.store.set_reader_status("bob", "removed", now=NOW)
    url = page_of(project, "bob")
    assert 'id="keywords"' not in project.client.get(url).text
    data = settings(project, "bob", top_k="2") | {"form": project.form_token("bob")}
    assert project.client.post(url + "/settings", data=data).status_code == 400


# --- the cold start ---------------------------------------------------------------------------

TOPICS = {  # five topics, six papers each that say much the same
    "graphs": "graph neural networks message passing over molecules and node features",
    "vision": "image segmentation with convolutional vision backbones and pixel masks",
    "speech": "speech recognition acoustic models for spoken audio transcripts",
    "robots": "robot manipulation grasping policies learned from demonstrations",
    "proofs": "theorem proving with formal proof assistants and tactic search",
}


def topical_papers() -> list[Paper]:
    return [
        Paper(
            title=f"{topic.title()} study {i}: {text.split()[i]} {text.split()[i + 1]}",
            abstract=f"We study {text}. Variant {i} of the {topic} family.",
            arxiv_id=f"2508.{n:05d}",
            upvotes=30 - n,
            digest_date=DAY,
        )
        for n, (topic, text, i) in enumerate(
            (topic, text, i) for topic, text in TOPICS.items() for i in range(6)
        )
    ]


def subscribed(project: Project) -> tuple[str, str]:
    """A new subscriber's reader name and confirmation page."""
    project.client.post(
        "/subscribe", data={"email": "new@example.org", "display_name": "", "keywords": "x"}
    )
    ((profile, link),) = project.sent
    return profile.name, path(link)


def test_the_confirmation_page_offers_papers_unlike_one_another_and_ticked_ones_are_liked(
    project,
):
    project.store.add_papers("test", topical_papers(), now=NOW)
    name, url = subscribed(project)
    page = project.client.get(url).text
    offered = [
        line.split('value="')[1].split('"')[0]
        for line in page.splitlines()
        if 'name="like"' in line
    ]
    assert len(offered) == signup.STARTERS
    by_id = {p.id: p for p in project.store.papers()}
    first = [by_id[ref].title.split()[0] for ref in offered[: len(TOPICS)]]
    assert sorted(first) == sorted(t.title() for t in TOPICS)  # one of each topic first
    assert offered[0] == "arxiv:2508.00000"  # the most upvoted leads
    done = project.submit(url, like=[offered[1], offered[2]])
    assert done.status_code == 200 and "Noted as interesting" in done.text
    assert project.status(name) == "active"
    liked, disliked = project.store.feedback(name)
    assert sorted(p.id for p in liked) == sorted(offered[1:3]) and disliked == []
    # what they liked is on their own page, with an undo
    assert f'name="paper" value="{offered[1]}"' in project.client.get(page_of(project, name)).text


def test_confirming_without_ticking_anything_likes_nothing(project):
    project.store.add_papers("test", topical_papers(), now=NOW)
    name, url = subscribed(project)
    assert project.submit(url).status_code == 200
    assert project.status(name) == "active" and project.store.feedback(name) == ([], [])


def test_a_confirmation_refused_for_its_form_token_changes_nothing(project):
    project.store.add_papers("test", topical_papers(), now=NOW)
    name, url = subscribed(project)
    refused = project.client.post(url, data={"like": "arxiv:2508.00001", "form": "forged"})
    assert refused.status_code == 403 and 'name="like"' in refused.text
    assert project.status(name) == "pending" and project.store.feedback(name) == ([], [])


def test_a_store_without_papers_offers_none(tmp_path: Path, store_location: StoreLocation):
    with project_in(tmp_path, papers=False) as empty:
        name, url = subscribed(empty)
        page = empty.client.get(url).text
        assert 'name="like"' not in page and "Confirm my subscription" in page
        assert empty.submit(url).status_code == 200 and empty.status(name) == "active"


# --- digest readers show ----------------------------------------------------------------------


def test_readers_show_gives_the_readers_own_settings_beside_config_yamls(project, capsys):
    saved = save(project, "alice", top_k="4", keywords="graphs\npruning\nsparsity")
    assert saved.status_code == 200
    config = ["--config", str(project.config.path), "readers", "show", "alice"]
    assert main([*config, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["settings"]["top_k"] == {"value": 4, "own": True, "newsletter": 10}
    assert shown["settings"]["keywords"] == {
        "value": ["graphs", "pruning", "sparsity"],
        "own": True,
        "newsletter": ["graphs", "pruning"],
    }
    assert shown["settings"]["timezone"] == {
        "value": "America/New_York",
        "own": False,
        "newsletter": "America/New_York",
    }
    assert main(config) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "alice <alice@example.org>: active, from config.yaml"
    assert "  * papers at most    4   [config.yaml: 10]" in lines
    assert "    time zone         America/New_York" in lines
    assert main([*config[:-1], "nobody"]) == 1
    assert "unknown reader 'nobody'" in capsys.readouterr().err
