"""Passkeys (WebAuthn): registering, listing, removing, and logging in with them.

Every ceremony starts with a challenge kept in ``webauthn_challenges``: 32 random bytes, for one
purpose (and one account, unless it is a passwordless login), single use and short-lived. The relying
party ID and the expected origin come from ``PUBLIC_URL``. A credential is found by its id and must
belong to the account being logged in; a sign count that is non-zero and does not grow is refused
(synced passkeys that always say 0 are fine).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import Passkey, User, WebAuthnChallenge, utcnow
from . import Conflict, NotFound, ServiceError, audit, second_factor, transactions
from .passwords import verify_password

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

# py_webauthn (with pyOpenSSL, pyasn1 and cbor2: some 7 MB in every process) is imported by the ceremonies
# that use it, not with this module.

REGISTER = "register"
AUTHENTICATE = "authenticate"
MAX_NAME = 120
MAX_PASSKEYS = 20
RP_NAME = "Accord"
CHALLENGE_GONE = _l("This passkey request has expired or was already used. Try again.")
REFUSED = _l("That passkey was not accepted.")


def rp_id() -> str:
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"


def expected_origin() -> str:
    parts = urlsplit(current_app.config["PUBLIC_URL"])
    return f"{parts.scheme}://{parts.netloc}"


def _user_handle(user: User) -> bytes:
    """The WebAuthn user handle: opaque (no e-mail or row id in it), the same for all the user's passkeys."""
    existing = db.session.scalar(select(Passkey.user_handle).where(Passkey.user_id == user.id).limit(1))
    if existing is not None:
        return bytes(existing)
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"webauthn-user-handle:{user.id}".encode(), hashlib.sha256).digest()


def _new_challenge(purpose: str, user: User | None) -> WebAuthnChallenge:
    now = utcnow()
    db.session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < now))
    row = WebAuthnChallenge(challenge=secrets.token_bytes(32), purpose=purpose, user_id=user.id if user else None,
                            expires_at=now + current_app.config["WEBAUTHN_CHALLENGE_TTL"])
    db.session.add(row)
    db.session.flush()
    return row


def _consume_challenge(challenge_id: int, purpose: str, user: User | None) -> bytes:
    """Mark the challenge used (once: a conditional UPDATE) and return it; refuse a used or expired one."""
    owner = WebAuthnChallenge.user_id.is_(None) if user is None else WebAuthnChallenge.user_id == user.id
    result = db.session.execute(
        update(WebAuthnChallenge)
        .where(WebAuthnChallenge.id == challenge_id, WebAuthnChallenge.purpose == purpose, owner,
               WebAuthnChallenge.used_at.is_(None), WebAuthnChallenge.expires_at > utcnow())
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise ServiceError(CHALLENGE_GONE, code="challenge_gone")
    challenge = db.session.scalar(select(WebAuthnChallenge.challenge).where(WebAuthnChallenge.id == challenge_id))
    return bytes(challenge or b"")


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    return [PublicKeyCredentialDescriptor(id=bytes(p.credential_id)) for p in list_for(user)]


def registration_options(user: User) -> tuple[int, str]:
    """Start registering a passkey: (challenge id, options as JSON for the browser)."""
    if second_factor.passkey_count(user) >= MAX_PASSKEYS:
        raise Conflict(_("You have %(MAX_PASSKEYS)s passkeys already; remove one first.",
                         MAX_PASSKEYS=MAX_PASSKEYS))
    import webauthn
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    challenge = _new_challenge(REGISTER, user)
    options = webauthn.generate_registration_options(
        rp_id=rp_id(), rp_name=RP_NAME, user_name=user.email, user_id=_user_handle(user),
        user_display_name=user.display_name, challenge=challenge.challenge, timeout=120_000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, require_resident_key=True,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    challenge_id = challenge.id
    transactions.commit()
    return challenge_id, webauthn.options_to_json(options)


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ServiceError(_("Give the passkey a name, such as the device or password manager that keeps it."))
    if len(name) > MAX_NAME:
        raise ServiceError(_("The passkey name is too long (%(MAX_NAME)s characters at most).",
                             MAX_NAME=MAX_NAME))
    if any(ch == "\ufffd" or unicodedata.category(ch) in {"Cc", "Cs"} for ch in name):
        raise ServiceError(_("The passkey name contains characters that are not allowed."))
    return name


def register(user: User, challenge_id: int, name: str, credential: dict[str, Any]) -> Passkey:
    """Check the browser's answer to the registration challenge and keep the new passkey."""
    import webauthn
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import AuthenticatorTransport

    clean = _clean_name(name)
    expected = _consume_challenge(challenge_id, REGISTER, user)
    transactions.commit()  # the challenge is spent whatever happens next
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=expected, expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise ServiceError(_("The passkey could not be registered: %(exc)s", exc=exc), code="passkey_refused") from exc
    if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == verified.credential_id)) is not None:
        raise Conflict(_("This passkey is registered already."))
    response = credential.get("response")
    transports = response.get("transports") if isinstance(response, dict) else None
    known = {t.value for t in AuthenticatorTransport}
    passkey = Passkey(
        user_id=user.id, name=clean, credential_id=verified.credential_id,
        public_key=verified.credential_public_key, user_handle=_user_handle(user), sign_count=verified.sign_count,
        transports=",".join(t for t in (transports if isinstance(transports, list) else [])
                            if isinstance(t, str) and t in known)[:200],
    )
    db.session.add(passkey)
    db.session.flush()
    audit.record("passkey.added", passkey, user, user=user.id, name=clean)
    transactions.commit(keep=(passkey,))
    return passkey


