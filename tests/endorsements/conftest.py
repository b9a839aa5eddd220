"""Fixtures for endorsements: a frozen declaration (three cities signed it) and endorsers with their own keys.

The endorsers' private keys live only in the test, as they live only in a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from tests.conftest import People
from tests.freeze.conftest import make_network, open_for_signature


def freeze_one(people: People, slug: str = "decl") -> Any:
    from signing.extensions import db
    from signing.models import Declaration

    network = make_network(people)
    declaration = open_for_signature(network, slug=slug)
    for signer in network.signers:
        signer.sign(declaration)
    frozen = db.session.get(Declaration, declaration.id)
    assert frozen is not None and frozen.status == "frozen"
    return frozen


@pytest.fixture
def frozen(app: Flask, people: People) -> Any:
    return freeze_one(people)


@dataclass
class Holder:
    """An endorser and the private key only they hold."""

    endorser: Any
    private_key: Ed25519PrivateKey

    def signed(self, declaration: Any, at: datetime | None = None, withdraws: str | None = None,
               **changes: Any) -> Any:
        from cryptography.hazmat.primitives import serialization

        from signing.core import payload
        from signing.models import utcnow
        from signing.services import endorsements

        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        fields = endorsements.statement_fields(declaration, self.endorser, raw, at or utcnow(), withdraws)
        fields.update(changes)
        data = payload.build(fields)
        return endorsements.Signed(data, self.private_key.sign(data), raw)


def person(email: str = "ana@example.org") -> Holder:
    from signing.services import endorsers, transactions

    endorser = endorsers.person_for_email(email)
    transactions.commit(keep=(endorser,))
    return Holder(endorser, Ed25519PrivateKey.generate())


def organisation(name: str = "Civic Forum", country: str = "RO", verified: bool = True) -> Holder:
    from signing.extensions import db
    from signing.models import Endorser, utcnow
    from signing.services import endorsers, transactions

    endorser = Endorser(public_id=endorsers.new_public_id(), kind="organisation", country=country,
                        display_name=name, show_name=True, email="contact@forum.example",
                        verified_at=utcnow() if verified else None)
    db.session.add(endorser)
    transactions.commit(keep=(endorser,))
    return Holder(endorser, Ed25519PrivateKey.generate())
