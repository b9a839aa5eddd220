"""Passkeys (WebAuthn) against a software authenticator: registration, the second factor, passwordless
login, single-use challenges, credentials of another account, and sign counts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, login
from tests.soft_authenticator import SoftAuthenticator, b64url

pytestmark = pytest.mark.usefixtures("fresh_g")

ORIGIN = "http://accord.test"  # PUBLIC_URL of the test app
RP_ID = "accord.test"


def register(user: Any, name: str = "Laptop") -> tuple[SoftAuthenticator, Any]:
    from signing.services import passkeys

    device = SoftAuthenticator(ORIGIN, RP_ID)
    challenge_id, options = passkeys.registration_options(user)
    return device, passkeys.register(user, challenge_id, name, device.create(options))


def audit_actions() -> list[str]:
    from signing.extensions import db
    from signing.models import AuditEvent

    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- The service ----------------------------------------------------------------------------------------


@BACKENDS
def test_registration_keeps_the_public_key_and_the_options_come_from_public_url(app: Flask, people: People) -> None:
    from signing.services import passkeys, second_factor

    challenge_id, options_json = passkeys.registration_options(people.delegate)
    options = json.loads(options_json)
    assert options["rp"] == {"id": RP_ID, "name": "Accord"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    device = SoftAuthenticator(ORIGIN, RP_ID)
    passkey = passkeys.register(people.delegate, challenge_id, "  My   phone ", device.create(options_json))
    assert (passkey.name, bytes(passkey.credential_id), passkey.sign_count) == ("My phone", device.credential_id, 0)
    assert second_factor.has_second_factor(people.delegate)
    assert "passkey.added" in audit_actions()
    # A second one is registered with the first excluded and the same user handle.
    challenge_id, options_json = passkeys.registration_options(people.delegate)
    assert [c["id"] for c in json.loads(options_json)["excludeCredentials"]] == [b64url(device.credential_id)]
    other = SoftAuthenticator(ORIGIN, RP_ID)
    passkeys.register(people.delegate, challenge_id, "Key", other.create(options_json))
    assert other.user_handle == device.user_handle
    assert len(passkeys.list_for(people.delegate)) == 2


def test_a_registration_from_another_origin_is_refused(app: Flask, people: People) -> None:
    from signing.services import ServiceError, passkeys

    challenge_id, options = passkeys.registration_options(people.delegate)
    device = SoftAuthenticator("http://evil.test", RP_ID)
    with pytest.raises(ServiceError, match="could not be registered"):
        passkeys.register(people.delegate, challenge_id, "Phone", device.create(options))
    assert passkeys.list_for(people.delegate) == []


def test_odd_transports_are_dropped_not_an_error(app: Flask, people: People) -> None:
    from signing.services import passkeys

    for transports, kept in ((5, ""), (["usb", 7, {}, "carrier-pigeon", "internal"], "usb,internal")):
        challenge_id, options = passkeys.registration_options(people.delegate)
        answer = SoftAuthenticator(ORIGIN, RP_ID).create(options)
        answer["response"]["transports"] = transports
        assert passkeys.register(people.delegate, challenge_id, "Key", answer).transports == kept


@BACKENDS
def test_a_challenge_is_single_use(app: Flask, people: People) -> None:
    from signing.services import ServiceError, passkeys

    device, _ = register(people.delegate)
    challenge_id, options = passkeys.authentication_options(people.delegate)
    answer = device.get(options)
    assert passkeys.authenticate(challenge_id, answer, people.delegate).id == people.delegate.id
    with pytest.raises(ServiceError) as refused:
        passkeys.authenticate(challenge_id, answer, people.delegate)
    assert refused.value.code == "challenge_gone"
    # A registration challenge does not do for a login, nor another account's challenge.
    register_id, _ = passkeys.registration_options(people.delegate)
    with pytest.raises(ServiceError, match="expired or was already used"):
        passkeys.authenticate(register_id, answer, people.delegate)
    other_id, other_options = passkeys.authentication_options(people.other_delegate)
    with pytest.raises(ServiceError, match="expired or was already used"):
        passkeys.authenticate(other_id, device.get(other_options), people.delegate)


def test_an_expired_challenge_is_refused(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import WebAuthnChallenge, utcnow
    from signing.services import ServiceError, passkeys

    device, _ = register(people.delegate)
    challenge_id, options = passkeys.authentication_options(people.delegate)
    db.session.execute(update(WebAuthnChallenge).where(WebAuthnChallenge.id == challenge_id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    with pytest.raises(ServiceError, match="expired"):
        passkeys.authenticate(challenge_id, device.get(options), people.delegate)


@BACKENDS
def test_a_passkey_of_another_account_is_refused(app: Flask, people: People) -> None:
    from signing.services import ServiceError, passkeys

    register(people.delegate)
    athens_device, _ = register(people.other_delegate)
    challenge_id, options = passkeys.authentication_options(people.delegate)
    with pytest.raises(ServiceError) as refused:
        passkeys.authenticate(challenge_id, athens_device.get(options), people.delegate)
    assert refused.value.status == 401
    assert audit_actions()[-1] == "user.second_factor_failed"


def test_a_sign_count_of_zero_is_accepted_and_a_counter_going_back_is_refused(app: Flask, people: People) -> None:
    from signing.services import ServiceError, passkeys

    device, passkey = register(people.delegate)
    for _ in range(3):  # a synced passkey: always 0
        challenge_id, options = passkeys.authentication_options(people.delegate)
        assert passkeys.authenticate(challenge_id, device.get(options, sign_count=0), people.delegate)
    hardware, key = register(people.other_delegate, "Security key")
    for count, accepted in ((5, True), (6, True), (6, False), (2, False), (7, True)):
        challenge_id, options = passkeys.authentication_options(people.other_delegate)
        answer = hardware.get(options, sign_count=count)
        if accepted:
            passkeys.authenticate(challenge_id, answer, people.other_delegate)
        else:
            with pytest.raises(ServiceError):
                passkeys.authenticate(challenge_id, answer, people.other_delegate)
    assert [p.sign_count for p in passkeys.list_for(people.other_delegate)] == [7]


def test_passwordless_login_needs_user_verification(app: Flask, people: People) -> None:
    from signing.services import ServiceError, passkeys

    device, _ = register(people.delegate)
    challenge_id, options = passkeys.authentication_options(None)
    assert json.loads(options)["userVerification"] == "required"
    with pytest.raises(ServiceError):
        passkeys.authenticate(challenge_id, device.get(options, user_verified=False), None)
    challenge_id, options = passkeys.authentication_options(None)
    assert passkeys.authenticate(challenge_id, device.get(options), None).id == people.delegate.id


def test_removing_a_passkey_needs_the_password_and_ownership(app: Flask, people: People) -> None:
    from signing.services import NotFound, ServiceError, passkeys

    _, passkey = register(people.delegate)
    with pytest.raises(NotFound):
        passkeys.remove(people.other_delegate, passkey.id, PASSWORD)
    with pytest.raises(ServiceError, match="password"):
        passkeys.remove(people.delegate, passkey.id, "wrong password")
    assert passkeys.remove(people.delegate, passkey.id, PASSWORD) == "Laptop"
    assert passkeys.list_for(people.delegate) == []
    assert "passkey.removed" in audit_actions()


# --- Through the JSON endpoints --------------------------------------------------------------------------


def _post(client: FlaskClient, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, json=body or {}, headers={"X-CSRFToken": token})


def _register_in(client: FlaskClient, name: str = "Laptop") -> SoftAuthenticator:
    token = csrf_token(client, "/account")
    options = _post(client, "/account/passkeys/options", token)
    assert options.status_code == 200, options.get_json()
    device = SoftAuthenticator(ORIGIN, RP_ID)
    saved = _post(client, "/account/passkeys", token, {"name": name, "credential": device.create(options.get_json())})
    assert saved.status_code == 201, saved.get_json()
    return device


def _logout(client: FlaskClient) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})


def test_register_then_log_in_with_the_passkey_alone_and_as_second_factor(app: Flask, people: People,
                                                                          client: FlaskClient) -> None:
    assert login(client, people.delegate.email).status_code == 302
    device = _register_in(client)
    assert "Laptop" in client.get("/account").get_data(as_text=True)
    _logout(client)

    # Passwordless.
    token = csrf_token(client, "/login")
    options = _post(client, "/login/passkey/options", token)
    assert options.get_json()["allowCredentials"] == []
    done = _post(client, "/login/passkey", token, {"credential": device.get(options.get_json())})
    assert done.status_code == 200 and done.get_json() == {"redirect": "/"}
    assert client.get("/").status_code == 200
    assert _post(client, "/login/passkey/options", csrf_token(client, "/account")).status_code == 409
    _logout(client)

    # Second factor after the password: the account has one now.
    response = login(client, people.delegate.email)
    assert urlsplit(response.headers["Location"]).path == "/login/second-factor"
    assert 'id="passkey-login"' in client.get("/login/second-factor").get_data(as_text=True)
    token = csrf_token(client, "/login/second-factor")  # its token, for passkeys.js, even without a TOTP form
    options = _post(client, "/login/passkey/options", token).get_json()
    assert len(options["allowCredentials"]) == 1
    done = _post(client, "/login/passkey", token, {"credential": device.get(options)})
    assert done.status_code == 200
    assert client.get("/").status_code == 200
    assert audit_actions().count("user.login") == 3


def test_a_replayed_login_answer_and_another_accounts_passkey_do_not_log_in(app: Flask, people: People,
                                                                            client: FlaskClient) -> None:
    from signing.services import totp

    assert login(client, people.other_delegate.email).status_code == 302
    athens = _register_in(client, "Athens key")
    _logout(client)
    totp.begin_enrolment(people.delegate)  # unconfirmed: not yet a second factor
    assert login(client, people.delegate.email).status_code == 302
    _register_in(client)
    _logout(client)
    response = login(client, people.delegate.email)
    assert urlsplit(response.headers["Location"]).path == "/login/second-factor"
    token = csrf_token(client, "/login/second-factor")  # its token, for passkeys.js, even without a TOTP form
    options = _post(client, "/login/passkey/options", token).get_json()
    refused = _post(client, "/login/passkey", token, {"credential": athens.get(options)})
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "passkey_refused"
    # The same answer again: its challenge is spent.
    again = _post(client, "/login/passkey", token, {"credential": athens.get(options)})
    assert again.status_code == 400 and again.get_json()["error"]["code"] == "challenge_gone"
    assert urlsplit(client.get("/").headers["Location"]).path == "/login"


MALFORMED = [
    {}, {"id": 1}, {"id": "a", "rawId": 5, "response": []},
    {"id": "a", "rawId": "a", "type": "public-key", "response": {"clientDataJSON": 5}},
    {"id": "a", "rawId": "a", "type": "public-key",
     "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA", "attestationObject": "oA"}},
    {"id": "a", "rawId": "a", "type": "public-key",
     "response": {"clientDataJSON": "!!!", "authenticatorData": None, "signature": [], "attestationObject": {}}},
    {"id": "a", "rawId": "a", "type": "public-key",
     "response": {"clientDataJSON": "eyJ0eXBlIjogMX0", "attestationObject": "gA", "transports": 5}},
]


def test_malformed_passkey_answers_get_a_4xx(app: Flask, people: People, client: FlaskClient) -> None:
    from signing.services import passkeys

    register(people.delegate)
    for bad in MALFORMED:
        token = csrf_token(client, "/login")
        _post(client, "/login/passkey/options", token)
        response = _post(client, "/login/passkey", token, {"credential": bad})
        assert 400 <= response.status_code < 500 and response.get_json()["error"]["message"], bad
    login(client, people.other_delegate.email)
    for bad in MALFORMED:
        token = csrf_token(client, "/account")
        _post(client, "/account/passkeys/options", token)
        response = _post(client, "/account/passkeys", token, {"name": "Key", "credential": bad})
        assert 400 <= response.status_code < 500 and response.get_json()["error"]["message"], bad
    assert passkeys.list_for(people.other_delegate) == []


def test_json_endpoints_refuse_bad_input_with_a_clear_message(app: Flask, people: People,
                                                              client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    assert _post(client, "/login/passkey", token, {"credential": "nope"}).status_code == 400
    assert _post(client, "/login/passkey", token, {"credential": {}}).get_json()["error"]["code"] == "challenge_gone"
    _post(client, "/login/passkey/options", token)
    garbage = _post(client, "/login/passkey", token, {"credential": {"id": "x", "rawId": "!!", "response": {}}})
    assert garbage.status_code == 401
    assert client.post("/login/passkey/options", json={}).status_code == 400  # no CSRF header
    assert login(client, people.delegate.email).status_code == 302
    token = csrf_token(client, "/account")
    _post(client, "/account/passkeys/options", token)
    bad_name = _post(client, "/account/passkeys", token, {"name": "", "credential": {}})
    assert bad_name.status_code == 400 and "name" in bad_name.get_json()["error"]["message"]
