"""Bidirectional-override characters: refused in names, titles and labels; visible wherever text is shown."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import PASSWORD, People, csrf_token, login

pytestmark = pytest.mark.usefixtures("fresh_g")

RLO = "\u202e"
CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
PLACEHOLDER = '<span class="bidi-char" title="U+202E">⟨U+202E⟩</span>'
REFUSED = "invisible direction-control characters"


def _as(app: Flask, email: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client, csrf_token(client, "/account")


def _public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                 serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def test_every_control_is_known() -> None:
    from signing.text.bidi import BIDI_CONTROLS, found

    assert set(CONTROLS) == BIDI_CONTROLS
    assert found("a\u2067b\u202ac") == ["U+202A", "U+2067"]
    assert found("plain İzmir text, with \u200f a mark") == []  # RLM is not an override


@pytest.mark.parametrize("control", CONTROLS)
def test_names_titles_and_labels_refuse_them_in_forms(app: Flask, people: People, control: str) -> None:
    from signing.extensions import db
    from signing.models import City, Declaration, User

    def counts() -> tuple[int, ...]:
        return tuple(db.session.scalar(select(func.count()).select_from(m)) or 0 for m in (City, Declaration, User))

    before = counts()
    sec, token = _as(app, people.secretariat.email)
    for path, data in (
        ("/admin/cities/new", {"name": f"Sofia{control}", "country": "Bulgaria"}),
        ("/admin/cities/new", {"name": "Sofia", "country": f"{control}Bulgaria"}),
        ("/admin/users", {"display_name": f"Ann{control}a", "email": "anna@b40.example", "role": "observer"}),
        ("/declarations/new", {"title": f"Declaration{control} 2026", "slug": "d2026", "text": "One.\n\nTwo."}),
    ):
        response = sec.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 400, (path, response.status_code)
        assert REFUSED in response.get_data(as_text=True), path
    response = sec.post("/account/tokens", data={"csrf_token": token, "name": f"laptop{control}"})
    assert response.status_code == 400 and REFUSED in response.get_data(as_text=True)

    delegate, token = _as(app, people.delegate.email)
    response = delegate.post("/account/keys", headers={"X-CSRFToken": token},
                             json={"public_key": _public_key(), "label": f"Phone{control}", "password": PASSWORD})
    assert response.status_code == 400 and REFUSED in response.get_json()["error"]["message"]
    assert counts() == before


def test_api_refuses_them_in_labels(app: Flask, people: People) -> None:
    from signing.services import tokens

    _, secret = tokens.create(people.delegate, "cli")
    response = app.test_client().post(
        "/api/v1/keys", headers={"Authorization": f"Bearer {secret}"},
        json={"public_key": _public_key(), "label": f"gpj.{RLO}exe", "password": PASSWORD, "origin": "cli"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bidi_control"


def test_declaration_text_keeps_them_and_shows_them(app: Flask, people: People) -> None:
    from signing.services import declarations, review

    text = f"We agree to pay {RLO}0001{chr(0x202c)} euros.\n\nSecond paragraph."
    declaration = declarations.create("Bidi test", text, people.secretariat, slug="bidi")
    declarations.open_consultation(declaration, people.secretariat)
    revision = declaration.latest
    assert RLO in revision.text  # the bytes stay exactly as written
    review.add_comment(revision, 0, f"Look: {RLO}txet{chr(0x202c)}", people.delegate)
    review.propose_amendment(revision, 1, f"Second {RLO}paragraph.", f"Because {RLO}.", people.delegate)

    client, _ = _as(app, people.delegate.email)
    page = client.get("/declarations/bidi/revisions/1").get_data(as_text=True)
    # Editing fields hold the exact source (an amendment starts from it); everything displayed is marked.
    shown = re.sub(r"<textarea[^>]*>[^<]*</textarea>", "", page)
    assert RLO in page and RLO not in shown
    assert PLACEHOLDER in page  # text, comment, amendment
    assert '<span class="bidi-char" title="U+202C">⟨U+202C⟩</span>' in page
    assert "invisible direction-control characters (U+202E)" in page  # the amendment's redline flags it
    source = client.get("/declarations/bidi/revisions/1.md")
    assert RLO in source.get_data(as_text=True)  # the download is the exact text


def test_render_and_redline_units() -> None:
    from signing.text.redline import redline
    from signing.text.render import render_markdown

    html = str(render_markdown(f'[a{RLO}b](https://example.org "t{RLO}") and `c{RLO}`'))
    assert RLO not in html
    assert html.count(PLACEHOLDER) == 2  # link text and code
    assert 'title="t⟨U+202E⟩"' in html  # inside an attribute: plain text, the tag stays whole
    result = redline("Pay 100 euros.\n", f"Pay {RLO}001 euros.\n")
    assert result.summary.bidi_controls == ("U+202E",)
    assert RLO not in str(result.html) and PLACEHOLDER in str(result.html)
    assert str(result.html).startswith('<p class="bidi-warning"')
    assert redline("a\n", "b\n").summary.bidi_controls == ()
