"""The endorsement pages over HTTP: a person's e-mail link (real SMTP, aiosmtpd) to a signed endorsement, its
confirmation e-mail, the count endpoints' cache headers, keyset pagination and search, and refusals."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from signing.core import payload
from signing.models import utcnow
from tests.conftest import BACKENDS, csrf_token, link_in, read_mail, seed_people
from tests.endorsements.conftest import Holder, freeze_one, organisation, person
from tests.smtp_sink import SmtpServer, smtp_servers


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    start: Callable[..., SmtpServer]
    for start in smtp_servers():
        yield start()


@pytest.fixture
def smtp_app(app_factory: Callable[..., Flask], smtp: SmtpServer) -> Iterator[Flask]:
    app = app_factory(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TLS="none",
                      SMTP_USER="", SMTP_TIMEOUT=5)
    with app.app_context():
        yield app


def _link(text: str, prefix: str) -> str:
    match = re.search(r"http://accord\.test(" + re.escape(prefix) + r"[^\s\"<]+)", text)
    assert match, text
    return match.group(1)


def _text(server: SmtpServer, index: int) -> str:
    body = server.received[index].message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _meta_token(page: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _post_json(client: FlaskClient, path: str, body: dict[str, Any], token: str) -> Any:
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def _body(signed: Any, **extra: Any) -> dict[str, Any]:
    return {"payload": payload.b64encode(signed.payload), "signature": payload.b64encode(signed.signature),
            "public_key": payload.b64encode(signed.public_key), **extra}


@BACKENDS
def test_a_person_endorses_with_an_email_link_withdraws_and_endorses_again(smtp_app: Flask, smtp: SmtpServer) -> None:
    from signing.services import endorsers

    frozen = freeze_one(seed_people())
    client = smtp_app.test_client()
    smtp.received.clear()
    start = f"/d/{frozen.slug}/endorse"
    token = csrf_token(client, start)
    sent = client.post(start, data={"csrf_token": token, "email": "Ana@Example.org"})
    assert sent.status_code == 200 and "Check your e-mail" in sent.get_data(as_text=True)
    assert [r.rcpt_tos for r in smtp.received] == [["ana@example.org"]]
    link = _link(_text(smtp, 0), f"/d/{frozen.slug}/endorse/link/")
    assert client.get(link).status_code == 200  # a GET (a mail scanner) does not use the link
    opened = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/d/{frozen.slug}/endorse/sign")
    again = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert again.status_code == 400  # once only
    page = client.get(f"/d/{frozen.slug}/endorse/sign").get_data(as_text=True)
    assert "Sign and endorse" in page
    ana = Holder(endorsers.person_for_email("ana@example.org"), Ed25519PrivateKey.generate())
    signed = ana.signed(frozen)
    token = _meta_token(page)
    response = _post_json(client, f"/d/{frozen.slug}/endorse/submit",
                          _body(signed, name="Ana Popescu", show_name=True), token)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"] == 1
    receipt = _text(smtp, 1)
    assert smtp.received[1].rcpt_tos == ["ana@example.org"] and "/withdraw" in receipt
    assert _post_json(client, f"/d/{frozen.slug}/endorse/submit", _body(signed), token).status_code == 201  # replay
    listing = client.get(f"/public/declarations/{frozen.slug}").get_data(as_text=True)
    assert "Ana Popescu" in listing and "ana@example.org" not in listing.lower()
    sha = response.get_json()["payload_sha256"]
    withdrawal = ana.signed(frozen, withdraws=sha)
    other = smtp_app.test_client()  # a withdrawal is proved by its signature: no session needed
    done = _post_json(other, f"/d/{frozen.slug}/endorsements/e/{sha}/withdraw", _body(withdrawal),
                      csrf_token(other, f"/d/{frozen.slug}/endorse"))
    assert done.status_code == 201 and done.get_json()["total"] == 0
    stale = _post_json(client, f"/d/{frozen.slug}/endorse/submit", _body(signed), token)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "withdrawn"
    later = ana.signed(frozen, at=utcnow() + timedelta(seconds=1))
    renewed = _post_json(client, f"/d/{frozen.slug}/endorse/submit", _body(later), token)
    assert renewed.status_code == 201 and renewed.get_json()["total"] == 1


def test_posting_without_an_opened_link_or_with_bad_input_is_refused(app: Flask, frozen: Any) -> None:
    client = app.test_client()
    token = csrf_token(client, f"/d/{frozen.slug}/endorse")
    ana = person()
    signed = ana.signed(frozen)
    refused = _post_json(client, f"/d/{frozen.slug}/endorse/submit", _body(signed), token)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "login_required"
    assert client.post(f"/d/{frozen.slug}/endorse/submit", json=_body(signed)).status_code == 400  # no CSRF
    assert _post_json(client, f"/d/{frozen.slug}/endorsements/e/{'0' * 64}/withdraw",
                      {"payload": "!!", "signature": "", "public_key": ""}, token).status_code == 400
    assert client.get("/d/nope/endorsements/count.json").status_code == 404


def test_the_link_form_is_limited_per_address_and_per_domain(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(ENDORSEMENT_LINK_LIMIT_EMAIL="2 per hour", ENDORSEMENT_LINK_LIMIT_DOMAIN="3 per hour")
    with app.app_context():
        frozen = freeze_one(seed_people())
        client = app.test_client()
        start = f"/d/{frozen.slug}/endorse"
        token = csrf_token(client, start)
        codes = [client.post(start, data={"csrf_token": token, "email": address}).status_code
                 for address in ("a@spam.example", "a@spam.example", "a@spam.example", "b@spam.example",
                                 "c@spam.example", "d@other.example")]
        assert codes == [200, 200, 429, 200, 429, 200]


def test_count_endpoints_are_cached_and_conditional(app: Flask, frozen: Any) -> None:
    from signing.services import endorsements

    forum = organisation()
    signed = forum.signed(frozen)
    endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=forum.endorser)
    client = app.test_client()
    response = client.get(f"/d/{frozen.slug}/endorsements/count.json")
    assert response.status_code == 200 and response.get_json()["total"] == 1
    assert response.get_json()["by_kind"] == {"person": 0, "organisation": 1, "city": 0}
    assert response.get_json()["by_country"] == {"RO": 1}
    assert response.headers["Cache-Control"] == "public, max-age=60" and response.headers["ETag"]
    again = client.get(f"/d/{frozen.slug}/endorsements/count.json",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    svg = client.get(f"/d/{frozen.slug}/endorsements/count.svg")
    assert svg.mimetype == "image/svg+xml" and ">1</text>" in svg.get_data(as_text=True)
    assert svg.headers["Cache-Control"] == "public, max-age=60" and svg.headers["ETag"]


def test_keyset_pages_and_search_over_verified_names(app: Flask, frozen: Any) -> None:
    from signing.services import endorsement_queries, endorsements

    holders = [person(f"p{n}@example.org") for n in range(7)]
    forum, unverified = organisation("Civic Forum Bucharest"), organisation("Civic Shadow", verified=False)
    endorsements.accept_many(frozen, [h.signed(frozen) for h in [*holders, forum]])
    seen: list[int] = []
    after = None
    while True:
        page = endorsement_queries.page(frozen, after=after, size=3)
        seen += [row.id for row in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert len(seen) == 8 and seen == sorted(seen, reverse=True)
    assert endorsement_queries.oldest_after(frozen, size=3) is not None
    oldest = endorsement_queries.page(frozen, after=endorsement_queries.oldest_after(frozen, size=3), size=3)
    assert [row.id for row in oldest.rows] == sorted(seen)[:3][::-1]
    client = app.test_client()
    found = client.get(f"/d/{frozen.slug}/endorsements?q=civic").get_data(as_text=True)
    assert "Civic Forum Bucharest" in found and "Civic Shadow" not in found and "verified" in found
    assert client.get(f"/d/{frozen.slug}/endorsements?after=999999999999").status_code == 200
    del unverified


def test_an_expired_or_unknown_link_is_a_clear_400_and_opens_nothing(app_factory: Callable[..., Flask]) -> None:
    from signing.services import endorsement_links

    app = app_factory(ENDORSEMENT_LINK_TTL=timedelta(seconds=-1))  # every link has expired when it arrives
    with app.app_context():
        frozen = freeze_one(seed_people())
        client = app.test_client()
        start = f"/d/{frozen.slug}/endorse"
        assert client.post(start, data={"csrf_token": csrf_token(client, start),
                                        "email": "late@example.org"}).status_code == 200
        mail = [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if m["To"] == "late@example.org"]
        link = link_in(mail[-1], f"/d/{frozen.slug}/endorse/link/")
        expired = client.post(link, data={"csrf_token": csrf_token(client, link)})
        assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
        unknown = f"/d/{frozen.slug}/endorse/link/{'x' * 43}"
        assert client.post(unknown, data={"csrf_token": csrf_token(client, unknown)}).status_code == 400
        assert client.get(f"/d/{frozen.slug}/endorse/sign").status_code == 302  # still no endorsement step
        with pytest.raises(endorsement_links.BadLink):
            endorsement_links.consume(frozen, "short")


@BACKENDS
def test_a_name_and_country_sent_with_a_replay_are_stored_and_the_plain_endorsement_needs_no_orm_endorser(
        app: Flask) -> None:
    """The person of an opened link endorses (their endorser read with one Core select, the same answer), then
    replays the same statement with a name: the replay stores the name (its autoflush left ``dirty`` empty)."""
    from sqlalchemy import func, select

    from signing.extensions import db
    from signing.models import Endorsement, Endorser
    from signing.services import endorsers

    frozen = freeze_one(seed_people())
    ana = person()
    client = app.test_client()
    token = csrf_token(client, f"/d/{frozen.slug}/endorse")
    with client.session_transaction() as held:
        held["accord_endorser"] = {"endorser": ana.endorser.public_id, "declaration": frozen.id}
    signed = ana.signed(frozen)
    first = _post_json(client, f"/d/{frozen.slug}/endorse/submit", _body(signed), token)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["total"] == 1
    replay = _post_json(client, f"/d/{frozen.slug}/endorse/submit",
                        _body(signed, name="Ana Popescu", show_name=True), token)
    assert replay.status_code == 201 and replay.get_json()["payload_sha256"] == first.get_json()["payload_sha256"]
    db.session.rollback()  # what the request did not commit is gone (its app context is this test's)
    stored = db.session.scalar(select(Endorser).where(Endorser.public_id == ana.endorser.public_id))
    assert stored is not None and (stored.display_name, stored.show_name) == ("Ana Popescu", True)
    assert db.session.scalar(select(func.count()).select_from(Endorsement)) == 1
    read = endorsers.read_by_public_id(ana.endorser.public_id)  # transient, the same columns
    assert read is not None and read not in db.session
    assert (read.id, read.kind, read.country, read.email, read.display_name) == \
        (stored.id, stored.kind, stored.country, stored.email, stored.display_name)
    assert endorsers.read_by_public_id("en_nobody") is None and endorsers.read_by_public_id("x") is None
    other = app.test_client()  # no opened link: refused as before
    refused = _post_json(other, f"/d/{frozen.slug}/endorse/submit", _body(signed),
                         csrf_token(other, f"/d/{frozen.slug}/endorse"))
    assert refused.status_code == 401 or refused.status_code == 403, refused.get_json()



@BACKENDS
def test_a_person_endorsing_with_a_new_country_and_a_name_stores_both_in_the_same_transaction(app: Flask) -> None:
    """The browser sends the name, the consent and the country with the statement (``endorse.js``): the person's
    endorser (read without the ORM) gets one UPDATE of what changed, committed with the endorsement; the same
    details again change nothing."""
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import Endorsement, Endorser
    from signing.services import endorsement_queries, endorsers

    frozen = freeze_one(seed_people())
    ana = person()
    client = app.test_client()
    token = csrf_token(client, f"/d/{frozen.slug}/endorse")
    with client.session_transaction() as held:
        held["accord_endorser"] = {"endorser": ana.endorser.public_id, "declaration": frozen.id}
    signed = ana.signed(frozen, country="TR")  # the statement names the country the person chose
    epoch = endorsement_queries.epoch()
    answer = _post_json(client, f"/d/{frozen.slug}/endorse/submit",
                        _body(signed, name="  Ayşe Yılmaz ", show_name=True, country="tr"), token)
    assert answer.status_code == 201, answer.get_json()
    assert endorsement_queries.epoch() > epoch
    db.session.rollback()
    stored = db.session.scalar(select(Endorser).where(Endorser.public_id == ana.endorser.public_id))
    assert stored is not None and (stored.country, stored.display_name, stored.show_name) == ("TR", "Ayşe Yılmaz", True)
    record = db.session.scalar(select(Endorsement).where(Endorsement.endorser_id == stored.id))
    assert record is not None and record.country == "TR"
    again = endorsers.read_by_public_id(ana.endorser.public_id)
    assert again is not None
    assert endorsers.give_details(again, country="TR", name="Ayşe Yılmaz", show=True) is False  # nothing to write
    refused = _post_json(client, f"/d/{frozen.slug}/endorse/submit",
                         _body(ana.signed(frozen, country="TR"), country="ZZ"), token)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_country"
