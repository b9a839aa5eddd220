"""Fixtures for mandates: a declaration open for signature requiring mandates, delegates and a mayor with keys.

The mayor's private key lives only in the test, as it lives only in the mayor's browser or CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from tests.conftest import PASSWORD, People
from tests.crypto.conftest import TEXT, TEXT_2, Signer, enrol


@dataclass
class MandateScene:
    declaration: Any
    people: People
    izmir: Signer
    athens: Signer
    mayor: Signer

    def mandate(self, *, delegate: Signer | None = None, scope: str = "network", fingerprints: list[str] | None = None,
                until: datetime | None = None, start: datetime | None = None) -> Any:
        """The mayor issues, signs and submits a mandate; returns the stored row."""
        from signing.services import mandates

        delegate = delegate or self.izmir
        issued = mandates.issue_mandate(self.mayor.user, self.mayor.fingerprint, delegate.user.id, fingerprints, scope,
                                        until or later(days=30), start)
        return mandates.submit_mandate(self.mayor.user, issued.payload, self.mayor.sign(issued.payload))

    def revoke(self, mandate: Any) -> Any:
        from signing.services import mandates

        issued = mandates.issue_revocation(self.mayor.user, self.mayor.fingerprint, mandate.id)
        return mandates.submit_revocation(self.mayor.user, issued.payload, self.mayor.sign(issued.payload))

    def sign(self, signer: Signer | None = None) -> Any:
        from signing.services import signatures

        signer = signer or self.izmir
        issued = signatures.issue_signature_payload(self.declaration, signer.user, signer.fingerprint)
        return signatures.submit_signature(self.declaration, signer.user, issued.payload, signer.sign(issued.payload))


def later(**delta: float) -> datetime:
    from signing.models import utcnow

    return utcnow() + timedelta(**delta)


def open_requiring_mandates(people: People, slug: str = "decl", require: bool = True) -> Any:
    from signing.services import declarations

    declaration = declarations.create("Declaration", TEXT, people.secretariat, slug=slug)
    declarations.add_revision(declaration, TEXT_2, "r2", people.secretariat)
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 2, people.secretariat, require_mandates=require)
    return declaration


def make_mayor(people: People, city: Any = None, email: str = "mayor@izmir.example") -> Signer:
    from signing.models import Role
    from signing.services import accounts

    user = accounts.create_user(email, "Mayor of İzmir", Role.MAYOR, city=city or people.city, password=PASSWORD)
    private, row = enrol(user, Ed25519PrivateKey.generate(), label="mayor laptop")
    return Signer(user, private, row)


@pytest.fixture
def mscene(app: Flask, people: People) -> MandateScene:
    declaration = open_requiring_mandates(people)
    izmir_private, izmir_key = enrol(people.delegate)
    athens_private, athens_key = enrol(people.other_delegate)
    return MandateScene(declaration, people, Signer(people.delegate, izmir_private, izmir_key),
                        Signer(people.other_delegate, athens_private, athens_key), make_mayor(people))
