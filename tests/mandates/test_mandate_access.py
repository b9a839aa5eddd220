"""The mayor on the web: the Mandates page and its JSON endpoints (the mayor's only), keys, no signing of
declarations; bad input is a clear 4xx that changes nothing; the secretariat invites one mayor per city."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import csrf_token, login
from tests.mandates.conftest import MandateScene

FAR = (datetime.now(UTC) + timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(model: Any) -> int:
    from signing.extensions import db

    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def _post(client: FlaskClient, path: str, body: Any) -> Any:
    return client.post(path, json=body, headers={"X-CSRFToken": csrf_token(client, "/account/keys")})


def test_the_mayors_page_and_routes(client: FlaskClient, mscene: MandateScene) -> None:
    assert client.get("/mandates").status_code == 302  # to log in
    assert login(client, mscene.people.delegate.email).status_code == 302
    assert client.get("/mandates").status_code == 403
    assert _post(client, "/mandates/payload", {"key_fingerprint": mscene.izmir.fingerprint, "delegate_id": 1,
                                              "scope": "network", "valid_until": FAR}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/keys")})

    assert login(client, mscene.mayor.user.email).status_code == 302
    page = client.get("/mandates")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Mandates of İzmir" in html and "İzmir delegate" in html and mscene.izmir.fingerprint in html
    assert "Athens delegate" not in html
    assert client.get("/account/keys").status_code == 200
    assert client.get("/declarations/decl/sign").status_code == 403  # a mayor signs no declaration
    refused = _post(client, "/declarations/decl/sign/payload", {"key_fingerprint": mscene.mayor.fingerprint})
    assert refused.status_code == 403


def test_bad_input_is_a_clear_4xx_that_changes_nothing(client: FlaskClient, mscene: MandateScene) -> None:
    from signing.models import IssuedMandateStatement, Mandate

    login(client, mscene.mayor.user.email)
    good = {"key_fingerprint": mscene.mayor.fingerprint, "delegate_id": mscene.izmir.user.id, "scope": "network",
            "valid_until": FAR}
    cases = [
        ({**good, "scope": "declaration:nowhere"}, 400, "bad_scope"),
        ({**good, "scope": "everything"}, 400, "bad_scope"),
        ({**good, "valid_until": "2020-01-01T00:00:00Z"}, 400, "bad_validity"),
        ({**good, "valid_until": "2040-01-01T00:00:00Z"}, 400, "bad_validity"),
        ({**good, "valid_until": "tomorrow"}, 400, None),
        ({**good, "valid_until": FAR.removesuffix("Z")}, 400, None),  # no time zone
        ({**good, "delegate_id": mscene.athens.user.id}, 404, None),  # another city's delegate
        ({**good, "delegate_id": 999_999}, 404, None),
        ({**good, "key_fingerprints": [mscene.athens.fingerprint]}, 400, "bad_keys"),
        ({**good, "key_fingerprint": mscene.izmir.fingerprint}, 404, None),  # not the mayor's key
        ({**good, "key_fingerprint": "not a fingerprint"}, 400, None),
        ({"scope": "network"}, 400, None),
    ]
    for body, status, code in cases:
        response = _post(client, "/mandates/payload", body)
        assert response.status_code == status, (body, response.get_json())
        assert response.is_json, (body, response.status_code, response.get_data(as_text=True)[:300])
        error = response.get_json()["error"]
        assert error["message"] and (code is None or error["code"] == code), (body, error)
    for path in ("/mandates/submit", "/mandates/revoke/submit"):
        response = _post(client, path, {"payload": "e30=", "signature": "A" * 86 + "=="})
        assert response.status_code == 400, response.get_json()
    assert _post(client, "/mandates/999999/revoke/payload", {"key_fingerprint": mscene.mayor.fingerprint}
                 ).status_code == 404
    assert client.post("/mandates/payload", json=good).status_code == 400  # no CSRF token
    assert (_count(IssuedMandateStatement), _count(Mandate)) == (0, 0)
    assert _post(client, "/mandates/payload", good).status_code == 201
    assert (_count(IssuedMandateStatement), _count(Mandate)) == (1, 0)


def test_the_secretariat_invites_one_mayor_per_city(client: FlaskClient, mscene: MandateScene) -> None:
    from signing.models import Role, User
    from signing.services import accounts

    login(client, mscene.people.secretariat.email)
    token = csrf_token(client, "/admin/cities/athens")
    response = client.post("/admin/cities/athens/invite", data={
        "csrf_token": token, "display_name": "Mayor of Athens", "email": "mayor@athens.example", "role": "mayor"})
    assert response.status_code == 302
    invited = accounts.find_by_email("mayor@athens.example")
    assert invited is not None and invited.role == Role.MAYOR and invited.city_id == mscene.people.other_city.id
    response = client.post("/admin/cities/izmir/invite", data={
        "csrf_token": token, "display_name": "Another", "email": "another@izmir.example", "role": "mayor"})
    assert response.status_code == 409
    assert "İzmir already has a mayor: Mayor of İzmir." in response.get_data(as_text=True)
    assert accounts.find_by_email("another@izmir.example") is None
    assert _count(User) == 6
