"""Markdown that people write (the newsletter intro, reader notes) as safe HTML.

Python-Markdown does not sanitise its output, so the HTML it makes goes through nh3 with a small
allow-list fit for email and the site; links keep http(s) and mailto only.
"""

from __future__ import annotations

import markdown
import nh3
from markupsafe import Markup

TAGS = {"p", "br", "em", "strong", "code", "pre", "sub", "sup", "ul", "ol", "li", "a", "blockquote"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto"}


def markdown_html(text: str) -> Markup:
    """Markdown -> HTML, sanitised; empty Markup for empty text."""
    if not text.strip():
        return Markup("")
    html = markdown.markdown(text, output_format="html")
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return Markup(clean)  # nh3's output: the one place HTML is trusted
