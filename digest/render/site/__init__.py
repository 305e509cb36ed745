"""The static archive site as Artifacts, with paths relative to the site root. Pure.

Pages: the index (newest day first, `days_per_page` days a page: `index.html`, `page/N/`), a page
per day (`YYYY/MM/DD/`, every paper in an `<article id=anchor>`), year and month rollups
(`YYYY/`, `YYYY/MM/`), a page per public reader (`readers/<name>/`), the search page; plus
`search.json`, `site.css`, `search.js` and `favicon.svg`. A reader not marked public gets nothing
and is named nowhere.

Deterministic: the same input gives the same bytes (sorted iteration, no clock; the build time
appears only if `built` is passed, and only on the first index page), so an incremental write
touches only the pages whose content changed. Links between pages are relative to each page, so
the site works from any host or folder; canonical and feed links stay absolute.

Templates come from `site/*.html` through `template_for`, so a user's template directory can
override any of them; the assets (`site/site.css`, ...) are copied from the same lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any

import jinja2

from digest.errors import RenderError
from digest.models import Artifact, Digest, Profile, Site, StoredPaper
from digest.render import render, template_for
from digest.render.filters import oneline
from digest.render.links import Links, anchor, paper_links
from digest.render.markup import markdown_html
from digest.render.site.search import search_index
from digest.render.site.shape import chunks, long_date, month_name, page_dir, relative, window

TOP_TITLES = 3  # titles shown under each day on the index
HTML = "text/html; charset=utf-8"
ASSETS = {
    "site.css": "text/css; charset=utf-8",
    "search.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_READER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

Public = Mapping[Profile, Sequence[Digest]] | Sequence[tuple[Profile, Sequence[Digest]]]

__all__ = ["Public", "SiteDay", "pages", "pieces"]


@dataclass(frozen=True, slots=True)
class SiteDay:
    """A day on the site: its papers in the order the day page lists them (most popular first)."""

    date: date
    papers: tuple[StoredPaper, ...]


def pages(
    days: Sequence[SiteDay],
    public: Public,
    *,
    site: Site,
    links: Links,
    env: jinja2.Environment,
    built: datetime | None = None,
) -> list[Artifact]:
    """Everything the site holds, sorted by path. `public` maps readers to their recent digests;
    only readers marked `public: true` are published."""
    parts = pieces(days, public, site=site, links=links, env=env, built=built)
    artifacts = [artifact for make in parts for artifact in make()]
    return sorted(artifacts, key=lambda artifact: artifact.path.as_posix())


def pieces(
    days: Sequence[SiteDay],
    public: Public,
    *,
    site: Site,
    links: Links,
    env: jinja2.Environment,
    built: datetime | None = None,
) -> list[Callable[[], list[Artifact]]]:
    """The site in parts, each made when called (`pages` makes them all): made one by one, a
    broken template in one part does not hide another's."""
    ordered = _ordered(days)
    readers = _public(public)
    site = replace(site, title=oneline(site.title))  # a title is one line in <title> and headings
    render = _Renderer(env, site, links, ordered)
    return [
        partial(_index_pages, render, ordered, readers, built),
        partial(_day_pages, render, ordered),
        partial(_period_pages, render, ordered),
        *(partial(_reader_page, render, reader, digests) for reader, digests in readers),
        lambda: [render.page(["site/search.html"], "search/index.html")],
        lambda: [search_index([(day.date, day.papers) for day in ordered], links)],
        *(partial(_asset, env, name, media_type) for name, media_type in ASSETS.items()),
    ]


class _Renderer:
    """Renders one page with the context every site template gets."""

    def __init__(
        self, env: jinja2.Environment, site: Site, links: Links, days: Sequence[SiteDay]
    ) -> None:
        self.env = env
        self.site = site
        self.links = links
        on_site = {day.date: {paper.id for paper in day.papers} for day in days}

        def listed(day: date, paper_id: str | None = None) -> bool:
            return day in on_site and (paper_id is None or paper_id in on_site[day])

        self.common: dict[str, Any] = {
            "site": site,
            "links": links,
            "anchor": anchor,
            "paper_links": paper_links,
            "long_date": long_date,
            "month_name": month_name,
            "year_url": lambda year: f"{links.base}{year:04d}/",
            "month_url": lambda year, month: f"{links.base}{year:04d}/{month:02d}/",
            "on_site": listed,
        }

    def page(self, names: Sequence[str], path: str, **context: Any) -> Artifact:
        here = page_dir(path)
        url: Callable[[str], str] = partial(relative, base=self.links.base, here=here)
        template = template_for(self.env, names)
        values = {**self.common, **context, "url": url, "canonical": self.links.base + here}
        text = render(template, values)
        return Artifact(Path(path), text.encode("utf-8"), HTML)


