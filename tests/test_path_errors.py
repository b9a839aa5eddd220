"""Issue 11, "no dead ends": a refused form stays on its page with the input kept; a state conflict is explained
on the page where it happened, with the way forward; freeze is offered only when the rule allows it."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import BACKENDS, People, csrf_token
from tests.test_review import TEXT, client_for
from tests.test_web_signing import enrol, open_declaration, sign_with_service

pytestmark = pytest.mark.usefixtures("fresh_g")


def count(model: Any) -> int:
    from signing.extensions import db

    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def consultation(app: Flask, people: People) -> Any:
    from signing.services import declarations

    declaration = declarations.create("Network declaration", TEXT, people.secretariat, slug="network")
    declarations.open_consultation(declaration, people.secretariat)
    return declaration


def textarea(body: str, element_id: str) -> str:
    """The text inside ``<textarea id=element_id ...>``."""
    start = body.index(f'<textarea id="{element_id}"')
    start = body.index(">", start) + 1
    return html.unescape(body[start:body.index("</textarea>", start)])


@BACKENDS
@pytest.mark.parametrize("typed", ["   \n\t  ", "x" * 22_400])
def test_refused_comment_stays_on_the_form_with_the_text(app: Flask, people: People, consultation: Any,
                                                         typed: str) -> None:
    from signing.models import Comment

    client = client_for(app, people.delegate)
    token = csrf_token(client, "/declarations/network")
    response = client.post("/declarations/network/revisions/1/comments",
                           data={"csrf_token": token, "paragraph": "2", "body": typed})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert count(Comment) == 0
    assert 'role="alert"' in body and "Nothing was saved" in body
    assert "Back to the start page" not in body  # the revision page, not an error page
    assert textarea(body, "comment-p2") == typed.replace("\r\n", "\n")
    assert 'aria-invalid="true"' in body and "autofocus" in body
    if typed.strip():
        assert "22400 characters long; 10000 at most" in body
    else:
        assert "The comment is empty" in body
    # The refused form is open; the others are not.
    assert body.count("<details class=\"paragraph-actions\" open>") == 1


@BACKENDS
def test_refused_reply_keeps_its_text(app: Flask, people: People, consultation: Any) -> None:
    from signing.services import review

    parent = review.add_comment(consultation.latest, 0, "A first remark.", people.delegate)
    client = client_for(app, people.other_delegate)
    token = csrf_token(client, "/declarations/network")
    response = client.post("/declarations/network/revisions/1/comments",
                           data={"csrf_token": token, "paragraph": "1", "parent_id": str(parent.id),
                                 "body": "y" * 10_001})
    assert response.status_code == 400
    assert textarea(response.get_data(as_text=True), f"reply-{parent.id}") == "y" * 10_001


@BACKENDS
def test_amendment_identical_to_its_paragraph_keeps_replacement_and_reason(app: Flask, people: People,
                                                                             consultation: Any) -> None:
    from signing.models import Amendment

    client = client_for(app, people.delegate)
    token = csrf_token(client, "/declarations/network")
    same = "They agree to share what they learn."
    response = client.post("/declarations/network/revisions/1/amendments",
                           data={"csrf_token": token, "paragraph": "2", "replacement": same,
                                 "reason": "My carefully written reason."})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert count(Amendment) == 0
    assert "The replacement is the same as the paragraph." in body
    assert textarea(body, "replacement-2") == same
    assert textarea(body, "reason-2") == "My carefully written reason."
    assert 'href="#amend-p2"' in body


@BACKENDS
def test_decline_without_reason_stays_on_the_amendment(app: Flask, people: People, consultation: Any) -> None:
    from signing.services import review

    amendment = review.propose_amendment(consultation.latest, 1, "They share all they learn.", "Shorter.",
                                         people.delegate)
    client = client_for(app, people.secretariat)
    token = csrf_token(client, "/declarations/network")
    response = client.post(f"/declarations/network/amendments/{amendment.id}/decline",
                           data={"csrf_token": token, "reason": "  "})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="decline-{amendment.id}"' in body and 'role="alert"' in body


@BACKENDS
def test_comment_after_consultation_closed_explains_and_keeps_the_text(app: Flask, people: People,
                                                                       consultation: Any) -> None:
    from signing.models import Comment
    from signing.services import declarations

    client = client_for(app, people.delegate)
    token = csrf_token(client, "/declarations/network")
    declarations.open_signing(consultation, 1, people.secretariat)  # meanwhile, signing opened
    response = client.post("/declarations/network/revisions/1/comments",
                           data={"csrf_token": token, "paragraph": "1", "body": "A late but precious thought."})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert count(Comment) == 0
    assert "What you can do now" in body
    assert "/declarations/network/sign" in body  # the way forward: sign the open revision
    assert textarea(body, "kept-body") == "A late but precious thought."


@BACKENDS
def test_sign_page_after_freeze_explains_and_leads_to_the_bundle(app: Flask, people: People) -> None:
    from signing.services import freeze

    key = Ed25519PrivateKey.generate()
    enrol(people.delegate, key)
    declaration = open_declaration(people, excluded=(people.other_city.id,))
    sign_with_service(declaration, people.delegate, key)  # the rule "all" is met: frozen (tasks inline)
    assert freeze.bundle_of(declaration) is not None
    client = client_for(app, people.delegate)
    response = client.get(f"/declarations/{declaration.slug}/sign")
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "signing is closed for good" in body
    assert f"/public/{declaration.slug}" in body or "Public page" in body


@BACKENDS
def test_freeze_offered_only_when_the_rule_allows(app: Flask, people: People) -> None:
    key = Ed25519PrivateKey.generate()
    enrol(people.delegate, key)
    declaration = open_declaration(people)  # rule "all" of İzmir and Athens
    sign_with_service(declaration, people.delegate, key)  # one of two
    client = client_for(app, people.secretariat)
    page = client.get(f"/declarations/{declaration.slug}").get_data(as_text=True)
    assert f"/declarations/{declaration.slug}/freeze" not in page
    assert "Freezing becomes possible when 1 more city signs." in page
    assert "1 of 2 cities signed" in page
    confirm = client.get(f"/declarations/{declaration.slug}/freeze")
    assert confirm.status_code == 200
    assert "Freezing becomes possible" in confirm.get_data(as_text=True)
    assert 'type="submit"' not in confirm.get_data(as_text=True).split('<main id="main"')[1]
    token = csrf_token(client, f"/declarations/{declaration.slug}")
    refused = client.post(f"/declarations/{declaration.slug}/freeze", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "Back to the declaration" in refused.get_data(as_text=True)


@BACKENDS
def test_progress_is_shown_to_every_role(app: Flask, people: People) -> None:
    key = Ed25519PrivateKey.generate()
    enrol(people.delegate, key)
    declaration = open_declaration(people)
    sign_with_service(declaration, people.delegate, key)
    for person in (people.observer, people.other_delegate, people.delegate, people.secretariat):
        body = client_for(app, person).get(f"/declarations/{declaration.slug}").get_data(as_text=True)
        assert "1 of 2 cities signed" in body
        assert "Rule: all 2 cities asked must sign." in body
        signed = body[body.index('class="cities-signed"'):]
        assert "İzmir" in signed.split("</ul>")[0]
        assert "Athens" in body[body.index('class="cities-not-signed"'):].split("</ul>")[0]


@BACKENDS
def test_public_page_states_the_outcome_and_one_time_format(app: Flask, people: People) -> None:
    from signing.models import Role
    from signing.services import accounts, cities, declarations, freeze

    sofia = cities.create_city("Sofia", "Bulgaria", None)
    accounts.create_user("sofia@b40.example", "Sofia delegate", Role.DELEGATE, city=sofia, password="x" * 20)
    key = Ed25519PrivateKey.generate()
    enrol(people.delegate, key)
    from signing.manage.demo import declaration_text

    declaration = declarations.create("Quorum declaration", declaration_text(), people.secretariat, slug="quorum")
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 1, people.secretariat, rule_kind="quorum", quorum=1)
    sign_with_service(declaration, people.delegate, key)  # the quorum of one is met: frozen
    assert freeze.bundle_of(declaration) is not None
    body = app.test_client().get("/public/declarations/quorum").get_data(as_text=True)
    assert "Rule: a quorum of 1 of the 3 cities asked." in body
    not_signed = body[body.index('class="cities-not-signed"'):].split("</p>")[0]
    assert "Athens" in not_signed and "Sofia" in not_signed and "İzmir" not in not_signed
    assert "1 of 3 cities signed" in body
    # Times: one format, a <time> element with the UTC instant (shown in the reader's zone by the page's script).
    assert '<time datetime="' in body
    assert not re.search(r"<td>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</td>", body)


@pytest.mark.parametrize(("back", "shown"), [
    ("/declarations/network/sign", True),
    ("//evil.example/declarations/x", False),
    ("https://evil.example/declarations/x", False),
    ("/admin/users", False),
    ("javascript:alert(1)", False),
])
def test_keys_page_way_back_only_to_a_declaration_of_this_site(app: Flask, people: People, back: str,
                                                               shown: bool) -> None:
    from urllib.parse import quote

    client = client_for(app, people.delegate)
    body = client.get(f"/account/keys?back={quote(back, safe='')}").get_data(as_text=True)
    assert ("back-to-signing" in body) is shown
    if shown:
        assert f'href="{back}"' in body
    assert "evil.example" not in body and "javascript:" not in body


def test_error_page_leads_back_to_the_previous_page_of_this_site(app: Flask, people: People) -> None:
    client = client_for(app, people.observer)
    here = client.get("/admin/users", headers={"Referer": "http://localhost/declarations/"})
    assert here.status_code == 403
    assert 'href="http://localhost/declarations/"' in here.get_data(as_text=True)
    elsewhere = client.get("/admin/users", headers={"Referer": "https://evil.example/"})
    assert "evil.example" not in elsewhere.get_data(as_text=True)
