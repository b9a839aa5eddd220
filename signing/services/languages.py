"""The interface language a person chose (``users.locale``); the choices are ``signing.i18n.LANGUAGES``."""

from __future__ import annotations

from flask_babel import gettext as _

from ..i18n import known
from ..models import User
from . import ServiceError, audit, transactions


def checked(code: str | None) -> str | None:
    """A language code from a form: one of ``LANGUAGES``, or None for "as my browser asks"; else refused."""
    if code is None or code == "":
        return None
    locale = known(code)
    if locale is None:
        raise ServiceError(_("This language is not offered."), code="unknown_language")
    return locale


def set_locale(user: User, code: str | None) -> None:
    """Remember ``user``'s choice of interface language (None: follow the browser); e-mails follow it too."""
    locale = checked(code)
    if locale != user.locale:
        audit.record("user.locale", user, user, locale=[user.locale, locale])
        user.locale = locale
    transactions.commit()
