"""API tokens: stored as SHA-256 only, shown once, revocable, dead with their account; CLI and account page."""

from __future__ import annotations

import hashlib
import re

import pytest
from flask import Flask
from sqlalchemy import select, text

from tests.api.conftest import API, Api
from tests.conftest import BACKENDS, People, csrf_token, login

TOKEN_RE = re.compile(r"\bacc_[A-Za-z0-9_-]{43}\b")


def _me(app: Flask, token: str) -> int:
    return app.test_client().get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code


@BACKENDS
def test_only_the_hash_and_a_prefix_are_stored(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import ApiToken
    from signing.services import tokens

    token, secret = tokens.create(people.delegate, "  my   laptop ")
    assert TOKEN_RE.fullmatch(secret)
    assert token.name == "my laptop" and token.prefix == secret[:12] and secret.startswith("acc_")
    row = db.session.execute(text("SELECT token_hash, prefix, name FROM api_tokens WHERE id = :id"),
                             {"id": token.id}).one()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in " ".join(str(v) for v in row)
    assert tokens.create(people.delegate)[0].name == "API token"
    assert len(set(db.session.scalars(select(ApiToken.token_hash)))) == 2


@BACKENDS
def test_last_used_revocation_and_deactivation(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.services import accounts, tokens

    token, secret = tokens.create(people.delegate, "cli")
    assert token.last_used_at is None
    assert _me(app, secret) == 200
    db.session.refresh(token)
    first_use = token.last_used_at
    assert first_use is not None

    accounts.set_active(people.delegate, False, people.secretariat)
    assert _me(app, secret) == 401, "a deactivated account's tokens stop working"
    accounts.set_active(people.delegate, True, people.secretariat)
    assert _me(app, secret) == 200

    tokens.revoke(token, people.delegate)
    assert _me(app, secret) == 401
    db.session.refresh(token)
    assert token.revoked_at is not None


def test_only_the_owner_or_the_secretariat_revokes(app: Flask, people: People) -> None:
    from signing.services import Conflict, Forbidden, accounts, tokens

    token, _ = tokens.create(people.delegate)
    with pytest.raises(Forbidden):
        tokens.revoke(token, people.other_delegate)
    tokens.revoke(token, people.secretariat)
    with pytest.raises(Conflict):
        tokens.revoke(token, people.delegate)
    accounts.set_active(people.observer, False, people.secretariat)
    with pytest.raises(Conflict):
        tokens.create(people.observer)


def test_cli_create_list_revoke(app: Flask, people: People) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["tokens", "create", "IZMIR@b40.example", "--name", "offline signer"])
    assert created.exit_code == 0, created.output
    secret = TOKEN_RE.search(created.output)
    assert secret, created.output
    assert _me(app, secret.group(0)) == 200

    listed = runner.invoke(args=["tokens", "list", "izmir@b40.example"])
    assert listed.exit_code == 0
    assert "offline signer" in listed.output and secret.group(0)[:12] in listed.output
    assert secret.group(0) not in listed.output and "active" in listed.output
    token_id = int(listed.output.split()[0])

    revoked = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert revoked.exit_code == 0, revoked.output
    assert _me(app, secret.group(0)) == 401
    assert "revoked" in runner.invoke(args=["tokens", "list", "izmir@b40.example"]).output

    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code != 0
    assert runner.invoke(args=["tokens", "revoke", "999"]).exit_code != 0
    assert runner.invoke(args=["tokens", "create", "nobody@b40.example"]).exit_code != 0
    assert "no API tokens" in runner.invoke(args=["tokens", "list", "obs@b40.example"]).output


def test_account_page_creates_shows_once_and_revokes(app: Flask, people: People) -> None:
    client = app.test_client()
    assert login(client, people.delegate.email).status_code == 302
    page = client.get("/account")
    assert page.status_code == 200 and "API tokens" in page.get_data(as_text=True)

    created = client.post("/account/tokens", data={"csrf_token": csrf_token(client, "/account"), "name": "laptop"})
    assert created.status_code == 200
    shown = TOKEN_RE.findall(created.get_data(as_text=True))
    assert len(shown) == 1
    secret = shown[0]
    assert _me(app, secret) == 200

    again = client.get("/account").get_data(as_text=True)
    assert secret not in again and secret[:12] in again and "laptop" in again

    from signing.services import tokens

    token = tokens.list_for(people.delegate)[0]
    bad = client.post(f"/account/tokens/{token.id}/revoke", data={})
    assert bad.status_code == 400  # no CSRF token
    revoked = client.post(f"/account/tokens/{token.id}/revoke", data={"csrf_token": csrf_token(client, "/account")})
    assert revoked.status_code == 302
    assert _me(app, secret) == 401


def test_account_page_refuses_bad_names_and_others_tokens(app: Flask, people: People) -> None:
    from signing.services import tokens

    theirs, secret = tokens.create(people.other_delegate)
    client = app.test_client()
    login(client, people.delegate.email)
    token = csrf_token(client, "/account")
    assert client.post("/account/tokens", data={"csrf_token": token, "name": "x" * 200}).status_code == 400
    assert client.post("/account/tokens", data={"csrf_token": token, "name": "bell\u0007"}).status_code == 400
    assert client.post(f"/account/tokens/{theirs.id}/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post("/account/tokens/424242/revoke", data={"csrf_token": token}).status_code == 404
    assert _me(app, secret) == 200
    assert tokens.list_for(people.delegate) == []


def test_api_never_sets_a_session_cookie(api: Api) -> None:
    for response in (api.get("me", "delegate"), api.get("me", "no_token"), api.get("openapi.json", "no_token")):
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"
