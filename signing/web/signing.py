"""Signing in the browser: delegates' keys, the sign and withdraw page, receipts.

Two blueprints:

- ``signing``: HTML pages and form posts (``/account/keys``, ``/admin/keys``,
  ``/declarations/<slug>/sign``, the receipt download);
- ``signing_json``: the same-origin JSON endpoints that ``static/js/keys.js`` and
  ``static/js/sign.js`` call with the session cookie and an ``X-CSRFToken``
  header. Every refusal there, including a missing CSRF token or an ended
  session, is answered as ``{"error": {"code": ..., "message": ...}}`` with its
  status, never as an HTML page or a redirect.

The private keys stay in the browser (IndexedDB); only public keys, payloads
and signatures reach these endpoints. Every decision is taken again by the
services (``services.keys``, ``services.signatures``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..core import payload
from ..extensions import db, limiter
from ..models import City, Declaration, IssuedPayload, Role, Signature, SigningKey, User
from ..services import Forbidden, ServiceError, declarations, keys, signatures, workflow
from ..services.workflow import Action
from ..text.render import render_paragraphs
from .forms import ConfirmForm
from .guards import declaration_action, role_required

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("signing", __name__)
api = Blueprint("signing_json", __name__)

CSRF_MESSAGE = "The form has expired or was not sent from this site. Go back, reload the page and try again."
LOGIN_MESSAGE = "Your session has ended. Log in again, then reload this page."
_HTTP_MESSAGES = {
    400: "Bad request.",
    403: "You do not have access to this.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    413: "What you sent is too large.",
    429: "Too many attempts. Wait a minute and try again.",
}


# --------------------------------------------------------------------------------------------
# Helpers shared by the pages and the JSON endpoints
# --------------------------------------------------------------------------------------------


def is_signatory(declaration: Declaration, user: User) -> bool:
    return user.city_id is not None and user.city_id in {s.city_id for s in declaration.signatories}


def _require_signer(declaration: Declaration, action: Action) -> None:
    """The workflow rule for ``action``, then: the delegate's city is asked to sign."""
    workflow.require(action, declaration, current_user)
    if not is_signatory(declaration, current_user):
        raise Forbidden("Your city is not among the signatories of this declaration.")


def _receipt_allowed(record: Signature, user: User) -> bool:
    """The signer, the delegates of the signing city, and the secretariat."""
    if user.role == Role.SECRETARIAT:
        return True
    if record.user_id == user.id:
        return True
    return user.role == Role.DELEGATE and user.city_id == record.city_id


def _receipt_url(record: Signature) -> str:
    return url_for("signing.receipt", slug=record.declaration.slug, signature_id=record.id)


def _key_json(key: SigningKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "fingerprint": key.fingerprint,
        "label": key.label,
        "origin": key.origin,
        "created_at": payload.timestamp(key.created_at),
        "revoked_at": payload.timestamp(key.revoked_at) if key.revoked_at else None,
    }


@bp.app_context_processor
def _signing_helpers() -> dict[str, object]:
    def sign_status(declaration: Declaration) -> dict[str, Any] | None:
        """For the declaration pages: None unless the current user may sign it now."""
        if not workflow.allowed(Action.SIGN, declaration, current_user) or not is_signatory(declaration,
                                                                                           current_user):
            return None
        return {"standing": signatures.standing_signature(declaration, current_user.city_id or 0)}

    return {"sign_status": sign_status}


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@bp.route("/account/keys")
@role_required(Role.DELEGATE)
def keys_page() -> ResponseReturnValue:
    return render_template("signing/keys.html", keys=keys.keys_of(current_user), confirm=ConfirmForm())


@bp.route("/account/keys/<int:key_id>/revoke", methods=["POST"])
@role_required(Role.DELEGATE, Role.SECRETARIAT)
def revoke_key(key_id: int) -> ResponseReturnValue:
    key = db.session.get(SigningKey, key_id)
    if key is None:
        abort(404)
    if current_user.role != Role.SECRETARIAT and key.user_id != current_user.id:
        abort(403)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    keys.revoke(key, current_user)
    flash(f"The key “{key.label}” ({key.fingerprint}) is revoked. Signatures already made with it stay valid.",
          "success")
    if current_user.role == Role.SECRETARIAT:
        return redirect(url_for("signing.admin_keys"))
    return redirect(url_for("signing.keys_page"))


@bp.route("/admin/keys")
@role_required(Role.SECRETARIAT)
def admin_keys() -> ResponseReturnValue:
    rows = db.session.execute(
        select(SigningKey, User, City)
        .join(User, SigningKey.user_id == User.id)
        .outerjoin(City, User.city_id == City.id)
        .order_by(City.name, User.display_name, SigningKey.id)
    ).all()
    return render_template("signing/admin_keys.html", rows=rows, confirm=ConfirmForm())


@bp.route("/declarations/<slug>/sign")
@declaration_action(Action.SIGN)
def sign_page(declaration: Declaration) -> ResponseReturnValue:
    if not is_signatory(declaration, current_user):
        raise Forbidden("Your city is not among the signatories of this declaration.")
    revision = declaration.open_revision
    if revision is None:  # open for signature always names a revision; be safe anyway
        raise ServiceError("This declaration is not open for signature.", status=409, code="conflict")
    standing = signatures.standing_signature(declaration, current_user.city_id or 0)
    active = [_key_json(k) for k in keys.keys_of(current_user) if k.active]
    return render_template(
        "signing/sign.html", declaration=declaration, revision=revision, city=current_user.city,
        standing=standing, active_keys=active, paragraphs=render_paragraphs(revision.text),
        mode="withdraw" if standing else "sign",
    )


