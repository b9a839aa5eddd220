"""Transactional outbox for e-mail and follow-up tasks.

``queue_email`` adds a row in the caller's transaction; ``commit`` commits it
together with the state change and then relays the new rows: in-process in the
embedded default (``TASK_MODE=inline``), or published to Celery. Rows that could
not be published or sent stay ``pending`` and are picked up by ``drain``.

In celery mode ``published_at`` is set *before* a row is handed to the broker:
in the transaction that creates it (or, for the sweep, in the transaction that
picks it up), so publishing needs no transaction of its own and a worker never
finds the row locked by the publisher. A row whose publishing fails is reset to
``NULL`` (the next sweep retries it); a row whose process died between the
commit and the publishing looks like a lost message and is republished once
``OUTBOX_STALE_SECONDS`` have passed.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from ..extensions import db
from ..mail import PermanentMailError, build_message, send_messages
from ..models import OutboxEmail, OutboxTask, utcnow

log = logging.getLogger(__name__)
_PENDING_KEY = "accord_outbox_new"
MAX_ATTEMPTS = 8
SECRET_PREFIX = "secret_"  # noqa: S105 - context keys removed once the message is sent
# Task kinds and the functions (``module:function``, called with the row's arguments) that do them.
TASK_HANDLERS = {"freeze": "signing.services.freeze:freeze_declaration"}


def _publishing_at() -> datetime | None:
    """``published_at`` of a new row: now in celery mode (it is published right after the commit), else None."""
    return utcnow() if current_app.config["TASK_MODE"] == "celery" else None


def _remember(kind: str, row: OutboxEmail | OutboxTask) -> None:
    """Note a new row for ``commit`` to relay (its id is read after the flush, so rows are inserted together)."""
    db.session.info.setdefault(_PENDING_KEY, []).append((kind, row))


def queue_email(dedupe_key: str, recipient: str, template: str, *, new_key: bool = False,
                **context: Any) -> OutboxEmail:
    """Add an e-mail to the current transaction. A repeated ``dedupe_key`` is a no-op.

    ``new_key=True`` says the key names a row created in this very transaction (e.g. a new signature's
    id), so no earlier e-mail can have it: the look-up is skipped and the unique constraint on
    ``dedupe_key`` still refuses a duplicate (the whole transaction fails rather than send twice).
    """
    if not new_key:
        existing = db.session.scalar(select(OutboxEmail).where(OutboxEmail.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    row = OutboxEmail(dedupe_key=dedupe_key, recipient=recipient, template=template, context=context,
                      published_at=_publishing_at())
    db.session.add(row)
    _remember("email", row)
    return row


def queue_task(dedupe_key: str, kind: str, **arguments: Any) -> OutboxTask:
    """Add follow-up work (a ``TASK_HANDLERS`` kind) to the current transaction; idempotent by key."""
    if kind not in TASK_HANDLERS:
        raise ValueError(f"unknown task kind {kind!r}")
    existing = db.session.scalar(select(OutboxTask).where(OutboxTask.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    row = OutboxTask(dedupe_key=dedupe_key, kind=kind, arguments=arguments, published_at=_publishing_at())
    db.session.add(row)
    _remember("task", row)
    return row


def commit(*, keep: Iterable[object] = (), relay_now: bool = True) -> list[tuple[str, int]]:
    """Commit the current transaction, then relay the outbox rows it created; returns those rows.

    ``keep``: objects whose loaded values stay usable after the commit (they hold what this transaction
    wrote or read) instead of being expired like everything else, so a response built from them needs
    no further query. ``relay_now=False`` leaves the relaying to the caller (``relay(rows)``).
    """
    pending: list[tuple[str, OutboxEmail | OutboxTask]] = db.session.info.pop(_PENDING_KEY, [])
    try:
        db.session.flush()
        new = [(kind, row.id) for kind, row in pending if row.id is not None]
        _commit_keeping(keep)
    except Exception:
        db.session.rollback()
        raise
    if new and relay_now:
        relay(new)
    return new


def _commit_keeping(keep: Iterable[object]) -> None:
    """Commit; expire every loaded object as usual, except those in ``keep``."""
    kept = {id(obj) for obj in keep if obj is not None}
    session = db.session()
    if not kept or not session.expire_on_commit:
        session.commit()
        return
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    for obj in list(session.identity_map.values()):
        if id(obj) not in kept:
            session.expire(obj)


def rollback() -> None:
    db.session.info.pop(_PENDING_KEY, None)
    db.session.rollback()


def relay(items: Iterable[tuple[str, int]]) -> None:
    """Hand committed rows to whoever runs them. Never raises: ``drain`` retries.

    In celery mode the rows carry ``published_at`` already (``queue_email``, ``queue_task``, ``drain``).
    """
    items = list(items)
    if current_app.config["TASK_MODE"] == "celery":
        _publish(items)
        return
    db.session.expire_all()  # in-process work reads the rows afresh, objects ``commit`` kept included
    emails = [row_id for kind, row_id in items if kind == "email"]
    try:
        for kind, row_id in items:
            if kind == "task":
                run_task(row_id)
        if emails:
            deliver(emails)
    except Exception:  # the change is committed; what failed stays pending for the sweep
        db.session.rollback()
        log.exception("in-process relay failed; the outbox sweep will retry")


def _publish(items: list[tuple[str, int]]) -> None:
    """Publish each row, with one broker connection for the batch; rows that did not go out are reset."""
    from workers.tasks import run_task as run_task_job
    from workers.tasks import send_email

    failed: dict[str, list[int]] = {"email": [], "task": []}
    tried = 0
    try:
        with current_app.extensions["celery"].producer_or_acquire() as producer:
            for kind, row_id in items:
                try:
                    (send_email if kind == "email" else run_task_job).apply_async((row_id,), producer=producer)
                except Exception:  # broker down: the next sweep republishes
                    log.warning("could not publish outbox %s %s; it stays pending", kind, row_id, exc_info=True)
                    failed[kind].append(row_id)
                tried += 1
    except Exception:  # no producer at all (broker unreachable)
        log.warning("could not reach the broker; %d outbox row(s) stay pending", len(items) - tried, exc_info=True)
        for kind, row_id in items[tried:]:
            failed[kind].append(row_id)
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
    module_name, _, function_name = TASK_HANDLERS[row.kind].partition(":")
    handler = getattr(importlib.import_module(module_name), function_name)
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
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
        db.session.commit()
        return row.status
    db.session.execute(
        update(OutboxTask).where(OutboxTask.id == task_id).values(status="done", done_at=utcnow(), last_error=None)
    )
    db.session.commit()
    return "done"


def deliver(ids: Iterable[int]) -> dict[int, str]:
    """Send the given pending e-mails in one batch. Idempotent: sent rows are skipped."""
    rows = list(
        db.session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.id.in_(list(ids)), OutboxEmail.status == "pending")
            .order_by(OutboxEmail.id)
            .with_for_update(skip_locked=True)
        )
    )
    outcome: dict[int, str] = {}
    if not rows:
        db.session.commit()
        return outcome
    messages = []
    results: dict[str, Exception | None] = {}
    for row in rows:
        try:
            messages.append((row.dedupe_key, build_message(row.template, row.recipient, row.context, str(row.id))))
        except Exception as exc:  # a broken template must not block the batch
            log.exception("cannot build e-mail %s", row.id)
            results[row.dedupe_key] = PermanentMailError(f"cannot build the message: {type(exc).__name__}: {exc}")
    if messages:
        results.update(send_messages(messages))
    now = utcnow()
    for row in rows:
        error = results.get(row.dedupe_key)
        row.attempts += 1
        if error is None:
            row.status = "sent"
            row.sent_at = now
            row.last_error = None
            row.context = {k: v for k, v in row.context.items() if not k.startswith(SECRET_PREFIX)}
        elif isinstance(error, PermanentMailError) or row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            row.last_error = str(error)[:2000]
        else:
            row.last_error = str(error)[:2000]
        outcome[row.id] = row.status
    db.session.commit()
    return outcome


def drain(limit: int = 500) -> dict[str, int]:
    """The sweep: send or republish every pending e-mail and task.

    In celery mode a row is republished if it was never published, or published
    more than ``OUTBOX_STALE_SECONDS`` ago and still not done (a crashed worker).
    """
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    celery = current_app.config["TASK_MODE"] == "celery"
    counts = {"emails": 0, "tasks": 0}
    items: list[tuple[str, int]] = []
    for kind, table in (("email", OutboxEmail), ("task", OutboxTask)):
        query = select(table.id).where(table.status == "pending").order_by(table.id).limit(limit)
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
