"""The interface's languages (Flask-Babel 4).

The locale of a request is the signed-in user's choice when they made one (``users.locale``), else the
choice an anonymous visitor made with the login page's switch (the ``accord_lang`` cookie), else the best
match of ``Accept-Language`` among ``LANGUAGES``, else English. ``signing.web.language`` sets
``g.chosen_locale`` before each request. E-mails are rendered in their recipient's language
(``services/delivery.py``, ``flask_babel.force_locale``).

Catalogs live in ``signing/translations/<locale>/LC_MESSAGES/messages.po`` and are compiled by ``make
translations`` (which ``make run`` and ``make test`` call). ``LANGUAGES`` is read from the catalogs present,
so adding a language is one catalog and nothing else (docs/translations.md). The declaration text itself and
signed statements are never translated by the interface.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, get_locale, gettext

DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
COOKIE = "accord_lang"


def _catalog_locales() -> list[str]:
    found = []
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        code = po.parent.parent.name
        try:
            Locale.parse(code)
        except (ValueError, UnknownLocaleError):
            continue
        found.append(code)
    return found


def _own_name(code: str) -> str:
    """The language's own name, as the language switch shows it ("Türkçe", "Ελληνικά")."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


# Locale code -> the language's own name: English (the source language) and every catalog present.
LANGUAGES: Mapping[str, str] = MappingProxyType(
    {code: _own_name(code) for code in [DEFAULT_LOCALE, *(c for c in _catalog_locales() if c != DEFAULT_LOCALE)]}
)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here (it is translated where it is shown)."""
    return message


def known(code: object) -> str | None:
    """``code`` if it names one of ``LANGUAGES``, else None."""
    return code if isinstance(code, str) and code in LANGUAGES else None


def select_locale() -> str:
    """The locale of this request: the user's choice, then ``Accept-Language``, then English.

    Outside a request (an e-mail rendered by a worker, a command) it is English unless a choice was set.
    """
    chosen = known(getattr(g, "chosen_locale", None))
    if chosen:
        return chosen
    if not has_request_context():  # a worker or a command: no browser to ask
        return DEFAULT_LOCALE
    best = request.accept_languages.best_match(list(LANGUAGES))
    return best or DEFAULT_LOCALE


def locale_tag() -> str:
    """The current locale as a BCP 47 tag, for ``<html lang>``: "tr", "pt-BR"."""
    return str(get_locale() or DEFAULT_LOCALE).replace("_", "-")


def when(value: datetime | None) -> str:
    """A time on a page or in an e-mail, written as the reader's language writes dates, in UTC:
    "Nov 30, 2026 13:25 UTC", "30 Kas 2026 13:25 UTC"."""
    if value is None:
        return ""
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    moment, locale = moment.astimezone(UTC), get_locale() or DEFAULT_LOCALE
    return f"{format_skeleton('yMMMd', moment, locale=locale)} {format_skeleton('Hm', moment, locale=locale)} UTC"


_SCRIPT_MESSAGE = re.compile(r'\bt\(\s*"((?:[^"\\\n]|\\.)*)"')


def script_messages(folder: Path) -> tuple[str, ...]:
    """The messages of the scripts (``t("…")`` in ``static/js``), in the order they appear."""
    found: dict[str, None] = {}
    for script in sorted(folder.glob("*.js")):
        for literal in _SCRIPT_MESSAGE.findall(script.read_text(encoding="utf-8")):
            found[json.loads(f'"{literal}"')] = None
    return tuple(found)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    # WTForms' own messages ("This field is required.") in the request's language.
    app.config.setdefault("WTF_I18N_ENABLED", True)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks: whitespace as babel.cfg extracts it
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["locale_tag"] = locale_tag
    app.jinja_env.filters["when"] = when
    scripts = script_messages(Path(app.static_folder or "static") / "js")

    def script_catalog() -> dict[str, str]:
        """The scripts' messages in this page's language (none for English: the scripts hold it)."""
        if str(get_locale() or DEFAULT_LOCALE) == DEFAULT_LOCALE:
            return {}
        return {message: str(gettext(message)) for message in scripts if gettext(message) != message}

    app.jinja_env.globals["script_catalog"] = script_catalog
