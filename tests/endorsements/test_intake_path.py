"""The one-request endorsement's writes, the same on SQLite (the ORM, a statement at a time) and on PostgreSQL
(one statement, ``services.endorsement_intake``): the row, its key, the receipt e-mail, the log entry and its task,
one webhook message (and its delivery task) per active subscribed endpoint, all relayed after the commit; and
the frozen declaration's facts, read once per process (a declaration not yet frozen is never remembered)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from signing.core import log_entry, payload
from tests.conftest import BACKENDS, People, seed_people
from tests.endorsements.conftest import freeze_one, person
from tests.endorsements.test_statement_counts import counted
from tests.freeze.conftest import make_network, open_for_signature

pytestmark = BACKENDS


def _published(url: str) -> list[tuple[str, list[Any]]]:
    """The jobs waiting in the default Celery queue: (task name, arguments), those of a ``run_jobs`` message too."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        found = []
        for raw in client.lrange("celery", 0, -1):
            message = json.loads(raw)
            body = json.loads(base64.b64decode(message["body"]))
            name, arguments = message["headers"]["task"], body[0]
            together = name == "workers.tasks.run_jobs"
            found.extend([(job, args) for job, args in arguments[0]] if together else [(name, arguments)])
        return found
    finally:
        client.close()


def test_the_follow_ups_are_written_with_the_endorsement_and_published(app_factory: Callable[..., Flask]) -> None:
    import redis

    from config import celery_config
    from signing.extensions import db
    from signing.models import EndorserKey, LogPending, OutboxEmail, OutboxTask, WebhookEndpoint, WebhookMessage
    from signing.services import endorsements

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    app = app_factory(REDIS_URL=url, CELERY=celery_config(url))
    app.app_context().push()
    frozen = freeze_one(seed_people())  # inline: the freeze runs
    app.config["TASK_MODE"] = "celery"  # as in production, no worker: the jobs wait in Redis
    redis.Redis.from_url(url).flushdb()
    endpoints = [WebhookEndpoint(url=f"https://hooks.example/{name}", events=events, secret="whsec_test",
                                 description="", active=active)
                 for name, events, active in (("wanted", ["endorsement.accepted"], True),
                                              ("other", ["declaration.frozen"], True),
                                              ("off", ["endorsement.accepted"], False),
                                              ("also", ["signature.accepted", "endorsement.accepted"], True))]
    db.session.add_all(endpoints)
    db.session.commit()
    wanted = [endpoints[0].id, endpoints[3].id]
    ana = person("ana@example.org")
    signed = ana.signed(frozen)
    record = endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=ana.endorser)
    sha256 = record.payload_sha256

    fingerprint = payload.fingerprint(signed.public_key)
    key = db.session.scalar(select(EndorserKey).where(EndorserKey.fingerprint == fingerprint))
    assert key is not None and key.endorser_id == ana.endorser.id and record.key_id == key.id
    messages = list(db.session.scalars(select(WebhookMessage).order_by(WebhookMessage.endpoint_id)))
    assert [m.endpoint_id for m in messages] == wanted  # active and subscribed only
    for message in messages:
        assert re.fullmatch(r"msg_[0-9a-f]{32}", message.message_id) and message.status == "pending"
        body = message.payload()
        assert body["type"] == "endorsement.accepted" and body["data"]["declaration"]["slug"] == frozen.slug
        assert body["data"]["endorsement"] == {
            "endorser_id": ana.endorser.public_id, "endorser_kind": "person", "country": "", "verified": False,
            "payload_sha256": sha256, "endorsed_at": payload.timestamp(record.endorsed_at)}
    tasks = {task.dedupe_key: task for task in db.session.scalars(select(OutboxTask).where(
        OutboxTask.kind.in_(["webhook", "log.sequence"]), OutboxTask.status == "pending"))}
    attempts = [tasks[f"webhook:{m.message_id}:1"] for m in messages]
    assert [t.arguments for t in attempts] == [{"message_id": m.message_id, "attempt": 1} for m in messages]
    sequencing = [t for t in tasks.values() if t.kind == "log.sequence"]
    assert len(sequencing) == 1 and sequencing[0].arguments == {}
    assert all(t.published_at is not None and t.not_before is None and t.attempts == 0 for t in tasks.values())
    email = db.session.scalar(select(OutboxEmail).where(OutboxEmail.dedupe_key == f"endorsement_receipt:{record.id}"))
    assert email is not None and email.recipient == "ana@example.org" and email.template == "endorsement_receipt"
    view = f"{app.config['PUBLIC_URL']}/d/{frozen.slug}/endorsements/e/{sha256}"
    assert email.context == {"title": frozen.title, "slug": frozen.slug, "endorser_id": ana.endorser.public_id,
                             "payload_sha256": sha256, "view_url": view, "withdraw_url": view + "/withdraw"}
    assert email.status == "pending" and email.published_at is not None
    entries = [log_entry.parse(bytes(row.entry)) for row in db.session.scalars(select(LogPending))]
    assert [(e["kind"], e["payload_sha256"], e["key_fingerprint"], e["endorser"]) for e in entries] == [
        ("endorsement.accepted", sha256, key.fingerprint, ana.endorser.public_id)]

    published = _published(url)  # every row relayed after the commit
    assert sorted(published) == sorted([("workers.tasks.send_email", [email.id])]
                                       + [("workers.tasks.run_task", [t.id]) for t in [*attempts, *sequencing]])
    again = endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key)  # a replay
    assert again.id == record.id and len(_published(url)) == len(published)  # nothing more written or sent
    assert db.session.scalar(select(WebhookMessage.id).order_by(WebhookMessage.id.desc())) == messages[-1].id
    redis.Redis.from_url(url).flushdb()


