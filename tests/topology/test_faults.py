"""Faults in the production topology, with processes of the test's own.

Each test has its own ``redis-server`` (stopped and restarted at will), its own aiosmtpd server
(with the handler it needs), a fresh PostgreSQL database and real ``celery -A workers worker``
subprocesses. The app in this process (same environment) sets up the data, inspects the outbox
and runs the sweep (``outbox.drain``), as beat does every minute.
"""

from __future__ import annotations

import ast
import base64
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, insert

from tests.topology.conftest import (
    CITIES,
    TITLE,
    FlakyHandler,
    Processes,
    RecordingHandler,
    RedisServer,
    SmtpServer,
    all_mail_sent,
    api_tokens,
    assert_each_once,
    count,
    declaration_status,
    enrol_keys,
    lock_waiters,
    migrate,
    open_declaration,
    process_env,
    rows,
    seed_network,
    service_env,
    sign,
    wait_until,
)

pytestmark = pytest.mark.slow
SLUG = "black-sea"
FROZEN_SUBJECT = f"Frozen: “{TITLE}” is signed and sealed"


def production_stack(database: str, redis_url: str, smtp: SmtpServer, tmp_path: Path,
                     build: Callable[[dict[str, str]], Flask], **extra: str) -> tuple[dict[str, str], Flask]:
    """The environment of every process, and the app in this process on a migrated database with a platform key."""
    from signing.services import platform_key, seal

    key_path = tmp_path / "platform_key.pem"
    values = service_env(database, redis_url, smtp.port, key_path, **extra)
    app = build(values)
    migrate(app)
    platform_key.generate(key_path)
    seal.generate(key_path.parent / "seal_key.pem", key_path.parent / "seal.crt", "Accord seal (topology)")
    return values, app


def drain(app: Flask) -> dict[str, int]:
    from signing.services import outbox

    with app.app_context():
        return outbox.drain()


def task_results(log: str, task: str) -> Counter[str]:
    """What each run of ``task`` returned, from the worker's INFO log."""
    return Counter(re.findall(rf"Task workers\.tasks\.{task}\[[0-9a-f-]+\] succeeded in [\d.]+s: '(\w+)'", log))


def batch_results(log: str) -> tuple[int, Counter[str]]:
    """How many ``send_emails`` runs succeeded, and the e-mails they counted in each state."""
    found = re.findall(r"Task workers\.tasks\.send_emails\[[0-9a-f-]+\] succeeded in [\d.]+s: (\{[^}]*\})", log)
    return len(found), sum((Counter(ast.literal_eval(counts)) for counts in found), Counter())


# --- a. Redis stops while delegates sign -----------------------------------------------------------------


