"""The sign page hands ``static/js/sign.js`` its statement format from the table, without inline script.

The entry travels in the ``data-statement-format`` attribute (strict CSP: no inline script): the
signature format while the city has not signed, the withdrawal format once it has; and the sentence
in it, filled with an issued payload's fields as ``sign.js`` fills it, is that payload's statement.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from signing.core import payload, statements
from tests.conftest import People
from tests.test_web_signing import SLUG, client_as, enrol, fingerprint_of, open_declaration, sign_with_service


def statement_format_of(page: str) -> Any:
    match = re.search(r'data-statement-format="([^"]*)"', page)
    assert match, "no data-statement-format attribute"
    return json.loads(html.unescape(match.group(1)))


def filled(sentence: str, fields: dict[str, Any]) -> str:
    """What ``sign.js`` computes: each ``{name}`` replaced with ``String(fields[name])``."""
    return re.sub(r"\{(\w+)\}", lambda match: str(fields[match[1]]), sentence)


def test_the_sign_page_carries_the_format_it_signs(app: Flask, people: People) -> None:
    from signing.services import signatures

    declaration = open_declaration(people)
    private = Ed25519PrivateKey.generate()
    enrol(people.delegate, private)
    client, _ = client_as(app, people, "delegate")

    page = client.get(f"/declarations/{SLUG}/sign").get_data(as_text=True)
    assert 'data-mode="sign"' in page and "<script>" not in page
    assert statement_format_of(page) == statements.SIGNATURE_V2.as_json()
    issued = signatures.issue_signature_payload(declaration, people.delegate, fingerprint_of(private))
    fields = payload.parse(bytes(issued.payload))
    assert filled(statement_format_of(page)["sentence"], fields) == fields["statement"]

    sign_with_service(declaration, people.delegate, private)
    page = client.get(f"/declarations/{SLUG}/sign").get_data(as_text=True)
    assert 'data-mode="withdraw"' in page
    table = statement_format_of(page)
    assert table == statements.WITHDRAWAL.as_json()
    assert "withdraws_payload_sha256" in [field["name"] for field in table["fields"]]
