"""Whether an account has a second factor, and whether it must have one.

A second factor is a confirmed TOTP secret or at least one passkey. Secretariat accounts must have
one when ``REQUIRE_2FA_FOR_SECRETARIAT`` is on (the default in production).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Passkey, Role, TotpSecret, User


def has_totp(user: User) -> bool:
    return db.session.scalar(
        select(TotpSecret.id).where(TotpSecret.user_id == user.id, TotpSecret.confirmed_at.is_not(None))
    ) is not None


def passkey_count(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)) or 0


def has_second_factor(user: User) -> bool:
    return has_totp(user) or passkey_count(user) > 0


def required_for(user: User) -> bool:
    """True if this account may not be without a second factor."""
    return bool(current_app.config.get("REQUIRE_2FA_FOR_SECRETARIAT")) and user.role == Role.SECRETARIAT


def must_enrol(user: User) -> bool:
    """True if the account must enrol a second factor before doing anything else."""
    return required_for(user) and not has_second_factor(user)
