"""The mayor's page's JSON endpoints (``static/js/mandates.js``): issue a mandate or revocation, submit it signed.

Session cookie and ``X-CSRFToken``, like the signing pages' endpoints (``api/browser.py``); every refusal is the
JSON error envelope. Who may do what is decided by ``services.mandates``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response
from flask_login import current_user

from ..core.payload import b64encode
from ..models import IssuedMandateStatement, User
from ..services import LoginRequired, mandates
from . import intake, schemas
from . import schemas_mandates as out
from .core import session_endpoint
from .intake import check_body

bp = Blueprint("mandates_json", __name__)


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


@bp.before_request
def logged_in_with_a_json_body() -> None:
    if not current_user.is_authenticated:
        raise LoginRequired()
    check_body()


@bp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _issued(issued: IssuedMandateStatement) -> out.IssuedStatementOut:
    return out.IssuedStatementOut(payload=b64encode(issued.payload), payload_sha256=issued.payload_sha256,
                                  expires_at=issued.expires_at)


@bp.post("/mandates/payload")
@session_endpoint(out.IssuedStatementOut, status=201)
def mandate_payload(json: out.MandateRequest) -> tuple[out.IssuedStatementOut, int]:
    issued = mandates.issue_mandate(_user(), intake.fingerprint(json.key_fingerprint), json.delegate_id,
                                    [intake.fingerprint(f) for f in json.key_fingerprints or []], json.scope,
                                    json.valid_until, json.valid_from)
    return _issued(issued), 201


@bp.post("/mandates/submit")
@session_endpoint(out.MandateOut, status=201)
def mandate_submit(json: schemas.SignedPayload) -> tuple[out.MandateOut, int]:
    data, signature = intake.signed(json)
    record = mandates.submit_mandate(_user(), data, signature)
    return out.MandateOut(mandate_id=record.id, payload_sha256=record.payload_sha256, delegate_id=record.delegate_id,
                          scope=record.scope, valid_until=record.valid_until), 201


@bp.post("/mandates/<int:mandate_id>/revoke/payload")
@session_endpoint(out.IssuedStatementOut, status=201)
def revocation_payload(mandate_id: int, json: out.RevocationRequest) -> tuple[out.IssuedStatementOut, int]:
    issued = mandates.issue_revocation(_user(), intake.fingerprint(json.key_fingerprint), mandate_id)
    return _issued(issued), 201


@bp.post("/mandates/revoke/submit")
@session_endpoint(out.RevocationOut, status=201)
def revocation_submit(json: schemas.SignedPayload) -> tuple[out.RevocationOut, int]:
    data, signature = intake.signed(json)
    record = mandates.submit_revocation(_user(), data, signature)
    return out.RevocationOut(mandate_id=record.mandate_id, revoked_at=record.revoked_at), 201


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)  # not exempt from CSRF: the session cookie authenticates these requests
