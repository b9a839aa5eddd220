"""The outbox's background publisher (``services.outbox_publisher``): a hot path's rows, batched off the request.

Real parts: the migrated database (SQLite and PostgreSQL) and Celery's in-memory broker, whose messages are
read back. The publisher's thread is the real one; ``flush`` waits for it, so nothing here sleeps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import BACKENDS
from tests.freeze.test_outbox_batch import CONTEXT, broker_messages

pytestmark = BACKENDS


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Iterator[Flask]:
    """Celery mode on the memory broker, the background publisher on (tests default to publishing in-request)."""
    app = app_factory(TASK_MODE="celery", OUTBOX_BACKGROUND_PUBLISH=True)
    with app.app_context():
        broker_messages(app)  # whatever earlier tests left on the in-memory broker
        yield app


def _hot_transaction(prefix: str, count: int = 2) -> list[tuple[str, int]]:
    """Commit ``count`` e-mails and a task as a hot path does (``outbox.inserted(one_message=True)``)."""
    from signing.services import outbox, tlog, transactions

    for index in range(count):
        outbox.queue_email(f"{prefix}:{index}", f"p{index}@{prefix}.example", "signing_opened", **CONTEXT)
    outbox.queue_task(f"{prefix}:task", tlog.TASK_KIND, new_key=True)
    outbox.inserted([], one_message=True)
    work = transactions.commit(defer=True)
    items = outbox.relayed_items(work)
    transactions.run(work)
    return items


def _jobs(messages: list[tuple[str, list[Any]]]) -> list[tuple[str, int]]:
    """The (kind, id) of every row the ``run_jobs`` messages carry."""
    carried = []
    for name, args in messages:
        assert name == "workers.tasks.run_jobs"
        for job, job_args in args[0]:
            if job == "workers.tasks.run_task":
                carried.append(("task", job_args[0]))
            else:
                ids = job_args[0] if isinstance(job_args[0], list) else [job_args[0]]
                carried += [("email", row_id) for row_id in ids]
    return carried


def test_the_request_returns_before_publishing_and_what_accumulates_goes_as_one_message(app: Flask) -> None:
    from signing.services import outbox_publisher

    assert outbox_publisher.flush()
    release, started = threading.Event(), threading.Event()
    held: list[int] = []

    def blocked(items: list[tuple[str, int]]) -> None:  # keeps the publisher busy while requests commit
        held.append(len(items))
        started.set()
        release.wait(10)

    outbox_publisher.submit(app, [("task", -1)], blocked)
    assert started.wait(10)  # taken (after its linger): what follows accumulates
    committed = [item for prefix in ("a", "b", "c") for item in _hot_transaction(prefix)]
    assert broker_messages(app) == []  # nothing published by the requests themselves
    release.set()
    assert outbox_publisher.flush()
    messages = broker_messages(app)
    assert held == [1] and len(messages) == 1  # the three transactions' nine rows: one message
    assert sorted(_jobs(messages)) == sorted(committed) and len(committed) == 9


def test_a_publish_that_fails_leaves_the_rows_to_the_sweep(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from signing.extensions import db
    from signing.models import OutboxEmail, OutboxTask
    from signing.services import outbox, outbox_publisher

    celery_app = app.extensions["celery"]

    def broker_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery_app, "send_task", broker_down)
    items = _hot_transaction("down")
    assert outbox_publisher.flush()
    assert broker_messages(app) == []
    db.session.rollback()
    unpublished = {("email", i) for i in db.session.scalars(select(OutboxEmail.id).where(
        OutboxEmail.published_at.is_(None)))}
    unpublished |= {("task", i) for i in db.session.scalars(select(OutboxTask.id).where(
        OutboxTask.published_at.is_(None)))}
    assert unpublished == set(items)  # reset for the sweep
    monkeypatch.undo()
    assert outbox.drain() == {"emails": 2, "tasks": 1}  # the sweep republishes them (in-request, as always)
    assert sorted(name for name, _args in broker_messages(app)) == ["workers.tasks.run_task",
                                                                    "workers.tasks.send_emails"]


def test_rows_the_publisher_never_got_to_are_republished_once_stale(app: Flask) -> None:
    """A process that died after its commit, before its publisher's turn: the rows look like lost messages."""
    from signing.services import outbox, outbox_publisher

    release = threading.Event()

    def blocked(items: list[tuple[str, int]]) -> None:
        release.wait(10)

    outbox_publisher.submit(app, [("task", -1)], blocked)
    _hot_transaction("died")
    assert outbox.drain() == {"emails": 0, "tasks": 0}  # marked published: not before they are stale
    app.config["OUTBOX_STALE_SECONDS"] = 0
    assert outbox.drain() == {"emails": 2, "tasks": 1}
    release.set()
    assert outbox_publisher.flush()


def test_a_new_process_gets_its_own_publisher(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a fork (a gunicorn worker) the parent's publisher, thread and waiting rows are not the child's."""
    from signing.services import outbox_publisher

    outbox_publisher.submit(app, [("task", -1)], lambda items: None)
    assert outbox_publisher.flush()
    parent = outbox_publisher._current()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only the publisher, a bare app, a pipe
        try:
            seen: list[tuple[str, int]] = []
            outbox_publisher.submit(Flask("child"), [("email", 7)], seen.extend)
            ok = outbox_publisher.flush(5) and outbox_publisher._current() is not parent and seen == [("email", 7)]
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 2) == b"ok"
    os.waitpid(pid, 0)
    os.close(read)
    assert outbox_publisher._current() is parent and parent.thread is not None and parent.thread.is_alive()

    monkeypatch.setattr(outbox_publisher, "_publisher", parent)  # put back at the end
    monkeypatch.setattr(os, "getpid", lambda: parent.pid + 1)  # a pid change seen without a fork hook
    child = outbox_publisher._current()
    assert child is not parent and child.thread is None and child.submitted == 0