def _ordered(days: Iterable[SiteDay]) -> list[SiteDay]:
    """Days oldest first, each paper once per day (its first place kept); a date given twice is
    an error, since two pages cannot share a URL."""
    out: list[SiteDay] = []
    for day in sorted(days, key=lambda d: d.date):
        if out and out[-1].date == day.date:
            raise RenderError(f"site day {day.date} given twice")
        first = {paper.id: i for i, paper in reversed(list(enumerate(day.papers)))}
        papers = tuple(paper for i, paper in enumerate(day.papers) if first[paper.id] == i)
        out.append(SiteDay(day.date, papers))
    return out


def _public(public: Public) -> list[tuple[Profile, list[Digest]]]:
    """Public readers by name, each with their digests newest first (one per date)."""
    pairs = public.items() if isinstance(public, Mapping) else public
    out: dict[str, tuple[Profile, list[Digest]]] = {}
    for reader, digests in pairs:
        if not reader.public:
            continue
        if not _READER_NAME.match(reader.name) or reader.name in out:
            raise RenderError(f"public reader name {reader.name!r} is not a unique slug")
        by_date = {d.date: d for d in digests if d.reader.name == reader.name}
        out[reader.name] = (reader, [by_date[day] for day in sorted(by_date, reverse=True)])
    return [out[name] for name in sorted(out)]


def _index_pages(
    render: _Renderer,
    days: Sequence[SiteDay],
    readers: Sequence[tuple[Profile, Sequence[Digest]]],
    built: datetime | None,
) -> list[Artifact]:
    site = render.site
    runs = chunks(list(reversed(days)), site.days_per_page)
    out = []
    for number, entries in enumerate(runs, start=1):
        first = number == 1
        out.append(
            render.page(
                ["site/index.html"],
                "index.html" if first else f"page/{number}/index.html",
                number=number,
                last=len(runs),
                numbers=window(number, len(runs)),
                entries=entries,
                top=TOP_TITLES,
                intro=markdown_html(site.intro) if first else "",
                readers=[reader for reader, _ in readers] if first else [],
                built=built if first else None,
            )
        )
    return out


def _day_pages(render: _Renderer, days: Sequence[SiteDay]) -> list[Artifact]:
    out = []
    for i, day in enumerate(days):
        out.append(
            render.page(
                ["site/day.html"],
                f"{day.date:%Y/%m/%d}/index.html",
                day=day,
                previous=days[i - 1].date if i > 0 else None,
                following=days[i + 1].date if i + 1 < len(days) else None,
            )
        )
    return out


def _period_pages(render: _Renderer, days: Sequence[SiteDay]) -> list[Artifact]:
    """A page per year listing its months, and a page per month listing its days."""
    out = []
    newest = list(reversed(days))
    for year, in_year in groupby(newest, key=lambda d: d.date.year):
        months = [(month, list(group)) for month, group in groupby(in_year, lambda d: d.date.month)]
        counts = [(m, len(group), sum(len(d.papers) for d in group)) for m, group in months]
        names = ["site/archive.html"]
        out.append(
            render.page(names, f"{year:04d}/index.html", year=year, month=None, months=counts)
        )
        for month, group in months:
            path = f"{year:04d}/{month:02d}/index.html"
            out.append(render.page(names, path, year=year, month=month, days=group))
    return out


def _reader_page(render: _Renderer, reader: Profile, digests: Sequence[Digest]) -> list[Artifact]:
    return [
        render.page(
            [f"site/reader-{reader.name}.html", "site/reader.html"],
            f"readers/{reader.name}/index.html",
            reader=reader,
            digests=digests,
        )
    ]


def _asset(env: jinja2.Environment, name: str, media_type: str) -> list[Artifact]:
    """A file copied as it is (not rendered) from the template lookup, so users can replace it."""
    try:
        if env.loader is None:
            raise jinja2.TemplateNotFound(name)
        source, _, _ = env.loader.get_source(env, f"site/{name}")
    except jinja2.TemplateNotFound:
        raise RenderError(f"no template found among site/{name}") from None
    return [Artifact(Path(name), source.encode("utf-8"), media_type)]
