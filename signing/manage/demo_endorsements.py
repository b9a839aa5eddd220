"""``flask demo --complete``: a few verified organisations and a few dozen people endorse the frozen declaration.

Every endorser's Ed25519 key is made here, signs one ``accord.endorsement/1`` statement and is discarded (only
the public key reaches the server, as from a browser); the statements go through the bulk path
(``services.endorsements.accept_many``), which checks each of them as the one-request path does.
"""

from __future__ import annotations

import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core import payload
from ..extensions import db
from ..models import Declaration, Endorser, EndorserKind, utcnow
from ..services import endorsements, endorsers, transactions

DEMO_ORGANISATIONS: list[tuple[str, str, str]] = [
    ("Black Sea NGO Network", "BG", "https://bsnn.example"),
    ("Balkan Civil Society Development Network", "MK", "https://balkancsd.example"),
    ("Green Cities Alliance Romania", "RO", "https://greencities.example"),
    ("Association of Municipalities of Moldova", "MD", "https://cam.example"),
]
DEMO_PEOPLE_COUNTRIES = ("TR", "GR", "BG", "RS", "BA", "AL", "MK", "RO", "MD", "UA", "GE", "")
DEMO_PEOPLE = 36
DEMO_PEOPLE_DOMAIN = "people.example"


def endorse_demo(declaration: Declaration, *, people: int = DEMO_PEOPLE) -> int:
    """Verified organisations and ``people`` persons endorse ``declaration`` (frozen); returns how many."""
    chooser = random.Random(declaration.id)  # noqa: S311 - demo data, not a secret
    now = utcnow()
    made: list[Endorser] = []
    for number in range(people):
        shown = number % 3 == 0
        made.append(Endorser(public_id=endorsers.new_public_id(), kind=EndorserKind.PERSON.value,
                             country=chooser.choice(DEMO_PEOPLE_COUNTRIES),
                             email=f"person{number + 1}@{DEMO_PEOPLE_DOMAIN}",
                             display_name=f"Demo person {number + 1}" if shown else None, show_name=shown))
    # The organisations last: the newest endorsements, at the top of the public list.
    for name, country, website in DEMO_ORGANISATIONS:
        made.append(Endorser(public_id=endorsers.new_public_id(), kind=EndorserKind.ORGANISATION.value,
                             country=country, display_name=name, show_name=True, website=website,
                             email=f"contact@{website.split('//', 1)[1]}", verified_at=now))
    db.session.add_all(made)
    transactions.commit(keep=made)
    items = [_sign(declaration, endorser, Ed25519PrivateKey.generate()) for endorser in made]
    result = endorsements.accept_many(declaration, items)
    return result.accepted


def _sign(declaration: Declaration, endorser: Endorser, key: Ed25519PrivateKey) -> endorsements.Signed:
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    data = payload.build(endorsements.statement_fields(declaration, endorser, public, utcnow()))
    return endorsements.Signed(data, key.sign(data), public)
