"""Domain services: the only place where transactions are opened and committed."""

from __future__ import annotations

from flask_babel import gettext as _

from ..text.bidi import found


class ServiceError(Exception):
    """A refused request, with the HTTP status and a message fit to show the user."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        message = str(message)  # a lazy translation becomes text in the language of this request
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


def refuse_bidi(value: str, what: str) -> str:
    """Refuse bidirectional-override characters in a short name (they can disguise it); return ``value``."""
    controls = found(value)
    if controls:
        raise ServiceError(
            _("The %(what)s contains invisible direction-control characters (%(controls)s), which can make it read "
              "differently from what is stored. Remove them and try again.",
              what=what, controls=', '.join(controls)), code="bidi_control")
    return value


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class LoginRequired(ServiceError):
    """A JSON endpoint of the pages called without a live session (the script asks the user to log in again)."""

    status = 401
    code = "login_required"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("Your session has ended. Log in again, then reload this page."))
