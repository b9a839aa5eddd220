"""Signing and withdrawing: the server issues exact bytes, the delegate signs them offline and posts them back."""

from __future__ import annotations

from ..core.payload import SIGNATURE_BYTES
from ..services import signatures
from ..services.workflow import Action
from . import lookup, present, schemas
from .bearer import current_user
from .core import bp, endpoint

MAX_PAYLOAD_BYTES = 16 * 1024


def _signed(json: schemas.SignedPayload) -> tuple[bytes, bytes]:
    data = lookup.decode(json.payload, "payload")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise signatures.SignatureRejected("The payload is larger than any payload this server issues.")
    return data, lookup.decode(json.signature, "signature", SIGNATURE_BYTES)


@bp.post("/declarations/<slug>/signing-payload")
@endpoint(schemas.IssuedPayloadOut, status=201, errors=(400, 403, 404, 409), tag="signing")
def signing_payload(slug: str, json: schemas.PayloadRequest) -> tuple[schemas.IssuedPayloadOut, int]:
    """Issue the exact bytes to sign with one of your keys (single use; expires after a few minutes)."""
    declaration = lookup.declaration(slug, Action.SIGN)
    issued = signatures.issue_signature_payload(declaration, current_user(), lookup.fingerprint(json.key_fingerprint))
    return present.issued(issued), 201


@bp.post("/declarations/<slug>/signatures")
@endpoint(schemas.SignatureReceipt, status=201, errors=(400, 403, 404, 409), tag="signing")
def sign(slug: str, json: schemas.SignedPayload) -> tuple[schemas.SignatureReceipt, int]:
    """Submit the issued payload and your Ed25519 signature over it. A city signs a revision once (409)."""
    declaration = lookup.declaration(slug, Action.SIGN)
    data, signature = _signed(json)
    record = signatures.submit_signature(declaration, current_user(), data, signature)
    return present.signature_receipt(record), 201


@bp.post("/declarations/<slug>/withdrawal-payload")
@endpoint(schemas.IssuedPayloadOut, status=201, errors=(400, 403, 404, 409), tag="signing")
def withdrawal_payload(slug: str, json: schemas.PayloadRequest) -> tuple[schemas.IssuedPayloadOut, int]:
    """Issue a withdrawal statement for your city's standing signature, to sign like a payload."""
    declaration = lookup.declaration(slug, Action.WITHDRAW)
    issued = signatures.issue_withdrawal_payload(declaration, current_user(),
                                                 lookup.fingerprint(json.key_fingerprint))
    return present.issued(issued), 201


@bp.post("/declarations/<slug>/withdrawals")
@endpoint(schemas.WithdrawalReceipt, status=201, errors=(400, 403, 404, 409), tag="signing")
def withdraw(slug: str, json: schemas.SignedPayload) -> tuple[schemas.WithdrawalReceipt, int]:
    """Submit the signed withdrawal statement; the signature is then shown as withdrawn."""
    declaration = lookup.declaration(slug, Action.WITHDRAW)
    data, signature = _signed(json)
    record = signatures.submit_withdrawal(declaration, current_user(), data, signature)
    return present.withdrawal_receipt(record), 201


@bp.get("/declarations/<slug>/signatures")
@endpoint(schemas.SignatureList, errors=(403, 404), tag="signing")
def list_signatures(slug: str) -> schemas.SignatureList:
    """Every signature on the declaration (valid, withdrawn or void), with what is needed to verify it."""
    return present.signature_list(lookup.declaration(slug))
