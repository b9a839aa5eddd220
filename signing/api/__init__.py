"""The JSON API under ``/api/v1``: bearer tokens, JSON bodies, an OpenAPI document at ``/api/v1/openapi.json``.

Views are thin: parse (pydantic, through spectree) → call a service → serialise
(``present``). Every refusal is ``{"error": {"code", "message"}}`` with a 4xx
status (``signing.web.errors``). The signing pages' JSON endpoints (``browser``,
with the session cookie and a CSRF token) share the API's signing path
(``actions``).
"""

from __future__ import annotations

from flask import Flask

from ..extensions import csrf
from . import (
    bearer,
    browser,
    mandates_browser,
    views_declarations,
    views_freeze,
    views_keys,
    views_log,
    views_meta,
    views_signing,
)
from .core import API_PREFIX, bp, spec

__all__ = ["API_PREFIX", "bearer", "bp", "browser", "init_app", "spec", "views_declarations", "views_freeze",
           "views_keys", "views_log", "views_meta", "views_signing"]


def init_app(app: Flask) -> None:
    csrf.exempt(bp)  # bearer tokens only: no cookie is ever read here, so there is nothing to forge
    app.register_blueprint(bp)
    browser.init_app(app)
    mandates_browser.init_app(app)
