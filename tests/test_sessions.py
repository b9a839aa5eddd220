"""Server-side session records: logout ends the session on the server, the account page lists them."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, login

pytestmark = pytest.mark.usefixtures("fresh_g")

NEW_PASSWORD = "a brand new passphrase for accord"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """A new client (another browser) carrying a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value, domain="localhost")
    return thief


def logged_in(client: FlaskClient) -> bool:
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    return False


def login_from(app: Flask, email: str, agent: str, address: str = "127.0.0.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": address})
    assert login(client, email).status_code == 302
    return client


def session_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'action="/account/sessions/(\d+)/end"', page)]


@BACKENDS
def test_logout_ends_the_session_on_the_server(app: Flask, people: People) -> None:
    client = app.test_client()
    assert login(client, people.delegate.email).status_code == 302
    copied = session_cookie(client)
    assert logged_in(with_cookie(app, copied))

    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not logged_in(client)
    # The copy of the cookie taken before logging out no longer opens the account.
    assert not logged_in(with_cookie(app, copied))


@BACKENDS
def test_account_page_lists_sessions_and_ends_one(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import UserSession

    laptop = login_from(app, people.delegate.email, FIREFOX, "198.51.100.7")
    phone = login_from(app, people.delegate.email, SAFARI_IPHONE, "203.0.113.9")
    other = login_from(app, people.other_delegate.email, FIREFOX)

    page = laptop.get("/account").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Safari on iPhone" in page
    assert "198.51.100.7" in page and "203.0.113.9" in page
    assert "this device" in page
    mine = session_ids(page)
    assert len(mine) == 2

    records = {s.id: s for s in db.session.scalars(select(UserSession))}
    phone_id = next(i for i in mine if records[i].client_address == "203.0.113.9")
    others_id = next(i for i, s in records.items() if s.user_id == people.other_delegate.id)

    token = csrf_token(laptop, "/account")
    # Someone else's session cannot be ended from here: as if it did not exist.
    assert laptop.post(f"/account/sessions/{others_id}/end", data={"csrf_token": token}).status_code == 404
    assert logged_in(other)

    response = laptop.post(f"/account/sessions/{phone_id}/end", data={"csrf_token": token})
    assert response.status_code == 302
    assert not logged_in(phone)
    assert logged_in(laptop)
    assert session_ids(laptop.get("/account").get_data(as_text=True)) == [i for i in mine if i != phone_id]
    # Ending it twice is a clear conflict, not an error.
    assert laptop.post(f"/account/sessions/{phone_id}/end", data={"csrf_token": token}).status_code == 409


@BACKENDS
def test_log_out_everywhere(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent

    laptop = login_from(app, people.delegate.email, FIREFOX)
    phone = login_from(app, people.delegate.email, SAFARI_IPHONE)
    copied = session_cookie(laptop)
    token = csrf_token(laptop, "/account")
    response = laptop.post("/account/sessions/end-all", data={"csrf_token": token})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert not logged_in(laptop) and not logged_in(phone) and not logged_in(with_cookie(app, copied))
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "session.logout_everywhere" in actions


@BACKENDS
def test_password_change_and_deactivation_end_the_records(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import UserSession

    laptop = login_from(app, people.delegate.email, FIREFOX)
    phone = login_from(app, people.delegate.email, SAFARI_IPHONE)
    token = csrf_token(laptop, "/account")
    laptop.post("/account", data={"csrf_token": token, "current": PASSWORD, "password": NEW_PASSWORD,
                                  "confirm": NEW_PASSWORD})
    db.session.expire_all()
    live = [s for s in db.session.scalars(select(UserSession)) if s.ended_at is None]
    assert len(live) == 1  # the laptop's new session only
    assert not logged_in(phone) and logged_in(laptop)

    secretariat = login_from(app, people.secretariat.email, FIREFOX)
    token = csrf_token(secretariat, "/admin/users")
    secretariat.post(f"/admin/users/{people.delegate.id}/deactivate", data={"csrf_token": token})
    db.session.expire_all()
    assert all(s.ended_at is not None for s in db.session.scalars(
        select(UserSession).where(UserSession.user_id == people.delegate.id)))
    assert not logged_in(laptop)


def test_last_seen_is_updated_at_most_once_a_minute(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import UserSession

    client = login_from(app, people.delegate.email, FIREFOX)
    record = db.session.scalars(select(UserSession)).one()
    first_seen = record.last_seen_at
    client.get("/account")
    db.session.refresh(record)
    assert record.last_seen_at == first_seen
    record.last_seen_at = first_seen - timedelta(minutes=2)
    db.session.commit()
    client.get("/account")
    db.session.refresh(record)
    assert record.last_seen_at > first_seen - timedelta(minutes=1)


def test_security_events_are_audited_and_shown_to_the_owner(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent

    client = app.test_client()
    assert login(client, people.delegate.email, "wrong password, sorry").status_code == 401
    assert login(client, people.delegate.email).status_code == 302
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "user.login_failed" in actions and "user.login" in actions
    page = client.get("/account").get_data(as_text=True)
    assert "Recent security events" in page
    assert "Failed log-in" in page and "Logged in" in page
    # Someone else's events are not shown.
    other = login_from(app, people.other_delegate.email, FIREFOX)
    assert "Failed log-in" not in other.get("/account").get_data(as_text=True)


def test_a_forged_session_id_opens_nothing(app: Flask, people: People) -> None:
    """A cookie signed with the key but naming no session record (or an ended one) is anonymous."""
    client = app.test_client()
    assert login(client, people.delegate.email).status_code == 302
    with client.session_transaction() as flask_session:
        flask_session["sid"] = "not-a-session-id"
    assert not logged_in(client)
