"""The fitted ranking model, kept on disk and reused until the corpus changes.

rank stays pure: this module finds or fits the model and the build hands it in. A model is
filed under a key made from everything it depends on (the texts and ids of the corpus, the rank
and scikit-learn versions), so any change to the corpus fits a new one and nothing stale is read.

One process keeps its models under out/cache/ (`model_for`: a local file reads fastest, and
keeps the store small). The shards of a sharded build, on one host or many, share theirs through
the store instead (`shared_model`): the first fits it under the store's model lock, the others
wait for the lock and load what it saved.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import sklearn

from digest import rank
from digest.atomic import write_atomic
from digest.models import StoredPaper
from digest.store import Store

log = logging.getLogger("digest")

KEEP = 8  # cached models kept; the oldest beyond this are removed


def corpus_key(corpus: Sequence[StoredPaper]) -> str:
    """A digest of what a model fitted on `corpus` depends on."""
    h = hashlib.sha256(f"{rank.MODEL_VERSION}\0{sklearn.__version__}\0".encode())
    for paper in corpus:
        h.update(f"{paper.id}\0{paper.text}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def load_or_fit(corpus: Sequence[StoredPaper], cache_dir: Path | None) -> tuple[rank.Model, bool]:
    """The model for `corpus` and whether it came from the cache. Without a cache directory,
    or when the cached file is unreadable, it is fitted (and the cache file rewritten)."""
    if cache_dir is None:
        return rank.fit(corpus), False
    path = cache_dir / f"model-{corpus_key(corpus)}.pickle"
    try:
        with path.open("rb") as handle:
            model = pickle.load(handle)
        if isinstance(model, rank.Model) and len(model.index) == len(corpus):
            path.touch()  # most recently used: kept longest
            return model, True
        log.warning("%s: not a model for this corpus; fitting again", path)
    except FileNotFoundError:
        pass
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError) as exc:
        log.warning("%s: unreadable (%s); fitting again", path, exc)
    model = rank.fit(corpus)
    try:
        write_atomic(path, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        _prune(cache_dir)
    except OSError as exc:
        log.warning("%s: cannot cache the model: %s", path, exc)
    return model, False


def shared_model(store: Store, day: date, *, window_days: int) -> tuple[rank.Model, bool]:
    """The model for `day` and whether this call fitted it: loaded from the store when a shard
    saved it, else fitted under the store's model lock (a shard that waited for the lock then
    finds it saved) and saved for the others."""
    papers = corpus(store, day, window_days)
    key = corpus_key(papers)
    model = _stored(store, key, len(papers))
    if model is not None:
        return model, False
    with store.model_lock(key):
        model = _stored(store, key, len(papers))
        if model is not None:
            return model, False
        model = rank.fit(papers)
        store.save_model(key, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    return model, True


def _stored(store: Store, key: str, papers: int) -> rank.Model | None:
    """The model saved in the store under `key`; None when there is none or it is unreadable."""
    data = store.load_model(key)
    if data is None:
        return None
    try:
        model = pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, ImportError, AttributeError, TypeError) as exc:
        log.warning("%s: the model %s is unreadable (%s); fitting again", store.location, key, exc)
        return None
    if isinstance(model, rank.Model) and len(model.index) == papers:
        return model
    log.warning("%s: the model %s is not for this corpus; fitting again", store.location, key)
    return None


def _prune(cache_dir: Path) -> None:
    files = sorted(cache_dir.glob("model-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)


def corpus(store: Store, day: date, window_days: int) -> list[StoredPaper]:
    """The papers the model is fitted on for `day`: those sighted in the window ending that day."""
    return store.papers(since=day - timedelta(days=window_days - 1), until=day)


def model_for(
    store: Store, day: date, *, window_days: int, cache_dir: Path | None = None
) -> rank.Model:
    """The fitted model for `day`, from the on-disk cache when the corpus is unchanged."""
    model, cached = load_or_fit(corpus(store, day, window_days), cache_dir)
    log.debug("%s: model %s (%d papers)", day, "cached" if cached else "fitted", len(model.index))
    return model
