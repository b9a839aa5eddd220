"""Thin Celery tasks: they receive ids and call the domain services."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import select

from signing.services import outbox, reminders


@shared_task(name="workers.tasks.send_email", bind=True, max_retries=None)
def send_email(self, outbox_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one outbox e-mail; idempotent (a sent row is skipped)."""
    outcome = outbox.deliver([outbox_id])
    status = outcome.get(outbox_id, "skipped")
    if status == "pending":  # temporary failure: back off exponentially
        raise self.retry(countdown=min(2 ** self.request.retries * 5, 3600))
    if status == "skipped" and _still_pending(outbox_id) and self.request.retries < LOCKED_RETRIES:
        # The row is locked: the transaction that published this task (or a duplicate delivery) has not
        # finished. Skipping it now would leave the message waiting for the sweep; try again shortly.
        raise self.retry(countdown=1)
    return status


LOCKED_RETRIES = 30


def _still_pending(outbox_id: int) -> bool:
    from signing.extensions import db
    from signing.models import OutboxEmail

    status = db.session.scalar(select(OutboxEmail.status).where(OutboxEmail.id == outbox_id))
    db.session.rollback()
    return status == "pending"


@shared_task(name="workers.tasks.run_task", bind=True, max_retries=None)
def run_task(self, task_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run one outbox task (e.g. a freeze); idempotent."""
    status = outbox.run_task(task_id)
    if status == "pending":  # failed this time: back off
        raise self.retry(countdown=min(2 ** self.request.retries * 5, 600))
    return status


@shared_task(name="workers.tasks.drain_outbox")
def drain_outbox() -> dict[str, int]:
    """Periodic sweep: republish every e-mail and task still pending."""
    return outbox.drain()


@shared_task(name="workers.tasks.send_reminders")
def send_reminders() -> int:
    """Periodic: queue the signing reminders that are due (each is sent once); returns how many."""
    return reminders.send_due_reminders()
