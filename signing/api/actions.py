"""Enrolling a key, signing and withdrawing: one path for the API (bearer token) and the signing pages (session).

Each function takes the caller and the validated body (``schemas``), decodes it (``intake``), loads what the URL
names (``lookup.named``), lets the service decide (``services.keys``, ``services.signatures``: the one check of
who may do it) and returns the response body (``present``). The views of ``views_keys``, ``views_signing`` and
``browser`` only say who the caller is.
"""

from __future__ import annotations

from flask import current_app

from ..models import PayloadKind, User
from ..services import keys, signatures
from . import intake, lookup, present, schemas


def enrol_rate_limit() -> str:
    """Key enrolments per client address, on both paths; apart from the log-in's limit, since many delegates
    may enrol from one office (the password re-check is throttled per account in ``keys.enrol``)."""
    return str(current_app.config["KEY_ENROL_RATE_LIMIT"])


def enrol_key(user: User, body: schemas.KeyCreate, origin: str) -> schemas.KeyOut:
    record = keys.enrol(user, body.public_key, body.label, body.password, origin=origin)
    return present.key(record)


_ISSUERS = {
    PayloadKind.SIGNATURE: signatures.issue_signature_payload,
    PayloadKind.WITHDRAWAL: signatures.issue_withdrawal_payload,
}


def issue_payload(user: User, slug: str, body: schemas.PayloadRequest, kind: PayloadKind) -> schemas.IssuedPayloadOut:
    """The statement to sign: a signature of the open revision, or the withdrawal of the city's signature."""
    declaration = lookup.named(slug)
    issued = _ISSUERS[kind](declaration, user, intake.fingerprint(body.key_fingerprint))
    return present.issued(issued)


def sign(user: User, slug: str, body: schemas.SignedPayload) -> schemas.SignatureReceipt:
    declaration = lookup.named(slug)
    data, signature = intake.signed(body)
    return present.signature_receipt(signatures.submit_signature(declaration, user, data, signature))


def withdraw(user: User, slug: str, body: schemas.SignedPayload) -> schemas.WithdrawalReceipt:
    declaration = lookup.named(slug)
    data, signature = intake.signed(body)
    return present.withdrawal_receipt(signatures.submit_withdrawal(declaration, user, data, signature))
