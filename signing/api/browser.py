"""The signing pages' JSON endpoints: the API's signing path, for a logged-in browser.

``static/js/keys.js``, ``static/js/witness-keys.js`` and ``static/js/sign.js`` call these with the session
cookie and an ``X-CSRFToken`` header (CSRF is checked for every POST before anything else). The URLs are the
pages' own; what happens behind them is the API's: the same body checks (``intake``), schemas, services and
response bodies (``actions``), and every refusal, an ended session included, is
``{"error": {"code", "message"}}`` with its status (``signing.web.errors``), never an HTML page or a redirect.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, flash
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import limiter
from ..models import PayloadKind, User
from ..services import LoginRequired, witness
from . import actions, present, schemas, schemas_log
from .core import session_endpoint
from .intake import check_body

bp = Blueprint("signing_json", __name__)


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


@bp.before_request
def logged_in_with_a_json_body() -> None:
    """An ended session is a JSON 401 (the script says so), not a redirect to the login page."""
    if not current_user.is_authenticated:
        raise LoginRequired()
    check_body()


@bp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/keys")
@limiter.limit(actions.enrol_rate_limit)
@session_endpoint(schemas.KeyOut, status=201)
def enrol_key(json: schemas.KeyCreate) -> tuple[schemas.KeyOut, int]:
    """Enrol the public half of a key made in this browser; the password is asked again."""
    key = actions.enrol_key(_user(), json, "browser")
    flash(_("The key “%(label)s” is enrolled. Its fingerprint is %(fingerprint)s.",
            label=key.label, fingerprint=key.fingerprint), "success")
    return key, 201


@bp.post("/account/witness-keys")
@limiter.limit(actions.enrol_rate_limit)
@session_endpoint(schemas_log.WitnessOut, status=201)
def enrol_witness_key(json: schemas_log.WitnessCreate) -> tuple[schemas_log.WitnessOut, int]:
    """Enrol the public half of a witness key made in this browser (``static/js/witness-keys.js``)."""
    key = witness.enrol(_user(), json.public_key, json.password, "browser")
    flash(_("The witness key %(fingerprint)s is enrolled for %(name)s: this browser now cosigns the transparency "
            "log whenever you open Accord.", fingerprint=key.fingerprint, name=key.city.name), "success")
    return present.witness_key(key), 201


@session_endpoint(schemas.IssuedPayloadOut, status=201)
def _issue_payload(slug: str, kind: PayloadKind, json: schemas.PayloadRequest) -> tuple[schemas.IssuedPayloadOut, int]:
    """The statement to sign; ``kind`` comes from the URL rule (``sign_payload`` or ``withdraw_payload``)."""
    return actions.issue_payload(_user(), slug, json, kind), 201


for _step, _kind in (("sign", PayloadKind.SIGNATURE), ("withdraw", PayloadKind.WITHDRAWAL)):
    bp.add_url_rule(f"/declarations/<slug>/{_step}/payload", f"{_step}_payload", _issue_payload, methods=["POST"],
                    defaults={"kind": _kind})


@bp.post("/declarations/<slug>/sign/submit")
@session_endpoint(schemas.SignatureReceipt, status=201)
def sign_submit(slug: str, json: schemas.SignedPayload) -> tuple[schemas.SignatureReceipt, int]:
    return actions.sign(_user(), slug, json), 201


@bp.post("/declarations/<slug>/withdraw/submit")
@session_endpoint(schemas.WithdrawalReceipt, status=201)
def withdraw_submit(slug: str, json: schemas.SignedPayload) -> tuple[schemas.WithdrawalReceipt, int]:
    return actions.withdraw(_user(), slug, json), 201


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)  # not exempt from CSRF: the session cookie authenticates these requests
