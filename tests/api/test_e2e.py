"""End to end, as the offline CLI signer does it: a key made locally, enrolled, a payload signed and verified."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from tests.api.conftest import API, TEXT
from tests.conftest import BACKENDS, PASSWORD, People


@BACKENDS
def test_a_delegate_signs_through_the_api_alone(app: Flask, people: People) -> None:
    from signing.core import payload as payloads
    from signing.services import tokens

    client = app.test_client()
    secretariat = {"Authorization": f"Bearer {tokens.create(people.secretariat, 'desk')[1]}"}
    delegate = {"Authorization": f"Bearer {tokens.create(people.delegate, 'offline signer')[1]}"}

    # The secretariat drafts, consults and opens signing, all through the API.
    assert client.post(f"{API}/declarations", headers=secretariat,
                       json={"title": "Black Sea Declaration", "text": TEXT, "slug": "black-sea"}).status_code == 201
    assert client.post(f"{API}/declarations/black-sea/consultation", headers=secretariat).status_code == 200
    opened = client.post(f"{API}/declarations/black-sea/open-signing", headers=secretariat,
                         json={"revision": 1, "rule": {"kind": "all"}})
    assert opened.status_code == 200
    text_sha256 = opened.get_json()["open_revision"]["sha256"]

    # The delegate makes a key pair locally; only the public key leaves.
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    enrolled = client.post(f"{API}/keys", headers=delegate, json={
        "public_key": base64.b64encode(public).decode(), "label": "offline laptop", "password": PASSWORD,
    })
    assert enrolled.status_code == 201, enrolled.get_json()
    fingerprint = enrolled.get_json()["fingerprint"]
    assert fingerprint == payloads.fingerprint(public)

    issued = client.post(f"{API}/declarations/black-sea/signing-payload", headers=delegate,
                         json={"key_fingerprint": fingerprint})
    assert issued.status_code == 201, issued.get_json()
    data = base64.b64decode(issued.get_json()["payload"])
    fields = payloads.parse(data)  # what a careful signer checks before signing
    assert fields["text_sha256"] == text_sha256 and fields["declaration_slug"] == "black-sea"
    assert hashlib.sha256(data).hexdigest() == issued.get_json()["payload_sha256"]

    body = {"payload": issued.get_json()["payload"], "signature": base64.b64encode(private.sign(data)).decode()}
    signed = client.post(f"{API}/declarations/black-sea/signatures", headers=delegate, json=body)
    assert signed.status_code == 201, signed.get_json()
    assert signed.get_json()["city"] == "izmir" and signed.get_json()["key_fingerprint"] == fingerprint

    again = client.post(f"{API}/declarations/black-sea/signatures", headers=delegate, json=body)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] in {"payload_used", "already_signed"}

    listing = client.get(f"{API}/declarations/black-sea/signatures", headers=secretariat)
    assert listing.status_code == 200
    [row] = listing.get_json()
    assert row["city"] == "izmir" and row["status"] == "valid" and row["key_fingerprint"] == fingerprint
    assert base64.b64decode(row["payload"]) == data and base64.b64decode(row["public_key"]) == public
    assert payloads.verify(base64.b64decode(row["public_key"]), base64.b64decode(row["signature"]),
                           base64.b64decode(row["payload"]))
    assert not payloads.verify(base64.b64decode(row["public_key"]), base64.b64decode(row["signature"]), data + b" ")
