"""Error pages and request-level input checks: every refusal is a clear 4xx."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from ..services import ServiceError

# The English title of each status names the JSON error's code ("not_found"); pages show TITLES, translated.
_CODES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Too large",
    429: "Too many attempts",
}
TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    410: _l("Gone"),
    413: _l("Too large"),
    429: _l("Too many attempts"),
}


CSRF_MESSAGE = _l("The form has expired or was not sent from this site. Go back, reload the page and try again.")
# Blueprints answered in JSON (``{"error": {"code", "message"}}``), whatever the error: the bearer-token API and
# the same-origin JSON endpoints of the signing pages (``signing.api.browser``), of passkeys (``web.passkeys``),
# of mandates (``web.mandates``) and of endorsements (``web.endorse_json``).
JSON_BLUEPRINTS = frozenset({"api", "signing_json", "passkeys", "mandates_json", "endorse_json"})


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.blueprint in JSON_BLUEPRINTS


def error_response(status: int, message: str, code: str | None = None) -> ResponseReturnValue:
    """The one refusal: JSON (an English ``code``, a ``message`` in the request's language) or the error page."""
    message = str(message)  # a lazy string becomes text in this request's language
    if wants_json():
        return jsonify(error={"code": code or _CODES.get(status, "error").lower().replace(" ", "_"),
                              "message": message}), status
    title = str(TITLES[status]) if status in TITLES else _("Error")
    return render_template("error.html", status=status, title=title, message=message), status


def _reject_non_utf8_form() -> ResponseReturnValue | None:
    """Werkzeug would silently replace undecodable bytes; refuse them instead."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return None
    if request.mimetype != "application/x-www-form-urlencoded":
        return None
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("ascii")
        parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return error_response(400, _("The form data is not valid UTF-8 text."), "invalid_encoding")
    return None


class _DatabaseInt(IntegerConverter):
    """``<int:...>`` in URLs: only values an INTEGER column holds; larger ones are simply not found (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = _DatabaseInt  # before any route is registered
    # First of all: CSRFProtect parses the form, after which the raw body is no longer readable.
    app.before_request_funcs.setdefault(None, []).insert(0, _reject_non_utf8_form)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return error_response(400, CSRF_MESSAGE, "csrf_failed")

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> ResponseReturnValue:
        response = make_response(error_response(exc.status, exc.message, exc.code))
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int):
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        messages = {
            403: _("You do not have access to this page."),
            404: _("There is nothing at this address."),
            405: _("This address does not accept that kind of request."),
            413: _("What you sent is too large."),
            429: _("Too many attempts. Wait a minute and try again."),
        }
        own = exc.description if exc.description and exc.description != type(exc).description else None
        return error_response(status, messages.get(status) or own or _("The request could not be understood. Go back, "
                                                                         "reload the page and try again."))
