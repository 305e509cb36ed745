"""A real, scriptable SMTP server on 127.0.0.1 for tests (aiosmtpd), with optional TLS and AUTH.

    with SmtpServer(tls="starttls", auth=("user", "pass")) as server:
        server.rcpt_replies["b@example.org"] = "450 4.2.1 busy"
        ... server.port, server.client_context, server.messages, server.sessions

Scripting is read by the server thread as it goes, so a test may change it while the server
runs: `rcpt_replies` (address -> reply), `data_replies` (a queue, one reply per message, then
"250 OK"), `mail_reply` (None: accept), `stall_after_data` (receive the message, then answer
nothing until `release()` or the client hangs up), `drop_after` (close each connection after it
accepted that many messages), `on_message` (called on the server thread with each message
recorded and how many there are now, before the reply: a test may kill the client there).
`cut` lists the recipients of each message whose client hung up in the middle of its DATA.
Any scripted reply starting with 421 closes the connection after
it is sent, as a real server does. Each of these is one dict/deque/attribute operation, which
the GIL makes atomic; what the server records is guarded by a lock, and `messages` and
`auth_attempts` return snapshots.

Fixtures: `smtp_server` (plain) and `smtp_server_tls` (STARTTLS, AUTH as user/secret). Import
their functions so pytest sees them, without shadowing the parameter names:

    from smtpserver import smtp_server_fixture  # noqa: F401  (the smtp_server fixture)
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

HOST = "127.0.0.1"
Tls = Literal["starttls", "implicit"]
_TERMINATOR = b"\r\n.\r\n"


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server took (or, when stalled, received and never answered)."""

    sender: str
    recipients: tuple[str, ...]
    content: bytes  # as sent, dot-stuffing undone, ending with CRLF
    mail_options: tuple[str, ...]  # e.g. ("BODY=8BITMIME",)
    tls: bool


@dataclass(frozen=True, slots=True)
class AuthAttempt:
    """One AUTH command: whether TLS was up, and (when it got as far as checking) the user
    name and whether it was accepted."""

    tls: bool
    username: str | None = None
    ok: bool | None = None


@cache
def _ca() -> tuple[trustme.CA, trustme.LeafCert]:
    """One test CA and server certificate for the whole run (making keys is the slow part)."""
    ca = trustme.CA()
    return ca, ca.issue_cert(HOST, "localhost")


def client_context() -> ssl.SSLContext:
    """A verifying client context that trusts the test CA (and nothing else)."""
    context = ssl.create_default_context()
    _ca()[0].configure_trust(context)
    return context


def ca_pem() -> str:
    """The test CA's certificate in PEM, for clients that trust a CA file (SSL_CERT_FILE)."""
    return _ca()[0].cert_pem.bytes().decode("ascii")


def _server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _ca()[1].configure_cert(context)
    return context


def free_port() -> int:
    """E-51: aiosmtpd cannot bind port 0 itself; ask the OS for a free port (a small race)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _tls_up(smtp: SMTP) -> bool:
    return smtp.transport is not None and smtp.transport.get_extra_info("ssl_object") is not None


class _Smtp(SMTP):
    """aiosmtpd's SMTP, noting every AUTH command before aiosmtpd may refuse it for lack of
    TLS, and counting the messages this connection accepted."""

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.handler = handler
        self.accepted = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.handler.live.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.handler.live.discard(self)
        super().connection_lost(error)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        self.handler.note(AuthAttempt(tls=_tls_up(self)))
        await super().smtp_AUTH(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd reads DATA a line at a time (about 3 µs a line, most of a benchmark's time);
        this reads it in blocks, with the same checks: line length, size, dot-stuffing. Any
        case it would refuse before reading goes to aiosmtpd's own. Relies on the client
        waiting for the reply after the terminator (no PIPELINING is offered)."""
        assert self.session is not None and self.envelope is not None
        usual = self.session.host_name and self.envelope.rcpt_tos and not self._auth_required
        if arg or not usual or self._decode_data:
            await super().smtp_DATA(arg)
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        while not (data.endswith(_TERMINATOR) or data == b".\r\n"):
            try:
                block = await self._reader.read(1 << 16)
            except ConnectionError:
                block = b""
            if not block:
                self.handler.note_cut(self.envelope.rcpt_tos)
                return  # the client hung up; aiosmtpd cleans up
            data += block
        if self.data_size_limit and len(data) - 3 > self.data_size_limit:
            await self.push("552 Error: Too much mail data")
        elif max(map(len, data.split(b"\r\n"))) + 2 > self.line_length_limit:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
        else:
            content = bytes(data[:-3]).replace(b"\r\n.", b"\r\n")  # undo dot-stuffing
            if content.startswith(b"."):
                content = content[1:]
            self.envelope.content = self.envelope.original_content = content
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push("250 OK" if status is MISSING else status)
            return
        self._set_post_data_state()


