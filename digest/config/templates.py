"""`digest config check` for templates: every template the configuration would use compiles,
and renders a sample digest, so a broken one is found before a build fails every digest.

Each template found (user directories first, then the shipped ones, `default:` names too) is
compiled. Then each output is rendered from sample records, one template at a time: the Markdown
digest, the email's HTML and text parts, the reader and public feeds (RSS, Atom) and the archive
site's pages. The samples: a full digest (two matches, one loosely related paper, a notice) and
an empty one, with and without signed links, for the configured readers, for a reader of every
`digest-<name>.*` or `site/reader-<name>.html` template, and for a sample reader with every
optional field set. A problem is the build's own `file:LINE: message` (render.failure), each
said once. Nothing is written, and the store is not opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial

import jinja2

from digest import render
from digest.config import Config
from digest.errors import DigestError
from digest.models import Digest, Profile, Scored, StoredPaper, Term
from digest.render import email, feeds, site
from digest.render.links import Links
from digest.tokens import Signer

TEMPLATE_SUFFIXES = (".html", ".htm", ".txt", ".md", ".xml")  # site.css and the like are copied
_SPECIFIC = re.compile(
    r"(?:digest-([a-z0-9][a-z0-9_-]*)\.(?:html|txt|md)|site/reader-([a-z0-9][a-z0-9_-]*)\.html)"
)
DAY = date(2025, 8, 20)
NOW = datetime(2025, 8, 20, 6, 30, tzinfo=UTC)
SIGNER = Signer.from_text("a sample secret, only for checking templates")


def check(config: Config) -> list[str]:
    """Every template problem, `file:LINE: message` each, in the order found; [] when all pass."""
    env = render.fresh_environment(config.templates)
    found: dict[str, str] = {}  # a problem -> what rendering showed it (empty for compiling)
    for name in _templates(env):
        _attempt(found, "", partial(render.template_for, env, [name]))
    for what, make in _renders(config, env):
        _attempt(found, what, make)
    return [f"{problem} ({what})" if what else problem for problem, what in found.items()]


def _attempt(found: dict[str, str], what: str, make: Callable[[], object]) -> None:
    try:
        make()
    except DigestError as exc:
        found.setdefault(str(exc), what)


def _templates(env: jinja2.Environment) -> list[str]:
    return env.list_templates(filter_func=lambda name: name.endswith(TEMPLATE_SUFFIXES))


def _readers(config: Config, env: jinja2.Environment) -> list[Profile]:
    """The configured readers, a reader for each reader-specific template, and the sample."""
    readers = {reader.name: reader for reader in config.readers}
    for name in _templates(env):
        if (match := _SPECIFIC.fullmatch(name)) and not name.startswith("default:"):
            specific = match[1] or match[2]
            readers.setdefault(specific, replace(SAMPLE_READER, name=specific))
    readers.setdefault(SAMPLE_READER.name, SAMPLE_READER)
    return list(readers.values())


def _renders(config: Config, env: jinja2.Environment) -> Iterator[tuple[str, Callable[[], object]]]:
    """(what is rendered, a call rendering it) for every output and sample."""
    readers = _readers(config, env)
    for links, signed in _links(config):
        for reader in readers:
            for digest in _digests(reader):
                yield from _digest_renders(config, env, links, digest, signed)
        yield from _site_renders(config, env, links, readers, signed)


def _digest_renders(
    config: Config, env: jinja2.Environment, links: Links, digest: Digest, signed: str
) -> Iterator[tuple[str, Callable[[], object]]]:
    reader = digest.reader
    kind = "sample digest" if digest.papers else "sample empty digest"
    what = f"{kind} for {reader.name}, {signed}"
    yield what, partial(render.render_markdown, digest, title=config.title, env=env)
    values = email.template_context(
        digest, title=config.site.title, intro=config.site.intro, links=links
    )
    yield f"email of the {what}", partial(email.render_html, digest, values, env)
    yield f"email of the {what}", partial(email.render_text, digest, values, env)
    if reader.name != feeds.PUBLIC:  # a reserved name, refused by the config check already
        feed = feeds.reader_feed([digest], reader=reader, site=config.site, links=links)
        for name, _, _ in feeds.TEMPLATES:
            yield f"feed of the {what}", partial(feeds.render_feed, env, name, feed)


def _site_renders(
    config: Config, env: jinja2.Environment, links: Links, readers: list[Profile], signed: str
) -> Iterator[tuple[str, Callable[[], object]]]:
    """The public feed and the archive site, with the sample days and with none; every reader
    published, so each reader page is rendered."""
    papers = tuple(item.paper for item in (*SAMPLE_PAPERS, *SAMPLE_NEAR))
    days = [site.SiteDay(DAY - timedelta(days=1), papers[1:]), site.SiteDay(DAY, papers)]
    for sample, shown in ((days, "sample days"), ([], "no days yet")):
        feed = feeds.public_feed(
            [(day.date, day.papers) for day in sample], site=config.site, links=links
        )
        for name, _, _ in feeds.TEMPLATES:
            yield f"public feed, {shown}", partial(feeds.render_feed, env, name, feed)
        public = [
            (replace(reader, public=True), _digests(reader)[:1] if sample else [])
            for reader in readers
            if reader.name != feeds.PUBLIC
        ]
        parts = site.pieces(sample, public, site=config.site, links=links, env=env, built=NOW)
        for part in parts:
            yield f"archive site, {shown}, {signed}", part


def _links(config: Config) -> list[tuple[Links, str]]:
    base, app = config.site.base_url, config.app_url
    return [
        (Links(base, app=app), "unsigned links"),
        (Links(base, app=app, signer=SIGNER), "signed links"),
    ]


def _digests(reader: Profile) -> list[Digest]:
    """A reader's sample digest of two matches and a loosely related paper, and an empty one."""
    full = Digest(
        reader=reader,
        date=DAY,
        papers=SAMPLE_PAPERS,
        candidates=42,
        generated=NOW,
        notice="One source could not be read today; its papers will come tomorrow.",
        near=SAMPLE_NEAR,
    )
    empty = replace(full, papers=(), near=(), candidates=0, notice="")
    return [full, empty]


