"""Fifty delegates' devices racing to sign for one city: exactly one signature stands.

Each thread has its own application context (so its own database session and
connection), its own copy of the declaration and the user, and waits at a barrier so
that all fifty submissions hit the database together. On both SQLite and PostgreSQL:
one ``Signature`` is stored and every other thread gets a 409, never another error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from tests.conftest import BACKENDS
from tests.crypto.conftest import Scene, signature_count

THREADS = 50


def race_app(app_factory: Callable[..., Flask]) -> Flask:
    """A second app on the same database, with a pool large enough for every thread at once."""
    return app_factory(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": THREADS + 5,
                                                  "max_overflow": 5, "pool_timeout": 60})


def race(app: Flask, slug: str, user_id: int, jobs: list[tuple[bytes, bytes]]) -> list[Any]:
    """Submit every (payload, signature) at once, each from its own thread and app context."""
    from signing.extensions import db
    from signing.models import User
    from signing.services import ServiceError, declarations, signatures

    barrier = threading.Barrier(len(jobs))
    outcomes: list[Any] = [None] * len(jobs)

    def run(index: int, data: bytes, signature: bytes) -> None:
        try:
            with app.app_context():
                declaration = declarations.get(slug)
                user = db.session.get(User, user_id)
                assert user is not None
                _ = (declaration.open_revision, declaration.signatories, user.city)  # load before the start
                barrier.wait(timeout=60)
                try:
                    record = signatures.submit_signature(declaration, user, data, signature)
                    outcomes[index] = ("stored", record.id)
                except ServiceError as exc:
                    outcomes[index] = (exc.status, exc.code)
        except BaseException as exc:  # anything else is a failure of the test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, data, signature), name=f"signer-{i}")
               for i, (data, signature) in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a signing thread hung"
    return outcomes


def check(outcomes: list[Any], loser_codes: set[str]) -> None:
    unexpected = [o for o in outcomes if not isinstance(o, tuple)]
    assert not unexpected, f"threads failed with other errors: {unexpected[:3]!r}"
    stored = [o for o in outcomes if o[0] == "stored"]
    assert len(stored) == 1, outcomes
    losers = [o for o in outcomes if o[0] != "stored"]
    assert len(losers) == THREADS - 1
    assert {status for status, _ in losers} == {409}, losers
    assert {code for _, code in losers} <= loser_codes, losers


def used_payloads() -> int:
    from signing.extensions import db
    from signing.models import IssuedPayload

    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(IssuedPayload)
                                 .where(IssuedPayload.used_at.is_not(None))) or 0)


@BACKENDS
def test_fifty_payloads_for_one_city_one_signature(app: Flask, app_factory: Callable[..., Flask],
                                                   scene: Scene) -> None:
    from signing.extensions import db
    from signing.services import signatures

    izmir = scene.izmir
    jobs = []
    for _ in range(THREADS):
        issued = signatures.issue_signature_payload(scene.declaration, izmir.user, izmir.fingerprint)
        data = bytes(issued.payload)
        jobs.append((data, izmir.sign(data)))
    assert len({data for data, _ in jobs}) == THREADS
    slug, user_id = scene.declaration.slug, izmir.user.id
    db.session.rollback()  # hold no transaction (SQLite: no lock) while the threads run
    outcomes = race(race_app(app_factory), slug, user_id, jobs)
    check(outcomes, {"already_signed", "conflict"})
    assert signature_count() == 1
    assert signature_count(status="valid", city_id=izmir.user.city_id) == 1
    assert used_payloads() == 1, "a losing submission must not spend its payload"


@BACKENDS
def test_fifty_submissions_of_the_same_payload_one_signature(app: Flask, app_factory: Callable[..., Flask],
                                                             scene: Scene) -> None:
    from signing.extensions import db
    from signing.services import signatures

    izmir = scene.izmir
    data = bytes(signatures.issue_signature_payload(scene.declaration, izmir.user, izmir.fingerprint).payload)
    signature = izmir.sign(data)
    slug, user_id = scene.declaration.slug, izmir.user.id
    db.session.rollback()
    outcomes = race(race_app(app_factory), slug, user_id, [(data, signature)] * THREADS)
    check(outcomes, {"payload_used", "already_signed", "conflict"})
    assert signature_count() == 1
    assert used_payloads() == 1
