"""Small-order public keys are refused at enrolment (they bind a signature to no one)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from signing.core.payload import is_weak_public_key

VECTORS = Path(__file__).resolve().parents[1] / "data" / "wycheproof" / "ed25519_test.json"
SMALL_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
]


@pytest.mark.parametrize("hex_key", SMALL_ORDER)
def test_small_order_keys_are_refused(app: Flask, hex_key: str) -> None:
    from signing.services import ServiceError
    from signing.services.keys import parse_public_key

    with pytest.raises(ServiceError, match="small-order"):
        parse_public_key(base64.b64encode(bytes.fromhex(hex_key)).decode())


def test_wycheproof_small_order_keys_are_weak_and_generated_keys_are_not() -> None:
    groups = json.loads(VECTORS.read_text())["testGroups"]
    weak = {g["publicKey"]["pk"] for g in groups if is_weak_public_key(bytes.fromhex(g["publicKey"]["pk"]))}
    assert "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f" in weak
    assert len(weak) >= 6
    for _ in range(200):
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert not is_weak_public_key(raw)
