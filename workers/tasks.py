"""Thin Celery tasks: they receive ids and call the domain services."""

from __future__ import annotations

from celery import shared_task

from signing.services import outbox


@shared_task(name="workers.tasks.send_email", bind=True, max_retries=None)
def send_email(self, outbox_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one outbox e-mail; idempotent (a sent row is skipped)."""
    outcome = outbox.deliver([outbox_id])
    status = outcome.get(outbox_id, "skipped")
    if status == "pending":  # temporary failure: back off exponentially
        raise self.retry(countdown=min(2 ** self.request.retries * 5, 3600))
    return status


@shared_task(name="workers.tasks.drain_outbox")
def drain_outbox() -> int:
    """Periodic sweep: republish every e-mail still pending."""
    return len(outbox.drain())
