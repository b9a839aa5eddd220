"""A format may name its own sentence and hold booleans and arrays (of scalars or of objects).

Shown with a made-up entry that is not about a revision: it builds and parses once it is in the table,
a wrong item or member type is refused, its bytes are plain JCS (nested members sorted), and the fast
reader hands it to ``payload.parse`` (its patterns cover formats of strings and integers only).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from signing.core import fastparse, payload, statements

ITEM = (statements.Field("tag", "string", "Tag"), statements.Field("main", "boolean", "Main"))
LISTING = statements.StatementFormat(
    name="accord.listing/1", noun="listing", verb="lists", signed_by="anyone",
    template="{owner} {verb} {count} items.",
    fields=(
        statements.Field("format", "string", "Format"),
        statements.Field("owner", "string", "Owner"),
        statements.Field("count", "integer", "Count"),
        statements.Field("public", "boolean", "Public"),
        statements.Field("names", "array", "Names", item_type="string"),
        statements.Field("items", "array", "Items", item_fields=ITEM),
        statements.Field("statement", "string", "Statement"),
    ),
)
FIELDS: dict[str, Any] = {
    "format": LISTING.name, "owner": "Kadıköy", "count": 2, "public": True, "names": ["a", "b"],
    "items": [{"tag": "en", "main": True}, {"tag": "tr", "main": False}],
}


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements, "FORMATS", statements.table(*statements.FORMATS.values(), LISTING))


def test_sentence_fields_come_from_the_template() -> None:
    assert LISTING.sentence_fields == ("owner", "count")
    assert statements.SIGNATURE.sentence_fields == (
        "signer_name", "city_name", "revision", "declaration_title", "text_sha256")
    assert not LISTING.scalar and statements.SIGNATURE.scalar
    names = next(field for field in LISTING.as_json()["fields"] if field["name"] == "items")
    assert names["items"]["type"] == "object" and [f["name"] for f in names["items"]["fields"]] == ["tag", "main"]


def test_a_sentence_may_not_name_an_array_or_a_missing_field() -> None:
    with pytest.raises(ValueError, match="names only strings"):
        statements.StatementFormat("x/1", "x", "v", "s", LISTING.fields, template="{names} {verb}")
    with pytest.raises(ValueError, match="'nobody' is missing"):
        statements.StatementFormat("x/1", "x", "v", "s", LISTING.fields, template="{nobody} {verb}")


def test_booleans_and_arrays_build_and_parse(installed: None) -> None:
    data = payload.build(FIELDS)
    assert data == json.dumps({**FIELDS, "statement": "Kadıköy lists 2 items."}, sort_keys=True,
                              separators=(",", ":"), ensure_ascii=False).encode()
    assert b'{"main":true,"tag":"en"}' in data  # members of nested objects sorted too
    assert payload.parse(data) == fastparse.parse_payload(data) == {**FIELDS, "statement": "Kadıköy lists 2 items."}


@pytest.mark.parametrize(("name", "value"), [
    ("public", 1), ("names", ["a", 2]), ("names", "a"), ("items", [{"tag": "en"}]),
    ("items", [{"tag": "en", "main": "yes"}]), ("items", [{"tag": "en", "main": True, "x": 1}]), ("items", ["en"]),
])
def test_wrong_shapes_are_refused(installed: None, name: str, value: Any) -> None:
    with pytest.raises(payload.PayloadError, match=name):
        payload.build({**FIELDS, name: value})
    text = json.dumps({**FIELDS, name: value, "statement": "Kadıköy lists 2 items."}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    for reader in (payload.parse, fastparse.parse_payload):
        with pytest.raises(payload.PayloadError):
            reader(text.encode())
