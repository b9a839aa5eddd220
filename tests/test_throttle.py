"""Per-account throttle of password checks (log-in, key enrolment in the browser and the API)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, People, csrf_token, login, read_mail

pytestmark = pytest.mark.usefixtures("fresh_g")

WRONG = "not the password at all"
ADDRESSES = ("198.51.100.1", "198.51.100.2", "198.51.100.3")


def from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempts(app: Flask, email: str, count: int) -> list[int]:
    """``count`` wrong passwords for ``email``, spread over three addresses."""
    clients = [from_address(app, a) for a in ADDRESSES]
    return [login(clients[n % 3], email, WRONG).status_code for n in range(count)]


def new_public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                 serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def failure_mails(app: Flask, recipient: str) -> list[Any]:
    return [m for m in read_mail(app.config["MAIL_FILE_DIR"])
            if m["To"] == recipient and "Failed attempts" in str(m["Subject"])]


def test_login_is_throttled_per_account_from_every_address(app: Flask, people: People) -> None:
    known = attempts(app, people.delegate.email, 30)
    assert known[:5] == [401] * 5
    assert known.count(429) >= 20
    # An address with no account is answered exactly the same way.
    assert attempts(app, "nobody@b40.example", 30) == known
    # The owner hears of it, once (at most one e-mail an hour).
    assert len(failure_mails(app, people.delegate.email)) == 1
    # Another account is not affected.
    assert login(from_address(app, ADDRESSES[0]), people.other_delegate.email).status_code == 302


def test_the_wait_is_said_and_bounded(app_factory: Callable[..., Flask]) -> None:
    from signing.models import Role
    from signing.services import accounts

    app = app_factory(ACCOUNT_THROTTLE_FREE_FAILURES=2, ACCOUNT_THROTTLE_MAX_DELAY=1)
    with app.app_context():
        accounts.create_user("owner@b40.example", "Owner", Role.OBSERVER, password=PASSWORD)
        client = from_address(app, ADDRESSES[0])
        assert [login(client, "owner@b40.example", WRONG).status_code for _ in range(2)] == [401, 401]
        waiting = login(client, "owner@b40.example", PASSWORD)  # even the right password waits
        assert waiting.status_code == 429
        assert waiting.headers["Retry-After"].isdigit()
        assert "Too many failed password attempts for this account. Wait 1 second " in waiting.get_data(as_text=True)
        time.sleep(1.1)  # never longer than ACCOUNT_THROTTLE_MAX_DELAY: the owner gets in
        assert login(client, "owner@b40.example", PASSWORD).status_code == 302


def test_api_key_enrolment_is_throttled_per_account(app: Flask, people: People) -> None:
    from signing.services import tokens

    _, secret = tokens.create(people.delegate, "laptop")
    client = app.test_client()
    statuses = []
    for _ in range(15):
        response = client.post("/api/v1/keys", headers={"Authorization": f"Bearer {secret}"},
                               json={"public_key": new_public_key(), "label": "cli", "password": WRONG,
                                     "origin": "cli"})
        statuses.append(response.status_code)
    assert statuses[:5] == [403] * 5
    assert statuses.count(429) >= 9
    assert response.get_json()["error"]["code"] == "too_many_attempts"
    assert response.headers["Retry-After"].isdigit()
    # The same account counter as the log-in: the browser must wait too.
    assert login(app.test_client(), people.delegate.email, PASSWORD).status_code == 429


def test_api_key_enrolment_is_limited_per_address(app_factory: Callable[..., Flask]) -> None:
    from tests.conftest import seed_people

    app = app_factory(KEY_ENROL_RATE_LIMIT="2 per minute")
    with app.app_context():
        people = seed_people()
        from signing.services import tokens

        secret = tokens.create(people.delegate, "laptop")[1]
        client = app.test_client()
        statuses = [client.post("/api/v1/keys", headers={"Authorization": f"Bearer {secret}"},
                                json={"public_key": new_public_key(), "label": f"k{n}", "password": PASSWORD,
                                      "origin": "cli"}).status_code for n in range(3)]
        assert statuses == [201, 201, 429]


def test_browser_enrolment_failures_count_for_the_account(app: Flask, people: People) -> None:
    client = from_address(app, ADDRESSES[0])
    assert login(client, people.delegate.email).status_code == 302
    token = csrf_token(client, "/account")
    statuses = [client.post("/account/keys", headers={"X-CSRFToken": token},
                            json={"public_key": new_public_key(), "label": "Phone", "password": WRONG}).status_code
                for _ in range(7)]
    assert statuses[:5] == [403] * 5 and statuses[-1] == 429
    assert login(from_address(app, ADDRESSES[1]), people.delegate.email).status_code == 429


def test_eleven_delegates_enrol_from_one_office_address(app_factory: Callable[..., Flask]) -> None:
    """Key enrolment no longer shares the log-in's per-address limit (10 a minute by default)."""
    from signing.models import Role
    from signing.services import accounts, cities

    app = app_factory(LOGIN_RATE_LIMIT="10 per minute;50 per hour")
    with app.app_context():
        city = cities.create_city("Sofia", "Bulgaria", None)
        statuses = []
        for n in range(11):
            email = f"delegate{n}@sofia.example"
            accounts.create_user(email, f"Delegate {n}", Role.DELEGATE, city=city, password=PASSWORD)
            client = from_address(app, f"192.0.2.{n + 1}")  # each logs in from home...
            assert login(client, email).status_code == 302
            token = csrf_token(client, "/account")
            client.environ_base["REMOTE_ADDR"] = "203.0.113.50"  # ...and enrols from the office
            response = client.post("/account/keys", headers={"X-CSRFToken": token},
                                   json={"public_key": new_public_key(), "label": "Office", "password": PASSWORD})
            statuses.append(response.status_code)
        assert statuses == [201] * 11
