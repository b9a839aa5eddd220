"""Webhook deliveries from the outbox: signed per Standard Webhooks, in order, retried, never duplicated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from tests.conftest import BACKENDS, People, read_mail
from tests.freeze.conftest import Network, make_network, open_for_signature
from tests.webhooks.conftest import Receiver


@pytest.fixture
def network(app: Flask, people: People) -> Network:
    return make_network(people)


def _endpoint(url: str, people: People, events: list[str] | None = None) -> tuple[Any, str]:
    from signing.services import webhooks

    return webhooks.create_endpoint(url, events or list(webhooks.EVENTS), "test receiver", people.secretariat)


def _messages() -> list[Any]:
    from signing.extensions import db
    from signing.models import WebhookMessage

    db.session.expire_all()
    return list(db.session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)))


def _make_due() -> None:
    """Move every waiting attempt's time into the past (as if the backoff delay had passed)."""
    from signing.extensions import db
    from signing.models import OutboxTask, utcnow

    db.session.execute(update(OutboxTask).where(OutboxTask.status == "pending")
                       .values(not_before=utcnow() - timedelta(seconds=1)))
    db.session.commit()


@BACKENDS
def test_the_events_of_a_signing_round_arrive_signed_and_in_order(app: Flask, network: Network,
                                                                  receiver: Receiver) -> None:
    endpoint, secret = _endpoint(receiver.url, network.people)
    declaration = open_for_signature(network)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    network.athens.withdraw(declaration)
    network.athens.sign(declaration)
    network.sofia.sign(declaration)  # the rule "all" is met: the declaration freezes

    bodies = receiver.verified(secret)  # every signature checks with the standardwebhooks verifier
    assert [b["type"] for b in bodies] == [
        "declaration.signing_opened", "signature.accepted", "signature.accepted", "signature.withdrawn",
        "signature.accepted", "signature.accepted", "declaration.frozen",
    ]
    assert [b["data"]["city"]["slug"] for b in bodies[1:6]] == ["izmir", "athens", "athens", "athens", "sofia"]
    frozen = bodies[-1]["data"]
    assert frozen["declaration"]["public_url"] == "http://accord.test/public/declarations/decl"
    assert frozen["declaration"]["pdf_url"].endswith("/declaration.pdf")
    assert frozen["revision"]["number"] == 2
    assert len(set(receiver.ids())) == 7  # one id per message
    assert all(d.path == "/hook" for d in receiver.deliveries)
    assert [m.status for m in _messages()] == ["delivered"] * 7
    assert endpoint.secret not in str([m.body for m in _messages()])


def test_only_the_events_chosen_are_sent(app: Flask, network: Network, receiver: Receiver) -> None:
    _endpoint(receiver.url, network.people, ["declaration.frozen"])
    declaration = open_for_signature(network)
    for signer in network.signers:
        signer.sign(declaration)
    assert [d["type"] for d in receiver.verified(_messages()[0].endpoint.secret)] == ["declaration.frozen"]


