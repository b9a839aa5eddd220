"""Language versions of a revision: saving them, immutability, review in a language, the pages.

One save of the versions is one new revision (a changed or added version, never an unchanged one);
rows are append-only in SQLite and PostgreSQL; comments and amendments name their language, and an
amendment to the Turkish version changes only it; the edit page saves side-by-side versions; the revision
page and the redline take ``lang``; the dashboard lists each revision's tags; a signature names both.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from tests.conftest import BACKENDS, People, csrf_token, login

pytestmark = pytest.mark.usefixtures("fresh_g")

EN = "# Declaration\n\nThe cities agree.\n\nThey meet again.\n"
TR = "# Bildirge\n\nŞehirler anlaşır.\n\nYeniden buluşurlar.\n"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@pytest.fixture
def draft(app: Flask, people: People) -> Any:
    from signing.services import declarations

    return declarations.create("Network declaration", EN, people.secretariat, slug="network")


def test_a_revision_without_rows_is_one_authoritative_english_version(draft: Any) -> None:
    revision = draft.latest
    assert revision.version_rows == []
    assert [(v.tag, v.sha256, v.authoritative) for v in revision.versions] == [("en", sha(EN), True)]
    assert revision.authoritative_language == "en"


@BACKENDS
def test_adding_a_version_makes_a_new_revision_and_rows_are_immutable(draft: Any, people: People) -> None:
    from signing.extensions import db
    from signing.services import Conflict, ServiceError, declarations

    revision = declarations.save_versions(draft, {"en": EN, "TR": TR}, "en", "Turkish added", people.secretariat,
                                          {"tr": "demonstration translation"})
    assert revision.number == 2 and revision.sha256 == sha(EN) and revision.text == EN
    assert [(v.tag, v.sha256, v.authoritative, v.label) for v in revision.versions] == [
        ("en", sha(EN), True, ""), ("tr", sha(TR), False, "demonstration translation")]
    with pytest.raises(Conflict, match="same as revision 2"):
        declarations.save_versions(draft, {"en": EN, "tr": TR}, "en", "", people.secretariat,
                                   {"tr": "demonstration translation"})
    # Changing only the Turkish version is a new revision too; the English one is carried over.
    third = declarations.add_revision(draft, TR + "\nBir paragraf daha.\n", "", people.secretariat, language="tr")
    assert third.number == 3 and third.sha256 == sha(EN)
    assert third.version("tr").text.endswith("Bir paragraf daha.\n")
    assert third.version("tr").label == "demonstration translation"
    for texts, main, message in [({"en": EN}, "tr", "authoritative language tr has no text"),
                                 ({"en": EN, "t r": TR}, "en", "not a language tag"),
                                 ({"en": EN, "tr": TR, "TR": TR}, "en", "given twice"),
                                 ({"en": EN, "tr": "   "}, "en", "Türkçe")]:
        with pytest.raises(ServiceError, match=message):
            declarations.save_versions(draft, texts, main, "", people.secretariat)
    assert draft.latest.number == 3
    for statement in ("UPDATE revision_versions SET text = 'x'", "DELETE FROM revision_versions"):
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(statement))
            db.session.flush()
        db.session.rollback()


def test_comments_and_amendments_name_their_language(draft: Any, people: People) -> None:
    from signing.services import NotFound, declarations, review

    declarations.save_versions(draft, {"en": EN, "tr": TR}, "en", "", people.secretariat)
    declarations.open_consultation(draft, people.secretariat)
    revision = draft.latest
    comment = review.add_comment(revision, 1, "Çeviri doğru mu?", people.delegate, language="tr")
    assert comment.language == "tr"
    assert review.add_comment(revision, 1, "Fine.", people.delegate).language == "en"
    reply = review.add_comment(revision, 1, "Evet.", people.delegate, parent_id=comment.id)
    assert reply.language == "tr"
    with pytest.raises(NotFound):
        review.add_comment(revision, 1, "x", people.delegate, language="el")
    amendment = review.propose_amendment(revision, 1, "Şehirler tam olarak anlaşır.", "Daha açık.", people.delegate,
                                         language="tr")
    assert amendment.language == "tr" and amendment.original == "Şehirler anlaşır."
    result = review.accept_amendment(amendment, people.secretariat)
    assert result.version("tr").text == TR.replace("Şehirler anlaşır.", "Şehirler tam olarak anlaşır.")
    assert result.version("en").text == EN and result.sha256 == sha(EN)


def _client(app: Flask, person: Any) -> Any:
    client = app.test_client()
    assert login(client, person.email).status_code == 302
    return client


def test_the_edit_page_saves_versions_side_by_side_and_the_pages_show_them(app: Flask, draft: Any,
                                                                          people: People) -> None:
    client = _client(app, people.secretariat)
    page = client.get("/declarations/network/edit").get_data(as_text=True)
    assert 'name="new_tag"' in page and "authoritative version" in page
    token = csrf_token(client, "/declarations/network/edit")
    response = client.post("/declarations/network/edit", data={
        "csrf_token": token, "text": EN, "note": "Turkish", "new_tag": "tr", "new_text": TR,
        "new_label": "demonstration translation"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get("/declarations/network/edit").get_data(as_text=True)
    assert 'name="version-tr"' in page and "Yeniden buluşurlar." in page
    # A malformed tag: a clear 400, nothing saved.
    response = client.post("/declarations/network/edit", data={
        "csrf_token": token, "text": EN, "version-tr": TR, "new_tag": "t r", "new_text": "x"})
    assert response.status_code == 400 and "not a language tag" in response.get_data(as_text=True)
    # Edit the Turkish version only: revision 3.
    response = client.post("/declarations/network/edit", data={
        "csrf_token": token, "text": EN, "version-tr": TR + "\nSon.\n", "label-tr": "demonstration translation"})
    assert response.status_code == 302
    page = client.get("/declarations/network/revisions/3?lang=tr").get_data(as_text=True)
    assert "Son." in page and 'lang="tr"' in page and "demonstration translation" in page
    assert client.get("/declarations/network/revisions/1?lang=tr").status_code == 404
    redline = client.get("/declarations/network/compare?from=2&to=3&lang=tr").get_data(as_text=True)
    assert "Son." in redline and sha(TR) in redline
    assert client.get("/declarations/network/compare?from=1&to=3&lang=tr").status_code == 404
    board = client.get("/declarations/network/dashboard").get_data(as_text=True)
    assert 'data-revision="3"' in board and 'data-tag="tr"' in board


def test_a_signature_names_every_version(app: Flask, draft: Any, people: People) -> None:
    from signing.core import payload
    from signing.models import SigningKey
    from signing.services import declarations, signatures

    declarations.save_versions(draft, {"en": EN, "tr": TR}, "en", "", people.secretariat)
    declarations.open_consultation(draft, people.secretariat)
    declarations.open_signing(draft, 2, people.secretariat)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from signing.extensions import db

    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    db.session.add(SigningKey(user_id=people.delegate.id, public_key=raw, fingerprint=payload.fingerprint(raw),
                              label="test", origin="cli"))
    db.session.commit()
    issued = signatures.issue_signature_payload(draft, people.delegate, payload.fingerprint(raw))
    data = bytes(issued.payload)
    fields = payload.parse(data)
    assert fields["format"] == "accord.signature/2" and fields["mandate_sha256"] == ""
    assert fields["versions"] == [{"tag": "en", "sha256": sha(EN), "authoritative": True},
                                  {"tag": "tr", "sha256": sha(TR), "authoritative": False}]
    record = signatures.submit_signature(draft, people.delegate, data, private.sign(data))
    assert payload.parse(bytes(record.payload))["versions"][1]["sha256"] == sha(TR)