def authentication_options(user: User | None) -> tuple[int, str]:
    """Start a login with a passkey: for ``user`` (second factor) or anyone (passwordless, UV required)."""
    import webauthn
    from webauthn.helpers.structs import UserVerificationRequirement

    challenge = _new_challenge(AUTHENTICATE, user)
    options = webauthn.generate_authentication_options(
        rp_id=rp_id(), challenge=challenge.challenge, timeout=120_000,
        allow_credentials=_descriptors(user) if user is not None else [],
        user_verification=(UserVerificationRequirement.PREFERRED if user is not None
                           else UserVerificationRequirement.REQUIRED),
    )
    challenge_id = challenge.id
    transactions.commit()
    return challenge_id, webauthn.options_to_json(options)


def _refuse(user: User | None, reason: str) -> ServiceError:
    """Record a failed attempt against a known account, commit, and return the error to raise."""
    if user is not None:
        audit.record(second_factor.FAILED, user, user, method="passkey", reason=reason)
    transactions.commit()
    return ServiceError(REFUSED, status=401, code="passkey_refused")


def authenticate(challenge_id: int, credential: dict[str, Any], user: User | None) -> User:
    """Check a passkey assertion; returns its account. ``user``: the account that gave its password, if any."""
    import webauthn
    from webauthn.helpers import parse_authentication_credential_json
    from webauthn.helpers.exceptions import WebAuthnException

    if user is not None:
        second_factor.check_not_locked_out(user)
    expected = _consume_challenge(challenge_id, AUTHENTICATE, user)
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise _refuse(user, f"unreadable: {exc}") from exc
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == parsed.raw_id))
    if passkey is None:
        raise _refuse(user, "unknown credential")
    if user is not None and passkey.user_id != user.id:
        raise _refuse(user, "credential of another account")
    owner: User = passkey.user
    handle = parsed.response.user_handle
    if user is None and handle is not None and not hmac.compare_digest(handle, bytes(passkey.user_handle)):
        raise _refuse(owner, "user handle does not match")
    if not owner.active:
        raise _refuse(None, "inactive account")
    try:
        verified = webauthn.verify_authentication_response(
            credential=parsed, expected_challenge=expected, expected_rp_id=rp_id(),
            expected_origin=expected_origin(), credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count, require_user_verification=user is None,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise _refuse(owner, str(exc)[:200]) from exc
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    transactions.commit(keep=(owner,))
    return owner


def list_for(user: User) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)))


def remove(user: User, passkey_id: int, password: str) -> str:
    """Remove one of the user's passkeys (the password is asked again); returns its name."""
    passkey = db.session.get(Passkey, passkey_id) if 0 < passkey_id < 2**31 else None
    if passkey is None or passkey.user_id != user.id:
        raise NotFound(_("You have no passkey with that number."))
    if not verify_password(user.password_hash, password[:256]):
        raise ServiceError(_("The password is not correct."))
    if second_factor.required_for(user) and not second_factor.has_totp(user) and second_factor.passkey_count(user) == 1:
        raise Conflict(_("Secretariat accounts must keep a second factor: set up another one before removing this."))
    name = passkey.name
    audit.record("passkey.removed", passkey, user, user=user.id, name=name)
    db.session.delete(passkey)
    transactions.commit()
    return name
