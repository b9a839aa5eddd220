"""Log in and out (with a second factor where there is one), invitations, password resets, the account page."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..extensions import db, limiter, login_manager
from ..i18n import N_
from ..models import LinkPurpose, User, UserSession
from ..services import (
    ServiceError,
    accounts,
    audit,
    links,
    passkeys,
    second_factor,
    sessions,
    throttle,
    tokens,
    totp,
    transactions,
)
from . import login_state, redirects
from .forms import (
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    PasskeyRemoveForm,
    RecoveryCodesForm,
    ResetRequestForm,
    SecondFactorForm,
    SetPasswordForm,
    TokenForm,
    TotpConfirmForm,
    TotpDisableForm,
)

bp = Blueprint("auth", __name__)

LOGIN_FAILED = _l("Wrong e-mail address or password.")
# While a secretariat account must still enrol a second factor, only these endpoints answer it.
ENROLMENT_ENDPOINTS = frozenset({
    "auth.account", "account_security.totp_begin", "account_security.totp_confirm", "auth.logout",
    "passkeys.register_options",
    "passkeys.register", "static", "home.healthz", "home.favicon", "language.choose",
})


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _reset_limit() -> str:
    return str(current_app.config["RESET_RATE_LIMIT"])


def _safe_next(target: str | None) -> str:
    """``next`` as a browser would read it, if that is a path on this site; anything else goes home."""
    return redirects.same_site_path(target) or url_for("home.home")


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _complete_login(user: User, method: str = "password") -> None:
    """The one place a log-in completes (after every factor): a fresh Flask session and a server-side record.

    ``method`` says how the user proved who they are, for the audit log.
    """
    raw_id = accounts.record_login(user, user_agent=request.user_agent.string, address=_client_address(),
                                   method=method)
    session.clear()  # a fresh session at login: nothing from before survives
    login_user(user)
    session[sessions.SESSION_KEY] = raw_id
    session.permanent = True


def _login_page(form: LoginForm, error: str | None, status: int) -> ResponseReturnValue:
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = redirects.same_site_path(request.args.get("next", "")) or ""
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data or "", form.password.data or "",
                                         address=_client_address())
        except throttle.TooManyAttempts as exc:
            response = make_response(_login_page(form, exc.message, exc.status))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if user is None:
            return _login_page(form, LOGIN_FAILED, 401)
        next_url = _safe_next(form.next.data)
        if second_factor.has_second_factor(user):
            return login_state.begin(user, next_url)
        _complete_login(user)
        return redirect(next_url)
    return _login_page(form, None, 400 if request.method == "POST" else 200)


def finish_login(user: User, method: str) -> str:
    """The end of a login with a second factor or a passkey; returns where to go next."""
    state = login_state.state()
    next_url = _safe_next(state.get("next") if isinstance(state, dict) else None)
    _complete_login(user, method)  # the same completion as a password-only login
    return next_url


@bp.route("/login/second-factor", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_factor_step() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    user = login_state.pending_user()
    if user is None:
        flash(_("Your login has expired or was not started. Please log in again."), "info")
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
            if login_state.failed():
                flash(_("Too many wrong attempts. Please log in again."), "error")
                return redirect(url_for("auth.login"))
            form.code.errors, status = [_("That code is not right.")], 401
    return render_template("auth/second_factor.html", form=form, has_totp=second_factor.has_totp(user),
                           has_passkeys=second_factor.passkey_count(user) > 0), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("error.html", status=400, title=_("Bad request"),
                               message=_("The logout form was not valid.")), 400
    record = _current_record()
    if record is not None:
        sessions.end(record, current_user, "logout")
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


def _run_after_response(response: Response, work: list[transactions.AfterCommit]) -> None:
    """Run after-commit work once the response is sent (WSGI servers close it after the last byte)."""
    if not work:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            transactions.run(work)

    response.call_on_close(run)


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
            response = login_state.begin(user, url_for("home.home"))  # (a fresh session: flash after)
            flash(_("Your password is set. Now confirm it is you with your second factor."), "success")
            return response
        _complete_login(user, method=purpose.value)
        flash(_("Your password is set. Welcome to Accord."), "success")
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
        work = accounts.request_password_reset(form.email.data or "")
        flash(_("If that address belongs to an account, a reset link is on its way."), "info")
        response = redirect(url_for("auth.login"))
        _run_after_response(response, work)
        return response
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_request.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    return _set_password_page(LinkPurpose.PASSWORD_RESET, token, "auth/reset.html")


def _account_page(form: ChangePasswordForm | None = None, token_form: TokenForm | None = None,
                  new_token: str | None = None, **second: Any) -> str:
    current = _current_record()
    pending_totp = totp.pending(current_user)
    uri = totp.provisioning_uri(current_user, pending_totp) if pending_totp else None
    second = {"confirm_form": TotpConfirmForm(formdata=None), "disable_form": TotpDisableForm(formdata=None),
              "renew_form": RecoveryCodesForm(formdata=None), "remove_form": PasskeyRemoveForm(formdata=None),
              **second}
    return render_template(
        "auth/account.html", form=form or ChangePasswordForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None), api_tokens=tokens.list_for(current_user),
        new_token=new_token, revoke_form=ConfirmForm(formdata=None),
        user_sessions=sessions.active_for(current_user), current_session_id=current.id if current else None,
        security_events=audit.security_events_of(current_user), event_labels=audit.SECURITY_EVENT_LABELS,
        totp_on=second_factor.has_totp(current_user), totp_secret=pending_totp.secret if pending_totp else None,
        totp_qr=totp.qr_data_uri(uri) if uri else None, passkeys=passkeys.list_for(current_user),
        must_enrol=second_factor.must_enrol(current_user),
        recovery_left=totp.remaining_recovery_codes(current_user), **second,
    )


def _bad_form() -> ResponseReturnValue:
    return render_template("error.html", status=400, title=_("Bad request"),
                           message=_("The form was not valid. Reload the page and try again.")), 400


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def session_end(session_id: int) -> ResponseReturnValue:
    """Log out one of your sessions (this device's included)."""
    if not ConfirmForm().validate_on_submit():
        return _bad_form()
    record = sessions.get_own(session_id, current_user)  # someone else's: 404
    current = _current_record()
    this_device = current is not None and current.id == record.id
    sessions.end(record, current_user, "ended_from_account")
    if this_device:
        logout_user()
        session.clear()
        flash(_("You have logged out."), "info")
        return redirect(url_for("auth.login"))
    flash(_("The session on %(device)s is logged out.", device=record.device), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/sessions/end-all", methods=["POST"])
@login_required
def sessions_end_all() -> ResponseReturnValue:
    """Log out every session of this account, this one included."""
    if not ConfirmForm().validate_on_submit():
        return _bad_form()
    sessions.log_out_everywhere(current_user)
    logout_user()
    session.clear()
    flash(_("You have logged out everywhere."), "info")
    return redirect(url_for("auth.login"))


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
        _complete_login(current_user, method="password_change")
        flash(_("Your password has been changed. Other sessions have been logged out."), "success")
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
        _token, secret = tokens.create(current_user, token_form.name.data, actor=current_user)
    except ServiceError as exc:
        token_form.name.errors = [exc.message]
        return _account_page(token_form=token_form), exc.status
    return _account_page(new_token=secret), 200


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def token_revoke(token_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return _bad_form()
    token = tokens.get(token_id)
    if token.user_id != current_user.id:  # someone else's token: as if it did not exist
        return render_template("error.html", status=404, title=_("Not found"),
                               message=_("You have no API token with that number.")), 404
    tokens.revoke(token, current_user)
    flash(_("The API token %(prefix)s… is revoked.", prefix=token.prefix), "success")
    return redirect(url_for("auth.account"))


def _current_record() -> UserSession | None:
    """This request's server-side session record (None when anonymous)."""
    if not current_user.is_authenticated:  # also makes Flask-Login load the user, which finds the record
        return None
    record = g.get("accord_session_record")
    return record if isinstance(record, UserSession) else None


def _require_enrolment() -> ResponseReturnValue | None:
    """A secretariat account that must have a second factor can only enrol one (or log out) until it has."""
    if request.endpoint in ENROLMENT_ENDPOINTS or (request.endpoint or "").startswith("api."):
        return None
    if current_user.is_authenticated and second_factor.must_enrol(current_user):
        flash(_("Secretariat accounts need a second factor. Set up an authenticator app or a passkey first."), "info")
        return redirect(url_for("auth.account", _anchor="second-factor"))
    return None


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The user of a live server-side session (Flask-Login stores "<id>:<epoch>", the record's id is apart)."""
    user_id, _sep, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.scalar(select(User).where(User.id == int(user_id)))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    record = sessions.resolve(session.get(sessions.SESSION_KEY), user)
    if record is None:
        return None
    g.accord_session_record = record
    return user


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("Please log in to see this page.")
    login_manager.localize_callback = _  # flashed in the visitor's language
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
