"""Freezing through the API: automatic when the rule is met, or the secretariat's after the deadline."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from tests.api.conftest import API, TEXT, Api, Key, enrol
from tests.conftest import BACKENDS, People


def _open(people: People, slug: str, **rule: object) -> object:
    from signing.services import declarations

    declaration = declarations.create(f"Declaration {slug}", TEXT, people.secretariat, slug=slug)
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 1, people.secretariat, **rule)  # type: ignore[arg-type]
    return declaration


def _sign(api: Api, slug: str, key: Key, caller: str) -> None:
    issued = api.post(f"{API}/declarations/{slug}/signing-payload", caller, json={"key_fingerprint": key.fingerprint})
    assert issued.status_code == 201, issued.get_json()
    payload = issued.get_json()["payload"]
    stored = api.post(f"{API}/declarations/{slug}/signatures", caller,
                      json={"payload": payload, "signature": key.sign_b64(payload)})
    assert stored.status_code == 201, stored.get_json()


@BACKENDS
def test_the_last_signature_freezes_and_the_bundle_verifies(app: Flask, api: Api, people: People) -> None:
    from signing.core.verifier import verify_bundle

    _open(people, "all-sign")
    izmir, athens = enrol(people.delegate), enrol(people.other_delegate)
    _sign(api, "all-sign", izmir, "delegate")
    assert api.get(f"{API}/declarations/all-sign").get_json()["status"] == "open_for_signature"
    assert api.get(f"{API}/declarations/all-sign/bundle").status_code == 404
    _sign(api, "all-sign", athens, "other_delegate")

    assert api.get(f"{API}/declarations/all-sign").get_json()["status"] == "frozen"
    bundle = api.get(f"{API}/declarations/all-sign/bundle", "observer")
    assert bundle.status_code == 200 and bundle.mimetype == "application/zip"
    report = verify_bundle(bundle.data)
    assert report.failures == 0 and report.signatures_ok == 2, report.lines
    again = api.post(f"{API}/declarations/all-sign/freeze")
    assert again.status_code == 409  # frozen: nothing left to freeze


@BACKENDS
def test_the_secretariat_freezes_after_the_deadline(app: Flask, api: Api, people: People) -> None:
    from signing.extensions import db
    from signing.models import utcnow
    from signing.services import declarations

    declaration = _open(people, "deadline", rule_kind="quorum", quorum=2, deadline=utcnow() + timedelta(days=1))
    _sign(api, "deadline", enrol(people.delegate), "delegate")
    early = api.post(f"{API}/declarations/deadline/freeze")
    assert early.status_code == 409 and "deadline" in early.get_json()["error"]["message"]
    assert api.post(f"{API}/declarations/deadline/freeze", "delegate").status_code == 403

    declaration = declarations.get("deadline")
    declaration.signing_deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    frozen = api.post(f"{API}/declarations/deadline/freeze")
    assert frozen.status_code == 202, frozen.get_json()
    assert frozen.get_json() == {"status": "frozen", "queued": False}
    assert api.get(f"{API}/declarations/deadline/bundle").status_code == 200