def test_redis_down_while_signing_loses_nothing_and_the_sweep_sends_each_mail_once(
    database: str, procs: Processes, redis_server: RedisServer, smtp_factory: Callable[..., SmtpServer],
    app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path,
) -> None:
    from signing.models import Bundle, OutboxEmail, OutboxTask

    smtp = smtp_factory()
    values, app = production_stack(database, redis_server.url(), smtp, tmp_path, app_builder)
    assert app.config["TASK_MODE"] == "celery"
    network = seed_network(app)
    open_declaration(app, network, SLUG)
    enrol_keys(app, network)
    tokens = api_tokens(app, network)
    before = rows(app, OutboxEmail)
    assert before and all(r.published_at is not None for r in before), "published while Redis was up"

    redis_server.stop()
    client = app.test_client()
    for delegate in network.delegates:
        auth = {"Authorization": f"Bearer {tokens[delegate.user_id]}"}
        issued = client.post(f"/api/v1/declarations/{SLUG}/signing-payload", headers=auth,
                             json={"key_fingerprint": delegate.fingerprint})
        assert issued.status_code == 201, issued.get_json()
        payload = issued.get_json()["payload"]
        signature = delegate.private_key.sign(base64.b64decode(payload))
        signed = client.post(f"/api/v1/declarations/{SLUG}/signatures", headers=auth,
                             json={"payload": payload, "signature": base64.b64encode(signature).decode()})
        assert signed.status_code == 201, signed.get_json()

    # Nothing lost: everything the signatures caused waits in the outbox, never published.
    during = rows(app, OutboxEmail, OutboxEmail.id > max(r.id for r in before))
    assert Counter(r.template for r in during) == {"signature_receipt": 3, "signature_received": 3}
    assert {(r.status, r.published_at) for r in during} == {("pending", None)}
    [task] = rows(app, OutboxTask, OutboxTask.kind == "freeze")  # log.sequence tasks aside
    assert (task.kind, task.status, task.published_at) == ("freeze", "pending", None)
    assert declaration_status(app, SLUG) == "open_for_signature"

    redis_server.start()  # same port; the messages published before the outage are still queued
    worker = procs.worker(process_env(values))
    log_tasks = rows(app, OutboxTask, OutboxTask.kind == "log.sequence", OutboxTask.published_at.is_(None))
    assert len(log_tasks) == len(network.delegates)  # one transparency-log entry per signature, unpublished too
    assert drain(app) == {"emails": len(during), "tasks": 1 + len(log_tasks)}

    def done() -> bool:
        return (declaration_status(app, SLUG) == "frozen" and all_mail_sent(app)
                and len(smtp.received) >= count(app, OutboxEmail))

    wait_until(done, "the freeze and every e-mail", details=procs.logs)
    time.sleep(1.5)  # room for a duplicate to show up
    emails = rows(app, OutboxEmail)
    assert len(smtp.received) == len(emails)
    assert_each_once(smtp.received)
    assert Counter(m.pair[0] for m in smtp.received) == Counter(r.recipient for r in emails)
    assert {(r.status, r.attempts) for r in emails} == {("sent", 1)}
    assert sum(m.subject == FROZEN_SUBJECT for m in smtp.received) == len(network.everyone)
    assert count(app, Bundle) == 1
    assert worker.alive()


# --- b. The worker dies in the middle of a freeze ---------------------------------------------------------


def test_a_worker_killed_mid_freeze_is_recovered_by_the_sweep_and_freezes_once(
    database: str, procs: Processes, redis_server: RedisServer, smtp_factory: Callable[..., SmtpServer],
    app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path,
) -> None:
    from signing.models import AuditEvent, Bundle, OutboxEmail, OutboxTask, utcnow

    smtp = smtp_factory()
    values, app = production_stack(database, redis_server.url(), smtp, tmp_path, app_builder,
                                   OUTBOX_STALE_SECONDS="1")
    env = process_env(values)
    network = seed_network(app, observer=False)
    declaration_id = open_declaration(app, network, SLUG)
    enrol_keys(app, network)
    worker = procs.worker(env)
    *first, last = network.delegates
    for delegate in first:
        sign(app, delegate, SLUG)
    wait_until(lambda: all_mail_sent(app), "the mail sent so far", details=procs.logs)

    # Hold the freeze at its very end: an uncommitted row with the key of one "frozen" e-mail makes the
    # worker's insert of that e-mail wait — after it has built and inserted the bundle, before its commit.
    engine = create_engine(database)
    blocker = engine.connect()
    held = blocker.begin()
    try:
        blocker.execute(insert(OutboxEmail.__table__).values(
            dedupe_key=f"frozen:{declaration_id}:user{network.secretariat_id}", recipient="blocker@accord.test",
            template="frozen", context={}, status="pending", attempts=0, created_at=utcnow()))
        sign(app, last, SLUG)  # the rule is met: the freeze task goes to the worker

        def details() -> str:
            pending = [(r.id, r.template, r.status, r.attempts, r.last_error)
                       for r in rows(app, OutboxEmail, OutboxEmail.status != "sent")]
            tasks = [(t.id, t.status, t.attempts, t.last_error) for t in rows(app, OutboxTask)]
            return f"waiting: {lock_waiters(database)}\nunsent: {pending}\ntasks: {tasks}\n{procs.logs()}"

        wait_until(lambda: any("outbox_emails" in q for q in lock_waiters(database)),
                   "the worker's freeze to wait at its commit", details=details)
        wait_until(lambda: all_mail_sent(app), "the last receipts (the other pool process)", details=details)
        worker.kill()  # SIGKILL to the worker and its pool processes at once
        assert not worker.alive()
    finally:
        held.rollback()
        blocker.close()
        engine.dispose()

    [task] = rows(app, OutboxTask, OutboxTask.kind == "freeze")  # log.sequence tasks aside
    assert (task.status, task.attempts) == ("pending", 0) and task.published_at is not None
    assert count(app, Bundle) == 0 and declaration_status(app, SLUG) == "open_for_signature"
    assert not [m for m in smtp.received if m.subject == FROZEN_SUBJECT]

    procs.worker(env, name="worker2")
    wait_until(lambda: (utcnow() - task.published_at).total_seconds() > 1.2, "the task to be stale", timeout=5)
    assert drain(app) == {"emails": 0, "tasks": 1}  # OUTBOX_STALE_SECONDS=1: republished

    def done() -> bool:
        return (declaration_status(app, SLUG) == "frozen" and all_mail_sent(app)
                and sum(m.subject == FROZEN_SUBJECT for m in smtp.received) >= len(network.everyone))

    wait_until(done, "the freeze on the new worker", details=procs.logs)
    time.sleep(1.5)
    assert count(app, Bundle) == 1
    assert count(app, AuditEvent, AuditEvent.action == "declaration.frozen") == 1
    [task] = rows(app, OutboxTask, OutboxTask.kind == "freeze")  # log.sequence tasks aside
    assert task.status == "done"
    assert_each_once(smtp.received)
    frozen = sorted(m.pair[0] for m in smtp.received if m.subject == FROZEN_SUBJECT)
    assert frozen == sorted(network.everyone)
    assert count(app, OutboxEmail) == len(smtp.received)


