"""Mandates in the services: issuing and accepting them, the refusal without one, revocation, scope, validity,
and one mayor per city."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.exc import IntegrityError

from signing.core import payload
from tests.conftest import BACKENDS, PASSWORD, People
from tests.crypto.conftest import refused, signature_count
from tests.mandates.conftest import MandateScene, later, make_mayor, open_requiring_mandates

pytestmark = BACKENDS


def test_a_signed_mandate_is_stored_with_the_bytes_the_server_issued(mscene: MandateScene) -> None:
    mandate = mscene.mandate()
    fields = payload.parse(mandate.payload)
    assert fields["format"] == "accord.mandate/1"
    assert fields["delegate_id"] == mscene.izmir.user.id
    assert fields["delegate_key_fingerprints"] == [mscene.izmir.fingerprint]
    assert fields["mayor_key_fingerprint"] == mscene.mayor.fingerprint
    assert fields["city_slug"] == mscene.people.city.slug and fields["scope"] == "network"
    assert fields["statement"].startswith("Mayor of İzmir, mayor of İzmir, mandates İzmir delegate to sign for İzmir")
    assert mandate.payload_sha256 == hashlib.sha256(mandate.payload).hexdigest()
    assert payload.verify(mscene.mayor.public, mandate.signature, mandate.payload)


def test_without_a_mandate_the_signature_is_refused_naming_the_mayor(mscene: MandateScene) -> None:
    error = refused(mscene.sign, status=403, code="mandate_missing")
    assert "Mayor of İzmir" in error.message and "mandate" in error.message
    assert signature_count() == 0


def test_a_city_without_a_mayor_is_told_to_ask_the_secretariat(mscene: MandateScene) -> None:
    error = refused(lambda: mscene.sign(mscene.athens), status=403, code="mandate_missing")
    assert "secretariat" in error.message


def test_with_a_mandate_the_signature_is_accepted_and_names_it(mscene: MandateScene) -> None:
    mandate = mscene.mandate()
    record = mscene.sign()
    assert signature_count(status="valid") == 1
    fields = payload.parse(record.payload)
    assert fields["format"] == "accord.signature/2"
    assert fields["mandate_sha256"] == mandate.payload_sha256 == hashlib.sha256(mandate.payload).hexdigest()
    assert fields["versions"] == [{"tag": "en", "sha256": fields["text_sha256"], "authoritative": True}]


def test_a_declaration_not_requiring_mandates_needs_none(app: object, people: People) -> None:
    from tests.crypto.conftest import Signer, enrol

    declaration = open_requiring_mandates(people, slug="free", require=False)
    private, key = enrol(people.delegate)
    scene = MandateScene(declaration, people, Signer(people.delegate, private, key), None, None)  # type: ignore[arg-type]
    scene.sign()
    assert signature_count() == 1


def test_a_revoked_mandate_refuses_new_signatures_but_earlier_ones_stay_valid(mscene: MandateScene) -> None:
    from signing.services import declarations

    mandate = mscene.mandate()
    mscene.sign()
    other = open_requiring_mandates(mscene.people, slug="second")
    mscene.revoke(mandate)
    assert signature_count(status="valid") == 1  # signed before the revocation: stays valid
    second = MandateScene(other, mscene.people, mscene.izmir, mscene.athens, mscene.mayor)
    refused(second.sign, status=403, code="mandate_missing")
    refused(lambda: mscene.revoke(mandate), status=409, code="already_revoked")
    assert declarations.get("decl").require_mandates


def test_a_revocation_between_issue_and_submit_refuses_the_signature(mscene: MandateScene) -> None:
    from signing.services import signatures

    mandate = mscene.mandate()
    issued = signatures.issue_signature_payload(mscene.declaration, mscene.izmir.user, mscene.izmir.fingerprint)
    mscene.revoke(mandate)
    refused(lambda: signatures.submit_signature(mscene.declaration, mscene.izmir.user, issued.payload,
                                                mscene.izmir.sign(issued.payload)), status=403, code="mandate_missing")
    assert signature_count() == 0


def test_the_scope_must_cover_the_declaration(mscene: MandateScene) -> None:
    open_requiring_mandates(mscene.people, slug="other")
    mscene.mandate(scope="declaration:other")
    error = refused(mscene.sign, code="mandate_missing")
    assert "does not cover this declaration" in error.message
    mscene.mandate(scope="declaration:decl")
    mscene.sign()
    assert signature_count() == 1
    refused(lambda: mscene.mandate(scope="declaration:nowhere"), status=400, code="bad_scope")


def test_the_mandate_covers_only_the_keys_it_names(mscene: MandateScene) -> None:
    from tests.crypto.conftest import Signer, enrol

    private, second = enrol(mscene.izmir.user, label="phone")
    mscene.mandate(fingerprints=[mscene.izmir.fingerprint])
    error = refused(lambda: mscene.sign(Signer(mscene.izmir.user, private, second)), code="mandate_missing")
    assert second.fingerprint in error.message
    mscene.sign()


def test_the_validity_window(mscene: MandateScene) -> None:
    mscene.mandate(start=later(days=1), until=later(days=5))  # not yet valid
    refused(mscene.sign, code="mandate_missing")
    refused(lambda: mscene.mandate(until=later(days=-1)), status=400, code="bad_validity")
    refused(lambda: mscene.mandate(until=later(days=800)), status=400, code="bad_validity")
    mscene.mandate(until=later(hours=1))
    mscene.sign()


def test_only_the_mayor_signs_mandates_for_delegates_of_their_city(mscene: MandateScene) -> None:
    from signing.services import mandates

    refused(lambda: mandates.issue_mandate(mscene.izmir.user, mscene.izmir.fingerprint, mscene.izmir.user.id, None,
                                           "network", later(days=3)), status=403)
    refused(lambda: mandates.issue_mandate(mscene.mayor.user, mscene.mayor.fingerprint, mscene.athens.user.id, None,
                                           "network", later(days=3)), status=404)


def test_issued_bytes_are_single_use_and_must_verify(mscene: MandateScene) -> None:
    from signing.services import mandates

    issued = mandates.issue_mandate(mscene.mayor.user, mscene.mayor.fingerprint, mscene.izmir.user.id, None,
                                    "network", later(days=3))
    refused(lambda: mandates.submit_mandate(mscene.mayor.user, issued.payload, mscene.izmir.sign(issued.payload)),
            status=400, code="mandate_rejected")
    forged = issued.payload.replace(b"network", b"netwerk")
    refused(lambda: mandates.submit_mandate(mscene.mayor.user, forged, mscene.mayor.sign(forged)), status=400)
    mandates.submit_mandate(mscene.mayor.user, issued.payload, mscene.mayor.sign(issued.payload))
    refused(lambda: mandates.submit_mandate(mscene.mayor.user, issued.payload, mscene.mayor.sign(issued.payload)),
            status=409, code="payload_used")


def test_one_mayor_per_city(mscene: MandateScene) -> None:
    from signing.extensions import db
    from signing.models import Role, User

    error = refused(lambda: make_mayor(mscene.people, email="second@izmir.example"), status=409, code="mayor_exists")
    assert "Mayor of İzmir" in error.message
    make_mayor(mscene.people, mscene.people.other_city, email="mayor@athens.example")
    db.session.add(User(email="direct@izmir.example", display_name="Direct", role=Role.MAYOR.value,
                        city_id=mscene.people.city.id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_mandates_are_append_only(mscene: MandateScene) -> None:
    from sqlalchemy import text

    from signing.extensions import db

    mandate = mscene.mandate()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE mandates SET scope = 'declaration:decl' WHERE id = :id"), {"id": mandate.id})
    db.session.rollback()
    assert PASSWORD
