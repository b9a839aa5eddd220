"""TOTP as a second factor: enrolment, codes accepted once, clock skew, recovery codes, turning it off,
the login step after the password, and the secretariat's required enrolment in production mode."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, login, seed_people

pytestmark = pytest.mark.usefixtures("fresh_g")

T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def enrol(user: Any, when: datetime = T0) -> tuple[str, list[str]]:
    """Turn TOTP on for ``user`` at ``when``; returns the secret and the recovery codes."""
    from signing.services import totp

    row = totp.begin_enrolment(user)
    secret = row.secret
    return secret, totp.confirm_enrolment(user, code_at(secret, when), now=when)


def actions(user: Any) -> list[str]:
    from signing.extensions import db
    from signing.models import AuditEvent

    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "users",
                                                                   AuditEvent.object_id == str(user.id))
                                   .order_by(AuditEvent.id)))


# --- The service --------------------------------------------------------------------------------------


@BACKENDS
def test_enrolment_needs_a_right_first_code_and_gives_ten_hashed_recovery_codes(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import RecoveryCode
    from signing.services import ServiceError, second_factor, totp

    user = people.delegate
    row = totp.begin_enrolment(user)
    assert totp.pending(user) is not None and not second_factor.has_totp(user)
    with pytest.raises(ServiceError):
        totp.confirm_enrolment(user, "000000" if code_at(row.secret, T0) != "000000" else "111111", now=T0)
    assert not second_factor.has_totp(user)
    secret, codes = row.secret, totp.confirm_enrolment(user, code_at(row.secret, T0), now=T0)
    assert second_factor.has_totp(user) and totp.pending(user) is None
    assert len(codes) == 10 == len(set(codes))
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in codes)
    stored = list(db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)))
    assert len(stored) == 10 and not set(codes) & set(stored)  # only hashes are kept
    assert "user.second_factor_enrolled" in actions(user)
    assert secret not in str(actions(user))


def test_a_code_is_accepted_once_and_earlier_steps_are_refused(app: Flask, people: People) -> None:
    from signing.services import totp

    user = people.delegate
    secret, _ = enrol(user, T0)
    # The enrolment used T0's step: the same code at login is a replay.
    assert totp.check_login_code(user, code_at(secret, T0), now=T0) is None
    later = T0 + timedelta(seconds=30)
    assert totp.check_login_code(user, code_at(secret, later), now=later) == "totp"
    assert totp.check_login_code(user, code_at(secret, later), now=later) is None  # replayed
    # A code of an earlier step, still within the skew window, is refused once a later one was used.
    assert totp.check_login_code(user, code_at(secret, T0), now=later) is None
    assert actions(user).count("user.second_factor_failed") == 3


def test_one_step_of_clock_skew_either_way(app: Flask, people: People) -> None:
    from signing.services import totp

    user = people.delegate
    secret, _ = enrol(user, T0 - timedelta(minutes=10))
    now = T0
    assert totp.check_login_code(user, code_at(secret, now - timedelta(seconds=60)), now=now) is None
    assert totp.check_login_code(user, code_at(secret, now - timedelta(seconds=30)), now=now) == "totp"
    assert totp.check_login_code(user, code_at(secret, now + timedelta(seconds=30)), now=now) == "totp"
    assert totp.check_login_code(user, code_at(secret, now + timedelta(seconds=90)), now=now) is None
    assert totp.check_login_code(user, " 12 34 5", now=now) is None  # not a code at all


@BACKENDS
def test_recovery_codes_work_once_each(app: Flask, people: People) -> None:
    from signing.services import totp

    user = people.delegate
    _, codes = enrol(user)
    assert totp.remaining_recovery_codes(user) == 10
    assert totp.check_login_code(user, codes[0].upper().replace("-", " "), now=T0) == "recovery_code"
    assert totp.check_login_code(user, codes[0], now=T0) is None
    assert totp.remaining_recovery_codes(user) == 9
    # Someone else's code is worth nothing here.
    _, other_codes = enrol(people.other_delegate)
    assert totp.check_login_code(user, other_codes[0], now=T0) is None
    assert "user.recovery_code_used" in actions(user)


def test_new_recovery_codes_need_the_password_and_a_current_code_and_replace_the_old(app: Flask,
                                                                                     people: People) -> None:
    from signing.services import ServiceError, totp

    user = people.delegate
    secret, old_codes = enrol(user)
    later = T0 + timedelta(minutes=1)
    with pytest.raises(ServiceError, match="password"):
        totp.renew_recovery_codes(user, "not the password", code_at(secret, later), now=later)
    with pytest.raises(ServiceError, match="code is not right"):
        totp.renew_recovery_codes(user, PASSWORD, old_codes[0], now=later)
    new_codes = totp.renew_recovery_codes(user, PASSWORD, code_at(secret, later), now=later)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert totp.check_login_code(user, old_codes[1], now=later) is None
    assert totp.check_login_code(user, new_codes[1], now=later) == "recovery_code"
    assert "user.recovery_codes_renewed" in actions(user)


def test_turning_it_off_needs_the_password_and_a_current_code(app: Flask, people: People) -> None:
    from signing.services import ServiceError, second_factor, totp

    user = people.delegate
    secret, codes = enrol(user)
    later = T0 + timedelta(minutes=5)
    with pytest.raises(ServiceError, match="password"):
        totp.disable(user, "not the password", code_at(secret, later), now=later)
    with pytest.raises(ServiceError, match="code is not right"):
        totp.disable(user, PASSWORD, codes[1], now=later)  # a recovery code does not turn it off
    with pytest.raises(ServiceError, match="code is not right"):
        totp.disable(user, PASSWORD, code_at(secret, T0), now=later)  # stale
    assert second_factor.has_totp(user)
    totp.disable(user, PASSWORD, code_at(secret, later), now=later)
    assert not second_factor.has_totp(user)
    assert totp.remaining_recovery_codes(user) == 0
    assert "user.second_factor_removed" in actions(user)


# --- Logging in -------------------------------------------------------------------------------------------


def _path(response: Any) -> str:
    return urlsplit(response.headers.get("Location", "")).path


def _second_factor(client: FlaskClient, code: str) -> Any:
    token = csrf_token(client, "/login/second-factor")
    return client.post("/login/second-factor", data={"csrf_token": token, "code": code})


def test_login_asks_for_the_code_before_the_session_exists(app: Flask, people: People,
                                                           client: FlaskClient) -> None:
    secret, codes = enrol(people.delegate, datetime.now(UTC) - timedelta(minutes=2))
    token = csrf_token(client, "/login?next=/account")
    response = client.post("/login", data={"csrf_token": token, "email": people.delegate.email,
                                           "password": PASSWORD, "next": "/account"})
    assert response.status_code == 302 and _path(response) == "/login/second-factor"
    assert _path(client.get("/")) == "/login"  # not logged in yet
    page = client.get("/login/second-factor").get_data(as_text=True)
    assert "authenticator app" in page and "passkey-login" not in page  # no passkey: no passkey button
    assert _second_factor(client, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111").status_code == 401
    assert _path(client.get("/")) == "/login"
    response = _second_factor(client, pyotp.TOTP(secret).now())
    assert response.status_code == 302 and _path(response) == "/account"
    assert client.get("/").status_code == 200
    assert actions(people.delegate)[-1] == "user.login"


def test_a_recovery_code_logs_in_and_too_many_failures_end_the_attempt(app: Flask, people: People,
                                                                       client: FlaskClient) -> None:
    _, codes = enrol(people.delegate)
    assert _path(login(client, people.delegate.email)) == "/login/second-factor"
    for _ in range(4):
        assert _second_factor(client, "999999").status_code == 401
    response = _second_factor(client, "999999")  # the fifth: the password must be given again
    assert response.status_code == 302 and _path(response) == "/login"
    assert _path(client.get("/login/second-factor")) == "/login"
    assert _path(login(client, people.delegate.email)) == "/login/second-factor"
    response = _second_factor(client, codes[3])
    assert response.status_code == 302 and _path(response) == "/"
    assert client.get("/").status_code == 200


def test_the_half_logged_in_state_expires(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(SECOND_FACTOR_LOGIN_TTL=timedelta(seconds=-1))
    with app.app_context():
        people = seed_people()
        _, codes = enrol(people.delegate)
        client = app.test_client()
        assert _path(login(client, people.delegate.email)) == "/login/second-factor"
        assert _path(client.get("/login/second-factor")) == "/login"
        response = client.post("/login/second-factor", data={"csrf_token": csrf_token(client), "code": codes[0]})
        assert _path(response) == "/login" and _path(client.get("/")) == "/login"


# --- Required for the secretariat in production mode ------------------------------------------------------


def test_the_setting_is_on_in_production_and_off_in_the_embedded_default(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from config import load_config

    monkeypatch.delenv("REQUIRE_2FA_FOR_SECRETARIAT", raising=False)
    assert load_config(tmp_path, {"SECRET_KEY": "k" * 40})["REQUIRE_2FA_FOR_SECRETARIAT"] is False
    production = load_config(tmp_path, {"SECRET_KEY": "k" * 40, "PRODUCTION": True})
    assert production["REQUIRE_2FA_FOR_SECRETARIAT"] is True
    monkeypatch.setenv("REQUIRE_2FA_FOR_SECRETARIAT", "false")
    assert load_config(tmp_path, {"SECRET_KEY": "k" * 40, "PRODUCTION": True})["REQUIRE_2FA_FOR_SECRETARIAT"] is False


@BACKENDS
def test_production_secretariat_must_enrol_before_anything_else(app_factory: Callable[..., Flask],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUIRE_2FA_FOR_SECRETARIAT", raising=False)
    app = app_factory(PRODUCTION=True, SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False)
    assert app.config["REQUIRE_2FA_FOR_SECRETARIAT"] is True
    with app.app_context():
        people = seed_people()
        delegate = app.test_client()
        assert _path(login(delegate, people.delegate.email)) == "/"
        assert delegate.get("/declarations/").status_code == 200  # optional for delegates
        client = app.test_client()
        assert _path(login(client, people.secretariat.email)) == "/"
        for path in ("/", "/declarations/", "/admin/users"):
            response = client.get(path)
            assert response.status_code == 302 and _path(response) == "/account", path
        response = client.post("/admin/users", data={"csrf_token": csrf_token(client, "/account"),
                                                     "display_name": "X", "email": "x@b40.example",
                                                     "role": "observer"})
        assert _path(response) == "/account"
        page = client.get("/account").get_data(as_text=True)
        assert 'id="must-enrol"' in page
        response = client.post("/account/totp", data={"csrf_token": csrf_token(client, "/account")})
        assert _path(response) == "/account"
        page = client.get("/account").get_data(as_text=True)
        match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
        assert match and 'src="data:image/svg+xml' in page
        response = client.post("/account/totp/confirm", data={"csrf_token": csrf_token(client, "/account"),
                                                              "code": pyotp.TOTP(match.group(1)).now()})
        assert response.status_code == 200 and 'id="recovery-codes"' in response.get_data(as_text=True)
        assert client.get("/declarations/").status_code == 200
        # The last second factor of a secretariat account cannot be turned off while it is required.
        from signing.services import Conflict, totp

        with pytest.raises(Conflict):
            totp.disable(people.secretariat, PASSWORD, "123456")


def test_wrong_codes_lock_the_account_out_across_logins(app_factory: Callable[..., Flask]) -> None:
    """Logging in again (or from another address) does not reset the count: it is kept per account."""
    app = app_factory(SECOND_FACTOR_MAX_FAILURES=3)
    with app.app_context():
        from signing.services import ServiceError, totp

        people = seed_people()
        secret, codes = enrol(people.delegate, datetime.now(UTC) - timedelta(minutes=2))
        for _ in range(3):
            client = app.test_client()
            assert _path(login(client, people.delegate.email)) == "/login/second-factor"
            assert _second_factor(client, "999999").status_code == 401
        client = app.test_client()
        assert _path(login(client, people.delegate.email)) == "/login/second-factor"
        response = _second_factor(client, pyotp.TOTP(secret).now())  # even the right code
        assert response.status_code == 429 and "Too many wrong attempts" in response.get_data(as_text=True)
        assert _path(client.get("/")) == "/login"
        with pytest.raises(ServiceError) as refused:
            totp.check_login_code(people.delegate, codes[0])
        assert refused.value.status == 429
        assert totp.remaining_recovery_codes(people.delegate) == 10  # nothing was spent
        # Another account is not affected.
        _, other_codes = enrol(people.other_delegate)
        other = app.test_client()
        login(other, people.other_delegate.email)
        assert _path(_second_factor(other, other_codes[0])) == "/"


def test_a_password_reset_link_does_not_skip_the_second_factor(app: Flask, people: People,
                                                               client: FlaskClient) -> None:
    from signing.models import LinkPurpose
    from signing.services import links, transactions

    _, codes = enrol(people.delegate)
    token = links.issue(people.delegate, LinkPurpose.PASSWORD_RESET)
    transactions.commit()
    new_password = "another long password for accord"
    response = client.post(f"/reset/{token}", data={"csrf_token": csrf_token(client, f"/reset/{token}"),
                                                    "password": new_password, "confirm": new_password})
    assert response.status_code == 302 and _path(response) == "/login/second-factor"
    assert "Now confirm it is you" in client.get("/login/second-factor").get_data(as_text=True)
    assert _path(client.get("/")) == "/login"
    assert _path(_second_factor(client, codes[0])) == "/"
    assert client.get("/").status_code == 200


def test_turning_it_off_and_removing_a_passkey_on_the_account_page(app: Flask, people: People,
                                                                   client: FlaskClient) -> None:
    from signing.services import second_factor
    from tests.test_passkeys import register

    secret, _ = enrol(people.delegate, datetime.now(UTC) - timedelta(minutes=2))
    _, passkey = register(people.delegate)
    _, athens_passkey = register(people.other_delegate)
    passkey_id, athens_id = passkey.id, athens_passkey.id
    response = login(client, people.delegate.email)
    assert _second_factor(client, pyotp.TOTP(secret).now()).status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "Laptop" in page and 'id="totp-state"' in page and page.count('id="password"') == 1

    def post(path: str, **data: str) -> Any:
        return client.post(path, data={"csrf_token": csrf_token(client, "/account"), **data})

    response = post("/account/totp/disable", totp_password=PASSWORD, totp_code="not a code")
    assert response.status_code == 400 and "code is not right" in response.get_data(as_text=True)
    response = post(f"/account/passkeys/{athens_id}/remove", password=PASSWORD)
    assert response.status_code == 404
    response = post(f"/account/passkeys/{passkey_id}/remove", password="wrong password")
    assert response.status_code == 400 and "password is not correct" in response.get_data(as_text=True)
    assert second_factor.passkey_count(people.delegate) == 1
    assert _path(post(f"/account/passkeys/{passkey_id}/remove", password=PASSWORD)) == "/account"
    assert second_factor.passkey_count(people.delegate) == 0
    assert second_factor.passkey_count(people.other_delegate) == 1
    next_code = pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))
    assert _path(post("/account/totp/disable", totp_password=PASSWORD, totp_code=next_code)) == "/account"
    assert not second_factor.has_second_factor(people.delegate)
    assert "Off." in client.get("/account").get_data(as_text=True)


def test_the_command_line_resets_a_lost_second_factor(app: Flask, people: People, client: FlaskClient) -> None:
    from signing.services import second_factor
    from tests.test_passkeys import register

    enrol(people.delegate)
    register(people.delegate)
    assert _path(login(client, people.delegate.email)) == "/login/second-factor"
    result = app.test_cli_runner().invoke(args=["second-factor-reset", people.delegate.email])
    assert result.exit_code == 0, result.output
    assert "Removed every second factor of izmir@b40.example" in result.output
    assert not second_factor.has_second_factor(people.delegate)
    assert _path(client.get("/login/second-factor")) == "/login"  # the half-open login is gone too
    assert _path(login(client, people.delegate.email)) == "/"
    unknown = app.test_cli_runner().invoke(args=["second-factor-reset", "nobody@b40.example"])
    assert unknown.exit_code != 0 and "No user" in unknown.output


def test_new_recovery_codes_on_the_account_page(app: Flask, people: People, client: FlaskClient) -> None:
    from signing.services import totp

    secret, codes = enrol(people.delegate, datetime.now(UTC) - timedelta(minutes=2))
    login(client, people.delegate.email)
    assert _path(_second_factor(client, codes[0])) == "/"
    assert "9 unused recovery codes left" in client.get("/account").get_data(as_text=True)
    data = {"csrf_token": csrf_token(client, "/account"), "renew_password": "wrong password",
            "renew_code": pyotp.TOTP(secret).now()}
    response = client.post("/account/recovery-codes", data=data)
    assert response.status_code == 400 and "password is not correct" in response.get_data(as_text=True)
    response = client.post("/account/recovery-codes", data={**data, "renew_password": PASSWORD})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="recovery-codes"' in page
    shown = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page)
    assert len(shown) == 10 and codes[1] not in shown
    assert totp.remaining_recovery_codes(people.delegate) == 10
