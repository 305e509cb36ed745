"""The contract of the `Store` protocol (digest/store/protocol.py), one test per promise, run
against every backend: a new backend joins by adding its name to `BACKENDS`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import Digest, Paper, Profile, ReaderSettings, Scored, Term
from digest.store import FetchState, SqliteStore, Store
from digest.store.postgres import PostgresStore
from digest.store.sql import built, deliveries

# each backend's store for one test: from the test's temporary folder, or (PostgreSQL) from a
# schema of its own on the test server (the `pg_url` fixture; skipped without a server unless CI)
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Store]] = {
    "sqlite": lambda request, folder: SqliteStore.open(folder / "digest.sqlite3"),
    "postgresql": lambda request, folder: PostgresStore.open(request.getfixturevalue("pg_url")),
}

NOW = datetime(2025, 8, 21, 6, 0, tzinfo=UTC)
D1, D2, D3 = date(2025, 8, 19), date(2025, 8, 20), date(2025, 8, 21)
ADA = Profile(name="ada", keywords=("graphs",), email="ada@example.org")


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with BACKENDS[request.param](request, tmp_path) as store:
        yield store


def paper(title: str, day: date = D1, **fields: object) -> Paper:
    return Paper(title=title, abstract=f"About {title}.", digest_date=day, **fields)  # type: ignore[arg-type]


# -- papers ----------------------------------------------------------------------------------


def test_papers_added_are_listed_by_date_and_found_by_id_or_title(backend: Store) -> None:
    added = backend.add_papers("feed", [paper("Graphs"), paper("Nets", D2)], now=NOW)
    assert (added.seen, added.new, added.dates, added.kept) == (2, 2, (D1, D2), 0)
    assert [p.title for p in backend.papers()] == ["Graphs", "Nets"]
    assert [p.title for p in backend.papers(on=D2)] == ["Nets"]
    assert [p.title for p in backend.papers(since=D2, until=D3)] == ["Nets"]
    assert backend.digest_dates() == [D1, D2]
    assert backend.latest_date() == D2
    assert [p.title for p in backend.find(["graphs", "Unknown paper"])] == ["Graphs"]


def test_an_empty_store_has_no_papers_and_no_latest_date(backend: Store) -> None:
    assert (backend.papers(), backend.digest_dates(), backend.latest_date()) == ([], [], None)


def test_a_second_sighting_merges_into_one_paper_under_its_arxiv_id(backend: Store) -> None:
    backend.add_papers("page", [paper("Graphs", categories=("cs.LG",), upvotes=3)], now=NOW)
    merged = paper("Graphs", D2, arxiv_id="2508.00001", categories=("cs.AI",), upvotes=9)
    assert backend.add_papers("feed", [merged], now=NOW).new == 0
    (only,) = backend.papers()
    assert (only.id, only.arxiv_id) == (merged.id, "2508.00001")
    assert (only.categories, only.upvotes) == (("cs.LG", "cs.AI"), 9)
    assert (only.dates, only.sources) == ((D1, D2), ("page", "feed"))
    assert [p.id for p in backend.find(["2508.00001", paper("Graphs").id])] == [merged.id]


def test_a_source_keeps_or_moves_the_date_it_announced_a_paper_on(backend: Store) -> None:
    backend.add_papers("page", [paper("Graphs")], now=NOW)
    kept = backend.add_papers("page", [paper("Graphs", D2)], now=NOW, other_date="keep")
    assert (kept.kept, kept.dates, backend.papers()[0].dates) == (1, (), (D1,))
    backend.add_papers("page", [paper("Graphs", D3)], now=NOW, other_date="move")
    assert backend.papers()[0].dates == (D3,)


def test_a_paper_without_a_date_stores_nothing_of_its_batch(backend: Store) -> None:
    undated = Paper(title="Undated", abstract="x")
    with pytest.raises(StoreError, match="no digest date"):
        backend.add_papers("feed", [paper("Graphs"), undated], now=NOW)
    assert backend.papers() == []


def test_feedback_names_a_paper_and_the_newest_word_counts(backend: Store) -> None:
    backend.add_papers("feed", [paper("Graphs"), paper("Nets")], now=NOW)
    assert backend.record_feedback("ada", "Graphs", liked=True, now=NOW).title == "Graphs"
    backend.record_feedback("ada", "Nets", liked=True, now=NOW)
    backend.record_feedback("ada", "Nets", liked=False, now=NOW + timedelta(1))
    liked, disliked = backend.feedback("ada")
    assert ([p.title for p in liked], [p.title for p in disliked]) == (["Graphs"], ["Nets"])
    assert backend.feedback("bob") == ([], [])
    with pytest.raises(StoreError, match="no paper"):
        backend.record_feedback("ada", "Missing", liked=True, now=NOW)


# -- built digests ---------------------------------------------------------------------------


def test_built_digests_are_kept_and_a_rebuild_replaces_them(backend: Store) -> None:
    backend.add_papers("feed", [paper("Graphs"), paper("Nets")], now=NOW)
    graphs, nets = backend.papers()
    first = Digest(
        ADA, D1, (Scored(graphs, 0.5, (Term("graph", 0.5),)),), candidates=2, generated=NOW
    )
    backend.save_digests([first])
    again = Digest(ADA, D1, (Scored(nets, 0.25, ()),), candidates=2, generated=NOW)
    later = Digest(ADA, D2, (), candidates=0, generated=NOW, near=(Scored(graphs, 0.1, ()),))
    backend.save_digests([again, later])
    kept = backend.digests(ADA)
    assert [(d.date, [s.paper.title for s in d.papers]) for d in kept] == [
        (D1, ["Nets"]),
        (D2, []),
    ]
    assert [s.paper.title for s in kept[1].near] == ["Graphs"]
    assert [d.date for d in backend.digests(ADA, since=D2)] == [D2]
    assert backend.digests(Profile(name="bob")) == []


def test_many_digests_are_saved_a_chunk_at_a_time_each_once(
    backend: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saved CHUNK digests per transaction (another shard's writes wait a moment, not the whole
    save): every digest kept whole across the chunks; one given twice keeps the last."""
    monkeypatch.setattr(built, "CHUNK", 2)
    backend.add_papers("feed", [paper("Graphs"), paper("Nets")], now=NOW)
    graphs, nets = backend.papers()
    readers = [Profile(name=f"r{n}") for n in range(5)]
    made = [
        Digest(r, D1, (Scored(graphs, 0.5, ()), Scored(nets, 0.25, ())), 2, NOW) for r in readers
    ]
    twice = Digest(readers[0], D1, (Scored(nets, 0.75, ()),), candidates=2, generated=NOW)
    backend.save_digests([*made, twice])
    assert [s.paper.title for s in backend.digests(readers[0])[0].papers] == ["Nets"]
    for reader in readers[1:]:
        (kept,) = backend.digests(reader)
        assert [(s.paper.title, s.score) for s in kept.papers] == [("Graphs", 0.5), ("Nets", 0.25)]
    backend.save_digests([])