class Handler:
    """Records messages and sessions; answers as scripted."""

    def __init__(self, auth: tuple[str, str] | None) -> None:
        self.rcpt_replies: dict[str, str] = {}
        self.data_replies: deque[str] = deque()
        self.mail_reply: str | None = None
        self.stall_after_data = False
        self.drop_after: int | None = None
        self.on_message: Callable[[Received, int], None] | None = None
        self.sessions = 0
        self.live: set[_Smtp] = set()  # open connections, touched only by the server thread
        self._auth = auth
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._cut: list[tuple[str, ...]] = []
        self._auth_attempts: list[AuthAttempt] = []
        self._release = asyncio.Event()

    def note(self, attempt: AuthAttempt) -> None:
        with self._lock:
            self._auth_attempts.append(attempt)

    def note_cut(self, recipients: list[str]) -> None:
        with self._lock:
            self._cut.append(tuple(recipients))

    async def handle_MAIL(
        self, server: _Smtp, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.mail_reply
        if reply is not None:
            return _answer(server, reply)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: _Smtp, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address, "250 OK")
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return _answer(server, reply)

    async def handle_DATA(self, server: _Smtp, session: Session, envelope: Envelope) -> str:
        try:
            reply = self.data_replies.popleft()
        except IndexError:
            reply = "250 OK"
        stall = self.stall_after_data
        if stall or reply.startswith("2"):
            self._record(server, envelope)
        if stall:
            await self._release.wait()
        if reply.startswith("2"):
            server.accepted += 1
            if self.drop_after is not None and server.accepted >= self.drop_after:
                _close_soon(server)
        return _answer(server, reply)

    def _record(self, server: _Smtp, envelope: Envelope) -> None:
        message = Received(
            sender=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            content=envelope.original_content or b"",
            mail_options=tuple(envelope.mail_options),
            tls=_tls_up(server),
        )
        with self._lock:
            self._messages.append(message)
            count = len(self._messages)
        if self.on_message is not None:
            self.on_message(message, count)

    def authenticate(
        self, server: _Smtp, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        username = password = None
        if isinstance(data, LoginPassword):
            username = data.login.decode("utf-8", "replace")
            password = data.password.decode("utf-8", "replace")
        ok = self._auth is not None and (username, password) == self._auth
        self.note(AuthAttempt(tls=_tls_up(server), username=username, ok=ok))
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def cut(self) -> list[tuple[str, ...]]:
        with self._lock:
            return list(self._cut)

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        with self._lock:
            return list(self._auth_attempts)


def _answer(server: _Smtp, reply: str) -> str:
    if reply.startswith("421"):
        _close_soon(server)
    return reply


def _close_soon(server: _Smtp) -> None:
    """Close the connection once the reply being returned has been written."""
    if server.transport is not None:
        asyncio.get_running_loop().call_soon(server.transport.close)


class _Controller(Controller):
    def factory(self) -> _Smtp:
        self.handler.sessions += 1  # one call per connection, on the server thread
        return _Smtp(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """A running aiosmtpd server (use as a context manager). `tls`: None (plain), "starttls"
    (STARTTLS offered and required before MAIL) or "implicit" (TLS from the first byte, port
    465 style). `auth`: the one (username, password) accepted; AUTH is offered only over TLS."""

    def __init__(self, *, tls: Tls | None = None, auth: tuple[str, str] | None = None) -> None:
        self.handler = Handler(auth)
        self.host = HOST
        self.port = free_port()
        self.client_context = client_context()
        kwargs: dict[str, Any] = {}
        if auth is not None:
            kwargs["authenticator"] = self.handler.authenticate
        if tls == "starttls":
            kwargs.update(tls_context=_server_context(), require_starttls=True)
        elif tls == "implicit":
            # aiosmtpd 1.4.6 counts only STARTTLS as TLS for auth_require_tls; here every
            # byte is already encrypted.
            kwargs.update(ssl_context=_server_context(), auth_require_tls=False)
        self._controller = _Controller(
            self.handler,
            hostname=HOST,
            port=self.port,
            server_hostname="localhost",
            **kwargs,
        )

    # Scripting and records, kept on the handler (which the server thread reads).
    @property
    def rcpt_replies(self) -> dict[str, str]:
        return self.handler.rcpt_replies

    @property
    def data_replies(self) -> deque[str]:
        return self.handler.data_replies

    @property
    def mail_reply(self) -> str | None:
        return self.handler.mail_reply

    @mail_reply.setter
    def mail_reply(self, reply: str | None) -> None:
        self.handler.mail_reply = reply

    @property
    def stall_after_data(self) -> bool:
        return self.handler.stall_after_data

    @stall_after_data.setter
    def stall_after_data(self, stall: bool) -> None:
        self.handler.stall_after_data = stall

    @property
    def drop_after(self) -> int | None:
        return self.handler.drop_after

    @drop_after.setter
    def drop_after(self, count: int | None) -> None:
        self.handler.drop_after = count

    @property
    def on_message(self) -> Callable[[Received, int], None] | None:
        return self.handler.on_message

    @on_message.setter
    def on_message(self, hook: Callable[[Received, int], None] | None) -> None:
        self.handler.on_message = hook

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def cut(self) -> list[tuple[str, ...]]:
        """The recipients of each message cut off in the middle of its DATA (the client hung
        up before its end), in order."""
        return self.handler.cut

    @property
    def sessions(self) -> int:
        """Connections made since start (not counting aiosmtpd's own start-up probe)."""
        return self.handler.sessions

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        return self.handler.auth_attempts

    def release(self) -> None:
        """Let stalled DATA replies go (and every later one through at once)."""
        self._controller.loop.call_soon_threadsafe(self.handler._release.set)

    def start(self) -> SmtpServer:
        self._controller.start()
        self.handler.sessions = 0  # start() made one probe connection
        return self

    def stop(self) -> None:
        """Release stalls, close every connection still open, then stop the thread."""
        future = asyncio.run_coroutine_threadsafe(self._shut(), self._controller.loop)
        future.result(timeout=5)
        self._controller.stop()

    async def _shut(self) -> None:
        self.handler._release.set()
        for smtp in list(self.handler.live):
            if smtp.transport is not None:
                smtp.transport.close()
        for _ in range(3):  # let the closes and the released handlers run
            await asyncio.sleep(0)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """A plain server (no TLS, no AUTH): for a local relay, or tests not about security."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(name="smtp_server_tls")
def smtp_server_tls_fixture() -> Iterator[SmtpServer]:
    """A STARTTLS server with AUTH for user/secret; trust it with `server.client_context`."""
    with SmtpServer(tls="starttls", auth=("user", "secret")) as server:
        yield server
