"""Signing and withdrawing: the server issues exact bytes, the delegate signs them offline and posts them back."""

from __future__ import annotations

from ..models import PayloadKind
from . import actions, lookup, present, schemas
from .bearer import current_user
from .core import bp, endpoint


@bp.post("/declarations/<slug>/signing-payload")
@endpoint(schemas.IssuedPayloadOut, status=201, errors=(400, 403, 404, 409), tag="signing")
def signing_payload(slug: str, json: schemas.PayloadRequest) -> tuple[schemas.IssuedPayloadOut, int]:
    """Issue the exact bytes to sign with one of your keys (single use; expires after a few minutes)."""
    return actions.issue_payload(current_user(), slug, json, PayloadKind.SIGNATURE), 201


@bp.post("/declarations/<slug>/signatures")
@endpoint(schemas.SignatureReceipt, status=201, errors=(400, 403, 404, 409), tag="signing")
def sign(slug: str, json: schemas.SignedPayload) -> tuple[schemas.SignatureReceipt, int]:
    """Submit the issued payload and your Ed25519 signature over it. A city signs a revision once (409)."""
    return actions.sign(current_user(), slug, json), 201


@bp.post("/declarations/<slug>/withdrawal-payload")
@endpoint(schemas.IssuedPayloadOut, status=201, errors=(400, 403, 404, 409), tag="signing")
def withdrawal_payload(slug: str, json: schemas.PayloadRequest) -> tuple[schemas.IssuedPayloadOut, int]:
    """Issue a withdrawal statement for your city's standing signature, to sign like a payload."""
    return actions.issue_payload(current_user(), slug, json, PayloadKind.WITHDRAWAL), 201


@bp.post("/declarations/<slug>/withdrawals")
@endpoint(schemas.WithdrawalReceipt, status=201, errors=(400, 403, 404, 409), tag="signing")
def withdraw(slug: str, json: schemas.SignedPayload) -> tuple[schemas.WithdrawalReceipt, int]:
    """Submit the signed withdrawal statement; the signature is then shown as withdrawn."""
    return actions.withdraw(current_user(), slug, json), 201


@bp.get("/declarations/<slug>/signatures")
@endpoint(schemas.SignatureList, errors=(403, 404), tag="signing")
def list_signatures(slug: str) -> schemas.SignatureList:
    """Every signature on the declaration (valid, withdrawn or void), with what is needed to verify it."""
    return present.signature_list(lookup.declaration(slug))
