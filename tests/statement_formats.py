"""For the tests: a made-up third statement format, and sample fields for any entry of the table.

``MADE_UP`` is never part of Accord; a test installs it with ``made_up_format_installed()`` to show
that a new kind of statement is one table entry: ``payload``, ``fastparse`` and the offline signer
read ``statements.FORMATS`` when they run, so nothing else has to change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from signing.core import statements

TEXT_SHA = hashlib.sha256(b"# Declaration\n\nOne paragraph.\n").hexdigest()
OTHER_SHA = hashlib.sha256(b"# Bildirge\n\nBir paragraf.\n").hexdigest()

MADE_UP = statements.StatementFormat(
    name="accord.countersignature/1", noun="countersignature", verb="countersigns",
    signed_by="the secretariat of the issuer",
    fields=(
        *(field for field in statements.SIGNATURE.fields if field.name != "statement"),
        statements.Field("countersigns_payload_sha256", "string", "Countersigns the signed statement"),
        statements.Field("witness_count", "integer", "Witnesses"),
        statements.SIGNATURE.field("statement"),
    ),
)


@contextmanager
def made_up_format_installed() -> Iterator[statements.StatementFormat]:
    """``statements.FORMATS`` with ``MADE_UP`` as a third entry, for the duration of the block."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(statements, "FORMATS", statements.table(*statements.FORMATS.values(), MADE_UP))
        yield MADE_UP


def sample_fields(entry: statements.StatementFormat, **changes: Any) -> dict[str, Any]:
    """A complete set of fields for ``entry`` (without ``statement``), each of its type in the table."""
    fields: dict[str, Any] = {}
    for number, field in enumerate(entry.fields, start=1):
        if field.name == "format":
            fields[field.name] = entry.name
        elif field.type_name == "integer":
            fields[field.name] = number
        elif field.type_name == "boolean":
            fields[field.name] = number % 2 == 0
        elif field.type_name == "array":  # of strings (the formats' arrays)
            fields[field.name] = [f"{field.name} n°{number} of İzmir", f"{field.name} n°{number + 1}"]
        elif field.name != "statement":
            fields[field.name] = f"{field.name} n°{number} of İzmir"
    # A change naming a field the entry does not have is ignored (the tests give one set of changes to every format).
    fields.update({name: value for name, value in changes.items() if name in entry.field_names})
    if "versions" in entry.field_names:  # the rules of a format with language versions: consistent values
        defaults = {"text_sha256": TEXT_SHA, "authoritative_language": "en", "mandate_sha256": ""}
        fields.update({name: value for name, value in defaults.items() if name not in changes})
        tag, sha = fields["authoritative_language"], fields["text_sha256"]
        if "versions" not in changes:
            fields["versions"] = [
                {"tag": tag if isinstance(tag, str) else "en", "sha256": sha if isinstance(sha, str) else TEXT_SHA,
                 "authoritative": True},
                {"tag": "tr", "sha256": OTHER_SHA, "authoritative": False}]
    return fields


def wrong_value(field: statements.Field) -> list[Any]:
    """Values of another JSON type than ``field``'s (a boolean is not an integer)."""
    if field.type_name == "array":
        return [7, None, "x", {"tag": "en"}]
    if field.type_name == "boolean":
        return [1, "true", None]
    return [True, "7", None] if field.type_name == "integer" else [7, None, ["x"]]