def test_many_ledger_rows_are_planned_a_chunk_at_a_time_each_once(
    backend: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries, "PLAN_CHUNK", 3)
    rows = [(f"r{n}", [f"r{n}@example.org"]) for n in range(7)]
    assert backend.plan_deliveries(D1, rows[:4], now=NOW, give_up=NOW + timedelta(days=1)) == 4
    assert backend.plan_deliveries(D1, rows, now=NOW, give_up=NOW + timedelta(days=1)) == 3
    assert [d.reader for d in backend.deliveries(D1)] == [name for name, _ in rows]


# -- sources ---------------------------------------------------------------------------------


def test_source_failures_count_up_until_a_success(backend: Store) -> None:
    backend.record_source("feed", "https://example.org/rss", now=NOW, error="timed out")
    backend.record_source("feed", "https://example.org/rss", now=NOW, error="refused")
    backend.record_source("page", "https://example.org/", now=NOW, error=None)
    assert backend.source_failures("feed") == 2
    assert backend.failing_sources() == [("feed", "refused")]
    backend.record_source("feed", "https://example.org/rss", now=NOW, error=None)
    assert (backend.source_failures("feed"), backend.failing_sources()) == (0, [])
    assert backend.source_failures("never") == 0


def test_the_last_fetch_of_a_url_is_kept(backend: Store) -> None:
    url = "https://example.org/rss"
    assert backend.fetch_state(url) is None
    state = FetchState(url, '"v1"', "Wed, 20 Aug 2025 06:00:00 GMT", 200, None, NOW)
    backend.record_fetch(state, source="feed")
    moved = FetchState(url, None, None, 301, "https://example.org/feed", NOW + timedelta(1))
    backend.record_fetch(moved, source="feed")
    assert backend.fetch_state(url) == moved


