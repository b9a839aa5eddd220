"""The API blueprint, its OpenAPI generator (spectree) and the ``endpoint`` decorator every view uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint
from flask_babel import gettext as _
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData

from ..services import ServiceError
from .schemas import ErrorBody

API_PREFIX = "/api/v1"
SECURITY_SCHEME = "bearerAuth"

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)

ERROR_DESCRIPTIONS = {
    400: "Bad input: the body, a parameter or the signed bytes are not acceptable (code `invalid_request`, "
         "`bad_request`, `signature_rejected`, `payload_expired`, ...).",
    401: "No token, or a token that is unknown, revoked or belongs to a deactivated account "
         "(codes `missing_token`, `invalid_token`; with `WWW-Authenticate: Bearer`).",
    403: "Your role may never do this, or it is not yours to do (code `forbidden`, `wrong_password`).",
    404: "Unknown declaration, revision, key or user (code `not_found`).",
    409: "Not in this state, or already done (codes `conflict`, `already_signed`, `payload_used`).",
    429: "Too many attempts: from this address (code `too_many_attempts`), or too many wrong passwords for "
         "this account, which must wait (code `too_many_attempts`); `Retry-After` says how long.",
}

PATH_PARAMETERS = {
    "slug": "The declaration's short name.",
    "number": "The revision number (1, 2, ...).",
    "fingerprint": "The key fingerprint, `sha256:` and 64 hex digits.",
}


def _validation_failed(req: Any, resp: Any, error: Exception | None, instance: Any, adapter: Any) -> None:
    """spectree's request-validation hook: refuse bad input with the API's own 400 body."""
    if error is None:
        return
    problems = []
    for item in adapter.validation_errors(error)[:5]:
        where = ".".join(str(part) for part in item.get("loc", ())) or "body"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    raise ServiceError(_("The request is not valid. %(problems)s.", problems="; ".join(problems)),
                       code="invalid_request")


def _spectree(**options: Any) -> SpecTree:
    """A spectree instance: bodies validated with the pydantic schemas, bad ones refused with ``invalid_request``.

    ``strict``: its document holds only the routes it decorates.
    """
    return SpecTree(
        "flask",
        mode="strict",
        validation_error_status=400,
        validation_error_model=ErrorBody,
        before=_validation_failed,
        naming_strategy=lambda model: model.__name__,
        nested_naming_strategy=lambda _parent, child: child,
        **options,
    )


spec = _spectree(
    title="Accord API",
    version="1",
    description=(
        "The JSON API of Accord: read declarations and their revisions, manage them (secretariat), enrol "
        "Ed25519 public keys and sign or withdraw (delegates). Every request but this document needs "
        "`Authorization: Bearer <token>`; every refusal has the body `{\"error\": {\"code\", \"message\"}}`."
    ),
    security_schemes=[
        SecurityScheme(
            name=SECURITY_SCHEME,
            data=SecuritySchemeData(
                type=SecureType.HTTP,
                scheme="bearer",
                bearer_format="acc_ token",
                description="An API token made on the account page or with `flask tokens create`.",
            ),
        )
    ],
    security={SECURITY_SCHEME: []},
)
# The same validation for the session-authenticated JSON endpoints of the signing pages (``browser.py``); never
# published: those endpoints are not part of the API and its document.
session_spec = _spectree(title="Accord signing pages (session)", version="1")


def endpoint(
    ok: type[Any] | None, *, status: int = 200, errors: Iterable[int] = (), tag: str, public: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document and validate a view: its success body, its refusals and whether it needs a token.

    The view may return a pydantic model (or ``(model, status)``); spectree serialises it.
    """
    codes: dict[str, Any] = {f"HTTP_{status}": ok}
    for code in sorted({400, *errors, *(() if public else (401,))}):
        codes[f"HTTP_{code}"] = (ErrorBody, ERROR_DESCRIPTIONS[code])

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        wrapped: Callable[..., Any] = spec.validate(
            resp=Response(**codes),
            tags=[tag],
            security={} if public else None,
            operation_id=view.__name__,
            path_parameter_descriptions=PATH_PARAMETERS,
        )(view)
        return wrapped

    return decorate


def session_endpoint(ok: type[Any], *, status: int = 200) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Validate a session-authenticated view's body and serialise its result exactly as ``endpoint`` does."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        wrapped: Callable[..., Any] = session_spec.validate(resp=Response(**{f"HTTP_{status}": ok}))(view)
        return wrapped

    return decorate
