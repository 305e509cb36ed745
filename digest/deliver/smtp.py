"""SMTP transport: one message per call, over a verified-TLS session that is reused, with the
outcome told apart by where a failure happened (R-04) and what the server replied (R-10).

`send` never raises on a server's reply or a lost connection: those are Outcomes. It raises
ConnectError only when no session can be opened, so nothing was sent. A timeout or disconnect
after the end of the message was handed to the socket is `unknown`: the server may have taken
the message, and resending could deliver it twice (RFC 1047), so the caller must not resend it
automatically (at most once for ambiguous sends).
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Literal

from digest import crashpoint
from digest.errors import ConfigError, DeliveryError

if TYPE_CHECKING:
    from digest.config import Config

Security = Literal["starttls", "tls", "none"]
Kind = Literal["sent", "partial", "deferred", "failed", "unknown"]

_REPLY_CHARS = 300
_EOL = re.compile(rb"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to submit mail. The password is read from the environment by the caller
    and never shown by repr."""

    host: str
    port: int
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # One socket timeout for every wait. RFC 5321 asks for up to 10 minutes after the message
    # (E-32); a timeout there makes the outcome `unknown`, never a resend.
    timeout: float = 120.0
    per_connection: int = 100  # a new session after this many messages (E-34)
    local_hostname: str | None = None  # EHLO name; None = smtplib's default (the FQDN)
    context: ssl.SSLContext | None = None  # None = ssl.create_default_context(): verifying