def _paper(number: int, title: str, **fields: object) -> StoredPaper:
    values: dict[str, object] = {
        "arxiv_id": f"2508.{number:05d}",
        "authors": ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
        "url": f"https://arxiv.org/abs/2508.{number:05d}",
        "pdf_url": f"https://arxiv.org/pdf/2508.{number:05d}",
        "code_url": None,
        "project_url": None,
        "categories": ("cs.LG", "cs.CL"),
        "published": NOW - timedelta(days=1),
        "dates": (DAY,),
        "sources": ("sample",),
        "upvotes": None,
        "keywords": (),
    }
    values.update(fields)
    arxiv = values["arxiv_id"]
    return StoredPaper(
        id=f"arxiv:{arxiv}" if arxiv else "title:0123456789abcdef",
        title=title,
        abstract=f"{title}: a sample abstract. It says what the paper does, and how well.",
        **values,  # type: ignore[arg-type]
    )


def _sample() -> tuple[tuple[Scored, ...], tuple[Scored, ...]]:
    """Two matches (one with every reason's part and link, one without an arXiv id), and a
    loosely related paper."""
    liked = _paper(1, "A paper the reader liked")
    first = _paper(
        2,
        "Network pruning at scale",
        code_url="https://github.com/example/pruning",
        project_url="https://example.org/pruning",
        upvotes=17,
        keywords=("pruning",),
    )
    second = _paper(0, "Quantization, without an arXiv id", arxiv_id=None, pdf_url=None)
    second = replace(second, url="https://example.org/quantization")
    loose = _paper(3, "A loosely related paper", authors=())
    terms = (Term("network pruning", 0.7), Term("quantization", 0.3))
    best = Scored(first, 0.432, terms, liked, 0.4, 0.12, ("Ada Lovelace",), standing=2.1)
    matches = (best, Scored(second, 0.301, terms[1:], standing=1.2))
    return matches, (Scored(loose, 0.05, terms[:1], loose=True, standing=-0.4),)


SAMPLE_PAPERS, SAMPLE_NEAR = _sample()
SAMPLE_READER = Profile(
    name="sample-reader",
    keywords=("network pruning", "quantization"),
    email="reader@example.org",
    display_name="Sample Reader",
    authors=("Ada Lovelace",),
    note="Welcome! Your *sample* note, with [a link](https://example.org/).",
    public=True,
)
