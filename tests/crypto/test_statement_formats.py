"""The statement formats are one table (``signing.core.statements``), and the table drives the bytes.

``payload.build`` and ``payload.parse`` take each format's fields and types from the table: a made-up
third format builds and parses once it is an entry, wrong types and missing or extra fields are refused
per the table, the sentence the signing page checks is the one Python derives, and
``docs/signature-format.md`` lists what the table holds. The formats already issued are pinned here
(their bytes are pinned by ``test_issued_fixtures.py``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from signing.core import fastparse, payload, statements
from tests.crypto.conftest import DOC
from tests.statement_formats import MADE_UP, made_up_format_installed, sample_fields, wrong_value

ENTRIES = [*statements.FORMATS.values(), MADE_UP]


def canonical(fields: dict[str, Any]) -> bytes:
    """The JCS bytes of any JSON object of strings and small integers, without ``payload``'s checks."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def hand_made(entry: statements.StatementFormat, fields: dict[str, Any]) -> bytes:
    """Canonical bytes of ``fields`` with the statement ``entry`` derives from them, whatever their types."""
    return canonical({**fields, "statement": entry.sentence.format_map(fields)})


def test_the_table_holds_the_formats_already_issued() -> None:
    assert list(statements.FORMATS) == ["accord.signature/1", "accord.withdrawal/1", "accord.signature/2",
                                        "accord.mandate/1", "accord.mandate-revocation/1", "accord.endorsement/1",
                                        "accord.endorsement-withdrawal/1"]
    signature, withdrawal = statements.SIGNATURE, statements.WITHDRAWAL
    assert (signature.name, withdrawal.name) == (payload.SIGNATURE_FORMAT, payload.WITHDRAWAL_FORMAT)
    assert sorted(signature.field_names) == [
        "city_name", "city_slug", "declaration_slug", "declaration_title", "expires_at", "format", "issued_at",
        "issuer", "key_fingerprint", "nonce", "revision", "signer_id", "signer_name", "statement", "text_sha256"]
    assert set(withdrawal.field_names) == {*signature.field_names, "withdraws_payload_sha256"}
    for entry in (signature, withdrawal):
        integers = {field.name for field in entry.fields if field.type_name == "integer"}
        assert integers == {"revision", "signer_id"}, entry.name
        assert {field.type_name for field in entry.fields} == {"string", "integer"}
        assert all(field.label for field in entry.fields)
    assert (signature.verb, withdrawal.verb) == ("signs", "withdraws the signature of")
    assert signature.field_names == payload.SIGNATURE_FIELDS and withdrawal.field_names == payload.WITHDRAWAL_FIELDS


def test_a_made_up_format_builds_and_parses_once_it_is_a_table_entry() -> None:
    fields = sample_fields(MADE_UP)
    with pytest.raises(payload.PayloadError, match="^unknown payload format 'accord.countersignature/1'$"):
        payload.build(fields)
    with made_up_format_installed():
        data = payload.build(fields)
        parsed = payload.parse(data)
        fast = fastparse.parse_payload(data)
    assert parsed == {**fields, "statement": parsed["statement"]}
    assert parsed["statement"] == (
        "signer_name n°8 of İzmir, for city_name n°6 of İzmir, countersigns revision 4 of \u201cdeclaration_title "
        "n°2 of İzmir\u201d (text SHA-256 text_sha256 n°5 of İzmir).")
    assert fast == {name: parsed[name] for name in fast}
    assert fast["witness_count"] == parsed["witness_count"] == 16  # its own integer, returned as an integer
    assert fast["countersigns_payload_sha256"] == parsed["countersigns_payload_sha256"]
    # Without the entry, the same bytes are an unknown format again, for both readers.
    for reader in (payload.parse, fastparse.parse_payload):
        with pytest.raises(payload.PayloadError, match="^unknown payload format"):
            reader(data)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_each_format_builds_the_bytes_it_parses(entry: statements.StatementFormat) -> None:
    with made_up_format_installed():
        fields = sample_fields(entry)
        data = payload.build(fields)
        assert data == hand_made(entry, fields)  # sorted keys, no whitespace, the derived statement
        assert payload.parse(data) == {**fields, "statement": entry.statement(fields)}
        assert payload.build({**fields, "statement": "any other sentence"}) == data  # always derived
        assert fastparse.parse_payload(data)["statement"] == entry.statement(fields)
        assert f" {entry.verb} " in entry.statement(fields)
        if entry.template == statements.SENTENCE:
            assert f", {entry.verb} revision " in entry.statement(fields)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_wrong_field_types_are_refused_per_the_table(entry: statements.StatementFormat) -> None:
    with made_up_format_installed():
        for field in entry.fields:
            if field.name == "format":
                continue
            for value in wrong_value(field):
                fields = sample_fields(entry, **{field.name: value})
                data = hand_made(entry, fields)
                if field.name == "statement":
                    data = canonical({**sample_fields(entry), "statement": value})
                else:
                    with pytest.raises(payload.PayloadError, match=f"^payload field '{field.name}' has the wrong"):
                        payload.build(fields)
                for reader in (payload.parse, fastparse.parse_payload):
                    with pytest.raises(payload.PayloadError, match=f"^payload field '{field.name}' has the wrong"):
                        reader(data)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_missing_and_extra_fields_are_refused_per_the_table(entry: statements.StatementFormat) -> None:
    others = {name for other in ENTRIES for name in other.field_names} - set(entry.field_names)
    assert others or entry is MADE_UP
    with made_up_format_installed():
        complete = sample_fields(entry)
        variants = [{name: value for name, value in complete.items() if name != gone}
                    for gone in complete if gone != "format"]
        variants += [{**complete, extra: "x"} for extra in [*others, "extra", "Statement"]]
        for fields in variants:
            with pytest.raises(payload.PayloadError, match=f"^payload fields differ from {re.escape(entry.name)}"):
                payload.build(fields)
            data = canonical({**fields, "statement": "s"})
            for reader in (payload.parse, fastparse.parse_payload):
                with pytest.raises(payload.PayloadError, match="^the payload has missing or extra fields$"):
                    reader(data)
        without_statement = canonical(complete)
        for reader in (payload.parse, fastparse.parse_payload):
            with pytest.raises(payload.PayloadError, match="^the payload has missing or extra fields$"):
                reader(without_statement)


