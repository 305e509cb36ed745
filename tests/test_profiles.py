"""Rich profiles: weighted keywords, excluded terms, followed authors, popularity, diversity,
explanations naming the closest liked paper; and the fitted model cached on disk. The corpus
window read from the store runs on SQLite and on PostgreSQL (`store_location`)."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime
from pathlib import Path

from helpers import stored
from pg import StoreLocation
from test_rank import CORPUS, names

from digest import learn, modelcache, rank
from digest.models import Paper, Profile
from digest.store import Store


def test_keyword_weights_decide_between_two_interests() -> None:
    model = rank.fit(CORPUS)
    words = ("pruning", "quantization")
    more_pruning = Profile(name="r", keywords=words, weights=(3.0, 1.0))
    more_quant = Profile(name="r", keywords=words, weights=(1.0, 3.0))
    assert names(rank.rank(model, more_pruning, CORPUS))[:2] == ["p:prune", "p:quant"]
    assert names(rank.rank(model, more_quant, CORPUS))[:2] == ["p:quant", "p:prune"]
    zero = Profile(name="r", keywords=words, weights=(1.0, 0.0))
    assert names(rank.rank(model, zero, CORPUS)) == ["p:prune"]


def test_excluded_terms_are_a_hard_filter_on_whole_words() -> None:
    model = rank.fit(CORPUS)
    reader = Profile(name="r", keywords=("graph neural", "language models"))
    assert {"p:graph", "p:llm"} <= set(names(rank.rank(model, reader, CORPUS)))
    # a phrase, matched whatever its case and number; the keyword match does not save it
    molecules = Profile(name="r", keywords=reader.keywords, exclude=("Molecule",))
    assert "p:graph" not in names(rank.rank(model, molecules, CORPUS))
    phrase = Profile(name="r", keywords=reader.keywords, exclude=("large language model",))
    assert names(rank.rank(model, phrase, CORPUS)) == ["p:graph"]
    # part of a word is not the word
    partial = Profile(name="r", keywords=reader.keywords, exclude=("graph neural net", "lang"))
    assert set(names(rank.rank(model, partial, CORPUS))) == {"p:graph", "p:llm"}


def test_followed_authors_are_boosted_and_matched_by_name_not_by_chance() -> None:
    papers = [
        *CORPUS,
        stored("p:lecun", "World models", "Self-supervised world models.", authors=("Yann LeCun",)),
        stored("p:yi", "Robot arms", "A robot arm.", authors=("Yi Lecun",)),
        stored("p:jose", "Sparse codes", "Sparse coding.", authors=("José Núñez", "Ann Other")),
    ]
    model = rank.fit(papers)
    plain = Profile(name="r", keywords=("pruning",))
    assert names(rank.rank(model, plain, papers)) == ["p:prune"]
    follows = Profile(name="r", keywords=("pruning",), authors=("Yann LeCun", "jose nunez"))
    ranked = rank.rank(model, follows, papers)
    assert set(names(ranked)) == {"p:prune", "p:lecun", "p:jose"}  # not Yi Lecun
    by_author = {s.paper.id: s.authors for s in ranked}
    assert by_author["p:lecun"] == ("Yann LeCun",) and by_author["p:jose"] == ("jose nunez",)
    assert by_author["p:prune"] == ()
    # a boost, not a takeover: the reader's best match still leads
    assert names(ranked)[0] == "p:prune"
    only_authors = Profile(name="r", authors=("Yann LeCun",))
    assert names(rank.rank(model, only_authors, papers)) == ["p:lecun"]
    initial = Profile(name="r", authors=("Y. LeCun",))  # an initial stands for any first name
    assert set(names(rank.rank(model, initial, papers))) == {"p:lecun", "p:yi"}


def test_popularity_breaks_near_ties_and_is_shown_as_a_share() -> None:
    papers = [
        stored("p:a", "Pruning networks", "Pruning.", upvotes=2),
        stored("p:b", "Pruning networks", "Pruning.", upvotes=90),
        stored("p:c", "Quantization", "Bits.", upvotes=500),
    ]
    model = rank.fit(papers)
    reader = Profile(name="r", keywords=("pruning",), diversity=0.0)
    ranked = rank.rank(model, reader, papers)
    assert names(ranked) == ["p:b", "p:a"]  # popularity alone never brings p:c in
    assert ranked[0].popularity > ranked[1].popularity > 0
    assert ranked[0].score > ranked[1].score
    ignore = Profile(name="r", keywords=("pruning",), popularity=0.0, diversity=0.0)
    unranked = rank.rank(model, ignore, papers)
    assert names(unranked) == ["p:a", "p:b"] and unranked[0].score == unranked[1].score
    assert all(s.popularity == 0 for s in unranked)
    no_votes = [stored(p.id, p.title, p.abstract) for p in papers]
    quiet = rank.rank(model, reader, no_votes)
    assert all(s.popularity == 0 for s in quiet)
    assert quiet[0].score == unranked[0].score  # a day without upvotes scores by relevance


def test_diversity_lets_a_different_paper_past_a_near_duplicate() -> None:
    text = "Channel pruning of convolutional networks for faster inference on phones."
    papers = [
        stored("p:a", "Channel pruning for phones", text),
        stored("p:b", "Channel pruning for phones, revisited", text + " Again."),
        stored("p:c", "Pruning transformers", "Pruning attention heads of transformers."),
        *CORPUS[2:],
    ]
    model = rank.fit(papers)
    words = ("channel pruning", "pruning")
    by_score = rank.rank(model, Profile(name="r", keywords=words, diversity=0.0), papers)
    assert names(by_score) == ["p:a", "p:b", "p:c"]
    varied = rank.rank(model, Profile(name="r", keywords=words, diversity=0.5), papers)
    assert names(varied) == ["p:a", "p:c", "p:b"]
    assert {s.paper.id: s.score for s in varied} == {s.paper.id: s.score for s in by_score}


def test_each_paper_names_the_liked_paper_it_is_closest_to() -> None:
    liked = stored("p:liked", "Pruning convolutional networks", "We prune convolutional channels.")
    papers = [*CORPUS, liked]
    model = rank.fit(papers)
    reader = Profile(name="r", keywords=("quantization", "pruning"), liked=("p:liked",))
    ranked = {s.paper.id: s for s in rank.rank(model, reader, CORPUS, [liked])}
    assert ranked["p:prune"].closest == liked and ranked["p:prune"].closeness > 0.1
    assert ranked["p:quant"].closest is None  # shares nothing with the liked paper


def test_the_model_is_cached_until_the_corpus_changes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fitted, hit = modelcache.load_or_fit(CORPUS, cache)
    assert not hit and len(list(cache.glob("model-*.pickle"))) == 1
    again, hit = modelcache.load_or_fit(CORPUS, cache)
    assert hit and again.terms == fitted.terms
    reader = Profile(name="r", keywords=("pruning", "quantization"))
    assert rank.rank(again, reader, CORPUS) == rank.rank(fitted, reader, CORPUS)
    edited = [*CORPUS[:-1], stored("p:llm", CORPUS[-1].title, "A changed abstract.")]
    _, hit = modelcache.load_or_fit(edited, cache)
    assert not hit and len(list(cache.glob("model-*.pickle"))) == 2
    # a damaged cache file is fitted again and rewritten, never trusted
    (path,) = [
        p
        for p in cache.glob("*.pickle")
        if p.name.endswith(modelcache.corpus_key(CORPUS) + ".pickle")
    ]
    path.write_bytes(b"not a pickle")
    model, hit = modelcache.load_or_fit(CORPUS, cache)
    assert not hit and model.terms == fitted.terms
    assert isinstance(pickle.loads(path.read_bytes()), rank.Model)


def test_the_corpus_window_reads_only_the_days_asked_for(
    tmp_path: Path, store_location: StoreLocation
) -> None:
    now = datetime(2025, 9, 1, tzinfo=UTC)
    with Store.open(store_location(tmp_path / "s.sqlite3")) as store:
        for day in (date(2025, 5, 1), date(2025, 8, 1), date(2025, 8, 20)):
            paper = Paper(title=f"Paper of {day}", abstract="", digest_date=day)
            store.add_papers("s", [paper], now=now)
        window = store.papers(since=date(2025, 6, 1), until=date(2025, 8, 20))
        assert [p.title for p in window] == ["Paper of 2025-08-01", "Paper of 2025-08-20"]
        assert len(store.papers(until=date(2025, 8, 1))) == 2
        assert len(store.papers()) == 3


def test_a_reader_with_enough_liked_papers_gets_a_linear_model() -> None:
    topics = {
        "prune": "channel pruning sparse convolutional networks compression",
        "splat": "gaussian splatting radiance fields novel view rendering",
    }
    corpus = [
        stored(f"p:{name}{i}", f"{name} study {i}", f"{words.split()[i % 6]} {words} case {i}")
        for name, words in topics.items()
        for i in range(120)
    ]
    today = [
        stored(
            "p:new-prune", "Sparse channel pruning", "channel pruning of convolutional networks"
        ),
        stored("p:new-splat", "Faster splatting", "gaussian splatting for novel view rendering"),
    ]
    model = rank.fit(corpus + today)
    liked = corpus[: learn.MIN_LIKED]
    reader = Profile(name="r", keywords=("compression",), liked=tuple(p.id for p in liked))
    assert learn.learns(liked)
    ranked = rank.rank(model, reader, today, liked)
    assert names(ranked)[0] == "p:new-prune"
    # every match is explained; a paper nothing the reader liked or typed explains is no match
    assert all(all(t.weight > 0 for t in s.terms) for s in ranked)
    assert all(s.terms for s in ranked if not s.loose)
    assert all(s.loose for s in ranked if not s.terms)
    assert ranked == rank.rank(model, reader, today, liked)  # deterministic
    other = Profile(name="o", keywords=("gaussian splatting",))
    both = rank.rank_many(model, [(reader, liked), (other, [])], today)
    assert both["r"] == ranked and both["o"] == rank.rank(model, other, today)
    query_only = rank.rank_many(model, [(reader, liked)], today, linear=False)["r"]
    assert names(query_only)[0] == "p:new-prune" and query_only != ranked
