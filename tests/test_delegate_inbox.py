"""Issue 11: the delegate's inbox, the e-mail link to the step, voided signatures, declining, per-city nudges."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import BACKENDS, People, csrf_token, message_text, read_mail
from tests.test_review import TEXT, client_for
from tests.test_web_signing import enrol, open_declaration, sign_with_service

pytestmark = pytest.mark.usefixtures("fresh_g")


def kind_of(app: Flask, people: People, declaration: Any, user: Any = None) -> str:
    from signing.services import inbox

    return str(inbox.ask(declaration, user or people.delegate).kind)


@BACKENDS
def test_inbox_follows_the_city_through_consultation_and_signing(app: Flask, people: People) -> None:
    from signing.services import declarations, review

    declaration = declarations.create("Network declaration", TEXT, people.secretariat, slug="network")
    declarations.open_consultation(declaration, people.secretariat)
    assert kind_of(app, people, declaration) == "read"
    client = client_for(app, people.delegate)
    home = client.get("/").get_data(as_text=True)
    assert "1 declaration needs you" in home and "Read revision 1" in home
    assert "Action needed" in client.get("/declarations/").get_data(as_text=True)

    client.get("/declarations/network")  # read
    assert kind_of(app, people, declaration) == "approve"
    review.approve(declaration.latest, people.delegate)
    assert kind_of(app, people, declaration) == "approved"
    assert "Nothing waits for you" in client.get("/").get_data(as_text=True)
    assert "Action needed" not in client.get("/declarations/").get_data(as_text=True)

    declarations.open_signing(declaration, 1, people.secretariat)
    assert kind_of(app, people, declaration) == "sign"
    assert kind_of(app, people, declaration, people.observer) == "follow"
    home = client.get("/").get_data(as_text=True)
    assert "Sign revision 1" in home and "/declarations/network/sign" in home
    assert "0 of 2 cities signed" in home


@BACKENDS
def test_next_step_goes_through_login_to_the_step(app: Flask, people: People) -> None:
    key = Ed25519PrivateKey.generate()
    enrol(people.delegate, key)
    declaration = open_declaration(people)
    client = app.test_client()
    response = client.get(f"/declarations/{declaration.slug}/next-step")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    token = csrf_token(client, response.headers["Location"])
    logged_in = client.post(response.headers["Location"], data={
        "csrf_token": token, "email": people.delegate.email, "password": "correct horse battery staple",
        "next": f"/declarations/{declaration.slug}/next-step"})
    assert logged_in.headers["Location"].endswith(f"/declarations/{declaration.slug}/next-step")
    step = client.get(f"/declarations/{declaration.slug}/next-step")
    assert step.headers["Location"].endswith(f"/declarations/{declaration.slug}/sign")
    sign_with_service(declaration, people.delegate, key)
    # After signing, the same link leads to the signature (receipt and withdrawal), still the Sign page.
    assert client.get(f"/declarations/{declaration.slug}/next-step").headers["Location"].endswith("/sign")
    # An observer is taken to the declaration.
    observer = client_for(app, people.observer)
    assert observer.get(f"/declarations/{declaration.slug}/next-step").headers["Location"].endswith(
        f"/declarations/{declaration.slug}")


@BACKENDS
def test_voided_signature_is_emailed_and_shown_then_sign_again(app: Flask, people: People,
                                                               instance_dir: Any) -> None:
    from signing.services import declarations

    key = Ed25519PrivateKey.generate()
    enrol(people.delegate, key)
    declaration = open_declaration(people)
    sign_with_service(declaration, people.delegate, key)
    declarations.return_to_consultation(declaration, people.secretariat, "Paragraph 2 needs a fix.")
    mails = [m for m in read_mail(instance_dir / "mail") if "voided" in str(m["Subject"])]
    assert [str(m["To"]) for m in mails] == [people.delegate.email]  # İzmir signed; Athens had nothing voided
    body = message_text(mails[0])
    assert "Paragraph 2 needs a fix." in body and f"/declarations/{declaration.slug}/next-step" in body
    item_kind = kind_of(app, people, declaration)
    assert item_kind == "read"
    page = client_for(app, people.delegate).get(f"/declarations/{declaration.slug}").get_data(as_text=True)
    assert "was voided when the declaration went back to consultation" in page
    assert "Paragraph 2 needs a fix." in page

    declarations.open_signing(declaration, 1, people.secretariat)
    assert kind_of(app, people, declaration) == "sign_again"
    opened = [m for m in read_mail(instance_dir / "mail") if str(m["Subject"]).startswith("Signing is open")]
    again = {str(m["To"]): "sign again" in message_text(m) for m in opened}
    assert again[people.delegate.email] is True and again[people.other_delegate.email] is False
    home = client_for(app, people.delegate).get("/").get_data(as_text=True)
    assert "Sign again" in home


@BACKENDS
def test_decline_with_reason_shown_to_secretariat_and_change_of_mind(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import SigningDecline

    key = Ed25519PrivateKey.generate()
    enrol(people.delegate, key)
    declaration = open_declaration(people)
    slug = declaration.slug
    client = client_for(app, people.delegate)
    token = csrf_token(client, f"/declarations/{slug}/sign")
    too_long = client.post(f"/declarations/{slug}/decline", data={"csrf_token": token, "reason": "r" * 2001})
    assert too_long.status_code == 400
    assert "r" * 2001 in too_long.get_data(as_text=True)  # kept in the form, on the Sign page
    assert db.session.scalar(select(func.count()).select_from(SigningDecline)) == 0

    done = client.post(f"/declarations/{slug}/decline", data={"csrf_token": token, "reason": "Council said no."})
    assert done.status_code == 302
    assert kind_of(app, people, declaration) == "declined"
    board = client_for(app, people.secretariat).get(f"/declarations/{slug}/dashboard").get_data(as_text=True)
    assert "Council said no." in board and "Declined by İzmir delegate" in board

    retract = client.post(f"/declarations/{slug}/decline/retract", data={"csrf_token": token})
    assert retract.status_code == 302
    assert kind_of(app, people, declaration) == "sign"
    # Declining again, then signing after all: the signature replaces the decline.
    client.post(f"/declarations/{slug}/decline", data={"csrf_token": token, "reason": ""})
    assert kind_of(app, people, declaration) == "declined"
    sign_with_service(declaration, people.delegate, key)
    assert kind_of(app, people, declaration) == "signed"
    board = client_for(app, people.secretariat).get(f"/declarations/{slug}/dashboard").get_data(as_text=True)
    assert "Declined by" not in board  # the signature supersedes the decline
    from signing.services import declines, inbox

    assert declines.of_declaration(declaration) == {} and inbox.decline_of(declaration, people.city.id) is None


@BACKENDS
def test_remind_now_is_rate_limited_and_audited(app: Flask, people: People, instance_dir: Any) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent

    declaration = open_declaration(people)
    client = client_for(app, people.secretariat)
    token = csrf_token(client, f"/declarations/{declaration.slug}/dashboard")
    path = f"/declarations/{declaration.slug}/cities/{people.city.slug}/remind"
    first = client.post(path, data={"csrf_token": token})
    assert first.status_code == 302
    reminders = [m for m in read_mail(instance_dir / "mail") if str(m["Subject"]).startswith("Reminder")]
    assert [str(m["To"]) for m in reminders] == [people.delegate.email]
    assert f"/declarations/{declaration.slug}/next-step" in message_text(reminders[0])
    again = client.post(path, data={"csrf_token": token})
    assert again.status_code == 429 and "Retry-After" in again.headers
    assert "Try again in" in again.get_data(as_text=True)
    assert "Status by city" in again.get_data(as_text=True)  # said on the dashboard, not an error page
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "city.reminded")).all()
    assert len(events) == 1 and events[0].details["city"] == people.city.slug


@BACKENDS
def test_resend_invitation_per_city(app: Flask, people: People, instance_dir: Any) -> None:
    from signing.models import Role
    from signing.services import accounts

    declaration = open_declaration(people)
    newcomer = accounts.invite("second@izmir.example", "Second İzmir delegate", Role.DELEGATE.value,
                               city=people.city, actor=people.secretariat)
    client = client_for(app, people.secretariat)
    board = client.get(f"/declarations/{declaration.slug}/dashboard").get_data(as_text=True)
    assert f"/cities/{people.city.slug}/resend-invitation" in board
    assert f"/cities/{people.other_city.slug}/resend-invitation" not in board
    token = csrf_token(client, f"/declarations/{declaration.slug}/dashboard")
    path = f"/declarations/{declaration.slug}/cities/{people.city.slug}/resend-invitation"
    assert client.post(path, data={"csrf_token": token}).status_code == 302
    invitations = [m for m in read_mail(instance_dir / "mail") if str(m["To"]) == newcomer.email]
    assert len(invitations) == 2  # the first, and the one sent again
    assert client.post(path, data={"csrf_token": token}).status_code == 429