def settings(config: Config, environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The transport's settings: host and security from config.yaml, credentials from the
    environment variables it names, read here and nowhere else (a ConfigError names a variable
    that is not set)."""
    smtp = config.delivery.smtp
    if smtp is None:
        raise ConfigError("delivery.smtp: not configured", hint="see README, Sending by SMTP")
    env = os.environ if environ is None else environ

    def secret(key: str, name: str | None) -> str | None:
        if name is None:
            return None
        value = env.get(name)
        if not value:
            raise ConfigError(f"delivery.smtp.{key}: the environment variable {name} is not set")
        return value

    return SmtpSettings(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,  # type: ignore[arg-type]  # checked by the config
        username=secret("username_env", smtp.username_env),
        password=secret("password_env", smtp.password_env),
        timeout=smtp.timeout,
        per_connection=smtp.per_connection,
        local_hostname=smtp.helo,
    )


def connect(config: Config, environ: Mapping[str, str] | None = None) -> SmtpTransport:
    """The transport config.yaml describes (the smtp deliverer's; it opens on the first send)."""
    return SmtpTransport(settings(config, environ))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message. `code`/`reply` are the deciding server reply (code None when
    there was none, e.g. a lost connection; reply then says what happened locally).
    `accepted`: recipients the server took the message for (only when sent or partial).
    `refused`: recipients refused one by one at RCPT, with their reply. Every other recipient
    shares the outcome's kind."""

    kind: Kind
    code: int | None = None
    reply: str = ""
    accepted: tuple[str, ...] = ()
    refused: Mapping[str, tuple[int, str]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "refused", MappingProxyType(dict(self.refused)))

    @property
    def transient_refused(self) -> tuple[str, ...]:
        """Refused recipients worth another try later (4xx, 552)."""
        return tuple(r for r, (code, _) in self.refused.items() if kind_of(code) == "deferred")

    @property
    def permanent_refused(self) -> tuple[str, ...]:
        """Refused recipients not worth another try (5xx other than 552)."""
        return tuple(r for r, (code, _) in self.refused.items() if kind_of(code) == "failed")


class ConnectError(DeliveryError):
    """No session could be opened: nothing was sent. `permanent` is True when retrying will not
    help (certificate, TLS missing, authentication refused: stop the batch), False when it may
    (connection refused, timeout, a 421 greeting: retry later)."""

    def __init__(self, message: str, *, permanent: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.permanent = permanent


def kind_of(code: int) -> Kind:
    """R-10: 2xx sent; 4xx deferred; 552 deferred (RFC 5321 4.5.3.1.10, as Mailman does); other
    5xx failed. Anything else is not an SMTP reply: treated like a lost connection, as if 451."""
    if 200 <= code < 300:
        return "sent"
    if 500 <= code < 600 and code != 552:
        return "failed"
    return "deferred"


_Envelope = tuple[smtplib.SMTP, list[str], dict[str, tuple[int, str]]]


class SmtpTransport:
    """One SMTP client for a batch; not thread-safe (one per sending thread). The session is
    opened on the first send, reused, and replaced after `per_connection` messages and after any
    disconnect or 421."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        smtp_class: type[smtplib.SMTP] = smtplib.SMTP,
        smtp_ssl_class: type[smtplib.SMTP_SSL] = smtplib.SMTP_SSL,
    ) -> None:
        self.settings = settings
        self._smtp_class = smtp_class
        self._smtp_ssl_class = smtp_ssl_class
        self._smtp: smtplib.SMTP | None = None
        self._context: ssl.SSLContext | None = None
        self._count = 0  # messages begun on the current session
        self.connections = 0

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def send(
        self,
        sender: str,
        recipients: Sequence[str],
        message: bytes,
        *,
        before_data: Callable[[], None] | None = None,
    ) -> Outcome:
        """Submit `message` (bytes with CRLF line endings) from `sender` to `recipients`.
        `before_data` runs once the server answered DATA with 354, right before the message's
        content is sent (so a crash any earlier leaves nothing the server could take); what it
        raises propagates (the session is dropped, so nothing is delivered)."""
        problem = _envelope_problem(sender, recipients)
        if problem is not None:
            return Outcome("failed", reply=problem)
        data = _wire(message)
        try:
            begun = self._envelope(sender, recipients, eight_bit=not message.isascii())
        except OSError as exc:  # every smtplib error is one
            return self._lost(exc)
        if isinstance(begun, Outcome):
            return begun
        smtp, accepted, refused = begun
        try:
            refusal = self._data(smtp, data, refused, before_data)
        except OSError as exc:
            return self._lost(exc)
        if refusal is not None:
            return refusal
        return self._final(smtp, tuple(accepted), refused)

    def close(self) -> None:
        """QUIT politely and close; never raises."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except OSError:
            pass  # the server went first: nothing left to be polite to
        finally:
            smtp.close()

    # -- one transaction -----------------------------------------------------------------------

    def _envelope(
        self, sender: str, recipients: Sequence[str], *, eight_bit: bool
    ) -> _Envelope | Outcome:
        """MAIL FROM and one RCPT TO per recipient; the session and who was accepted, or the
        Outcome when nobody was."""
        begun = self._mail(sender, recipients, eight_bit=eight_bit)
        if isinstance(begun, Outcome):
            return begun
        smtp = begun
        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        for recipient in recipients:
            crashpoint.step("smtp RCPT")
            code, text = smtp.rcpt(recipient)
            if kind_of(code) == "sent":
                accepted.append(recipient)
            elif code == 421:
                return self._refusal(smtp, code, text, refused)
            else:
                refused[recipient] = (code, _one_line(text))
        if accepted:
            return smtp, accepted, refused
        self._reset(smtp)
        transient = [r for r, (code, _) in refused.items() if kind_of(code) == "deferred"]
        code, reply = refused[transient[0] if transient else next(iter(refused))]
        return Outcome("deferred" if transient else "failed", code, reply, refused=refused)

    def _mail(
        self, sender: str, recipients: Sequence[str], *, eight_bit: bool
    ) -> smtplib.SMTP | Outcome:
        """MAIL FROM on the current session or a new one. A reused session the server closed
        while idle (silently, or with a 421) fails on this first command; that is tried once
        more on a new session, as nothing of this message was sent yet."""
        while True:
            smtp = self._session()
            reused = self._count > 0
            options = _mail_options(smtp, sender, recipients, eight_bit, self._where)
            if isinstance(options, str):
                return Outcome("failed", reply=options)
            self._count += 1
            try:
                crashpoint.step("smtp MAIL")
                code, text = smtp.mail(sender, options)
            except smtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                self._drop()
                continue
            if code == 421 and reused:
                self._drop()
                continue
            return smtp if kind_of(code) == "sent" else self._refusal(smtp, code, text)

    def _data(
        self,
        smtp: smtplib.SMTP,
        data: bytes,
        refused: dict[str, tuple[int, str]],
        before_data: Callable[[], None] | None,
    ) -> Outcome | None:
        """DATA and the message up to its terminator; the Outcome if DATA was refused."""
        crashpoint.step("smtp DATA")
        code, text = smtp.docmd("DATA")
        if code != 354:
            return self._refusal(smtp, code, text, refused)
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                self._drop()  # mid-DATA: the server drops a message cut off without its end
                raise
        smtp.send(data)
        crashpoint.step("smtp end of DATA")
        return None

    def _final(
        self, smtp: smtplib.SMTP, accepted: tuple[str, ...], refused: dict[str, tuple[int, str]]
    ) -> Outcome:
        """The reply to the end of the message. Without one the server may have the message."""
        try:
            code, text = smtp.getreply()
        except OSError as exc:
            self._drop()
            reply = f"no reply after the message was sent: {_local(exc)}"
            return Outcome("unknown", reply=_one_line(reply), refused=refused)
        if not 200 <= code < 600:
            self._drop()
            reply = f"no SMTP reply after the message was sent: {_one_line(text)}"
            return Outcome("unknown", reply=_one_line(reply), refused=refused)
        if kind_of(code) != "sent":
            return self._refusal(smtp, code, text, refused)
        kind: Kind = "partial" if refused else "sent"
        return Outcome(kind, code, _one_line(text), accepted, refused)

    def _refusal(
        self,
        smtp: smtplib.SMTP,
        code: int,
        text: bytes,
        refused: Mapping[str, tuple[int, str]] | None = None,
    ) -> Outcome:
        """A refusal of the whole message. After a 421 (or no SMTP reply at all) the session is
        gone; otherwise RSET keeps it usable."""
        if code == 421 or not 200 <= code < 600:
            self._drop()
        else:
            self._reset(smtp)
        return Outcome(kind_of(code), code, _one_line(text), refused=refused or {})

    def _lost(self, exc: OSError) -> Outcome:
        """A failure before the end of the message was handed over: nothing was delivered."""
        self._drop()
        reply = f"connection to {self._where} lost before the message was sent: {_local(exc)}"
        return Outcome("deferred", reply=_one_line(reply))

    # -- the session ---------------------------------------------------------------------------

    def _session(self) -> smtplib.SMTP:
        if self._smtp is not None and self._count >= self.settings.per_connection:
            self.close()
        if self._smtp is None:
            self._smtp = self._open()
            self._count = 0
            self.connections += 1
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        if s.username and s.security == "none":
            raise ConnectError(
                f"refusing to log in as {s.username} at {self._where} without TLS",
                hint="AUTH needs TLS: set security to starttls or tls",
                permanent=True,
            )
        if self._context is None:  # loading the system CAs takes tens of ms: once per transport
            self._context = s.context or ssl.create_default_context()
        context = self._context
        try:
            smtp = self._connect(context)
        except OSError as exc:
            raise _connect_error(exc, self._where, s.username) from exc
        # SMTP waits for a reply after each command, so Nagle's algorithm only holds back the
        # last segment of a message until the server's delayed ACK: 40 ms a message over TLS.
        if smtp.sock is not None:
            with contextlib.suppress(OSError):
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._handshake(smtp, context)
        except OSError as exc:
            smtp.close()
            raise _connect_error(exc, self._where, s.username) from exc
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            return self._smtp_ssl_class(
                s.host, s.port, s.local_hostname, timeout=s.timeout, context=context
            )
        return self._smtp_class(s.host, s.port, s.local_hostname, timeout=s.timeout)

    def _handshake(self, smtp: smtplib.SMTP, context: ssl.SSLContext) -> None:
        """EHLO, STARTTLS when asked for (fail closed without it, E-31), then AUTH, only ever
        after TLS is up."""
        s = self.settings
        smtp.ehlo_or_helo_if_needed()
        if s.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise ConnectError(
                    f"{self._where} does not offer STARTTLS; refusing to send without TLS",
                    hint="fix the server, or use security: tls for an implicit-TLS port",
                    permanent=True,
                )
            smtp.starttls(context=context)
            smtp.ehlo_or_helo_if_needed()  # RFC 3207: forget what was said before TLS
        if not s.username:
            return
        if not smtp.has_extn("auth"):
            raise ConnectError(
                f"{self._where} offers no AUTH; cannot log in as {s.username}", permanent=True
            )
        smtp.login(s.username, s.password or "")

    def _reset(self, smtp: smtplib.SMTP) -> None:
        """RSET after a refusal so the session can carry the next message; drop it if even
        that fails."""
        try:
            code, _ = smtp.rset()
        except OSError:
            code = 0
        if code != 250:
            self._drop()

    def _drop(self) -> None:
        """Forget the session without QUIT (it is broken or mid-transaction)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()


def _connect_error(exc: OSError, where: str, username: str | None) -> ConnectError:
    """The one-line error for a session that could not be opened. Never names the password."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason
        return ConnectError(
            f"cannot verify the TLS certificate of {where}: {reason}",
            hint="the certificate must name the host and chain to a trusted CA",
            permanent=True,
        )
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
        return ConnectError(f"TLS with {where} failed: {exc.reason or exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ConnectError(
            f"SMTP authentication failed for user {username} at {where}: "
            f"{exc.smtp_code} {_one_line(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return ConnectError(
            f"{where} refused the SMTP session: {exc.smtp_code} {_one_line(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    # What is left of smtplib's own errors (no usable AUTH mechanism...) will not change.
    permanent = isinstance(exc, smtplib.SMTPException) and not isinstance(
        exc, smtplib.SMTPServerDisconnected
    )
    return ConnectError(
        f"cannot open an SMTP session with {where}: {_local(exc)}", permanent=permanent
    )


def _mail_options(
    smtp: smtplib.SMTP, sender: str, recipients: Sequence[str], eight_bit: bool, where: str
) -> list[str] | str:
    """MAIL FROM parameters the message needs, or why the server cannot take it."""
    options = []
    if not (sender.isascii() and all(r.isascii() for r in recipients)):
        if not smtp.has_extn("smtputf8"):
            return f"{where} does not offer SMTPUTF8, needed for a non-ASCII address"
        options.append("SMTPUTF8")
    if eight_bit:
        if not smtp.has_extn("8bitmime"):
            return f"{where} does not offer 8BITMIME, needed for this message's 8-bit content"
        options.append("BODY=8BITMIME")
    return options


def _envelope_problem(sender: str, recipients: Sequence[str]) -> str | None:
    """Why these addresses cannot go into SMTP commands at all (E-35: a data error is one
    failed message, not an exception)."""
    if not recipients:
        return "no recipients"
    for address in (sender, *recipients):
        if _CONTROL.search(address):
            return f"address contains a control character: {address!r}"[:_REPLY_CHARS]
    if any(not r.strip() for r in recipients):
        return "empty recipient address"
    return None


def _wire(message: bytes) -> bytes:
    """The message as DATA carries it: CRLF line endings, a leading dot doubled (RFC 5321
    4.5.2), ending with CRLF, then the terminator. (bytes.replace, not a regex: a tenth of the
    time on a 40 kB message.)"""
    crlf = message.count(b"\r\n")
    if message.count(b"\r") != crlf or message.count(b"\n") != crlf:
        message = _EOL.sub(b"\r\n", message)
    data = message.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _one_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    line = " ".join(text.split())
    return line if len(line) <= _REPLY_CHARS else line[: _REPLY_CHARS - 1] + "…"


def _local(exc: OSError) -> str:
    """An OSError in words: 'Connection refused', 'timed out'."""
    return exc.strerror or str(exc) or type(exc).__name__
