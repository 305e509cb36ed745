"""`digest serve`: the web endpoint behind the reader links (unsubscribe, the reader's own page
of settings and liked papers, feedback, private feeds), the subscribe form with double opt-in
and its cold start, a health check, and the static archive.

Modules: app (the Starlette app, routes, serve), core (what every page shares), reader (the pages
behind a reader's tokens), signup (subscribe and confirm), forms (what the forms accept), guard
(headers on every response, a cap on request bodies). Pages are Jinja2 templates `web/*.html`,
overridable from the config's template directories.
"""

from __future__ import annotations

from digest.web.app import create_app, serve, server

__all__ = ["create_app", "serve", "server"]
