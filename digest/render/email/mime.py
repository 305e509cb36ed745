"""The digest as an Internet message: headers, multipart/alternative, serialised for SMTP.

From, To and Subject are made and folded by the email package (email.policy.SMTP: CRLF, RFC 2047
where needed); a To of plain ASCII words and address that fits a line, which the package writes
as given, is written here directly. Date, Message-ID and the MIME headers are ASCII made here. A
part goes as UTF-8 `8bit` when every line fits SMTP's 998 octets, as the email package itself
would choose, and as quoted-printable (binascii, in C) otherwise, so no line is ever cut wrongly.
The body is joined here rather than by email.generator, which writes a message line by line and
took most of the time of a 30-paper digest. Lines end in CRLF, ready for smtplib; .eml readers
accept CRLF. A sender should pass BODY=8BITMIME when the server offers it.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from datetime import datetime, timedelta
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache

from digest.errors import RenderError
from digest.models import Digest, Site
from digest.render.email.context import subject
from digest.render.filters import oneline

POLICY = policy.SMTP
CRLF = b"\r\n"
MAX_LINE = 998  # octets in a line, CRLF aside (RFC 5322 2.1.1)
_ATOM = re.compile(r"[^A-Za-z0-9_-]+")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
# A To header the email package would write as given: a name of plain ASCII words (no specials,
# nothing that could read as an RFC 2047 word) and a plain address
_PLAIN_NAME = re.compile(r"[A-Za-z0-9'_-]+(?: [A-Za-z0-9'_-]+)*")
_PLAIN_ADDRESS = re.compile(r"[\w+-]+(?:\.[\w+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*", re.ASCII)
_FOLD_AT = 78  # POLICY.max_line_length: a longer header line is folded
# what str.splitlines() ends a line at besides "\n"
_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def message_id(digest: Digest, domain: str) -> str:
    """`<digest-2025-08-20.ada@domain>`: the same for a reader's digest of a day, every time.

    A reader name that is not already a plain atom gets a hash, so distinct names stay distinct.
    """
    name = digest.reader.name
    local = _ATOM.sub("-", name).strip("-")[:40]
    if local != name or not local:
        local = f"{local}-{hashlib.sha256(name.encode()).hexdigest()[:10]}".lstrip("-")
    host = domain if _DOMAIN.match(domain) else "localhost"
    return f"<digest-{digest.date.isoformat()}.{local}@{host}>"


def encode(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body with CRLF line endings) for a UTF-8 text part: its lines
    as str.splitlines() sees them, each ended by CRLF."""
    if any(c in text for c in _BREAKS):
        text = "\n".join(text.splitlines())
    data = text.encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    if b"\0" not in data and _fits(data):
        return "8bit", data.replace(b"\n", CRLF)
    return "quoted-printable", binascii.b2a_qp(data, istext=True).replace(b"\n", CRLF)


def _fits(data: bytes) -> bool:
    """Whether every line of `data` has at most MAX_LINE octets. Jumps from line start to the
    last line break within reach, so a part takes a few dozen searches rather than a split."""
    start, end = 0, len(data)
    while end - start > MAX_LINE:
        last = data.rfind(b"\n", start, start + MAX_LINE + 1)
        if last < 0:
            return False
        start = last + 1
    return True


def _body(parts: list[tuple[str, str, bytes]]) -> tuple[str, bytes]:
    """(boundary, multipart body) for (subtype, encoding, content) parts, in order. The boundary
    is the first of a fixed series that no part contains, so content cannot forge a part."""
    number = 0
    while any(f"=_digest-alt-{number}".encode() in content for _, _, content in parts):
        number += 1
    boundary = f"=_digest-alt-{number}"
    delimiter = CRLF + f"--{boundary}".encode("ascii")  # the CRLF before belongs to it
    out = []
    for subtype, encoding, content in parts:
        out += [delimiter, CRLF, f'Content-Type: text/{subtype}; charset="utf-8"'.encode()]
        out += [CRLF, f"Content-Transfer-Encoding: {encoding}".encode(), CRLF, CRLF, content]
    out += [delimiter, b"--", CRLF]
    return boundary, b"".join(out)


@lru_cache(maxsize=1024)
def _folded(name: str, value: str) -> bytes:
    """A header as the email package parses, encodes (RFC 2047) and folds it. Cached: From,
    and often Subject, repeat across a send."""
    msg = EmailMessage(policy=POLICY)
    msg[name] = value
    return POLICY.fold_binary(name, msg[name])


@lru_cache(maxsize=1024)
def _to(display: str, address: str) -> bytes:
    if _PLAIN_ADDRESS.fullmatch(address) and (not display or _PLAIN_NAME.fullmatch(display)):
        line = f"To: {display} <{address}>" if display else f"To: {address}"
        if len(line) <= _FOLD_AT:  # as the email package writes it, which takes far longer
            return line.encode("ascii") + CRLF
    try:
        mailbox = Address(display_name=display, addr_spec=address)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise RenderError(f"To: not an email address: {address!r} ({exc})") from None
    return _folded("To", str(mailbox))


@lru_cache(maxsize=64)
def _date(now: datetime, offset: timedelta | None) -> str:
    """The Date header's value, made once for the `now` of a build's messages. The offset is part
    of the key: the same time in another zone is equal, but written differently."""
    return format_datetime(now)


def list_headers(site: Site, unsubscribe: str, mailto: str | None) -> bytes:
    """List-Id, List-Unsubscribe (mailto first, then https, E-01) and the one-click
    List-Unsubscribe-Post (E-02). Written here, never by the email package, which would turn a
    long URL into encoded words and break one-click (E-06); folded only at the ", " between the
    two URIs. The URLs are ASCII made by links.py (base64url tokens)."""
    uris = [f"<{u}>" for u in (mailto, unsubscribe) if u]
    if any(not u.isascii() or any(c in u for c in " \t\r\n,") for u in uris):
        raise RenderError(f"List-Unsubscribe: not a plain URI: {uris!r}")
    return (
        _folded("List-Id", site.list_header)
        + f"List-Unsubscribe: {', '.join(uris)}".replace(", ", ",\r\n ").encode("ascii")
        + CRLF
        + b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    )


def message(
    digest: Digest, html: str, text: str, *, site: Site, now: datetime, extra: bytes = b""
) -> bytes:
    """The email for one reader's digest: From the site's sender, To the reader (left out when
    the reader has no address), a Subject from the site title, count and date, a Date from `now`
    and a Message-ID per reader and day; text/plain first, text/html last (E-10..E-13). `extra`
    is more header lines, CRLF-ended (the list headers)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise RenderError("the email's Date needs a timezone-aware time")
    reader = digest.reader
    head = [_folded("From", oneline(site.sender))]
    if reader.email:
        head.append(_to(oneline(reader.display_name or ""), oneline(reader.email)))
    head.append(_folded("Subject", subject(digest, site.title)))
    head.append(extra)
    boundary, body = _body([("plain", *encode(text)), ("html", *encode(html))])
    # ASCII made here from dates and sanitised names: written as they are
    head.append(
        f"Date: {_date(now, now.utcoffset())}\r\n"
        f"Message-ID: {message_id(digest, site.domain)}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode("ascii")
    )
    return b"".join(head) + CRLF + body
