"""Organisations ask for an account, the secretariat verifies it (an ``endorser`` account, invited by e-mail),
the organisation endorses from it and shows with its badge; an endorser account sees nothing internal;
moderation hides (never deletes) and erasure keeps the statement; the daily digest goes once per day."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from signing.core import payload
from signing.extensions import db
from signing.models import AuditEvent, Endorsement, OutboxEmail, utcnow
from signing.services import endorsement_admin, endorsement_digest, endorsement_queries, endorsements
from tests.conftest import PASSWORD, People, csrf_token, link_in, login, read_mail
from tests.endorsements.conftest import Holder, person


def _last_mail_to(app: Flask, address: str) -> Any:
    found = [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if m["To"] == address]
    assert found, address
    return found[-1]


def test_an_organisation_is_verified_then_endorses_with_its_badge(app: Flask, people: People, frozen: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    client = app.test_client()
    token = csrf_token(client, "/endorsers/request")
    asked = client.post("/endorsers/request", data={"csrf_token": token, "kind": "organisation",
                                                    "name": "Civic Forum", "country": "RO",
                                                    "website": "https://forum.example", "email": "Desk@Forum.example"})
    assert asked.status_code == 200 and 'id="request-sent"' in asked.get_data(as_text=True)
    assert _last_mail_to(app, people.secretariat.email)["Subject"].startswith("Civic Forum asks")
    forum = endorsement_admin.pending()[0]
    assert forum.verified_at is None and forum.email == "desk@forum.example"
    secretariat = app.test_client()
    login(secretariat, people.secretariat.email)
    page = secretariat.get("/admin/endorsers").get_data(as_text=True)
    assert "Civic Forum" in page
    verified = secretariat.post(f"/admin/endorsers/{forum.id}/verify",
                                data={"csrf_token": csrf_token(secretariat, "/admin/endorsers")})
    assert verified.status_code == 302
    invitation = link_in(_last_mail_to(app, "desk@forum.example"), "/invitation/")
    choose = client.post(invitation, data={"csrf_token": csrf_token(client, invitation),
                                           "password": PASSWORD, "confirm": PASSWORD})
    assert choose.status_code == 302  # and logged in
    assert client.get("/declarations/").status_code == 403  # an endorser account sees nothing internal
    assert client.get(f"/cities/{people.city.slug}").status_code == 403
    assert client.get("/").status_code == 200
    page = client.get(f"/d/{frozen.slug}/endorse/sign").get_data(as_text=True)
    assert "Sign and endorse" in page and "verified" in page
    db.session.refresh(forum)
    holder = Holder(forum, Ed25519PrivateKey.generate())
    signed = holder.signed(frozen)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert meta
    posted = client.post(f"/d/{frozen.slug}/endorse/submit", headers={"X-CSRFToken": meta.group(1)}, json={
        "payload": payload.b64encode(signed.payload), "signature": payload.b64encode(signed.signature),
        "public_key": payload.b64encode(signed.public_key)})
    assert posted.status_code == 201, posted.get_json()
    public = app.test_client().get(f"/public/declarations/{frozen.slug}").get_data(as_text=True)
    assert re.search(r"Civic Forum\s*<span class=\"badge verified\"", public)
    assert "desk@forum.example" not in public


def test_a_delegate_endorses_for_the_city(app: Flask, people: People, frozen: Any) -> None:
    client = app.test_client()
    login(client, people.other_delegate.email)
    page = client.get(f"/d/{frozen.slug}/endorse")
    assert page.status_code == 302 and page.headers["Location"].endswith("/endorse/sign")
    text = client.get(f"/d/{frozen.slug}/endorse/sign").get_data(as_text=True)
    assert "(city)" in text


def test_moderation_hides_but_keeps_the_statement_and_erasure_keeps_it_anonymous(app: Flask, people: People,
                                                                                 frozen: Any) -> None:
    ana = person()
    signed = ana.signed(frozen)
    endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=ana.endorser)
    record = db.session.scalars(select(Endorsement)).one()
    from signing.services import endorsers

    endorsers.set_name(ana.endorser, "Ana Popescu", True)
    db.session.commit()
    assert endorsement_queries.counts(frozen).total == 1
    client = app.test_client()
    login(client, people.secretariat.email)
    token = csrf_token(client, "/admin/endorsements")
    assert client.post(f"/admin/endorsements/{record.id}/hide", data={"csrf_token": token, "reason": ""}
                       ).status_code == 400  # a reason is needed
    hidden = client.post(f"/admin/endorsements/{record.id}/hide", data={"csrf_token": token, "reason": "Spam."})
    assert hidden.status_code == 302
    assert endorsement_queries.counts(frozen).total == 0 and not endorsement_queries.page(frozen).rows
    db.session.expire_all()
    kept = db.session.get(Endorsement, record.id)
    assert kept is not None and bytes(kept.payload) == signed.payload and kept.hidden_reason == "Spam."
    assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "endorsement.hidden")) == {
        "reason": "Spam.", "payload_sha256": kept.payload_sha256}
    statement = app.test_client().get(f"/d/{frozen.slug}/endorsements/e/{kept.payload_sha256}")
    assert statement.status_code == 200 and "Hidden from the public list" in statement.get_data(as_text=True)
    assert client.post(f"/admin/endorsements/{record.id}/unhide", data={"csrf_token": token}).status_code == 302
    assert endorsement_queries.page(frozen).rows[0].name == "Ana Popescu"
    erased = client.post(f"/admin/endorsers/{ana.endorser.id}/erase-name", data={"csrf_token": token})
    assert erased.status_code == 302
    db.session.expire_all()
    row = endorsement_queries.page(frozen).rows[0]
    assert row.name is None and row.endorser_id == ana.endorser.public_id
    assert bytes(db.session.get(Endorsement, record.id).payload) == signed.payload  # type: ignore[union-attr]


def test_the_daily_digest_goes_once_per_day_to_the_secretariat(app: Flask, people: People, frozen: Any) -> None:
    holders = [person(f"d{n}@example.org") for n in range(3)]
    endorsements.accept_many(frozen, [h.signed(frozen) for h in holders])
    today = utcnow().date()
    assert endorsement_digest.send_digest(today - timedelta(days=1)) == 0  # nothing that day
    assert endorsement_digest.send_digest(today) == 1
    assert endorsement_digest.send_digest(today) == 1  # the same key: no second e-mail
    rows = db.session.scalars(select(OutboxEmail).where(OutboxEmail.template == "endorsement_digest")).all()
    assert len(rows) == 1 and rows[0].recipient == people.secretariat.email
    subjects = [str(m["Subject"]) for m in read_mail(app.config["MAIL_FILE_DIR"]) if "endorsements on" in m["Subject"]]
    assert subjects == [f"3 new endorsements on {today.isoformat()}"]
    assert db.session.scalar(select(func.count(OutboxEmail.id)).where(
        OutboxEmail.template == "endorsement_receipt")) == 0  # the bulk path sends no receipts


def test_the_celery_task_and_the_daily_beat_entry(app: Flask, people: People, frozen: Any) -> None:
    from workers.tasks import send_endorsement_digest

    entry = app.extensions["celery"].conf.beat_schedule["send-endorsement-digest"]
    assert entry["task"] == "workers.tasks.send_endorsement_digest" == send_endorsement_digest.name
    assert entry["schedule"].remaining_estimate(utcnow()) <= timedelta(days=1)
    assert send_endorsement_digest() == 0  # yesterday: nothing (the declaration froze today)
