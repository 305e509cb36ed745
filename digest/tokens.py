"""Signed, short, per-reader tokens for the links in emails and feeds.

A token names a reader and is signed (HMAC-SHA256) for one purpose: an unsubscribe token cannot
be used as a feed token, so a leaked feed URL cannot unsubscribe anyone. The signature also covers
the reader's token version: bumping it revokes every token given out before. Secrets come from
the caller (read from environment variables, never from config.yaml); the first signs, the others
(previous secrets, after a rotation) are still accepted, so links in mail already sent keep
working.

A form token (`form_token`) goes in the forms of a reader's pages and is checked on every POST
(`form_reader`): it names the reader and when it stops working, both signed, so another site
cannot make a reader's browser post to their page (it cannot read the token), and one copied
from a page does not work for long.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Purpose = Literal["unsubscribe", "feedback", "feed", "confirm", "form"]
SIGNATURE_BYTES = 12  # 96 bits: unforgeable in practice, and a short URL
MIN_SECRET_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Signer:
    secrets: tuple[bytes, ...]  # the current secret first, then previous ones still accepted

    def __post_init__(self) -> None:
        if not self.secrets:
            raise ValueError("a token signer needs at least one secret")
        if any(len(s) < MIN_SECRET_BYTES for s in self.secrets):
            raise ValueError(f"token secrets must be at least {MIN_SECRET_BYTES} bytes long")

    @classmethod
    def from_text(cls, current: str, previous: Sequence[str] = ()) -> Signer:
        return cls(tuple(s.encode("utf-8") for s in (current, *previous) if s))

    def token(self, reader: str, purpose: Purpose, version: int = 0) -> str:
        """`<reader, base64url>.<signature, base64url>`: URL-safe, no padding."""
        if purpose == "form":
            raise ValueError("a form token expires: make it with form_token")
        signature = self._sign(self.secrets[0], reader, purpose, version)
        return f"{_b64(reader.encode('utf-8'))}.{_b64(signature)}"

    def reader(
        self,
        token: str,
        purpose: Purpose,
        version_of: Callable[[str], int | None] | None = None,
    ) -> str | None:
        """The reader a token names, if it was signed for `purpose` with any accepted secret and
        the reader's current version (`version_of(name)`; 0 when not given). None for anything
        else, and for a reader `version_of` does not know (None)."""
        name_part, _, signature_part = token.partition(".")
        try:
            reader = _unb64(name_part).decode("utf-8")
            signature = _unb64(signature_part)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        if purpose == "form":
            return None
        return self._signed(reader, signature, purpose, version_of)

    def form_token(self, reader: str, *, until: datetime, version: int = 0) -> str:
        """`<reader>.<until: seconds since 1970, base 36>.<signature>`, for the forms of the
        reader's pages: it works until `until` (to the second), signed for the `form` purpose."""
        expiry = int(until.timestamp())
        signature = self._sign(self.secrets[0], reader, "form", version, expiry)
        return f"{_b64(reader.encode('utf-8'))}.{_base36(expiry)}.{_b64(signature)}"

    def form_reader(
        self,
        token: str,
        *,
        now: datetime,
        version_of: Callable[[str], int | None] | None = None,
    ) -> str | None:
        """The reader a form token names, if it was signed with an accepted secret and the
        reader's current version and `now` is before its end; None for anything else."""
        name_part, _, rest = token.partition(".")
        expiry_part, _, signature_part = rest.partition(".")
        try:
            reader = _unb64(name_part).decode("utf-8")
            signature = _unb64(signature_part)
            expiry = int(expiry_part, 36) if expiry_part.isalnum() and expiry_part.isascii() else -1
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        if now.timestamp() >= expiry:
            return None
        return self._signed(reader, signature, "form", version_of, expiry)

    def _signed(
        self,
        reader: str,
        signature: bytes,
        purpose: str,
        version_of: Callable[[str], int | None] | None,
        until: int | None = None,
    ) -> str | None:
        """`reader`, if `signature` is theirs for `purpose` (and `until`) by an accepted secret
        and their current version; None otherwise."""
        if not reader or len(signature) != SIGNATURE_BYTES:
            return None
        version = version_of(reader) if version_of is not None else 0
        if version is None:
            return None
        for secret in self.secrets:
            expected = self._sign(secret, reader, purpose, version, until)
            if hmac.compare_digest(signature, expected):
                return reader
        return None

    @staticmethod
    def _sign(
        secret: bytes, reader: str, purpose: str, version: int, until: int | None = None
    ) -> bytes:
        message = f"digest-token\0{purpose}\0{version}\0{reader}"
        if until is not None:
            message += f"\0until {until}"
        return hmac.new(secret, message.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def signer_from_env(
    secret_env: str, previous_env: str | None = None, environ: Mapping[str, str] | None = None
) -> Signer | None:
    """The signer made from the secret in `secret_env` (and previous secrets, separated by
    whitespace, in `previous_env`); None when the secret is not set. A ValueError names the
    variable when a secret is too short."""
    env = os.environ if environ is None else environ
    current = env.get(secret_env, "").strip()
    if not current:
        return None
    previous = env.get(previous_env, "").split() if previous_env else []
    try:
        return Signer.from_text(current, previous)
    except ValueError as exc:
        names = secret_env + (f" or {previous_env}" if previous_env else "")
        raise ValueError(f"{names}: {exc}") from None
