"""For the tests: a made-up third statement format, and sample fields for any entry of the table.

``MADE_UP`` is never part of Accord; a test installs it with ``made_up_format_installed()`` to show
that a new kind of statement is one table entry: ``payload``, ``fastparse`` and the offline signer
read ``statements.FORMATS`` when they run, so nothing else has to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from signing.core import statements

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
    return fields


def wrong_value(field: statements.Field) -> list[Any]:
    """Values of another JSON type than ``field``'s (a boolean is not an integer)."""
    if field.type_name == "integer":
        return [True, "7", None]
    if field.type_name == "array":
        return [7, None, "x"]
    return [7, None, ["x"]]