@bp.route("/declarations/<slug>/signatures/<int:signature_id>/receipt.json")
@declaration_action(Action.VIEW)
def receipt(declaration: Declaration, signature_id: int) -> ResponseReturnValue:
    if current_user.role not in (Role.SECRETARIAT, Role.DELEGATE):
        abort(403)
    record = db.session.get(Signature, signature_id)
    if record is None or record.declaration_id != declaration.id:
        abort(404)
    if not _receipt_allowed(record, current_user):
        abort(403)
    body = json.dumps(signatures.receipt(record), indent=2, ensure_ascii=False) + "\n"
    filename = f"{declaration.slug}-{record.city.slug}-signature-{record.id}.json"
    return Response(body.encode("utf-8"), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


# --------------------------------------------------------------------------------------------
# JSON endpoints (called by static/js with X-CSRFToken)
# --------------------------------------------------------------------------------------------


def _json_error(status: int, message: str, code: str) -> ResponseReturnValue:
    return jsonify(error={"code": code, "message": message}), status


@api.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
    return _json_error(400, CSRF_MESSAGE, "csrf_failed")


@api.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> ResponseReturnValue:
    return _json_error(exc.status, exc.message, exc.code)


@api.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    message = _HTTP_MESSAGES.get(status, exc.description or "Bad request.")
    return _json_error(status, message, exc.name.lower().replace(" ", "_"))


def _json_login(view: F) -> F:
    """Like ``login_required``, but an anonymous caller gets 401 JSON instead of a redirect."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _json_error(401, LOGIN_MESSAGE, "login_required")
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError("Send a JSON object (Content-Type: application/json).", code="bad_json")
    return data


def _string(data: dict[str, Any], name: str, *, max_length: int = 10_000) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ServiceError(f"“{name}” must be a string.", code="bad_json")
    if len(value) > max_length:
        raise ServiceError(f"“{name}” is too long.", code="bad_json")
    return value


def _bytes(data: dict[str, Any], name: str) -> bytes:
    try:
        return payload.b64decode(_string(data, name, max_length=1_000_000), name)
    except payload.PayloadError as exc:
        raise signatures.SignatureRejected(str(exc)) from exc


def _enrol_limit() -> str:
    """Per address, apart from the log-in's limit: many delegates may enrol from one office."""
    return str(current_app.config["KEY_ENROL_RATE_LIMIT"])


@api.route("/account/keys", methods=["POST"])
@_json_login
@limiter.limit(_enrol_limit)
def enrol_key() -> ResponseReturnValue:
    """Enrol the public half of a key made in the browser; the password is asked again."""
    if current_user.role != Role.DELEGATE:
        raise Forbidden("Only delegates of a member city enrol signing keys.")
    data = _body()
    key = keys.enrol(current_user, _string(data, "public_key"), _string(data, "label", max_length=1_000),
                     _string(data, "password", max_length=256), origin="browser")
    flash(f"The key “{key.label}” is enrolled. Its fingerprint is {key.fingerprint}.", "success")
    return jsonify(_key_json(key)), 201


def _issued_json(issued: IssuedPayload) -> dict[str, Any]:
    return {
        "payload": payload.b64encode(issued.payload),
        "payload_sha256": issued.payload_sha256,
        "kind": issued.kind,
        "expires_at": payload.timestamp(issued.expires_at),
    }


def _declaration_for(slug: str, action: Action) -> Declaration:
    declaration = declarations.get(slug)
    _require_signer(declaration, action)
    return declaration


@api.route("/declarations/<slug>/sign/payload", methods=["POST"])
@_json_login
def sign_payload(slug: str) -> ResponseReturnValue:
    declaration = _declaration_for(slug, Action.SIGN)
    fingerprint = _string(_body(), "key_fingerprint", max_length=100)
    issued = signatures.issue_signature_payload(declaration, current_user, fingerprint)
    return jsonify(_issued_json(issued)), 201


@api.route("/declarations/<slug>/sign/submit", methods=["POST"])
@_json_login
def sign_submit(slug: str) -> ResponseReturnValue:
    declaration = _declaration_for(slug, Action.SIGN)
    data = _body()
    record = signatures.submit_signature(declaration, current_user, _bytes(data, "payload"),
                                         _bytes(data, "signature"))
    return jsonify(
        status="signed", signature_id=record.id, signed_at=payload.timestamp(record.signed_at),
        city=record.city.name, revision=record.revision.number, key_fingerprint=record.key.fingerprint,
        receipt_url=_receipt_url(record),
    ), 201


@api.route("/declarations/<slug>/withdraw/payload", methods=["POST"])
@_json_login
def withdraw_payload(slug: str) -> ResponseReturnValue:
    declaration = _declaration_for(slug, Action.WITHDRAW)
    fingerprint = _string(_body(), "key_fingerprint", max_length=100)
    issued = signatures.issue_withdrawal_payload(declaration, current_user, fingerprint)
    return jsonify(_issued_json(issued)), 201


@api.route("/declarations/<slug>/withdraw/submit", methods=["POST"])
@_json_login
def withdraw_submit(slug: str) -> ResponseReturnValue:
    declaration = _declaration_for(slug, Action.WITHDRAW)
    data = _body()
    record = signatures.submit_withdrawal(declaration, current_user, _bytes(data, "payload"),
                                          _bytes(data, "signature"))
    original = record.original
    return jsonify(
        status="withdrawn", withdrawal_id=record.id, signature_id=original.id,
        withdrawn_at=payload.timestamp(record.withdrawn_at), city=original.city.name,
        revision=original.revision.number, receipt_url=_receipt_url(original),
    ), 201


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api)

