"""CSS inlining for HTML email templates: once per template, not once per email.

css-inline reads HTML, so a template's Jinja tags first become placeholders that HTML parsing
leaves where they stand: a comment between elements (comments stay put even inside <table>),
plain text inside an attribute value, a comment or the <title>. The template is inlined once,
its tags put back, and Jinja compiles the result; each email then only renders. A
<style data-css-inline="keep"> stays in the email as written (its at-rules, such as dark mode,
with it); at-rules in any other <style> are dropped, as their rules cannot be inlined.

A template that cannot be treated so falls back to inlining each rendered email, which is slower
and otherwise the same: one that extends, includes or imports another (markup this source
does not show), one with Jinja inside a `style` attribute, a tag or attribute name or a <style>,
and one whose HTML parsing would rearrange (an implied <tbody>, misnested tags) — its elements
would no longer match its Jinja tags. Classes must be written in the template, not computed, and
markup that comes with the data (Markdown, highlights) is not inlined: the CSS is applied
before any data, so such markup is styled through its parent or from a kept <style>.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from html.parser import HTMLParser

import css_inline
import jinja2

from digest.errors import RenderError

OPEN, CLOSE = "\ue000", "\ue001"  # private-use characters: absent from templates, kept by parsing
INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=False)

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
# raw blocks hide Jinja from the scan; other templates bring markup this source does not show
_UNSEEN = re.compile(r"\{%[-+]?\s*(?:raw|extends|include|import|from)\b")
_DELIMITERS = ("{%", "%}", "{{", "}}", "{#", "#}", None, None)
_NUMBER = re.compile(OPEN + r"(\d+)" + CLOSE)
_PLACED = re.compile(f"<!--{OPEN}(\\d+){CLOSE}-->|{OPEN}(\\d+){CLOSE}")
# What must survive inlining unchanged: start tags in order, with each placeholder between them.
# html, head and body may be implied by parsing, and inlining removes the <style> it applied.
_SHAPE = re.compile(f"<([A-Za-z][^\\s/>]*)|<!--{OPEN}(\\d+){CLOSE}-->|{OPEN}(\\d+){CLOSE}")
_LOOSE = frozenset({"html", "head", "body", "style", "link"})
_TEXT_ONLY = frozenset({"title", "textarea"})  # their content is text: a comment would show


def inline(html: str) -> str:
    """Inline the CSS of a whole rendered document (the slow path)."""
    try:
        return INLINER.inline(html)
    except (css_inline.InlineError, ValueError) as exc:
        raise RenderError(f"cannot inline the email's CSS: {exc}") from None


class _Places(HTMLParser):
    """Where each placeholder stands: `comment` (between elements), `text`, or `bad`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.kinds: dict[int, str] = {}
        self.inside: str | None = None  # an open <title>, <textarea>, <style> or <script>

    def _mark(self, text: str | None, kind: str) -> None:
        for number in _NUMBER.findall(text or ""):
            self.kinds[int(number)] = kind

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark(tag, "bad")
        for name, value in attrs:
            self._mark(name, "bad")
            self._mark(value, "bad" if name == "style" else "text")
        if tag in (*_TEXT_ONLY, "style", "script"):
            self.inside = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.inside = None

    def handle_endtag(self, tag: str) -> None:
        self._mark(tag, "bad")
        if tag == self.inside:
            self.inside = None

    def handle_data(self, data: str) -> None:
        if self.inside is None:
            self._mark(data, "comment")
        else:
            self._mark(data, "text" if self.inside in _TEXT_ONLY else "bad")

    def handle_comment(self, data: str) -> None:
        self._mark(data, "text")

    def handle_decl(self, decl: str) -> None:
        self._mark(decl, "bad")

    def handle_pi(self, data: str) -> None:
        self._mark(data, "bad")

    def unknown_decl(self, data: str) -> None:
        self._mark(data, "bad")


def _shape(html: str) -> list[str]:
    found = []
    for tag, comment, text in _SHAPE.findall(html):
        if tag and tag.lower() not in _LOOSE:
            found.append(tag.lower())
        elif comment or text:
            found.append(f"c{comment}" if comment else f"t{text}")
    return found


def preinline(source: str) -> str | None:
    """The template with its CSS inlined and its Jinja tags intact; None where that is unsafe."""
    if OPEN in source or CLOSE in source or _UNSEEN.search(source):
        return None
    if "<html" not in source.lower():
        return None  # a part of a page, not a page: it has no CSS of its own
    tags = _JINJA.findall(source)
    numbers = iter(range(len(tags)))
    neutral = _JINJA.sub(lambda _: f"{OPEN}{next(numbers)}{CLOSE}", source)
    places = _Places()
    places.feed(neutral)
    places.close()
    kinds = places.kinds
    if len(kinds) != len(tags) or "bad" in kinds.values():
        return None

    def placed(match: re.Match[str]) -> str:
        number = match.group(0)
        return f"<!--{number}-->" if kinds[int(match[1])] == "comment" else number

    protected = _NUMBER.sub(placed, neutral)
    try:
        inlined = INLINER.inline(protected)
    except (css_inline.InlineError, ValueError):
        return None
    if _shape(inlined) != _shape(protected):
        return None
    return _PLACED.sub(lambda m: tags[int(m[1] or m[2])], inlined)


def _delimiters(env: jinja2.Environment) -> tuple[str | None, ...]:
    return (
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
    )


class InliningLoader(jinja2.BaseLoader):
    """Another loader's templates, HTML ones with their CSS inlined (see module docstring).

    `inlined` tells, by template name, whether the last load was inlined or left as written.
    """

    def __init__(self, inner: jinja2.BaseLoader) -> None:
        self.inner = inner
        self.inlined: dict[str, bool] = {}

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        if template.endswith((".html", ".htm")) and _delimiters(environment) == _DELIMITERS:
            # syntax errors are reported against the lines the author wrote, not inlined ones
            environment.parse(source, template, filename)
            done = preinline(source)
            self.inlined[template] = done is not None
            source = source if done is None else done
        return source, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


@lru_cache(maxsize=8)
def inlining(env: jinja2.Environment) -> tuple[jinja2.Environment, InliningLoader]:
    """An overlay of `env` whose HTML templates come pre-inlined; one per environment."""
    if env.loader is None:
        raise RenderError("the template environment has no loader")
    loader = InliningLoader(env.loader)
    return env.overlay(loader=loader), loader
