"""Transactional outbox for e-mail.

``queue_email`` adds a row in the caller's transaction; ``commit`` commits it
together with the state change and then relays the new rows: in-process in the
embedded default (``TASK_MODE=inline``), or published to Celery. Rows that could
not be published or sent stay ``pending`` and are picked up by ``drain``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..mail import PermanentMailError, build_message, send_messages
from ..models import OutboxEmail, utcnow

log = logging.getLogger(__name__)
_PENDING_KEY = "accord_outbox_new"
MAX_ATTEMPTS = 8
SECRET_PREFIX = "secret_"  # noqa: S105 - context keys removed once the message is sent


def queue_email(dedupe_key: str, recipient: str, template: str, **context: Any) -> OutboxEmail:
    """Add an e-mail to the current transaction. A repeated ``dedupe_key`` is a no-op."""
    existing = db.session.scalar(select(OutboxEmail).where(OutboxEmail.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    row = OutboxEmail(dedupe_key=dedupe_key, recipient=recipient, template=template, context=context)
    db.session.add(row)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append(row.id)
    return row


def commit() -> None:
    """Commit the current transaction, then relay the outbox rows it created."""
    new_ids: list[int] = db.session.info.pop(_PENDING_KEY, [])
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if new_ids:
        relay(new_ids)


def rollback() -> None:
    db.session.info.pop(_PENDING_KEY, None)
    db.session.rollback()


def relay(ids: Iterable[int]) -> None:
    """Hand committed rows to whoever sends them. Never raises: ``drain`` retries."""
    ids = list(ids)
    if current_app.config["TASK_MODE"] == "celery":
        from workers.tasks import send_email

        for outbox_id in ids:
            try:
                send_email.delay(outbox_id)
            except Exception:  # broker down: the periodic drain republishes
                log.warning("could not publish outbox e-mail %s; it stays pending", outbox_id, exc_info=True)
                continue
            db.session.execute(
                OutboxEmail.__table__.update()
                .where(OutboxEmail.id == outbox_id, OutboxEmail.published_at.is_(None))
                .values(published_at=utcnow())
            )
        db.session.commit()
        return
    deliver(ids)


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
    messages = [(row.dedupe_key, build_message(row.template, row.recipient, row.context, str(row.id))) for row in rows]
    results = send_messages(messages)
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


def drain(limit: int = 500) -> dict[int, str]:
    """Send (inline) or republish (celery) every pending row. Used by the sweep and the CLI."""
    ids = list(
        db.session.scalars(
            select(OutboxEmail.id).where(OutboxEmail.status == "pending").order_by(OutboxEmail.id).limit(limit)
        )
    )
    db.session.commit()
    if not ids:
        return {}
    if current_app.config["TASK_MODE"] == "celery":
        relay(ids)
        return dict.fromkeys(ids, "published")
    return deliver(ids)
