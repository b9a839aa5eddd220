"""TOTP second factor (RFC 6238, 30-second steps, 6 digits) and its single-use recovery codes.

A code is accepted once: the time step of the last accepted code is stored, and that step and every
earlier one are refused afterwards (written with a conditional UPDATE, so two requests racing with the
same code cannot both win). One step of clock skew either way is allowed. Recovery codes carry 80 bits
of randomness, so their SHA-256 is enough to store them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import RecoveryCode, TotpSecret, User, utcnow
from . import Conflict, ServiceError, audit, second_factor, transactions
from .passwords import verify_password

ISSUER = "Accord"
SKEW_STEPS = 1
RECOVERY_CODE_COUNT = 10
WRONG_CODE = _l("That code is not right. Check the time on your device and enter the newest code.")


def _row(user: User) -> TotpSecret | None:
    return db.session.scalar(select(TotpSecret).where(TotpSecret.user_id == user.id))


def pending(user: User) -> TotpSecret | None:
    """The secret being enrolled (shown, not yet confirmed by a first code), if any."""
    row = _row(user)
    return row if row is not None and row.confirmed_at is None else None


def provisioning_uri(user: User, row: TotpSecret) -> str:
    return pyotp.TOTP(row.secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """An SVG QR code as a ``data:`` URI (an <img> source: no script, allowed by the CSP)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def begin_enrolment(user: User) -> TotpSecret:
    """Make a new secret for ``user`` (replacing an unconfirmed one); it counts once a code confirms it."""
    row = _row(user)
    if row is not None and row.confirmed_at is not None:
        raise Conflict(_("An authenticator app is already set up. Turn it off first to set up another."))
    if row is not None:
        db.session.delete(row)
        db.session.flush()
    row = TotpSecret(user_id=user.id, secret=pyotp.random_base32())
    db.session.add(row)
    transactions.commit(keep=(row,))
    return row


def _clean_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()[:64]


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept(row: TotpSecret, code: str, now: datetime | None) -> bool:
    """Accept ``code`` if it is right and newer than the last one accepted; records its step."""
    step = _matching_step(row.secret, _clean_code(code), now or utcnow())
    if step is None:
        return False
    result = db.session.execute(
        update(TotpSecret)
        .where(TotpSecret.id == row.id)
        .where((TotpSecret.last_used_step.is_(None)) | (TotpSecret.last_used_step < step))
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _code_hash(code: str) -> str:
    return hashlib.sha256(_clean_code(code).encode("ascii", "replace")).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _index in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()  # 80 bits, 16 characters
        code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        codes.append(code)
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(code)))
    return codes


def confirm_enrolment(user: User, code: str, *, now: datetime | None = None) -> list[str]:
    """Turn the pending secret on with a first code; returns the recovery codes (shown this once)."""
    row = pending(user)
    if row is None:
        raise Conflict(_("There is no authenticator app being set up. Start again."))
    if not _accept(row, code, now):
        raise ServiceError(WRONG_CODE)
    row.confirmed_at = utcnow()
    codes = _new_recovery_codes(user)
    audit.record("user.second_factor_enrolled", user, user, method="totp")
    transactions.commit()
    return codes


def remaining_recovery_codes(user: User) -> int:
    return len(list(db.session.scalars(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )))


def _use_recovery_code(user: User, code: str) -> bool:
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _code_hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def check_login_code(user: User, code: str, *, now: datetime | None = None) -> str | None:
    """At login: accept a TOTP code or an unused recovery code. Returns which ("totp", "recovery_code") or None.

    A failure is recorded in the audit log; either way the transaction is committed. Refused outright
    (``ServiceError``, 429) while the account has had too many failures lately.
    """
    second_factor.check_not_locked_out(user)
    row = _row(user)
    method: str | None = None
    if row is not None and row.confirmed_at is not None:
        if _accept(row, code, now):
            method = "totp"
        elif _use_recovery_code(user, code):
            method = "recovery_code"
            audit.record("user.recovery_code_used", user, user)
    if method is None:
        audit.record(second_factor.FAILED, user, user, method="code")
    transactions.commit()
    return method


def renew_recovery_codes(user: User, password: str, code: str, *, now: datetime | None = None) -> list[str]:
    """Replace the recovery codes (the old ones stop working); needs the password and a current code."""
    row = _row(user)
    if row is None or row.confirmed_at is None:
        raise Conflict(_("No authenticator app is set up."))
    if not verify_password(user.password_hash, password[:256]):
        raise ServiceError(_("The password is not correct."))
    second_factor.check_not_locked_out(user)
    if not _accept(row, code, now):
        audit.record(second_factor.FAILED, user, user, method="code", purpose="recovery_codes")
        transactions.commit()
        raise ServiceError(WRONG_CODE)
    codes = _new_recovery_codes(user)
    audit.record("user.recovery_codes_renewed", user, user)
    transactions.commit()
    return codes


def disable(user: User, password: str, code: str, *, now: datetime | None = None) -> None:
    """Turn TOTP off: needs the password and a current code (a recovery code does not do)."""
    row = _row(user)
    if row is None or row.confirmed_at is None:
        raise Conflict(_("No authenticator app is set up."))
    if not verify_password(user.password_hash, password[:256]):
        raise ServiceError(_("The password is not correct."))
    second_factor.check_not_locked_out(user)
    if second_factor.required_for(user) and second_factor.passkey_count(user) == 0:
        raise Conflict(_("Secretariat accounts must keep a second factor: add a passkey before turning this off."))
    if not _accept(row, code, now):
        audit.record(second_factor.FAILED, user, user, method="code", purpose="disable")
        transactions.commit()
        raise ServiceError(WRONG_CODE)
    db.session.delete(row)
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record("user.second_factor_removed", user, user, method="totp")
    transactions.commit()
