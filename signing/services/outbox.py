"""Transactional outbox for e-mail and follow-up tasks.

``queue_email`` and ``queue_task`` add a row in the caller's transaction; when the service commits it
(``transactions.commit``), the new rows are relayed after the commit: in-process in the embedded default
(``TASK_MODE=inline``), or published to Celery by task name (``signing.task_queue``). Rows that could not
be published or sent stay ``pending`` and are picked up by the sweep, ``drain``.

Queueing many e-mails is cheap: whether an earlier transaction holds a dedupe key is looked up once per
flush for all the rows queued since the last one (``_drop_known_keys``, a ``before_flush`` hook, so an
autoflush never inserts an unchecked row), repeats within the transaction are caught in memory, and the
rows are inserted together. A key that exists makes its row a no-op.

E-mails are delivered in batches of ``EMAIL_CHUNK`` (``delivery.deliver``): in celery mode one
``send_emails(ids)`` task per chunk (``send_email(id)`` for an e-mail on its own, the message of earlier
versions); the task retries only the ids still pending. The price of a batch: a worker killed after
sending some of a chunk's messages and before its commit leaves the chunk pending, and the redelivered
task sends those messages again. Each recipient still gets at most one extra copy per crash, as with one
task per e-mail; what grows is how many recipients one crash can touch (up to ``EMAIL_CHUNK``).

Task rows name a kind; the service function that does each kind is registered with ``register_task``
(``freeze.init_app`` registers the freeze), never looked up from a string.

In celery mode ``published_at`` is set *before* a row is handed to the broker: in the transaction that
creates it (or, for the sweep, in the transaction that picks it up), so publishing needs no transaction
of its own and a worker never finds the row locked by the publisher. The rows of a chunk whose
publishing fails are reset to ``NULL`` (the next sweep retries them); a row whose process died between
the commit and the publishing looks like a lost message and is republished once
``OUTBOX_STALE_SECONDS`` have passed.

A hot path's rows (``inserted(..., one_message=True)``) are, in celery mode, handed to this process's
publisher thread (``outbox_publisher``, batched across requests; ``OUTBOX_BACKGROUND_PUBLISH``, on by
default outside tests) instead of being published by the request: the same two guarantees hold there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from .. import task_queue
from ..extensions import db
from ..models import OutboxEmail, OutboxTask, utcnow
from . import delivery, outbox_publisher, transactions

log = logging.getLogger(__name__)
_PENDING_KEY = "accord_outbox_new"
_QUEUED_KEY = "accord_outbox_queued"  # dedupe key -> e-mail row queued in this transaction
_UNCHECKED_KEY = "accord_outbox_unchecked"  # queued rows whose key is looked up in the database at the flush
_INSERTED_KEY = "accord_outbox_inserted"  # (kind, id) of rows a service inserted with its own statement
_ONE_MESSAGE_KEY = "accord_outbox_one_message"  # this transaction's jobs are published as one message
MAX_TASK_ATTEMPTS = 8
EMAIL_CHUNK = delivery.EMAIL_CHUNK
_LOOKUP_CHUNK = 500  # dedupe keys per look-up query (bound parameters stay few on SQLite too)
_HANDLERS_KEY = "accord.task_handlers"  # app.extensions: task kind -> the service function that does it
TaskHandler = Callable[..., object]


def _publishing_at() -> datetime | None:
    """``published_at`` of a new row: now in celery mode (it is published right after the commit), else None."""
    return utcnow() if current_app.config["TASK_MODE"] == "celery" else None


def publishing_at() -> datetime | None:
    """What a service inserting outbox rows with its own statement writes in ``published_at`` (see ``inserted``)."""
    return _publishing_at()


def inserted(items: Iterable[tuple[str, int]], *, one_message: bool = False) -> None:
    """Rows (``("email" | "task", id)``) this transaction inserted without ``queue_email``/``queue_task``.

    A hot path may insert its outbox rows in its own statement (``services.endorsement_intake``): it writes
    them as those functions would (``published_at`` from ``publishing_at``, no ``not_before``) and names them
    here, so that they are relayed after the commit like the others. Forgotten if the transaction rolls back.
    ``one_message``: in celery mode, the transaction's jobs go to the broker as one ``run_jobs`` message (one
    publish instead of one per job; the worker does each job once and publishes what is left as its own task).
    """
    db.session.info.setdefault(_INSERTED_KEY, []).extend(items)
    if one_message:
        db.session.info[_ONE_MESSAGE_KEY] = True
    transactions.before_commit("outbox", _collect)


def _remember(kind: str, row: OutboxEmail | OutboxTask) -> None:
    """Note a new row to relay after the commit (its id is read after the flush, so rows are inserted together)."""
    db.session.info.setdefault(_PENDING_KEY, []).append((kind, row))
    transactions.before_commit("outbox", _collect)


def queue_email(dedupe_key: str, recipient: str, template: str, *, new_key: bool = False,
                **context: Any) -> OutboxEmail:
    """Add an e-mail to the current transaction. A repeated ``dedupe_key`` is a no-op.

    A key queued earlier in this transaction returns that row. Whether an earlier transaction holds the
    key is looked up when the rows are flushed, in one query for all of them (``_drop_known_keys``), so
    queueing many e-mails costs no round trip each; a row whose key exists is then dropped from the
    session, never inserted (its ``id`` stays ``None``).

    ``new_key=True`` says the key names a row created in this very transaction (e.g. a new signature's
    id), so no earlier e-mail can have it: the look-up is skipped and the unique constraint on
    ``dedupe_key`` still refuses a duplicate (the whole transaction fails rather than send twice).
    """
    queued: dict[str, OutboxEmail] = db.session.info.setdefault(_QUEUED_KEY, {})
    earlier = queued.get(dedupe_key)
    if earlier is not None:
        return earlier
    row = OutboxEmail(dedupe_key=dedupe_key, recipient=recipient, template=template, context=context,
                      published_at=_publishing_at())
    queued[dedupe_key] = row
    if not new_key:
        db.session.info.setdefault(_UNCHECKED_KEY, []).append(row)
    db.session.add(row)
    _remember("email", row)
    return row


def _drop_known_keys(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    """Before queued e-mails are inserted: drop those whose dedupe key an earlier transaction holds.

    Runs on every flush (autoflush included), so a row never reaches the database unchecked; queries
    here do not autoflush (the session is flushing).
    """
    unchecked: list[OutboxEmail] | None = session.info.pop(_UNCHECKED_KEY, None)
    if not unchecked:
        return
    rows = [row for row in unchecked if sa_inspect(row).pending]
    known: set[str] = set()
    for start in range(0, len(rows), _LOOKUP_CHUNK):
        keys = [row.dedupe_key for row in rows[start : start + _LOOKUP_CHUNK]]
        known.update(session.scalars(select(OutboxEmail.dedupe_key).where(OutboxEmail.dedupe_key.in_(keys))))
    for row in rows:
        if row.dedupe_key in known:
            session.expunge(row)


def _forget_queued(session: Session, transaction: SessionTransaction) -> None:
    """The keys queued in a transaction mean nothing after it (a rolled-back row must be queueable again)."""
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)
        session.info.pop(_QUEUED_KEY, None)
        session.info.pop(_UNCHECKED_KEY, None)
        session.info.pop(_INSERTED_KEY, None)
        session.info.pop(_ONE_MESSAGE_KEY, None)
    elif _QUEUED_KEY in session.info:  # a savepoint: forget what it rolled back
        queued = session.info[_QUEUED_KEY]
        for key in [key for key, row in queued.items() if row not in session]:
            del queued[key]


_SESSION_HOOKS = (("before_flush", _drop_known_keys), ("after_transaction_end", _forget_queued))


def init_app(app: Flask) -> None:
    """Hook the bulk dedupe-key look-up into the session (once per process, whatever the number of apps)."""
    app.extensions.setdefault(_HANDLERS_KEY, {})
    for name, hook in _SESSION_HOOKS:
        if not event.contains(db.session, name, hook):
            event.listen(db.session, name, hook)


def register_task(app: Flask, kind: str, handler: TaskHandler) -> None:
    """Name the service function that does the outbox tasks of ``kind`` (called with the row's arguments)."""
    app.extensions.setdefault(_HANDLERS_KEY, {})[kind] = handler


def _handlers() -> dict[str, TaskHandler]:
    handlers: dict[str, TaskHandler] = current_app.extensions[_HANDLERS_KEY]
    return handlers


def queue_task(dedupe_key: str, kind: str, *, not_before: datetime | None = None, new_key: bool = False,
               **arguments: Any) -> OutboxTask:
    """Add follow-up work (a registered kind) to the current transaction; idempotent by key.

    ``not_before``: run it no earlier than this time (a retry with backoff). Such a task is not relayed
    after the commit; the sweep (``drain``) hands it on once the time has come.
    ``new_key=True``: the key is new by construction (e.g. random), so the look-up is skipped (as for e-mails).
    """
    if kind not in _handlers():
        raise ValueError(f"unknown task kind {kind!r}")
    existing = None if new_key else db.session.scalar(select(OutboxTask).where(OutboxTask.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    later = not_before is not None and not_before > utcnow()
    row = OutboxTask(dedupe_key=dedupe_key, kind=kind, arguments=arguments, not_before=not_before,
                     published_at=None if later else _publishing_at())
    db.session.add(row)
    if not later:
        _remember("task", row)
    return row


@dataclass
class Relay:
    """The after-commit work of a transaction that queued outbox rows: hand ``items`` to whoever runs them."""

    items: list[tuple[str, int]]
    one_message: bool = False

    def __call__(self) -> None:
        relay(self.items, one_message=self.one_message)


def _collect() -> Relay | None:
    """At the commit, after the last flush: the ids of the rows this transaction inserted (dropped ones have none)."""
    pending: list[tuple[str, OutboxEmail | OutboxTask]] = db.session.info.pop(_PENDING_KEY, [])
    items = [(kind, row.id) for kind, row in pending if row.id is not None]
    items += db.session.info.pop(_INSERTED_KEY, [])
    one_message = bool(db.session.info.pop(_ONE_MESSAGE_KEY, False))
    return Relay(items, one_message) if items else None


def relayed_items(work: Iterable[object]) -> list[tuple[str, int]]:
    """The outbox rows in after-commit work that ``transactions.commit(defer=True)`` returned."""
    return [item for after in work if isinstance(after, Relay) for item in after.items]


def relay(items: Iterable[tuple[str, int]], *, one_message: bool = False) -> None:
    """Hand committed rows to whoever runs them. Never raises: ``drain`` retries.

    In celery mode the rows carry ``published_at`` already (``queue_email``, ``queue_task``, ``drain``);
    ``one_message``: their jobs are published together (``inserted``).
    """
    items = list(items)
    if current_app.config["TASK_MODE"] == "celery":
        if one_message and current_app.config.get("OUTBOX_BACKGROUND_PUBLISH", not current_app.testing):
            # off the request's path: this process's publisher batches them (``outbox_publisher``)
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            outbox_publisher.submit(app, items, _publish_together)
            return
        _publish(items, one_message=one_message)
        return
    db.session.expire_all()  # in-process work reads the rows afresh, objects ``commit`` kept included
    try:
        for kind, row_id in items:
            if kind == "task":
                run_task(row_id)
        for chunk in _chunks([row_id for kind, row_id in items if kind == "email"]):
            delivery.deliver(chunk)
    except Exception:  # the change is committed; what failed stays pending for the sweep
        db.session.rollback()
        log.exception("in-process relay failed; the outbox sweep will retry")


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + EMAIL_CHUNK] for start in range(0, len(ids), EMAIL_CHUNK)]


def job_message(kind: str, ids: list[int]) -> tuple[str, list[Any]]:
    """The task (registered name and arguments) of one job: a task row, an e-mail, a chunk of e-mails."""
    if kind == "task":
        return task_queue.RUN_TASK, [ids[0]]
    return (task_queue.SEND_EMAIL, [ids[0]]) if len(ids) == 1 else (task_queue.SEND_EMAILS, [ids])


def _publish_together(items: list[tuple[str, int]]) -> None:
    _publish(items, one_message=True)


def _publish(items: list[tuple[str, int]], *, one_message: bool = False) -> None:
    """Publish the rows with one broker connection; rows that did not go out are reset for the sweep.

    E-mails go ``EMAIL_CHUNK`` to a ``send_emails`` task (one worker transaction and one SMTP connection
    each); an e-mail on its own goes as ``send_email(id)``, the message of earlier versions. A task
    row is one ``run_task`` job. ``one_message``: all of them as one ``run_jobs`` message.
    """
    jobs = [("email", chunk) for chunk in _chunks([row_id for kind, row_id in items if kind == "email"])]
    jobs += [("task", [row_id]) for kind, row_id in items if kind == "task"]
    # (task name, arguments, the jobs it carries)
    messages = [(*job_message(kind, ids), [(kind, ids)]) for kind, ids in jobs]
    if one_message and len(jobs) > 1:
        messages = [(task_queue.RUN_JOBS, [[list(job_message(kind, ids)) for kind, ids in jobs]], jobs)]
    failed: dict[str, list[int]] = {"email": [], "task": []}
    tried = 0
    try:
        with task_queue.celery_app().producer_or_acquire() as producer:
            for name, arguments, carried in messages:
                try:
                    task_queue.publish(producer, name, *arguments)
                except Exception:  # broker down: the next sweep republishes
                    log.warning("could not publish outbox job(s) %s; they stay pending", carried, exc_info=True)
                    for kind, ids in carried:
                        failed[kind].extend(ids)
                tried += 1
    except Exception:  # no producer at all (broker unreachable)
        log.warning("could not reach the broker; %d outbox job(s) stay pending", len(messages) - tried,
                    exc_info=True)
        for _name, _arguments, carried in messages[tried:]:
            for kind, ids in carried:
                failed[kind].extend(ids)
    if not any(failed.values()):
        return
    try:
        for kind, table in (("email", OutboxEmail), ("task", OutboxTask)):
            if failed[kind]:
                db.session.execute(update(table).where(table.id.in_(failed[kind])).values(published_at=None))
        db.session.commit()
    except Exception:  # still pending: republished once OUTBOX_STALE_SECONDS have passed
        db.session.rollback()
        log.exception("could not reset published_at of unpublished outbox rows")


def run_task(task_id: int) -> str:
    """Run one outbox task by id. Idempotent: a done task is skipped; handlers are idempotent too."""
    row = db.session.get(OutboxTask, task_id)
    if row is None or row.status != "pending":
        db.session.rollback()
        return row.status if row else "missing"
    if row.not_before is not None and row.not_before > utcnow():  # published early: the sweep brings it back
        db.session.execute(update(OutboxTask).where(OutboxTask.id == task_id).values(published_at=None))
        db.session.commit()
        return "deferred"
    handler = _handlers()[row.kind]
    arguments = dict(row.arguments)
    db.session.commit()
    try:
        handler(**arguments)
    except Exception as exc:
        db.session.rollback()
        log.exception("outbox task %s (%s) failed", task_id, row.kind)
        row = db.session.get(OutboxTask, task_id)
        assert row is not None  # noqa: S101
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if row.attempts >= MAX_TASK_ATTEMPTS:
            row.status = "failed"
        db.session.commit()
        return row.status
    db.session.execute(
        update(OutboxTask).where(OutboxTask.id == task_id).values(status="done", done_at=utcnow(), last_error=None)
    )
    db.session.commit()
    return "done"


def drain(limit: int = 500) -> dict[str, int]:
    """The sweep: send or republish every pending e-mail and task.

    In celery mode a row is republished if it was never published, or published
    more than ``OUTBOX_STALE_SECONDS`` ago and still not done (a crashed worker);
    e-mails go in chunks, as from ``commit``. A task whose ``not_before`` is still
    ahead is left alone.
    """
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    celery = current_app.config["TASK_MODE"] == "celery"
    counts = {"emails": 0, "tasks": 0}
    items: list[tuple[str, int]] = []
    for kind, table in (("email", OutboxEmail), ("task", OutboxTask)):
        query = select(table.id).where(table.status == "pending").order_by(table.id).limit(limit)
        if table is OutboxTask:  # a task queued for later waits for its time
            query = query.where(or_(OutboxTask.not_before.is_(None), OutboxTask.not_before <= now))
        if celery:
            query = query.where(or_(table.published_at.is_(None), table.published_at < stale))
        ids = list(db.session.scalars(query))
        if celery and ids:  # marked before publishing (see the module's docstring)
            db.session.execute(update(table).where(table.id.in_(ids)).values(published_at=now))
        counts[f"{kind}s"] = len(ids)
        items.extend((kind, row_id) for row_id in ids)
    db.session.commit()
    if items:
        relay(items)
    return counts