# --- c. The SMTP server answers 451, then accepts -------------------------------------------------------------


def test_a_temporary_smtp_refusal_is_retried_with_backoff_and_delivered_once(
    database: str, procs: Processes, redis_server: RedisServer, smtp_factory: Callable[..., SmtpServer],
    app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path,
) -> None:
    from signing.models import OutboxEmail, Role
    from signing.services import accounts

    smtp = smtp_factory(FlakyHandler(failures=2))
    values, app = production_stack(database, redis_server.url(), smtp, tmp_path, app_builder)
    worker = procs.worker(process_env(values))
    with app.app_context():
        accounts.invite("guest@b40.example", "Guest", Role.OBSERVER, city=None, actor=None)

    wait_until(lambda: len(smtp.received) >= 1, "the invitation after two refusals", details=procs.logs)
    wait_until(lambda: all_mail_sent(app), "the row to be marked sent", timeout=10)
    time.sleep(1.5)
    assert [m.pair[0] for m in smtp.received] == ["guest@b40.example"]
    attempts = smtp.handler.attempts
    assert len(attempts) == 3
    first_wait, second_wait = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert 4.5 <= first_wait < second_wait and second_wait >= 9.5, (first_wait, second_wait)  # 5 s, then 10 s
    [row] = rows(app, OutboxEmail)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    log = worker.log(tail=10**7)
    assert len(re.findall(r"workers\.tasks\.send_email\[[0-9a-f-]+\] retry: Retry in", log)) == 2
    assert task_results(log, "send_email") == {"sent": 1}


# --- d. The same task delivered twice ----------------------------------------------------------------------------


