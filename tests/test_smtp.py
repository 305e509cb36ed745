"""The SMTP transport against a real aiosmtpd server: TLS and AUTH (E-30, E-31), timeouts and
ambiguous sends (E-32, R-04), partial refusals (E-33), connection reuse (E-34), reply
classification (R-10)."""

from __future__ import annotations

import ssl
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from smtpserver import (
    SmtpServer,
    Tls,
    free_port,
    smtp_server_fixture,  # noqa: F401  (the smtp_server fixture)
    smtp_server_tls_fixture,  # noqa: F401  (the smtp_server_tls fixture)
)

from digest.deliver.smtp import ConnectError, Outcome, SmtpSettings, SmtpTransport, kind_of

A, B = "a@example.org", "b@example.org"
SENDER = "bounces@digest.example.org"
PASSWORD = "s3cret-Pa55"
SECURITY = {None: "none", "starttls": "starttls", "implicit": "tls"}


def message(body: str = "Today: three papers.\n", to: str = A, cte: str | None = None) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Paper Digest <digest@digest.example.org>"
    msg["To"] = to
    msg["Subject"] = "Your digest"
    msg.set_content(body, cte=cte)
    return msg.as_bytes()


def settings(server: SmtpServer, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "context": server.client_context,
        "timeout": 5.0,
        "local_hostname": "client.example.org",
    }
    values.update(overrides)
    return SmtpSettings(**values)


@pytest.fixture
def transport(smtp_server: SmtpServer) -> Any:
    with SmtpTransport(settings(smtp_server)) as client:
        yield client


# -- TLS and AUTH ------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_an_untrusted_certificate_is_refused(tls: Tls) -> None:
    with SmtpServer(tls=tls) as server:
        transport = SmtpTransport(settings(server, security=SECURITY[tls], context=None))
        with pytest.raises(ConnectError) as caught:
            transport.send(SENDER, [A], message())
        assert caught.value.permanent
        assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
        assert "certificate" in str(caught.value)
        assert server.messages == []
        assert transport.connections == 0


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_a_trusted_certificate_delivers_over_tls(tls: Tls) -> None:
    with SmtpServer(tls=tls) as server:
        with SmtpTransport(settings(server, security=SECURITY[tls])) as transport:
            outcome = transport.send(SENDER, [A], message())
        assert outcome == Outcome("sent", 250, "OK", (A,))
        [received] = server.messages
        assert received.tls
        assert (received.sender, received.recipients) == (SENDER, (A,))


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_auth_is_sent_over_tls_only(tls: Tls) -> None:
    with SmtpServer(tls=tls, auth=("user", PASSWORD)) as server:
        creds = {"username": "user", "password": PASSWORD}
        with SmtpTransport(settings(server, security=SECURITY[tls], **creds)) as transport:
            assert transport.send(SENDER, [A], message()).kind == "sent"
        attempts = server.auth_attempts
        assert attempts and all(a.tls for a in attempts)
        assert attempts[-1].username == "user" and attempts[-1].ok
        assert len(server.messages) == 1


def test_the_tls_fixture_takes_its_login(smtp_server_tls: SmtpServer) -> None:
    creds = {"username": "user", "password": "secret"}
    with SmtpTransport(settings(smtp_server_tls, security="starttls", **creds)) as transport:
        assert transport.send(SENDER, [A], message()).kind == "sent"
    assert smtp_server_tls.messages[0].tls
    assert [a.ok for a in smtp_server_tls.auth_attempts if a.username] == [True]


def test_a_refused_login_is_permanent_and_names_no_password() -> None:
    with SmtpServer(tls="starttls", auth=("user", "other")) as server:
        config = settings(server, security="starttls", username="user", password=PASSWORD)
        with pytest.raises(ConnectError) as caught:
            SmtpTransport(config).send(SENDER, [A], message())
        error = caught.value
        where = f"{server.host}:{server.port}"
        assert str(error).startswith(f"SMTP authentication failed for user user at {where}: 535")
        assert error.permanent
        assert PASSWORD not in str(error) and PASSWORD not in repr(error)
        assert PASSWORD not in repr(config) and PASSWORD not in str(config)
        assert "user" in repr(config)
        assert server.messages == []