# -- runs ------------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_whether_they_went_well(backend: Store) -> None:
    assert (backend.runs(5), backend.last_run(), backend.last_good_run()) == ([], None, None)
    failed = {"sources": [{"source": "feed", "status": "failed", "error": "x"}]}
    backend.record_run("ingest", started=NOW, seconds=1.5, summary="ok run", report={})
    later = NOW + timedelta(hours=1)
    backend.record_run("build", started=later, seconds=2.0, summary="bad", report=failed)
    build, ingest = backend.runs(5)
    assert (build["command"], build["ok"], build["report"]) == ("build", False, failed)
    assert ingest == {
        "command": "ingest",
        "started": NOW.isoformat(),
        "seconds": 1.5,
        "summary": "ok run",
        "ok": True,
        "report": {},
    }
    assert backend.runs(1) == [build]
    assert backend.last_run("ingest") == ingest
    assert backend.last_good_run() == NOW
    assert backend.source_history(5) == [
        {"sources": failed["sources"], "alerts": []},
        {"sources": [], "alerts": []},
    ]


def test_a_run_that_says_it_failed_is_not_ok(backend: Store) -> None:
    for report in ({"ok": False}, {"failures": ["ada: template broke"]}):
        backend.record_run("send", started=NOW, seconds=0.1, summary="-", report=report)
        assert backend.last_run("send") is not None
        assert backend.last_run("send")["ok"] is False  # type: ignore[index]


# -- readers ---------------------------------------------------------------------------------


def test_readers_are_added_removed_and_added_again_with_new_links(backend: Store) -> None:
    assert backend.add_reader(ADA, now=NOW) is False
    first = backend.subscriber("ada")
    assert first is not None and (first.status, first.origin, first.profile) == (
        "active",
        "cli",
        ADA,
    )
    with pytest.raises(StoreError, match="already exists"):
        backend.add_reader(ADA, now=NOW)
    assert backend.set_reader_status("ada", "removed", now=NOW)
    assert backend.add_reader(ADA, now=NOW, status="pending", origin="form") is True
    back = backend.subscriber("ada")
    assert back is not None and (back.status, back.origin) == ("pending", "form")
    assert back.token_version == first.token_version + 1
    assert backend.set_reader_status("nobody", "active", now=NOW) is False
    assert backend.subscriber("nobody") is None


def test_readers_are_listed_by_status_and_found_by_address(backend: Store) -> None:
    bob = Profile(name="bob", email="Ada@Example.org")
    backend.add_reader(ADA, now=NOW)
    backend.add_reader(bob, now=NOW, status="pending")
    assert [s.name for s in backend.subscribers()] == ["ada", "bob"]
    assert [s.name for s in backend.subscribers("pending", "unsubscribed")] == ["bob"]
    assert [s.name for s in backend.readers_by_email("ADA@example.org")] == ["ada", "bob"]
    keywords = Profile(name="bob", keywords=("nets",), email="bob@example.org")
    assert backend.set_profile(keywords, now=NOW)
    assert backend.readers_by_email("bob@example.org")[0].profile == keywords
    assert backend.set_profile(Profile(name="carol"), now=NOW) is False


