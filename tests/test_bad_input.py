"""Hostile or broken input: always a clear 4xx with a message, nothing written, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, link_in, login, read_mail

pytestmark = pytest.mark.usefixtures("fresh_g")


def counts() -> dict[str, int]:
    from signing.extensions import db
    from signing.models import AuditEvent, City, OutboxEmail, User

    db.session.expire_all()
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (User, City, AuditEvent, OutboxEmail)
    }


def text_of(response: Any) -> str:
    return str(response.get_data(as_text=True))


def refused(response: Any, status: int, message: str | None = None) -> None:
    assert response.status_code < 500, text_of(response)[:2000]
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {text_of(response)[:800]}"
    if message is not None:
        assert message in text_of(response), text_of(response)[:2000]


def invite(client: FlaskClient, name: str, email: str, slug: str = "izmir") -> Any:
    token = csrf_token(client, "/account")
    return client.post(f"/admin/cities/{slug}/invite", data={"csrf_token": token, "display_name": name,
                                                              "email": email})


def invite_observer(client: FlaskClient, name: str, email: str) -> Any:
    token = csrf_token(client, "/account")
    return client.post("/admin/users", data={"csrf_token": token, "display_name": name, "email": email,
                                             "role": "observer"})


@pytest.fixture
def secretariat(login_as: Callable[[str], FlaskClient]) -> FlaskClient:
    return login_as("secretariat")


@BACKENDS
def test_overlong_fields_are_refused(app: Flask, people: People, secretariat: FlaskClient) -> None:
    before = counts()
    refused(invite(secretariat, "N" * 10_000, "long@b40.example"), 400, "120 characters")
    refused(invite_observer(secretariat, "N" * 10_000, "long@b40.example"), 400, "120 characters")
    long_email = "a" * 288 + "@b40.example"
    assert len(long_email) == 300
    refused(invite(secretariat, "Long", long_email), 400, "254 characters")
    refused(invite_observer(secretariat, "Long", long_email), 400, "254 characters")
    token = csrf_token(secretariat, "/account")
    refused(secretariat.post("/admin/cities/new", data={"csrf_token": token, "name": "C" * 10_000,
                                                        "country": "Nowhere"}), 400, "120 characters")
    refused(secretariat.post("/admin/cities/izmir/edit", data={"csrf_token": token, "name": "C" * 10_000,
                                                               "country": "Türkiye"}), 400, "120 characters")
    refused(secretariat.post("/account", data={"csrf_token": token, "current": PASSWORD, "password": "p" * 10_000,
                                               "confirm": "p" * 10_000}), 400, "256 characters")
    assert counts() == before

    anonymous = app.test_client()
    token = csrf_token(anonymous, "/login")
    refused(anonymous.post("/login", data={"csrf_token": token, "email": long_email, "password": PASSWORD}), 400)
    refused(anonymous.post("/login", data={"csrf_token": token, "email": people.delegate.email,
                                           "password": "p" * 10_000}), 400, "256 characters")
    refused(anonymous.post("/reset", data={"csrf_token": token, "email": long_email}), 400, "254 characters")
    assert counts() == before
    assert read_mail(app.config["MAIL_FILE_DIR"]) == []
    # The old password still works, and the city kept its name.
    assert login(app.test_client(), people.secretariat.email).status_code == 302
    assert people.city.name == "İzmir"


@BACKENDS
def test_overlong_password_on_an_invitation_link(app: Flask, people: People, secretariat: FlaskClient) -> None:
    from signing.extensions import db
    from signing.models import User

    assert invite(secretariat, "Ayşe", "ayse@b40.example").status_code == 302
    path = link_in(read_mail(app.config["MAIL_FILE_DIR"])[-1], "/invitation/")
    invitee = app.test_client()
    token = csrf_token(invitee, path)
    refused(invitee.post(path, data={"csrf_token": token, "password": "p" * 10_000, "confirm": "p" * 10_000}),
            400, "256 characters")
    refused(invitee.post(path, data={"csrf_token": token, "password": "short", "confirm": "short"}),
            400, "at least 12 characters")
    user = db.session.scalar(select(User).where(User.email == "ayse@b40.example"))
    assert user is not None and user.password_hash is None
    # The link was not used up by the refused attempts.
    assert invitee.get(path).status_code == 200


@BACKENDS
@pytest.mark.parametrize(
    "body",
    [
        b"email=%ff%fe&password=x&csrf_token={token}",
        b"email=sec%40b40.example&password=%c3%28&csrf_token={token}",
        b"email=\xff\xfe@b40.example&password=x&csrf_token={token}",
    ],
)
def test_form_body_that_is_not_utf8_is_refused(app: Flask, people: People, body: bytes) -> None:
    client = app.test_client()
    token = csrf_token(client, "/login").encode("ascii")
    response = client.post("/login", data=body.replace(b"{token}", token),
                           content_type="application/x-www-form-urlencoded")
    refused(response, 400, "not valid UTF-8")


@BACKENDS
def test_utf8_form_body_is_accepted(app: Flask, people: People, secretariat: FlaskClient) -> None:
    from urllib.parse import quote

    token = csrf_token(secretariat, "/account")
    body = f"csrf_token={token}&display_name={quote('Ayşe Yılmaz')}&email=ayse%40b40.example"
    response = secretariat.post("/admin/cities/izmir/invite", data=body.encode("ascii"),
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302, text_of(response)[:800]
    from signing.services import accounts

    user = accounts.find_by_email("ayse@b40.example")
    assert user is not None and user.display_name == "Ayşe Yılmaz"


@BACKENDS
@pytest.mark.parametrize("bad", ["Bad\x00Name", "Bell\x07", "Esc\x1b[31mred", "Del\x7f", "Replacement \ufffd"])
def test_control_characters_in_names_are_refused(app: Flask, people: People, secretariat: FlaskClient,
                                                 bad: str) -> None:
    before = counts()
    refused(invite(secretariat, bad, "ctrl@b40.example"), 400, "not allowed")
    refused(invite_observer(secretariat, bad, "ctrl@b40.example"), 400, "not allowed")
    token = csrf_token(secretariat, "/account")
    refused(secretariat.post("/admin/cities/new", data={"csrf_token": token, "name": bad, "country": "X"}),
            400, "not allowed")
    refused(secretariat.post("/admin/cities/izmir/edit", data={"csrf_token": token, "name": bad,
                                                               "country": "Türkiye"}), 400, "not allowed")
    anonymous = app.test_client()
    token = csrf_token(anonymous, "/login")
    response = anonymous.post("/login", data={"csrf_token": token, "email": f"sec{bad}@b40.example",
                                              "password": PASSWORD})
    assert 400 <= response.status_code < 500
    assert counts() == before
    assert people.city.name == "İzmir"


@BACKENDS
def test_body_over_the_size_limit_is_refused(app: Flask, people: People) -> None:
    client = app.test_client()
    token = csrf_token(client, "/login")
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    refused(client.post("/login", data={"csrf_token": token, "email": "sec@b40.example", "password": big}),
            413, "too large")
    secretariat = app.test_client()
    login(secretariat, people.secretariat.email)
    before = counts()
    token = csrf_token(secretariat, "/account")
    refused(secretariat.post("/admin/cities/izmir/invite",
                             data={"csrf_token": token, "display_name": big, "email": "big@b40.example"}),
            413, "too large")
    assert counts() == before


@BACKENDS
def test_unknown_city_is_404(app: Flask, people: People, secretariat: FlaskClient) -> None:
    for path in ("/admin/cities/atlantis", "/admin/cities/atlantis/edit", "/cities/atlantis"):
        refused(secretariat.get(path), 404, "No such city")
    token = csrf_token(secretariat, "/account")
    before = counts()
    refused(secretariat.post("/admin/cities/atlantis/invite", data={"csrf_token": token, "display_name": "X",
                                                                    "email": "x@b40.example"}), 404)
    refused(secretariat.post("/admin/cities/atlantis/edit", data={"csrf_token": token, "name": "X",
                                                                  "country": "Y"}), 404)
    refused(secretariat.get("/admin/cities/%C4%B0zmir"), 404)
    assert counts() == before


@BACKENDS
@pytest.mark.parametrize("action", ["resend", "deactivate", "reactivate"])
@pytest.mark.parametrize("user_id", [0, 987_654, 2**31, 2**63])
def test_unknown_user_is_404(app: Flask, people: People, secretariat: FlaskClient, action: str,
                             user_id: int) -> None:
    token = csrf_token(secretariat, "/account")
    before = counts()
    refused(secretariat.post(f"/admin/users/{user_id}/{action}", data={"csrf_token": token}), 404)
    assert counts() == before


@BACKENDS
def test_non_numeric_user_id_is_404(app: Flask, people: People, secretariat: FlaskClient) -> None:
    token = csrf_token(secretariat, "/account")
    for user_id in ("abc", "-1", "1.5", "%00"):
        refused(secretariat.post(f"/admin/users/{user_id}/deactivate", data={"csrf_token": token}), 404)


@BACKENDS
@pytest.mark.parametrize("email", ["izmir@b40.example", "IZMIR@B40.example", "Izmir@b40.Example"])
def test_invite_with_an_existing_email_is_409(app: Flask, people: People, secretariat: FlaskClient,
                                              email: str) -> None:
    before = counts()
    refused(invite(secretariat, "Second İzmir", email), 409, "already exists")
    refused(invite_observer(secretariat, "Second İzmir", email), 409, "already exists")
    assert counts() == before


@BACKENDS
@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@", "@b40.example", "a@b@b40.example", "a b@b40.example", "a@b40..example",
     "a@b40.example\r\nBcc: victim@example.org"],
)
def test_invalid_email_syntax_is_400(app: Flask, people: People, secretariat: FlaskClient, email: str) -> None:
    before = counts()
    refused(invite(secretariat, "Someone", email), 400)
    refused(invite_observer(secretariat, "Someone", email), 400)
    assert counts() == before
    assert read_mail(app.config["MAIL_FILE_DIR"]) == []


@BACKENDS
def test_bogus_links_and_methods_never_500(app: Flask, people: People) -> None:
    client = app.test_client()
    token = csrf_token(client, "/login")
    for path in ("/invitation/", "/reset/"):
        for bogus in ("x", "a.b.c", "%00", "x" * 5000, "..%2F..%2Fetc%2Fpasswd", "İ"):
            response = client.get(path + bogus)
            assert 400 <= response.status_code < 500, (path, bogus, response.status_code)
            response = client.post(path + bogus, data={"csrf_token": token, "password": "p" * 20,
                                                       "confirm": "p" * 20})
            assert 400 <= response.status_code < 500, (path, bogus, response.status_code)
    refused(client.get("/logout"), 405)
    refused(client.put("/login", data={"csrf_token": token}), 405)
    refused(client.post("/login", json={"email": "sec@b40.example", "password": PASSWORD}), 400)
    refused(client.post("/login", data={"csrf_token": token, "email": ["a@b40.example", "b@b40.example"],
                                        "password": PASSWORD}), 401)
