"""Bearer-token authentication and request-body checks for every API request.

The API never looks at the session cookie: a browser that is logged in still
needs a token here, so no API request can be forged from another site (and
CSRF tokens are not needed).
"""

from __future__ import annotations

from flask import Response, g, request
from werkzeug.exceptions import BadRequest

from ..models import User
from ..services import ServiceError, tokens
from .core import bp

# The transparency log's entries and proofs (views_log) are public and cacheable too.
LOG_ENDPOINTS = {"api.log_entries", "api.log_inclusion_proof", "api.log_consistency_proof"}
PUBLIC_ENDPOINTS = {"api.openapi", "api.log_witnesses", "api.log_cosign", "api.log_fork_report", *LOG_ENDPOINTS}
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class Unauthorized(ServiceError):
    status = 401
    code = "invalid_token"


def current_user() -> User:
    user: User = g.api_user
    return user


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized("Send an API token: Authorization: Bearer <token>.", code="missing_token")
    return credentials.strip()


def _check_body() -> None:
    """A body, if any, is JSON that parses; form posts are refused outright."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    if request.mimetype in _FORM_TYPES:
        raise ServiceError("Send a JSON body (Content-Type: application/json).", code="invalid_content_type")
    if not request.get_data(cache=True):
        return
    if not request.is_json:
        raise ServiceError("Send a JSON body (Content-Type: application/json).", code="invalid_content_type")
    try:
        request.get_json()
    except (BadRequest, RecursionError) as exc:
        raise ServiceError("The body is not valid JSON.", code="invalid_json") from exc


@bp.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        if request.method == "POST":
            _check_body()
        return
    user = tokens.authenticate(_bearer_token())
    if user is None:
        raise Unauthorized("The API token is not valid: unknown, revoked, or its account is deactivated.")
    g.api_user = user
    _check_body()


@bp.after_request
def api_headers(response: Response) -> Response:
    cacheable = request.endpoint in LOG_ENDPOINTS and response.status_code == 200
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if cacheable else "no-store"
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="accord"'
    return response