def test_duplicate_task_deliveries_send_one_email_and_build_one_bundle(
    database: str, procs: Processes, redis_server: RedisServer, smtp_factory: Callable[..., SmtpServer],
    app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path,
) -> None:
    from signing.models import AuditEvent, Bundle, OutboxEmail, OutboxTask
    from workers.tasks import run_task, send_email

    smtp = smtp_factory()
    values, app = production_stack(database, redis_server.url(), smtp, tmp_path, app_builder)
    network = seed_network(app, CITIES[:2], observer=False)
    open_declaration(app, network, SLUG)
    enrol_keys(app, network)
    for delegate in network.delegates:
        sign(app, delegate, SLUG)

    broker = redis_server.client()
    try:
        broker.flushdb()  # the broker forgets what was published: the only deliveries are the four below
        [task] = rows(app, OutboxTask, OutboxTask.kind == "freeze")  # log.sequence tasks aside
        receipt = rows(app, OutboxEmail, OutboxEmail.template == "signature_receipt")[0]
        assert task.status == receipt.status == "pending"
        with app.app_context():
            for _ in range(2):
                send_email.delay(receipt.id)
            for _ in range(2):
                run_task.delay(task.id)
        assert broker.llen("celery") == 4
    finally:
        broker.close()
    worker = procs.worker(process_env(values), concurrency=2)  # two pool processes: each pair runs at once

    def done() -> bool:
        log = worker.log(tail=10**7)
        return (task_results(log, "run_task").total() == 2 and task_results(log, "send_email").total() == 2
                and batch_results(log)[0] == 1)

    wait_until(done, "both deliveries of each task and the frozen e-mails", details=procs.logs)
    time.sleep(1.5)  # room for a duplicate to show up
    assert_each_once(smtp.received)
    receipts = [m for m in smtp.received if m.pair[0] == receipt.recipient and m.subject.startswith("You signed")]
    assert len(receipts) == 1
    assert sorted(m.pair[0] for m in smtp.received if m.subject == FROZEN_SUBJECT) == sorted(network.everyone)
    assert len(smtp.received) == 1 + len(network.everyone)
    assert count(app, Bundle) == 1
    assert count(app, AuditEvent, AuditEvent.action == "declaration.frozen") == 1
    assert declaration_status(app, SLUG) == "frozen"
    [task] = rows(app, OutboxTask, OutboxTask.kind == "freeze")  # log.sequence tasks aside
    assert (task.status, task.attempts) == ("done", 0)
    log = worker.log(tail=10**7)
    assert task_results(log, "run_task") == {"done": 2}
    # The receipt's two deliveries: one sent it, the other found it taken; the "frozen" e-mails went as one batch.
    assert task_results(log, "send_email") == {"sent": 1, "skipped": 1}
    assert batch_results(log) == (1, {"sent": len(network.everyone)})


# --- e. One recipient of a batch refused for a while -----------------------------------------------------------


@dataclass
class RefuseOnceHandler(RecordingHandler):
    """Answers ``451`` to the first message for ``recipient``; accepts everything else."""

    recipient: str = ""
    refused_at: float | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        if self.recipient in envelope.rcpt_tos and self.refused_at is None:
            self.refused_at = time.monotonic()
            self.attempts.append(self.refused_at)
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_batch_retries_only_the_email_refused_for_a_while_and_sends_each_once(
    database: str, procs: Processes, redis_server: RedisServer, smtp_factory: Callable[..., SmtpServer],
    app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path,
) -> None:
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions

    addresses = [f"member{n}@b40.example" for n in range(5)]
    handler = RefuseOnceHandler(recipient=addresses[2])
    smtp = smtp_factory(handler)
    values, app = production_stack(database, redis_server.url(), smtp, tmp_path, app_builder)
    worker = procs.worker(process_env(values))
    with app.app_context():
        for address in addresses:
            outbox.queue_email(f"batch:{address}", address, "signing_opened", display_name="Member", title=TITLE,
                               slug=SLUG, number=1, sha256="0" * 64, deadline="")
        transactions.commit()  # one send_emails task for the five

    wait_until(lambda: len(smtp.received) >= len(addresses), "the five e-mails, one after a retry",
               details=procs.logs)
    wait_until(lambda: all_mail_sent(app), "the rows to be marked sent", timeout=10)
    time.sleep(1.5)  # room for a duplicate to show up
    assert sorted(m.pair[0] for m in smtp.received) == addresses
    assert handler.refused_at is not None
    assert handler.attempts[-1] - handler.refused_at >= 4.5  # the retry waited its backoff (5 s)
    log = worker.log(tail=10**7)
    assert len(re.findall(r"workers\.tasks\.send_emails\[[0-9a-f-]+\] retry: Retry in 5s", log)) == 1
    assert batch_results(log) == (1, {"sent": 1})  # the retry carried the refused e-mail alone
    attempts = {r.recipient: (r.status, r.attempts) for r in rows(app, OutboxEmail)}
    assert attempts == {a: ("sent", 2 if a == addresses[2] else 1) for a in addresses}