def test_revoking_a_readers_tokens_bumps_their_version(backend: Store) -> None:
    backend.add_reader(ADA, now=NOW)
    before = backend.token_version("ada")
    assert before is not None and backend.revoke_tokens("ada", now=NOW)
    assert backend.token_version("ada") == before + 1
    assert backend.token_versions() == {"ada": before + 1}
    assert (backend.token_version("bob"), backend.revoke_tokens("bob", now=NOW)) == (None, False)


def test_config_readers_are_synced_and_one_taken_out_is_removed(backend: Store) -> None:
    bob = Profile(name="bob")
    assert backend.sync_readers([ADA, bob], now=NOW) == 2
    assert backend.sync_readers([ADA, bob], now=NOW) == 0
    assert backend.set_reader_status("bob", "unsubscribed", now=NOW)
    assert backend.sync_readers([bob], now=NOW) == 1
    states = {s.name: (s.status, s.origin) for s in backend.subscribers()}
    assert states == {"ada": ("removed", "config"), "bob": ("unsubscribed", "config")}


def test_a_readers_own_settings_win_over_config_yaml_and_survive_its_changes(
    backend: Store,
) -> None:
    configured = Profile(name="ada", keywords=("graphs",), top_k=10, min_papers=8)
    backend.sync_readers([configured], now=NOW)
    own = ReaderSettings(keywords=("pruning",), weights=(), top_k=5, cadence="fri", paused=True)
    assert backend.set_reader_settings("ada", own, now=NOW)
    found = backend.subscriber("ada")
    assert found is not None and found.own == own and found.newsletter == configured
    assert found.profile == replace(
        configured,
        keywords=("pruning",),
        top_k=5,
        min_papers=5,  # never above their own top_k
        paused=True,
        send=replace(configured.send, weekday="fri"),
    )
    # config.yaml changes: the fields the reader set stay theirs, the others follow it
    changed = replace(configured, keywords=("nets",), exclude=("survey",), min_papers=0)
    assert backend.sync_readers([changed], now=NOW) == 1
    (found,) = backend.subscribers("active")
    assert (found.profile.keywords, found.profile.exclude) == (("pruning",), ("survey",))
    assert found.newsletter == changed
    assert [s.profile for s in backend.readers_by_email("nobody@example.org")] == []
    # nothing set: back to config.yaml's entry
    assert backend.set_reader_settings("ada", ReaderSettings(), now=NOW)
    found = backend.subscriber("ada")
    assert found is not None and (found.profile, found.own, found.base) == (
        changed,
        ReaderSettings(),
        None,
    )
    assert backend.set_reader_settings("nobody", own, now=NOW) is False


def test_a_reader_added_again_starts_without_their_old_settings(backend: Store) -> None:
    backend.add_reader(ADA, now=NOW)
    backend.set_reader_settings("ada", ReaderSettings(top_k=3), now=NOW)
    backend.set_reader_status("ada", "removed", now=NOW)
    backend.add_reader(ADA, now=NOW, status="pending", origin="form")
    found = backend.subscriber("ada")
    assert found is not None and (found.profile, found.own) == (ADA, ReaderSettings())


def test_an_unchanged_config_entry_leaves_the_stored_profile_alone(backend: Store) -> None:
    backend.sync_readers([ADA], now=NOW)
    backend.set_profile(replace(ADA, keywords=("edited",)), now=NOW)
    assert backend.sync_readers([ADA], now=NOW) == 0  # the entry as it was: the edit stays
    found = backend.subscriber("ada")
    assert found is not None and found.profile.keywords == ("edited",)


