"""Webhooks in celery mode: each attempt is a published task; a later attempt waits for the sweep and its time."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select, update

from tests.conftest import People
from tests.freeze.test_outbox_batch import broker_messages
from tests.webhooks.conftest import Receiver


def test_attempts_are_published_tasks_and_a_retry_waits_for_its_time(app: Flask, people: People,
                                                                      receiver: Receiver) -> None:
    from signing.extensions import db
    from signing.models import OutboxTask, WebhookMessage, utcnow
    from signing.services import outbox, webhooks
    from workers.tasks import run_task

    endpoint, secret = webhooks.create_endpoint(receiver.url, ["signature.accepted"], "", people.secretariat)
    broker_messages(app)  # whatever an earlier test left on the in-memory broker
    app.config["TASK_MODE"] = "celery"
    receiver.answers = [500]
    webhooks.send_test(endpoint, people.secretariat)
    [(name, [first])] = broker_messages(app)
    assert name == "workers.tasks.run_task" and receiver.deliveries == []  # nothing sent by the web process

    assert run_task(first) == "done"  # the attempt was made (and failed): the task's work is done
    assert len(receiver.deliveries) == 1
    second = db.session.scalar(select(OutboxTask).where(OutboxTask.id != first))
    assert second is not None and second.arguments["attempt"] == 2 and second.published_at is None
    assert broker_messages(app) == [] and outbox.drain()["tasks"] == 0  # not before its time

    # A stray early message for it (e.g. republished by hand) changes nothing: the task waits.
    assert run_task(second.id) == "deferred"
    assert len(receiver.deliveries) == 1

    db.session.execute(update(OutboxTask).where(OutboxTask.id == second.id)
                       .values(not_before=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert outbox.drain()["tasks"] == 1
    assert broker_messages(app) == [("workers.tasks.run_task", [second.id])]
    assert run_task(second.id) == "done"
    assert run_task(second.id) == "done"  # redelivered by the broker: skipped, nothing sent again
    assert len(receiver.deliveries) == 2 and len(set(receiver.ids())) == 1
    assert [b["type"] for b in receiver.verified(secret)] == ["webhook.test", "webhook.test"]
    assert db.session.scalar(select(WebhookMessage.status)) == "delivered"
