"""The two endorsement formats of the table: their fields (as the export relies on), their sentences, and that
no field can hold an e-mail address or a personal name."""

from __future__ import annotations

import json

import pytest

from signing.core import fastparse, payload, statements

IDENTITY = {"format", "issuer", "declaration_slug", "declaration_title", "bundle_manifest_sha256", "endorser_id",
            "endorser_kind", "country", "key_fingerprint", "statement"}
FIELDS = {
    "format": "accord.endorsement/1", "issuer": "https://accord.example.org", "declaration_slug": "b40",
    "declaration_title": "B40 “Declaration”", "bundle_manifest_sha256": "ab" * 32,
    "endorser_id": "en_" + "a" * 26, "endorser_kind": "person", "country": "RO",
    "key_fingerprint": "sha256:" + "cd" * 32, "endorsed_at": "2026-11-30T19:00:00Z",
}


def test_the_table_holds_both_formats_with_the_agreed_fields() -> None:
    endorsement, withdrawal = statements.ENDORSEMENT, statements.ENDORSEMENT_WITHDRAWAL
    assert statements.lookup("accord.endorsement/1") is endorsement
    assert statements.lookup("accord.endorsement-withdrawal/1") is withdrawal
    assert set(endorsement.field_names) == IDENTITY | {"endorsed_at"}
    assert set(withdrawal.field_names) == IDENTITY | {"withdraws_payload_sha256", "withdrawn_at"}
    assert {field.type_name for field in (*endorsement.fields, *withdrawal.fields)} == {"string"}
    for entry in (endorsement, withdrawal):
        assert not {"email", "name", "display_name", "signer_name"} & set(entry.field_names)


def test_the_sentence_and_the_bytes() -> None:
    data = payload.build(FIELDS)
    parsed = payload.parse(data)
    assert parsed["statement"] == (f"Endorser en_{'a' * 26} (person) endorses “B40 “Declaration”” as frozen "
                                   f"(bundle manifest SHA-256 {'ab' * 32}).")
    assert data == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    fast = fastparse.parse_payload(data)  # the fast reader returns every field but those all formats share
    assert fast == {name: value for name, value in parsed.items() if name in fast}
    assert {"endorser_id", "endorser_kind", "country", "bundle_manifest_sha256", "endorsed_at"} <= set(fast)
    withdrawal = payload.build({**{k: v for k, v in FIELDS.items() if k != "endorsed_at"},
                                "format": "accord.endorsement-withdrawal/1", "withdrawn_at": "2026-11-30T19:05:00Z",
                                "withdraws_payload_sha256": "ef" * 32})
    assert f"withdraws the endorsement of “B40 “Declaration”” (bundle manifest SHA-256 {'ab' * 32}) made in the " \
           f"statement with SHA-256 {'ef' * 32}." in payload.parse(withdrawal)["statement"]


@pytest.mark.parametrize("extra", [{"email": "a@b.example"}, {"endorser_name": "Ana"}])
def test_no_other_field_is_accepted(extra: dict[str, str]) -> None:
    with pytest.raises(payload.PayloadError):
        payload.build({**FIELDS, **extra})
