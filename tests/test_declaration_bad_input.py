"""Broken or hostile input on the declaration pages: a clear 4xx, nothing written, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import BACKENDS, People, csrf_token, login

pytestmark = pytest.mark.usefixtures("fresh_g")

TEXT = "First paragraph.\n\nSecond paragraph.\n\nThird paragraph.\n"


def counts() -> dict[str, Any]:
    from signing.extensions import db
    from signing.models import (
        Amendment,
        Approval,
        AuditEvent,
        Comment,
        Declaration,
        OutboxEmail,
        Revision,
        Signatory,
    )

    db.session.expire_all()
    found: dict[str, Any] = {
        model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Declaration, Revision, Comment, Amendment, Approval, AuditEvent, OutboxEmail, Signatory)
    }
    found["statuses"] = sorted(db.session.execute(select(Declaration.slug, Declaration.status)).all())
    found["amendments"] = sorted(db.session.execute(select(Amendment.id, Amendment.status)).all())
    found["resolved"] = sorted(db.session.execute(select(Comment.id, Comment.resolved_at)).all())
    db.session.commit()
    return found


def text_of(response: Any) -> str:
    return str(response.get_data(as_text=True))


def refused(response: Any, status: int, message: str | None = None) -> None:
    assert response.status_code < 500, text_of(response)[:2000]
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {text_of(response)[:800]}"
    if message is not None:
        assert message in text_of(response), text_of(response)[:3000]


@pytest.fixture
def world(app: Flask, people: People) -> Any:
    """``consult`` in consultation (one comment, one amendment); ``signing`` open for signature."""
    from signing.services import declarations, review

    consult = declarations.create("In consultation", TEXT, people.secretariat, slug="consult")
    declarations.open_consultation(consult, people.secretariat)
    comment = review.add_comment(consult.latest, 0, "A comment.", people.delegate)
    amendment = review.propose_amendment(consult.latest, 1, "Second paragraph, amended.", "Why not.",
                                         people.delegate)
    signing = declarations.create("Open for signature", TEXT, people.secretariat, slug="signing")
    declarations.open_consultation(signing, people.secretariat)
    signing_comment = review.add_comment(signing.latest, 0, "Before signing.", people.delegate)
    signing_amendment = review.propose_amendment(signing.latest, 1, "Second, amended.", "Why.", people.delegate)
    declarations.open_signing(signing, 1, people.secretariat)
    draft = declarations.create("A draft", TEXT, people.secretariat, slug="draft")
    return {"consult": consult, "comment": comment, "amendment": amendment, "signing": signing,
            "signing_comment": signing_comment, "signing_amendment": signing_amendment, "draft": draft}


class Session:
    """A logged-in client that posts forms with a valid CSRF token."""

    def __init__(self, app: Flask, person: Any) -> None:
        self.client = app.test_client()
        assert login(self.client, person.email).status_code == 302
        self.token = csrf_token(self.client, "/account")

    def post(self, path: str, **data: str) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **data})

    def get(self, path: str) -> Any:
        return self.client.get(path)


@pytest.fixture
def sec(app: Flask, people: People, world: Any) -> Session:
    return Session(app, people.secretariat)


@pytest.fixture
def delegate(app: Flask, people: People, world: Any) -> Session:
    return Session(app, people.delegate)


@pytest.fixture
def unchanged(world: Any, sec: Session, delegate: Session) -> Iterator[None]:
    """Nothing the test does may change the rows (the logins above are done before counting)."""
    before = counts()
    yield
    assert counts() == before


@BACKENDS
@pytest.mark.usefixtures("unchanged")
def test_bad_declaration_text(sec: Session) -> None:
    from signing.text.canonical import MAX_TEXT_BYTES

    def new(text: str, title: str = "A title", slug: str = "") -> Any:
        return sec.post("/declarations/new", title=title, slug=slug, text=text)

    refused(new(""), 400, "This field is required.")
    refused(new(" \n\t \r\n  "), 400, "This field is required.")
    refused(new("\u00a0\u3000\n\u2003"), 400)  # Unicode spaces only
    refused(new("x" * (MAX_TEXT_BYTES + 1)), 400, "the limit is 200000 bytes")
    refused(new("ş" * (MAX_TEXT_BYTES // 2 + 1)), 400, "the limit is 200000 bytes")  # 2 bytes each
    refused(new("x" * 250_001), 400)  # past the form's own limit
    refused(new("A text with a NUL \x00 in it."), 400, "NUL")
    refused(new("Bell \x07."), 400, "control character")
    refused(new("Broken \ufffd encoding."), 400, "replacement character")
    refused(new("Fine text.", title=""), 400)
    refused(new("Fine text.", title="T" * 201), 400)
    refused(new("Fine text.", slug="Not A Slug!"), 400)
    refused(new("Fine text.", slug="consult"), 409, "already exists")

    # The same on a new revision.
    refused(sec.post("/declarations/consult/edit", text="", note=""), 400)
    refused(sec.post("/declarations/consult/edit", text="   \r\n", note=""), 400)
    refused(sec.post("/declarations/consult/edit", text="x" * (MAX_TEXT_BYTES + 1), note=""), 400, "limit")
    refused(sec.post("/declarations/consult/edit", text="NUL\x00", note=""), 400, "NUL")
    refused(sec.post("/declarations/consult/edit", text="Changed.", note="n" * 501), 400)
    # The same text as the latest revision, however spelled.
    refused(sec.post("/declarations/consult/edit", text=TEXT, note="again"), 409, "the same as revision 1")
    refused(sec.post("/declarations/consult/edit", text=TEXT.replace("\n", "  \r\n") + "\r\n\r\n", note=""),
            409, "the same as revision 1")
    refused(sec.post("/declarations/signing/edit", text="Changed.", note=""), 409)


@BACKENDS
def test_text_at_the_limit_is_accepted(app: Flask, people: People, world: Any, sec: Session) -> None:
    from signing.text.canonical import MAX_TEXT_BYTES

    before = counts()
    response = sec.post("/declarations/new", title="Long", slug="long", text="x" * (MAX_TEXT_BYTES - 1))
    assert response.status_code == 302
    after = counts()
    assert after["Revision"] == before["Revision"] + 1 and after["Declaration"] == before["Declaration"] + 1


@BACKENDS
@pytest.mark.usefixtures("unchanged")
def test_unknown_revisions_and_bad_compare_arguments(sec: Session) -> None:
    for path in ("/declarations/consult/revisions/2", "/declarations/consult/revisions/0",
                 "/declarations/consult/revisions/2.md", "/declarations/consult/revisions/99999999999",
                 "/declarations/consult/revisions/-1", "/declarations/consult/revisions/one",
                 "/declarations/nope", "/declarations/nope/revisions/1", "/declarations/nope/compare"):
        refused(sec.get(path), 404)
    for query in ("from=9", "to=9", "from=0&to=1", "from=-1", "from=1&to=2147483647",
                  "from=99999999999999999999", "to=-99999999999999999999"):
        refused(sec.get(f"/declarations/consult/compare?{query}"), 404)
    # Not numbers at all: the defaults are used (or a 400), never a 500.
    for query in ("from=abc", "to=1.5", "from=&to=", "from=1e3", "from=%00", "from=１"):
        response = sec.get(f"/declarations/consult/compare?{query}")
        assert response.status_code in {200, 400, 404}, (query, response.status_code)


@BACKENDS
@pytest.mark.usefixtures("unchanged")
def test_bad_paragraphs_and_comments(world: Any, delegate: Session, sec: Session) -> None:
    comments = "/declarations/consult/revisions/1/comments"
    amendments = "/declarations/consult/revisions/1/amendments"
    for paragraph in ("0", "4", "-1", "100000", "100001", "abc", "", "1.5", "99999999999999999999"):
        refused(delegate.post(comments, paragraph=paragraph, body="Where?"), 400)
        refused(delegate.post(amendments, paragraph=paragraph, replacement="New.", reason="Why."), 400)
    refused(delegate.post(comments, paragraph="1", body="x" * 10_001), 400)
    refused(delegate.post(comments, paragraph="1", body=""), 400)
    refused(delegate.post(comments, paragraph="1", body="  \n "), 400)
    refused(delegate.post(amendments, paragraph="1", replacement="x" * 20_001, reason="Long."), 400)
    refused(delegate.post(amendments, paragraph="1", replacement="New.", reason="r" * 5_001), 400)
    refused(delegate.post(amendments, paragraph="1", replacement="New.", reason=""), 400)
    refused(delegate.post(amendments, paragraph="1", replacement="", reason="Empty."), 400)
    refused(delegate.post(amendments, paragraph="1", replacement="NUL \x00", reason="Bad."), 400, "not allowed")
    refused(delegate.post(amendments, paragraph="1", replacement="First paragraph.", reason="Same."), 400)
    # Unknown revisions, comments and amendments.
    refused(delegate.post("/declarations/consult/revisions/7/comments", paragraph="1", body="?"), 404)
    refused(delegate.post("/declarations/consult/revisions/7/amendments", paragraph="1", replacement="N.",
                          reason="R."), 404)
    refused(delegate.post("/declarations/consult/revisions/7/approve"), 404)
    refused(delegate.post(comments, paragraph="1", body="Reply.", parent_id="999999"), 404)
    refused(delegate.post(comments, paragraph="1", body="Reply.", parent_id="99999999999999999999"), 404)
    refused(delegate.post(comments, paragraph="1", body="Reply.", parent_id="0"), 400)
    refused(delegate.post(comments, paragraph="1", body="Reply.", parent_id="x"), 400)
    refused(delegate.post("/declarations/consult/comments/999999/resolve"), 404)
    refused(sec.post("/declarations/consult/amendments/999999/accept"), 404)
    refused(sec.post("/declarations/consult/amendments/999999/decline", reason="No."), 404)
    # Ids that exist, but on another declaration.
    other_comment = world["signing_comment"].id
    other_amendment = world["signing_amendment"].id
    refused(delegate.post(comments, paragraph="1", body="Reply.", parent_id=str(other_comment)), 404)
    refused(delegate.post(f"/declarations/consult/comments/{other_comment}/resolve"), 404)
    refused(sec.post(f"/declarations/consult/amendments/{other_amendment}/accept"), 404)
    refused(sec.post(f"/declarations/consult/amendments/{other_amendment}/decline", reason="No."), 404)
    # A decision needs a reason to decline; a reason too long is refused either way.
    amendment = world["amendment"].id
    refused(sec.post(f"/declarations/consult/amendments/{amendment}/decline", reason=""), 400)
    refused(sec.post(f"/declarations/consult/amendments/{amendment}/decline", reason=" \r\n "), 400)
    refused(sec.post(f"/declarations/consult/amendments/{amendment}/decline", reason="r" * 5_001), 400)
    refused(sec.post(f"/declarations/consult/amendments/{amendment}/accept", reason="r" * 5_001), 400)


@BACKENDS
@pytest.mark.usefixtures("unchanged")
def test_review_while_open_for_signature(world: Any, delegate: Session, sec: Session) -> None:
    base = "/declarations/signing"
    comment, amendment = world["signing_comment"].id, world["signing_amendment"].id
    refused(delegate.post(f"{base}/revisions/1/comments", paragraph="1", body="Late."), 409,
            "while it is open for signature")
    refused(sec.post(f"{base}/revisions/1/comments", paragraph="1", body="Late."), 409)
    refused(delegate.post(f"{base}/revisions/1/comments", paragraph="1", body="Late.", parent_id=str(comment)), 409)
    refused(delegate.post(f"{base}/revisions/1/amendments", paragraph="2", replacement="New.", reason="Late."),
            409)
    refused(delegate.post(f"{base}/revisions/1/approve"), 409)
    refused(delegate.post(f"{base}/comments/{comment}/resolve"), 409)
    refused(sec.post(f"{base}/amendments/{amendment}/accept", reason="Late."), 409)
    refused(sec.post(f"{base}/amendments/{amendment}/decline", reason="Late."), 409)
    refused(sec.post(f"{base}/edit", text="New text.", note=""), 409)
    refused(sec.post(f"{base}/open-signing", revision="1", rule="all"), 409)
    refused(sec.post(f"{base}/open-consultation"), 409)
    # And a draft is not open to review (a delegate may comment, just not yet: 409, as documented).
    refused(delegate.post("/declarations/draft/revisions/1/comments", paragraph="1", body="Early."), 409)
    refused(delegate.post("/declarations/draft/revisions/1/amendments", paragraph="1", replacement="N.",
                          reason="R."), 409)
    refused(sec.post("/declarations/draft/revisions/1/comments", paragraph="1", body="Early."), 409)
    refused(sec.post("/declarations/draft/return-to-consultation", reason="Nothing to return."), 409)


@BACKENDS
@pytest.mark.usefixtures("unchanged")
def test_bad_open_signing_forms(people: People, sec: Session) -> None:
    path = "/declarations/consult/open-signing"
    both = [str(people.city.id), str(people.other_city.id)]
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"revision": "1", "rule": "quorum", "quorum": "0"}, None),
        ({"revision": "1", "rule": "quorum", "quorum": "3"}, "between 1 and the 2"),
        ({"revision": "1", "rule": "quorum", "quorum": "-1"}, None),
        ({"revision": "1", "rule": "quorum", "quorum": ""}, "between 1 and the 2"),
        ({"revision": "1", "rule": "quorum", "quorum": "two"}, None),
        ({"revision": "1", "rule": "quorum", "quorum": "2", "excluded": str(people.other_city.id)},
         "between 1 and the 1"),
        ({"revision": "1", "rule": "majority"}, None),
        ({"revision": "1", "rule": "all", "deadline": "2001-01-01T12:00"}, "must be in the future"),
        ({"revision": "1", "rule": "all", "deadline": "tomorrow"}, None),
        ({"revision": "1", "rule": "all", "deadline": "99999-01-01T12:00"}, None),
        ({"revision": "2", "rule": "all"}, None),
        ({"revision": "x", "rule": "all"}, None),
        ({"revision": "", "rule": "all"}, None),
        ({"revision": "1", "rule": "all", "excluded": "999999"}, None),
        ({"revision": "1", "rule": "all", "excluded": both}, "At least one city"),
    ]
    for data, message in cases:
        response = sec.client.post(path, data={"csrf_token": sec.token, **data})
        refused(response, 400, message)


@BACKENDS
@pytest.mark.usefixtures("unchanged")
def test_control_characters_in_review_text(world: Any, delegate: Session, sec: Session) -> None:
    comments = "/declarations/consult/revisions/1/comments"
    amendment = world["amendment"].id
    for bad in ("NUL \x00 here", "bell \x07", "escape \x1b[31m", "broken \ufffd"):
        refused(delegate.post(comments, paragraph="1", body=bad), 400)
        refused(delegate.post("/declarations/consult/revisions/1/amendments", paragraph="2",
                              replacement="Second paragraph, changed.", reason=bad), 400)
        refused(sec.post(f"/declarations/consult/amendments/{amendment}/decline", reason=bad), 400)
        refused(sec.post(f"/declarations/consult/amendments/{amendment}/accept", reason=bad), 400)
        refused(sec.post("/declarations/signing/return-to-consultation", reason=bad), 400)
        refused(sec.post("/declarations/consult/edit", text="Changed text.", note=bad), 400)
