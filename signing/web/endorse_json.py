"""The endorsement pages' JSON endpoints: post a signed endorsement or withdrawal (one request each).

``static/js/endorse.js`` posts ``{payload, signature, public_key}`` (base64) with the session cookie and the
``X-CSRFToken`` header. Posting an endorsement needs a proved endorser (an opened e-mail link in this session,
an organisation's account, a delegate's city); a new key is then registered to it. A withdrawal is proved by
its signature with a key already registered to the endorser it names. Every refusal is the JSON envelope
``{"error": {"code", "message"}}`` (``web/errors.py``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, request, session
from flask_babel import gettext as _
from flask_login import current_user

from ..core import payload
from ..extensions import db
from ..models import Declaration, Endorser
from ..services import (
    LoginRequired,
    ServiceError,
    endorsement_intake,
    endorsement_queries,
    endorsements,
    endorsers,
    transactions,
)
from .endorse import SESSION_KEY, current_endorser, frozen

bp = Blueprint("endorse_json", __name__)
MAX_PAYLOAD_BYTES = 4096


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError(_("Send a JSON object (Content-Type: application/json)."), code="invalid_json")
    return body


def _decode(body: dict[str, Any], name: str, size: int | None = None) -> bytes:
    value = body.get(name)
    try:
        raw = payload.b64decode(value if isinstance(value, str) else "", name)
    except payload.PayloadError as exc:
        raise ServiceError(_("%(name)s must be base64.", name=name), code="invalid_base64") from exc
    if not raw or (size is not None and len(raw) != size) or len(raw) > MAX_PAYLOAD_BYTES:
        raise ServiceError(_("%(name)s has the wrong length.", name=name), code="invalid_size")
    return raw


def _signed(body: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    return (_decode(body, "payload"), _decode(body, "signature", payload.SIGNATURE_BYTES),
            _decode(body, "public_key", payload.PUBLIC_KEY_BYTES))


@bp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _endorser(declaration: Declaration) -> Endorser | None:
    """``current_endorser``; the person of an opened link is read without the ORM (one Core select).

    An account (organisation, delegate) takes ``current_endorser``; the person's endorser is read with
    ``endorsers.read_by_public_id`` (the same answers; a name or country given is written by
    ``endorsers.give_details``).
    """
    if current_user.is_authenticated:
        return current_endorser(declaration)
    held = session.get(SESSION_KEY)
    if isinstance(held, dict) and held.get("declaration") == declaration.id:
        return endorsers.read_by_public_id(str(held.get("endorser", "")))
    return None


@bp.post("/d/<slug>/endorse/submit")
def submit(slug: str) -> tuple[dict[str, Any], int]:
    declaration = endorsement_intake.frozen(slug)  # read once per process (a frozen declaration never changes)
    if declaration is None:
        abort(404)
    body = _body()
    endorser = _endorser(declaration)
    if endorser is None:
        raise LoginRequired(_("Open the link from your e-mail again (or log in), then endorse."))
    data, signature, public_key = _signed(body)
    details = False  # a name or a country stored with the endorsement (a person's only)
    if endorser.kind == "person":
        country, name = body.get("country"), body.get("name")
        details = endorsers.give_details(endorser, country=country if isinstance(country, str) else None,
                                         name=name if isinstance(name, str) else None,
                                         show=bool(body.get("show_name")))
    record = endorsements.accept(declaration, data, signature, public_key, endorser=endorser)
    # A new endorsement committed the details with it; a replay commits nothing itself: commit the details.
    if details and db.session().in_transaction():
        transactions.commit(keep=(record,))
    # The response is built from the stored row and this process's cached counts (no count over the list).
    return {"payload_sha256": record.payload_sha256, **endorsements.links(declaration, record),
            "total": endorsement_queries.total(declaration)}, 201


@bp.post("/d/<slug>/endorsements/e/<sha256>/withdraw")
def withdraw(slug: str, sha256: str) -> tuple[dict[str, Any], int]:
    declaration = frozen(slug)
    body = _body()
    data, signature, public_key = _signed(body)
    try:
        names = payload.parse(data).get("withdraws_payload_sha256")
    except payload.PayloadError as exc:
        raise endorsements.EndorsementRejected(_("The statement is not valid: %(why)s.", why=str(exc))) from exc
    if names != sha256:
        raise endorsements.EndorsementRejected(_("This withdrawal names another endorsement."))
    record = endorsements.withdraw(declaration, data, signature, public_key,
                                   endorser=current_endorser(declaration))
    return {"withdrawn_at": payload.timestamp(record.withdrawn_at or record.accepted_at),
            "total": endorsement_queries.total(declaration)}, 201


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)  # not exempt from CSRF
