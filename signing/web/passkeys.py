"""Passkeys: the same-origin JSON endpoints that ``static/js/passkeys.js`` calls (with ``X-CSRFToken``).

Registering one needs a logged-in session. Logging in with one works two ways: as the second factor
of an account whose password was just given (the half-logged-in state of ``auth``), or alone, without a
password, where the authenticator must verify the user. The challenge lives in the database; the
session only remembers which one this browser was handed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import limiter
from ..services import LoginRequired, ServiceError, passkeys
from . import auth, login_state

bp = Blueprint("passkeys", __name__)

REGISTER_CHALLENGE = "passkey_register_challenge"
LOGIN_CHALLENGE = "passkey_login_challenge"


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError(_("Send a JSON object (Content-Type: application/json)."), code="bad_json")
    return data


def _credential(data: dict[str, Any]) -> dict[str, Any]:
    credential = data.get("credential")
    if not isinstance(credential, dict):
        raise ServiceError(_("“credential” must be the passkey's answer, as a JSON object."), code="bad_json")
    return credential


def _challenge_id(key: str) -> int:
    challenge_id = session.pop(key, None)
    if not isinstance(challenge_id, int):
        raise ServiceError(passkeys.CHALLENGE_GONE, code="challenge_gone")
    return challenge_id


def _options(key: str, made: tuple[int, str]) -> ResponseReturnValue:
    challenge_id, options = made
    session[key] = challenge_id
    return Response(options, status=200, mimetype="application/json")


@bp.route("/account/passkeys/options", methods=["POST"])
def register_options() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        raise LoginRequired()
    return _options(REGISTER_CHALLENGE, passkeys.registration_options(current_user))


@bp.route("/account/passkeys", methods=["POST"])
def register() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        raise LoginRequired()
    data = _body()
    name = data.get("name")
    if not isinstance(name, str):
        raise ServiceError(_("“name” must be a string."), code="bad_json")
    passkey = passkeys.register(current_user, _challenge_id(REGISTER_CHALLENGE), name[:1000], _credential(data))
    return jsonify(id=passkey.id, name=passkey.name), 201


def _already_in() -> ResponseReturnValue:
    raise ServiceError(_("You are already logged in."), status=409, code="already_logged_in")


@bp.route("/login/passkey/options", methods=["POST"])
@limiter.limit(auth._login_limit)
def login_options() -> ResponseReturnValue:
    """Options for a passkey login: the pending account's passkeys, or any passkey (passwordless)."""
    if current_user.is_authenticated:
        return _already_in()
    return _options(LOGIN_CHALLENGE, passkeys.authentication_options(login_state.pending_user()))


@bp.route("/login/passkey", methods=["POST"])
@limiter.limit(auth._login_limit)
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return _already_in()
    pending = login_state.pending_user()
    credential = _credential(_body())
    try:
        user = passkeys.authenticate(_challenge_id(LOGIN_CHALLENGE), credential, pending)
    except ServiceError:
        if pending is not None and login_state.failed():
            raise ServiceError(_("Too many wrong attempts. Please log in again."), status=401,
                               code="login_expired") from None
        raise
    next_url = auth.finish_login(user, "password+passkey" if pending is not None else "passkey")
    return jsonify(redirect=next_url), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
