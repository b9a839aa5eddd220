"""The signing pages and the API take one path: the same bad input is refused alike by each.

Every row of ``ROWS`` is posted twice: as the signing pages' scripts post it (session cookie, ``X-CSRFToken``,
the pages' URLs) and as a program does (bearer token, ``/api/v1``). Both must answer the row's status with the
same ``{"error": {"code", "message"}}``, and change nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.api.conftest import Api, Key, b64, enrol
from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, login

# action: (the pages' URL, the API's URL); "{slug}" is the row's declaration.
URLS = {
    "enrol": ("/account/keys", "/api/v1/keys"),
    "sign_payload": ("/declarations/{slug}/sign/payload", "/api/v1/declarations/{slug}/signing-payload"),
    "sign": ("/declarations/{slug}/sign/submit", "/api/v1/declarations/{slug}/signatures"),
    "withdraw_payload": ("/declarations/{slug}/withdraw/payload", "/api/v1/declarations/{slug}/withdrawal-payload"),
    "withdraw": ("/declarations/{slug}/withdraw/submit", "/api/v1/declarations/{slug}/withdrawals"),
}
CALLERS = ("delegate", "other_delegate", "observer", "secretariat")
UNKNOWN_KEY = "sha256:" + "0" * 64


@dataclass
class World:
    """Declarations "open", "signed" (by İzmir), "consult" (in consultation) and "excluding" (Athens not asked)."""

    people: People
    key: Key  # İzmir's
    athens_key: Key
    revoked_key: Key  # İzmir's, revoked
    bodies: dict[str, dict[str, str]]  # signed submissions, unused unless said: "open", "expired", "used", "withdrawal"

    def altered(self) -> dict[str, str]:
        data = base64.b64decode(self.bodies["open"]["payload"]).replace(b'"revision":1', b'"revision":2')
        return {"payload": b64(data), "signature": b64(self.key.private.sign(data))}


@pytest.fixture
def world(app: Flask, people: People) -> World:
    from signing.extensions import db
    from signing.models import IssuedPayload
    from signing.services import declarations, keys, signatures

    def make(slug: str, *, signing: bool = True, excluded: tuple[int, ...] = ()) -> Any:
        declaration = declarations.create(f"Declaration {slug}", "One.\n\nTwo, which the cities sign.",
                                          people.secretariat, slug=slug)
        declarations.open_consultation(declaration, people.secretariat)
        if signing:
            declarations.open_signing(declaration, 1, people.secretariat, excluded_city_ids=excluded)
        return declaration

    key, athens_key, revoked_key = enrol(people.delegate), enrol(people.other_delegate), enrol(people.delegate)
    keys.revoke(keys.get_by_fingerprint(revoked_key.fingerprint), people.delegate)
    opened, signed = make("open"), make("signed")
    make("consult", signing=False)
    make("excluding", excluded=(people.other_city.id,))

    def issue(declaration: Any, kind: str = "signature") -> dict[str, str]:
        issuer = signatures.issue_signature_payload if kind == "signature" else signatures.issue_withdrawal_payload
        issued = issuer(declaration, people.delegate, key.fingerprint)
        return {"payload": b64(issued.payload), "signature": b64(key.private.sign(issued.payload))}

    used = issue(signed)
    signatures.submit_signature(signed, people.delegate, base64.b64decode(used["payload"]),
                                base64.b64decode(used["signature"]))
    expired = issue(opened)
    issued = db.session.scalar(select(IssuedPayload).order_by(IssuedPayload.id.desc()))
    assert issued is not None
    issued.expires_at -= timedelta(hours=1)
    db.session.commit()
    bodies = {"open": issue(opened), "expired": expired, "used": used, "withdrawal": issue(signed, "withdrawal")}
    return World(people, key, athens_key, revoked_key, bodies)


Body = Callable[[World], dict[str, Any]]  # the request's keyword arguments: json=..., or data= and content_type=


def json(value: Any) -> Body:
    return lambda w: {"json": value}


def enrolment(**fields: Any) -> Body:
    return lambda w: {"json": {"public_key": Key().public_b64, "label": "laptop", "password": PASSWORD, **fields}}


def fingerprint(pick: Callable[[World], str]) -> Body:
    return lambda w: {"json": {"key_fingerprint": pick(w)}}


def submission(name: str, **fields: Any) -> Body:
    return lambda w: {"json": {**w.bodies[name], **fields}}


@dataclass
class Row:
    what: str
    action: str
    slug: str
    body: Body
    status: int
    code: str
    caller: str = "delegate"


ROWS = [
    # Enrolling a key.
    Row("a text/plain body", "enrol", "", lambda w: {"data": "{}", "content_type": "text/plain"}, 400,
        "invalid_content_type"),
    Row("a form post", "enrol", "", lambda w: {"data": {"label": "x"}}, 400, "invalid_content_type"),
    Row("a body that is not JSON", "enrol", "", lambda w: {"data": "{no", "content_type": "application/json"}, 400,
        "invalid_json"),
    Row("no body", "enrol", "", lambda w: {}, 400, "invalid_request"),
    Row("a JSON array", "enrol", "", json(["public_key", "label"]), 400, "invalid_request"),
    Row("no password", "enrol", "", lambda w: {"json": {"public_key": Key().public_b64, "label": "x"}}, 400,
        "invalid_request"),
    Row("a public key that is a number", "enrol", "", enrolment(public_key=42), 400, "invalid_request"),
    Row("an empty label", "enrol", "", enrolment(label=""), 400, "invalid_request"),
    Row("a label with a control character", "enrol", "", enrolment(label="a\u0007b"), 400, "invalid_request"),
    Row("an unknown origin", "enrol", "", enrolment(origin="phone"), 400, "invalid_request"),
    Row("a public key that is not base64", "enrol", "", enrolment(public_key="***"), 400, "bad_request"),
    Row("an empty public key", "enrol", "", enrolment(public_key=""), 400, "bad_request"),
    Row("a public key of 31 bytes", "enrol", "", enrolment(public_key=b64(b"\x01" * 31)), 400, "bad_request"),
    Row("a wrong password (an extra field is ignored)", "enrol", "", enrolment(password="wrong", extra=1), 403,
        "wrong_password"),
    Row("an empty password", "enrol", "", enrolment(password=""), 403, "wrong_password"),
    Row("a key enrolled already", "enrol", "", lambda w: enrolment(public_key=w.key.public_b64)(w), 409, "conflict"),
    Row("an observer", "enrol", "", enrolment(), 403, "forbidden", caller="observer"),
    Row("the secretariat", "enrol", "", enrolment(), 403, "forbidden", caller="secretariat"),
    # Asking for a signature payload.
    Row("no fingerprint", "sign_payload", "open", json({}), 400, "invalid_request"),
    Row("a fingerprint that is a number", "sign_payload", "open", json({"key_fingerprint": 5}), 400,
        "invalid_request"),
    Row("a null fingerprint", "sign_payload", "open", json({"key_fingerprint": None}), 400, "invalid_request"),
    Row("an empty fingerprint", "sign_payload", "open", fingerprint(lambda w: ""), 400, "bad_request"),
    Row("a short fingerprint", "sign_payload", "open", fingerprint(lambda w: "sha256:00"), 400, "bad_request"),
    Row("an upper-case fingerprint", "sign_payload", "open", fingerprint(lambda w: w.key.fingerprint.upper()), 400,
        "bad_request"),
    Row("an unknown key", "sign_payload", "open", fingerprint(lambda w: UNKNOWN_KEY), 404, "not_found"),
    Row("someone else's key", "sign_payload", "open", fingerprint(lambda w: w.athens_key.fingerprint), 403,
        "forbidden"),
    Row("a revoked key", "sign_payload", "open", fingerprint(lambda w: w.revoked_key.fingerprint), 409, "conflict"),
    Row("a declaration in consultation", "sign_payload", "consult", fingerprint(lambda w: w.key.fingerprint), 409,
        "conflict"),
    Row("an unknown declaration", "sign_payload", "nope", fingerprint(lambda w: w.key.fingerprint), 404,
        "not_found"),
    Row("a city not asked to sign", "sign_payload", "excluding", fingerprint(lambda w: w.athens_key.fingerprint),
        403, "forbidden", caller="other_delegate"),
    Row("a city that signed already", "sign_payload", "signed", fingerprint(lambda w: w.key.fingerprint), 409,
        "already_signed"),
    Row("an observer", "sign_payload", "open", fingerprint(lambda w: w.key.fingerprint), 403, "forbidden",
        caller="observer"),
    Row("the secretariat, with an unknown key", "sign_payload", "open", fingerprint(lambda w: UNKNOWN_KEY), 403,
        "forbidden", caller="secretariat"),
    # Submitting a signature.
    Row("an empty object", "sign", "open", json({}), 400, "invalid_request"),
    Row("no signature", "sign", "open", lambda w: {"json": {"payload": w.bodies["open"]["payload"]}}, 400,
        "invalid_request"),
    Row("a signature that is a number", "sign", "open", submission("open", signature=5), 400, "invalid_request"),
    Row("a null payload", "sign", "open", submission("open", payload=None), 400, "invalid_request"),
    Row("a payload that is not base64", "sign", "open", submission("open", payload="%%% no"), 400,
        "invalid_base64"),
    Row("a signature that is not base64", "sign", "open", submission("open", signature="%%%"), 400,
        "invalid_base64"),
    Row("a signature of 63 bytes", "sign", "open", submission("open", signature=b64(bytes(63))), 400,
        "invalid_size"),
    Row("a signature of 65 bytes", "sign", "open", submission("open", signature=b64(bytes(65))), 400,
        "invalid_size"),
    Row("an empty signature", "sign", "open", submission("open", signature=""), 400, "invalid_size"),
    Row("an empty payload", "sign", "open", submission("open", payload=""), 400, "bad_request"),
    Row("a payload over 16 KiB", "sign", "open", submission("open", payload=b64(b"x" * (16 * 1024 + 1))), 400,
        "signature_rejected"),
    Row("a payload never issued", "sign", "open", submission("open", payload=b64(b"{}")), 400,
        "signature_rejected"),
    Row("an altered payload", "sign", "open", lambda w: {"json": w.altered()}, 400, "signature_rejected"),
    Row("a signature that does not verify", "sign", "open", submission("open", signature=b64(bytes(64))), 400,
        "signature_rejected"),
    Row("a signature by another key", "sign", "open",
        lambda w: {"json": {**w.bodies["open"], "signature": w.athens_key.sign_b64(w.bodies["open"]["payload"])}},
        400, "signature_rejected"),
    Row("an expired payload", "sign", "open", submission("expired"), 400, "payload_expired"),
    Row("a used payload", "sign", "signed", submission("used"), 409, "payload_used"),
    Row("a withdrawal statement", "sign", "signed", submission("withdrawal"), 400, "signature_rejected"),
    Row("another declaration's payload", "sign", "excluding", submission("open"), 400, "signature_rejected"),
    Row("a declaration in consultation", "sign", "consult", submission("open"), 409, "conflict"),
    Row("another city's payload", "sign", "open", submission("open"), 400, "signature_rejected",
        caller="other_delegate"),
    Row("an observer", "sign", "open", submission("open"), 403, "forbidden", caller="observer"),
    # Withdrawing.
    Row("nothing to withdraw", "withdraw_payload", "open", fingerprint(lambda w: w.key.fingerprint), 409,
        "conflict"),
    Row("a malformed fingerprint", "withdraw_payload", "signed", fingerprint(lambda w: "abc"), 400, "bad_request"),
    Row("an unknown key", "withdraw_payload", "signed", fingerprint(lambda w: UNKNOWN_KEY), 404, "not_found"),
    Row("a revoked key", "withdraw_payload", "signed", fingerprint(lambda w: w.revoked_key.fingerprint), 409,
        "conflict"),
    Row("a city not asked to sign", "withdraw_payload", "excluding",
        fingerprint(lambda w: w.athens_key.fingerprint), 403, "forbidden", caller="other_delegate"),
    Row("an observer", "withdraw_payload", "signed", fingerprint(lambda w: w.key.fingerprint), 403, "forbidden",
        caller="observer"),
    Row("an empty object", "withdraw", "signed", json({}), 400, "invalid_request"),
    Row("a signature of 65 bytes", "withdraw", "signed", submission("withdrawal", signature=b64(bytes(65))), 400,
        "invalid_size"),
    Row("a signature payload", "withdraw", "open", submission("open"), 400, "signature_rejected"),
    Row("a declaration in consultation", "withdraw", "consult", submission("withdrawal"), 409, "conflict"),
    Row("an observer", "withdraw", "signed", submission("withdrawal"), 403, "forbidden", caller="observer"),
]


def _counts() -> tuple[int, ...]:
    """What a refused request must not change. A refused password re-check is itself a security event of the
    account (``key.enrol_wrong_password``, shown to its owner), so security events are left out of the count."""
    from signing.extensions import db
    from signing.models import AuditEvent, IssuedPayload, OutboxEmail, Signature, SigningKey, Withdrawal
    from signing.services.audit import SECURITY_EVENT_LABELS

    db.session.expire_all()
    counts = [db.session.scalar(select(func.count()).select_from(model)) or 0
              for model in (SigningKey, IssuedPayload, Signature, Withdrawal, OutboxEmail)]
    counts.append(db.session.scalar(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action.not_in(list(SECURITY_EVENT_LABELS)))) or 0)
    return tuple(counts)


def _refusal(response: TestResponse) -> tuple[int, str, str] | str:
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) and set(body) == {"error"} else None
    if not (isinstance(error, dict) and set(error) == {"code", "message"} and all(error.values())):
        return f"{response.status_code} {response.mimetype}: {response.get_data(as_text=True)[:200]}"
    return response.status_code, error["code"], error["message"]


@BACKENDS
def test_the_pages_and_the_api_refuse_the_same_input_alike(app: Flask, people: People, world: World,
                                                           api: Api) -> None:
    pages: dict[str, tuple[FlaskClient, str]] = {}
    for caller in CALLERS:
        client = app.test_client()
        assert login(client, people.by_role(caller).email).status_code == 302
        pages[caller] = (client, csrf_token(client, "/account"))
    problems = []
    for row in ROWS:
        page_url, api_url = (url.format(slug=row.slug) for url in URLS[row.action])
        client, token = pages[row.caller]
        request = row.body(world)
        before = _counts()
        from_page = _refusal(client.post(page_url, headers={"X-CSRFToken": token}, **request))
        from_api = _refusal(api.call("POST", api_url, row.caller, **request))
        name = f"{row.action}, {row.what} ({row.caller})"
        if from_page != from_api:
            problems.append(f"{name}: the pages answer {from_page}, the API {from_api}")
        elif isinstance(from_api, str) or from_api[:2] != (row.status, row.code):
            problems.append(f"{name}: expected {row.status} {row.code}, both answer {from_api}")
        if _counts() != before:
            problems.append(f"{name}: a refused request changed something")
    assert not problems, "\n".join(problems)
    assert len({(row.action, row.what, row.caller) for row in ROWS}) == len(ROWS)


def test_an_ended_session_and_a_missing_csrf_token_are_json_refusals(app: Flask, people: People) -> None:
    """What only the pages' endpoints check, before the shared path: the session and the CSRF token."""
    anonymous = app.test_client()
    token = csrf_token(anonymous, "/login")
    response = anonymous.post("/declarations/open/sign/payload", json={"key_fingerprint": UNKNOWN_KEY},
                              headers={"X-CSRFToken": token})
    assert _refusal(response)[:2] == (401, "login_required")  # type: ignore[index]
    client = app.test_client()
    assert login(client, people.delegate.email).status_code == 302
    response = client.post("/account/keys", json={"public_key": Key().public_b64, "label": "x", "password": PASSWORD})
    assert _refusal(response)[:2] == (400, "csrf_failed")  # type: ignore[index]
