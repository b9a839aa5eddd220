"""Accounts: creating users, invitations, passwords, logins, deactivation."""

from __future__ import annotations

import secrets

from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import City, LinkPurpose, Role, User, utcnow
from . import Conflict, ServiceError, audit, links, outbox, refuse_bidi, sessions, throttle, transactions
from .passwords import check_password_policy, hash_password, needs_rehash, verify_password

RESET_TASK = "password_reset"


def normalise_email(raw: str) -> str:
    """Validate the syntax and return the lower-cased address (no DNS look-up)."""
    candidate = (raw or "").strip()
    if len(candidate) > 254:
        raise ServiceError(_("The e-mail address is too long (254 characters at most)."))
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ServiceError(_("That is not a valid e-mail address: %(exc)s", exc=exc)) from exc
    return result.normalized.lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


CITY_ROLES = frozenset({Role.DELEGATE.value, Role.MAYOR.value})


def _check_role(role: str, city: City | None) -> None:
    if role not in {r.value for r in Role}:
        raise ServiceError(_("Unknown role %(role)s.", role=repr(role)))
    if role in CITY_ROLES and city is None:
        raise ServiceError(_("A delegate or a mayor must belong to a city."))
    if role not in CITY_ROLES and city is not None:
        raise ServiceError(_("Only delegates and mayors belong to a city."))
    if role == Role.MAYOR and city is not None:
        mayor = db.session.scalar(select(User).where(User.city_id == city.id, User.role == Role.MAYOR.value))
        if mayor is not None:
            raise Conflict(_("%(city)s already has a mayor: %(name)s.", city=city.name, name=mayor.display_name),
                           code="mayor_exists")


def _new_user(email: str, display_name: str, role: str, city: City | None) -> User:
    email = normalise_email(email)
    display_name = display_name.strip()
    if not display_name:
        raise ServiceError(_("A display name is required."))
    refuse_bidi(display_name, _("display name"))
    _check_role(role, city)
    if find_by_email(email) is not None:
        raise Conflict(_("A user with this e-mail address already exists."))
    user = User(email=email, display_name=display_name, role=role, city=city)
    db.session.add(user)
    db.session.flush()
    return user


def create_user(
    email: str, display_name: str, role: str, *, city: City | None = None, password: str | None = None,
    actor: User | None = None,
) -> User:
    """Create an account directly (CLI and demo). Without a password the user must be invited."""
    if password is not None:
        check_password_policy(password)
    user = _new_user(email, display_name, role, city)
    if password is not None:
        user.password_hash = hash_password(password)
    audit.record("user.created", user, actor, email=user.email, role=role, city=city.slug if city else None)
    transactions.commit()
    return user


def _queue_invitation(user: User, actor: User | None) -> None:
    token = links.issue(user, LinkPurpose.INVITATION)
    db.session.flush()
    outbox.queue_email(
        f"invitation:{user.id}:{utcnow().timestamp():.6f}",
        user.email,
        "invitation",
        display_name=user.display_name,
        city_name=user.city.name if user.city else "",
        inviter=actor.display_name if actor else "The secretariat",
        secret_url=f"{current_app.config['PUBLIC_URL']}/invitation/{token}",
        days=current_app.config["INVITATION_MAX_AGE"].days,
    )


def invite(email: str, display_name: str, role: str, *, city: City | None, actor: User | None) -> User:
    """Create an account without a password and e-mail a 7-day single-use invitation link."""
    user = _new_user(email, display_name, role, city)
    _queue_invitation(user, actor)
    audit.record("user.invited", user, actor, email=user.email, role=role, city=city.slug if city else None)
    transactions.commit()
    return user


def resend_invitation(user: User, actor: User | None) -> None:
    if user.has_password:
        raise Conflict(_("This person has already accepted the invitation."))
    if not user.active:
        raise Conflict(_("This account is deactivated; reactivate it first."))
    _queue_invitation(user, actor)
    audit.record("user.invitation_resent", user, actor)
    transactions.commit()


def _set_password_by_link(token: str, purpose: LinkPurpose, password: str, action: str) -> User:
    """Use a single-use link to set a password; every other session is logged out."""
    link = links.resolve(token, purpose)
    check_password_policy(password)
    user = link.user
    link.used_at = utcnow()
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    sessions.end_all(user, action.removeprefix("user."))
    audit.record(action, user, user)
    transactions.commit()
    return user


def accept_invitation(token: str, password: str) -> User:
    return _set_password_by_link(token, LinkPurpose.INVITATION, password, "user.invitation_accepted")


