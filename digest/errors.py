"""Typed exceptions: one family inside, one clear line outside (see cli.py)."""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error the CLI reports as one line."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(DigestError):
    """config.yaml is missing, malformed or invalid; `problems` lists every one found."""

    def __init__(self, message: str, *, problems: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems


class SourceError(DigestError):
    """One source (file, URL) could not be read or parsed; the others go on."""


class StoreError(DigestError):
    """The store could not be opened, migrated or written."""


class RenderError(DigestError):
    """A template is missing or failed to render."""


class DeliveryError(DigestError):
    """An artifact could not be written or sent."""
