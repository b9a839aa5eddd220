"""Batched outbox delivery: bulk queueing, chunked publishing, ``send_emails`` retries and idempotency.

Real parts throughout: the migrated database (SQLite and PostgreSQL), Celery's in-memory broker (the
messages ``transactions.commit`` publishes are read back from it and run), and an aiosmtpd server on loopback
that records every connection, recipient and message. The retries of ``send_emails`` run eagerly
(``Task.apply``: a retry runs at once, its countdown aside) and are watched through ``task_retry``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text

from tests.conftest import BACKENDS, free_port

POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no row locks
CONTEXT = {"display_name": "Delegate", "title": "Black Sea Cities", "slug": "black-sea", "number": 2,
           "sha256": "0" * 64, "deadline": ""}


# --- An SMTP server that records connections, recipients and messages -----------------------------------


@dataclass
class Recorder:
    """aiosmtpd handler. ``refuse_once``: recipients answered ``451`` at their first ``RCPT``."""

    refuse_once: set[str] = field(default_factory=set)
    port: int = 0
    connections: int = 0
    rcpts: list[str] = field(default_factory=list)
    received: list[tuple[str, bytes]] = field(default_factory=list)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,  # aiosmtpd's hook name
                          responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # aiosmtpd's hook name
                          rcpt_options: list[str]) -> str:
        self.rcpts.append(address)
        if address in self.refuse_once:
            self.refuse_once.discard(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt, bytes(envelope.content)))
        return "250 OK"

    def recipients(self) -> Counter[str]:
        return Counter(rcpt for rcpt, _ in self.received)


@pytest.fixture
def smtp() -> Iterator[Recorder]:
    from aiosmtpd.controller import Controller

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def chunk_of_100(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count in chunks of 100, whatever ``EMAIL_CHUNK`` production uses."""
    from signing.services import outbox

    monkeypatch.setattr(outbox, "EMAIL_CHUNK", 100)


@pytest.fixture
def app(app_factory: Callable[..., Flask], smtp: Recorder) -> Iterator[Flask]:
    """The app on this test's database, sending over SMTP to the recorder; Celery on the memory broker."""
    app = app_factory(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TLS="none",
                      SMTP_TIMEOUT=10)
    with app.app_context():
        broker_messages(app)  # whatever earlier tests left on the in-memory broker
        yield app


def broker_messages(app: Flask) -> list[tuple[str, list[Any]]]:
    """Take every message waiting on the broker's default queue: ``(task name, args)``."""
    taken = []
    with app.extensions["celery"].connection_for_read() as connection:
        queue = connection.SimpleQueue("celery")
        try:
            while True:
                try:
                    message = queue.get(timeout=0.05)
                except queue.Empty:
                    break
                taken.append((message.headers["task"], message.payload[0]))
                message.ack()
        finally:
            queue.close()
    return taken


def queue_many(count: int, prefix: str = "batch", **extra: Any) -> None:
    from signing.services import outbox

    for index in range(count):
        outbox.queue_email(f"{prefix}:{index}", f"person{index}@{prefix}.example", "signing_opened",
                           **CONTEXT, **extra)


def statuses() -> Counter[tuple[str, int]]:
    from signing.extensions import db
    from signing.models import OutboxEmail

    result = Counter(db.session.execute(select(OutboxEmail.status, OutboxEmail.attempts)).tuples())
    db.session.rollback()
    return result


@pytest.fixture
def retries() -> Iterator[list[tuple[list[Any], float]]]:
    """Each retry of a task as ``(its new args, countdown)``."""
    from celery.signals import task_retry

    seen: list[tuple[list[Any], float]] = []

    def record(sender: Any = None, request: Any = None, reason: Any = None, **extra: Any) -> None:
        seen.append((list(reason.sig.args), reason.when))

    task_retry.connect(record, weak=False)
    try:
        yield seen
    finally:
        task_retry.disconnect(record)


# --- Queueing ---------------------------------------------------------------------------------------------


