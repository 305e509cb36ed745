"""Deliverers: how digests reach readers, one entry in DELIVERERS per `delivery.method`.

Every part of the program that depends on the method asks the configured entry
(`deliverer(config)`) instead of comparing names:

- `plans_ledger`: the build plans a ledger row per message, and `send` works them off;
- `sends` / `transport(config)`: messages go out through a transport (one message a call, see
  sender.Transport), and so do the mails outside the ledger (an operator alert, a subscribe
  confirmation); without one, those are .eml files under out/mail/ and nothing is sent;
- `needs_smtp`, `needs_https`, `needs_secret`: what the method requires of config.yaml.

Every method writes each digest's files (the .eml too) under the output directory: for `files`
that is the delivery, for `smtp` it is what the sender reads back and sends. Adding a method is
one module and one entry here, and its tests (CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from digest.deliver import files, smtp
from digest.errors import ConfigError
from digest.models import Artifact

if TYPE_CHECKING:
    from digest.config import Config
    from digest.deliver.sender import Transport

Write = Callable[[Iterable[Artifact], Path], list[Path]]
Connect = Callable[["Config", Mapping[str, str] | None], "Transport"]


@dataclass(frozen=True, slots=True)
class Deliverer:
    """One delivery method: what it does at build and send time, and what it needs."""

    name: str  # the `delivery.method` that chooses it
    plans_ledger: bool  # the build plans one ledger row per message, sent exactly once
    connect: Connect | None  # a transport from config and environment; None: nothing is sent
    needs_smtp: bool = False  # the `delivery.smtp:` block is required
    needs_https: bool = False  # an http `delivery.base_url` is refused (one-click unsubscribe)
    needs_secret: str | None = None  # why the link-signing secret is required; None: optional
    write: Write = files.deliver  # how artifacts are written under the output directory

    def __call__(self, artifacts: Iterable[Artifact], root: Path) -> list[Path]:
        """Write `artifacts` under `root`; returns the paths written."""
        return self.write(artifacts, root)

    @property
    def sends(self) -> bool:
        """Messages go out through a transport (else they stay files under out/mail/)."""
        return self.connect is not None

    def transport(self, config: Config, environ: Mapping[str, str] | None = None) -> Transport:
        """A transport to send through; a ConfigError when this method sends nothing."""
        if self.connect is None:
            raise ConfigError(
                f"delivery.method: {self.name} writes .eml files and sends nothing",
                hint="set delivery.method: smtp to send",
            )
        return self.connect(config, environ)


DELIVERERS: dict[str, Deliverer] = {
    "files": Deliverer("files", plans_ledger=False, connect=None),
    "smtp": Deliverer(
        "smtp",
        plans_ledger=True,
        connect=smtp.connect,
        needs_smtp=True,
        needs_https=True,
        needs_secret="sending by SMTP signs each reader's unsubscribe link with it",
    ),
}


def deliverer(config: Config) -> Deliverer:
    """The entry config.yaml's `delivery.method` chooses."""
    method = config.delivery.method
    if method not in DELIVERERS:
        raise ConfigError(
            f"delivery.method: unknown method {method}", hint=f"one of {', '.join(DELIVERERS)}"
        )
    return DELIVERERS[method]
