"""A password-reset request does the same work whatever the address; the link is made after the answer.

(How long the answers take is measured by ``bench/reset_timing.py``, not here.)
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import BACKENDS, People, csrf_token, read_mail

pytestmark = pytest.mark.usefixtures("fresh_g")


def _counts() -> tuple[int, int, int]:
    from signing.extensions import db
    from signing.models import AccountLink, OutboxEmail, OutboxTask

    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[return-value]
                 for model in (OutboxTask, OutboxEmail, AccountLink))


@BACKENDS
def test_known_and_unknown_addresses_queue_the_same_work(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import OutboxTask

    client = app.test_client()
    token = csrf_token(client, "/reset")
    answers, responses = [], []
    for email in (people.delegate.email, "nobody@b40.example"):
        before = _counts()
        response = client.post("/reset", data={"csrf_token": token, "email": email})
        answers.append((response.status_code, response.headers["Location"]))
        responses.append(response)
        # Before the answer is sent: one task row each, no link made, no e-mail queued.
        assert _counts() == (before[0] + 1, before[1], before[2]), email
        assert not read_mail(app.config["MAIL_FILE_DIR"])
    assert answers[0] == answers[1]
    # The server closes each response once it is sent: then the task runs.
    for response in responses:
        response.close()
    mails = read_mail(app.config["MAIL_FILE_DIR"])
    assert [m["To"] for m in mails] == [people.delegate.email]
    tasks = list(db.session.scalars(select(OutboxTask).order_by(OutboxTask.id)))
    assert [(t.kind, t.status) for t in tasks] == [("password_reset", "done")] * 2


@BACKENDS
def test_the_reset_task_run_again_sends_nothing_more(app: Flask, people: People) -> None:
    """A worker that dies after sending and before marking the task done runs it again: one e-mail all the same."""
    from signing.extensions import db
    from signing.models import OutboxEmail, OutboxTask
    from signing.services import accounts, transactions

    work = accounts.request_password_reset(people.delegate.email)
    transactions.run(work)
    task = db.session.scalar(select(OutboxTask).where(OutboxTask.kind == "password_reset"))
    assert task is not None and task.status == "done"
    accounts.send_password_reset(**task.arguments)  # the handler again, as a redelivered task would
    emails = list(db.session.scalars(select(OutboxEmail).where(OutboxEmail.template == "password_reset")))
    assert [e.recipient for e in emails] == [people.delegate.email]
    assert [m["To"] for m in read_mail(app.config["MAIL_FILE_DIR"])] == [people.delegate.email]
