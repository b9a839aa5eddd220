"""The interface's languages (Flask-Babel 4).

The locale of a request is the signed-in user's choice when they made one, else the best match of
``Accept-Language`` among ``LANGUAGES``, else English. Catalogs live in ``signing/translations/<locale>/
LC_MESSAGES/messages.po`` and are compiled by ``make translations`` (which ``make run`` and ``make test``
call). Adding a language is one catalog plus its code in ``LANGUAGES``. The declaration text itself is
never translated by the interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from flask import Flask, g, has_request_context, request
from flask_babel import Babel

# Locale code -> the language's own name, as the language switch shows it.
LANGUAGES: Mapping[str, str] = MappingProxyType({"en": "English", "tr": "Türkçe"})
DEFAULT_LOCALE = "en"


def select_locale() -> str:
    """The locale of this request: the user's choice, then ``Accept-Language``, then English.

    Outside a request (an e-mail rendered by a worker, a command) it is English.
    """
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = getattr(g, "chosen_locale", None)
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    if not has_request_context():  # e-mails rendered by a worker or a command: no Accept-Language to read
        return DEFAULT_LOCALE
    best = request.accept_languages.best_match(list(LANGUAGES))
    return best or DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
