"""The shortcuts that make the email fast give what the slow, obvious way gives: escaping without
a Markup per piece, terms found without a pattern per term, parts remembered per paper, the body
encoded in one pass and the To header written without the email package."""

from __future__ import annotations

import binascii
import email.policy
import random
from dataclasses import replace
from datetime import UTC, date, datetime
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from helpers import stored
from markupsafe import escape

from digest.models import Digest, Profile, Scored, Site, Term
from digest.render import environment
from digest.render.email import message, render_email
from digest.render.email.marks import _found, _term_pattern, escaped
from digest.render.email.mime import MAX_LINE, encode
from digest.render.links import Links

DAY = date(2025, 8, 20)
NOW = datetime(2025, 8, 20, 6, 30, tzinfo=UTC)
SITE = Site(title="Paper Digest", base_url="https://d.example.org/", sender="D <d@example.org>")
LINKS = Links(SITE.base_url)


def one(title: str, abstract: str, terms: tuple[Term, ...], reader: str = "ada") -> Digest:
    paper = stored("arxiv:2508.00001", title, abstract, arxiv_id="2508.00001", authors=("A B",))
    return Digest(Profile(name=reader), DAY, (Scored(paper, 0.5, terms),), 9, NOW)


HOSTILE = ["", "plain", "<script>'x' & \"y\"</script>", "&amp; &lt;", "é \u2039 <<>>&&''\"\""]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_is_markupsafe_escape(text: str) -> None:
    assert escaped(text) == str(escape(text))


def test_one_word_terms_are_found_where_their_pattern_finds_them() -> None:
    rng = random.Random(7)
    letters = "aesy-. _é"
    for _ in range(20_000):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(0, 24)))
        term = "".join(rng.choice(letters) for _ in range(rng.randint(0, 5)))
        pattern = _term_pattern(term)
        expected = [m.span() for m in pattern.finditer(text)] if pattern else []
        assert list(_found(text, term)) == expected, (text, term)


def test_a_changed_paper_under_the_same_id_is_shown_as_it_is_now() -> None:
    terms = (Term("pruning", 1.0),)
    env = environment()
    old = one("Old title", "On pruning.", terms)
    before, _ = render_email(old, site=SITE, links=LINKS, env=env)
    new = one("New title", "On pruning again.", terms)
    after, text = render_email(new, site=SITE, links=LINKS, env=env)
    assert "Old title" in before and "Old title" not in after and "New title" in after
    assert '<mark class="hit">pruning</mark> again.' in after and "On pruning again." in text


def test_the_same_terms_with_other_shares_read_their_own_shares() -> None:
    env = environment()
    first = (Term("pruning", 0.75), Term("sparsity", 0.25))
    again = (Term("pruning", 0.5), Term("sparsity", 0.5))
    html, _ = render_email(one("T", "Pruning, sparsity.", first), site=SITE, links=LINKS, env=env)
    other, text = render_email(
        one("T", "Pruning, sparsity.", again, reader="bob"), site=SITE, links=LINKS, env=env
    )
    assert "<strong>pruning</strong> 75%, <strong>sparsity</strong> 25%" in html
    assert "<strong>pruning</strong> 50%, <strong>sparsity</strong> 50%" in other
    assert "matched pruning 50%, sparsity 50%" in text


def reference(text: str) -> tuple[str, bytes]:
    """The body encoding as first written: split into lines, then each line measured."""
    data = "\n".join(text.splitlines()).encode("utf-8") + b"\n"
    if b"\0" not in data and max(map(len, data.split(b"\n"))) <= MAX_LINE:
        return "8bit", data.replace(b"\n", b"\r\n")
    return "quoted-printable", binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


FITS = [
    "",
    "\n",
    "one line",
    "two\nlines\n",
    "crlf\r\nand\rcr\n",
    "separators\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e here",
    "x" * MAX_LINE + "\n" + "y" * MAX_LINE,
    "é" * (MAX_LINE // 2) + "\n",
    ("a" * 500 + "\n") * 40,
]
TOO_LONG = [
    "x" * (MAX_LINE + 1),
    "short\n" + "é" * (MAX_LINE // 2 + 1),
    ("a" * 900 + "\n") * 9 + "b" * 999,
    "x" * MAX_LINE + "\r" + "y" * (MAX_LINE + 1),
    "a NUL \0 byte",
]


@pytest.mark.parametrize("text", FITS + TOO_LONG)
def test_parts_are_encoded_as_before(text: str) -> None:
    assert encode(text) == reference(text)
    assert encode(text)[0] == ("8bit" if text in FITS else "quoted-printable")


@pytest.mark.parametrize(
    ("display", "address"),
    [
        ("Reader 0", "reader0@example.org"),
        ("", "a.b+c@x-y.example.org"),
        ("O'Brien-Smith J_r", "o_b@example.org"),
        ("A" * 40, "b" * 20 + "@example.org"),  # just too long for one line: folded
        ("A" * 39, "b" * 20 + "@example.org"),  # 78 characters: one line
        ("Dr. Who", "who@example.org"),  # a special: quoted
        ("José", "jose@example.org"),  # RFC 2047
        ("=?utf-8?q?x?=", "x@example.org"),
    ],
)
def test_the_to_header_is_what_the_email_package_writes(display: str, address: str) -> None:
    expected = EmailMessage(policy=email.policy.SMTP)
    expected["To"] = str(Address(display_name=display, addr_spec=address))
    folded = email.policy.SMTP.fold_binary("To", expected["To"])
    d = one("T", "A.", ())
    reader = replace(d.reader, display_name=display, email=address)
    raw = message(replace(d, reader=reader), "", "", site=SITE, now=NOW)
    assert folded in raw
