"""Refusals: always a 4xx with {"error": {"code", "message"}}, never HTML, never a server error, never 422."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.api.conftest import API, TEXT, Api, Key, Scene, b64
from tests.conftest import PASSWORD, People, login


def refused(response: TestResponse, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, str] = body["error"]
    return error


@pytest.mark.parametrize(
    ("header", "code"),
    [(None, "missing_token"), ("Bearer", "missing_token"), ("Basic dXNlcjpwYXNz", "missing_token"),
     ("Bearer nonsense", "invalid_token"), ("Bearer acc_" + "A" * 43, "invalid_token"),
     ("Bearer acc_\u00e9\u00e9", "invalid_token")],
)
def test_missing_or_invalid_token_is_401_with_www_authenticate(api: Api, header: str | None, code: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = api.client.get(f"{API}/me", headers=headers)
    refused(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_scheme_name_is_case_insensitive(api: Api, api_tokens: dict[str, str]) -> None:
    response = api.client.get(f"{API}/me", headers={"Authorization": f"bearer {api_tokens['observer']}"})
    assert response.status_code == 200


def test_a_logged_in_browser_session_is_not_enough(app: Flask, people: People) -> None:
    client = app.test_client()
    assert login(client, people.secretariat.email).status_code == 302
    refused(client.get(f"{API}/me"), 401, "missing_token")
    refused(client.post(f"{API}/declarations", json={"title": "T", "text": TEXT}), 401)


def test_no_csrf_token_is_needed_with_a_bearer_token(api: Api) -> None:
    # The app enforces CSRF on every other POST; a bearer-token call has no cookie to forge.
    assert api.post("declarations", json={"title": "No CSRF here", "text": TEXT}).status_code == 201


def test_unknown_paths_and_methods_answer_in_json(api: Api) -> None:
    refused(api.get("no-such-endpoint"), 404, "not_found")
    refused(api.call("DELETE", "me"), 405)
    refused(api.call("PUT", "declarations"), 405)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, "invalid_json"),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, "invalid_json"),
        ({"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"}, "invalid_json"),
        ({"data": "title=T&text=x", "content_type": "application/x-www-form-urlencoded"}, "invalid_content_type"),
        ({"data": '{"title": "T", "text": "x"}', "content_type": "text/plain"}, "invalid_content_type"),
        ({"json": {"title": "T"}}, "invalid_request"),
        ({"json": ["title", "text"]}, "invalid_request"),
        ({"json": {"title": "T\u0000", "text": TEXT}}, "invalid_request"),
        ({"json": {"title": "T\ud800", "text": TEXT}}, "invalid_request"),
        ({"json": {"title": 5, "text": TEXT}}, "invalid_request"),
        ({"json": {"title": "T", "text": "x", "slug": "Not A Slug"}}, "bad_request"),
        ({"json": {"title": "T", "text": "bad \u0007 bell"}}, "bad_request"),
        ({}, "invalid_request"),
    ],
)
def test_bad_bodies_are_400_never_422(api: Api, kwargs: dict[str, Any], code: str) -> None:
    refused(api.post("declarations", **kwargs), 400, code)


def test_duplicates_and_wrong_states_are_409(api: Api, scene: Scene) -> None:
    refused(api.post("declarations", json={"title": "T", "text": TEXT, "slug": scene.slugs["draft"]}), 409, "conflict")
    refused(api.post(f"declarations/{scene.slugs['consultation']}/revisions", json={"text": TEXT}), 409)
    refused(api.post(f"declarations/{scene.slugs['open']}/consultation"), 409)


@pytest.mark.parametrize(
    "body",
    [
        {"revision": 1, "rule": {"kind": "most"}},
        {"revision": 1, "rule": {"kind": "quorum"}},
        {"revision": 1, "rule": {"kind": "quorum", "required": 3}},
        {"revision": 1, "rule": {"kind": "all"}, "excluded_cities": ["atlantis"]},
        {"revision": 1, "rule": {"kind": "all"}, "excluded_cities": ["izmir", "athens"]},
        {"revision": 1, "rule": {"kind": "all"}, "deadline": "2001-01-01T00:00:00Z"},
        {"revision": 1, "rule": {"kind": "all"}, "deadline": "2099-01-01T00:00:00"},
        {"revision": 1, "rule": {"kind": "all"}, "deadline": "next week"},
        {"revision": 0, "rule": {"kind": "all"}},
        {"revision": 2**40, "rule": {"kind": "all"}},
        {"revision": "one", "rule": {"kind": "all"}},
    ],
)
def test_bad_signing_rules_are_400(api: Api, scene: Scene, body: dict[str, Any]) -> None:
    refused(api.post(f"declarations/{scene.slugs['consultation']}/open-signing", json=body), 400)


def test_an_unknown_revision_to_open_is_404(api: Api, scene: Scene) -> None:
    refused(api.post(f"declarations/{scene.slugs['consultation']}/open-signing",
                     json={"revision": 7, "rule": {"kind": "all"}}), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"public_key": "not base64!", "label": "x", "password": PASSWORD}, 400, "bad_request"),
        ({"public_key": b64(b"\x01" * 31), "label": "x", "password": PASSWORD}, 400, "bad_request"),
        ({"public_key": b64(b"\x01" * 33), "label": "x", "password": PASSWORD}, 400, "bad_request"),
        ({"public_key": Key().public_b64, "label": " ", "password": PASSWORD}, 400, "bad_request"),
        ({"public_key": Key().public_b64, "label": "x", "password": PASSWORD, "origin": "phone"}, 400,
         "invalid_request"),
        ({"public_key": Key().public_b64, "label": "x", "password": "wrong password"}, 403, "wrong_password"),
        ({"public_key": Key().public_b64, "label": "x"}, 400, "invalid_request"),
    ],
)
def test_bad_key_enrolments(api: Api, body: dict[str, Any], status: int, code: str) -> None:
    refused(api.post("keys", "delegate", json=body), status, code)


def test_enrolling_a_key_twice_is_409_and_revoking_twice_is_409(api: Api, scene: Scene) -> None:
    body = {"public_key": scene.key.public_b64, "label": "again", "password": PASSWORD}
    refused(api.post("keys", "delegate", json=body), 409)
    assert api.post(f"keys/{scene.spare_key.fingerprint}/revoke", "delegate").status_code == 200
    refused(api.post(f"keys/{scene.spare_key.fingerprint}/revoke", "delegate"), 409)
    refused(api.post("keys/not-a-fingerprint/revoke", "delegate"), 404)


def test_listing_keys_of_others(api: Api, people: People) -> None:
    refused(api.get(f"keys?user={people.other_delegate.id}", "delegate"), 403, "forbidden")
    refused(api.get("keys?user=999999", "secretariat"), 404)
    refused(api.get("keys?user=abc", "secretariat"), 400, "invalid_request")
    refused(api.get("keys?user=0", "secretariat"), 400, "invalid_request")


Sign = Callable[..., dict[str, str]]


def test_bad_payload_fingerprints(api: Api, scene: Scene) -> None:
    slug = scene.slugs["open"]
    refused(api.post(f"declarations/{slug}/signing-payload", "delegate", json={"key_fingerprint": "abc"}), 400)
    unknown = {"key_fingerprint": "sha256:" + "0" * 64}
    refused(api.post(f"declarations/{slug}/signing-payload", "delegate", json=unknown), 404)
    theirs = {"key_fingerprint": scene.other_key.fingerprint}
    refused(api.post(f"declarations/{slug}/signing-payload", "delegate", json=theirs), 403)
    api.post(f"keys/{scene.spare_key.fingerprint}/revoke", "delegate")
    revoked = {"key_fingerprint": scene.spare_key.fingerprint}
    refused(api.post(f"declarations/{slug}/signing-payload", "delegate", json=revoked), 409)


def test_bad_signatures_are_400(api: Api, scene: Scene, issue_and_sign: Sign) -> None:
    slug = scene.slugs["open"]
    url = f"declarations/{slug}/signatures"
    good = issue_and_sign(slug, scene.key)
    data = base64.b64decode(good["payload"])
    cases = [
        ({**good, "payload": "%%% not base64"}, "invalid_base64"),
        ({**good, "signature": "%%%"}, "invalid_base64"),
        ({**good, "signature": b64(b"\x00" * 63)}, "invalid_size"),
        ({**good, "signature": b64(b"\x00" * 65)}, "invalid_size"),
        ({**good, "payload": ""}, "bad_request"),
        ({**good, "payload": b64(data.replace(b"signs", b"SIGNS"))}, "signature_rejected"),
        ({**good, "payload": b64(b"{}")}, "signature_rejected"),
        ({**good, "signature": b64(bytes(64))}, "signature_rejected"),
        ({**good, "signature": Key().sign_b64(good["payload"])}, "signature_rejected"),
        ({**good, "payload": b64(b"x" * 20_000)}, "signature_rejected"),
        ({"payload": good["payload"]}, "invalid_request"),
    ]
    for body, code in cases:
        refused(api.post(url, "delegate", json=body), 400, code)
    assert api.post(url, "delegate", json=good).status_code == 201  # none of the above used it up


def test_signing_twice_is_409(api: Api, scene: Scene, issue_and_sign: Sign) -> None:
    slug = scene.slugs["open"]
    body = issue_and_sign(slug, scene.key)
    assert api.post(f"declarations/{slug}/signatures", "delegate", json=body).status_code == 201
    refused(api.post(f"declarations/{slug}/signatures", "delegate", json=body), 409, "payload_used")
    refused(api.post(f"declarations/{slug}/signing-payload", "delegate",
                     json={"key_fingerprint": scene.key.fingerprint}), 409, "already_signed")


def test_a_second_payload_signed_after_the_first_is_409_already_signed(api: Api, scene: Scene,
                                                                       issue_and_sign: Sign) -> None:
    slug = scene.slugs["open"]
    first, second = issue_and_sign(slug, scene.key), issue_and_sign(slug, scene.key)
    assert api.post(f"declarations/{slug}/signatures", "delegate", json=first).status_code == 201
    refused(api.post(f"declarations/{slug}/signatures", "delegate", json=second), 409, "already_signed")


def test_an_expired_payload_is_refused(app: Flask, api: Api, scene: Scene, issue_and_sign: Sign) -> None:
    from signing.extensions import db
    from signing.models import IssuedPayload

    body = issue_and_sign(scene.slugs["open"], scene.key)
    for issued in db.session.query(IssuedPayload):
        issued.expires_at = issued.expires_at - timedelta(hours=1)
    db.session.commit()
    refused(api.post(f"declarations/{scene.slugs['open']}/signatures", "delegate", json=body), 400, "payload_expired")


def test_withdrawing_without_a_signature_is_409(api: Api, scene: Scene) -> None:
    refused(api.post(f"declarations/{scene.slugs['open']}/withdrawal-payload", "delegate",
                     json={"key_fingerprint": scene.key.fingerprint}), 409)


def test_a_withdrawal_statement_cannot_be_posted_as_a_signature(api: Api, scene: Scene, issue_and_sign: Sign) -> None:
    slug = scene.slugs["signed"]
    body = issue_and_sign(slug, scene.key, kind="withdrawal")
    refused(api.post(f"declarations/{slug}/signatures", "delegate", json=body), 400, "signature_rejected")
