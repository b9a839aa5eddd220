"""``accord.mandate/1`` and ``accord.mandate-revocation/1``: their bytes, their sentences, what a mandate covers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from signing.core import fastparse, payload, statements

FP = "sha256:" + "ab" * 32


def mandate_fields(**changes: Any) -> dict[str, Any]:
    return {
        "format": "accord.mandate/1", "issuer": "https://accord.example.org", "city_slug": "izmir",
        "city_name": "İzmir", "mayor_id": 3, "mayor_name": "Cemil Tugay",
        "mayor_key_fingerprint": "sha256:" + "cd" * 32,
        "delegate_id": 7, "delegate_name": "Ayşe Demir", "delegate_key_fingerprints": [FP], "scope": "network",
        "valid_from": "2026-11-01T00:00:00Z", "valid_until": "2026-12-01T00:00:00Z",
        "issued_at": "2026-11-01T00:00:00Z", "nonce": "n" * 32, **changes,
    }


def test_a_mandate_builds_canonical_bytes_with_its_own_sentence() -> None:
    data = payload.build(mandate_fields())
    parsed = payload.parse(data)
    assert parsed["statement"] == ("Cemil Tugay, mayor of İzmir, mandates Ayşe Demir to sign for İzmir (scope network) "
                                   "from 2026-11-01T00:00:00Z until 2026-12-01T00:00:00Z.")
    assert fastparse.parse_payload(data) == parsed  # not a scalar format: the fast reader defers to payload.parse
    assert data.index(b'"delegate_key_fingerprints":["sha256:') > 0
    assert statements.lookup("accord.mandate/1") is statements.MANDATE


def test_a_revocation_names_the_mandate_hash() -> None:
    own = statements.MANDATE_REVOCATION.field_names
    fields = {name: value for name, value in mandate_fields().items() if name in own}
    data = payload.build({**fields, "format": "accord.mandate-revocation/1", "revokes_mandate_sha256": "0" * 64})
    assert payload.parse(data)["statement"] == ("Cemil Tugay, mayor of İzmir, revokes the mandate with SHA-256 "
                                                + "0" * 64 + ".")


@pytest.mark.parametrize("bad", [{"delegate_key_fingerprints": FP}, {"delegate_key_fingerprints": [7]},
                                 {"delegate_id": "7"}, {"scope": None}])
def test_wrong_types_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(payload.PayloadError):
        payload.build(mandate_fields(**bad))


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.mark.parametrize(("changes", "moment", "slug", "covered"), [
    ({}, "2026-11-15T00:00:00Z", "decl", True),
    ({}, "2026-11-01T00:00:00Z", "decl", True),  # valid_from is included
    ({}, "2026-12-01T00:00:00Z", "decl", False),  # valid_until is not
    ({}, "2026-10-31T23:59:59Z", "decl", False),
    ({"scope": "declaration:decl"}, "2026-11-15T00:00:00Z", "decl", True),
    ({"scope": "declaration:decl"}, "2026-11-15T00:00:00Z", "other", False),
    ({"delegate_key_fingerprints": ["sha256:" + "ef" * 32]}, "2026-11-15T00:00:00Z", "decl", False),
    ({"delegate_id": 8}, "2026-11-15T00:00:00Z", "decl", False),
    ({"city_slug": "athens"}, "2026-11-15T00:00:00Z", "decl", False),
    ({"format": "accord.signature/1"}, "2026-11-15T00:00:00Z", "decl", False),
])
def test_what_a_mandate_covers(changes: dict[str, Any], moment: str, slug: str, covered: bool) -> None:
    assert payload.mandate_covers(mandate_fields(**changes), city_slug="izmir", delegate_id=7, key_fingerprint=FP,
                                  declaration_slug=slug, moment=at(moment)) is covered
