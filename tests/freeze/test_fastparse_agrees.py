"""``fastparse.parse_payload`` accepts exactly what ``payload.parse`` accepts, for every format of the table.

The verifier reads payloads with ``fastparse``, whose patterns are derived from the table of
``signing.core.statements``; ``payload.parse`` is the definition. Random payloads of every format (and of
a made-up third one, installed as a table entry), with a byte or two changed, get the same answer from
both, and so do hand-made non-canonical ones.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.core import fastparse, payload, statements
from tests.freeze.conftest import raw_public
from tests.statement_formats import MADE_UP, made_up_format_installed, sample_fields

TEXT_SHA = hashlib.sha256(b"# Declaration\n\nOne paragraph.\n").hexdigest()
ENTRIES = [*statements.FORMATS.values(), MADE_UP]


def agree(data: bytes) -> None:
    """``fastparse.parse_payload`` accepts exactly what ``payload.parse`` accepts, with the same fields."""
    try:
        expected = payload.parse(data)
    except Exception:  # any exception is a refusal (some are not PayloadError)
        with pytest.raises(payload.PayloadError):
            fastparse.parse_payload(data)
        return
    fields = fastparse.parse_payload(data)
    assert fields == {name: expected[name] for name in fields} and fields.keys() >= {"format", "statement"}
    shared = frozenset.intersection(*(frozenset(entry.field_names) for entry in statements.FORMATS.values()))
    own = set(expected) - shared
    assert fields.keys() >= own, "a format's own fields are returned"


NAMES = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(entry=st.sampled_from(ENTRIES), city=NAMES, title=NAMES, signer=NAMES, number=st.integers(0, 10**17),
       flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=2))
def test_the_fast_payload_check_agrees_with_payload_parse(entry: statements.StatementFormat, city: str, title: str,
                                                          signer: str, number: int,
                                                          flips: list[tuple[int, int]]) -> None:
    with made_up_format_installed():
        integers = {field.name: number for field in entry.fields if field.type_name == "integer"}
        changes = {"declaration_title": title, "text_sha256": TEXT_SHA, "city_slug": city, "city_name": city,
                   "signer_name": signer, "endorser_id": signer, "country": city, **integers}
        fields = sample_fields(entry, **{name: value for name, value in changes.items() if name in entry.field_names})
        body = {**fields, "statement": entry.statement(fields)}
        data = bytearray(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
        if number < 2**53:  # JCS's integers; beyond, only the readers are compared
            assert bytes(data) == payload.build(fields)
        agree(bytes(data))
        for position, value in flips:
            data[position % len(data)] = value
        agree(bytes(data))


def izmir_payload(key: Ed25519PrivateKey) -> bytes:
    return payload.build({
        "format": payload.SIGNATURE_FORMAT, "issuer": "https://accord.example.org", "declaration_slug": "decl",
        "declaration_title": "A \"quoted\" title — with\\backslash", "revision": 1, "text_sha256": TEXT_SHA,
        "city_slug": "izmir", "city_name": "Izmir", "signer_id": 7, "signer_name": "Delegate of izmir",
        "key_fingerprint": payload.fingerprint(raw_public(key)), "issued_at": "2026-11-27T11:00:00Z",
        "expires_at": "2026-11-27T11:05:00Z", "nonce": "nonce-izmir",
    })


def test_non_canonical_payloads_are_refused_without_a_crash() -> None:
    data = izmir_payload(Ed25519PrivateKey.generate()).decode()
    variants = [data.replace('","', '", "', 1), data.replace('"revision":1', '"revision":01'),
                data.replace('"revision":1', '"revision":1.0'), data.replace('"revision":1', '"revision":-0'),
                data.replace('"revision":1', '"revision":' + "9" * 5000), data.replace("Delegate", "\\u0044elegate"),
                data.replace("Delegate", "\\ud800Delegate"), data.replace("https:/", "https:\\/"),
                data.replace('"nonce"', '"nonce":"x","nonce"'), data[:-1] + ',"extra":"x"}',
                data.replace('"issuer"', '"zzz":' + "[" * 100_000 + "]" * 100_000 + ',"issuer"'), data + " ",
                '{"b":1,"a":2}', "[]", data.replace("izmir", "izmir\\n"),
                data.replace('"format":"accord.signature/1"', '"format":["accord.signature/1"]'),
                data.replace('"format":"accord.signature/1"', '"format":"accord.countersignature/1"')]
    for variant in variants:
        agree(variant.encode())
    with pytest.raises(payload.PayloadError, match="^the payload is not in RFC 8785 canonical form$"):
        fastparse.parse_payload(variants[0].encode())  # payload.parse's own words