def test_a_frozen_declaration_is_read_once_and_one_not_frozen_is_never_remembered(app: Flask,
                                                                                  people: People) -> None:
    from signing.extensions import db
    from signing.models import Declaration
    from signing.services import endorsement_intake

    network = make_network(people)
    declaration = open_for_signature(network, slug="open")
    assert endorsement_intake.frozen("open") is None and endorsement_intake.frozen("nothing") is None
    for signer in network.signers:
        signer.sign(declaration)
    stored = db.session.get(Declaration, declaration.id)
    assert stored is not None and stored.status == "frozen"
    first = endorsement_intake.frozen("open")  # frozen now: read, then remembered
    assert first is not None and (first.id, first.slug, first.title) == (stored.id, "open", stored.title)
    with counted() as seen:
        again = endorsement_intake.frozen("open")
    assert seen == [] and again is not None and again is not first and again.id == stored.id
    assert again not in db.session  # a transient copy: nothing of it is ever written


def test_a_unique_index_refusing_the_one_statement_falls_back_to_the_general_answer(frozen: Any) -> None:
    """A second standing endorsement (a new key) answers 409 and leaves nothing; on PostgreSQL the one statement
    fails whole (its new key too) and the general path gives the answer."""
    from sqlalchemy import func

    from signing.extensions import db
    from signing.models import Endorsement, EndorserKey, LogPending, OutboxEmail
    from signing.services import Conflict, endorsements

    ana = person()
    first = ana.signed(frozen)
    endorsements.accept(frozen, first.payload, first.signature, first.public_key, endorser=ana.endorser)
    counts = [db.session.scalar(select(func.count()).select_from(table))
              for table in (Endorsement, EndorserKey, LogPending, OutboxEmail)]
    other = person("ana2@example.org")
    other.endorser = ana.endorser  # the same endorser, a new key: the key insert succeeds, the endorsement fails
    second = other.signed(frozen)
    with pytest.raises(Conflict) as refused:
        endorsements.accept(frozen, second.payload, second.signature, second.public_key, endorser=ana.endorser)
    assert refused.value.code == "already_endorsed"
    assert [db.session.scalar(select(func.count()).select_from(table))
            for table in (Endorsement, EndorserKey, LogPending, OutboxEmail)] == counts


def test_the_jobs_go_as_one_message_on_postgresql_and_the_worker_does_each_once(app: Flask) -> None:
    """Celery mode: the receipt and the log's task are one ``run_jobs`` message on PostgreSQL (their own messages
    on SQLite); the worker sends the e-mail and sequences the entry, and the same message again changes nothing."""
    from signing.extensions import db
    from signing.models import LogEntry, LogPending, OutboxEmail
    from signing.services import endorsements
    from tests.freeze.test_outbox_batch import broker_messages
    from workers.tasks import run_jobs

    frozen = freeze_one(seed_people())
    app.config["TASK_MODE"] = "celery"  # the memory broker
    broker_messages(app)
    ana = person()
    signed = ana.signed(frozen)
    record = endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=ana.endorser)
    published = broker_messages(app)
    if db.engine.dialect.name == "postgresql":
        assert [name for name, _args in published] == ["workers.tasks.run_jobs"]
        jobs = published[0][1][0]
    else:
        jobs = [[name, args] for name, args in published]
    email = db.session.scalar(select(OutboxEmail).where(OutboxEmail.dedupe_key == f"endorsement_receipt:{record.id}"))
    assert email is not None
    assert sorted(name for name, _args in jobs) == ["workers.tasks.run_task", "workers.tasks.send_email"]
    assert ["workers.tasks.send_email", [email.id]] in jobs
    assert run_jobs(jobs) == ["1 of 1 e-mail(s) done", "done"] and broker_messages(app) == []  # nothing to retry
    db.session.expire_all()
    assert db.session.get(OutboxEmail, email.id).status == "sent"  # type: ignore[union-attr]
    assert db.session.scalar(select(LogPending.id)) is None
    assert db.session.scalar(select(LogEntry.kind).order_by(LogEntry.index.desc())) == "endorsement.accepted"
    assert run_jobs(jobs) == ["1 of 1 e-mail(s) done", "done"]  # delivered again: sent once, sequenced once
    assert broker_messages(app) == [] and db.session.scalar(select(func.count(LogEntry.index))) == \
        db.session.scalar(select(func.count(LogEntry.index.distinct())))
    with pytest.raises(ValueError, match="not an outbox job"):
        run_jobs([["workers.tasks.drain_outbox", []]])
