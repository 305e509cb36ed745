"""Setup that is not flow: the config read with the source kinds known, the store opened with
config.yaml's readers synced into it, the clock (DIGEST_NOW stops it), the units a command
ingests, the model a command ranks with. The CLI asks here; it never opens a stage itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest import ingest, layout, sources
from digest.app.senders import now, sender_clock
from digest.atomic import write_atomic
from digest.config import Config, load_config
from digest.config.checks import store_location
from digest.deliver import deliverer
from digest.errors import ConfigError, DigestError, StoreError
from digest.models import Profile, SourceOutcome, StoredPaper, Term
from digest.render.links import Links
from digest.store import Run, Store
from digest.tokens import Signer, signer_from_env

if TYPE_CHECKING:
    from digest import rank


def source_kinds() -> list[str]:
    """The kinds of source there are (`--kind`'s choices)."""
    return sorted(sources.SOURCES)


def load(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """config.yaml (or `path`) read and validated, its source kinds checked against SOURCES;
    DIGEST_STORE, when set, names the store instead of `store:` (--store wins over both)."""
    config = load_config(path or Path("config.yaml"), kinds=sources.SOURCES.keys())
    named = (os.environ if environ is None else environ).get("DIGEST_STORE", "").strip()
    if not named:
        return config
    try:
        return replace(config, store=store_location(named, base=Path.cwd()))
    except ValueError as exc:
        raise ConfigError(f"DIGEST_STORE: {exc}") from None


def open_store(location: Path | str, readers_of: Config | None = None, *, now: datetime) -> Store:
    """The store at `location` (a path or a URL), with `readers_of`'s readers loaded into it
    (when given)."""
    store = Store.open(location)
    if readers_of is None:
        return store
    with contextlib.ExitStack() as opening:
        opening.enter_context(store)  # closed again (an SQLite error made one line) on failure
        store.sync_readers(readers_of.readers, now=now)
        opening.pop_all()
    return store


def sends(config: Config) -> bool:
    """Whether the configured delivery method sends (smtp) or only writes files."""
    return deliverer(config).sends


def units(
    config: Config,
    *,
    today: date,
    override: date | None = None,
    paths: Sequence[Path] | None = None,
    kind: str | None = None,
    names: Sequence[str] | None = None,
    first: date | None = None,
    last: date | None = None,
) -> Sequence[ingest.Unit | SourceOutcome]:
    """What a command ingests: the files given, or the configured sources (those `names`) for
    each day from `first` to `last` (or the one day)."""
    if paths:
        if names or first:
            raise DigestError("give files or --source/--from/--to, not both")
        return ingest.file_units(paths, kind=kind, day=override)
    names = names or []
    for name in names:
        if name not in {s.name for s in config.sources}:
            known = ", ".join(s.name for s in config.sources) or "none"
            raise ConfigError(f"unknown source {name!r} (known: {known})")
    if (first is None) != (last is None) or (first and last and first > last):
        raise DigestError("--from and --to go together, --from not after --to")
    days = ingest.days_between(first, last) if first and last else [override or today]
    return ingest.configured_units(config, days=days, override=override, names=names)


def signer(
    config: Config, environ: Mapping[str, str] | None = None, *, needed_by: str | None = None
) -> Signer | None:
    """The token signer from the secret's environment variable. The delivery method may need
    it (`needs_secret`: smtp signs the unsubscribe links), as does whatever `needed_by` names;
    the files default works without it."""
    delivery = config.delivery
    try:
        made = signer_from_env(delivery.secret_env, delivery.previous_secrets_env, environ)
    except ValueError as exc:
        raise ConfigError(f"delivery.secret_env: {exc}") from None
    if needed_by is None:
        needed_by = deliverer(config).needs_secret
    if made is None and needed_by is not None:
        raise ConfigError(
            f"delivery.secret_env: the environment variable {delivery.secret_env} is not set",
            hint=needed_by,
        )
    return made


def links_for(config: Config, store: Store, environ: Mapping[str, str] | None = None) -> Links:
    """The URLs of the outputs: reader links signed when a secret is configured."""
    made = signer(config, environ)
    versions = store.token_versions() if made is not None else None
    return Links(config.site.base_url, app=config.app_url, signer=made, versions=versions)


def readers(store: Store) -> list[Profile]:
    """The readers digests are built for: every active reader in the store (config.yaml's are
    loaded into it by the commands) who has not paused, each with their own settings put over
    the newsletter's (see Subscriber)."""
    return [s.profile for s in store.subscribers("active") if not s.profile.paused]


def model(config: Config, store: Store, day: date) -> rank.Model:
    """The fitted model for `day`, cached under out/ while the corpus is unchanged."""
    from digest import modelcache  # scikit-learn loads only where something ranks, not to send

    cache = config.out_dir / layout.CACHE
    return modelcache.model_for(store, day, window_days=config.window_days, cache_dir=cache)


def profile_terms(
    config: Config,
    store: Store,
    profile: Profile,
    liked: Sequence[StoredPaper],
    disliked: Sequence[StoredPaper],
) -> tuple[list[Term], list[Term]]:
    """The terms a reader is drawn to and kept from, by the newest date's model."""
    latest = store.latest_date()
    from digest import rank

    fitted = model(config, store, latest) if latest else rank.fit([])
    return rank.profile_terms(fitted, (profile, list(liked)), list(disliked))


def digest_day(store: Store, requested: date | None) -> date:
    """The date asked for, else the newest date in the store (StoreError when there is none)."""
    if requested is not None:
        return requested
    latest = store.latest_date()
    if latest is None:
        raise StoreError(f"{store.location}: no papers yet", hint="run `digest ingest` first")
    return latest


__all__ = [
    "Run",
    "Store",
    "digest_day",
    "links_for",
    "load",
    "model",
    "now",
    "open_store",
    "profile_terms",
    "readers",
    "sender_clock",
    "sends",
    "signer",
    "source_kinds",
    "units",
    "write_atomic",
]