def test_credentials_without_tls_are_never_sent() -> None:
    with SmtpServer(auth=("user", PASSWORD)) as server:
        config = settings(server, security="none", username="user", password=PASSWORD)
        with pytest.raises(ConnectError) as caught:
            SmtpTransport(config).send(SENDER, [A], message())
        assert caught.value.permanent
        assert "TLS" in str(caught.value) and PASSWORD not in str(caught.value)
        assert server.auth_attempts == []
        assert server.messages == []


def test_a_server_without_starttls_is_refused_before_auth() -> None:
    with SmtpServer() as server:
        config = settings(server, security="starttls", username="user", password=PASSWORD)
        transport = SmtpTransport(config)
        with pytest.raises(ConnectError) as caught:
            transport.send(SENDER, [A], message())
        assert caught.value.permanent
        assert "STARTTLS" in str(caught.value)
        assert server.sessions == 1
        assert server.auth_attempts == []
        assert server.messages == []


def test_a_closed_port_is_a_transient_connect_error() -> None:
    config = SmtpSettings("127.0.0.1", free_port(), security="none", timeout=2.0)
    with pytest.raises(ConnectError) as caught:
        SmtpTransport(config).send(SENDER, [A], message())
    assert not caught.value.permanent
    assert "refused" in str(caught.value).lower()


# -- replies (R-10, E-33) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (250, "sent"),
        (251, "sent"),
        (421, "deferred"),
        (450, "deferred"),
        (451, "deferred"),
        (452, "deferred"),
        (550, "failed"),
        (552, "deferred"),
        (553, "failed"),
        (554, "failed"),
        (-1, "deferred"),
    ],
)
def test_reply_codes_are_classified(code: int, kind: str) -> None:
    assert kind_of(code) == kind


def test_one_refused_recipient_makes_a_partial_send(
    smtp_server: SmtpServer, transport: Any
) -> None:
    smtp_server.rcpt_replies[B] = "450 4.2.1 mailbox busy"
    outcome = transport.send(SENDER, [A, B], message())
    assert outcome.kind == "partial"
    assert outcome.accepted == (A,)
    assert outcome.refused == {B: (450, "4.2.1 mailbox busy")}
    assert outcome.transient_refused == (B,) and outcome.permanent_refused == ()
    [received] = smtp_server.messages
    assert received.recipients == (A,)


def test_all_recipients_refused_fails_and_keeps_the_session(
    smtp_server: SmtpServer, transport: Any
) -> None:
    smtp_server.rcpt_replies.update({A: "550 5.1.1 no such user", B: "550 5.1.1 no such user"})
    outcome = transport.send(SENDER, [A, B], message())
    assert (outcome.kind, outcome.code, outcome.accepted) == ("failed", 550, ())
    assert outcome.permanent_refused == (A, B)
    assert smtp_server.messages == []
    assert transport.send(SENDER, ["c@example.org"], message()).kind == "sent"
    assert smtp_server.sessions == 1 and transport.connections == 1


def test_a_transient_refusal_among_permanent_ones_defers(
    smtp_server: SmtpServer, transport: Any
) -> None:
    smtp_server.rcpt_replies.update({A: "550 5.1.1 no such user", B: "452 4.2.2 mailbox full"})
    outcome = transport.send(SENDER, [A, B], message())
    assert (outcome.kind, outcome.code) == ("deferred", 452)
    assert outcome.transient_refused == (B,) and outcome.permanent_refused == (A,)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("451 4.3.0 try later", "deferred"),
        ("552 5.3.4 too big", "deferred"),
        ("554 5.7.1 rejected as spam", "failed"),
    ],
)
def test_data_replies_decide_the_outcome(
    smtp_server: SmtpServer, transport: Any, reply: str, kind: str
) -> None:
    smtp_server.data_replies.append(reply)
    outcome = transport.send(SENDER, [A], message())
    code, text = reply.split(" ", 1)
    assert (outcome.kind, outcome.code, outcome.reply) == (kind, int(code), text)
    assert outcome.accepted == ()
    assert smtp_server.messages == []
    assert transport.send(SENDER, [A], message()).kind == "sent"  # RSET kept the session
    assert smtp_server.sessions == 1 and len(smtp_server.messages) == 1