@BACKENDS
def test_a_500_is_retried_later_under_the_same_webhook_id(app: Flask, people: People, receiver: Receiver) -> None:
    from signing.extensions import db
    from signing.models import OutboxTask, WebhookAttempt
    from signing.services import outbox, webhooks

    endpoint, secret = _endpoint(receiver.url, people)
    receiver.answers = [500, 503]
    webhooks.send_test(endpoint, people.secretariat)
    (message,) = _messages()
    assert (message.status, message.attempts, len(receiver.deliveries)) == ("pending", 1, 1)
    assert message.next_attempt_at is not None and message.next_attempt_at > message.created_at
    assert outbox.drain()["tasks"] == 0  # the next attempt waits for its time
    assert len(receiver.deliveries) == 1

    _make_due()
    outbox.drain()
    _make_due()
    outbox.drain()
    (message,) = _messages()
    assert (message.status, message.attempts) == ("delivered", 3)
    assert len(receiver.deliveries) == 3
    assert set(receiver.ids()) == {message.message_id}  # the same webhook-id on every attempt
    assert [b["type"] for b in receiver.verified(secret)] == ["webhook.test"] * 3
    attempts = list(db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [(1, 500, False), (2, 503, False),
                                                                          (3, 200, True)]
    assert db.session.scalar(select(OutboxTask.status).where(OutboxTask.status == "pending")) is None
    db.session.refresh(endpoint)
    assert endpoint.consecutive_failures == 0


@BACKENDS
def test_a_redelivered_task_never_sends_twice(app: Flask, people: People, receiver: Receiver) -> None:
    from signing.extensions import db
    from signing.models import OutboxTask
    from signing.services import outbox, webhook_delivery, webhooks

    endpoint, _ = _endpoint(receiver.url, people)
    message = webhooks.send_test(endpoint, people.secretariat)
    message_id = message.message_id
    assert len(receiver.deliveries) == 1
    task = db.session.scalar(select(OutboxTask).where(OutboxTask.kind == "webhook"))
    assert task is not None and task.status == "done"
    # The broker hands the same task again (a worker lost before acknowledging it), and the sweep too.
    db.session.execute(update(OutboxTask).where(OutboxTask.id == task.id).values(status="pending"))
    db.session.commit()
    assert outbox.run_task(task.id) == "done"
    assert webhook_delivery.deliver(message_id, 1) == "skipped"
    outbox.drain()
    assert len(receiver.deliveries) == 1
    assert [m.attempts for m in _messages()] == [1]


def test_retries_stop_after_24_hours(app: Flask, people: People, receiver: Receiver) -> None:
    from signing.extensions import db
    from signing.models import WebhookMessage, utcnow
    from signing.services import outbox, webhooks

    endpoint, _ = _endpoint(receiver.url, people)
    receiver.always = 500
    webhooks.send_test(endpoint, people.secretariat)
    db.session.execute(update(WebhookMessage).values(created_at=utcnow() - timedelta(hours=24, seconds=1)))
    db.session.commit()
    _make_due()
    outbox.drain()
    (message,) = _messages()
    assert (message.status, message.attempts) == ("failed", 2)
    _make_due()
    outbox.drain()
    assert len(receiver.deliveries) == 2


def test_the_backoff_grows_and_ends_24_hours_after_the_event() -> None:
    from signing.models import utcnow
    from signing.services.webhook_delivery import RETRY_WINDOW, next_attempt_at

    created = now = utcnow()
    delays = []
    attempts = 1
    while (when := next_attempt_at(created, attempts, now)) is not None:
        delays.append(when - now)
        now, attempts = when, attempts + 1
    assert delays[0] == timedelta(seconds=30)
    assert all(later > earlier for earlier, later in zip(delays[:-2], delays[1:-1], strict=True))
    assert now == created + RETRY_WINDOW  # the last attempt is made 24 hours after the event
    assert 6 <= attempts <= 10


def test_repeated_failures_disable_the_endpoint_and_tell_the_secretariat(app_factory: Any,
                                                                        receiver: Receiver) -> None:
    from tests.conftest import seed_people

    app = app_factory(WEBHOOKS_DISABLE_AFTER_FAILURES=3)
    with app.app_context():
        from signing.extensions import db
        from signing.services import webhooks

        people = seed_people()
        endpoint, _ = _endpoint(receiver.url, people)
        receiver.always = 500
        for _ in range(3):
            webhooks.send_test(endpoint, people.secretariat)
        db.session.refresh(endpoint)
        assert not endpoint.active
        assert "3 failed attempts in a row" in (endpoint.disabled_reason or "")
        assert [m.status for m in _messages()] == ["pending", "pending", "cancelled"]
        _make_due()
        from signing.services import outbox

        outbox.drain()  # the retries of the earlier messages are cancelled, not sent
        assert [m.status for m in _messages()] == ["cancelled"] * 3
        assert len(receiver.deliveries) == 3
        mail = [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if m["To"] == people.secretariat.email]
        assert [m["Subject"] for m in mail] == [f"Webhook endpoint disabled: {receiver.url}"]
        with pytest.raises(Exception, match="Enable the endpoint"):
            webhooks.send_test(endpoint, people.secretariat)
        webhooks.set_active(endpoint, True, people.secretariat)
        receiver.always = 200
        webhooks.send_test(endpoint, people.secretariat)
        assert _messages()[-1].status == "delivered"


def test_an_approval_in_consultation_is_the_event_revision_approved(app: Flask, network: Network,
                                                                    receiver: Receiver) -> None:
    from signing.services import declarations, review

    _endpoint(receiver.url, network.people, ["revision.approved"])
    secretariat = network.secretariat
    declaration = declarations.create("Declaration of the Black Sea Cities", "# D\n\nOne.\n", secretariat, slug="ap")
    declarations.open_consultation(declaration, secretariat)
    review.approve(declaration.latest, network.izmir.user)
    [body] = receiver.verified(_messages()[0].endpoint.secret)
    assert body["type"] == "revision.approved"
    assert body["data"]["city"]["slug"] == "izmir" and body["data"]["revision"]["number"] == 1
    assert body["data"]["revision"]["sha256"] == declaration.latest.sha256
