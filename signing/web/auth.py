"""Log in and out, invitations, password resets, the account page."""

from __future__ import annotations

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
from ..services import ServiceError, accounts, links, tokens
from .forms import ChangePasswordForm, ConfirmForm, LoginForm, ResetRequestForm, SetPasswordForm, _printable

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Wrong e-mail address or password."


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
        accounts.record_login(user, form.password.data or "")
        _start_session(user)
        return redirect(next_url)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


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
                  new_token: str | None = None) -> str:
    return render_template(
        "auth/account.html", form=form or ChangePasswordForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None), api_tokens=tokens.list_for(current_user),
        new_token=new_token, revoke_form=ConfirmForm(formdata=None),
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

    @app.context_processor
    def _logout_form() -> dict[str, Any]:
        if not has_request_context():  # e-mails rendered by the CLI or a worker: no form, no CSRF
            return {}
        # Never bound to the request's form data: reading it may itself fail (413 on an error page).
        return {"logout_form": ConfirmForm(formdata=None)}
