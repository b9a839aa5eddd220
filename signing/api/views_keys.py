"""Delegates' Ed25519 public keys: enrol, list, revoke."""

from __future__ import annotations

from ..extensions import limiter
from ..services import keys
from . import actions, lookup, present, schemas
from .bearer import current_user
from .core import bp, endpoint


@bp.post("/keys")
@limiter.limit(actions.enrol_rate_limit)
@endpoint(schemas.KeyOut, status=201, errors=(400, 403, 409, 429), tag="keys")
def enrol_key(json: schemas.KeyCreate) -> tuple[schemas.KeyOut, int]:
    """Enrol a public key (delegates; the account password is checked again). The private key stays with you."""
    return actions.enrol_key(current_user(), json, json.origin), 201


@bp.get("/keys")
@endpoint(schemas.KeyList, errors=(400, 403, 404), tag="keys")
def list_keys(query: schemas.KeyQuery) -> schemas.KeyList:
    """Your keys; the secretariat sees everyone's, or one user's with `?user=ID`."""
    return present.key_list(lookup.keys_visible_to(current_user(), query.user))


@bp.post("/keys/<fingerprint>/revoke")
@endpoint(schemas.KeyOut, errors=(403, 404, 409), tag="keys")
def revoke_key(fingerprint: str) -> schemas.KeyOut:
    """Revoke a key (its owner or the secretariat). Signatures made with it stay valid."""
    record = lookup.key(fingerprint)
    keys.revoke(record, current_user())
    return present.key(record)
