"""The interface language: who chose what (before each request), and the switch that records a choice.

A signed-in person's choice is kept on their account (``users.locale``, the account page); an anonymous
visitor's (the login page's switch) in the ``accord_lang`` cookie. Both are set by one CSRF-protected POST,
which sends the browser back to a path on this site only (``redirects.same_site_path``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, flash, g, has_request_context, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user

from ..i18n import COOKIE, LANGUAGES, known
from ..services import languages
from . import redirects
from .forms import LanguageForm

bp = Blueprint("language", __name__)
# What the pages call each role and each state of a thing (the stored values stay English identifiers).
ROLE_LABELS = {"secretariat": _l("secretariat"), "delegate": _l("delegate"), "observer": _l("observer")}
STATE_LABELS = {
    "open": _l("open"), "accepted": _l("accepted"), "declined": _l("declined"),
    "pending": _l("pending"), "sent": _l("sent"), "failed": _l("failed"), "delivered": _l("delivered"),
    "valid": _l("valid"), "withdrawn": _l("withdrawn"), "void": _l("void"), "active": _l("active"),
    "revoked": _l("revoked"), "disabled": _l("disabled"),
}
COOKIE_MAX_AGE = 365 * 24 * 3600


def _here() -> str:
    """Where the switch sends the browser back: this page, with its ``next`` only if that is a path of this site
    (an arbitrary query is never echoed into the page)."""
    wanted = redirects.same_site_path(request.args.get("next"))
    return f"{request.path}?{urlencode({'next': wanted})}" if wanted else request.path


def _choose_locale() -> None:
    """``g.chosen_locale`` for ``signing.i18n.select_locale``: the account's choice, else the cookie's."""
    chosen = None
    if current_user.is_authenticated:
        chosen = known(current_user.locale)
    g.chosen_locale = chosen or known(request.cookies.get(COOKIE))


@bp.route("/language", methods=["POST"])
def choose() -> ResponseReturnValue:
    form = LanguageForm()
    fallback = url_for("auth.account") if current_user.is_authenticated else url_for("home.home")
    target = redirects.same_site_path(form.next.data) or fallback
    if not form.validate_on_submit():
        flash(_("Choose one of the languages offered."), "error")
        return redirect(target)
    locale = languages.checked(form.locale.data)
    if current_user.is_authenticated:
        languages.set_locale(current_user, locale)
    response = redirect(target)
    if locale is None:
        response.delete_cookie(COOKIE)
    else:
        response.set_cookie(COOKIE, locale, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    g.chosen_locale = locale
    refresh()  # the confirmation in the language just chosen
    if locale is None:
        flash(_("The interface now follows your browser's language."), "success")
    else:
        flash(_("The interface is now in %(language)s.", language=LANGUAGES[locale]), "success")
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    app.jinja_env.globals["role_label"] = lambda role: ROLE_LABELS.get(role, role)
    app.jinja_env.globals["state_label"] = lambda state: STATE_LABELS.get(state, state)

    @app.context_processor
    def _language_form() -> dict[str, Any]:
        if not has_request_context():  # e-mails rendered by a worker: no form, no CSRF
            return {}
        form = LanguageForm(formdata=None, locale=g.get("chosen_locale") or "", next=_here())
        return {"language_form": form}

    # First: the locale is chosen before anything (an error message of a later hook) is translated.
    app.before_request_funcs.setdefault(None, []).insert(0, _choose_locale)
