"""The signing intake path: few statements, no collection loads, and the freeze rule met under concurrency.

Guards what ``bench/signing_intake.py`` measured and fixed: the two signing requests once made ~35
statements and loaded every ``Signatory`` row of the declaration, and two last signatures committed
concurrently each counted without the other, so neither queued the freeze.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from tests.api.conftest import Api, Key, enrol
from tests.conftest import BACKENDS, People

SLUG = "intake"


def _open(people: People) -> Any:
    from signing.services import declarations

    declaration = declarations.create("Intake", "One paragraph the cities sign.", people.secretariat, slug=SLUG)
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 1, people.secretariat)
    return declaration


@contextmanager
def _statements() -> Iterator[list[str]]:
    from signing.extensions import db

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@BACKENDS
def test_the_two_requests_stay_small_and_never_load_the_signatories(app: Flask, people: People, api: Api) -> None:
    _open(people)
    key = enrol(people.delegate)
    api.get("me", "delegate")  # the token's once-a-minute ``last_used_at`` write is not what is measured here
    app.config["TASK_MODE"] = "celery"  # as in production (the tests' in-memory broker): no delivery in the request

    with _statements() as issuing:
        response = api.post(f"declarations/{SLUG}/signing-payload", "delegate",
                            json={"key_fingerprint": key.fingerprint})
    assert response.status_code == 201, response.get_json()
    payload = response.get_json()["payload"]
    with _statements() as signing:
        response = api.post(f"declarations/{SLUG}/signatures", "delegate",
                            json={"payload": payload, "signature": key.sign_b64(payload)})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["city"] == people.city.slug

    for statements in (issuing, signing):
        assert not [s for s in statements if s.startswith("SELECT signatories.id")], "a collection was loaded"
    # Issuing: token, declaration, key with the checks, insert. Signing: token, declaration, issued payload with
    # the checks, claim, insert, audit, secretariat, receipts (one statement on PostgreSQL, one per row on
    # SQLite), the webhook endpoints listening (none here), rule, rule again after the commit, and the transparency
    # log's entry and its sequencing task (two inserts). Was 12 and 23, with every Signatory row loaded twice.
    assert len(issuing) <= 4, "\n".join(issuing)
    assert len(signing) <= 14, "\n".join(signing)


@BACKENDS
def test_concurrent_last_signatures_still_queue_the_freeze(app: Flask, people: People,
                                                          issue_and_sign: Callable[..., dict[str, str]],
                                                          api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second signer's in-transaction check misses the first (as under concurrency); its re-check does not."""
    from signing.extensions import db
    from signing.models import OutboxTask, Status
    from signing.services import freeze

    declaration = _open(people)
    key, other_key = enrol(people.delegate), enrol(people.other_delegate, Key())
    first = issue_and_sign(SLUG, key, caller="delegate")
    second = issue_and_sign(SLUG, other_key, caller="other_delegate")
    assert api.post(f"declarations/{SLUG}/signatures", "delegate", json=first).status_code == 201
    freeze_tasks = select(OutboxTask).where(OutboxTask.kind == "freeze")  # the log's sequencing tasks aside
    assert db.session.scalars(freeze_tasks).all() == []

    real, calls = freeze.rule_met, []

    def missed_the_other_signature(declaration: Any) -> bool:
        calls.append(declaration.id)
        return False if len(calls) == 1 else real(declaration)

    monkeypatch.setattr(freeze, "rule_met", missed_the_other_signature)
    assert api.post(f"declarations/{SLUG}/signatures", "other_delegate", json=second).status_code == 201
    assert len(calls) == 2, "the rule was not checked again after the commit"
    db.session.expire_all()
    (task,) = db.session.scalars(freeze_tasks).all()
    assert task.kind == "freeze"
    db.session.refresh(declaration)
    assert declaration.state is Status.FROZEN  # TASK_MODE=inline: the task ran after the commit


@BACKENDS
def test_celery_mode_marks_rows_when_queued_and_unmarks_what_failed_to_publish(
    app: Flask, people: People, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions

    app.config["TASK_MODE"] = "celery"  # the in-memory broker of the tests
    outbox.queue_email("intake:ok", "a@b40.example", "signing_opened", display_name="A", title="T", slug="t",
                       number=1, sha256="0" * 64, deadline="")
    work = transactions.commit(defer=True)
    assert outbox.relayed_items(work) == [("email", db.session.scalar(select(OutboxEmail.id)))]
    transactions.run(work)
    assert db.session.scalar(select(OutboxEmail.published_at)) is not None

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(app.extensions["celery"], "send_task", broker_down)
    outbox.queue_email("intake:down", "b@b40.example", "signing_opened", display_name="B", title="T", slug="t",
                       number=1, sha256="0" * 64, deadline="")
    transactions.commit()
    db.session.expire_all()
    row = db.session.scalar(select(OutboxEmail).where(OutboxEmail.dedupe_key == "intake:down"))
    assert row is not None and row.published_at is None and row.status == "pending"  # for the next sweep
