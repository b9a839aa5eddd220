"""Thin Celery tasks: they receive ids and call the domain services.

Each is registered under its name in ``signing.task_queue``, by which the services publish it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from celery import shared_task

from signing import task_queue
from signing.services import delivery, endorsement_digest, outbox, reminders

# A row that is still pending but that ``delivery.deliver`` skipped is locked by another transaction (a
# duplicate delivery sending it, the sweep marking it): look again after a second, this many times at most.
LOCKED_RETRIES = 30


def _backoff(retries: int) -> int:
    """Seconds before retrying a temporary mail failure: 5, 10, 20, … up to an hour."""
    return int(min(2**retries * 5, 3600))


@shared_task(name=task_queue.SEND_EMAIL, bind=True, max_retries=None)
def send_email(self, outbox_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one outbox e-mail; idempotent (a sent row is skipped).

    Published for an e-mail on its own (``outbox.relay``); batches go to ``send_emails``.
    """
    outcome = delivery.deliver([outbox_id])
    status = outcome.get(outbox_id, "skipped")
    if status == "pending":  # temporary failure: back off exponentially
        raise self.retry(countdown=_backoff(self.request.retries))
    if status == "skipped" and self.request.retries < LOCKED_RETRIES and delivery.still_pending([outbox_id]):
        # The row is locked by another transaction. Skipping it now would leave the message waiting for
        # the sweep; try again shortly.
        raise self.retry(countdown=1)
    return status


@shared_task(name=task_queue.SEND_EMAILS, bind=True, max_retries=None)
def send_emails(self, outbox_ids: list[int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Send a chunk of outbox e-mails in one transaction over one SMTP connection; idempotent.

    Only the e-mails still pending are retried: after a temporary failure with exponential backoff
    (those locked elsewhere go along), or, if the only ones left are locked by another transaction,
    after a second (``LOCKED_RETRIES`` times at most). Returns how many ended in each state.
    """
    outcome = delivery.deliver(outbox_ids)
    temporary = [row_id for row_id in outbox_ids if outcome.get(row_id) == "pending"]
    skipped = [row_id for row_id in outbox_ids if row_id not in outcome]
    locked = delivery.still_pending(skipped) if skipped and self.request.retries < LOCKED_RETRIES else []
    if temporary:
        raise self.retry(args=(temporary + locked,), countdown=_backoff(self.request.retries))
    if locked:
        raise self.retry(args=(locked,), countdown=1)
    return dict(Counter(outcome.get(row_id, "skipped") for row_id in outbox_ids))


@shared_task(name=task_queue.RUN_TASK, bind=True, max_retries=None)
def run_task(self, task_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run one outbox task (e.g. a freeze); idempotent."""
    status = outbox.run_task(task_id)
    if status == "pending":  # failed this time: back off
        raise self.retry(countdown=min(2 ** self.request.retries * 5, 600))
    return status


@shared_task(name=task_queue.RUN_JOBS)
def run_jobs(jobs: list[list[Any]]) -> list[str]:
    """Several outbox jobs of one transaction, published as one message (``outbox.inserted(one_message=True)``).

    Each job (``[task name, arguments]``: ``run_task``, ``send_email`` or ``send_emails``) is done here once,
    as its own task would do it the first time; a job not done (a temporary failure, a row locked elsewhere)
    is published as that task, which retries it as always. Returns what became of each job.
    """
    outcomes: list[str] = []
    for name, arguments in jobs:
        if name == task_queue.RUN_TASK:
            status = outbox.run_task(int(arguments[0]))
            if status == "pending":  # failed this time: its own task backs off
                run_task.apply_async(args=arguments, countdown=_backoff(0))
            outcomes.append(status)
        elif name in (task_queue.SEND_EMAIL, task_queue.SEND_EMAILS):
            ids = [int(arguments[0])] if name == task_queue.SEND_EMAIL else [int(i) for i in arguments[0]]
            outcome = delivery.deliver(ids)
            left = [row_id for row_id in ids if outcome.get(row_id, "pending") == "pending"]
            left = delivery.still_pending(left) if left else []
            if left:  # a temporary failure, or locked by another transaction: its own task retries them
                send_emails.apply_async(args=(left,), countdown=1)
            outcomes.append(f"{len(ids) - len(left)} of {len(ids)} e-mail(s) done")
        else:
            raise ValueError(f"not an outbox job: {name!r}")
    return outcomes


@shared_task(name=task_queue.DRAIN_OUTBOX)
def drain_outbox() -> dict[str, int]:
    """Periodic sweep: republish every e-mail and task still pending."""
    return outbox.drain()


@shared_task(name=task_queue.SEND_REMINDERS)
def send_reminders() -> int:
    """Periodic: queue the signing reminders that are due (each is sent once); returns how many."""
    return reminders.send_due_reminders()


@shared_task(name=task_queue.SEND_ENDORSEMENT_DIGEST)
def send_endorsement_digest() -> int:
    """Daily: the digest of yesterday's new endorsements to the secretariat (once per day and member)."""
    return endorsement_digest.send_digest()