def test_a_refused_sender_decides_for_everyone(smtp_server: SmtpServer, transport: Any) -> None:
    smtp_server.mail_reply = "553 5.7.1 sender not allowed"
    outcome = transport.send(SENDER, [A, B], message())
    assert (outcome.kind, outcome.code, outcome.refused) == ("failed", 553, {})
    smtp_server.mail_reply = None
    assert transport.send(SENDER, [A], message()).kind == "sent"
    assert smtp_server.sessions == 1


def test_a_421_defers_and_the_next_send_reconnects(smtp_server: SmtpServer, transport: Any) -> None:
    smtp_server.data_replies.append("421 4.3.2 shutting down")
    outcome = transport.send(SENDER, [A], message())
    assert (outcome.kind, outcome.code) == ("deferred", 421)
    assert transport.send(SENDER, [B], message()).kind == "sent"
    assert smtp_server.sessions == 2 and transport.connections == 2
    assert [m.recipients for m in smtp_server.messages] == [(B,)]


def test_a_421_to_mail_from_on_a_new_session_defers(
    smtp_server: SmtpServer, transport: Any
) -> None:
    smtp_server.mail_reply = "421 4.7.0 too busy"
    outcome = transport.send(SENDER, [A], message())
    assert (outcome.kind, outcome.code) == ("deferred", 421)
    assert smtp_server.sessions == 1
    smtp_server.mail_reply = None
    assert transport.send(SENDER, [A], message()).kind == "sent"
    assert smtp_server.sessions == 2


def test_a_421_to_rcpt_defers(smtp_server: SmtpServer, transport: Any) -> None:
    smtp_server.rcpt_replies[B] = "421 4.4.5 too many connections"
    outcome = transport.send(SENDER, [A, B], message())
    assert (outcome.kind, outcome.code, outcome.accepted) == ("deferred", 421, ())
    assert smtp_server.messages == []
    assert transport.send(SENDER, [A], message()).kind == "sent"
    assert smtp_server.sessions == 2


# -- ambiguity and failures around DATA (R-04) -------------------------------------------------


def test_no_reply_after_the_message_is_unknown_and_not_resent(smtp_server: SmtpServer) -> None:
    smtp_server.stall_after_data = True
    with SmtpTransport(settings(smtp_server, timeout=0.3)) as transport:
        outcome = transport.send(SENDER, [A], message())
        assert (outcome.kind, outcome.code, outcome.accepted) == ("unknown", None, ())
        assert "timed out" in outcome.reply
        assert len(smtp_server.messages) == 1  # the server has it: a resend could duplicate it
        smtp_server.stall_after_data = False
        assert transport.send(SENDER, [B], message()).kind == "sent"
    assert [m.recipients for m in smtp_server.messages] == [(A,), (B,)]
    assert smtp_server.sessions == 2


def test_before_data_raising_propagates_and_nothing_is_delivered(
    smtp_server: SmtpServer, transport: Any
) -> None:
    calls = []

    def crash() -> None:
        calls.append(len(smtp_server.messages))
        raise RuntimeError("killed before DATA")

    with pytest.raises(RuntimeError, match="killed before DATA"):
        transport.send(SENDER, [A], message(), before_data=crash)
    assert calls == [0]
    assert smtp_server.messages == []
    assert transport.send(SENDER, [A], message(), before_data=lambda: None).kind == "sent"
    assert len(smtp_server.messages) == 1


