"""Tampered, replayed, expired and misdirected signatures are refused by the services, and store nothing.

Every refusal must be a 4xx ``ServiceError`` and leave no ``Signature`` row. Most
forgeries below are *validly signed* by the delegate's own key: what the server must
check is not only the signature but that the bytes are exactly a payload it issued, to
this person, for this declaration, still open, unused and unexpired.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from tests.conftest import BACKENDS
from tests.crypto.conftest import Scene, enrol, open_declaration, refused, signature_count


def issue(scene: Scene, who: str = "izmir", declaration: Any = None) -> bytes:
    from signing.services import signatures

    signer = getattr(scene, who)
    issued = signatures.issue_signature_payload(declaration or scene.declaration, signer.user, signer.fingerprint)
    return bytes(issued.payload)


def submit(scene: Scene, data: bytes, signature: bytes, who: str = "izmir", declaration: Any = None) -> Any:
    from signing.services import signatures

    return signatures.submit_signature(declaration or scene.declaration, getattr(scene, who).user, data, signature)


def altered_fields(scene: Scene, fields: dict[str, Any]) -> dict[str, Any]:
    """For every payload field, a plausible other value an attacker might want there."""
    from signing.core import payload as payloads
    from signing.services import declarations

    revision_1 = declarations.get_revision(scene.declaration, 1)
    athens = scene.athens
    flipped_hash = fields["text_sha256"][:-1] + ("0" if fields["text_sha256"][-1] != "0" else "1")
    changes = {
        "format": payloads.WITHDRAWAL_FORMAT,
        "issuer": "https://accord.evil.example",
        "declaration_slug": "other-declaration",
        "declaration_title": fields["declaration_title"] + " (as amended)",
        "revision": 1,
        "text_sha256": revision_1.sha256 if revision_1.sha256 != fields["text_sha256"] else flipped_hash,
        "city_slug": athens.user.city.slug,
        "city_name": athens.user.city.name,
        "signer_id": athens.user.id,
        "signer_name": athens.user.display_name,
        "key_fingerprint": athens.fingerprint,
        "issued_at": "2020-01-01T00:00:00Z",
        "expires_at": "2099-01-01T00:00:00Z",
        "nonce": "A" * 32,
        "statement": fields["statement"].replace("signs", "does not sign"),
    }
    assert set(changes) == set(payloads.SIGNATURE_FIELDS)
    return changes


@BACKENDS
def test_a_valid_signature_is_stored_with_the_exact_bytes(app: Flask, scene: Scene) -> None:
    from signing.core import payload as payloads
    from signing.models import SignatureStatus
    from signing.services import signatures

    data = issue(scene)
    fields = payloads.parse(data)
    assert fields["key_fingerprint"] == scene.izmir.fingerprint
    assert fields["city_slug"] == scene.izmir.user.city.slug
    assert fields["revision"] == 2 and fields["text_sha256"] == scene.declaration.open_revision.sha256
    signature = scene.izmir.sign(data)
    record = submit(scene, data, signature)
    assert record.status == SignatureStatus.VALID.value
    assert bytes(record.payload) == data and bytes(record.signature) == signature
    assert record.payload_sha256 == hashlib.sha256(data).hexdigest()
    assert payloads.verify(bytes(record.key.public_key), bytes(record.signature), bytes(record.payload))
    receipt = signatures.receipt(record)
    assert payloads.b64decode(str(receipt["payload_base64"]), "payload") == data
    assert receipt["key_fingerprint"] == payloads.fingerprint(scene.izmir.public)
    assert signature_count() == 1
    assert signature_count(status="valid", city_id=scene.izmir.user.city_id) == 1
    # A second attempt by the same city, even with a fresh payload, is refused at issue time.
    refused(lambda: issue(scene), status=409)


@BACKENDS
def test_every_changed_field_is_refused_even_when_validly_signed(app: Flask, scene: Scene) -> None:
    from signing.core import payload as payloads

    data = issue(scene)
    fields = json.loads(data)
    for name, value in altered_fields(scene, fields).items():
        assert fields[name] != value, name
        changed = dict(fields, **{name: value})
        variants = {"statement kept": payloads.canonical_json(changed)}
        if name != "statement":
            rebuilt = dict(changed, statement=payloads.statement(changed))
            variants["statement re-derived"] = payloads.canonical_json(rebuilt)
        for label, forged in variants.items():
            assert forged != data
            for signer in ("izmir", "athens"):
                signature = getattr(scene, signer).sign(forged)
                error = refused(lambda f=forged, s=signature: submit(scene, f, s))
                assert error.status in (400, 403, 409), (name, label, signer, error.message)
            # The original signature over the original bytes does not cover the forgery either.
            refused(lambda f=forged: submit(scene, f, scene.izmir.sign(data)))
        # Non-canonical spellings of the very same JSON are refused too.
    for spelling in (json.dumps(fields).encode(), json.dumps(fields, sort_keys=True).encode(),
                     json.dumps(fields, sort_keys=True, separators=(",", ":")).encode(),  # \u escapes
                     data + b"\n", b" " + data, data.replace(b'"revision":2', b'"revision":2.0')):
        assert spelling != data
        refused(lambda s=spelling: submit(scene, s, scene.izmir.sign(s)), status=400)
    assert signature_count() == 0
    # None of that consumed the genuine payload.
    submit(scene, data, scene.izmir.sign(data))
    assert signature_count() == 1


@BACKENDS
def test_bit_flips_in_payload_and_signature_are_refused(app: Flask, scene: Scene) -> None:
    data = issue(scene)
    signature = scene.izmir.sign(data)
    for index in range(len(data)):
        flipped = bytearray(data)
        flipped[index] ^= 1 << (index % 8)
        forged = bytes(flipped)
        refused(lambda f=forged: submit(scene, f, signature))
        refused(lambda f=forged: submit(scene, f, scene.izmir.sign(f)))
    for bit in range(len(signature) * 8):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        error = refused(lambda s=bytes(flipped): submit(scene, data, s), status=400)
        assert error.code == "signature_rejected"
    for bad in (b"", signature[:63], signature + b"\0", bytes(64)):
        refused(lambda s=bad: submit(scene, data, s), status=400)
    assert signature_count() == 0
    submit(scene, data, signature)
    assert signature_count() == 1


@BACKENDS
def test_a_public_key_one_bit_away_does_not_verify(app: Flask, scene: Scene) -> None:
    """The server holds a key that differs by one bit from the signer's: nothing verifies."""
    from signing.services import signatures

    real = scene.izmir.public
    for bit in (0, 13, 77, 128, 200, 254, 255):
        flipped = bytearray(real)
        flipped[bit // 8] ^= 1 << (bit % 8)
        _, row = enrol(scene.izmir.user, public=bytes(flipped), label=f"flipped {bit}")
        issued = signatures.issue_signature_payload(scene.declaration, scene.izmir.user, row.fingerprint)
        data = bytes(issued.payload)
        error = refused(lambda d=data: submit(scene, d, scene.izmir.sign(d)), status=400)
        assert error.code == "signature_rejected"
    assert signature_count() == 0


@BACKENDS
def test_payloads_of_another_city_revision_or_declaration_are_refused(app: Flask, scene: Scene) -> None:
    from signing.services import declarations

    # Another city's payload: neither its own nor the other delegate's signature makes it ours.
    athens_data = issue(scene, "athens")
    refused(lambda: submit(scene, athens_data, scene.athens.sign(athens_data)), status=400)
    refused(lambda: submit(scene, athens_data, scene.izmir.sign(athens_data)), status=400)
    izmir_data = issue(scene)
    refused(lambda: submit(scene, izmir_data, scene.izmir.sign(izmir_data), who="athens"), status=400)
    refused(lambda: submit(scene, izmir_data, scene.athens.sign(izmir_data), who="athens"), status=400)

    # Another declaration's payload, submitted to this one (and the other way round).
    other = open_declaration(scene.people, slug="other", title="Other declaration")
    other_data = issue(scene, declaration=other)
    refused(lambda: submit(scene, other_data, scene.izmir.sign(other_data)), status=400)
    refused(lambda: submit(scene, izmir_data, scene.izmir.sign(izmir_data), declaration=other), status=400)
    assert signature_count() == 0

    # Another revision: the payload was issued for revision 2; signing now runs on revision 3.
    declarations.return_to_consultation(scene.declaration, scene.secretariat, "One more change.")
    declarations.add_revision(scene.declaration, "A new text.\n", "r3", scene.secretariat)
    declarations.open_signing(scene.declaration, 3, scene.secretariat)
    refused(lambda: submit(scene, izmir_data, scene.izmir.sign(izmir_data)))
    assert signature_count() == 0
    fresh = issue(scene)
    submit(scene, fresh, scene.izmir.sign(fresh))
    assert signature_count(status="valid") == 1


@BACKENDS
def test_a_payload_is_used_once_even_after_withdrawal(app: Flask, scene: Scene) -> None:
    from signing.services import signatures

    data = issue(scene)
    signature = scene.izmir.sign(data)
    submit(scene, data, signature)
    refused(lambda: submit(scene, data, signature), status=409)
    withdrawal = signatures.issue_withdrawal_payload(scene.declaration, scene.izmir.user, scene.izmir.fingerprint)
    signatures.submit_withdrawal(scene.declaration, scene.izmir.user, bytes(withdrawal.payload),
                                 scene.izmir.sign(bytes(withdrawal.payload)))
    assert signature_count(status="valid") == 0
    # The city may sign again, but only with a new payload: the old one stays spent.
    refused(lambda: submit(scene, data, signature), status=409, code="payload_used")
    assert signature_count() == 1


@BACKENDS
def test_expired_payloads_are_refused(app: Flask, scene: Scene) -> None:
    from signing.extensions import db
    from signing.models import IssuedPayload, utcnow

    # Moved into the past in the database.
    data = issue(scene)
    row = db.session.query(IssuedPayload).filter_by(payload_sha256=hashlib.sha256(data).hexdigest()).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    refused(lambda: submit(scene, data, scene.izmir.sign(data)), status=400, code="payload_expired")
    # Issued with a lifetime of zero (SIGNING_PAYLOAD_TTL).
    app.config["SIGNING_PAYLOAD_TTL"] = timedelta(seconds=0)
    instant = issue(scene)
    refused(lambda: submit(scene, instant, scene.izmir.sign(instant)), status=400, code="payload_expired")
    assert signature_count() == 0
    app.config["SIGNING_PAYLOAD_TTL"] = timedelta(seconds=300)
    fresh = issue(scene)
    submit(scene, fresh, scene.izmir.sign(fresh))
    assert signature_count() == 1


@BACKENDS
def test_a_revoked_key_cannot_sign(app: Flask, scene: Scene) -> None:
    from signing.services import keys

    data = issue(scene)
    keys.revoke(scene.izmir.key, scene.izmir.user)
    refused(lambda: submit(scene, data, scene.izmir.sign(data)), status=409)
    refused(lambda: issue(scene), status=409)
    assert signature_count() == 0


@BACKENDS
def test_a_signature_by_someone_elses_key_is_refused(app: Flask, scene: Scene) -> None:
    from signing.services import signatures

    data = issue(scene)
    error = refused(lambda: submit(scene, data, scene.athens.sign(data)), status=400)
    assert error.code == "signature_rejected"
    stranger = Ed25519PrivateKey.generate()
    refused(lambda: submit(scene, data, stranger.sign(data)), status=400)
    # Nor may a delegate ask for a payload naming another delegate's key.
    refused(lambda: signatures.issue_signature_payload(scene.declaration, scene.izmir.user, scene.athens.fingerprint),
            status=403)
    assert signature_count() == 0


@BACKENDS
def test_withdrawal_flow(app: Flask, scene: Scene) -> None:
    from signing.core import payload as payloads
    from signing.extensions import db
    from signing.models import SignatureStatus, Withdrawal
    from signing.services import signatures

    izmir = scene.izmir
    refused(lambda: signatures.issue_withdrawal_payload(scene.declaration, izmir.user, izmir.fingerprint),
            status=409)  # nothing to withdraw yet
    data = issue(scene)
    record = submit(scene, data, izmir.sign(data))
    original_sha = record.payload_sha256

    withdrawal = bytes(signatures.issue_withdrawal_payload(scene.declaration, izmir.user, izmir.fingerprint).payload)
    fields = payloads.parse(withdrawal)
    assert fields["format"] == payloads.WITHDRAWAL_FORMAT
    assert fields["withdraws_payload_sha256"] == original_sha
    assert "withdraws the signature of" in fields["statement"]
    # The wrong kind, the wrong key, the other delegate: refused, and the signature stands.
    refused(lambda: submit(scene, withdrawal, izmir.sign(withdrawal)), status=400)
    refused(lambda: signatures.submit_withdrawal(scene.declaration, izmir.user, data, izmir.sign(data)), status=400)
    refused(lambda: signatures.submit_withdrawal(scene.declaration, izmir.user, withdrawal,
                                                 scene.athens.sign(withdrawal)), status=400)
    refused(lambda: signatures.submit_withdrawal(scene.declaration, scene.athens.user, withdrawal,
                                                 scene.athens.sign(withdrawal)), status=400)
    assert signature_count(status="valid") == 1

    signatures.submit_withdrawal(scene.declaration, izmir.user, withdrawal, izmir.sign(withdrawal))
    db.session.rollback()
    db.session.refresh(record)
    assert record.status == SignatureStatus.WITHDRAWN.value
    stored = db.session.query(Withdrawal).one()
    assert bytes(stored.payload) == withdrawal and stored.signature_id == record.id
    assert payloads.verify(izmir.public, bytes(stored.signature), withdrawal)
    # Replaying the withdrawal changes nothing more.
    refused(lambda: signatures.submit_withdrawal(scene.declaration, izmir.user, withdrawal, izmir.sign(withdrawal)),
            status=409)
    # The city signs again with a new payload.
    again = issue(scene)
    submit(scene, again, izmir.sign(again))
    assert signature_count() == 2
    assert signature_count(status="valid") == 1


@BACKENDS
def test_return_to_consultation_voids_signatures_and_unused_payloads(app: Flask, scene: Scene) -> None:
    from signing.services import declarations

    data = issue(scene)
    submit(scene, data, scene.izmir.sign(data))
    pending = issue(scene, "athens")
    declarations.return_to_consultation(scene.declaration, scene.secretariat, "A late objection.")
    assert signature_count(status="valid") == 0
    assert signature_count(status="void") == 1
    refused(lambda: submit(scene, pending, scene.athens.sign(pending), who="athens"))
    # Reopened on the same revision: old payloads stay dead, a new one works, the void signature stays void.
    declarations.open_signing(scene.declaration, 2, scene.secretariat)
    refused(lambda: submit(scene, pending, scene.athens.sign(pending), who="athens"), code="payload_expired")
    refused(lambda: submit(scene, data, scene.izmir.sign(data)), status=409, code="payload_used")
    fresh = issue(scene)
    submit(scene, fresh, scene.izmir.sign(fresh))
    assert signature_count(status="void") == 1
    assert signature_count(status="valid") == 1
