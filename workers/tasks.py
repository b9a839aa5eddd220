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
