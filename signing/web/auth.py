"""Log in and out (with a second factor where there is one), invitations, password resets, the account page."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField, SubmitField
from wtforms.validators import Length

from ..extensions import db, limiter, login_manager
from ..models import LinkPurpose, User
from ..services import ServiceError, accounts, links, passkeys, second_factor, tokens, totp
from .forms import (
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    PasskeyRemoveForm,
    RecoveryCodesForm,
    ResetRequestForm,
    SecondFactorForm,
    SetPasswordForm,
    TotpConfirmForm,
    TotpDisableForm,
    _printable,
)

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Wrong e-mail address or password."
# The half-logged-in state: the password was right, the second factor is still to come.
PENDING_LOGIN = "second_factor_pending"
MAX_SECOND_FACTOR_FAILURES = 5
# While a secretariat account must still enrol a second factor, only these endpoints answer it.
ENROLMENT_ENDPOINTS = frozenset({
    "auth.account", "account_security.totp_begin", "account_security.totp_confirm", "auth.logout",
    "passkeys.register_options",
    "passkeys.register", "static", "home.healthz", "home.favicon",
})


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _reset_limit() -> str:
    return str(current_app.config["RESET_RATE_LIMIT"])


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes home."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.home")


def _start_session(user: User) -> None:
    session.clear()  # a fresh session at login: nothing from before survives
    login_user(user)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data or "", form.password.data or "")
        if user is None:
            return render_template("auth/login.html", form=form, error=LOGIN_FAILED), 401
        next_url = _safe_next(form.next.data)
        if second_factor.has_second_factor(user):
            accounts.refresh_password_hash(user, form.password.data or "")
            return _begin_second_factor(user, next_url)
        accounts.record_login(user, form.password.data or "")
        _start_session(user)
        return redirect(next_url)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


def _begin_second_factor(user: User, next_url: str) -> ResponseReturnValue:
    session.clear()
    session[PENDING_LOGIN] = {
        "user": user.id, "epoch": user.session_epoch, "next": next_url, "failures": 0,
        "expires": time.time() + current_app.config["SECOND_FACTOR_LOGIN_TTL"].total_seconds(),
    }
    return redirect(url_for("auth.second_factor_step"))


def pending_login() -> User | None:
    """The account whose password was given in this session and whose second factor is awaited, if any."""
    state = session.get(PENDING_LOGIN)
    if not isinstance(state, dict):
        return None
    user = db.session.get(User, state.get("user")) if isinstance(state.get("user"), int) else None
    if (user is None or not user.active or user.session_epoch != state.get("epoch")
            or not time.time() < state.get("expires", 0)):
        session.pop(PENDING_LOGIN, None)
        return None
    return user


def second_factor_failed() -> bool:
    """Count a wrong second factor; True when there were too many (the password must be given again)."""
    state = dict(session.get(PENDING_LOGIN) or {})
    state["failures"] = int(state.get("failures", 0)) + 1
    if state["failures"] >= MAX_SECOND_FACTOR_FAILURES:
        session.pop(PENDING_LOGIN, None)
        return True
    session[PENDING_LOGIN] = state
    return False


def finish_login(user: User, method: str) -> str:
    """The end of a login with a second factor or a passkey; returns where to go next."""
    state = session.get(PENDING_LOGIN)
    next_url = _safe_next(state.get("next") if isinstance(state, dict) else None)
    accounts.record_login(user, None, method=method)
    _start_session(user)  # the same session start as a password-only login
    return next_url


@bp.route("/login/second-factor", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_factor_step() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    user = pending_login()
    if user is None:
        flash("Your login has expired or was not started. Please log in again.", "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            method = totp.check_login_code(user, form.code.data or "")
        except ServiceError as exc:
            method, form.code.errors, status = None, [exc.message], exc.status
        else:
            if method is not None:
                return redirect(finish_login(user, f"password+{method}"))
            if second_factor_failed():
                flash("Too many wrong attempts. Please log in again.", "error")
                return redirect(url_for("auth.login"))
            form.code.errors, status = ["That code is not right."], 401
    return render_template("auth/second_factor.html", form=form, has_totp=second_factor.has_totp(user),
                           has_passkeys=second_factor.passkey_count(user) > 0), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("error.html", status=400, title="Bad request",
                               message="The logout form was not valid."), 400
    logout_user()
    session.clear()
    flash("You have logged out.", "info")
    return redirect(url_for("auth.login"))


def _set_password_page(purpose: LinkPurpose, token: str, template: str) -> ResponseReturnValue:
    link = links.resolve(token, purpose)  # raises a 400/410 with a clear message
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            if purpose is LinkPurpose.INVITATION:
                user = accounts.accept_invitation(token, form.password.data or "")
            else:
                user = accounts.reset_password(token, form.password.data or "")
        except ServiceError as exc:
            if exc.code in {"invalid_link", "link_gone"}:
                raise
            form.password.errors = [exc.message]
            return render_template(template, form=form, user=link.user), exc.status
        if second_factor.has_second_factor(user):  # an e-mailed link alone never gets past a second factor
            response = _begin_second_factor(user, url_for("home.home"))  # (a fresh session: flash after)
            flash("Your password is set. Now confirm it is you with your second factor.", "success")
            return response
        _start_session(user)
        flash("Your password is set. Welcome to Accord.", "success")
        return redirect(url_for("home.home"))
    status = 400 if request.method == "POST" else 200
    return render_template(template, form=form, user=link.user), status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    if current_user.is_authenticated:
        logout_user()
    return _set_password_page(LinkPurpose.INVITATION, token, "auth/invitation.html")


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def request_reset() -> ResponseReturnValue:
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data or "")
        flash("If that address belongs to an account, a reset link is on its way.", "info")
        return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_request.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    return _set_password_page(LinkPurpose.PASSWORD_RESET, token, "auth/reset.html")


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=tokens.MAX_NAME), _printable])
    submit = SubmitField("Create token")


def _account_page(form: ChangePasswordForm | None = None, token_form: TokenForm | None = None,
                  new_token: str | None = None, **second: Any) -> str:
    pending_totp = totp.pending(current_user)
    uri = totp.provisioning_uri(current_user, pending_totp) if pending_totp else None
    second = {"confirm_form": TotpConfirmForm(formdata=None), "disable_form": TotpDisableForm(formdata=None),
              "renew_form": RecoveryCodesForm(formdata=None), "remove_form": PasskeyRemoveForm(formdata=None),
              **second}
    return render_template(
        "auth/account.html", form=form or ChangePasswordForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None), api_tokens=tokens.list_for(current_user),
        new_token=new_token, revoke_form=ConfirmForm(formdata=None),
        totp_on=second_factor.has_totp(current_user), totp_secret=pending_totp.secret if pending_totp else None,
        totp_qr=totp.qr_data_uri(uri) if uri else None, passkeys=passkeys.list_for(current_user),
        must_enrol=second_factor.must_enrol(current_user),
        recovery_left=totp.remaining_recovery_codes(current_user), **second,
    )


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current.data or "", form.password.data or "")
        except ServiceError as exc:
            form.current.errors = [exc.message]
            return _account_page(form=form), exc.status
        _start_session(current_user)
        flash("Your password has been changed. Other sessions have been logged out.", "success")
        return redirect(url_for("auth.account"))
    status = 400 if request.method == "POST" else 200
    return _account_page(form=form), status


@bp.route("/account/tokens", methods=["POST"])
@login_required
def token_create() -> ResponseReturnValue:
    """Make an API token; the page shows it this once (never stored in clear, never in the session)."""
    token_form = TokenForm()
    if not token_form.validate_on_submit():
        return _account_page(token_form=token_form), 400
    try:
        _, secret = tokens.create(current_user, token_form.name.data, actor=current_user)
    except ServiceError as exc:
        token_form.name.errors = [exc.message]
        return _account_page(token_form=token_form), exc.status
    return _account_page(new_token=secret), 200


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def token_revoke(token_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return render_template("error.html", status=400, title="Bad request",
                               message="The form was not valid. Reload the page and try again."), 400
    token = tokens.get(token_id)
    if token.user_id != current_user.id:  # someone else's token: as if it did not exist
        return render_template("error.html", status=404, title="Not found",
                               message="You have no API token with that number."), 404
    tokens.revoke(token, current_user)
    flash(f"The API token {token.prefix}… is revoked.", "success")
    return redirect(url_for("auth.account"))


def _require_enrolment() -> ResponseReturnValue | None:
    """A secretariat account that must have a second factor can only enrol one (or log out) until it has."""
    if request.endpoint in ENROLMENT_ENDPOINTS or (request.endpoint or "").startswith("api."):
        return None
    if current_user.is_authenticated and second_factor.must_enrol(current_user):
        flash("Secretariat accounts need a second factor. Set up an authenticator app or a passkey first.", "info")
        return redirect(url_for("auth.account", _anchor="second-factor"))
    return None


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.scalar(select(User).where(User.id == int(user_id)))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.before_request(_require_enrolment)

    @app.context_processor
    def _logout_form() -> dict[str, Any]:
        if not has_request_context():  # e-mails rendered by the CLI or a worker: no form, no CSRF
            return {}
        # Never bound to the request's form data: reading it may itself fail (413 on an error page).
        return {"logout_form": ConfirmForm(formdata=None)}
