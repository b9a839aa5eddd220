"""Accounts end to end through the test client: invitations, logins, resets, sessions."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, link_in, login, message_text, read_mail

pytestmark = pytest.mark.usefixtures("fresh_g")

NEW_PASSWORD = "a brand new passphrase for accord"
LOGIN_FAILED = "Wrong e-mail address or password."


def mails_to(app: Flask, recipient: str) -> list[EmailMessage]:
    return [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if m["To"] == recipient]


def invite_delegate(client: FlaskClient, slug: str, email: str, name: str) -> Any:
    token = csrf_token(client, f"/admin/cities/{slug}")
    return client.post(f"/admin/cities/{slug}/invite", data={"csrf_token": token, "display_name": name, "email": email})


def set_password(client: FlaskClient, path: str, password: str = NEW_PASSWORD) -> Any:
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": password})


def logout(client: FlaskClient) -> Any:
    token = csrf_token(client, "/account")
    return client.post("/logout", data={"csrf_token": token})


def is_logged_in(client: FlaskClient) -> bool:
    response = client.get("/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    return False


def page_text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@contextmanager
def signed_in_the_past(seconds: int) -> Iterator[None]:
    """Links issued inside this block carry an itsdangerous timestamp ``seconds`` old.

    Only the link serializer is backdated: session cookies and CSRF tokens stay current.
    """
    from signing.services import links

    original = links._serializer

    class OldSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    def backdated(purpose: Any) -> Any:
        serializer = original(purpose)
        serializer.signer = OldSigner
        return serializer

    links._serializer = backdated  # type: ignore[assignment]
    try:
        yield
    finally:
        links._serializer = original  # type: ignore[assignment]


def invitation_link(app: Flask, client: FlaskClient, email: str = "ayse@b40.example", name: str = "Ayşe Yılmaz") -> str:
    response = invite_delegate(client, "izmir", email, name)
    assert response.status_code == 302, page_text(response)
    messages = mails_to(app, email)
    assert messages, "no invitation e-mail was written"
    return link_in(messages[-1], "/invitation/")


# --- invitations -------------------------------------------------------------------------------


@BACKENDS
def test_invitation_end_to_end(app: Flask, people: People, login_as: Callable[[str], FlaskClient]) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent, User

    secretariat = login_as("secretariat")
    path = invitation_link(app, secretariat)
    message = mails_to(app, "ayse@b40.example")[-1]
    assert "İzmir" in message["Subject"]
    assert "Ayşe Yılmaz" in message_text(message)

    invitee = app.test_client()
    page = invitee.get(path)
    assert page.status_code == 200
    assert "Ayşe Yılmaz" in page_text(page)
    assert "ayse@b40.example" in page_text(page)

    response = set_password(invitee, path)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    home = invitee.get("/")
    assert home.status_code == 200
    assert "Welcome, Ayşe Yılmaz" in page_text(home)

    user = db.session.scalar(select(User).where(User.email == "ayse@b40.example"))
    assert user is not None and user.city_id == people.city.id and user.role == "delegate"
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id))))
    assert {"user.invited", "user.invitation_accepted"} <= actions

    assert logout(invitee).status_code == 302
    assert not is_logged_in(invitee)
    assert login(invitee, "ayse@b40.example", "not the password at all").status_code == 401
    assert login(invitee, "ayse@b40.example", NEW_PASSWORD).status_code == 302
    assert "Welcome, Ayşe Yılmaz" in page_text(invitee.get("/"))


@BACKENDS
def test_invitation_link_works_once(app: Flask, people: People, login_as: Callable[[str], FlaskClient]) -> None:
    path = invitation_link(app, login_as("secretariat"))
    first = app.test_client()
    assert set_password(first, path).status_code == 302

    second = app.test_client()
    again = second.get(path)
    assert again.status_code == 410
    assert "already been used" in page_text(again)
    # Posting a password through the used link is refused too, and the password stays.
    response = second.post(path, data={"csrf_token": csrf_token(second, "/login"), "password": "x" * 20,
                                       "confirm": "x" * 20})
    assert response.status_code == 410
    assert login(second, "ayse@b40.example", "x" * 20).status_code == 401
    assert login(second, "ayse@b40.example", NEW_PASSWORD).status_code == 302


@BACKENDS
def test_tampered_invitation_link_is_a_clear_400(app: Flask, people: People,
                                                  login_as: Callable[[str], FlaskClient]) -> None:
    path = invitation_link(app, login_as("secretariat"))
    token = path.rsplit("/", 1)[1]
    payload, stamp, signature = token.split(".")
    swapped = ("B" if payload[0] != "B" else "C") + payload[1:]
    visitor = app.test_client()
    for bad in (f"{swapped}.{stamp}.{signature}", f"{payload}.{stamp}", "not-a-token", "x" * 600):
        response = visitor.get(f"/invitation/{bad}")
        assert response.status_code == 400, bad
        assert "not valid" in page_text(response)
    # The real link still works after the failed attempts.
    assert visitor.get(path).status_code == 200


@BACKENDS
def test_invitation_link_expired_in_the_database(app: Flask, people: People,
                                                 login_as: Callable[[str], FlaskClient]) -> None:
    from signing.extensions import db
    from signing.models import AccountLink, User, utcnow

    path = invitation_link(app, login_as("secretariat"))
    visitor = app.test_client()
    assert visitor.get(path).status_code == 200
    user = db.session.scalar(select(User).where(User.email == "ayse@b40.example"))
    link = db.session.scalar(select(AccountLink).where(AccountLink.user_id == user.id))
    assert link.expires_at - link.created_at == app.config["INVITATION_MAX_AGE"]
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = visitor.get(path)
    assert response.status_code == 410
    assert "expired" in page_text(response)
    late = app.test_client()
    token = csrf_token(late, "/login")
    response = late.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 410
    db.session.refresh(user)
    assert user.password_hash is None


@BACKENDS
def test_invitation_link_older_than_max_age_is_refused(app: Flask, people: People,
                                                       login_as: Callable[[str], FlaskClient]) -> None:
    """The signed timestamp is checked on its own, even while the database row is still live."""
    from signing.extensions import db
    from signing.models import AccountLink, User, utcnow

    secretariat = login_as("secretariat")
    max_age = app.config["INVITATION_MAX_AGE"]
    with signed_in_the_past(int(max_age.total_seconds()) + 60):
        path = invitation_link(app, secretariat)
    user = db.session.scalar(select(User).where(User.email == "ayse@b40.example"))
    link = db.session.scalar(select(AccountLink).where(AccountLink.user_id == user.id))
    assert link.expires_at > utcnow()
    response = app.test_client().get(path)
    assert response.status_code == 410
    assert "expired" in page_text(response)


def test_invitation_link_with_zero_max_age(app_factory: Callable[..., Flask]) -> None:
    from signing.models import Role
    from signing.services import accounts, cities

    app = app_factory(INVITATION_MAX_AGE=timedelta(seconds=0))
    with app.app_context():
        city = cities.create_city("İzmir", "Türkiye", None)
        accounts.invite("late@b40.example", "Late", Role.DELEGATE, city=city, actor=None)
        path = link_in(mails_to(app, "late@b40.example")[-1], "/invitation/")
    time.sleep(1.1)
    with app.app_context():
        response = app.test_client().get(path)
    assert response.status_code == 410
    assert "expired" in page_text(response)


@BACKENDS
def test_resend_replaces_the_older_link(app: Flask, people: People, login_as: Callable[[str], FlaskClient]) -> None:
    from signing.extensions import db
    from signing.models import User

    secretariat = login_as("secretariat")
    old_path = invitation_link(app, secretariat)
    user = db.session.scalar(select(User).where(User.email == "ayse@b40.example"))
    token = csrf_token(secretariat, "/admin/users")
    assert secretariat.post(f"/admin/users/{user.id}/resend", data={"csrf_token": token}).status_code == 302
    messages = mails_to(app, "ayse@b40.example")
    assert len(messages) == 2
    new_path = link_in(messages[-1], "/invitation/")
    assert new_path != old_path

    visitor = app.test_client()
    response = visitor.get(old_path)
    assert response.status_code == 410
    assert "replaced" in page_text(response)
    assert visitor.get(new_path).status_code == 200
    assert set_password(visitor, new_path).status_code == 302


# --- password reset ------------------------------------------------------------------------------

RESET_FLASH = "If that address belongs to an account, a reset link is on its way."


def request_reset(client: FlaskClient, email: str) -> Any:
    token = csrf_token(client, "/reset")
    return client.post("/reset", data={"csrf_token": token, "email": email}, follow_redirects=True)


@BACKENDS
def test_password_reset_flow(app: Flask, people: People) -> None:
    client = app.test_client()
    response = request_reset(client, "IZMIR@b40.example")
    assert response.status_code == 200
    assert RESET_FLASH in page_text(response)
    messages = mails_to(app, "izmir@b40.example")
    assert len(messages) == 1
    path = link_in(messages[0], "/reset/")

    assert client.get(path).status_code == 200
    assert set_password(client, path).status_code == 302
    assert is_logged_in(client)
    assert logout(client).status_code == 302

    assert login(client, "izmir@b40.example", PASSWORD).status_code == 401
    assert login(client, "izmir@b40.example", NEW_PASSWORD).status_code == 302
    # Single use.
    again = app.test_client().get(path)
    assert again.status_code == 410
    assert "already been used" in page_text(again)


@BACKENDS
def test_password_reset_for_unknown_address_says_the_same_and_sends_nothing(app: Flask, people: People) -> None:
    client = app.test_client()
    unknown = request_reset(client, "nobody@b40.example")
    assert unknown.status_code == 200
    assert RESET_FLASH in page_text(unknown)
    assert read_mail(app.config["MAIL_FILE_DIR"]) == []

    known = request_reset(client, "izmir@b40.example")
    assert known.status_code == unknown.status_code
    assert RESET_FLASH in page_text(known)
    assert len(read_mail(app.config["MAIL_FILE_DIR"])) == 1


@BACKENDS
def test_password_reset_link_expires(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import AccountLink, LinkPurpose

    max_age = app.config["PASSWORD_RESET_MAX_AGE"]
    client = app.test_client()
    with signed_in_the_past(int(max_age.total_seconds()) + 60):
        request_reset(client, "izmir@b40.example")
    old_signature = link_in(mails_to(app, "izmir@b40.example")[-1], "/reset/")
    response = client.get(old_signature)
    assert response.status_code == 410
    assert "expired" in page_text(response)

    request_reset(client, "izmir@b40.example")
    path = link_in(mails_to(app, "izmir@b40.example")[-1], "/reset/")
    assert client.get(path).status_code == 200
    link = db.session.scalar(
        select(AccountLink).where(AccountLink.purpose == LinkPurpose.PASSWORD_RESET.value,
                                  AccountLink.revoked_at.is_(None))
    )
    assert link.expires_at - link.created_at == max_age
    link.expires_at = link.created_at - timedelta(seconds=1)
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in page_text(response)
    assert login(client, "izmir@b40.example", PASSWORD).status_code == 302


# --- logging in ----------------------------------------------------------------------------------


def _error_message(response: Any) -> str:
    match = re.search(r'role="alert">([^<]*)<', page_text(response))
    assert match, page_text(response)
    return match.group(1)


@BACKENDS
def test_unknown_email_and_wrong_password_look_the_same(app: Flask, people: People) -> None:
    from signing.models import Role
    from signing.services import accounts

    accounts.invite("pending@b40.example", "Pending", Role.OBSERVER, city=None, actor=None)
    client = app.test_client()
    unknown = login(client, "nobody@b40.example", PASSWORD)
    wrong = login(client, "izmir@b40.example", "wrong password, sorry")
    no_password_yet = login(client, "pending@b40.example", "anything at all here")
    assert unknown.status_code == wrong.status_code == no_password_yet.status_code == 401
    assert _error_message(unknown) == _error_message(wrong) == _error_message(no_password_yet) == LOGIN_FAILED
    assert not is_logged_in(client)
    # The address is matched case-insensitively.
    assert login(client, "IZMIR@B40.Example", PASSWORD).status_code == 302


@BACKENDS
def test_deactivated_user_is_logged_out_and_cannot_log_in(app: Flask, people: People) -> None:
    delegate = app.test_client()
    assert login(delegate, people.delegate.email).status_code == 302
    assert is_logged_in(delegate)

    secretariat = app.test_client()
    assert login(secretariat, people.secretariat.email).status_code == 302
    token = csrf_token(secretariat, "/admin/users")
    response = secretariat.post(f"/admin/users/{people.delegate.id}/deactivate", data={"csrf_token": token})
    assert response.status_code == 302

    assert not is_logged_in(delegate)
    refused = login(delegate, people.delegate.email)
    assert refused.status_code == 401
    assert _error_message(refused) == LOGIN_FAILED
    assert is_logged_in(secretariat)

    token = csrf_token(secretariat, "/admin/users")
    secretariat.post(f"/admin/users/{people.delegate.id}/reactivate", data={"csrf_token": token})
    assert login(delegate, people.delegate.email).status_code == 302


@BACKENDS
def test_password_change_logs_out_other_sessions(app: Flask, people: People) -> None:
    laptop, phone = app.test_client(), app.test_client()
    assert login(laptop, people.delegate.email).status_code == 302
    assert login(phone, people.delegate.email).status_code == 302
    assert is_logged_in(laptop) and is_logged_in(phone)

    token = csrf_token(laptop, "/account")
    wrong = laptop.post("/account", data={"csrf_token": token, "current": "not it at all",
                                          "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert wrong.status_code == 400
    assert is_logged_in(phone)

    token = csrf_token(laptop, "/account")
    response = laptop.post("/account", data={"csrf_token": token, "current": PASSWORD,
                                             "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert is_logged_in(laptop)
    assert not is_logged_in(phone)
    assert login(phone, people.delegate.email, PASSWORD).status_code == 401
    assert login(phone, people.delegate.email, NEW_PASSWORD).status_code == 302


# --- cookies, headers, limits --------------------------------------------------------------------


def _session_cookie(response: Any) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return str(cookies[0])


@BACKENDS
def test_session_cookie_flags(app: Flask, people: People) -> None:
    client = app.test_client()
    client.get("/login")
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": people.delegate.email,
                                           "password": PASSWORD})
    cookie = _session_cookie(response)
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes.get("samesite") == "SameSite=Lax"
    assert "secure" not in attributes


def test_session_cookie_is_secure_when_configured(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(SESSION_COOKIE_SECURE=True)
    with app.app_context():
        response = app.test_client().get("/login")
    cookie = _session_cookie(response).lower()
    assert "; secure" in cookie
    assert "; httponly" in cookie
    assert "samesite=lax" in cookie


@BACKENDS
def test_security_headers_on_every_response(app: Flask, people: People) -> None:
    anonymous = app.test_client()
    member = app.test_client()
    login(member, people.secretariat.email)
    responses = {
        "login page": anonymous.get("/login"),
        "redirect to login": anonymous.get("/"),
        "health (JSON)": anonymous.get("/healthz"),
        "not found": anonymous.get("/no/such/page"),
        "method not allowed": anonymous.get("/logout"),
        "bad link": anonymous.get("/invitation/bogus"),
        "csrf failure": anonymous.post("/login", data={"email": "x@b40.example"}),
        "static file": anonymous.get("/static/css/app.css"),
        "home": member.get("/"),
        "admin page": member.get("/admin/cities"),
    }
    for name, response in responses.items():
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert csp, f"{name}: no Content-Security-Policy"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, f"{name}: {csp}"
        assert "frame-ancestors 'none'" in csp, f"{name}: {csp}"
        assert "default-src 'self'" in csp, f"{name}: {csp}"
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("Referrer-Policy") in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"}, name
        if response.mimetype == "text/html":
            assert "no-store" in headers.get("Cache-Control", ""), name
            body = page_text(response)
            # The policy forbids inline code, so pages must not carry any.
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), f"{name}: inline <script>"
            assert not re.search(r"\sstyle=|<style", body), f"{name}: inline style"
            assert not re.search(r"\son[a-z]+=", body), f"{name}: inline event handler"


def test_login_rate_limit(app_factory: Callable[..., Flask]) -> None:
    from signing.models import Role
    from signing.services import accounts

    app = app_factory(LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        accounts.create_user("limit@b40.example", "Limited", Role.OBSERVER, password=PASSWORD)
        client = app.test_client()
        token = csrf_token(client, "/login")
        data = {"csrf_token": token, "email": "limit@b40.example", "password": "wrong password, again"}
        statuses = [client.post("/login", data=data).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        limited = client.post("/login", data={**data, "password": PASSWORD})
        assert limited.status_code == 429
        assert "Too many attempts" in page_text(limited)
        # The form itself still shows; only attempts are limited.
        assert client.get("/login").status_code == 200


# --- e-mail uniqueness, redirects ----------------------------------------------------------------


@BACKENDS
def test_emails_are_unique_case_insensitively(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import Role, User
    from signing.services import Conflict, accounts

    first = accounts.create_user("a@b40.example", "A", Role.OBSERVER)
    with pytest.raises(Conflict):
        accounts.create_user("A@b40.example", "Also A", Role.OBSERVER)
    db.session.rollback()
    with pytest.raises(Conflict):
        accounts.invite("A@B40.EXAMPLE", "Also A", Role.OBSERVER, city=None, actor=None)
    db.session.rollback()
    assert first.email == "a@b40.example"

    # The database itself refuses, whatever path the write takes.
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO users (email, display_name, role, active, session_epoch, created_at, updated_at) "
                "VALUES (:email, 'Raw', 'observer', :active, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"email": "A@b40.example", "active": True},
        )
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    # A different address is fine through the same statement (the failure above was the index).
    db.session.execute(
        text(
            "INSERT INTO users (email, display_name, role, active, session_epoch, created_at, updated_at) "
            "VALUES (:email, 'Raw', 'observer', :active, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"email": "B@b40.example", "active": True},
    )
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(User)) == 2


@BACKENDS
@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "//evil.example/account", "/\\evil.example", "javascript:alert(1)",
     "http:/evil.example"],
)
def test_next_parameter_refuses_off_site_redirects(app: Flask, people: People, target: str) -> None:
    client = app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = login_with_next(client, people.delegate.email, target)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in {"", "localhost"}, response.headers["Location"]
    assert location.path == "/"


@BACKENDS
def test_next_parameter_keeps_same_site_paths(app: Flask, people: People) -> None:
    client = app.test_client()
    sent = client.get("/account")
    assert sent.status_code == 302
    assert "next=" in sent.headers["Location"]
    response = login_with_next(client, people.delegate.email, "/account")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account"


def login_with_next(client: FlaskClient, email: str, target: str) -> Any:
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": target})
