"""The account page's second-factor forms: the authenticator app (TOTP) and removing passkeys.

The account page itself is ``auth.account``; adding a passkey goes through the JSON endpoints of
``passkeys`` (called by ``static/js/passkeys.js``).
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..services import ServiceError, passkeys, totp
from . import auth
from .forms import ConfirmForm, PasskeyRemoveForm, RecoveryCodesForm, TotpConfirmForm, TotpDisableForm

bp = Blueprint("account_security", __name__)


def _bad_form() -> ResponseReturnValue:
    return render_template("error.html", status=400, title=_("Bad request"),
                           message=_("The form was not valid. Reload the page and try again.")), 400


@bp.route("/account/totp", methods=["POST"])
@login_required
def totp_begin() -> ResponseReturnValue:
    """Make a secret to enrol; the account page shows it (QR code and text) until a code confirms it."""
    if not ConfirmForm().validate_on_submit():
        return _bad_form()
    try:
        totp.begin_enrolment(current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("auth.account", _anchor="second-factor"))


@bp.route("/account/totp/confirm", methods=["POST"])
@login_required
def totp_confirm() -> ResponseReturnValue:
    confirm_form = TotpConfirmForm()
    if not confirm_form.validate_on_submit():
        return auth._account_page(confirm_form=confirm_form), 400
    try:
        codes = totp.confirm_enrolment(current_user, confirm_form.code.data or "")
    except ServiceError as exc:
        confirm_form.code.errors = [exc.message]
        return auth._account_page(confirm_form=confirm_form), exc.status
    return auth._account_page(recovery_codes=codes), 200  # shown this once, never stored in clear


@bp.route("/account/totp/disable", methods=["POST"])
@login_required
def totp_disable() -> ResponseReturnValue:
    disable_form = TotpDisableForm()
    if not disable_form.validate_on_submit():
        return auth._account_page(disable_form=disable_form), 400
    try:
        totp.disable(current_user, disable_form.totp_password.data or "", disable_form.totp_code.data or "")
    except ServiceError as exc:
        disable_form.totp_code.errors = [exc.message]
        return auth._account_page(disable_form=disable_form), exc.status
    flash(_("The authenticator app is turned off; its recovery codes no longer work."), "success")
    return redirect(url_for("auth.account", _anchor="second-factor"))


@bp.route("/account/recovery-codes", methods=["POST"])
@login_required
def recovery_codes_renew() -> ResponseReturnValue:
    renew_form = RecoveryCodesForm()
    if not renew_form.validate_on_submit():
        return auth._account_page(renew_form=renew_form), 400
    try:
        codes = totp.renew_recovery_codes(current_user, renew_form.renew_password.data or "",
                                          renew_form.renew_code.data or "")
    except ServiceError as exc:
        renew_form.renew_code.errors = [exc.message]
        return auth._account_page(renew_form=renew_form), exc.status
    return auth._account_page(recovery_codes=codes), 200  # shown this once, never stored in clear


@bp.route("/account/passkeys/<int:passkey_id>/remove", methods=["POST"])
@login_required
def passkey_remove(passkey_id: int) -> ResponseReturnValue:
    remove_form = PasskeyRemoveForm()
    if not remove_form.validate_on_submit():
        return auth._account_page(remove_form=remove_form, remove_id=passkey_id), 400
    try:
        name = passkeys.remove(current_user, passkey_id, remove_form.password.data or "")
    except ServiceError as exc:
        remove_form.password.errors = [exc.message]
        return auth._account_page(remove_form=remove_form, remove_id=passkey_id), exc.status
    flash(_("The passkey “%(name)s” is removed.", name=name), "success")
    return redirect(url_for("auth.account", _anchor="second-factor"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
