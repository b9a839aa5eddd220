"""TRUSTED_PROXIES (Werkzeug's ProxyFix) and Strict-Transport-Security."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import PASSWORD, csrf_token

pytestmark = pytest.mark.usefixtures("fresh_g")

EMAIL = "proxy@b40.example"


def _client(app: Flask, remote: str, forwarded_for: str | None = None, proto: str | None = None) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = remote
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    if proto is not None:
        client.environ_base["HTTP_X_FORWARDED_PROTO"] = proto
    return client


def _login(client: FlaskClient, password: str = PASSWORD) -> Any:
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": password})


def _recorded_address(app: Flask) -> str:
    from signing.extensions import db
    from signing.models import UserSession

    db.session.expire_all()
    return db.session.scalars(select(UserSession).order_by(UserSession.id.desc())).first().client_address


def _setup(app_factory: Callable[..., Flask], **config: Any) -> Flask:
    from signing.models import Role
    from signing.services import accounts

    app = app_factory(**config)
    app.app_context().push()
    accounts.create_user(EMAIL, "Proxied", Role.OBSERVER, password=PASSWORD)
    return app


def test_without_trusted_proxies_forwarded_headers_are_ignored(app_factory: Callable[..., Flask]) -> None:
    app = _setup(app_factory, LOGIN_RATE_LIMIT="3 per minute", ACCOUNT_THROTTLE_FREE_FAILURES=100)
    assert _login(_client(app, "198.51.100.1", "203.0.113.99")).status_code == 302
    assert _recorded_address(app) == "198.51.100.1"
    # A forged header per request does not give a fresh rate-limit bucket: the socket's address counts.
    statuses = [_login(_client(app, "198.51.100.1", f"203.0.113.{n}"), "wrong password here").status_code
                for n in range(4)]
    assert statuses[:2] == [401, 401] and statuses[-1] == 429


def test_one_trusted_proxy_gives_the_clients_address(app_factory: Callable[..., Flask]) -> None:
    app = _setup(app_factory, TRUSTED_PROXIES=1, LOGIN_RATE_LIMIT="3 per minute", ACCOUNT_THROTTLE_FREE_FAILURES=100)
    proxy = "10.0.0.2"
    # Genuine: the proxy appends the address it saw.
    assert _login(_client(app, proxy, "203.0.113.5")).status_code == 302
    assert _recorded_address(app) == "203.0.113.5"
    # Forged: the client's own X-Forwarded-For comes first; only the proxy's last entry is believed.
    assert _login(_client(app, proxy, "192.0.2.66, 203.0.113.6")).status_code == 302
    assert _recorded_address(app) == "203.0.113.6"
    # Buckets are per real client: one client is limited, another behind the same proxy is not.
    first = [_login(_client(app, proxy, f"192.0.2.{n}, 203.0.113.7"), "wrong password here").status_code
             for n in range(4)]
    assert first[-1] == 429
    assert _login(_client(app, proxy, "203.0.113.8"), "wrong password here").status_code == 401


def test_x_forwarded_proto_is_trusted_only_behind_a_proxy(app_factory: Callable[..., Flask]) -> None:
    from flask import request

    seen: list[str] = []

    def note_scheme() -> None:
        seen.append(request.scheme)

    for proxies in (0, 1):
        app = app_factory(TRUSTED_PROXIES=proxies)
        app.before_request(note_scheme)
        _client(app, "10.0.0.2", "203.0.113.5", proto="https").get("/healthz")
    assert seen == ["http", "https"]


def test_negative_trusted_proxies_is_a_configuration_error(app_factory: Callable[..., Flask]) -> None:
    from config import ConfigError

    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        app_factory(TRUSTED_PROXIES=-1)


def test_hsts_when_public_url_is_https(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(PUBLIC_URL="https://accord.example")
    response = app.test_client().get("/login")
    assert response.headers.get("Strict-Transport-Security") == "max-age=31536000"
    assert app.test_client().get("/healthz").headers.get("Strict-Transport-Security") == "max-age=31536000"

    shorter = app_factory(PUBLIC_URL="https://accord.example", HSTS_MAX_AGE=600)
    assert shorter.test_client().get("/login").headers.get("Strict-Transport-Security") == "max-age=600"

    off = app_factory(PUBLIC_URL="https://accord.example", HSTS_MAX_AGE=0)
    assert "Strict-Transport-Security" not in off.test_client().get("/login").headers


def test_no_hsts_over_plain_http(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(PUBLIC_URL="http://127.0.0.1:5000")
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