def test_before_data_is_not_called_when_nobody_was_accepted(
    smtp_server: SmtpServer, transport: Any
) -> None:
    smtp_server.rcpt_replies[A] = "550 5.1.1 no such user"
    calls = []
    outcome = transport.send(SENDER, [A], message(), before_data=lambda: calls.append(1))
    assert outcome.kind == "failed" and calls == []


def test_a_bad_address_fails_without_touching_the_server(
    smtp_server: SmtpServer, transport: Any
) -> None:
    outcome = transport.send(SENDER, ["a@example.org\r\nRCPT TO:<x@evil.example>"], message())
    assert (outcome.kind, outcome.code) == ("failed", None)
    assert transport.send(SENDER, [], message()).kind == "failed"
    assert smtp_server.sessions == 0


# -- connection reuse (E-34) -------------------------------------------------------------------


def test_sessions_are_reused_up_to_the_cap(smtp_server: SmtpServer) -> None:
    with SmtpTransport(settings(smtp_server, per_connection=10)) as transport:
        kinds = {transport.send(SENDER, [f"r{i}@example.org"], message()).kind for i in range(25)}
    assert kinds == {"sent"}
    assert smtp_server.sessions == 3 and transport.connections == 3
    assert len(smtp_server.messages) == 25


def test_a_dropped_connection_is_replaced_and_nothing_is_sent_twice(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.drop_after = 5
    recipients = [f"r{i}@example.org" for i in range(10)]
    with SmtpTransport(settings(smtp_server)) as transport:
        outcomes = [transport.send(SENDER, [r], message(to=r)) for r in recipients]
    assert [o.kind for o in outcomes] == ["sent"] * 10
    assert [m.recipients[0] for m in smtp_server.messages] == recipients
    assert smtp_server.sessions == 2


# -- content -----------------------------------------------------------------------------------


def test_an_8bit_utf8_body_arrives_intact(smtp_server: SmtpServer, transport: Any) -> None:
    raw = message("Grüße — naïve Bayes, 数学.\n", cte="8bit")
    assert not raw.isascii()
    assert transport.send(SENDER, [A], raw).kind == "sent"
    [received] = smtp_server.messages
    assert received.content == raw
    assert "BODY=8BITMIME" in received.mail_options


def test_a_non_ascii_address_uses_smtputf8(smtp_server: SmtpServer, transport: Any) -> None:
    to = "jörg@example.org"
    raw = message(to=to)
    assert transport.send(SENDER, [to], raw).kind == "sent"
    [received] = smtp_server.messages
    assert received.recipients == (to,)
    assert "SMTPUTF8" in received.mail_options


def test_lines_starting_with_a_dot_arrive_intact(smtp_server: SmtpServer, transport: Any) -> None:
    raw = message(".\n.hidden line\n..two dots\nend\n.")
    assert transport.send(SENDER, [A], raw).kind == "sent"
    bare = b".starts with a dot\r\n.\r\n..\r\nlast"
    assert transport.send(SENDER, [A], bare).kind == "sent"
    assert [m.content for m in smtp_server.messages] == [raw, bare + b"\r\n"]


def test_bare_line_feeds_go_out_as_crlf(smtp_server: SmtpServer, transport: Any) -> None:
    assert transport.send(SENDER, [A], b"Subject: x\n\nline\rone\nline two\r\n").kind == "sent"
    assert smtp_server.messages[0].content == b"Subject: x\r\n\r\nline\r\none\r\nline two\r\n"


def test_a_line_over_998_octets_is_refused(smtp_server: SmtpServer, transport: Any) -> None:
    outcome = transport.send(SENDER, [A], b"Subject: x\r\n\r\n" + b"x" * 1000 + b"\r\n")
    assert (outcome.kind, outcome.code) == ("failed", 500)
    assert smtp_server.messages == []
    assert transport.send(SENDER, [A], message()).kind == "sent"


def test_a_message_without_a_final_line_break_gets_one(
    smtp_server: SmtpServer, transport: Any
) -> None:
    raw = message().rstrip(b"\r\n")
    assert transport.send(SENDER, [A], raw).kind == "sent"
    assert smtp_server.messages[0].content == raw + b"\r\n"
