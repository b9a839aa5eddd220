"""Accounts: creating users, invitations, passwords, logins, deactivation."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import City, LinkPurpose, Role, User, utcnow
from . import Conflict, ServiceError, audit, links, outbox, transactions
from .passwords import check_password_policy, hash_password, needs_rehash, verify_password


def normalise_email(raw: str) -> str:
    """Validate the syntax and return the lower-cased address (no DNS look-up)."""
    candidate = (raw or "").strip()
    if len(candidate) > 254:
        raise ServiceError("The e-mail address is too long (254 characters at most).")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ServiceError(f"That is not a valid e-mail address: {exc}") from exc
    return result.normalized.lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def _check_role(role: str, city: City | None) -> None:
    if role not in {r.value for r in Role}:
        raise ServiceError(f"Unknown role {role!r}.")
    if role == Role.DELEGATE and city is None:
        raise ServiceError("A delegate must belong to a city.")
    if role != Role.DELEGATE and city is not None:
        raise ServiceError("Only delegates belong to a city.")


def _new_user(email: str, display_name: str, role: str, city: City | None) -> User:
    email = normalise_email(email)
    display_name = display_name.strip()
    if not display_name:
        raise ServiceError("A display name is required.")
    _check_role(role, city)
    if find_by_email(email) is not None:
        raise Conflict("A user with this e-mail address already exists.")
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
        raise Conflict("This person has already accepted the invitation.")
    if not user.active:
        raise Conflict("This account is deactivated; reactivate it first.")
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
    audit.record(action, user, user)
    transactions.commit()
    return user


def accept_invitation(token: str, password: str) -> User:
    return _set_password_by_link(token, LinkPurpose.INVITATION, password, "user.invitation_accepted")


def request_password_reset(email: str) -> None:
    """Queue a reset e-mail if the address belongs to an active account; silent otherwise."""
    try:
        normalised = normalise_email(email)
    except ServiceError:
        return
    user = find_by_email(normalised)
    if user is None or not user.active or not user.has_password:
        return
    token = links.issue(user, LinkPurpose.PASSWORD_RESET)
    outbox.queue_email(
        f"password_reset:{user.id}:{utcnow().timestamp():.6f}",
        user.email,
        "password_reset",
        display_name=user.display_name,
        secret_url=f"{current_app.config['PUBLIC_URL']}/reset/{token}",
        hours=int(current_app.config["PASSWORD_RESET_MAX_AGE"].total_seconds() // 3600),
    )
    audit.record("user.password_reset_requested", user, None)
    transactions.commit()


def reset_password(token: str, password: str) -> User:
    return _set_password_by_link(token, LinkPurpose.PASSWORD_RESET, password, "user.password_reset")


def authenticate(email: str, password: str) -> User | None:
    """Return the user for a correct e-mail and password, else None (same cost either way)."""
    user = find_by_email(email) if email and len(email) <= 254 else None
    ok = verify_password(user.password_hash if user else None, password[:256])
    if user is None or not ok or not user.active:
        return None
    return user


def refresh_password_hash(user: User, password: str) -> None:
    """Re-hash a just-verified password if the hashing parameters changed."""
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        transactions.commit()


def record_login(user: User, password: str | None, *, method: str = "password") -> None:
    """Note a completed login. ``password``: the one just verified (None when it was checked earlier or not used)."""
    user.last_login_at = utcnow()
    if password is not None and user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if method == "password":
        audit.record("user.login", user, user)
    else:
        audit.record("user.login", user, user, method=method)
    transactions.commit()


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise ServiceError("The current password is not correct.")
    check_password_policy(new)
    user.password_hash = hash_password(new)
    user.session_epoch += 1
    audit.record("user.password_changed", user, user)
    transactions.commit()


def set_active(user: User, active: bool, actor: User) -> None:
    if user.id == actor.id:
        raise Conflict("You cannot deactivate your own account.")
    if user.active == active:
        return
    user.active = active
    user.session_epoch += 1
    audit.record("user.reactivated" if active else "user.deactivated", user, actor)
    transactions.commit()


def update_profile(user: User, display_name: str, actor: User) -> None:
    display_name = display_name.strip()
    if not display_name:
        raise ServiceError("A display name is required.")
    if display_name != user.display_name:
        audit.record("user.updated", user, actor, display_name=[user.display_name, display_name])
        user.display_name = display_name
    transactions.commit()