def test_feedback_is_taken_back(backend: Store) -> None:
    backend.add_papers("feed", [paper("Graphs"), paper("Nets")], now=NOW)
    graphs = backend.record_feedback("ada", "Graphs", liked=True, now=NOW)
    nets = backend.record_feedback("ada", "Nets", liked=False, now=NOW)
    assert backend.forget_feedback("ada", graphs.id) is True
    assert backend.forget_feedback("ada", graphs.id) is False  # nothing more to take back
    assert backend.forget_feedback("bob", nets.id) is False
    liked, disliked = backend.feedback("ada")
    assert (liked, [p.id for p in disliked]) == ([], [nets.id])


# -- signups ---------------------------------------------------------------------------------


def test_signups_are_counted_against_each_budget(backend: Store) -> None:
    def admit(address: str, at: datetime) -> timedelta | None:
        return backend.admit_signup(address, now=at, per_hour=3, per_address=2)

    assert admit("a@example.org", NOW) is None
    assert admit("A@example.org", NOW + timedelta(minutes=1)) is None
    assert admit("a@example.org", NOW + timedelta(minutes=2)) == timedelta(hours=24, minutes=-2)
    assert admit("b@example.org", NOW + timedelta(minutes=3)) is None
    assert admit("c@example.org", NOW + timedelta(minutes=30)) == timedelta(minutes=30)
    assert admit("c@example.org", NOW + timedelta(hours=1)) is None  # the first left the hour


# -- the send ledger -------------------------------------------------------------------------


def planned(backend: Store, *readers: str) -> None:
    backend.add_papers("feed", [paper("Graphs")], now=NOW)
    for name in readers:
        backend.add_reader(Profile(name=name, email=f"{name}@example.org"), now=NOW)
    rows = [(name, [f"{name}@example.org"]) for name in readers]
    assert backend.plan_deliveries(D1, rows, now=NOW, give_up=NOW + timedelta(days=1)) == len(rows)


def test_a_planned_row_is_claimed_once_and_its_outcome_kept(backend: Store) -> None:
    planned(backend, "ada")
    again = [("ada", ["other@example.org"])]
    assert backend.plan_deliveries(D1, again, now=NOW, give_up=NOW) == 0  # never reset
    claim = backend.claim_delivery(D1, by="s1", now=NOW)
    assert claim is not None and (claim.reader, claim.status) == ("ada", "sending")
    assert claim.recipients == ("ada@example.org",)
    assert backend.claim_delivery(D1, by="s2", now=NOW) is None
    assert backend.mark_transmitting(D1, "ada", by="s2") is False  # not theirs
    assert backend.mark_transmitting(D1, "ada", by="s1")
    assert backend.finish_delivery(D1, "ada", by="s1", status="sent", now=NOW, message_id="<m>")
    (row,) = backend.deliveries(D1)
    assert (row.status, row.attempts, row.message_id, row.sent_at) == ("sent", 1, "<m>", NOW)
    assert backend.finish_delivery(D1, "ada", by="s1", status="failed", now=NOW) is False
    assert (backend.delivery_dates(), backend.next_due(D1)) == ([D1], None)


def test_a_deferred_row_comes_due_again_then_expires(backend: Store) -> None:
    planned(backend, "ada")
    backend.claim_delivery(D1, by="s1", now=NOW)
    retry = NOW + timedelta(hours=1)
    backend.finish_delivery(
        D1, "ada", by="s1", status="deferred", now=NOW, next_attempt=retry, code=451, reply="busy"
    )
    assert backend.next_due(D1) == retry
    assert backend.claim_delivery(D1, by="s1", now=NOW) is None  # not due yet
    assert backend.expire_deliveries(D1, now=NOW) == 0
    assert backend.expire_deliveries(D1, now=NOW + timedelta(days=2)) == 1
    (row,) = backend.deliveries(D1)
    assert (row.status, row.code, row.reply) == ("expired", 451, "gave up retrying: busy")


