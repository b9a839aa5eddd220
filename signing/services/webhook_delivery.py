"""Sending webhook messages: one attempt per outbox task, retried with exponential backoff for 24 hours.

Each attempt is an outbox task (kind ``webhook``) naming the message and the attempt's number. It
locks the message (``FOR UPDATE SKIP LOCKED``), skips it if that attempt was made already or the
message is finished, so a redelivered or duplicated task never sends twice, signs the body per the
Standard Webhooks specification (the ``webhook-id`` is the message's, the same on every attempt) and
records the attempt. After a failure it queues the next attempt's task with ``not_before`` (the outbox
sweep runs it then): 30 s after the first, then four times longer each time, the last one 24 hours after
the event. ``WEBHOOKS_DISABLE_AFTER_FAILURES`` failed attempts in a row disable the endpoint and
e-mail the secretariat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from .. import webhook_http
from ..extensions import db
from ..models import Role, User, WebhookAttempt, WebhookEndpoint, WebhookMessage, utcnow
from . import audit, outbox, transactions

log = logging.getLogger(__name__)
TASK_KIND = "webhook"
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
BACKOFF_FACTOR = 4


def queue_attempt(message_id: str, number: int, not_before: datetime | None = None) -> None:
    """In the current transaction: the outbox task making attempt ``number`` of the message."""
    outbox.queue_task(f"webhook:{message_id}:{number}", TASK_KIND, not_before=not_before,
                      message_id=message_id, attempt=number)


def next_attempt_at(created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed ones, or None once the 24 hours are spent."""
    deadline = created_at + RETRY_WINDOW
    if now >= deadline:
        return None
    delay: timedelta = FIRST_RETRY * BACKOFF_FACTOR ** (attempts - 1)
    return min(now + delay, deadline)


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "User-Agent": "Accord-Webhooks/1",
    }


def deliver(message_id: str, attempt: int) -> str:
    """Make attempt ``attempt`` of a message (the outbox task's handler); returns what happened."""
    message = db.session.scalar(
        select(WebhookMessage).where(WebhookMessage.message_id == message_id).with_for_update(skip_locked=True)
    )
    if message is None or message.status != "pending" or message.attempts >= attempt:
        db.session.rollback()  # finished, made already, or being made by another worker right now
        return "skipped"
    endpoint = message.endpoint
    now = utcnow()
    if not endpoint.active:
        message.status, message.finished_at, message.next_attempt_at = "cancelled", now, None
        transactions.commit()
        return "cancelled"
    record = WebhookAttempt(message_pk=message.id, endpoint_id=endpoint.id, number=attempt, attempted_at=now)
    try:
        answer = webhook_http.post(
            endpoint.url, message.body.encode("utf-8"), signed_headers(endpoint.secret, message_id, now, message.body),
            timeout=current_app.config["WEBHOOKS_TIMEOUT_SECONDS"],
            allow_private=current_app.config["WEBHOOKS_ALLOW_PRIVATE"],
        )
    except (webhook_http.RefusedAddress, OSError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"[:500]
    else:
        record.status_code = answer.status
        record.response_excerpt = answer.body[:500]
        record.duration_ms = int(answer.seconds * 1000)
        record.succeeded = 200 <= answer.status < 300
        if not record.succeeded:
            record.error = f"HTTP {answer.status}"
    db.session.add(record)
    message.attempts = attempt
    if record.succeeded:
        message.status, message.finished_at, message.next_attempt_at = "delivered", utcnow(), None
        endpoint.consecutive_failures = 0
    else:
        _failed(endpoint, message, record)
    transactions.commit()
    return message.status


def _failed(endpoint: WebhookEndpoint, message: WebhookMessage, record: WebhookAttempt) -> None:
    endpoint.consecutive_failures += 1
    if endpoint.consecutive_failures >= current_app.config["WEBHOOKS_DISABLE_AFTER_FAILURES"]:
        disable(endpoint, f"{endpoint.consecutive_failures} failed attempts in a row (last: {record.error})")
        message.status, message.finished_at, message.next_attempt_at = "cancelled", utcnow(), None
        return
    when = next_attempt_at(message.created_at, message.attempts, utcnow())
    if when is None:
        message.status, message.finished_at, message.next_attempt_at = "failed", utcnow(), None
        return
    message.next_attempt_at = when
    queue_attempt(message.message_id, message.attempts + 1, not_before=when)


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    """In the current transaction: stop sending to the endpoint and tell the secretariat by e-mail."""
    endpoint.active = False
    endpoint.disabled_at = utcnow()
    endpoint.disabled_reason = reason[:500]
    audit.record("webhook.auto_disabled", endpoint, None, reason=endpoint.disabled_reason)
    secretariat = db.session.scalars(select(User).where(
        User.role == Role.SECRETARIAT.value, User.active.is_(True), User.password_hash.is_not(None)
    ).order_by(User.id))
    stamp = f"{endpoint.disabled_at.timestamp():.0f}"
    for member in secretariat:
        outbox.queue_email(f"webhook_disabled:{endpoint.id}:{stamp}:user{member.id}", member.email,
                           "webhook_disabled", display_name=member.display_name, url=endpoint.url,
                           reason=endpoint.disabled_reason,
                           page_url=f"{current_app.config['PUBLIC_URL']}/admin/webhooks/{endpoint.id}")
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


def init_app(app: Flask) -> None:
    """Register the outbox task that sends one webhook attempt (``webhooks.emit`` queues them)."""
    outbox.register_task(app, TASK_KIND, deliver)
