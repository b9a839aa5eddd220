"""The browser side of signing, through the test client: keys, the sign page, its JSON endpoints, receipts.

The private keys here are made with ``cryptography`` and play the part of the
browser: only public keys, payloads and signatures go to the server, exactly as
``static/js/keys.js`` and ``static/js/sign.js`` send them.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, login, message_text, read_mail

pytestmark = pytest.mark.usefixtures("fresh_g")

ROLES = ("anonymous", "observer", "delegate", "other_delegate", "secretariat")
SLUG = "b40-izmir"


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def fingerprint_of(private: Ed25519PrivateKey) -> str:
    return "sha256:" + hashlib.sha256(raw_public(private)).hexdigest()


def client_as(app: Flask, people: People, role: str) -> tuple[FlaskClient, str]:
    """A fresh client logged in as ``role`` (or anonymous) and a CSRF token for its session."""
    client = app.test_client()
    if role == "anonymous":
        return client, csrf_token(client, "/login")
    response = login(client, people.by_role(role).email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, csrf_token(client, "/account")


def post_json(client: FlaskClient, path: str, body: Any, token: str | None) -> Any:
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(path, json=body, headers=headers)


def error_code(response: Any) -> str:
    data = response.get_json()
    assert isinstance(data, dict) and "error" in data, response.get_data(as_text=True)
    assert data["error"]["message"]
    return str(data["error"]["code"])


@dataclass
class Setup:
    people: People
    declaration: Any
    izmir_key: Ed25519PrivateKey
    athens_key: Ed25519PrivateKey
    izmir_key_id: int
    athens_key_id: int


def open_declaration(people: People, *, excluded: tuple[int, ...] = ()) -> Any:
    from signing.manage.demo import declaration_text
    from signing.services import declarations

    declaration = declarations.create("B40 İzmir Declaration", declaration_text(), people.secretariat, slug=SLUG)
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 1, people.secretariat, excluded_city_ids=excluded)
    return declaration


def enrol(user: Any, private: Ed25519PrivateKey, label: str = "Laptop") -> Any:
    from signing.services import keys

    return keys.enrol(user, b64(raw_public(private)), label, PASSWORD, origin="browser")


def sign_with_service(declaration: Any, user: Any, private: Ed25519PrivateKey) -> Any:
    from signing.services import signatures

    issued = signatures.issue_signature_payload(declaration, user, fingerprint_of(private))
    return signatures.submit_signature(declaration, user, issued.payload, private.sign(issued.payload))


@pytest.fixture
def setup(app: Flask, people: People) -> Setup:
    """Open for signature (both cities), a key for each delegate."""
    declaration = open_declaration(people)
    izmir, athens = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    izmir_key = enrol(people.delegate, izmir)
    athens_key = enrol(people.other_delegate, athens)
    return Setup(people, declaration, izmir, athens, izmir_key.id, athens_key.id)


def counts() -> dict[str, int]:
    from signing.extensions import db
    from signing.models import IssuedPayload, OutboxEmail, Signature, SigningKey, Withdrawal

    db.session.expire_all()
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (SigningKey, IssuedPayload, Signature, Withdrawal, OutboxEmail)
    }


# ---------------------------------------------------------------------------------------------
# Access: every new route against every kind of visitor
# ---------------------------------------------------------------------------------------------

LOGIN = "login"

PAGES: dict[str, dict[str, int | str]] = {
    "/account/keys": {"anonymous": LOGIN, "observer": 403, "delegate": 200, "other_delegate": 200,
                      "secretariat": 403},
    "/admin/keys": {"anonymous": LOGIN, "observer": 403, "delegate": 403, "other_delegate": 403,
                    "secretariat": 200},
    f"/declarations/{SLUG}/sign": {"anonymous": LOGIN, "observer": 403, "delegate": 200, "other_delegate": 200,
                                   "secretariat": 403},
    # İzmir's signature: its signer, İzmir's delegates and the secretariat.
    "receipt": {"anonymous": LOGIN, "observer": 403, "delegate": 200, "other_delegate": 403, "secretariat": 200},
}


def expect(response: Any, outcome: int | str, what: str) -> None:
    if outcome == LOGIN:
        assert response.status_code == 302, what
        assert response.headers["Location"].startswith("/login?next="), what
    else:
        assert response.status_code == outcome, f"{what}: {response.status_code}"


@BACKENDS
@pytest.mark.parametrize("role", ROLES)
def test_pages_and_receipt_access(app: Flask, setup: Setup, role: str) -> None:
    record = sign_with_service(setup.declaration, setup.people.delegate, setup.izmir_key)
    receipt_path = f"/declarations/{SLUG}/signatures/{record.id}/receipt.json"
    client, _ = client_as(app, setup.people, role)
    for path, row in PAGES.items():
        target = receipt_path if path == "receipt" else path
        response = client.get(target)
        expect(response, row[role], f"{role} GET {target}")
        if response.status_code == 403:
            assert "Not allowed" in response.get_data(as_text=True)


@BACKENDS
@pytest.mark.parametrize("role", ROLES)
def test_json_endpoints_access(app: Flask, setup: Setup, role: str) -> None:
    """Anonymous: 401 JSON (never a redirect); observers and the secretariat: 403; delegates get through."""
    people = setup.people
    sign_with_service(setup.declaration, people.delegate, setup.izmir_key)  # İzmir has signed, Athens not
    own = {"delegate": setup.izmir_key, "other_delegate": setup.athens_key}.get(role, setup.izmir_key)
    fresh = Ed25519PrivateKey.generate()
    junk = {"payload": b64(b"{}"), "signature": b64(bytes(64))}
    cases: list[tuple[str, dict[str, Any], dict[str, int]]] = [
        ("/account/keys", {"public_key": b64(raw_public(fresh)), "label": "Phone", "password": PASSWORD},
         {"delegate": 201, "other_delegate": 201}),
        (f"/declarations/{SLUG}/sign/payload", {"key_fingerprint": fingerprint_of(own)},
         {"delegate": 409, "other_delegate": 201}),  # İzmir already signed
        (f"/declarations/{SLUG}/withdraw/payload", {"key_fingerprint": fingerprint_of(own)},
         {"delegate": 201, "other_delegate": 409}),  # Athens has nothing to withdraw
        (f"/declarations/{SLUG}/sign/submit", junk, {"delegate": 400, "other_delegate": 400}),
        (f"/declarations/{SLUG}/withdraw/submit", junk, {"delegate": 400, "other_delegate": 400}),
    ]
    client, token = client_as(app, people, role)
    for path, body, delegate_outcomes in cases:
        expected = {"anonymous": 401, "observer": 403, "secretariat": 403, **delegate_outcomes}[role]
        response = post_json(client, path, body, token)
        assert response.status_code == expected, f"{role} POST {path}: {response.get_data(as_text=True)}"
        assert response.mimetype == "application/json"
        if expected >= 400:
            code = error_code(response)
            if expected == 401:
                assert code == "login_required"


@BACKENDS
@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", LOGIN), ("observer", 403), ("delegate", 302), ("other_delegate", 403), ("secretariat", 302)],
)
def test_revoke_access(app: Flask, setup: Setup, role: str, expected: int | str) -> None:
    from signing.extensions import db
    from signing.models import SigningKey

    client, token = client_as(app, setup.people, role)
    response = client.post(f"/account/keys/{setup.izmir_key_id}/revoke", data={"csrf_token": token})
    expect(response, expected, f"{role} revokes İzmir's key")
    key = db.session.get(SigningKey, setup.izmir_key_id)
    assert key is not None
    db.session.refresh(key)
    assert (key.revoked_at is not None) == (expected == 302)
    if expected == 302:
        landing = "/admin/keys" if role == "secretariat" else "/account/keys"
        assert response.headers["Location"] == landing
        page = client.get(landing).get_data(as_text=True)
        assert "is revoked" in page and key.fingerprint in page
        assert key.revoked_by_id == setup.people.by_role(role).id
        # Revoked once is revoked: a second attempt is a conflict.
        assert client.post(f"/account/keys/{key.id}/revoke", data={"csrf_token": token}).status_code == 409


def test_unknown_key_and_signature_are_404(app: Flask, setup: Setup) -> None:
    client, token = client_as(app, setup.people, "secretariat")
    assert client.post("/account/keys/999999/revoke", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/declarations/{SLUG}/signatures/999999/receipt.json").status_code == 404
    assert client.get("/declarations/nope/signatures/1/receipt.json").status_code == 404
    delegate, token = client_as(app, setup.people, "delegate")
    response = post_json(delegate, "/declarations/nope/sign/payload", {"key_fingerprint": "x"}, token)
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = post_json(delegate, f"/declarations/{SLUG}/sign/payload", {"key_fingerprint": "sha256:00"}, token)
    assert response.status_code == 400 and error_code(response) == "bad_request"  # malformed, as in the API
    response = post_json(delegate, f"/declarations/{SLUG}/sign/payload", {"key_fingerprint": "sha256:" + "0" * 64},
                         token)
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_receipt_of_another_declaration_is_404(app: Flask, setup: Setup) -> None:
    from signing.services import declarations

    record = sign_with_service(setup.declaration, setup.people.delegate, setup.izmir_key)
    other = declarations.create("Another", "One.\n\nTwo.", setup.people.secretariat, slug="another")
    declarations.open_consultation(other, setup.people.secretariat)
    client, _ = client_as(app, setup.people, "secretariat")
    assert client.get(f"/declarations/another/signatures/{record.id}/receipt.json").status_code == 404


def test_a_second_delegate_of_the_city_may_download_the_receipt(app: Flask, setup: Setup) -> None:
    from signing.models import Role
    from signing.services import accounts

    record = sign_with_service(setup.declaration, setup.people.delegate, setup.izmir_key)
    accounts.create_user("izmir2@b40.example", "Second İzmir delegate", Role.DELEGATE, city=setup.people.city,
                         password=PASSWORD)
    client = app.test_client()
    assert login(client, "izmir2@b40.example").status_code == 302
    response = client.get(f"/declarations/{SLUG}/signatures/{record.id}/receipt.json")
    assert response.status_code == 200
    assert response.get_json()["city"] == "izmir"


def test_delegate_of_a_city_not_asked_to_sign_is_refused(app: Flask, people: People) -> None:
    declaration = open_declaration(people, excluded=(people.other_city.id,))
    athens = Ed25519PrivateKey.generate()
    enrol(people.other_delegate, athens)
    client, token = client_as(app, people, "other_delegate")
    assert client.get(f"/declarations/{SLUG}/sign").status_code == 403
    response = post_json(client, f"/declarations/{SLUG}/sign/payload", {"key_fingerprint": fingerprint_of(athens)},
                         token)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    page = client.get(f"/declarations/{SLUG}").get_data(as_text=True)
    assert f"/declarations/{SLUG}/sign" not in page
    assert declaration.signatories and all(s.city_id != people.other_city.id for s in declaration.signatories)


def test_signing_pages_refuse_outside_open_for_signature(app: Flask, people: People) -> None:
    from signing.manage.demo import declaration_text
    from signing.services import declarations

    declaration = declarations.create("In consultation", declaration_text(), people.secretariat, slug=SLUG)
    declarations.open_consultation(declaration, people.secretariat)
    private = Ed25519PrivateKey.generate()
    enrol(people.delegate, private)
    client, token = client_as(app, people, "delegate")
    assert client.get(f"/declarations/{SLUG}/sign").status_code == 409
    response = post_json(client, f"/declarations/{SLUG}/sign/payload", {"key_fingerprint": fingerprint_of(private)},
                         token)
    assert response.status_code == 409 and error_code(response) == "conflict"
    assert "Sign revision" not in client.get(f"/declarations/{SLUG}").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Enrolment
# ---------------------------------------------------------------------------------------------


@BACKENDS
def test_enrol_requires_the_correct_password(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import SigningKey

    client, token = client_as(app, people, "delegate")
    private = Ed25519PrivateKey.generate()
    body = {"public_key": b64(raw_public(private)), "label": "Work laptop", "password": "not my password"}
    before = counts()
    response = post_json(client, "/account/keys", body, token)
    assert response.status_code == 403
    assert error_code(response) == "wrong_password"
    response = post_json(client, "/account/keys", {**body, "password": ""}, token)
    assert response.status_code == 403
    assert counts() == before, "a refused enrolment stores nothing and sends nothing"

    response = post_json(client, "/account/keys", {**body, "password": PASSWORD}, token)
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    assert data["fingerprint"] == fingerprint_of(private)
    assert data["label"] == "Work laptop" and data["origin"] == "browser" and data["revoked_at"] is None
    assert data["active"] is True and data["user_id"] == people.delegate.id  # the API's key body
    key = db.session.scalar(select(SigningKey).where(SigningKey.fingerprint == data["fingerprint"]))
    assert key is not None and key.public_key == raw_public(private) and key.user_id == people.delegate.id

    page = client.get("/account/keys").get_data(as_text=True)
    assert f"Its fingerprint is {data['fingerprint']}" in page  # the flash after the JS reloads the page
    assert f'data-fingerprint="{data["fingerprint"]}"' in page
    admin, _ = client_as(app, people, "secretariat")
    listing = admin.get("/admin/keys").get_data(as_text=True)
    assert data["fingerprint"] in listing and "İzmir delegate" in listing


def test_enrolment_mails_the_delegate_and_the_secretariat(app: Flask, people: People) -> None:
    client, token = client_as(app, people, "delegate")
    private = Ed25519PrivateKey.generate()
    response = post_json(client, "/account/keys",
                         {"public_key": b64(raw_public(private)), "label": "Laptop", "password": PASSWORD}, token)
    assert response.status_code == 201
    mail = {str(m["To"]): m for m in read_mail(app.config["MAIL_FILE_DIR"])}
    assert set(mail) == {people.delegate.email, people.secretariat.email}
    own = mail[people.delegate.email]
    assert own["Subject"] == "A signing key was enrolled for your account"
    assert fingerprint_of(private) in message_text(own)
    assert "http://accord.test/account/keys" in message_text(own)
    to_secretariat = mail[people.secretariat.email]
    assert to_secretariat["Subject"] == "İzmir delegate (İzmir) enrolled a signing key"
    assert fingerprint_of(private) in message_text(to_secretariat)
    assert "http://accord.test/admin/keys" in message_text(to_secretariat)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ([1, 2], 400),
        ({"public_key": "***", "label": "L", "password": PASSWORD}, 400),
        ({"public_key": b64(bytes(31)), "label": "L", "password": PASSWORD}, 400),
        ({"public_key": 42, "label": "L", "password": PASSWORD}, 400),
        ({"public_key": "KEY", "label": "   ", "password": PASSWORD}, 400),
        ({"public_key": "KEY", "label": "x" * 121, "password": PASSWORD}, 400),
    ],
)
def test_enrol_refuses_bad_input(app: Flask, people: People, body: Any, status: int) -> None:
    client, token = client_as(app, people, "delegate")
    if isinstance(body, dict) and body.get("public_key") == "KEY":
        body = {**body, "public_key": b64(raw_public(Ed25519PrivateKey.generate()))}
    before = counts()
    if isinstance(body, str):
        response = client.post("/account/keys", data=body, content_type="text/plain", headers={"X-CSRFToken": token})
    else:
        response = post_json(client, "/account/keys", body, token)
    assert response.status_code == status, response.get_data(as_text=True)
    error_code(response)
    assert counts() == before


def test_enrolling_the_same_key_twice_is_a_conflict(app: Flask, people: People) -> None:
    client, token = client_as(app, people, "delegate")
    body = {"public_key": b64(raw_public(Ed25519PrivateKey.generate())), "label": "Laptop", "password": PASSWORD}
    assert post_json(client, "/account/keys", body, token).status_code == 201
    response = post_json(client, "/account/keys", body, token)
    assert response.status_code == 409 and error_code(response) == "conflict"


# ---------------------------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------------------------


@BACKENDS
def test_posts_without_csrf_token_are_refused(app: Flask, setup: Setup) -> None:
    people = setup.people
    client, token = client_as(app, people, "delegate")
    private = Ed25519PrivateKey.generate()
    bodies = {
        "/account/keys": {"public_key": b64(raw_public(private)), "label": "Phone", "password": PASSWORD},
        f"/declarations/{SLUG}/sign/payload": {"key_fingerprint": fingerprint_of(setup.izmir_key)},
        f"/declarations/{SLUG}/sign/submit": {"payload": b64(b"{}"), "signature": b64(bytes(64))},
        f"/declarations/{SLUG}/withdraw/payload": {"key_fingerprint": fingerprint_of(setup.izmir_key)},
        f"/declarations/{SLUG}/withdraw/submit": {"payload": b64(b"{}"), "signature": b64(bytes(64))},
    }
    before = counts()
    for path, body in bodies.items():
        for bad in (None, "forged"):
            response = post_json(client, path, body, bad)
            assert response.status_code == 400, f"POST {path} with CSRF token {bad!r}: {response.status_code}"
            assert error_code(response) == "csrf_failed"
            assert "The form has expired" in response.get_json()["error"]["message"]
    for bad_form in ({}, {"csrf_token": "forged"}):
        response = client.post(f"/account/keys/{setup.izmir_key_id}/revoke", data=bad_form)
        assert response.status_code == 400
        assert "The form has expired" in response.get_data(as_text=True)
    assert counts() == before
    # The token from the page's <meta name="csrf-token"> is the one the scripts send.
    page = client.get("/account/keys").get_data(as_text=True)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert meta, "base.html must carry the CSRF token for the scripts"
    response = post_json(client, "/account/keys", bodies["/account/keys"], meta.group(1))
    assert response.status_code == 201


def test_anonymous_pages_carry_no_csrf_meta(client: FlaskClient) -> None:
    assert 'name="csrf-token"' not in client.get("/login").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Signing and withdrawing through the JSON endpoints
# ---------------------------------------------------------------------------------------------


def issue(client: FlaskClient, token: str, kind: str, private: Ed25519PrivateKey) -> tuple[str, bytes, dict[str, Any]]:
    response = post_json(client, f"/declarations/{SLUG}/{kind}/payload", {"key_fingerprint": fingerprint_of(private)},
                         token)
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    raw = base64.b64decode(data["payload"])
    assert data["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    return data["payload"], raw, json.loads(raw)


@BACKENDS
def test_sign_withdraw_and_sign_again_through_the_json_endpoints(app: Flask, setup: Setup) -> None:
    from signing.core import payload as payloads
    from signing.services import dashboard

    people, declaration, private = setup.people, setup.declaration, setup.izmir_key
    revision = declaration.open_revision
    client, token = client_as(app, people, "delegate")

    encoded, raw, fields = issue(client, token, "sign", private)
    assert fields["format"] == "accord.signature/2"
    assert fields["declaration_slug"] == SLUG and fields["revision"] == revision.number
    assert fields["text_sha256"] == revision.sha256 == hashlib.sha256(revision.text.encode()).hexdigest()
    assert fields["city_slug"] == "izmir" and fields["signer_id"] == people.delegate.id
    assert fields["key_fingerprint"] == fingerprint_of(private)
    assert payloads.parse(raw) == fields

    response = post_json(client, f"/declarations/{SLUG}/sign/submit",
                         {"payload": encoded, "signature": b64(private.sign(raw))}, token)
    assert response.status_code == 201, response.get_data(as_text=True)
    signed = response.get_json()  # the API's receipt body
    assert signed["city"] == "izmir" and signed["city_name"] == "İzmir" and signed["revision"] == revision.number
    assert signed["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    assert signed["key_fingerprint"] == fingerprint_of(private)
    receipt_url = f"/declarations/{SLUG}/signatures/{signed['signature_id']}/receipt.json"
    assert f'data-receipt-url="/declarations/{SLUG}/signatures/{{id}}/receipt.json"' in client.get(
        f"/declarations/{SLUG}/sign").get_data(as_text=True)

    # The same bytes twice: the payload is used.
    again = post_json(client, f"/declarations/{SLUG}/sign/submit",
                      {"payload": encoded, "signature": b64(private.sign(raw))}, token)
    assert again.status_code == 409 and error_code(again) == "payload_used"

    # The receipt verifies offline.
    response = client.get(receipt_url)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    receipt = response.get_json()
    assert receipt["status"] == "valid" and receipt["city"] == "izmir" and receipt["declaration"] == SLUG
    payload_bytes = base64.b64decode(receipt["payload_base64"])
    assert payload_bytes == raw and receipt["payload"] == raw.decode()
    assert base64.b64decode(receipt["public_key_base64"]) == raw_public(private)
    assert receipt["key_fingerprint"] == fingerprint_of(private)
    assert payloads.verify(base64.b64decode(receipt["public_key_base64"]),
                           base64.b64decode(receipt["signature_base64"]), payload_bytes)
    assert not payloads.verify(raw_public(setup.athens_key), base64.b64decode(receipt["signature_base64"]),
                               payload_bytes)

    # The secretariat sees it on the dashboard, and the e-mails went out.
    board = dashboard.build(declaration)
    assert (board.signed_count, board.signatory_count) == (1, 2)
    admin, _ = client_as(app, people, "secretariat")
    page = admin.get(f"/declarations/{SLUG}/dashboard").get_data(as_text=True)
    assert "Cities that signed revision 1: <span id=\"signed-count\">1</span> of 2" in page
    subjects = {(str(m["To"]), str(m["Subject"])) for m in read_mail(app.config["MAIL_FILE_DIR"])}
    assert (people.delegate.email, "You signed “B40 İzmir Declaration” (revision 1) for İzmir") in subjects
    assert (people.secretariat.email, "İzmir signed “B40 İzmir Declaration” (revision 1)") in subjects

    # The sign page now offers the receipt and the withdrawal.
    page = client.get(f"/declarations/{SLUG}/sign").get_data(as_text=True)
    assert 'data-mode="withdraw"' in page and receipt_url in page
    assert "Your city signed revision 1" in client.get(f"/declarations/{SLUG}").get_data(as_text=True)

    # Withdraw.
    encoded_w, raw_w, fields_w = issue(client, token, "withdraw", private)
    assert fields_w["format"] == "accord.withdrawal/1"
    assert fields_w["withdraws_payload_sha256"] == hashlib.sha256(raw).hexdigest()
    response = post_json(client, f"/declarations/{SLUG}/withdraw/submit",
                         {"payload": encoded_w, "signature": b64(private.sign(raw_w))}, token)
    assert response.status_code == 201, response.get_data(as_text=True)
    withdrawn = response.get_json()
    assert withdrawn["signature_id"] == signed["signature_id"] and withdrawn["city_name"] == "İzmir"
    assert withdrawn["withdraws_payload_sha256"] == hashlib.sha256(raw).hexdigest()
    assert client.get(receipt_url).get_json()["status"] == "withdrawn"
    assert dashboard.build(declaration).signed_count == 0
    subjects = {(str(m["To"]), str(m["Subject"])) for m in read_mail(app.config["MAIL_FILE_DIR"])}
    assert (people.delegate.email, "You withdrew the signature of İzmir from “B40 İzmir Declaration”") in subjects
    assert (people.secretariat.email, "İzmir withdrew its signature from “B40 İzmir Declaration”") in subjects

    # And sign again.
    encoded2, raw2, _ = issue(client, token, "sign", private)
    response = post_json(client, f"/declarations/{SLUG}/sign/submit",
                         {"payload": encoded2, "signature": b64(private.sign(raw2))}, token)
    assert response.status_code == 201
    assert dashboard.build(declaration).signed_count == 1


def test_a_bad_signature_or_altered_payload_is_rejected(app: Flask, setup: Setup) -> None:
    client, token = client_as(app, setup.people, "delegate")
    encoded, raw, fields = issue(client, token, "sign", setup.izmir_key)
    before = counts()
    path = f"/declarations/{SLUG}/sign/submit"

    wrong_key = post_json(client, path, {"payload": encoded, "signature": b64(setup.athens_key.sign(raw))}, token)
    assert wrong_key.status_code == 400 and error_code(wrong_key) == "signature_rejected"

    altered = raw.replace(b'"revision":1', b'"revision":2')
    response = post_json(client, path, {"payload": b64(altered), "signature": b64(setup.izmir_key.sign(altered))},
                         token)
    assert response.status_code == 400 and error_code(response) == "signature_rejected"

    for body in ({"payload": "***", "signature": b64(bytes(64))}, {"payload": encoded}, {"signature": 5},
                 {"payload": encoded, "signature": b64(bytes(10))}):
        response = post_json(client, path, body, token)
        assert response.status_code == 400, body
        error_code(response)
    assert counts() == before

    # Another delegate cannot submit İzmir's payload, even correctly signed.
    other, other_token = client_as(app, setup.people, "other_delegate")
    response = post_json(other, path, {"payload": encoded, "signature": b64(setup.izmir_key.sign(raw))}, other_token)
    assert response.status_code == 400 and error_code(response) == "signature_rejected"
    # Nor ask for a payload with İzmir's key.
    response = post_json(other, f"/declarations/{SLUG}/sign/payload",
                         {"key_fingerprint": fingerprint_of(setup.izmir_key)}, other_token)
    assert response.status_code == 403
    assert counts()["Signature"] == 0


def test_a_revoked_key_cannot_sign(app: Flask, setup: Setup) -> None:
    client, token = client_as(app, setup.people, "delegate")
    encoded, raw, _ = issue(client, token, "sign", setup.izmir_key)
    assert client.post(f"/account/keys/{setup.izmir_key_id}/revoke", data={"csrf_token": token}).status_code == 302
    response = post_json(client, f"/declarations/{SLUG}/sign/submit",
                         {"payload": encoded, "signature": b64(setup.izmir_key.sign(raw))}, token)
    assert response.status_code == 409 and "revoked" in response.get_json()["error"]["message"]
    response = post_json(client, f"/declarations/{SLUG}/sign/payload",
                         {"key_fingerprint": fingerprint_of(setup.izmir_key)}, token)
    assert response.status_code == 409
    # The sign page no longer offers the revoked key.
    page = client.get(f"/declarations/{SLUG}/sign").get_data(as_text=True)
    assert 'data-keys="[]"' in page


# ---------------------------------------------------------------------------------------------
# What the pages show
# ---------------------------------------------------------------------------------------------


def test_sign_page_shows_the_exact_canonical_text(app: Flask, setup: Setup) -> None:
    revision = setup.declaration.open_revision
    client, _ = client_as(app, setup.people, "delegate")
    page = client.get(f"/declarations/{SLUG}/sign").get_data(as_text=True)
    # The newline right after <pre> is dropped by HTML parsers, so the text (which may itself begin with blank
    # lines) follows it verbatim: textContent is exactly the canonical text.
    match = re.search(r'<pre id="canonical-text"[^>]*>\n(.*?)</pre>', page, re.S)
    assert match, "no <pre id=canonical-text>"
    assert html.unescape(match.group(1)) == revision.text
    assert hashlib.sha256(html.unescape(match.group(1)).encode("utf-8")).hexdigest() == revision.sha256
    assert f'data-expected-sha256="{revision.sha256}"' in page
    assert "B40 İzmir Declaration" in page and "İzmir delegate" in page
    keys_attr = re.search(r'data-keys="([^"]*)"', page)
    assert keys_attr
    listed = json.loads(html.unescape(keys_attr.group(1)))
    assert [k["fingerprint"] for k in listed] == [fingerprint_of(setup.izmir_key)]
    assert "/static/js/sign.js" in page


def test_declaration_page_offers_sign_to_eligible_delegates_only(app: Flask, setup: Setup) -> None:
    for role, offered in (("delegate", True), ("other_delegate", True), ("observer", False),
                          ("secretariat", False)):
        client, _ = client_as(app, setup.people, role)
        page = client.get(f"/declarations/{SLUG}").get_data(as_text=True)
        assert ("Sign revision 1" in page) == offered, role
        assert (f'href="/declarations/{SLUG}/sign"' in page) == offered, role


def test_nav_links_to_keys(app: Flask, people: People) -> None:
    delegate, _ = client_as(app, people, "delegate")
    assert 'href="/account/keys">Signing keys</a>' in delegate.get("/").get_data(as_text=True)
    admin, _ = client_as(app, people, "secretariat")
    assert 'href="/admin/keys">Keys</a>' in admin.get("/").get_data(as_text=True)
    observer, _ = client_as(app, people, "observer")
    assert "/account/keys" not in observer.get("/").get_data(as_text=True)


def test_dashboard_counts_before_signing_opens(app: Flask, people: People) -> None:
    from signing.services import declarations

    declarations.create("Draft", "One.\n\nTwo.", people.secretariat, slug="draft")
    client, _ = client_as(app, people, "secretariat")
    page = client.get("/declarations/draft/dashboard").get_data(as_text=True)
    assert "Cities that signed" not in page


def test_quorum_is_shown_on_the_dashboard(app: Flask, people: People) -> None:
    from signing.manage.demo import declaration_text
    from signing.services import declarations

    declaration = declarations.create("Quorum", declaration_text(), people.secretariat, slug="quorum")
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 1, people.secretariat, rule_kind="quorum", quorum=1)
    client, _ = client_as(app, people, "secretariat")
    page = client.get("/declarations/quorum/dashboard").get_data(as_text=True)
    assert "0</span> of 2 (the quorum is 1)" in page


def test_enrolment_password_attempts_are_rate_limited(app_factory: Any, people: People) -> None:
    """Enrolling asks for the password, so it is limited per address (KEY_ENROL_RATE_LIMIT, apart from the log-in's
    limit) and per account (tests/test_throttle.py)."""
    limited = app_factory(KEY_ENROL_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    with limited.app_context():
        assert login(client, people.delegate.email).status_code == 302
        token = csrf_token(client, "/account")
        body = {"public_key": b64(raw_public(Ed25519PrivateKey.generate())), "label": "L", "password": "wrong"}
        statuses = [post_json(client, "/account/keys", body, token).status_code for _ in range(3)]
        assert statuses == [403, 403, 403]
        response = post_json(client, "/account/keys", {**body, "password": PASSWORD}, token)
        assert response.status_code == 429 and error_code(response) == "too_many_attempts"
