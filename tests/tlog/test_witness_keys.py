"""Witness keys on the web: enrolled from a logged-in browser (session + CSRF), revoked by their owner or the
secretariat (in the log, and refused from then on); the public uploads are rate limited per address."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, People, csrf_token, login
from tests.tlog.test_witness import enrol_witness, entries


def _public_b64(key: Ed25519PrivateKey) -> str:
    from signing.core.note import b64, raw_public_key

    return b64(raw_public_key(key))


def _cosignature(client: FlaskClient, name: str, key: Ed25519PrivateKey) -> tuple[int, str]:
    from signing.core import note

    text, _ = note.parse_note(client.get("/log/checkpoint").get_data(as_text=True))
    verifier = note.Verifier(name, note.COSIGNATURE_V1, note.raw_public_key(key))
    return note.parse_checkpoint(text).size, note.cosign(text, verifier, key, 1_800_000_000).line()


def test_a_delegate_enrols_a_witness_key_from_the_browser_with_the_csrf_token(
        app: Flask, people: People, client: FlaskClient) -> None:
    login(client, people.delegate.email)
    key = Ed25519PrivateKey.generate()
    body = {"public_key": _public_b64(key), "password": PASSWORD}
    assert client.post("/account/witness-keys", json=body).status_code == 400  # no CSRF token: nothing enrolled
    assert client.get("/api/v1/log/witnesses").json["witnesses"] == []
    headers = {"X-CSRFToken": csrf_token(client, "/account/keys")}
    wrong = client.post("/account/witness-keys", json={**body, "password": "wrong"}, headers=headers)
    assert wrong.status_code == 403 and wrong.json["error"]["code"] == "wrong_password"
    made = client.post("/account/witness-keys", json=body, headers=headers)
    assert made.status_code == 201 and made.json["origin"] == "browser" and made.json["city"] == "izmir"
    assert made.headers["Cache-Control"] == "no-store"
    again = client.post("/account/witness-keys", json=body, headers=headers)
    assert again.status_code == 409
    page = client.get("/account/keys").get_data(as_text=True)
    assert made.json["fingerprint"] in page and 'name="accord-witness-keys"' in page and "js/witness.js" in page

    # The uploaded cosignature of that key is accepted and served.
    size, line = _cosignature(client, made.json["name"], key)
    assert client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": line}).status_code == 201
    assert made.json["name"] in client.get("/log/checkpoint").get_data(as_text=True)


def test_only_the_owner_or_the_secretariat_revoke_a_witness_key_and_it_cosigns_no_more(
        app: Flask, people: People, client: FlaskClient, tmp_path: Path) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent, LogEntry
    from signing.offline import witness as cli_witness

    entries(2, "a")
    row = enrol_witness(people.delegate, tmp_path / "izmir")
    key_id, name = row.id, row.name
    key = cli_witness.load_or_create_key(tmp_path / "izmir")

    login(client, people.other_delegate.email)
    token = csrf_token(client, "/account/keys")
    assert client.post(f"/account/witness-keys/{key_id}/revoke", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    login(client, people.delegate.email)
    token = csrf_token(client, "/account/keys")
    assert client.post(f"/account/witness-keys/{key_id}/revoke", data={}).status_code == 400  # no CSRF
    response = client.post(f"/account/witness-keys/{key_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/keys")
    assert "is revoked" in client.get("/account/keys").get_data(as_text=True)
    assert client.post(f"/account/witness-keys/{key_id}/revoke", data={"csrf_token": token}).status_code == 409
    assert client.get("/api/v1/log/witnesses").json["witnesses"] == []
    assert 'name="accord-witness-keys"' not in client.get("/").get_data(as_text=True)

    db.session.expire_all()
    last = db.session.scalars(db.select(LogEntry).order_by(LogEntry.index.desc())).first()
    assert last is not None and json.loads(bytes(last.entry))["kind"] == "key.revoked"
    assert json.loads(bytes(last.entry))["key_use"] == "witness"
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "witness_key.revoked")) is not None
    size, line = _cosignature(client, name, key)
    refused = client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": line})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "unknown_witness"


def test_the_secretariat_sees_and_revokes_every_citys_witness_key(
        app: Flask, people: People, client: FlaskClient, tmp_path: Path) -> None:
    row = enrol_witness(people.other_delegate, tmp_path / "athens")
    login(client, people.secretariat.email)
    page = client.get("/admin/keys").get_data(as_text=True)
    assert row.fingerprint in page and "Athens" in page
    token = csrf_token(client, "/admin/keys")
    response = client.post(f"/account/witness-keys/{row.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/keys")
    assert "revoked" in client.get("/admin/keys").get_data(as_text=True)
    assert client.post("/account/witness-keys/999999/revoke", data={"csrf_token": token}).status_code == 404


def test_cosignature_and_fork_report_uploads_are_rate_limited_per_address(
        app_factory: Callable[..., Flask]) -> None:
    limited = app_factory(LOG_COSIGNATURE_RATE_LIMIT="3 per minute", LOG_FORK_REPORT_RATE_LIMIT="2 per minute")
    with limited.app_context():
        client = limited.test_client()
        bogus = {"size": 1, "cosignature": "bogus"}
        codes = [client.post("/api/v1/log/cosignatures", json=bogus).status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        other = limited.test_client()
        other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert other.post("/api/v1/log/cosignatures", json=bogus).status_code == 404  # another address
        report = {"old_checkpoint": "x\n\nnope", "new_checkpoint": "x\n\nnope", "reason": "noise"}
        codes = [client.post("/api/v1/log/fork-reports", json=report).status_code for _ in range(3)]
        assert codes == [400, 400, 429]
        too_many = client.post("/api/v1/log/fork-reports", json=report)
        assert too_many.json["error"]["code"] and too_many.status_code == 429


def test_a_witness_key_is_revoked_through_the_api_by_its_owner_or_the_secretariat(
        app: Flask, people: People, client: FlaskClient, tmp_path: Path) -> None:
    from signing.extensions import db
    from signing.services import tokens

    row = enrol_witness(people.delegate, tmp_path / "izmir")
    other = enrol_witness(people.other_delegate, tmp_path / "athens")
    bearer = {}
    for role in ("delegate", "other_delegate", "secretariat"):
        _, token = tokens.create(people.by_role(role), "witness")
        bearer[role] = {"Authorization": f"Bearer {token}"}
    db.session.commit()
    url = f"/api/v1/log/witnesses/{row.fingerprint}/revoke"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=bearer["other_delegate"]).status_code == 403
    done = client.post(url, headers=bearer["delegate"])
    assert done.status_code == 200 and done.json["fingerprint"] == row.fingerprint
    assert client.post(url, headers=bearer["delegate"]).status_code == 409
    assert client.post(f"/api/v1/log/witnesses/{other.fingerprint}/revoke",
                       headers=bearer["secretariat"]).status_code == 200
    assert client.post("/api/v1/log/witnesses/nonsense/revoke", headers=bearer["secretariat"]).status_code == 404
    assert client.get("/api/v1/log/witnesses").json["witnesses"] == []