def test_a_row_of_a_reader_no_longer_active_is_suppressed_not_claimed(backend: Store) -> None:
    planned(backend, "ada", "bob")
    backend.set_reader_status("ada", "unsubscribed", now=NOW)
    claim = backend.claim_delivery(D1, by="s1", now=NOW)
    assert claim is not None and claim.reader == "bob"
    assert [(r.reader, r.status) for r in backend.deliveries(D1)] == [
        ("ada", "suppressed"),
        ("bob", "sending"),
    ]
    assert backend.claim_delivery(D1, by="s1", now=NOW, reader="ada") is None


def test_a_stopped_senders_rows_are_recovered_by_how_far_they_got(backend: Store) -> None:
    planned(backend, "ada", "bob")
    backend.claim_delivery(D1, by="gone", now=NOW, reader="ada")
    backend.claim_delivery(D1, by="gone", now=NOW, reader="bob")
    backend.mark_transmitting(D1, "bob", by="gone")
    lease = timedelta(minutes=10)
    assert backend.recover_deliveries(D1, now=NOW, lease=lease, gone=lambda by: False) == 0
    assert backend.recover_deliveries(D1, now=NOW, lease=lease, gone=lambda by: by == "gone") == 2
    assert [(r.reader, r.status) for r in backend.deliveries(D1)] == [
        ("ada", "pending"),
        ("bob", "unknown"),
    ]


def test_an_unknown_row_is_settled_by_hand_once_and_remembered(backend: Store) -> None:
    planned(backend, "ada")
    backend.claim_delivery(D1, by="gone", now=NOW)
    backend.mark_transmitting(D1, "ada", by="gone")
    backend.recover_deliveries(D1, now=NOW, lease=timedelta(0), gone=lambda by: True)
    later = NOW + timedelta(hours=2)
    row = backend.settle_delivery(D1, "ada", action="resend", actor="op@host", now=later, note="n")
    assert (row.status, row.next_attempt) == ("pending", later)
    (event,) = backend.ledger_history(D1)
    assert (event.reader, event.action, event.from_status, event.to_status, event.note) == (
        "ada",
        "resend",
        "unknown",
        "pending",
        "n",
    )
    with pytest.raises(StoreError, match="not unknown"):
        backend.settle_delivery(D1, "ada", action="sent", actor="op@host", now=later)
    with pytest.raises(StoreError, match="no such row"):
        backend.settle_delivery(D1, "bob", action="sent", actor="op@host", now=later)


def test_sending_a_day_is_paused_and_resumed(backend: Store) -> None:
    assert backend.sending_paused(D1) is None
    backend.pause_sending(D1, reason="too many refusals", now=NOW)
    assert backend.sending_paused(D1) == "too many refusals"
    assert backend.resume_sending(D1) is True
    assert (backend.sending_paused(D1), backend.resume_sending(D1)) == (None, False)


def test_store_times_must_be_timezone_aware(backend: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        backend.pause_sending(D1, reason="x", now=NOW.replace(tzinfo=None))


# -- upkeep ----------------------------------------------------------------------------------


def test_a_sound_store_passes_its_check_and_backs_up_to_a_new_file(
    backend: Store, tmp_path: Path
) -> None:
    backend.add_papers("feed", [paper("Graphs")], now=NOW)
    assert backend.check() == []
    target = tmp_path / "backups" / "copy.sqlite3"
    backend.backup(target)
    with pytest.raises(StoreError, match="already exists"):
        backend.backup(target)
    assert target.stat().st_size > 0
    assert [p.name for p in target.parent.iterdir()] == ["copy.sqlite3"]  # nothing left beside it
    # the copy itself: an SQLite file opened as a store here; a pg_dump archive, restored in
    # tests/test_postgres.py
    if isinstance(backend, SqliteStore):
        with pytest.raises(StoreError, match="the store itself"):
            backend.backup(backend.path, force=True)
        with Store.open(target) as copy:
            assert [p.title for p in copy.papers()] == ["Graphs"]
