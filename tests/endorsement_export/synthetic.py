"""Real Ed25519-signed endorsement statements, without a database: for the export's tests and benchmarks."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.core import payload
from signing.core.endorsement_export import Header, Item, Withdrawal

ISSUER = "https://accord.example.org"
SLUG = "black-sea-clean-water"
TITLE = "Black Sea “Clean Water” Declaration"
BUNDLE_SHA256 = "ab" * 32
SNAPSHOT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KINDS = ("person", "organisation", "city")


def header(**changes: object) -> Header:
    values: dict[str, object] = {"issuer": ISSUER, "declaration_slug": SLUG, "declaration_title": TITLE,
                                 "bundle_manifest_sha256": BUNDLE_SHA256, "snapshot_at": SNAPSHOT}
    values.update(changes)
    return Header(**values)  # type: ignore[arg-type]


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class Endorser:
    public_id: str
    kind: str
    country: str
    key: Ed25519PrivateKey

    def fields(self, **more: object) -> dict[str, object]:
        return {"issuer": ISSUER, "declaration_slug": SLUG, "declaration_title": TITLE,
                "bundle_manifest_sha256": BUNDLE_SHA256, "endorser_id": self.public_id,
                "endorser_kind": self.kind, "country": self.country,
                "key_fingerprint": payload.fingerprint(raw(self.key)), **more}


def endorser(index: int) -> Endorser:
    return Endorser(f"en_{secrets.token_hex(13)}", KINDS[index % 3], ("RO", "BG", "TR", "GE")[index % 4],
                    Ed25519PrivateKey.generate())


def endorsement(who: Endorser, moment: datetime, **changes: object) -> tuple[bytes, bytes]:
    data = payload.build({"format": "accord.endorsement/1", "endorsed_at": payload.timestamp(moment),
                          **who.fields(**changes)})
    return data, who.key.sign(data)


def withdrawal(who: Endorser, endorsed: bytes, moment: datetime, **changes: object) -> Withdrawal:
    import hashlib

    data = payload.build({"format": "accord.endorsement-withdrawal/1", "withdrawn_at": payload.timestamp(moment),
                          "withdraws_payload_sha256": hashlib.sha256(endorsed).hexdigest(),
                          **who.fields(**changes)})
    return Withdrawal(data, who.key.sign(data), raw(who.key))


def items(count: int, *, withdraw_every: int = 0) -> Iterator[Item]:
    """``count`` endorsements by as many endorsers; every ``withdraw_every``-th one withdrawn (0: none)."""
    start = SNAPSHOT - timedelta(days=3)
    for index in range(count):
        who = endorser(index)
        moment = start + timedelta(seconds=index)
        data, signature = endorsement(who, moment)
        withdrawn = None
        if withdraw_every and index % withdraw_every == 0:
            withdrawn = withdrawal(who, data, moment + timedelta(hours=1))
        yield Item(data, signature, raw(who.key), withdrawn)
