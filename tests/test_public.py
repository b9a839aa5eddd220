"""Public pages of a frozen declaration: no login, the bundle verifies, drafts stay hidden."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import BACKENDS, PASSWORD, People


def _sign_and_freeze(people: People) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from signing.core import payload as payloads
    from signing.services import declarations, keys, signatures

    declaration = declarations.create("Sofia Declaration on Open Cities", "We, the cities…\n\nSign here.\n",
                                      people.secretariat, slug="sofia-2026")
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 1, people.secretariat)
    for delegate in (people.delegate, people.other_delegate):
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key = keys.enrol(delegate, payloads.b64encode(raw), "laptop", PASSWORD)
        issued = signatures.issue_signature_payload(declaration, delegate, key.fingerprint)
        signatures.submit_signature(declaration, delegate, issued.payload, private.sign(issued.payload))
    return declaration.slug


@BACKENDS
def test_a_frozen_declaration_is_public_and_its_bundle_verifies(app: Flask, people: People) -> None:
    from signing.core.verifier import verify_bundle

    slug = _sign_and_freeze(people)
    anonymous: FlaskClient = app.test_client()

    index = anonymous.get("/public/")
    assert index.status_code == 200 and "Sofia Declaration on Open Cities" in index.get_data(as_text=True)
    page = anonymous.get(f"/public/declarations/{slug}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "İzmir delegate" in html and "Athens delegate" in html and "Frozen" in html

    archive = anonymous.get(f"/public/declarations/{slug}/bundle.zip")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    assert archive.headers["X-Content-SHA256"] == hashlib.sha256(archive.data).hexdigest()
    report = verify_bundle(archive.data)
    assert report.failures == 0, report.lines
    assert report.signatures_ok == 2

    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert f"{slug}-bundle/declaration.pdf" in names
    pdf = anonymous.get(f"/public/declarations/{slug}/declaration.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = anonymous.get(f"/public/declarations/{slug}/declaration.md")
    assert text.data == "We, the cities…\n\nSign here.\n".encode()


@pytest.mark.parametrize("path", ["", "/bundle.zip", "/bundle.asice", "/declaration.pdf", "/declaration.md"])
def test_a_declaration_not_frozen_is_not_public(app: Flask, people: People, path: str) -> None:
    from signing.services import declarations

    declarations.create("Still a draft", "Text.\n", people.secretariat, slug="draft-one")
    response = app.test_client().get(f"/public/declarations/draft-one{path}")
    assert response.status_code == 404
    assert app.test_client().get(f"/public/declarations/nothing-here{path}").status_code == 404