@BACKENDS
def test_bulk_queueing_looks_keys_up_once_and_dedupes_against_the_database_and_the_transaction(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions

    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        queue_many(250)
        first = outbox.relayed_items(transactions.commit(defer=True))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(first) == 250
    lookups = [s for s in statements if s.startswith("SELECT outbox_emails.dedupe_key")]
    assert len(lookups) == 1, lookups  # one look-up for the 250 keys, not a SELECT per e-mail
    if db.engine.dialect.name == "postgresql":  # the rows inserted in batches, not one INSERT each (SQLite,
        assert len(statements) < 10, statements  # in-process, has the ORM insert them one by one for their ids)

    # Again, with two keys already sent, one key twice in this transaction and a query in between
    # (its autoflush must not insert a row before its key was looked up).
    again = outbox.queue_email("batch:7", "person7@batch.example", "signing_opened", **CONTEXT)
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 250  # autoflush: no error
    new = outbox.queue_email("batch:new", "new@batch.example", "signing_opened", **CONTEXT)
    assert outbox.queue_email("batch:new", "other@batch.example", "signing_opened", **CONTEXT) is new
    outbox.queue_email("batch:9", "person9@batch.example", "signing_opened", **CONTEXT)
    second = outbox.relayed_items(transactions.commit(defer=True))
    assert second == [("email", new.id)]
    assert again.id is None  # dropped, never inserted
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 251
    recipient = db.session.scalar(select(OutboxEmail.recipient).where(OutboxEmail.dedupe_key == "batch:new"))
    assert recipient == "new@batch.example"


@BACKENDS
def test_a_key_rolled_back_can_be_queued_again_and_new_key_rows_skip_the_look_up(app: Flask) -> None:
    from sqlalchemy.exc import IntegrityError

    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions

    outbox.queue_email("undone", "a@b40.example", "signing_opened", **CONTEXT)
    transactions.rollback()
    outbox.queue_email("undone", "a@b40.example", "signing_opened", **CONTEXT)
    assert len(outbox.relayed_items(transactions.commit(defer=True))) == 1

    # new_key=True: no look-up, so an existing key makes the transaction fail rather than send twice.
    outbox.queue_email("undone", "a@b40.example", "signing_opened", new_key=True, **CONTEXT)
    with pytest.raises(IntegrityError):
        outbox.relayed_items(transactions.commit(defer=True))
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1


# --- Publishing in chunks ---------------------------------------------------------------------------------


@BACKENDS
def test_250_emails_are_published_as_three_chunks_and_each_is_delivered_once(app: Flask, smtp: Recorder) -> None:
    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions
    from workers.tasks import send_emails

    app.config["TASK_MODE"] = "celery"
    queue_many(250, secret_url="http://accord.test/secret")
    work = transactions.commit(defer=True)
    rows = outbox.relayed_items(work)
    transactions.run(work)
    published = broker_messages(app)
    assert [(name, len(args[0])) for name, args in published] == [("workers.tasks.send_emails", 100),
                                                                   ("workers.tasks.send_emails", 100),
                                                                   ("workers.tasks.send_emails", 50)]
    assert sorted(i for _, args in published for i in args[0]) == sorted(row_id for _, row_id in rows)
    assert smtp.received == []  # nothing sent in the web process

    for _, args in published:
        assert send_emails(*args) == {"sent": len(args[0])}
    assert smtp.connections == 3  # one SMTP connection per chunk
    assert len(smtp.received) == 250 and set(smtp.recipients().values()) == {1}
    assert statuses() == {("sent", 1): 250}
    contexts = list(db.session.scalars(select(OutboxEmail.context)))
    assert all("secret_url" not in c and c["display_name"] == "Delegate" for c in contexts)

    # The broker delivers the same messages again (a worker lost its acknowledgement): nothing is resent.
    for _, args in published:
        assert send_emails.apply(args=args).get() == {"skipped": len(args[0])}
    assert len(smtp.received) == 250
    assert statuses() == {("sent", 1): 250}


def test_a_lone_email_is_published_as_send_email_and_drain_publishes_in_chunks(app: Flask, smtp: Recorder) -> None:
    from signing.services import outbox, transactions
    from workers.tasks import send_email

    app.config["TASK_MODE"] = "celery"
    outbox.queue_email("alone", "alone@b40.example", "signing_opened", **CONTEXT)
    work = transactions.commit(defer=True)
    [(_, row_id)] = outbox.relayed_items(work)
    transactions.run(work)
    assert broker_messages(app) == [("workers.tasks.send_email", [row_id])]  # the message of earlier versions
    assert send_email(row_id) == "sent"

    app.config["TASK_MODE"] = "inline"  # rows committed unpublished (published_at NULL), as after an outage
    queue_many(150, prefix="swept")
    outbox.relayed_items(transactions.commit(defer=True))
    app.config["TASK_MODE"] = "celery"
    assert outbox.drain() == {"emails": 150, "tasks": 0}
    assert [(name, len(args[0])) for name, args in broker_messages(app)] == [("workers.tasks.send_emails", 100),
                                                                             ("workers.tasks.send_emails", 50)]
    assert outbox.drain() == {"emails": 0, "tasks": 0}  # marked published: not republished before it is stale


def test_a_chunk_that_cannot_be_published_is_left_for_the_sweep_and_the_others_go(
    app: Flask, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions

    app.config["TASK_MODE"] = "celery"
    celery_app = app.extensions["celery"]
    real = celery_app.send_task
    calls: list[tuple[Any, ...]] = []

    def second_fails(name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["args"])
        if len(calls) == 2:
            raise ConnectionError("broker down")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(celery_app, "send_task", second_fails)
    queue_many(250)
    transactions.commit()
    published = [i for _, args in broker_messages(app) for i in args[0]]
    assert len(published) == 150
    db.session.expire_all()
    unpublished = set(db.session.scalars(select(OutboxEmail.id).where(OutboxEmail.published_at.is_(None))))
    assert unpublished == set(calls[1][0]) and not unpublished & set(published)
    assert outbox.drain()["emails"] == 100


# --- Retries ----------------------------------------------------------------------------------------------------


@BACKENDS
def test_a_temporary_failure_retries_only_the_emails_still_pending(
    app: Flask, smtp: Recorder, retries: list[tuple[list[Any], float]],
) -> None:
    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions
    from workers.tasks import send_emails

    queue_many(5, prefix="flaky")
    ids = [row_id for _, row_id in outbox.relayed_items(transactions.commit(defer=True))]
    smtp.refuse_once = {"person1@flaky.example", "person3@flaky.example"}

    result = send_emails.apply(args=(ids,))  # eager: the retry runs at once
    assert result.get() == {"sent": 2}  # what the retry returned: the two it was given
    flaky = {db.session.scalar(select(OutboxEmail.id).where(OutboxEmail.recipient == f"person{n}@flaky.example"))
             for n in (1, 3)}
    assert [(sorted(args[0]), countdown) for args, countdown in retries] == [(sorted(flaky), 5)]  # backoff
    assert smtp.rcpts == [f"person{n}@flaky.example" for n in (0, 1, 2, 3, 4, 1, 3)]
    assert smtp.connections == 2
    assert set(smtp.recipients().values()) == {1} and len(smtp.received) == 5
    assert statuses() == {("sent", 1): 3, ("sent", 2): 2}


@POSTGRES
def test_rows_locked_elsewhere_are_retried_shortly_a_bounded_number_of_times(
    app: Flask, smtp: Recorder, retries: list[tuple[list[Any], float]],
) -> None:
    from signing.extensions import db
    from signing.services import outbox, transactions
    from workers.tasks import LOCKED_RETRIES, send_emails

    queue_many(3, prefix="locked")
    ids = [row_id for _, row_id in outbox.relayed_items(transactions.commit(defer=True))]
    with db.engine.connect() as other:  # another transaction holds the second row (e.g. a duplicate delivery)
        other.execute(text("SELECT id FROM outbox_emails WHERE id = :id FOR UPDATE"), {"id": ids[1]})
        result = send_emails.apply(args=(ids,))
        other.rollback()
    assert result.get() == {"skipped": 1}  # given up: the row waits for the sweep
    assert retries == [([[ids[1]]], 1)] * LOCKED_RETRIES
    assert sorted(smtp.recipients()) == ["person0@locked.example", "person2@locked.example"]

    retries.clear()
    assert send_emails.apply(args=([ids[1]],)).get() == {"sent": 1}  # the lock is gone
    assert retries == []
    assert len(smtp.received) == 3 and statuses() == {("sent", 1): 3}
