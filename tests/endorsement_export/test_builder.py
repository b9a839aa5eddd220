"""The export builder's own guarantees: the bytes of ``accord.endorsements/1`` never change (an export built from
the same statements at the same moment is the same file, byte for byte), and a statement that comes twice is
refused wherever it comes."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.core import endorsement_export
from signing.core.endorsement_export import Item

from . import synthetic

# The SHA-256 of the archive ``_fixed_items()`` gives, as the builder wrote it when this test was added: a change
# of the builder that changes one byte of the format fails here (a new format needs a new version).
FIXED_ARCHIVE_SHA256 = "30e071747e1fbcfc581ccb79c3a99c1bf493a5d746243d2c7a858c442e134599"
PLATFORM = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"endorser key %d" % seed).digest())


def _fixed_items() -> list[Item]:
    """40 endorsements (every fifth withdrawn; endorsers 30-39 share five keys), all from fixed keys and ids."""
    start = synthetic.SNAPSHOT - timedelta(days=3)
    items = []
    for index in range(40):
        key = _key(index if index < 30 else 30 + index % 5)
        who = synthetic.Endorser(f"en_{hashlib.sha256(b'%d' % index).hexdigest()[:26]}", synthetic.KINDS[index % 3],
                                 ("RO", "BG", "TR", "GE")[index % 4], key)
        moment = start + timedelta(minutes=index)
        data, signature = synthetic.endorsement(who, moment)
        withdrawn = synthetic.withdrawal(who, data, moment + timedelta(hours=1)) if index % 5 == 0 else None
        items.append(Item(data, signature, synthetic.raw(key), withdrawn))
    return items


def _build(items: list[Item]) -> bytes:
    buffer = io.BytesIO()
    endorsement_export.write_export(buffer, synthetic.header(), items, PLATFORM)
    return buffer.getvalue()


def test_the_archive_is_byte_for_byte_the_format_1_one() -> None:
    archive = _build(_fixed_items())
    assert hashlib.sha256(archive).hexdigest() == FIXED_ARCHIVE_SHA256


def test_the_same_endorsement_twice_apart_is_refused() -> None:
    items = _fixed_items()[:6]
    with pytest.raises(ValueError, match="twice in the export"):
        _build([*items, items[2]])


def test_the_same_withdrawal_twice_is_refused() -> None:
    items = _fixed_items()[:6]
    assert items[0].withdrawal is not None
    again = Item(items[3].payload, items[3].signature, items[3].public_key, items[0].withdrawal)
    with pytest.raises(ValueError, match="twice in the export"):
        _build([items[0], again])


def test_an_endorsement_given_again_as_a_withdrawal_is_refused() -> None:
    items = _fixed_items()[:6]
    first = items[1]
    as_withdrawal = endorsement_export.Withdrawal(first.payload, first.signature, first.public_key)
    with pytest.raises(ValueError, match="twice in the export"):
        _build([first, Item(items[2].payload, items[2].signature, items[2].public_key, as_withdrawal)])