def request_password_reset(email: str) -> list[transactions.AfterCommit]:
    """Queue the same outbox task whatever the address; the task sends a link if it belongs to an account.

    Both paths do the same work here (one task row, one commit), so how long the answer takes does not
    tell whether an account exists. In the embedded default the task would run in this process right
    after the commit: that work is returned, for the caller to run once the answer is sent (``[]`` in
    celery mode, where a worker runs the task).
    """
    try:
        normalised = normalise_email(email)
    except ServiceError:
        return []
    request_id = secrets.token_hex(16)
    outbox.queue_task(f"password_reset:{request_id}", RESET_TASK, email=normalised, request_id=request_id)
    return transactions.commit(defer=current_app.config["TASK_MODE"] == "inline")


def send_password_reset(email: str, request_id: str = "") -> None:
    """The outbox task: e-mail a reset link if ``email`` belongs to an active account with a password.

    Idempotent: the e-mail's dedupe key is the request's, so a task run again (a worker that died after
    sending) sends nothing more. Tasks queued before ``request_id`` existed fall back to the time.
    """
    user = find_by_email(email)
    if user is None or not user.active or not user.has_password:
        return
    token = links.issue(user, LinkPurpose.PASSWORD_RESET)
    outbox.queue_email(
        f"password_reset:{request_id or f'{utcnow().timestamp():.6f}'}:user{user.id}",
        user.email,
        "password_reset",
        display_name=user.display_name,
        secret_url=f"{current_app.config['PUBLIC_URL']}/reset/{token}",
        hours=int(current_app.config["PASSWORD_RESET_MAX_AGE"].total_seconds() // 3600),
    )
    audit.record("user.password_reset_requested", user, None)
    transactions.commit()


def init_app(app: Flask) -> None:
    outbox.register_task(app, RESET_TASK, send_password_reset)


def reset_password(token: str, password: str) -> User:
    return _set_password_by_link(token, LinkPurpose.PASSWORD_RESET, password, "user.password_reset")


def authenticate(email: str, password: str, *, address: str | None = None) -> User | None:
    """Return the user for a correct e-mail and password, else None (same cost and answer either way).

    Raises ``TooManyAttempts`` (429) while the account must wait (``services.throttle``): checked before
    the password, so a waiting account learns nothing, and the same for an address with no account.
    """
    subject = email.strip().lower() if email and len(email) <= 254 else ""
    throttle.check(subject)
    user = find_by_email(subject) if subject else None
    ok = verify_password(user.password_hash if user else None, password[:256])
    if user is None or not ok or not user.active:
        throttle.failed(subject, user if user is not None and user.active else None)
        # Recorded for unknown addresses too (without the address typed), so both paths write the same.
        audit.record("user.login_failed", user if user is not None else _NoAccount(), None, address=address)
        transactions.commit()
        return None
    throttle.succeeded(subject)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        transactions.commit(keep=[user])
    return user


class _NoAccount:
    """The audited object of a failed log-in with an address that belongs to no account."""

    __tablename__ = "users"
    id = ""


def record_login(user: User, *, user_agent: str, address: str | None, method: str = "password") -> str:
    """A completed log-in: note it, audit it, start a server-side session; returns the session's id."""
    user.last_login_at = utcnow()
    raw_id = sessions.start(user, user_agent=user_agent, address=address)
    audit.record("user.login", user, user, method=method, address=address)
    transactions.commit(keep=[user])
    return raw_id


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise ServiceError(_("The current password is not correct."))
    check_password_policy(new)
    user.password_hash = hash_password(new)
    user.session_epoch += 1
    sessions.end_all(user, "password_changed")
    audit.record("user.password_changed", user, user)
    transactions.commit()


def set_active(user: User, active: bool, actor: User) -> None:
    if user.id == actor.id:
        raise Conflict(_("You cannot deactivate your own account."))
    if user.active == active:
        return
    user.active = active
    user.session_epoch += 1
    sessions.end_all(user, "deactivated" if not active else "reactivated")
    audit.record("user.reactivated" if active else "user.deactivated", user, actor)
    transactions.commit()


def update_profile(user: User, display_name: str, actor: User) -> None:
    display_name = display_name.strip()
    if not display_name:
        raise ServiceError(_("A display name is required."))
    refuse_bidi(display_name, _("display name"))
    if display_name != user.display_name:
        audit.record("user.updated", user, actor, display_name=[user.display_name, display_name])
        user.display_name = display_name
    transactions.commit()
