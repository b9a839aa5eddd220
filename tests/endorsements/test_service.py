"""The endorsement service: accept, replay, one standing endorsement, withdraw and endorse again, the checks,
moderation and erasure (which keep the signed statement), the bulk path. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from signing.extensions import db
from signing.models import Endorsement, LogEntry, LogPending, utcnow
from signing.services import Conflict, Forbidden, endorsements
from tests.conftest import BACKENDS
from tests.endorsements.conftest import organisation, person

pytestmark = BACKENDS


def test_accept_replay_second_standing_withdraw_and_again(frozen: Any) -> None:
    ana = person()
    first = ana.signed(frozen)
    record = endorsements.accept(frozen, first.payload, first.signature, first.public_key, endorser=ana.endorser)
    assert record.endorser_kind == "person" and record.standing
    again = endorsements.accept(frozen, first.payload, first.signature, first.public_key)  # a replay, no session
    assert again.id == record.id and db.session.scalar(select(func.count(Endorsement.id))) == 1
    second = ana.signed(frozen, at=utcnow() - timedelta(seconds=5))
    with pytest.raises(Conflict) as refused:
        endorsements.accept(frozen, second.payload, second.signature, second.public_key, endorser=ana.endorser)
    assert refused.value.status == 409 and refused.value.code == "already_endorsed"
    withdrawal = ana.signed(frozen, withdraws=record.payload_sha256)
    withdrawn = endorsements.withdraw(frozen, withdrawal.payload, withdrawal.signature, withdrawal.public_key)
    assert withdrawn.withdrawn_at is not None and bytes(withdrawn.withdrawal_payload or b"") == withdrawal.payload
    assert endorsements.withdraw(frozen, withdrawal.payload, withdrawal.signature, withdrawal.public_key).id == \
        record.id  # the same withdrawal again changes nothing
    with pytest.raises(Conflict, match="withdrawn"):  # the withdrawn statement's bytes again
        endorsements.accept(frozen, first.payload, first.signature, first.public_key)
    renewed = endorsements.accept(frozen, second.payload, second.signature, second.public_key)
    assert renewed.id != record.id and renewed.standing
    kinds = [*db.session.scalars(select(LogEntry.kind).order_by(LogEntry.index)),
             *db.session.scalars(select(LogPending.kind).order_by(LogPending.id))]  # sequenced, then pending
    assert kinds[-3:] == ["endorsement.accepted", "endorsement.withdrawn", "endorsement.accepted"]


@pytest.mark.parametrize(("change", "code"), [
    ({"bundle_manifest_sha256": "0" * 64}, "endorsement_rejected"),
    ({"declaration_title": "Another title"}, "endorsement_rejected"),
    ({"issuer": "https://elsewhere.example"}, "endorsement_rejected"),
    ({"endorser_kind": "organisation"}, "endorsement_rejected"),
    ({"country": "FR"}, "endorsement_rejected"),
])
def test_a_statement_that_does_not_name_the_public_facts_is_refused(frozen: Any, change: dict[str, str],
                                                                    code: str) -> None:
    ana = person()
    signed = ana.signed(frozen, **change)
    with pytest.raises(endorsements.EndorsementRejected) as refused:
        endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=ana.endorser)
    assert refused.value.code == code and refused.value.status == 400
    assert db.session.scalar(select(func.count(Endorsement.id))) == 0


def test_the_time_window_and_the_signature(frozen: Any) -> None:
    ana = person()
    late = ana.signed(frozen, at=utcnow() - timedelta(minutes=11))
    with pytest.raises(endorsements.EndorsementRejected, match="too far") as refused:
        endorsements.accept(frozen, late.payload, late.signature, late.public_key, endorser=ana.endorser)
    assert refused.value.code == "clock_skew"
    near = ana.signed(frozen, at=utcnow() + timedelta(minutes=9))
    tampered = bytes(near.signature[:-1]) + bytes([near.signature[-1] ^ 1])
    with pytest.raises(endorsements.EndorsementRejected, match="does not verify"):
        endorsements.accept(frozen, near.payload, tampered, near.public_key, endorser=ana.endorser)
    assert endorsements.accept(frozen, near.payload, near.signature, near.public_key, endorser=ana.endorser).id


def test_a_key_belongs_to_one_endorser_and_an_unknown_key_needs_the_endorser_proved(frozen: Any) -> None:
    ana, bob = person(), person("bob@example.org")
    signed = ana.signed(frozen)
    with pytest.raises(Forbidden, match="not registered"):
        endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key)  # nobody proved who
    with pytest.raises(endorsements.EndorsementRejected, match="another endorser"):
        endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=bob.endorser)
    endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=ana.endorser)
    bob.private_key = ana.private_key  # Bob tries Ana's key
    stolen = bob.signed(frozen)
    with pytest.raises(Forbidden, match="another endorser"):
        endorsements.accept(frozen, stolen.payload, stolen.signature, stolen.public_key, endorser=bob.endorser)


def test_an_organisation_endorses_once_verified(frozen: Any) -> None:
    forum = organisation(verified=False)
    signed = forum.signed(frozen)
    with pytest.raises(endorsements.EndorsementRejected, match="not verified"):
        endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=forum.endorser)
    forum.endorser.verified_at = utcnow()
    db.session.commit()
    record = endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key,
                                 endorser=forum.endorser)
    assert (record.endorser_kind, record.country) == ("organisation", "RO")


def test_the_signed_columns_never_change_and_rows_are_never_deleted(frozen: Any) -> None:
    ana = person()
    signed = ana.signed(frozen)
    record = endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=ana.endorser)
    record_id = record.id
    for statement in ("UPDATE endorsements SET payload = :x WHERE id = :id",
                      "UPDATE endorsements SET country = 'FR' WHERE id = :id",
                      "DELETE FROM endorsements WHERE id = :id"):
        with pytest.raises(DatabaseError):
            db.session.execute(text(statement), {"x": b"{}", "id": record_id})
        db.session.rollback()
    db.session.execute(text("UPDATE endorsements SET hidden_reason = 'spam' WHERE id = :id"), {"id": record_id})
    db.session.commit()
    withdrawal = ana.signed(frozen, withdraws=signed_sha256(signed.payload))
    endorsements.withdraw(frozen, withdrawal.payload, withdrawal.signature, withdrawal.public_key)
    with pytest.raises(DatabaseError):  # a withdrawal is written once
        db.session.execute(text("UPDATE endorsements SET withdrawal_payload = :x WHERE id = :id"),
                           {"x": b"{}", "id": record_id})
    db.session.rollback()


def signed_sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_of_concurrent_endorsements_by_one_endorser_one_stands(app: Any, frozen: Any) -> None:
    """Two requests at once (two threads, two connections): the partial unique index lets exactly one in."""
    import threading

    ana = person()
    first, second = ana.signed(frozen), ana.signed(frozen, at=utcnow() - timedelta(seconds=2))
    endorsements.accept(frozen, first.payload, first.signature, first.public_key, endorser=ana.endorser)
    endorsements.withdraw(frozen, *_withdrawal(ana, frozen, first.payload))
    third = ana.signed(frozen, at=utcnow() - timedelta(seconds=4))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)
    frozen_id, endorser_id = frozen.id, ana.endorser.id

    def post(item: Any) -> None:
        from signing.models import Declaration, Endorser

        with app.app_context():
            declaration = db.session.get(Declaration, frozen_id)
            endorser = db.session.get(Endorser, endorser_id)
            barrier.wait()
            try:
                endorsements.accept(declaration, item.payload, item.signature, item.public_key, endorser=endorser)
                outcomes.append("ok")
            except Conflict as exc:
                outcomes.append(exc.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=post, args=(item,)) for item in (second, third)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already_endorsed", "ok"]
    db.session.expire_all()
    standing = db.session.scalar(select(func.count(Endorsement.id)).where(Endorsement.withdrawn_at.is_(None)))
    assert standing == 1


def _withdrawal(holder: Any, declaration: Any, data: bytes) -> tuple[bytes, bytes, bytes]:
    signed = holder.signed(declaration, withdraws=signed_sha256(data))
    return signed.payload, signed.signature, signed.public_key


def test_the_bulk_path_verifies_and_inserts_in_batches(frozen: Any) -> None:
    holders = [person(f"p{n}@example.org") for n in range(25)]
    items = [holder.signed(frozen) for holder in holders]
    bad = holders[0].signed(frozen, bundle_manifest_sha256="1" * 64)
    result = endorsements.accept_many(frozen, [*items, bad, items[3]], batch=10)
    assert (result.accepted, result.replayed, result.refused) == (25, 1, 1)
    assert db.session.scalar(select(func.count(Endorsement.id))) == 25
    again = endorsements.accept_many(frozen, items[:5])
    assert (again.accepted, again.replayed) == (0, 5)