@pytest.mark.parametrize("value", [["accord.signature/1"], {"a": 1}, 1, None, True, "accord.signature/3", ""])
def test_a_format_not_in_the_table_is_refused_whatever_its_type(value: object) -> None:
    data = canonical({**sample_fields(statements.SIGNATURE), "format": value, "statement": "s"})
    for reader in (payload.parse, fastparse.parse_payload):
        with pytest.raises(payload.PayloadError, match="^unknown payload format"):
            reader(data)
    with pytest.raises(payload.PayloadError, match="^unknown payload format"):
        payload.build({**sample_fields(statements.SIGNATURE), "format": value})
    with pytest.raises(payload.PayloadError, match="^unknown payload format"):
        payload.build({name: v for name, v in sample_fields(statements.SIGNATURE).items() if name != "format"})


def test_a_table_entry_is_checked_when_it_is_made() -> None:
    fields = statements.SIGNATURE.fields
    with pytest.raises(ValueError, match="listed twice"):
        statements.StatementFormat("x/1", "x", "signs", "someone", (*fields, fields[0]))
    for needed in ("format", "statement", *statements.SENTENCE_FIELDS):
        with pytest.raises(ValueError, match=f"the field '{needed}' is missing"):
            statements.StatementFormat("x/1", "x", "signs", "someone", tuple(f for f in fields if f.name != needed))
    with pytest.raises(ValueError, match="braces"):
        statements.StatementFormat("x/1", "x", "signs {nonce}", "someone", fields)
    retyped = tuple(statements.Field(f.name, "integer", f.label) if f.name == "statement" else f for f in fields)
    with pytest.raises(ValueError, match="format and statement are strings"):
        statements.StatementFormat("x/1", "x", "signs", "someone", retyped)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_the_page_gets_the_entry_and_its_sentence_is_the_statement(entry: statements.StatementFormat) -> None:
    """``as_json`` is what ``sign.js`` reads; its sentence, filled as ``sign.js`` fills it, is the statement."""
    table = json.loads(json.dumps(entry.as_json()))
    assert table["name"] == entry.name and table["verb"] == entry.verb and table["signed_by"] == entry.signed_by
    assert [(f["name"], f["type"], f["label"]) for f in table["fields"]] == [
        (f.name, f.type_name, f.label) for f in entry.fields]
    fields = sample_fields(entry, declaration_title='A "quoted" {title} — with\\backslash', city_name="Chișinău")
    filled = re.sub(r"\{(\w+)\}", lambda match: str(fields[match[1]]), table["sentence"])  # sign.js's replace
    assert filled == entry.statement(fields)


def _doc_rows(first_cell: str) -> list[list[str]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| `{first_cell}"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_document_lists_every_format_and_field_of_the_table() -> None:
    formats = {row[0].strip("`"): row for row in _doc_rows("accord.")}
    assert set(formats) == set(statements.FORMATS)
    for entry in statements.FORMATS.values():
        # The fields every format of the same signer (delegate, mayor) has.
        shared = set.intersection(*(set(other.field_names) for other in statements.FORMATS.values()
                                    if other.signed_by == entry.signed_by))
        _, verb, signed_by, own = formats[entry.name]
        assert verb == entry.verb and signed_by == entry.signed_by, entry.name
        listed = set() if own == "none" else {name.strip(" `") for name in own.split(",")}
        assert listed == set(entry.field_names) - shared, entry.name
    types = {row[0].strip("`"): row[1] for row in _doc_rows("") if not row[0].startswith("`accord.")}
    for entry in statements.FORMATS.values():
        for field in entry.fields:
            assert types.get(field.name) == field.type_name, (entry.name, field.name)
