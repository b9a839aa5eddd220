"""``accord.signature/2``: one signature names every language version of a revision.

Its bytes are pinned (the documented example is one), its rules beyond types are refused by both readers
(unsorted or repeated tags, no or two authoritative versions, ``authoritative_language`` and ``text_sha256``
not naming the authoritative version, a malformed hash or tag), and ``accord.signature/1`` is unchanged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from signing.core import fastparse, payload, statements
from tests.crypto.conftest import DOC

EN = hashlib.sha256(b"# Declaration\n\nOne paragraph.\n").hexdigest()
TR = hashlib.sha256(b"# Bildirge\n\nBir paragraf.\n").hexdigest()
FIELDS: dict[str, Any] = {
    "format": "accord.signature/2", "issuer": "https://accord.example.org", "declaration_slug": "izmir",
    "declaration_title": "İzmir Declaration", "revision": 2, "text_sha256": EN, "city_slug": "izmir",
    "city_name": "İzmir", "signer_id": 7, "signer_name": "Ayşe Yılmaz", "key_fingerprint": "sha256:" + "4e" * 32,
    "issued_at": "2026-11-27T10:00:00Z", "expires_at": "2026-11-27T10:05:00Z", "nonce": "n" * 32,
    "versions": [{"tag": "en", "sha256": EN, "authoritative": True},
                 {"tag": "tr", "sha256": TR, "authoritative": False}],
    "authoritative_language": "en", "mandate_sha256": "",
}
STATEMENT = ("Ayşe Yılmaz, for İzmir, signs revision 2 of \u201cİzmir Declaration\u201d in every language version it "
             f"lists (authoritative en, text SHA-256 {EN}).")


def test_the_bytes_are_pinned() -> None:
    data = payload.build(FIELDS)
    assert data == (
        '{"authoritative_language":"en","city_name":"İzmir","city_slug":"izmir","declaration_slug":"izmir",'
        '"declaration_title":"İzmir Declaration","expires_at":"2026-11-27T10:05:00Z","format":"accord.signature/2",'
        '"issued_at":"2026-11-27T10:00:00Z","issuer":"https://accord.example.org","key_fingerprint":"sha256:'
        + "4e" * 32 + '","mandate_sha256":"","nonce":"' + "n" * 32 + '","revision":2,"signer_id":7,'
        '"signer_name":"Ayşe Yılmaz","statement":"' + STATEMENT + '","text_sha256":"' + EN + '","versions":['
        '{"authoritative":true,"sha256":"' + EN + '","tag":"en"},{"authoritative":false,"sha256":"' + TR
        + '","tag":"tr"}]}').encode("utf-8")
    assert payload.parse(data) == fastparse.parse_payload(data) == {**FIELDS, "statement": STATEMENT}
    assert payload.build({**FIELDS, "mandate_sha256": TR}) != data  # the mandates' branch fills it in


def test_the_documented_example_parses() -> None:
    example = next(line for line in DOC.read_text(encoding="utf-8").splitlines()
                   if line.startswith('{"authoritative_language"'))
    fields = payload.parse(example.encode("utf-8"))
    assert fields["format"] == "accord.signature/2" and [v["tag"] for v in fields["versions"]] == ["en", "tr"]


def _version(tag: str, sha: str, main: bool) -> dict[str, Any]:
    return {"tag": tag, "sha256": sha, "authoritative": main}


@pytest.mark.parametrize(("changes", "refusal"), [
    ({"versions": []}, "is empty"),
    ({"versions": [_version("tr", TR, False), _version("en", EN, True)]}, "not sorted by tag"),
    ({"versions": [_version("en", EN, True), _version("en", TR, False)]}, "not sorted by tag"),
    ({"versions": [_version("en", EN, True), _version("tr", TR, True)]}, "exactly one authoritative"),
    ({"versions": [_version("en", EN, False), _version("tr", TR, False)]}, "exactly one authoritative"),
    ({"authoritative_language": "tr"}, "authoritative_language"),
    ({"text_sha256": TR}, "text_sha256"),
    ({"versions": [_version("en", EN, True), _version("tr", TR.upper(), False)]}, "lowercase hex"),
    ({"versions": [_version("en", EN, True), _version("tr", "", False)]}, "lowercase hex"),
    ({"versions": [_version("en", EN, True), _version("t r", TR, False)]}, "BCP 47"),
    ({"versions": [_version("en", EN, True), _version("tr", TR, 0)]}, "wrong type"),  # type: ignore[arg-type]
    ({"mandate_sha256": "abc"}, "mandate_sha256"),
])
def test_broken_rules_are_refused_by_both_readers(changes: dict[str, Any], refusal: str) -> None:
    fields = {**FIELDS, **changes}
    with pytest.raises(payload.PayloadError, match=refusal):
        payload.build(fields)
    entry = statements.SIGNATURE_V2
    data = json.dumps({**fields, "statement": entry.statement(fields)}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()
    for reader in (payload.parse, fastparse.parse_payload):
        with pytest.raises(payload.PayloadError, match=refusal):
            reader(data)


def test_signature_1_is_unchanged() -> None:
    assert statements.lookup("accord.signature/1") is statements.SIGNATURE
    assert "versions" not in statements.SIGNATURE.field_names
    assert set(statements.SIGNATURE_V2.field_names) == {
        *statements.SIGNATURE.field_names, "versions", "authoritative_language", "mandate_sha256"}
