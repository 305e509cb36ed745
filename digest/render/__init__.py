"""Rendering: Digests to Artifacts through Jinja2. Pure: returns bytes, writes nothing.

Templates are looked up in the user's template directories first and the shipped `templates/`
last; `default:NAME` always names the shipped one, so a user template can extend what it replaces.
HTML and XML templates are autoescaped; every template runs with StrictUndefined.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2

from digest import layout
from digest.errors import RenderError
from digest.models import Artifact, Digest
from digest.render import why
from digest.render.filters import FILTERS

AUTOESCAPE = ("html", "htm", "xml", "html.j2", "xml.j2")


def shipped_templates() -> Path:
    """The shipped templates: inside the installed package, or the repository's `templates/`."""
    packaged = Path(str(resources.files("digest"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=8)
def environment(user_dirs: tuple[Path, ...] = ()) -> jinja2.Environment:
    shipped = str(shipped_templates())
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PrefixLoader({"default": jinja2.FileSystemLoader(shipped)}, delimiter=":"),
                jinja2.FileSystemLoader([*map(str, user_dirs), shipped]),
            ]
        ),
        autoescape=jinja2.select_autoescape(enabled_extensions=AUTOESCAPE, default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.filters.update(why.FILTERS)
    env.globals.update(why.GLOBALS)
    return env


@lru_cache(maxsize=8)
def _known(env: jinja2.Environment) -> frozenset[str]:
    """Every template name the environment can load: listed once, not looked up per digest
    (`fresh_environment` lists them again)."""
    return frozenset(env.list_templates())


def fresh_environment(user_dirs: tuple[Path, ...] = ()) -> jinja2.Environment:
    """`environment`, with templates added or removed since the last call seen: each build
    starts with one, so a long-running scheduler picks up template changes."""
    environment.cache_clear()
    _known.cache_clear()
    return environment(user_dirs)


def template_for(env: jinja2.Environment, names: Sequence[str]) -> jinja2.Template:
    """The first template that exists, most specific first (`digest-alice.md`, `digest.md`)."""
    known = _known(env)
    names = [n for n in names if n in known] or list(names)
    try:
        return env.select_template(names)
    except jinja2.TemplateNotFound:
        raise RenderError(f"no template found among {', '.join(names)}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None


def failure(template: jinja2.Template, exc: Exception) -> RenderError:
    """A template's error as `file:line: what`: the innermost template frame of the traceback
    (an included or extended template's own line), or a syntax error's place."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = f"{exc.filename or exc.name}:{exc.lineno}"
    else:
        # Jinja runs a template's code under the template's file name and line numbers
        where, tb = template.filename or str(template.name), exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if not name.endswith(".py") and not name.startswith("<"):
                where = f"{name}:{tb.tb_lineno}"
            tb = tb.tb_next
    said = " ".join((getattr(exc, "message", None) or str(exc) or type(exc).__name__).split())
    return RenderError(f"{where}: {said}")


def render(template: jinja2.Template, context: dict[str, object]) -> str:
    """The template rendered; any error raised inside it (an undefined name, a filter given the
    wrong thing) a RenderError naming the template file and line."""
    try:
        return template.render(context)
    except Exception as exc:
        raise failure(template, exc) from None


def render_markdown(digest: Digest, *, title: str, env: jinja2.Environment) -> Artifact:
    """A reader's digest as Markdown, for `digests/<reader>/<date>.md`."""
    name = digest.reader.name
    template = template_for(env, [f"digest-{name}.md", "digest.md"])
    text = render(template, {"digest": digest, "newsletter_title": title})
    return Artifact(
        path=layout.digest_path(name, digest.date, "md"),
        content=text.encode("utf-8"),
        media_type="text/markdown; charset=utf-8",
    )
