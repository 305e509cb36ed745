"""Signed reader tokens: one purpose each, tamper-proof, revocable, and still valid after a
secret rotation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from digest.tokens import Signer

SECRET = "correct horse battery staple 42"
OLD = "an older secret, rotated out 7"


def test_a_token_names_its_reader_for_its_purpose_only() -> None:
    signer = Signer.from_text(SECRET)
    token = signer.token("ada", "unsubscribe")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token) and len(token) < 30
    assert signer.reader(token, "unsubscribe") == "ada"
    # a leaked feed token cannot unsubscribe anyone, nor the other way round
    assert signer.reader(signer.token("ada", "feed"), "unsubscribe") is None
    assert signer.reader(token, "feed") is None
    assert signer.token("ada", "unsubscribe") == token  # stable: the same link every day


@pytest.mark.parametrize(
    "forged",
    [
        "",
        ".",
        "YWRh",
        "YWRh.",
        "YWRh.!!!!",
        "Ym9i" + "." + "A" * 16,  # someone else's name with a made-up signature
        "%%%.%%%",
        "YWRh.AAAAAAAAAAAAAAAA",
    ],
)
def test_forged_and_malformed_tokens_name_nobody(forged: str) -> None:
    assert Signer.from_text(SECRET).reader(forged, "unsubscribe") is None


def test_tampering_with_either_half_is_caught() -> None:
    signer = Signer.from_text(SECRET)
    name, signature = signer.token("ada", "feed").split(".")
    other = signer.token("bob", "feed").split(".")[0]
    assert signer.reader(f"{other}.{signature}", "feed") is None
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert signer.reader(f"{name}.{flipped}", "feed") is None


def test_a_rotated_secret_keeps_old_links_working_until_it_is_dropped() -> None:
    before = Signer.from_text(OLD).token("ada", "feedback")
    rotated = Signer.from_text(SECRET, [OLD])
    assert rotated.reader(before, "feedback") == "ada"
    assert rotated.token("ada", "feedback") != before  # new links use the new secret
    assert Signer.from_text(SECRET).reader(before, "feedback") is None


def test_bumping_a_readers_version_revokes_their_tokens() -> None:
    signer = Signer.from_text(SECRET)
    old = signer.token("ada", "feed")
    versions = {"ada": 1, "bob": 0}
    assert signer.reader(old, "feed", versions.get) is None
    assert signer.reader(signer.token("ada", "feed", version=1), "feed", versions.get) == "ada"
    assert signer.reader(signer.token("bob", "feed"), "feed", versions.get) == "bob"


def test_a_reader_the_store_does_not_know_is_refused() -> None:
    signer = Signer.from_text(SECRET)
    assert signer.reader(signer.token("gone", "feed"), "feed", {"ada": 0}.get) is None


def test_short_or_missing_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Signer.from_text("short")
    with pytest.raises(ValueError, match="at least one secret"):
        Signer(())


def test_a_form_token_names_its_reader_until_it_ends() -> None:
    signer = Signer.from_text(SECRET)
    now = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
    token = signer.form_token("ada", until=now + timedelta(hours=12))
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[a-z0-9]+\.[A-Za-z0-9_-]+", token)
    assert signer.form_reader(token, now=now) == "ada"
    assert signer.form_reader(token, now=now + timedelta(hours=11, minutes=59)) == "ada"
    assert signer.form_reader(token, now=now + timedelta(hours=12)) is None  # ended
    # its end cannot be moved, nor its reader changed, nor its secret or version be old
    name, until, signature = token.split(".")
    later = signer.form_token("ada", until=now + timedelta(days=9)).split(".")[1]
    other = signer.form_token("bob", until=now + timedelta(hours=12)).split(".")[0]
    for forged in (f"{name}.{later}.{signature}", f"{other}.{until}.{signature}", "a.b.c", ""):
        assert signer.form_reader(forged, now=now) is None, forged
    assert Signer.from_text(OLD).form_reader(token, now=now) is None
    assert signer.form_reader(token, now=now, version_of={"ada": 1}.get) is None
    assert Signer.from_text(OLD, [SECRET]).form_reader(token, now=now) == "ada"  # rotated


def test_a_form_token_is_no_other_token_and_no_other_is_a_form_token() -> None:
    signer = Signer.from_text(SECRET)
    now = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
    form = signer.form_token("ada", until=now + timedelta(hours=1))
    assert signer.reader(form, "unsubscribe") is None
    assert signer.reader(form, "form") is None
    assert signer.form_reader(signer.token("ada", "unsubscribe"), now=now) is None
    with pytest.raises(ValueError, match="form_token"):
        signer.token("ada", "form")
