"""A send_email task that meets its row still locked retries, instead of leaving the e-mail for the sweep.

Found by bench/fanout.py: the web process publishes the tasks and then records ``published_at`` in a
transaction that briefly locks the rows; a fast worker's ``SELECT … FOR UPDATE SKIP LOCKED`` skipped
them, and those e-mails waited for the periodic sweep (``OUTBOX_STALE_SECONDS``, 5 minutes).
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text

from tests.conftest import People

POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no row locks


@POSTGRES
def test_a_locked_row_makes_the_task_retry_then_it_is_sent(app: Flask, people: People) -> None:
    from celery.exceptions import Retry

    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox
    from workers.tasks import send_email

    outbox.queue_email("race:1", "nikos@athens.example", "signing_opened", display_name="Nikos", title="T",
                       slug="t", number=1, sha256="0" * 64, deadline="")
    db.session.commit()
    row_id = db.session.scalar(text("SELECT id FROM outbox_emails WHERE dedupe_key = 'race:1'"))

    with db.engine.connect() as publisher:  # the publishing transaction, not yet committed
        publisher.execute(text("UPDATE outbox_emails SET published_at = now() WHERE id = :id"), {"id": row_id})
        with pytest.raises(Retry):
            send_email(row_id)
        publisher.rollback()

    assert send_email(row_id) == "sent"
    db.session.expire_all()
    row = db.session.get(OutboxEmail, row_id)
    assert row is not None and row.status == "sent" and row.attempts == 1
    assert send_email(row_id) == "skipped"  # a duplicate delivery sends nothing
