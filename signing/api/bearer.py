"""Bearer-token authentication for every API request (then the body checks of ``intake``).

The API never looks at the session cookie: a browser that is logged in still
needs a token here, so no API request can be forged from another site (and
CSRF tokens are not needed).
"""

from __future__ import annotations

from flask import Response, g, request
from flask_babel import gettext as _

from ..models import User
from ..services import ServiceError, tokens
from .core import bp
from .intake import check_body

# The transparency log's entries and proofs (views_log) are public and cacheable too.
LOG_ENDPOINTS = {"api.log_entries", "api.log_inclusion_proof", "api.log_consistency_proof"}
PUBLIC_ENDPOINTS = {"api.openapi", "api.log_witnesses", "api.log_cosign", "api.log_fork_report", *LOG_ENDPOINTS}


class Unauthorized(ServiceError):
    status = 401
    code = "invalid_token"


def current_user() -> User:
    user: User = g.api_user
    return user


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized(_("Send an API token: Authorization: Bearer <token>."), code="missing_token")
    return credentials.strip()


@bp.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        if request.method == "POST":
            check_body()
        return
    user = tokens.authenticate(_bearer_token())
    if user is None:
        raise Unauthorized(_("The API token is not valid: unknown, revoked, or its account is deactivated."))
    g.api_user = user
    check_body()


@bp.after_request
def api_headers(response: Response) -> Response:
    cacheable = request.endpoint in LOG_ENDPOINTS and response.status_code == 200
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if cacheable else "no-store"
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="accord"'
    return response
